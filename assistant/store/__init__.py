"""Where the index lives: the Store Protocol (store/protocol.py) and its backends.

`open_store(settings)` is the one factory: the embedded snapshot store by default
(`store/snapshot/`), Milvus with ASSISTANT_STORE=milvus.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from assistant.errors import ConfigError
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
    if settings.store == "milvus":
        return _milvus_store(index_dir, settings)
    from assistant.store.snapshot.store import IndexStore

    return IndexStore(index_dir, settings.faiss_index, settings.faiss_exact_max)


def _milvus_store(index_dir: Path, settings: Settings) -> Store:
    """The Milvus store; pymilvus is imported only here, so the default install needs none."""
    try:
        from assistant.store.milvus.store import MilvusStore
    except ImportError as exc:
        raise ConfigError(
            f"ASSISTANT_STORE=milvus needs the Milvus extra ({exc}); install it with "
            '`pip install "assistant[milvus]"`'
        ) from exc
    uri = settings.milvus_uri
    if uri is None:
        index_dir.mkdir(parents=True, exist_ok=True)
        uri = str(index_dir / "milvus.db")
    elif "://" not in uri and not uri.endswith(".db"):
        # pymilvus tells a Milvus Lite file from a server address by this suffix
        raise ConfigError(
            f"ASSISTANT_MILVUS_URI={uri} is neither a Milvus Lite file (ending in .db) nor a server "
            "address (http://host:19530)"
        )
    return MilvusStore(uri, settings.milvus_collection_prefix)
