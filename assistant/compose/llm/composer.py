"""The LLM composer: the model writes the answer, the citation checker decides whether it stands.

The model sees the retrieved passages numbered [1]..[k] and must cite them. Its reply is never
trusted: markers are checked and resolved to exact sentence quotes as the text arrives (see
citations.py), and the reply is replaced when it cannot be used:
- no valid marker, or it says the answer is not in the documents -> ASSISTANT_LLM_FALLBACK
  decides: the extractive answer (default) or an abstention;
- a timeout (the whole reply must arrive within ASSISTANT_LLM_TIMEOUT), a connection error, an
  HTTP error or a malformed or empty response -> the extractive answer, always; logged, never raised.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Iterator
from contextlib import closing
from typing import Literal

from langchain_core.language_models import BaseChatModel

from assistant.compose.extractive import abstention, passages_confidence
from assistant.compose.llm.citations import CitationResolver, Embed
from assistant.compose.llm.prompt import build_messages, says_not_in_documents
from assistant.compose.llm.reply import deadline_after, reply_pieces
from assistant.compose.seam import AnswerDelta, AnswerReady, ComposeContext, Composer, StreamEvent
from assistant.models import Answer

log = logging.getLogger(__name__)

_CONTRACT_MARKER = re.compile(r"\[(\d+)\]")


class MalformedReplyError(ValueError):
    """The model answered, but with nothing usable (empty text, broken markers)."""


class LLMComposer:
    """Answers written by a LangChain chat model, with citations checked against the passages."""

    name = "llm"

    def __init__(
        self,
        model: BaseChatModel,
        fallback: Composer,
        timeout: float,
        on_unsupported: Literal["extractive", "abstain"] = "extractive",
        embed: Embed | None = None,
    ) -> None:
        self.model = model
        self.fallback = fallback
        self.timeout = timeout
        self.on_unsupported = on_unsupported
        self.embed = embed

    def compose(self, context: ComposeContext, abstain_threshold: float) -> Answer:
        """One non-streaming model call; the checked answer or a fallback, never an exception."""
        for event in self._run(context, abstain_threshold, streaming=False):
            if isinstance(event, AnswerReady):
                return event.answer
        raise AssertionError("the LLM composer produced no answer")

    def stream(self, context: ComposeContext, abstain_threshold: float) -> Iterator[StreamEvent]:
        """AnswerDelta events as tokens arrive (markers already resolved), then AnswerReady."""
        yield from self._run(context, abstain_threshold, streaming=True)

    def _run(
        self, context: ComposeContext, abstain_threshold: float, streaming: bool
    ) -> Iterator[StreamEvent]:
        if not context.chunks:  # nothing to cite: no reason to ask the model
            yield AnswerReady(self.fallback.compose(context, abstain_threshold))
            return
        started = time.monotonic()
        resolver = CitationResolver(context, self.embed)
        try:
            titles = {p.doc_id: p.title for p in context.passages}
            messages = build_messages(context.question, context.chunks, titles)
            pieces = reply_pieces(self.model, messages, streaming, deadline_after(self.timeout))
            received = False
            with closing(pieces):
                for piece in pieces:
                    received = received or bool(piece.strip())
                    if text := resolver.feed(piece):
                        yield AnswerDelta(text)
            if not received:
                raise MalformedReplyError("the model returned an empty reply")
            if text := resolver.finish():
                yield AnswerDelta(text)
            answer = self._checked(context, resolver, abstain_threshold)
        except Exception as exc:  # the contract: a failing model never fails the request
            log.warning(
                "LLM composer failed after %.2fs (%s: %s); answering with the extractive composer",
                time.monotonic() - started,
                type(exc).__name__,
                exc,
            )
            answer = self.fallback.compose(context, abstain_threshold)
        yield AnswerReady(answer)

    def _checked(self, context: ComposeContext, resolver: CitationResolver, threshold: float) -> Answer:
        text = resolver.text
        if resolver.invalid_markers:
            log.info("dropped %d markers that name no passage", resolver.invalid_markers)
        reason = None
        if not resolver.citations:
            reason = "no marker names a passage"
        elif says_not_in_documents(text):
            reason = "the model says the documents do not answer"
        if reason is not None:
            log.info("LLM answer unsupported (%s); falling back to %s", reason, self.on_unsupported)
            if self.on_unsupported == "abstain":
                answer = abstention(context)
                answer.composer = "llm"
                return answer
            return self.fallback.compose(context, threshold)
        used = {int(n) for n in _CONTRACT_MARKER.findall(text)}
        if used != {c.marker for c in resolver.citations}:
            raise MalformedReplyError("the reply's markers do not match its citations")
        return Answer(
            id=uuid.uuid4().hex,
            question=context.question,
            answer=text,
            abstained=False,
            citations=resolver.citations,
            passages=context.passages,
            composer="llm",
            # the same calibrated chance that these passages answer, so the answer is marked
            # tentative by the same policy as an extractive one
            confidence=passages_confidence(context),
        )
