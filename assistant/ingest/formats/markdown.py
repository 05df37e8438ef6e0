"""Markdown: readable text (markup removed, code kept), the first level-1 heading as title,
and YAML front matter as the document's metadata."""

from __future__ import annotations

import datetime as dt
import logging
import re
from pathlib import Path
from typing import Any

from assistant.errors import LoadError
from assistant.ingest.text import decode_bytes, normalise_text
from assistant.ingest.titles import clean_title, first_line_title, title_from_filename
from assistant.models import LoadedDocument

log = logging.getLogger(__name__)

EXTENSIONS = (".md", ".markdown")

# Front matter is a small header; a bigger one is not front matter (and would cost YAML time).
MAX_FRONT_MATTER_CHARS = 64 * 1024
# YAML aliases can make a tiny header expand without bound when copied to JSON: cap the values.
MAX_FRONT_MATTER_VALUES = 2_000
# Keys the loader and the indexer set themselves; front matter does not overwrite them.
_RESERVED_KEYS = frozenset({"format", "pages", "page_count"})
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?\n)?(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.S)

_FENCE = re.compile(r"^\s*(```|~~~)")
_ATX_HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")
_SETEXT_UNDERLINE = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_RULE = re.compile(r"^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$")
_LINK_DEFINITION = re.compile(r"^ {0,3}\[[^\]]+\]:\s*\S+.*$")
_BLOCKQUOTE = re.compile(r"^ {0,3}(?:>[ \t]?)+")
_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\[[^\]]*\])")
_AUTOLINK = re.compile(r"<((?:https?|mailto):[^>\s]+)>")
_CODE_SPAN = re.compile(r"`([^`\n]+)`")
_STRONG = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_EMPHASIS_STAR = re.compile(r"(?<![\w*])\*(?=[^\s*])(.+?)(?<=[^\s*])\*(?![\w*])")
_EMPHASIS_UNDERSCORE = re.compile(r"(?<![\w_])_(?=[^\s_])(.+?)(?<=[^\s_])_(?![\w_])")
_STRIKE = re.compile(r"~~(?=\S)(.+?)(?<=\S)~~")


def _clean_markdown_inline(line: str) -> str:
    line = _IMAGE.sub(r"\1", line)
    line = _LINK.sub(r"\1", line)
    line = _AUTOLINK.sub(r"\1", line)
    line = _CODE_SPAN.sub(r"\1", line)
    line = _STRONG.sub(r"\2", line)
    line = _EMPHASIS_STAR.sub(r"\1", line)
    line = _EMPHASIS_UNDERSCORE.sub(r"\1", line)
    return _STRIKE.sub(r"\1", line)


def markdown_to_text(markdown: str) -> tuple[str, str | None]:
    """Readable text from Markdown and its first level-1 heading (markup removed, code kept)."""
    out: list[str] = []
    title: str | None = None
    in_fence = False
    for line in markdown.split("\n"):
        if _FENCE.match(line):
            in_fence = not in_fence
            continue
        if in_fence:
            out.append(line)
            continue
        setext = _SETEXT_UNDERLINE.match(line)
        if setext and out and out[-1].strip():
            if title is None and setext.group(1)[0] == "=":
                title = out[-1].strip()
            out.append("")
            continue
        if _RULE.match(line) or _LINK_DEFINITION.match(line):
            out.append("")
            continue
        line = _BLOCKQUOTE.sub("", line)
        heading = _ATX_HEADING.match(line)
        if heading:
            line = _clean_markdown_inline(heading.group(2))
            if title is None and len(heading.group(1)) == 1:
                title = line.strip()
            out.append(line)
            continue
        out.append(_clean_markdown_inline(line))
    return "\n".join(out), title


def split_front_matter(markdown: str) -> tuple[dict[str, Any], str]:
    """YAML front matter (`---` ... `---` at the very top) as a JSON-safe dict, and the rest.

    A block that is not a YAML mapping is not front matter: the text is returned unchanged
    (a leading `---` is also a Markdown rule).
    """
    match = _FRONT_MATTER.match(markdown)
    if match is None or match.end() > MAX_FRONT_MATTER_CHARS:
        return {}, markdown
    import yaml

    try:
        data = yaml.safe_load(match.group(1) or "")
    except yaml.YAMLError as exc:
        log.warning("front matter is not valid YAML, kept as text: %s", exc)
        return {}, markdown
    if not isinstance(data, dict):
        return {}, markdown
    budget = [MAX_FRONT_MATTER_VALUES]
    metadata = {str(key): _json_safe(value, budget) for key, value in data.items()}
    return metadata, markdown[match.end() :]


def _json_safe(value: Any, budget: list[int]) -> Any:
    """Dates as ISO strings, other scalars as they are, containers copied within a value budget."""
    budget[0] -= 1
    if budget[0] < 0:
        raise ValueError(f"front matter holds more than {MAX_FRONT_MATTER_VALUES} values")
    if isinstance(value, dict):
        return {str(k): _json_safe(v, budget) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_json_safe(v, budget) for v in value]
    if isinstance(value, dt.date | dt.datetime | dt.time):
        return value.isoformat()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def read(data: bytes, path: Path, max_bytes: int) -> LoadedDocument:
    """A Markdown file; front matter `title` wins over the first heading, other keys are metadata."""
    try:
        front, body = split_front_matter(normalise_text(decode_bytes(data)))
    except ValueError as exc:
        raise LoadError(f"front matter too large: {exc}") from exc
    text, heading = markdown_to_text(body)
    text = normalise_text(text)
    front_title = front.get("title")
    title = (
        clean_title(front_title if isinstance(front_title, str) else None)
        or clean_title(heading)
        or first_line_title(text)
        or title_from_filename(path)
    )
    metadata = {key: value for key, value in front.items() if key not in _RESERVED_KEYS}
    metadata["format"] = "markdown"
    return LoadedDocument(text=text, title=title, source=str(path), metadata=metadata)
