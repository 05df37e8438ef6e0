"""The store seam: what retrieval, the composers and the core need from an index, whatever holds it.

Two backends implement it: the embedded snapshot store (FAISS + SQLite/FTS5 in one folder, the
default) and Milvus (one service shared by many API replicas). Nothing above this seam imports
FAISS, SQLite or pymilvus.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import numpy as np

from assistant.models import DocumentMeta
from assistant.store.manifest import Manifest

SearchMode = Literal["hybrid", "dense", "keyword"]
#: one form of a query: its vector (None when only keywords are searched) and its text
SearchRequest = tuple[np.ndarray | None, str]


@dataclass(frozen=True, slots=True)
class ChunkRow:
    """A stored chunk: its offsets into the document, its text and its sentences."""

    id: int
    doc_id: str
    ord: int
    start: int
    end: int
    text: str
    page: int | None
    first_sentence: int
    last_sentence: int


@dataclass(frozen=True, slots=True)
class SentenceRow:
    """A stored sentence: offsets into the document and its vector (for the composer)."""

    doc_id: str
    ord: int
    start: int
    end: int
    embedding: np.ndarray


@dataclass(slots=True)
class NewChunk:
    """A chunk to be written: offsets, text and the ordinals of its first and last sentence."""

    start: int
    end: int
    text: str
    page: int | None
    first_sentence: int
    last_sentence: int


def chunk_key(doc_id: str, ord_: int) -> str:
    """The public chunk_id: stable across rebuilds as long as the document is unchanged."""
    return f"{doc_id}#{ord_}"


#: the set a document is in when it is indexed without naming one
DEFAULT_SET = "default"


def set_names(sets: Iterable[str]) -> list[str]:
    """A document's sets as stored: stripped, unique, sorted; `default` when none is named."""
    return sorted({name.strip() for name in sets if name.strip()}) or [DEFAULT_SET]


def narrowed(doc_ids: Sequence[str] | None, allowed: Sequence[str]) -> list[str]:
    """`allowed` limited to `doc_ids` (None: no limit): a filter narrows the sets, never widens."""
    if doc_ids is None:
        return list(allowed)
    wanted = set(doc_ids)
    return [d for d in allowed if d in wanted]


class ReadView(Protocol):
    """One consistent version of the index: every read of a request sees the same documents."""

    #: the version's name (changes with every commit)
    name: str
    manifest: Manifest

    # documents and their stored text
    def documents(self) -> list[dict[str, Any]]: ...
    def document(self, doc_id: str) -> dict[str, Any] | None: ...
    def document_meta(self, doc_ids: Iterable[str]) -> dict[str, DocumentMeta]: ...
    def text_slice(self, doc_id: str, start: int, end: int) -> str: ...

    # document sets (who may see a document)
    def document_sets(self) -> dict[str, list[str]]: ...
    def doc_ids_in_sets(self, sets: Iterable[str]) -> list[str]: ...
    def set_counts(self) -> dict[str, int]: ...

    # chunks and sentences
    def chunks(self, ids: Sequence[int]) -> dict[int, ChunkRow]: ...
    def chunk_containing(self, doc_id: str, start: int, end: int) -> str: ...
    def sentences(self, doc_id: str, first: int, last: int) -> list[SentenceRow]: ...

    # search and term statistics
    def search(
        self,
        requests: Sequence[SearchRequest],
        k: int,
        depth: int,
        doc_ids: Sequence[str] | None = None,
        mode: SearchMode = "hybrid",
        sets: Sequence[str] | None = None,
    ) -> list[tuple[int, float]]:
        """The k best chunk ids with their scores: each request's dense and keyword rankings
        (`depth` deep), fused by reciprocal rank; one ranking alone keeps its own scores.

        Only chunks of `doc_ids` and of documents in any of `sets` compete (None: no limit), and
        the limit is applied inside each ranking, so the k are exact among them."""
        ...

    def document_frequencies(self, terms: Iterable[str]) -> dict[str, int]:
        """Sentences holding each stemmed term (terms held by none are left out)."""
        ...

    def close(self) -> None: ...


class StoreWriter(Protocol):
    """Changes to the index, visible to readers all at once when the writer's block ends."""

    manifest: Manifest
    #: the manifest of the version being changed (None for a new or fresh index)
    live_manifest: Manifest | None

    def documents_by_source(self) -> dict[str, tuple[str, str]]:
        """source_key -> (doc_id, content_hash) of every document."""
        ...

    def all_documents(self) -> list[tuple[str, str]]:
        """(doc_id, source_key) of every document."""
        ...

    def doc_id_taken(self, doc_id: str) -> bool: ...
    def chunking_matches(self) -> bool: ...
    def remove_document(self, doc_id: str) -> bool: ...

    def set_document_sets(self, doc_id: str, sets: Iterable[str]) -> bool:
        """Replace a document's sets without re-embedding it; False if the document is unknown."""
        ...

    def add_document(
        self,
        *,
        doc_id: str,
        title: str,
        source: str,
        source_key: str,
        content_hash: str,
        text: str,
        pages: Sequence[tuple[int, int, int]],
        metadata: dict[str, Any],
        sentence_spans: Sequence[tuple[int, int]],
        sentence_vectors: np.ndarray,
        chunks: Sequence[NewChunk],
        chunk_vectors: np.ndarray,
        sets: Sequence[str] | None = None,
    ) -> None:
        """Add a document in `sets` (None: the sets of the document it replaces in this writer,
        else `default`)."""
        ...

    def counts(self) -> tuple[int, int]:
        """(documents, chunks) as they stand in this writer."""
        ...


class Store(Protocol):
    """Where an index lives: finds, opens and changes its versions."""

    def current_name(self) -> str | None:
        """The name of the live version, or None when there is no index yet (cheap)."""
        ...

    def exists(self) -> bool: ...

    def open(self, name: str | None = None) -> ReadView:
        """A read view of version `name` (default: the live one); IndexNotFoundError if none."""
        ...

    def writer(self, manifest: Manifest, fresh: bool = False) -> AbstractContextManager[StoreWriter]:
        """A writer whose changes are committed when the block ends cleanly, discarded on error;
        `fresh` starts from an empty index."""
        ...
