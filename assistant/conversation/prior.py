"""A bounded retrieval prior for a follow-up: the documents the previous answer cited."""

from __future__ import annotations

from collections.abc import Sequence

from assistant.retrieval.hybrid import RetrievedChunk

#: at most this many chunks of the previously cited documents join a follow-up's top_k
PRIOR_CHUNKS = 2


def prior_doc_ids(cited: Sequence[str], allowed: Sequence[str] | None) -> list[str]:
    """The cited documents the caller may search (a filter still restricts the prior)."""
    return [d for d in cited if allowed is None or d in allowed]


def with_prior(
    chunks: list[RetrievedChunk], prior: list[RetrievedChunk], top_k: int, slots: int = PRIOR_CHUNKS
) -> list[RetrievedChunk]:
    """`chunks` with up to `slots` of the best `prior` chunks it lacks, in place of its weakest.

    Bounded both ways: a follow-up keeps at least top_k - slots of its own hits, and the prior
    never pushes a chunk it already has up or down.
    """
    have = {(c.row.doc_id, c.row.ord) for c in chunks}
    extra = [c for c in prior if (c.row.doc_id, c.row.ord) not in have][:slots]
    if not extra:
        return chunks
    keep = chunks[: max(top_k - len(extra), top_k - slots, 0)]
    floor = keep[-1].score if keep else 0.0
    return keep + [RetrievedChunk(c.row, min(c.score, floor)) for c in extra]
