"""Hybrid search by reciprocal rank fusion, for stores that fuse rankings in Python.

The embedded store ranks with FAISS and FTS5 and fuses here; Milvus fuses inside the service
with its own RRF ranker (same formula, same k).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Protocol

import numpy as np

from assistant.store.lexical import fts_match_query, stem, words

if TYPE_CHECKING:
    from assistant.store.protocol import SearchMode, SearchRequest

#: the usual RRF constant: damps the head of each ranking so neither list dominates
RRF_K = 60


def reciprocal_rank_fusion(rankings: Sequence[Sequence[int]], k: int = RRF_K) -> list[tuple[int, float]]:
    """Fuse ranked id lists: score(id) = sum over lists of 1 / (k + rank), best first."""
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    return sorted(scores.items(), key=lambda pair: (-pair[1], pair[0]))


class RankingSource(Protocol):
    """A store that can rank chunks by vector and by keywords, each on its own."""

    def dense_search(
        self, query: np.ndarray, k: int, allowed_ids: Sequence[int] | None = None
    ) -> list[tuple[int, float]]: ...

    def keyword_search(
        self, match: str, k: int, doc_ids: Sequence[str] | None = None
    ) -> list[tuple[int, float]]: ...

    def chunk_ids_for_docs(self, doc_ids: Sequence[str]) -> list[int]: ...

    def document_frequencies(self, terms: Iterable[str]) -> dict[str, int]: ...


def fused_search(
    source: RankingSource,
    requests: Sequence[SearchRequest],
    k: int,
    depth: int,
    doc_ids: Sequence[str] | None = None,
    mode: SearchMode = "hybrid",
) -> list[tuple[int, float]]:
    """Each request's dense and keyword rankings (`depth` deep), fused by RRF; the k best.

    A single ranking (one request in "dense" or "keyword" mode) keeps its own order, with
    cosine scores for dense and RRF-like scores for keyword results.
    """
    rankings: list[list[int]] = []
    dense_scores: dict[int, float] = {}
    allowed = source.chunk_ids_for_docs(doc_ids) if doc_ids is not None else None
    for vector, text in requests:
        if mode in ("hybrid", "dense") and vector is not None:
            dense = source.dense_search(vector, depth, allowed)
            for i, score in dense:
                dense_scores[i] = max(score, dense_scores.get(i, -1.0))
            rankings.append([i for i, _ in dense])
        if mode in ("hybrid", "keyword"):
            frequency = source.document_frequencies(stem(w) for w in words(text))
            match = fts_match_query(text, document_frequency=frequency)
            if match is not None:
                rankings.append([i for i, _ in source.keyword_search(match, depth, doc_ids)])
    if mode == "hybrid" or len(rankings) > 1:
        return reciprocal_rank_fusion(rankings)[:k]
    ranking = rankings[0] if rankings else []
    return [(i, dense_scores.get(i, 1.0 / (RRF_K + r))) for r, i in enumerate(ranking[:k], 1)]
