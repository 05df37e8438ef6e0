"""The Store contract (tests/store_contract.py) against every backend: the snapshot store and
Milvus Lite in this process (skipped only where the milvus extra is not installed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.store_contract import StoreContract


class TestSnapshotStore(StoreContract):
    def settings_for(self, index_dir: Path) -> dict[str, Any]:
        return {"store": "snapshot"}


class TestMilvusLiteStore(StoreContract):
    @pytest.fixture(autouse=True, scope="class")
    def _needs_milvus(self) -> None:
        pytest.importorskip("pymilvus", reason='the Milvus backend needs `pip install "assistant[milvus]"`')
        pytest.importorskip("milvus_lite")

    def settings_for(self, index_dir: Path) -> dict[str, Any]:
        # one Milvus Lite file per index (Lite allows one process per file)
        return {"store": "milvus", "milvus_uri": str(index_dir.parent / "milvus.db")}
