"""Hybrid retrieval over any store: dense and keyword rankings fused by reciprocal rank."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from assistant.retrieval.expansion import expanded
from assistant.store import ChunkRow, ReadView, SearchMode, SearchRequest

#: each ranking is read this many times deeper than top_k before fusing
DEPTH_FACTOR = 4
MIN_DEPTH = 30


@dataclass(slots=True)
class RetrievedChunk:
    """A chunk from hybrid retrieval with its fused score."""

    row: ChunkRow
    score: float


def retrieve(
    view: ReadView,
    queries: Sequence[SearchRequest],
    top_k: int,
    doc_ids: Sequence[str] | None = None,
    mode: SearchMode = "hybrid",
    sets: Sequence[str] | None = None,
    expand: bool = False,
) -> list[RetrievedChunk]:
    """The top_k chunks for one or more (vector, text) forms of a query, all rankings fused.

    Several forms serve conversations: the question alone and the question with earlier turns.
    `doc_ids` restricts the search to those documents, `sets` to the documents in any of them
    (inside the store's search, so the top_k stay exact). How the rankings are made and fused is
    the store's business (RRF in Python for the embedded store, Milvus's own RRF ranker).
    `expand` (hybrid mode only) adds the first form's dense top passages' salient words to its
    keyword text when the question is worded apart from them (see expansion.py).
    """
    depth = max(top_k * DEPTH_FACTOR, MIN_DEPTH)
    if expand and mode == "hybrid" and queries:
        queries = [expanded(view, queries[0], doc_ids, sets), *queries[1:]]
    fused = view.search(queries, top_k, depth, doc_ids, mode, sets)
    rows = view.chunks([i for i, _ in fused])
    return [RetrievedChunk(rows[i], score) for i, score in fused if i in rows]
