"""Hybrid retrieval: dense (FAISS) and keyword (FTS5 BM25) rankings fused by reciprocal rank."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from assistant.lexical import fts_match_query, stem, words
from assistant.store import ChunkRow, Snapshot

SearchMode = Literal["hybrid", "dense", "keyword"]

#: the usual RRF constant: damps the head of each ranking so neither list dominates
RRF_K = 60
#: each ranking is read this many times deeper than top_k before fusing
DEPTH_FACTOR = 4
MIN_DEPTH = 30


@dataclass(slots=True)
class RetrievedChunk:
    """A chunk from hybrid retrieval with its fused score."""

    row: ChunkRow
    score: float


def reciprocal_rank_fusion(rankings: Sequence[Sequence[int]], k: int = RRF_K) -> list[tuple[int, float]]:
    """Fuse ranked id lists: score(id) = sum over lists of 1 / (k + rank), best first."""
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    return sorted(scores.items(), key=lambda pair: (-pair[1], pair[0]))


def retrieve(
    snapshot: Snapshot,
    queries: Sequence[tuple[np.ndarray | None, str]],
    top_k: int,
    doc_ids: Sequence[str] | None = None,
    mode: SearchMode = "hybrid",
) -> list[RetrievedChunk]:
    """The top_k chunks for one or more (vector, text) forms of a query, all rankings fused.

    Several forms serve conversations: the question alone and the question with earlier turns.
    `doc_ids` restricts the search to those documents.
    """
    depth = max(top_k * DEPTH_FACTOR, MIN_DEPTH)
    rankings: list[list[int]] = []
    dense_scores: dict[int, float] = {}
    allowed = snapshot.chunk_ids_for_docs(doc_ids) if doc_ids is not None else None
    for query_vector, query_text in queries:
        if mode in ("hybrid", "dense") and query_vector is not None:
            dense = snapshot.dense_search(query_vector, depth, allowed)
            for i, score in dense:
                dense_scores[i] = max(score, dense_scores.get(i, -1.0))
            rankings.append([i for i, _ in dense])
        if mode in ("hybrid", "keyword"):
            frequency = snapshot.document_frequencies(stem(w) for w in words(query_text))
            match = fts_match_query(query_text, document_frequency=frequency)
            if match is not None:
                rankings.append([i for i, _ in snapshot.keyword_search(match, depth, doc_ids)])
    if mode == "hybrid" or len(rankings) > 1:
        fused = reciprocal_rank_fusion(rankings)[:top_k]
    else:
        ranking = rankings[0] if rankings else []
        fused = [(i, dense_scores.get(i, 1.0 / (RRF_K + r))) for r, i in enumerate(ranking, 1)]
        fused = fused[:top_k]
    rows = snapshot.chunks([i for i, _ in fused])
    return [RetrievedChunk(rows[i], score) for i, score in fused if i in rows]
