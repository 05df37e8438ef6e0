"""The composer seam: what a composer is given, what it returns, and the events it may stream."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

from assistant.models import Answer, Passage
from assistant.retrieval.hybrid import RetrievedChunk

if TYPE_CHECKING:
    from assistant.store import ReadView


@dataclass(slots=True)
class ComposeContext:
    """Everything a composer may use: the question, its vector, the passages and the snapshot."""

    question: str
    query_text: str
    query_vector: np.ndarray
    chunks: list[RetrievedChunk]
    snapshot: ReadView
    passages: list[Passage] = field(default_factory=list)
    #: searches again with another query text (same question, filters and depth), for a second
    #: hop; None where the caller offers no second search
    search_again: Callable[[str], ComposeContext | None] | None = None


@dataclass(frozen=True, slots=True)
class AnswerDelta:
    """A piece of answer text, sent as soon as it is known (markers already resolved)."""

    text: str


@dataclass(frozen=True, slots=True)
class AnswerReady:
    """The finished Answer; always the last event. Its text is authoritative: after a fallback
    it is not the concatenation of the deltas, and a client shows it in their place."""

    answer: Answer


StreamEvent = AnswerDelta | AnswerReady


class Composer(Protocol):
    """Turns retrieved passages into an Answer whose citations slice the stored text exactly."""

    name: str

    def compose(self, context: ComposeContext, abstain_threshold: float) -> Answer: ...


@runtime_checkable
class StreamingComposer(Composer, Protocol):
    """A composer that can also yield its answer piece by piece as it is produced."""

    def stream(self, context: ComposeContext, abstain_threshold: float) -> Iterator[StreamEvent]: ...
