"""Deterministic stand-ins for the model and the index, for fast tests of the logic around them.

`FakeEmbedder` hashes a text's content terms into a fixed-size vector (no model, no torch), so
texts that share words are similar and texts that share none are orthogonal. `FakeSnapshot`
holds documents in memory and offers what retrieval and the composers read from a snapshot;
sentences and chunks come from the real splitter and chunker, so offsets are the real ones.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from assistant.compose.seam import ComposeContext
from assistant.ingest.chunking import chunk_sentences
from assistant.ingest.sentences import split_sentences
from assistant.models import DocumentMeta, Passage
from assistant.retrieval.hybrid import retrieve
from assistant.store import (
    FORMAT_VERSION,
    ChunkRow,
    Manifest,
    NewChunk,
    SearchMode,
    SearchRequest,
    SentenceRow,
    chunk_key,
)
from assistant.store.fusion import fused_search
from assistant.store.lexical import content_terms
from assistant.store.protocol import DEFAULT_SET

DIMENSION = 256
_QUOTED = re.compile(r'"((?:[^"]|"")*)"')


class FakeEmbedder:
    """A hashed bag of stemmed content words, L2-normalised (a text without any is all zeros)."""

    model_name = "fake-hashed-bag-of-words"

    @property
    def dimension(self) -> int:
        return DIMENSION

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        vectors = np.zeros((len(texts), DIMENSION), dtype=np.float32)
        for row, text in enumerate(texts):
            for term in content_terms(text):
                digest = hashlib.blake2b(term.encode("utf-8"), digest_size=4).digest()
                vectors[row, int.from_bytes(digest, "little") % DIMENSION] += 1.0
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return np.divide(vectors, norms, out=vectors, where=norms > 0)


@dataclass(frozen=True)
class FakeDocument:
    doc_id: str
    text: str
    title: str = ""

    @property
    def source(self) -> str:
        return f"docs/{self.doc_id}.txt"


@dataclass(frozen=True)
class DocumentParts:
    """A document cut and embedded the way the indexer does it: the arguments of add_document."""

    sentence_spans: list[tuple[int, int]]
    sentence_vectors: np.ndarray
    chunks: list[NewChunk]
    chunk_vectors: np.ndarray


def document_parts(text: str, embedder: FakeEmbedder, chunk_size: int = 300) -> DocumentParts:
    """Sentences (real splitter), chunks (real chunker, one sentence of overlap) and their vectors."""
    sentences = split_sentences(text)
    ordinal = {(s.start, s.end): i for i, s in enumerate(sentences)}
    chunks = [
        NewChunk(
            start=c.start,
            end=c.end,
            text=text[c.start : c.end],
            page=None,
            first_sentence=ordinal[(c.sentences[0].start, c.sentences[0].end)],
            last_sentence=ordinal[(c.sentences[-1].start, c.sentences[-1].end)],
        )
        for c in chunk_sentences(sentences, chunk_size, overlap_sentences=1)
    ]
    spans = [(s.start, s.end) for s in sentences]
    return DocumentParts(
        sentence_spans=spans,
        sentence_vectors=embedder.embed([text[s:e] for s, e in spans]),
        chunks=chunks,
        chunk_vectors=embedder.embed([c.text for c in chunks]),
    )


class FakeSnapshot:
    """An in-memory index offering the read methods retrieval and the composers use."""

    def __init__(
        self, documents: Iterable[FakeDocument], embedder: FakeEmbedder | None = None, chunk_size: int = 300
    ) -> None:
        self.embedder = embedder or FakeEmbedder()
        self.docs = {d.doc_id: d for d in documents}
        self._chunks: dict[int, ChunkRow] = {}
        self._chunk_vectors: dict[int, np.ndarray] = {}
        self._sentences: dict[str, list[SentenceRow]] = {}
        for doc in self.docs.values():
            parts = document_parts(doc.text, self.embedder, chunk_size)
            self._sentences[doc.doc_id] = [
                SentenceRow(doc.doc_id, i, s, e, parts.sentence_vectors[i])
                for i, (s, e) in enumerate(parts.sentence_spans)
            ]
            for ord_, chunk in enumerate(parts.chunks):
                chunk_id = len(self._chunks) + 1
                self._chunks[chunk_id] = ChunkRow(id=chunk_id, doc_id=doc.doc_id, ord=ord_, **asdict(chunk))
                self._chunk_vectors[chunk_id] = parts.chunk_vectors[ord_]
        self.manifest = Manifest(
            format_version=FORMAT_VERSION,
            model=self.embedder.model_name,
            dimension=self.embedder.dimension,
            chunk_size=chunk_size,
            chunk_overlap_sentences=1,
            documents=len(self.docs),
            chunks=len(self._chunks),
            sentences=sum(len(rows) for rows in self._sentences.values()),
        )

    # --- retrieval ------------------------------------------------------------------------

    def search(
        self,
        requests: Sequence[SearchRequest],
        k: int,
        depth: int,
        doc_ids: Sequence[str] | None = None,
        mode: SearchMode = "hybrid",
        sets: Sequence[str] | None = None,
    ) -> list[tuple[int, float]]:
        if sets is not None and DEFAULT_SET not in sets:
            return []  # every document here is in the default set
        return fused_search(self, requests, k, depth, doc_ids, mode)

    def dense_search(
        self, query: np.ndarray, k: int, allowed_ids: Sequence[int] | None = None
    ) -> list[tuple[int, float]]:
        ids = sorted(self._chunks) if allowed_ids is None else sorted(set(allowed_ids) & set(self._chunks))
        scored = [(i, float(self._chunk_vectors[i] @ query)) for i in ids]
        return sorted(scored, key=lambda pair: (-pair[1], pair[0]))[:k]

    def keyword_search(
        self, match: str, k: int, doc_ids: Sequence[str] | None = None
    ) -> list[tuple[int, float]]:
        """Chunks holding any of the MATCH expression's quoted words, by how many they hold."""
        wanted = {t for word in _QUOTED.findall(match) for t in content_terms(word.replace('""', '"'))}
        scored = []
        for chunk_id, row in self._chunks.items():
            if doc_ids is not None and row.doc_id not in doc_ids:
                continue
            hits = len(wanted & set(content_terms(row.text)))
            if hits:
                scored.append((chunk_id, float(hits)))
        return sorted(scored, key=lambda pair: (-pair[1], pair[0]))[:k]

    def chunk_ids_for_docs(self, doc_ids: Sequence[str]) -> list[int]:
        return [i for i, row in self._chunks.items() if row.doc_id in doc_ids]

    def chunks(self, ids: Sequence[int]) -> dict[int, ChunkRow]:
        return {i: self._chunks[i] for i in ids if i in self._chunks}

    def sentences(self, doc_id: str, first: int, last: int) -> list[SentenceRow]:
        return [row for row in self._sentences.get(doc_id, []) if first <= row.ord <= last]

    def chunk_containing(self, doc_id: str, start: int, end: int) -> str:
        rows = sorted((r for r in self._chunks.values() if r.doc_id == doc_id), key=lambda r: r.ord)
        for row in rows:
            if row.start <= start and end <= row.end:
                return chunk_key(doc_id, row.ord)
        return chunk_key(doc_id, 0)

    def document_frequencies(self, terms: Iterable[str]) -> dict[str, int]:
        """Sentences holding each stemmed term (absent: none), as the real term_df table."""
        counts: dict[str, int] = {}
        wanted = set(terms)
        for doc_id, rows in self._sentences.items():
            text = self.docs[doc_id].text
            for row in rows:
                for term in wanted & set(content_terms(text[row.start : row.end])):
                    counts[term] = counts.get(term, 0) + 1
        return counts

    # --- documents ---------------------------------------------------------------------------

    def document_meta(self, doc_ids: Iterable[str]) -> dict[str, DocumentMeta]:
        known = set(doc_ids) & self.docs.keys()
        return {d: DocumentMeta(self.docs[d].title, self.docs[d].source) for d in known}

    def text_slice(self, doc_id: str, start: int, end: int) -> str:
        return self.docs[doc_id].text[start:end] if doc_id in self.docs else ""

    def document_text(self, doc_id: str) -> str | None:
        doc = self.docs.get(doc_id)
        return doc.text if doc else None


def compose_context(snapshot: FakeSnapshot, question: str, top_k: int = 5) -> ComposeContext:
    """What the core hands a composer: the question, its vector and the hybrid top_k chunks."""
    vector = snapshot.embedder.embed([question])[0]
    chunks = retrieve(snapshot, [(vector, question)], top_k)  # type: ignore[arg-type]
    passages = [
        Passage(
            chunk_id=chunk_key(c.row.doc_id, c.row.ord),
            doc_id=c.row.doc_id,
            score=c.score,
            text=c.row.text,
            title=snapshot.docs[c.row.doc_id].title,
            start=c.row.start,
            end=c.row.end,
        )
        for c in chunks
    ]
    return ComposeContext(
        question=question,
        query_text=question,
        query_vector=vector,
        chunks=chunks,
        snapshot=snapshot,  # type: ignore[arg-type]
        passages=passages,
    )
