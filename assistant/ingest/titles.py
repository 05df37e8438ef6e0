"""Document titles: from a format's own title field, a first line that reads as one, or the file name."""

from __future__ import annotations

import re
from pathlib import Path

# A title longer than this is a paragraph, not a title.
MAX_TITLE_CHARS = 120


def title_from_filename(path: Path) -> str:
    """'pezeshkian-foreign-policy-first-year.txt' -> 'Pezeshkian Foreign Policy First Year'."""
    words = re.split(r"[\s_\-.]+", path.stem)
    title = " ".join(word[:1].upper() + word[1:] for word in words if word)
    return title or path.name


def first_line_title(text: str) -> str | None:
    """The first non-empty line when it reads as a title: short, standing alone, not a sentence."""
    lines = text.lstrip().split("\n", 2)
    first = lines[0].strip()
    if not first or len(first) > MAX_TITLE_CHARS or not re.search(r"[^\W\d_]", first):
        return None
    if first[-1] in ".,;:":
        return None
    stands_alone = len(lines) == 1 or not lines[1].strip()
    return first if stands_alone else None


def first_nonempty_line(text: str) -> str | None:
    """The first line of `text` when it is short enough to be a title."""
    first = text.lstrip().split("\n", 1)[0].strip()
    return first if 0 < len(first) <= MAX_TITLE_CHARS else None


def clean_title(title: str | None) -> str | None:
    """Whitespace collapsed and length bounded; None for an empty title."""
    if not title:
        return None
    title = " ".join(title.split())
    return title[: MAX_TITLE_CHARS * 2] or None
