"""The Store contract (tests/store_contract.py) against every backend: the snapshot store and
Milvus Lite in this process (skipped only where the milvus extra is not installed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.store_contract import StoreContract


class TestSnapshotStore(StoreContract):
    @classmethod
    def settings_for(cls, index_dir: Path) -> dict[str, Any]:
        return {"store": "snapshot"}


class TestMilvusLiteStore(StoreContract):
    @pytest.fixture(autouse=True, scope="class")
    @classmethod
    def _needs_milvus(cls) -> None:
        pytest.importorskip("pymilvus", reason='the Milvus backend needs `pip install "assistant[milvus]"`')
        pytest.importorskip("milvus_lite")

    @classmethod
    def settings_for(cls, index_dir: Path) -> dict[str, Any]:
        # one Milvus Lite file per index (Lite allows one process per file)
        return {"store": "milvus", "milvus_uri": str(index_dir.parent / "milvus.db")}


def test_one_milvus_writer_at_a_time(tmp_path: Path) -> None:
    """The writer lease: a second writer waits, and gets in once the first is done."""
    pytest.importorskip("pymilvus", reason='the Milvus backend needs `pip install "assistant[milvus]"`')
    from assistant.errors import IndexBusyError
    from assistant.store import FORMAT_VERSION, Manifest
    from assistant.store.milvus.store import MilvusStore

    uri = str(tmp_path / "lease.db")
    first, second = MilvusStore(uri), MilvusStore(uri)
    manifest = Manifest(FORMAT_VERSION, "model", 4, 600, 1)
    with (
        first.writer(manifest),
        pytest.raises(IndexBusyError, match="another process is writing"),
        second.writer(manifest, lock_timeout=1.0),
    ):
        pass
    with second.writer(manifest):
        pass
    assert second.current_name() == "v1"  # the second writer changed nothing: no new version


def test_milvus_deletes_removed_rows_after_the_grace_period(
    sample_assistant: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tombstoned rows are deleted for good once no reader can still need them."""
    pytest.importorskip("pymilvus", reason='the Milvus backend needs `pip install "assistant[milvus]"`')
    from assistant.core import Assistant
    from assistant.settings import Settings
    from assistant.store.milvus import writer

    monkeypatch.setattr(writer, "GRACE_SECONDS", 0.0)
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "alpha.txt").write_text("Alpha\n\nThe alpha reactor produces 40 megawatts of power.\n")
    (folder / "beta.txt").write_text("Beta\n\nThe beta bridge spans the river near the old mill.\n")
    settings = Settings(index_dir=tmp_path / "index", store="milvus", milvus_uri=str(tmp_path / "gc.db"))
    assistant = Assistant(tmp_path / "index", settings, sample_assistant.embedder)
    assistant.index_paths([folder])
    assistant.remove_document("beta")  # tombstoned at this commit, deleted at the next
    (folder / "beta.txt").unlink()
    (folder / "gamma.txt").write_text("Gamma\n\nThe gamma lighthouse was painted red in 1990.\n")
    assistant.index_paths([folder])
    store = assistant.store
    client = store.client  # type: ignore[attr-defined]
    for kind in ("documents", "texts", "chunks", "sentences"):
        rows = client.query(f"assistant_{kind}", filter='doc_id == "beta"', output_fields=["doc_id"])
        assert rows == [], kind
    assert client.query("assistant_tombstones", filter='doc_key != ""', output_fields=["doc_key"]) == []
    assert sorted(d.doc_id for d in assistant.list_documents()) == ["alpha", "gamma"]
