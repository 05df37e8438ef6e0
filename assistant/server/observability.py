"""Per-request bookkeeping: the request id (header, log context), the latency histogram and the
audit line (who asked, which route, the status, the documents returned)."""

from __future__ import annotations

import time

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assistant.observability.audit import collecting, write_audit
from assistant.observability.logs import REQUEST_ID, request_id_for
from assistant.observability.metrics import REQUEST_SECONDS

REQUEST_ID_HEADER = "X-Request-ID"
#: requests that matched no route share one label, so random paths cannot grow the series
UNMATCHED_ROUTE = "unmatched"
#: where a route's access dependency leaves the caller's key name (never the key) in the scope state
CALLER_STATE = "caller_name"


class ObservabilityMiddleware:
    """Outermost middleware: every response carries X-Request-ID, is timed by route template and
    gets one audit line."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._observe(scope, receive, send)
        else:  # lifespan and websockets pass through untouched
            await self.app(scope, receive, send)

    async def _observe(self, scope: Scope, receive: Receive, send: Send) -> None:
        request_id = request_id_for(Headers(scope=scope).get(REQUEST_ID_HEADER))
        token = REQUEST_ID.set(request_id)
        started = time.perf_counter()
        status = 500  # what the client sees when the app raises before answering

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        with collecting() as doc_ids:
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                route = _route_template(scope)
                REQUEST_SECONDS.labels(route=route, method=scope["method"], status=str(status)).observe(
                    time.perf_counter() - started
                )
                _audit(scope, route, status, doc_ids)
                REQUEST_ID.reset(token)


def _audit(scope: Scope, route: str, status: int, doc_ids: list[str]) -> None:
    """One audit line per request (observability/audit.py)."""
    state = scope.get("state") or {}
    write_audit(state.get(CALLER_STATE), scope["method"], route, status, doc_ids)


def _route_template(scope: Scope) -> str:
    """`/documents/{doc_id}`, not the raw path; the router leaves the matched route in the scope."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) and path else UNMATCHED_ROUTE
