"""The shared steps of a build: fetch, load and chunk one item (prepare), embed a batch.

Both runners (local and Ray) call these and nothing else, so their outcomes are the same.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant.embedding import Embedder, SpanEmbedder, l2_normalize
from assistant.errors import AssistantError, LoadError, user_message
from assistant.ingest import chunk_document, load_bytes
from assistant.models import LoadedDocument, page_at
from assistant.settings import Settings
from assistant.sources import Source, SourceItem
from assistant.store import NewChunk

log = logging.getLogger(__name__)

#: documents embedded per batch: big enough to fill the model's batches, small enough for memory
DOCS_PER_BATCH = 256

#: how sentence vectors are made (recorded in the manifest): pooled from the chunk's pass,
#: or each sentence encoded on its own (embedders without token access, e.g. test fakes)
LATE_POOLED = "late-pooled"
ENCODED = "encoded"


def sentence_vector_mode(embedder: Embedder) -> str:
    """How `embedder` makes sentence vectors (asked at the first batch: it may load the model)."""
    return LATE_POOLED if isinstance(embedder, SpanEmbedder) and embedder.pools_spans() else ENCODED


@dataclass(slots=True, frozen=True)
class Job:
    """An item that needs (re)indexing: decided on the driver, before anything is fetched."""

    source: Source
    item: SourceItem
    replaces: str | None


@dataclass(slots=True)
class Prepared:
    """A loaded and chunked document waiting for its embeddings."""

    item: SourceItem
    replaces: str | None
    doc: LoadedDocument
    sentence_spans: list[tuple[int, int]]
    chunks: list[NewChunk]


def prepare(job: Job, settings: Settings) -> Prepared:
    """Fetch, load and chunk one item (raises LoadError for an item that cannot be used)."""
    fetched = job.source.fetch(job.item, settings.max_file_bytes)
    doc = load_bytes(fetched.data, Path(fetched.name), max_bytes=settings.max_file_bytes)
    doc.source = job.item.location
    doc.metadata.update(fetched.metadata)
    chunk_spans = chunk_document(
        doc.text, settings.chunk_size, settings.chunk_overlap_sentences, doc.passage_breaks
    )
    if not chunk_spans:
        raise LoadError("no text to index")
    sentence_spans: list[tuple[int, int]] = []
    index_of: dict[tuple[int, int], int] = {}
    chunks: list[NewChunk] = []
    for span in chunk_spans:
        ords = []
        for sentence in span.sentences:
            key = (sentence.start, sentence.end)
            if key not in index_of:
                index_of[key] = len(sentence_spans)
                sentence_spans.append(key)
            ords.append(index_of[key])
        chunks.append(
            NewChunk(
                start=span.start,
                end=span.end,
                text=doc.text[span.start : span.end],
                page=page_at(doc.pages, span.start),
                first_sentence=min(ords),
                last_sentence=max(ords),
            )
        )
    return Prepared(job.item, job.replaces, doc, sentence_spans, chunks)


def _embed_unique(embedder: Embedder, texts: list[str]) -> np.ndarray:
    """Embed each distinct text once (a one-sentence chunk is also a sentence)."""
    unique: dict[str, int] = {}
    for text in texts:
        unique.setdefault(text, len(unique))
    vectors = embedder.embed(list(unique))
    return vectors[[unique[t] for t in texts]] if texts else vectors


def _embed_encoded(embedder: Embedder, batch: list[Prepared]) -> tuple[list[Vectors], int]:
    """Chunks and sentences each encoded on their own (any Embedder can do this)."""
    texts: list[str] = []
    for item in batch:
        texts.extend(c.text for c in item.chunks)
        texts.extend(item.doc.text[s:e] for s, e in item.sentence_spans)
    vectors = _embed_unique(embedder, texts)
    out, offset = [], 0
    for item in batch:
        n_chunks, n_sentences = len(item.chunks), len(item.sentence_spans)
        chunk_vectors = vectors[offset : offset + n_chunks]
        sentence_vectors = vectors[offset + n_chunks : offset + n_chunks + n_sentences]
        out.append(Vectors(chunk_vectors, sentence_vectors))
        offset += n_chunks + n_sentences
    return out, len(set(texts))


def _embed_late_pooled(embedder: SpanEmbedder, batch: list[Prepared]) -> tuple[list[Vectors], int]:
    """One model pass per distinct chunk; each sentence's vector is pooled from the chunk
    pass(es) that hold it (the mean of them where overlapping chunks share a sentence)."""
    keys: dict[tuple[str, tuple[tuple[int, int], ...]], int] = {}
    texts: list[str] = []
    spans: list[list[tuple[int, int]]] = []
    where: list[list[int]] = []
    for item in batch:
        rows = []
        for chunk in item.chunks:
            relative = tuple(
                (s - chunk.start, e - chunk.start)
                for s, e in item.sentence_spans[chunk.first_sentence : chunk.last_sentence + 1]
            )
            key = (chunk.text, relative)
            if key not in keys:
                keys[key] = len(texts)
                texts.append(chunk.text)
                spans.append(list(relative))
            rows.append(keys[key])
        where.append(rows)
    chunk_vectors, span_vectors = embedder.embed_with_spans(texts, spans)
    out = []
    for item, rows in zip(batch, where, strict=True):
        sums = np.zeros((len(item.sentence_spans), chunk_vectors.shape[1]), dtype=np.float32)
        for chunk, row in zip(item.chunks, rows, strict=True):
            sums[chunk.first_sentence : chunk.last_sentence + 1] += span_vectors[row]
        sentence_vectors = l2_normalize(sums)
        out.append(Vectors(chunk_vectors[rows], sentence_vectors))
    return out, len(texts)


@dataclass(slots=True)
class Vectors:
    chunks: np.ndarray
    sentences: np.ndarray


#: one job's result: the document with its vectors, or why the file was skipped
Outcome = tuple[Job, "tuple[Prepared, Vectors] | str"]


@dataclass(slots=True)
class EmbeddedBatch:
    """Outcomes in job order, ready to write (what the local and the Ray paths both produce)."""

    outcomes: list[Outcome]
    texts: int = 0
    mode: str | None = None


def prepare_or_reason(job: Job, settings: Settings) -> Prepared | str:
    """`prepare`, with a file that cannot be used turned into the reason it is skipped."""
    try:
        return prepare(job, settings)
    except AssistantError as exc:
        log.warning("skipping %s: %s", job.item.location, exc)
        return user_message(exc)


def embed_batch(embedder: Embedder, jobs: list[Job], prepared: list[Prepared | str]) -> EmbeddedBatch:
    """Embed the prepared documents of a batch of jobs (the one embedding step of both paths)."""
    ready = [item for item in prepared if not isinstance(item, str)]
    if not ready:
        return EmbeddedBatch([(job, str(item)) for job, item in zip(jobs, prepared, strict=True)])
    mode = sentence_vector_mode(embedder)
    if mode == LATE_POOLED:
        vectors, texts = _embed_late_pooled(embedder, ready)  # type: ignore[arg-type]
    else:
        vectors, texts = _embed_encoded(embedder, ready)
    embedded = iter(zip(ready, vectors, strict=True))
    outcomes: list[Outcome] = [
        (job, item if isinstance(item, str) else next(embedded))
        for job, item in zip(jobs, prepared, strict=True)
    ]
    return EmbeddedBatch(outcomes, texts, mode)
