"""The snapshot writer with the fake embedder's vectors: add, replace, remove, commit, discard, crash."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from assistant.errors import ModelMismatchError
from assistant.store import FORMAT_VERSION, Manifest
from assistant.store.lexical import fts_match_query, stem
from assistant.store.snapshot.layout import SNAPSHOTS_DIR
from assistant.store.snapshot.reader import Snapshot
from assistant.store.snapshot.store import IndexStore
from assistant.store.snapshot.writer import SnapshotWriter
from tests.conftest import REPO_ROOT
from tests.unit.conftest import HARBOUR, TALKS
from tests.unit.fakes import FakeDocument, FakeEmbedder, document_parts

EMBEDDER = FakeEmbedder()


def manifest(model: str = EMBEDDER.model_name) -> Manifest:
    return Manifest(
        format_version=FORMAT_VERSION,
        model=model,
        dimension=EMBEDDER.dimension,
        chunk_size=120,
        chunk_overlap_sentences=1,
    )


def add(writer: SnapshotWriter, doc: FakeDocument) -> None:
    """Add `doc` the way the indexer does: real sentences and chunks, fake vectors."""
    parts = document_parts(doc.text, EMBEDDER, chunk_size=120)
    writer.add_document(
        doc_id=doc.doc_id,
        title=doc.title,
        source=doc.source,
        source_key=doc.source,
        content_hash=hashlib.sha256(doc.text.encode()).hexdigest(),
        text=doc.text,
        pages=[],
        metadata={},
        sentence_spans=parts.sentence_spans,
        sentence_vectors=parts.sentence_vectors,
        chunks=parts.chunks,
        chunk_vectors=parts.chunk_vectors,
    )


def keyword_docs(snapshot: Snapshot, query: str) -> set[str]:
    match = fts_match_query(query)
    assert match is not None
    found = snapshot.chunks([i for i, _ in snapshot.keyword_search(match, 50)])
    return {row.doc_id for row in found.values()}


def dense_docs(snapshot: Snapshot, query: str, min_score: float = 0.0) -> set[str]:
    """Documents of the chunks dense search returns above `min_score` (the fake vectors of
    texts without a shared word are orthogonal, so 0 separates related from unrelated)."""
    hits = snapshot.dense_search(EMBEDDER.embed([query])[0], 50)
    return {row.doc_id for row in snapshot.chunks([i for i, s in hits if s > min_score]).values()}


@pytest.fixture()
def store(tmp_path: Path) -> IndexStore:
    """An index holding TALKS and HARBOUR."""
    store = IndexStore(tmp_path / "index")
    with store.writer(manifest()) as writer:
        add(writer, TALKS)
        add(writer, HARBOUR)
    return store


def test_a_commit_holds_every_document_with_exact_offsets(store: IndexStore) -> None:
    snapshot = store.open()
    assert [d["doc_id"] for d in snapshot.documents()] == sorted([TALKS.doc_id, HARBOUR.doc_id])
    assert snapshot.manifest.documents == 2
    assert snapshot.manifest.chunks == len(snapshot.chunk_ids_for_docs([TALKS.doc_id, HARBOUR.doc_id]))
    for doc in (TALKS, HARBOUR):
        assert snapshot.document_text(doc.doc_id) == doc.text
        for row in snapshot.sentences(doc.doc_id, 0, 100):
            assert snapshot.text_slice(doc.doc_id, row.start, row.end) == doc.text[row.start : row.end]
        for row in snapshot.chunks(snapshot.chunk_ids_for_docs([doc.doc_id])).values():
            assert doc.text[row.start : row.end] == row.text
    assert snapshot.document_frequencies([stem("lamp")]) == {stem("lamp"): 1}


def test_search_finds_a_document_by_its_words_and_its_vector(store: IndexStore) -> None:
    snapshot = store.open()
    assert keyword_docs(snapshot, "lamp posts") == {HARBOUR.doc_id}
    assert dense_docs(snapshot, "Security Council mandate") == {TALKS.doc_id}


def test_replacing_a_document_leaves_no_trace_of_the_old_text(store: IndexStore) -> None:
    changed = FakeDocument(HARBOUR.doc_id, "Harbour Survey\n\nThe ferry timetable changed in June.\n")
    with store.writer(manifest()) as writer:
        assert writer.remove_document(HARBOUR.doc_id)
        add(writer, changed)
    snapshot = store.open()
    assert snapshot.document_text(HARBOUR.doc_id) == changed.text
    assert keyword_docs(snapshot, "lamp posts") == set()
    assert dense_docs(snapshot, "lamp posts fittings") == set()
    assert keyword_docs(snapshot, "ferry timetable") == {HARBOUR.doc_id}
    assert stem("lamp") not in snapshot.document_frequencies([stem("lamp")])


def test_removing_a_document_removes_it_from_dense_and_keyword_search(store: IndexStore) -> None:
    with store.writer(manifest()) as writer:
        assert writer.remove_document(TALKS.doc_id)
        assert not writer.remove_document("no-such-document")
    snapshot = store.open()
    assert snapshot.document(TALKS.doc_id) is None
    assert snapshot.chunk_ids_for_docs([TALKS.doc_id]) == []
    assert keyword_docs(snapshot, "Resolution 598 mandate") == set()
    assert dense_docs(snapshot, "Resolution 598 mandate", min_score=-1.0) == {HARBOUR.doc_id}
    assert snapshot.manifest.documents == 1


def test_a_reader_keeps_its_snapshot_while_a_writer_commits(store: IndexStore) -> None:
    before = store.open()
    with store.writer(manifest()) as writer:
        writer.remove_document(TALKS.doc_id)
    assert before.document_text(TALKS.doc_id) == TALKS.text
    assert store.open().document_text(TALKS.doc_id) is None
    assert store.current_name() != before.name


def test_an_error_discards_the_new_snapshot(store: IndexStore) -> None:
    live = store.current_name()
    with pytest.raises(RuntimeError, match="stop"), store.writer(manifest()) as writer:
        writer.remove_document(TALKS.doc_id)
        raise RuntimeError("stop")
    assert store.current_name() == live
    assert store.open().document_text(TALKS.doc_id) == TALKS.text
    assert not list((store.index_dir / SNAPSHOTS_DIR).glob("*.tmp"))


def test_a_writer_that_changes_nothing_keeps_the_live_snapshot(store: IndexStore) -> None:
    live = store.current_name()
    with store.writer(manifest()):
        pass
    assert store.current_name() == live


def test_a_different_model_is_refused(store: IndexStore) -> None:
    with pytest.raises(ModelMismatchError, match="index-dir"), store.writer(manifest("another-model")):
        pass


def test_a_killed_writer_leaves_the_old_snapshot_answering(store: IndexStore) -> None:
    live = store.current_name()
    # a separate process removes a document, then dies before the with-block can commit
    script = textwrap.dedent(
        f"""
        import os
        from pathlib import Path
        from tests.unit.test_snapshot_writer import IndexStore, manifest
        with IndexStore(Path({str(store.index_dir)!r})).writer(manifest()) as writer:
            writer.remove_document({TALKS.doc_id!r})
            os._exit(9)
        """
    )
    child = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, timeout=120, check=False)
    assert child.returncode == 9
    assert list((store.index_dir / SNAPSHOTS_DIR).glob("*.tmp")), "the child died mid-write"

    assert store.current_name() == live
    assert store.open().document_text(TALKS.doc_id) == TALKS.text
    # the dead writer's lock is gone and its leftovers are cleared by the next writer
    with store.writer(manifest(), lock_timeout=5) as writer:
        writer.remove_document(HARBOUR.doc_id)
    assert not list((store.index_dir / SNAPSHOTS_DIR).glob("*.tmp"))
    assert store.open().document(HARBOUR.doc_id) is None
