"""Load shedding: a bound on the questions a serving process holds, with a fast 503 beyond it.

Past the rate the cores sustain, every extra request would only wait in the thread pool's
line and make every answer late (collapse). Refusing at once what is over the bound keeps the
admitted requests' latency, and tells the client when to come back (`Retry-After`).

Two bounds, either may be off: a count (`ASSISTANT_QUEUE_LIMIT`), and a wait
(`ASSISTANT_QUEUE_WAIT_TARGET_MS`): the questions already held divided by the answers this
process finished in the last second, the wait a new question would have. A count suits a
known machine; the wait follows the rate actually served, which falls when something else
takes the cores.
"""

from __future__ import annotations

import time
from collections import deque

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

#: the routes that run the model and the index; everything else (health, UI, docs) is never shed
QUESTION_ROUTES = frozenset(
    {("POST", "/ask"), ("POST", "/ask/stream"), ("POST", "/search"), ("POST", "/v1/chat/completions")}
)
#: seconds a refused client is asked to wait; a queue drains in well under a second
RETRY_AFTER_S = 1
#: the answer rate is the questions finished over this many seconds
RATE_WINDOW_S = 1.0
#: fewer finished questions than this in the window: no rate yet, so no wait bound (a burst
#: after a quiet spell is admitted up to the count bound)
MIN_FINISHED = 20


class AdmissionMiddleware:
    """At most `limit` question requests in progress or queued in this process (0: no bound),
    and none whose expected wait exceeds `wait_target_ms` (0: no wait bound)."""

    def __init__(self, app: ASGIApp, limit: int, wait_target_ms: int = 0) -> None:
        self.app = app
        self.limit = limit
        self.wait_target_s = wait_target_ms / 1000
        self.held = 0  # one event loop per process: plain counters need no lock
        self.finished: deque[float] = deque()

    def expected_wait_s(self, now: float) -> float | None:
        """Seconds the held questions take at the rate of the last window (None: no rate yet)."""
        while self.finished and now - self.finished[0] > RATE_WINDOW_S:
            self.finished.popleft()
        if len(self.finished) < MIN_FINISHED:
            return None
        return self.held / (len(self.finished) / RATE_WINDOW_S)

    def refusal(self, now: float) -> str | None:
        """Why a new question is refused now, or None to admit it."""
        if self.limit and self.held >= self.limit:
            return (
                f"The server is at capacity ({self.limit} questions in progress or waiting); "
                f"retry in {RETRY_AFTER_S} s (ASSISTANT_QUEUE_LIMIT)"
            )
        wait = self.expected_wait_s(now) if self.wait_target_s else None
        if wait is not None and wait > self.wait_target_s:
            return (
                f"The server is busy (the questions ahead would take about {wait * 1000:.0f} ms); "
                f"retry in {RETRY_AFTER_S} s (ASSISTANT_QUEUE_WAIT_TARGET_MS)"
            )
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or not (self.limit or self.wait_target_s)
            or (scope["method"], scope["path"]) not in QUESTION_ROUTES
        ):
            await self.app(scope, receive, send)
            return
        reason = self.refusal(time.monotonic())
        if reason is not None:
            response = JSONResponse(
                {"detail": reason}, status_code=503, headers={"Retry-After": str(RETRY_AFTER_S)}
            )
            await response(scope, receive, send)
            return
        self.held += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.held -= 1
            self.finished.append(time.monotonic())
