"""Files to `LoadedDocument`s: one entry point (`load_file`) over the readers in `formats/`.

Every reader returns text that has gone through `normalise_text`, because citation
offsets index into exactly that text. Any failure, including one inside a parsing
library, surfaces as a `LoadError` whose message says what is wrong with the file.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from assistant.errors import FileTooLargeError, LoadError, UnsupportedFileTypeError
from assistant.ingest.formats import SUPPORTED_EXTENSIONS, Reader, reader_for
from assistant.models import LoadedDocument

log = logging.getLogger(__name__)

__all__ = [
    "SUPPORTED_EXTENSIONS",
    "byline_author",
    "byline_span",
    "check_supported",
    "load_bytes",
    "load_file",
]


def check_supported(path: Path) -> None:
    """UnsupportedFileTypeError unless a loader reads this kind of file (by its extension)."""
    _reader(path)


def _reader(path: Path) -> Reader:
    extension = path.suffix.lower()
    reader = reader_for(extension)
    if reader is None:
        supported = " ".join(sorted(SUPPORTED_EXTENSIONS))
        raise UnsupportedFileTypeError(
            f"unsupported file type '{extension or path.name}': supported are {supported}"
        )
    return reader


def load_file(path: Path, max_bytes: int = 50_000_000) -> LoadedDocument:
    """Read one supported file; raise LoadError with the reason when it cannot be used.

    `source` is `str(path)` as given. The size is checked before any parsing.
    """
    check_supported(path)
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise LoadError("not a regular file")
        if size > max_bytes:
            raise FileTooLargeError(f"file too large: {size:,} bytes, the limit is {max_bytes:,}")
        if size == 0:
            raise LoadError("empty file: it contains no text")
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise LoadError("file not found") from exc
    except OSError as exc:
        raise LoadError(f"cannot read file: {exc.strerror or exc}") from exc
    return load_bytes(data, path, max_bytes)


def load_bytes(data: bytes, path: Path, max_bytes: int = 50_000_000) -> LoadedDocument:
    """Parse bytes already read (a source's fetch); `path` names the kind and the source."""
    reader = _reader(path)
    extension = path.suffix.lower()
    if len(data) > max_bytes:
        raise FileTooLargeError(f"file too large: {len(data):,} bytes, the limit is {max_bytes:,}")
    if not data:
        raise LoadError("empty file: it contains no text")
    try:
        document = reader(data, path, max_bytes)
    except LoadError:
        raise
    except RecursionError as exc:
        raise LoadError(f"corrupt {extension[1:].upper()} file: structure nested too deeply") from exc
    except Exception as exc:  # a parser's own error must not escape as a crash
        raise LoadError(f"corrupt {extension[1:].upper()} file ({type(exc).__name__}: {exc})") from exc
    if not document.text.strip():
        raise LoadError("empty file: it contains only whitespace, no text")
    author = byline_author(document.text[:BYLINE_SEARCH_CHARS])
    if author:
        document.metadata.setdefault("author", author)
    log.debug("loaded %s: %d chars, title %r", path, len(document.text), document.title)
    return document


# --- bylines --------------------------------------------------------------------------

#: a byline is looked for this far into a document
BYLINE_SEARCH_CHARS = 1500
# "By NAME" alone on a line near the top; the name may be a Markdown link ("By [NAME](url)").
_BYLINE = re.compile(
    r"^[ \t]*(?:\*\*|_)?(?:by|By|BY)[ \t]+\[?((?:[A-Z][\w.’'-]*[ \t]+){0,4}[A-Z][\w’'-]*)\]?(?:\([^)\n]*\))?"
    r"(?:\*\*|_)?[ \t]*$",
    re.M,
)


def byline_author(head: str) -> str | None:
    """The author named by a "By NAME" line in a document's opening text, or None.

    The composer names the author when the text says "he" of them (an author bio).
    """
    match = _BYLINE.search(head)
    if match is None:
        return None
    return " ".join(match.group(1).split())


def byline_span(head: str) -> tuple[int, int] | None:
    """Where the "By NAME" line is in a document's opening text (what an authorship answer cites)."""
    match = _BYLINE.search(head)
    return None if match is None else (match.start(1), match.end(1))
