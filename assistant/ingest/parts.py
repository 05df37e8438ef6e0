"""Files that hold other files (an e-mail's attachments): each part is its own document.

A source lists a file's indexable parts beside the file itself, each with an id and a
location derived from the file's (`part_location`), and fetches a part by parsing the file
again (`read_part`). So a part is synced like any item: it goes when it leaves the file or
the file goes, and it is re-indexed when the file changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.ingest.formats import mail

#: what joins a file's location (or id) and a part's key: "inbox/q3.eml#attachment/memo.docx"
PART_MARK = "#attachment/"

#: the container formats, by extension
_CONTAINERS = frozenset(mail.EXTENSIONS)


@dataclass(frozen=True, slots=True)
class Part:
    """A part of a file as a source fetches it: its file name (whose extension picks the reader),
    its bytes, and what the container says about it (its message's headers)."""

    name: str
    data: bytes
    metadata: dict[str, Any] = field(default_factory=dict)


def holds_parts(path: Path) -> bool:
    """Whether files of this kind may hold parts (so a source lists them)."""
    return path.suffix.lower() in _CONTAINERS


def list_parts(data: bytes, path: Path) -> list[str]:
    """The keys of the file's indexable parts (those it will not index are named in its own
    document's metadata, with the reason: an e-mail's logo is not an error)."""
    if not holds_parts(path):
        return []
    try:
        found = mail.attachments(data, path)
    except Exception:  # a file the parser cannot split has no parts; its own fetch says why
        return []
    return [attachment.key for attachment in found if attachment.problem is None]


def read_part(data: bytes, location: str, key: str) -> Part:
    """The part `key` of the file at `location` (LoadError when the file does not hold it);
    its metadata names the message it came with (headers and the file's location)."""
    name, payload, headers = mail.attachment_document(data, Path(location), key)
    return Part(name, payload, {"message": {**headers, "source": location}})


def part_location(location: str, key: str) -> str:
    """The location (or id) of a part of the file at `location`."""
    return f"{location}{PART_MARK}{key}"


def split_part_location(location: str) -> tuple[str, str | None]:
    """(the file's location, the part's key), or (location, None) for a whole file."""
    container, mark, key = location.partition(PART_MARK)
    if not mark or not holds_parts(Path(container)):
        return location, None
    return container, key
