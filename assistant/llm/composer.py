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
from typing import Any, Literal

from langchain_core.language_models import BaseChatModel

from assistant.answering import ComposeContext, Composer, abstention
from assistant.llm.citations import CitationResolver, Embed
from assistant.llm.prompt import build_messages, says_not_in_documents
from assistant.llm.reply import deadline_after, reply_pieces
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
        answer: Answer | None = None
        for event in self._run(context, abstain_threshold, streaming=False):
            if event["type"] == "answer":
                answer = event["answer"]
        assert answer is not None
        return answer

    def stream(self, context: ComposeContext, abstain_threshold: float) -> Iterator[dict[str, Any]]:
        """{"type": "delta"} events as tokens arrive (markers already resolved), then
        {"type": "answer"}. The answer event is authoritative: after a fallback its text is not
        the concatenation of the deltas, and a client must show it in their place."""
        yield from self._run(context, abstain_threshold, streaming=True)

    def _run(
        self, context: ComposeContext, abstain_threshold: float, streaming: bool
    ) -> Iterator[dict[str, Any]]:
        if not context.chunks:  # nothing to cite: no reason to ask the model
            yield {"type": "answer", "answer": self.fallback.compose(context, abstain_threshold)}
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
                        yield {"type": "delta", "text": text}
            if not received:
                raise MalformedReplyError("the model returned an empty reply")
            if text := resolver.finish():
                yield {"type": "delta", "text": text}
            answer = self._checked(context, resolver, abstain_threshold)
        except Exception as exc:  # the contract: a failing model never fails the request
            log.warning(
                "LLM composer failed after %.2fs (%s: %s); answering with the extractive composer",
                time.monotonic() - started,
                type(exc).__name__,
                exc,
            )
            answer = self.fallback.compose(context, abstain_threshold)
        yield {"type": "answer", "answer": answer}

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
        )
