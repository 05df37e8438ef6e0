"""The Source Protocol: what the indexer needs from anything that holds documents.

A source lists its items, each with a stable id and a version, and fetches one item's bytes.
The indexer compares versions with what the store holds, so it indexes new and changed items,
removes vanished ones and skips the rest, without knowing what kind of source it syncs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from assistant.errors import LoadError
from assistant.models import SkippedFile


@dataclass(frozen=True, slots=True)
class SourceItem:
    """One document a source holds.

    `id` is stable across syncs (a resolved path, a URL) and is stored as the document's
    source key; `version` changes whenever the content may have (a hash, an ETag);
    `location` is what a citation shows as the source (the path as given, the page URL).
    """

    id: str
    version: str
    title: str
    location: str


@dataclass(frozen=True, slots=True)
class Fetched:
    """One item's bytes; `name` is a file name whose extension tells the loader the kind, and
    `metadata` what the source knows of the item beyond its bytes (an attachment's message)."""

    data: bytes
    media_type: str
    name: str
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Listing:
    """What a source holds now, and the entries it could not offer (with the reason)."""

    items: list[SourceItem] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)


#: the words every ItemChangedError's message ends with (a watcher retries such items soon)
RETRIED = "retried at the next sync"


class ItemChangedError(LoadError):
    """The item changed or vanished while it was read: retried at the next sync, never indexed."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"{reason}; {RETRIED}")


@runtime_checkable
class Source(Protocol):
    """Anything that lists items with versions and fetches their bytes (picklable, for Ray)."""

    @property
    def name(self) -> str:
        """A short label for logs and status ("folder corpus/", "web https://…")."""
        ...

    def list_items(self, max_bytes: int) -> Listing:
        """Every item the source holds now (an item past `max_bytes` is listed, never opened:
        its fetch says it is too large)."""
        ...

    def owns(self, item_id: str) -> bool:
        """Whether a stored item id belongs to this source (a sync removes only its own)."""
        ...

    def fetch(self, item: SourceItem, max_bytes: int) -> Fetched:
        """The item's bytes as of `item.version`: ItemChangedError when it changed meanwhile,
        FileTooLargeError past `max_bytes` (checked before reading where the size is known)."""
        ...
