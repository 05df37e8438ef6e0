"""A sync: plan which items of a source change, run a runner (local or Ray), write one snapshot."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from assistant.embedding import Embedder
from assistant.indexing.local import run_local
from assistant.indexing.pipeline import Job, Prepared, Vectors
from assistant.indexing.vector_cache import CachingEmbedder
from assistant.ingest.parts import split_part_location
from assistant.models import IndexReport, SkippedFile
from assistant.settings import Settings
from assistant.sources import FolderSource, Listing, Source, SourceItem
from assistant.store import Manifest, Store, StoreWriter

Progress = Callable[[int, int, str], None]
#: (source, its listing, source_key -> (doc_id, content_hash)) -> the source to sync instead
Widen = Callable[[Any, Listing, dict[str, tuple[str, str]]], Source]


def _unique_doc_id(writer: StoreWriter, stem: str, reserved: set[str]) -> str:
    candidate, n = stem, 1
    while writer.doc_id_taken(candidate) or candidate in reserved:
        n += 1
        candidate = f"{stem}-{n}"
    return candidate


def doc_id_stem(location: str) -> str:
    """The doc id an item asks for: its file name without extension (a path's or a URL's);
    a part of a file (an e-mail's attachment) asks for both: "q3-update-memo"."""
    container, key = split_part_location(location)
    if key is not None:
        return f"{doc_id_stem(container)}-{PurePosixPath(key).stem or 'part'}"
    parsed = urlsplit(location)
    path = parsed.path if parsed.scheme and parsed.netloc else location
    stem = PurePosixPath(path.replace("\\", "/")).stem
    return stem or parsed.netloc or "document"


def _write_document(
    writer: StoreWriter,
    item: Prepared,
    vectors: Vectors,
    reserved: set[str],
    report: IndexReport,
    sets: Sequence[str] | None,
) -> None:
    """Write one document in `sets` (None: a replaced document keeps its own); doc ids are given
    here, in item order, whichever path embedded it."""
    if item.replaces is not None:
        writer.remove_document(item.replaces)
        doc_id = item.replaces
        report.replaced.append(doc_id)
    else:
        doc_id = _unique_doc_id(writer, doc_id_stem(item.item.location), reserved)
        report.added.append(doc_id)
    reserved.add(doc_id)
    metadata = dict(item.doc.metadata)
    if item.doc.pages:
        metadata.setdefault("pages", max(p for _, _, p in item.doc.pages))
    writer.add_document(
        doc_id=doc_id,
        title=item.doc.title,
        source=item.doc.source,
        source_key=item.item.id,
        content_hash=item.item.version,
        text=item.doc.text,
        pages=item.doc.pages,
        metadata=metadata,
        sentence_spans=item.sentence_spans,
        sentence_vectors=vectors.sentences,
        chunks=item.chunks,
        chunk_vectors=vectors.chunks,
        sets=sets,
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
    """Index files and folders incrementally (a folder source); `prune` removes the vanished ones.

    `sets` (when given) become the document sets of every document found under `paths`, new or
    unchanged: a re-run with other sets changes who may see them without re-embedding."""
    return sync_source(
        store, embedder, settings, manifest, FolderSource.of(paths), prune, rebuild, progress, sets=sets
    )


def sync_source(
    store: Store,
    embedder: Embedder,
    settings: Settings,
    manifest: Manifest,
    source: Source,
    remove_vanished: bool = True,
    rebuild: bool = False,
    progress: Progress | None = None,
    widen: Widen | None = None,
    sets: Sequence[str] | None = None,
) -> IndexReport:
    """Bring the index in line with `source` in one new snapshot (atomic: all or nothing).

    New and changed items are indexed, unchanged ones skipped, and (with `remove_vanished`)
    documents the source owns but no longer lists are removed. When the chunking settings
    changed, `widen` may return a source that also lists every stored item it can still fetch.
    """
    started = time.perf_counter()
    listing = source.list_items(settings.max_file_bytes)
    report = IndexReport(skipped=list(listing.skipped))
    with store.writer(manifest, fresh=rebuild) as writer:
        live_mode = writer.live_manifest.extra.get("sentence_vectors") if writer.live_manifest else None
        if live_mode is not None:  # kept until a batch is embedded
            manifest.extra = {**manifest.extra, "sentence_vectors": live_mode}
        known = writer.documents_by_source()
        named = {item.id for item in listing.items}  # what `sets` applies to (not re-chunked others)
        same_chunking = writer.chunking_matches()
        if not same_chunking and widen is not None:
            # Chunking settings changed: every document is re-chunked, not only those listed now.
            source = widen(source, listing, known)
            listing = source.list_items(settings.max_file_bytes)
        jobs = _plan(source, listing.items, known, same_chunking, report)
        total = len(listing.items)
        done = total - len(jobs)  # unchanged: settled already
        runner = run_local
        if settings.ray_address is not None:
            from assistant.indexing.ray_runner import run_on_ray

            runner = run_on_ray
        reserved: set[str] = set()
        reused_before = embedder.reused if isinstance(embedder, CachingEmbedder) else 0
        for batch in runner(jobs, settings, embedder):
            report.embedded_texts += batch.texts
            if batch.mode is not None:
                writer.manifest.extra = {**writer.manifest.extra, "sentence_vectors": batch.mode}
            for job, outcome in batch.outcomes:
                done += 1
                if progress is not None:
                    progress(done, total, job.item.location)
                if isinstance(outcome, str):
                    report.skipped.append(SkippedFile(path=job.item.location, reason=outcome))
                else:
                    named_sets = sets if job.item.id in named else None
                    _write_document(writer, *outcome, reserved, report, named_sets)
        if isinstance(embedder, CachingEmbedder):  # cache hits were asked for, not computed
            report.reused_texts = embedder.reused - reused_before
            report.embedded_texts -= report.reused_texts
        if sets is not None:
            by_source = writer.documents_by_source()
            for key in sorted(named):
                found = by_source.get(key)
                if found is not None:
                    writer.set_document_sets(found[0], sets)
        if remove_vanished or not same_chunking:
            listed = {item.id for item in listing.items}
            for doc_id, source_key in writer.all_documents():
                if source.owns(source_key) and source_key not in listed:
                    writer.remove_document(doc_id)
                    report.removed.append(doc_id)
        report.documents, report.chunks = writer.counts()
    report.seconds = round(time.perf_counter() - started, 3)
    return report


def _with_known_files(source: FolderSource, listing: Listing, known: dict[str, tuple[str, str]]) -> Source:
    """A folder source widened to every stored file still on disk (re-chunked with the rest)."""
    listed = {item.id for item in listing.items}
    extra = [Path(key) for key in known if key not in listed and Path(key).is_file()]
    return FolderSource(source.paths + tuple(extra))


def _plan(
    source: Source,
    items: list[SourceItem],
    known: dict[str, tuple[str, str]],
    same_chunking: bool,
    report: IndexReport,
) -> list[Job]:
    """The items to (re)index, in listing order: unchanged ones are settled here."""
    jobs: list[Job] = []
    for item in items:
        existing = known.get(item.id)
        if existing is not None and existing[1] == item.version and same_chunking:
            report.unchanged.append(existing[0])
            continue
        jobs.append(Job(source, item, existing[0] if existing else None))
    return jobs


def remove_document(store: Store, manifest: Manifest, doc_id: str) -> bool:
    """Delete one document in a new snapshot; False (nothing written) when it is unknown.

    The parts of its file (an e-mail's attachments) go with it: they are indexed from that file,
    and a deleted upload takes its file away."""
    try:
        with store.writer(manifest) as writer:
            source_keys = dict(writer.all_documents())
            if not writer.remove_document(doc_id):
                raise _NothingToDo
            for other, key in source_keys.items():
                container, part = split_part_location(key)
                if part is not None and container == source_keys[doc_id]:
                    writer.remove_document(other)
    except _NothingToDo:
        return False
    return True


class _NothingToDo(Exception):
    """Raised inside a writer to discard the snapshot without an error."""
