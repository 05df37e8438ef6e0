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
