"""Reciprocal rank fusion, and hybrid retrieval over a fake snapshot."""

from __future__ import annotations

import pytest

from assistant.retrieval.hybrid import retrieve
from assistant.store.fusion import RRF_K, reciprocal_rank_fusion
from tests.unit.conftest import HARBOUR, TALKS
from tests.unit.fakes import FakeEmbedder, FakeSnapshot


def test_scores_are_sums_of_reciprocal_ranks() -> None:
    fused = dict(reciprocal_rank_fusion([[7, 3], [3, 9]]))
    first, second = 1 / (RRF_K + 1), 1 / (RRF_K + 2)
    assert fused == pytest.approx({7: first, 3: second + first, 9: second})


def test_an_item_both_rankings_agree_on_beats_the_head_of_one() -> None:
    fused = reciprocal_rank_fusion([[1, 2, 3], [4, 2, 5]])
    assert fused[0][0] == 2
    assert [item for item, _ in fused].count(2) == 1


def test_ties_are_broken_by_id_so_the_order_is_reproducible() -> None:
    # 10 and 20 each hold rank 1 in one list: exactly equal scores
    assert [item for item, _ in reciprocal_rank_fusion([[20], [10]])] == [10, 20]


def test_a_smaller_k_favours_the_head_of_each_ranking() -> None:
    rankings = [[1, 2, 3], [5, 6, 7, 8, 9, 10, 11, 2]]
    # with k=1, rank 1 (1/2) outweighs ranks 2 and 8 together (1/3 + 1/9); with k=60 it does not
    assert reciprocal_rank_fusion(rankings, k=1)[0][0] in (1, 5)
    assert reciprocal_rank_fusion(rankings, k=RRF_K)[0][0] == 2


def test_no_rankings_fuse_to_nothing() -> None:
    assert reciprocal_rank_fusion([]) == []
    assert reciprocal_rank_fusion([[], []]) == []


def test_hybrid_retrieval_finds_the_document_holding_the_words(snapshot: FakeSnapshot) -> None:
    question = "How many lamp posts needed new fittings?"
    vector = snapshot.embedder.embed([question])[0]
    top = retrieve(snapshot, [(vector, question)], top_k=1)  # type: ignore[arg-type]
    assert [c.row.doc_id for c in top] == [HARBOUR.doc_id]


@pytest.mark.parametrize("mode", ["hybrid", "dense", "keyword"])
def test_a_document_filter_is_respected_in_every_mode(snapshot: FakeSnapshot, mode: str) -> None:
    question = "How many lamp posts needed new fittings?"
    vector = snapshot.embedder.embed([question])[0]
    found = retrieve(snapshot, [(vector, question)], 5, doc_ids=[TALKS.doc_id], mode=mode)  # type: ignore[arg-type]
    assert {c.row.doc_id for c in found} <= {TALKS.doc_id}


def test_every_form_of_a_query_is_fused(embedder: FakeEmbedder) -> None:
    snapshot = FakeSnapshot([TALKS, HARBOUR], embedder)
    forms = ["lamp posts", "Resolution 598 mandate"]
    found = retrieve(snapshot, [(embedder.embed([f])[0], f) for f in forms], top_k=4)  # type: ignore[arg-type]
    assert {c.row.doc_id for c in found} == {TALKS.doc_id, HARBOUR.doc_id}
