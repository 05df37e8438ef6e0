"""Turn files into index entries: find files, skip unchanged ones, load, chunk, embed, write."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant.embedding import Embedder, SpanEmbedder, l2_normalize
from assistant.errors import AssistantError, LoadError, user_message
from assistant.fileio import file_checksum
from assistant.ingest import SUPPORTED_EXTENSIONS, chunk_document, load_file
from assistant.models import IndexReport, LoadedDocument, SkippedFile, page_at
from assistant.settings import Settings
from assistant.store import Manifest, NewChunk, Store, StoreWriter

log = logging.getLogger(__name__)

Progress = Callable[[int, int, str], None]

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
    """A file that needs (re)indexing: decided on the driver, before any loading."""

    path: Path
    source_key: str
    content_hash: str
    replaces: str | None


@dataclass(slots=True)
class _Prepared:
    """A loaded and chunked document waiting for its embeddings."""

    path: Path
    source_key: str
    content_hash: str
    replaces: str | None
    doc: LoadedDocument
    sentence_spans: list[tuple[int, int]]
    chunks: list[NewChunk]


def find_files(paths: Iterable[Path]) -> tuple[list[Path], list[SkippedFile]]:
    """Expand folders recursively (hidden entries skipped); report unsupported or missing paths."""
    files: list[Path] = []
    skipped: list[SkippedFile] = []
    for root in paths:
        if root.is_dir():
            candidates = sorted(
                p
                for p in root.rglob("*")
                if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts)
            )
        elif root.is_file():
            candidates = [root]
        else:
            skipped.append(SkippedFile(path=str(root), reason="no such file or folder"))
            continue
        for path in candidates:
            if path.suffix.lower() in SUPPORTED_EXTENSIONS:
                files.append(path)
            else:
                supported = ", ".join(sorted(SUPPORTED_EXTENSIONS))
                reason = f"unsupported file type '{path.suffix or '(none)'}' (supported: {supported})"
                skipped.append(SkippedFile(path=str(path), reason=reason))
    return files, skipped


def prepare(job: Job, settings: Settings) -> _Prepared:
    """Load and chunk one file (raises LoadError for a file that cannot be used)."""
    doc = load_file(job.path, max_bytes=settings.max_file_bytes)
    chunk_spans = chunk_document(doc.text, settings.chunk_size, settings.chunk_overlap_sentences)
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
    return _Prepared(job.path, job.source_key, job.content_hash, job.replaces, doc, sentence_spans, chunks)


def _embed_unique(embedder: Embedder, texts: list[str]) -> np.ndarray:
    """Embed each distinct text once (a one-sentence chunk is also a sentence)."""
    unique: dict[str, int] = {}
    for text in texts:
        unique.setdefault(text, len(unique))
    vectors = embedder.embed(list(unique))
    return vectors[[unique[t] for t in texts]] if texts else vectors


def _embed_encoded(embedder: Embedder, batch: list[_Prepared]) -> tuple[list[_Vectors], int]:
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
        out.append(_Vectors(chunk_vectors, sentence_vectors))
        offset += n_chunks + n_sentences
    return out, len(set(texts))


def _embed_late_pooled(embedder: SpanEmbedder, batch: list[_Prepared]) -> tuple[list[_Vectors], int]:
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
        out.append(_Vectors(chunk_vectors[rows], sentence_vectors))
    return out, len(texts)


@dataclass(slots=True)
class _Vectors:
    chunks: np.ndarray
    sentences: np.ndarray


def _unique_doc_id(writer: StoreWriter, stem: str, reserved: set[str]) -> str:
    candidate, n = stem, 1
    while writer.doc_id_taken(candidate) or candidate in reserved:
        n += 1
        candidate = f"{stem}-{n}"
    return candidate


#: one job's result: the document with its vectors, or why the file was skipped
Outcome = tuple[Job, "tuple[_Prepared, _Vectors] | str"]


@dataclass(slots=True)
class EmbeddedBatch:
    """Outcomes in job order, ready to write (what the local and the Ray paths both produce)."""

    outcomes: list[Outcome]
    texts: int = 0
    mode: str | None = None


def prepare_or_reason(job: Job, settings: Settings) -> _Prepared | str:
    """`prepare`, with a file that cannot be used turned into the reason it is skipped."""
    try:
        return prepare(job, settings)
    except AssistantError as exc:
        log.warning("skipping %s: %s", job.path, exc)
        return user_message(exc)


def embed_batch(embedder: Embedder, jobs: list[Job], prepared: list[_Prepared | str]) -> EmbeddedBatch:
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


def _write_document(
    writer: StoreWriter, item: _Prepared, vectors: _Vectors, reserved: set[str], report: IndexReport
) -> None:
    """Write one document; doc ids are given here, in file order, whichever path embedded it."""
    if item.replaces is not None:
        writer.remove_document(item.replaces)
        doc_id = item.replaces
        report.replaced.append(doc_id)
    else:
        doc_id = _unique_doc_id(writer, item.path.stem, reserved)
        report.added.append(doc_id)
    reserved.add(doc_id)
    metadata = dict(item.doc.metadata)
    if item.doc.pages:
        metadata.setdefault("pages", max(p for _, _, p in item.doc.pages))
    writer.add_document(
        doc_id=doc_id,
        title=item.doc.title,
        source=item.doc.source,
        source_key=item.source_key,
        content_hash=item.content_hash,
        text=item.doc.text,
        pages=item.doc.pages,
        metadata=metadata,
        sentence_spans=item.sentence_spans,
        sentence_vectors=vectors.sentences,
        chunks=item.chunks,
        chunk_vectors=vectors.chunks,
    )


def run_local(jobs: list[Job], settings: Settings, embedder: Embedder) -> Iterator[EmbeddedBatch]:
    """Prepare and embed in this process, DOCS_PER_BATCH files at a time."""
    for start in range(0, len(jobs), DOCS_PER_BATCH):
        batch = jobs[start : start + DOCS_PER_BATCH]
        yield embed_batch(embedder, batch, [prepare_or_reason(job, settings) for job in batch])


def build_index(
    store: Store,
    embedder: Embedder,
    settings: Settings,
    manifest: Manifest,
    paths: Sequence[Path],
    prune: bool = False,
    rebuild: bool = False,
    progress: Progress | None = None,
) -> IndexReport:
    """Index `paths` incrementally into a new snapshot of `store` (atomic: all or nothing)."""
    started = time.perf_counter()
    files, skipped = find_files(paths)
    report = IndexReport(skipped=skipped)
    with store.writer(manifest, fresh=rebuild) as writer:
        live_mode = writer.live_manifest.extra.get("sentence_vectors") if writer.live_manifest else None
        if live_mode is not None:  # kept until a batch is embedded
            manifest.extra = {**manifest.extra, "sentence_vectors": live_mode}
        known = writer.documents_by_source()
        same_chunking = writer.chunking_matches()
        if not same_chunking:
            # Chunking settings changed: every document is re-chunked, not only those named now.
            listed = {str(f.resolve()) for f in files}
            files.extend(Path(key) for key in known if key not in listed and Path(key).exists())
        jobs = _plan(files, known, same_chunking, report)
        done = len(files) - len(jobs)  # unchanged, repeated or unreadable: settled already
        runner = run_local
        if settings.ray_address is not None:
            from assistant.indexing.ray_runner import run_on_ray

            runner = run_on_ray
        reserved: set[str] = set()
        for batch in runner(jobs, settings, embedder):
            report.embedded_texts += batch.texts
            if batch.mode is not None:
                writer.manifest.extra = {**writer.manifest.extra, "sentence_vectors": batch.mode}
            for job, outcome in batch.outcomes:
                done += 1
                if progress is not None:
                    progress(done, len(files), str(job.path))
                if isinstance(outcome, str):
                    report.skipped.append(SkippedFile(path=str(job.path), reason=outcome))
                else:
                    _write_document(writer, *outcome, reserved, report)
        if prune or not same_chunking:
            for doc_id, source_key in writer.all_documents():
                if not Path(source_key).exists():
                    writer.remove_document(doc_id)
                    report.removed.append(doc_id)
        report.documents, report.chunks = writer.counts()
    report.seconds = round(time.perf_counter() - started, 3)
    return report


def _plan(
    files: list[Path],
    known: dict[str, tuple[str, str]],
    same_chunking: bool,
    report: IndexReport,
) -> list[Job]:
    """The files to (re)index, in file order: unchanged, repeated and unreadable ones are settled here."""
    jobs: list[Job] = []
    seen_keys: set[str] = set()
    for path in files:
        source_key = str(path.resolve())
        if source_key in seen_keys:
            continue
        seen_keys.add(source_key)
        try:
            digest = file_checksum(path)
        except OSError as exc:
            report.skipped.append(SkippedFile(path=str(path), reason=f"cannot read: {exc}"))
            continue
        existing = known.get(source_key)
        if existing is not None and existing[1] == digest and same_chunking:
            report.unchanged.append(existing[0])
            continue
        jobs.append(Job(path, source_key, digest, existing[0] if existing else None))
    return jobs


def remove_document(store: Store, manifest: Manifest, doc_id: str) -> bool:
    """Delete one document in a new snapshot; False (nothing written) when it is unknown."""
    try:
        with store.writer(manifest) as writer:
            if not writer.remove_document(doc_id):
                raise _NothingToDo
    except _NothingToDo:
        return False
    return True


class _NothingToDo(Exception):
    """Raised inside a writer to discard the snapshot without an error."""
