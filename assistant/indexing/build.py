"""A build: plan which files change, run a runner (local or Ray), write one new snapshot."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

from assistant.embedding import Embedder
from assistant.fileio import file_checksum
from assistant.indexing.local import run_local
from assistant.indexing.pipeline import Job, Prepared, Vectors, find_files
from assistant.models import IndexReport, SkippedFile
from assistant.settings import Settings
from assistant.store import Manifest, Store, StoreWriter

Progress = Callable[[int, int, str], None]


def _unique_doc_id(writer: StoreWriter, stem: str, reserved: set[str]) -> str:
    candidate, n = stem, 1
    while writer.doc_id_taken(candidate) or candidate in reserved:
        n += 1
        candidate = f"{stem}-{n}"
    return candidate


def _write_document(
    writer: StoreWriter, item: Prepared, vectors: Vectors, reserved: set[str], report: IndexReport
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


def build_index(
    store: Store,
    embedder: Embedder,
    settings: Settings,
    manifest: Manifest,
    paths: Sequence[Path],
    prune: bool = False,
    rebuild: bool = False,
    progress: Progress | None = None,
    sets: Sequence[str] | None = None,
) -> IndexReport:
    """Index `paths` incrementally into a new snapshot of `store` (atomic: all or nothing).

    `sets` (when given) become the document sets of every document found under `paths`, new or
    unchanged: a re-run with other sets changes who may see them without re-embedding."""
    started = time.perf_counter()
    files, skipped = find_files(paths)
    report = IndexReport(skipped=skipped)
    with store.writer(manifest, fresh=rebuild) as writer:
        live_mode = writer.live_manifest.extra.get("sentence_vectors") if writer.live_manifest else None
        if live_mode is not None:  # kept until a batch is embedded
            manifest.extra = {**manifest.extra, "sentence_vectors": live_mode}
        known = writer.documents_by_source()
        named = [str(f.resolve()) for f in files]  # what `sets` applies to (not re-chunked others)
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
        if sets is not None:
            by_source = writer.documents_by_source()
            for key in named:
                found = by_source.get(key)
                if found is not None:
                    writer.set_document_sets(found[0], sets)
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
