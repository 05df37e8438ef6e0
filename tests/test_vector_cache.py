"""The vector cache: a changed document re-embeds only its changed chunks, with the same vectors."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from assistant.core import Assistant
from assistant.indexing.vector_cache import FILE_NAME, VectorCache
from tests.conftest import REPO_ROOT
from tests.helpers import assistant_on

NEW_FACT = "The harbour master's dog was named Brisko."


def _scores(assistant: Assistant, query: str) -> dict[tuple[str, int], float]:
    return {(p.doc_id, p.start): p.score for p in assistant.search(query, top_k=8, mode="dense")}


def test_an_edit_reembeds_only_changed_chunks_with_the_vectors_a_fresh_build_gives(
    sample_assistant: Assistant, tmp_path: Path
) -> None:
    folder = tmp_path / "corpus"
    shutil.copytree(REPO_ROOT / "corpus", folder)
    cached = assistant_on(tmp_path / "cached", sample_assistant)
    first = cached.index_paths([folder])
    assert first.reused_texts == 0 and first.embedded_texts > 0
    assert (tmp_path / "cached" / FILE_NAME).is_file()

    target = sorted(folder.glob("*.txt"))[0]
    target.write_text(target.read_text() + f"\n{NEW_FACT}\n")
    edited = cached.index_paths([folder])
    assert len(edited.replaced) == 1
    assert edited.reused_texts > 0
    assert edited.embedded_texts < edited.reused_texts  # one appended sentence: most chunks reused
    assert "Brisko" in cached.ask("What was the name of the harbour master's dog?").answer

    fresh = assistant_on(tmp_path / "fresh", sample_assistant, vector_cache_entries=0)
    fresh.index_paths([folder])
    assert not (tmp_path / "fresh" / FILE_NAME).exists()
    for query in ("harbour master's dog", "legal basis for regional talks"):
        got, want = _scores(cached, query), _scores(fresh, query)
        shared = set(got) & set(want)
        assert len(shared) >= 6  # the same passages come back (ranks may swap on near-ties)
        for key in shared:
            assert got[key] == pytest.approx(want[key], abs=1e-4)


def test_the_cache_keeps_the_most_recently_used_entries_within_its_bound(tmp_path: Path) -> None:
    cache = VectorCache(tmp_path / FILE_NAME, max_entries=3)
    blocks = {bytes([n]) * 32: np.full((1, 4), n, dtype=np.float32) for n in range(3)}
    cache.put_many(blocks)
    assert set(cache.get_many([bytes([0]) * 32], 4)) == {bytes([0]) * 32}  # 0 is now recent
    cache.put_many({bytes([9]) * 32: np.ones((2, 4), dtype=np.float32)})
    assert len(cache) == 3
    kept = cache.get_many([bytes([n]) * 32 for n in (0, 1, 2, 9)], 4)
    assert set(kept) == {bytes([0]) * 32, bytes([2]) * 32, bytes([9]) * 32}
    assert kept[bytes([9]) * 32].shape == (2, 4)
    assert cache.get_many([bytes([0]) * 32], 8) == {}  # a block of another dimension is a miss


def test_a_damaged_cache_file_is_replaced_by_an_empty_one(tmp_path: Path) -> None:
    path = tmp_path / FILE_NAME
    path.write_bytes(b"this is not a database" * 100)
    cache = VectorCache(path, max_entries=10)
    assert len(cache) == 0
    cache.put_many({b"k" * 32: np.zeros((1, 4), dtype=np.float32)})
    assert len(VectorCache(path, max_entries=10)) == 1
