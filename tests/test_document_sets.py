"""Document sets in the snapshot store: stored per document, changed without re-embedding, and a
search limited to a set's documents equals the top k of an index built from that set alone."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from assistant import fileio
from assistant.cli import main
from assistant.core import Assistant
from assistant.errors import DocumentNotFoundError
from assistant.models import SearchFilters
from assistant.settings import Settings
from assistant.store.manifest import Manifest
from assistant.store.snapshot.reader import Snapshot
from assistant.store.snapshot.writer import SnapshotWriter

DOCS = {
    "alpha": "Alpha\n\nThe alpha reactor produces 40 megawatts of power. It was built near the lake.\n",
    "beta": "Beta\n\nThe beta bridge spans the river near the old mill. Its towers are granite.\n",
    "gamma": "Gamma\n\nThe gamma reactor near the river produces 12 megawatts for the mill.\n",
}


def _build(shared: Assistant, root: Path, names: list[str]) -> Assistant:
    folder = root / "docs"
    folder.mkdir(parents=True)
    for name in names:
        (folder / f"{name}.txt").write_text(DOCS[name])
    assistant = Assistant(
        root / "index", Settings(index_dir=root / "index", store="snapshot"), shared.embedder
    )
    assert sorted(assistant.index_paths([folder]).added) == sorted(names)
    return assistant


def _view(assistant: Assistant) -> Snapshot:
    view = assistant.snapshot()
    assert isinstance(view, Snapshot)
    return view


def test_sets_change_without_reembedding_and_search_stays_exact(
    sample_assistant: Assistant, tmp_path: Path
) -> None:
    whole = _build(sample_assistant, tmp_path / "whole", ["alpha", "beta", "gamma"])
    view = _view(whole)
    assert view.set_counts() == {"default": 3}
    assert all(d["sets"] == ["default"] for d in view.documents())
    chunk_ids_before = view.chunk_ids_for_docs(["alpha", "beta", "gamma"])

    with whole.store.writer(view.manifest) as writer:
        assert isinstance(writer, SnapshotWriter)
        assert writer.set_document_sets("alpha", ["hr", "public"])
        assert writer.set_document_sets("gamma", ["hr"])
        assert not writer.set_document_sets("no-such-doc", ["hr"])
    view = _view(whole)
    assert view.set_counts() == {"default": 1, "hr": 2, "public": 1}
    assert {d["doc_id"]: d["sets"] for d in view.documents()} == {
        "alpha": ["hr", "public"],
        "beta": ["default"],
        "gamma": ["hr"],
    }
    assert view.chunk_ids_for_docs(["alpha", "beta", "gamma"]) == chunk_ids_before  # not re-embedded
    allowed = view.doc_ids_in_sets(["hr"])
    assert allowed == ["alpha", "gamma"]
    assert view.doc_ids_in_sets([]) == []

    alone = _view(_build(sample_assistant, tmp_path / "alone", ["alpha", "gamma"]))
    query = "reactor megawatts near the river"
    vector = whole.embed_query(query)
    for mode in ("dense", "keyword", "hybrid"):
        inside = view.search([(vector, query)], 3, 10, doc_ids=allowed, mode=mode)
        separate = alone.search([(vector, query)], 3, 10, mode=mode)
        keys = view.chunks([i for i, _ in inside])
        alone_keys = alone.chunks([i for i, _ in separate])
        assert {(c.doc_id, c.ord) for c in keys.values()} == {
            (c.doc_id, c.ord) for c in alone_keys.values()
        }, mode
        assert {keys[i].doc_id for i, _ in inside} <= set(allowed)


def test_a_schema_2_snapshot_reads_as_default_and_upgrades_on_write(
    sample_assistant: Assistant, tmp_path: Path
) -> None:
    """An index built before document sets stays readable (every document in `default`), and the
    next write adds the sets table instead of demanding a rebuild."""
    built = _build(sample_assistant, tmp_path, ["alpha", "beta"])
    view = _view(built)
    folder = view.path
    with contextlib.closing(sqlite3.connect(folder / "store.sqlite")) as db:
        db.executescript("DROP INDEX document_sets_name; DROP TABLE document_sets; PRAGMA user_version = 2;")
    manifest = Manifest.read(folder / "manifest.json", tmp_path / "index")
    manifest.checksums["store.sqlite"] = fileio.file_checksum(folder / "store.sqlite")
    manifest.write(folder / "manifest.json")

    old = Assistant(
        tmp_path / "index",
        Settings(index_dir=tmp_path / "index", store="snapshot"),
        sample_assistant.embedder,
    )
    view = _view(old)
    assert view.set_counts() == {"default": 2}
    assert view.doc_ids_in_sets(["default"]) == ["alpha", "beta"]
    assert view.doc_ids_in_sets(["hr"]) == []
    assert {d["doc_id"]: d["sets"] for d in view.documents()} == {"alpha": ["default"], "beta": ["default"]}
    with old.store.writer(view.manifest) as writer:
        assert isinstance(writer, SnapshotWriter)
        assert writer.set_document_sets("beta", ["hr"])
    assert _view(old).set_counts() == {"default": 1, "hr": 1}


def test_the_assistant_hides_documents_outside_the_callers_sets(
    sample_assistant: Assistant, tmp_path: Path
) -> None:
    assistant = _build(sample_assistant, tmp_path, ["alpha", "beta", "gamma"])
    with assistant.store.writer(_view(assistant).manifest) as writer:
        assert isinstance(writer, SnapshotWriter)
        writer.set_document_sets("gamma", ["hr"])
    query = "reactor megawatts near the river"
    assert "gamma" in {p.doc_id for p in assistant.search(query, 5)}
    public = SearchFilters(sets=["default"])
    assert {p.doc_id for p in assistant.search(query, 5, public)} <= {"alpha", "beta"}
    answer = assistant.ask(query, 5, public)
    assert all(c.doc_id != "gamma" for c in answer.citations)
    # doc_ids narrow the sets, never widen them
    assert assistant.search(query, 5, SearchFilters(doc_ids=["gamma"], sets=["default"])) == []
    assert {p.doc_id for p in assistant.search(query, 5, SearchFilters(doc_ids=["gamma"], sets=["hr"]))} == {
        "gamma"
    }
    assert assistant.search(query, 5, SearchFilters(sets=[])) == []
    assert [d.doc_id for d in assistant.list_documents(["default"])] == ["alpha", "beta"]
    assert [d.sets for d in assistant.list_documents()] == [["default"], ["default"], ["hr"]]
    assert assistant.get_document("gamma", ["hr"]).doc_id == "gamma"
    with pytest.raises(DocumentNotFoundError):
        assistant.get_document("gamma", ["default"])


@pytest.mark.parametrize("store", ["snapshot", "milvus"])
def test_index_build_set_changes_sets_without_reembedding_and_index_sets_counts(
    store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if store == "milvus":
        pytest.importorskip("pymilvus", reason='the Milvus backend needs `pip install "assistant[milvus]"`')
        pytest.importorskip("milvus_lite")
        monkeypatch.setenv("ASSISTANT_MILVUS_URI", str(tmp_path / "cli.db"))
    monkeypatch.setenv("ASSISTANT_STORE", store)
    folder = tmp_path / "docs"
    folder.mkdir()
    for name in ("alpha", "beta"):
        (folder / f"{name}.txt").write_text(DOCS[name])
    index = ["--index-dir", str(tmp_path / "index")]
    runner = CliRunner()
    first = runner.invoke(main, ["index", "build", str(folder), *index, "--json"])
    assert first.exit_code == 0, first.output
    again = runner.invoke(
        main, ["index", "build", str(folder), *index, "--set", "hr", "--set", "eu", "--json"]
    )
    assert again.exit_code == 0, again.output
    assert json.loads(again.output)["embedded_texts"] == 0  # sets changed, nothing re-embedded
    listed = runner.invoke(main, ["index", "sets", *index])
    assert listed.exit_code == 0, listed.output
    assert listed.output.splitlines() == ["eu\t2", "hr\t2"]


def test_a_replaced_document_keeps_its_sets(sample_assistant: Assistant, tmp_path: Path) -> None:
    """A changed file re-indexed without naming sets (a source sync) stays in the sets it had."""
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "alpha.txt").write_text(DOCS["alpha"])
    assistant = Assistant(
        tmp_path / "index",
        Settings(index_dir=tmp_path / "index", store="snapshot"),
        sample_assistant.embedder,
    )
    assistant.index_paths([folder], sets=["hr", "eu"])
    (folder / "alpha.txt").write_text(DOCS["alpha"].replace("40", "75"))
    assert assistant.index_paths([folder]).replaced == ["alpha"]
    assert _view(assistant).document_sets() == {"alpha": ["eu", "hr"]}
    assert assistant.get_document("alpha", ["hr"]).sets == ["eu", "hr"]
