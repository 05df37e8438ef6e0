"""A candidate answer sentence: what the composer collects and the features describe."""

from __future__ import annotations

from dataclasses import dataclass

from assistant.store import SentenceRow


@dataclass(slots=True)
class Candidate:
    """A sentence of the retrieved passages; `score` is the learned selector's logit."""

    row: SentenceRow
    chunk_id: str
    text: str
    similarity: float
    coverage: float
    fits_type: bool
    terms: frozenset[str] = frozenset()
    score: float = 0.0
