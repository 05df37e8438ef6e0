"""Run one chat-model call under a deadline for the whole reply, not just each network read.

The call runs on a worker thread that hands pieces of the reply over a queue; the caller waits
at most until the deadline, so a server that stalls (before the first byte or mid-stream) costs
the user no more than ASSISTANT_LLM_TIMEOUT. The client's own timeout (the same value) ends
the abandoned worker soon after.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Generator, Sequence
from queue import Empty, Queue
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage


class ReplyTimeoutError(TimeoutError):
    """The model did not finish its reply before the deadline."""


def reply_pieces(
    model: BaseChatModel, messages: Sequence[BaseMessage], streaming: bool, deadline: float
) -> Generator[str, None, None]:
    """The reply's text in pieces (token chunks when streaming, one piece otherwise).

    Raises ReplyTimeoutError once `deadline` (a time.monotonic() value) passes, and re-raises
    whatever the model call raised (HTTP errors, malformed responses).
    """
    queue: Queue[tuple[str, Any]] = Queue()
    stop = threading.Event()

    def work() -> None:
        try:
            if streaming:
                chunks = model.stream(list(messages))
                try:
                    for chunk in chunks:
                        if stop.is_set():
                            return
                        queue.put(("text", chunk.text))
                finally:
                    chunks.close()  # type: ignore[attr-defined]
            else:
                queue.put(("text", model.invoke(list(messages)).text))
        except BaseException as exc:  # handed to the caller, which decides
            queue.put(("error", exc))
        finally:
            queue.put(("end", None))

    threading.Thread(target=work, name="llm-reply", daemon=True).start()
    try:
        while True:
            # pieces that arrived before the deadline count even if we were slow to take them
            remaining = max(deadline - time.monotonic(), 0.0)
            try:
                kind, value = queue.get(timeout=remaining)
            except Empty:
                raise ReplyTimeoutError("the model did not finish its reply in time") from None
            if kind == "error":
                raise value
            if kind == "end":
                return
            if value:
                yield str(value)
    finally:
        stop.set()


def deadline_after(seconds: float) -> float:
    return time.monotonic() + seconds
