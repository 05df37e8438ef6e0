"""Load shedding: a bound on the questions a serving process holds, with a fast 503 beyond it.

Past the rate the cores sustain, every extra request would only wait in the thread pool's
line and make every answer late (collapse). Refusing at once what is over the bound keeps the
admitted requests' latency, and tells the client when to come back (`Retry-After`).
"""

from __future__ import annotations

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

#: the routes that run the model and the index; everything else (health, UI, docs) is never shed
QUESTION_ROUTES = frozenset(
    {("POST", "/ask"), ("POST", "/ask/stream"), ("POST", "/search"), ("POST", "/v1/chat/completions")}
)
#: seconds a refused client is asked to wait; a queue drains in well under a second
RETRY_AFTER_S = 1


class AdmissionMiddleware:
    """At most `limit` question requests in progress or queued in this process (0: no bound)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit
        self.held = 0  # one event loop per process: a plain counter needs no lock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or not self.limit
            or (scope["method"], scope["path"]) not in QUESTION_ROUTES
        ):
            await self.app(scope, receive, send)
            return
        if self.held >= self.limit:
            response = JSONResponse(
                {
                    "detail": f"The server is at capacity ({self.limit} questions in progress or "
                    f"waiting); retry in {RETRY_AFTER_S} s (ASSISTANT_QUEUE_LIMIT)"
                },
                status_code=503,
                headers={"Retry-After": str(RETRY_AFTER_S)},
            )
            await response(scope, receive, send)
            return
        self.held += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.held -= 1
