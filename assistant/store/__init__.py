"""Where the index lives: the Store Protocol (store/protocol.py) and its backends.

`open_store(settings)` is the one factory: the embedded snapshot store by default
(`store/snapshot/`), Milvus with ASSISTANT_STORE=milvus.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from assistant.store.manifest import FORMAT_VERSION, Manifest
from assistant.store.protocol import (
    ChunkRow,
    NewChunk,
    ReadView,
    SearchMode,
    SearchRequest,
    SentenceRow,
    Store,
    StoreWriter,
    chunk_key,
)

if TYPE_CHECKING:
    from assistant.settings import Settings

__all__ = [
    "FORMAT_VERSION",
    "ChunkRow",
    "Manifest",
    "NewChunk",
    "ReadView",
    "SearchMode",
    "SearchRequest",
    "SentenceRow",
    "Store",
    "StoreWriter",
    "chunk_key",
    "open_store",
]


def open_store(index_dir: Path, settings: Settings) -> Store:
    """The store `settings` names, for the index at `index_dir` (the snapshot store's folder;
    Milvus keeps its own data and uses the folder only for local state beside it)."""
    from assistant.store.snapshot.store import IndexStore

    return IndexStore(index_dir, settings.faiss_index, settings.faiss_exact_max)
