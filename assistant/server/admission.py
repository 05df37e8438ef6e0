"""Load shedding: refuse at once, with a 503 and `Retry-After`, what could only be answered late.

Past the rate the cores sustain, every extra request would only wait in the thread pool's line
and make every answer late (collapse). Each process holds at most `limit` questions. With a
target set, it also admits a question only while the answer it can expect is within `target_s`:
by Little's law a request admitted behind `held` others waits about `held / rate`, so the bound
is `target_s × rate`, where `rate` is what the process is getting done now (answers finished in
the last second, or each answer's `held / seconds` smoothed when the process is not kept busy).
The rate falls when anything else takes the cores (a load generator on the same machine, a
build), and the bound with it, so the admitted answers keep their latency. It never refuses
while a worker thread is free.

The middleware is the outermost one: a refusal is pre-rendered bytes and one counter, no
routing, timing or log line, so that under a flood the refusals do not take the cores the
admitted answers need (`assistant_shed_requests_total` counts them).
"""

from __future__ import annotations

import json
import math
import time
from collections import deque

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assistant.observability.metrics import SHED_REQUESTS

#: the routes that run the model and the index; everything else (health, UI, docs) is never shed
QUESTION_ROUTES = frozenset(
    {("POST", "/ask"), ("POST", "/ask/stream"), ("POST", "/search"), ("POST", "/v1/chat/completions")}
)
#: seconds a refused client is asked to wait; a queue drains in well under a second
RETRY_AFTER_S = 1
#: weight of the newest request in the smoothed rate (about the last 20 requests count)
RATE_SMOOTHING = 0.05
#: answers seen before the rate is trusted; until then only the hard limit applies
WARM_UP_ANSWERS = 20


class AdmissionMiddleware:
    """Admits a question while `held < max(threads, min(limit, target_s × rate))`.

    `limit` 0 turns shedding off; `target_s` 0 keeps only the hard `limit`.
    """

    def __init__(self, app: ASGIApp, limit: int, target_s: float = 0.0, threads: int = 1) -> None:
        self.app = app
        self.limit = limit
        self.target_s = target_s
        self.threads = threads
        self.held = 0  # one event loop per process: plain counters need no lock
        self.rate = 0.0  # answers per second this process is getting done (see _observe)
        self.answers = 0  # answers observed (only with a target)
        self.little = 0.0  # Little's law on each answer, smoothed
        self.finished: deque[float] = deque()  # when the answers of the last second finished
        body = json.dumps(
            {
                "detail": "The server is at capacity: an answer now would be late. Retry in "
                f"{RETRY_AFTER_S} s (ASSISTANT_QUEUE_LIMIT, ASSISTANT_QUEUE_TARGET_MS)"
            }
        ).encode()
        self._refusal_start = {
            "type": "http.response.start",
            "status": 503,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"retry-after", str(RETRY_AFTER_S).encode()),
            ],
        }
        self._refusal_body = {"type": "http.response.body", "body": body}

    def bound(self) -> int:
        """Questions this process may hold now."""
        if not self.target_s or self.answers < WARM_UP_ANSWERS:
            return self.limit
        return max(self.threads, min(self.limit, math.ceil(self.target_s * self.rate)))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or not self.limit
            or (scope["method"], scope["path"]) not in QUESTION_ROUTES
        ):
            await self.app(scope, receive, send)
            return
        if self.held >= self.bound():
            SHED_REQUESTS.inc()
            await send(dict(self._refusal_start))
            await send(self._refusal_body)
            return
        self.held += 1
        try:
            if self.target_s:
                await self._timed(scope, receive, send)
            else:  # only the count bound: nothing to measure
                await self.app(scope, receive, send)
        finally:
            self.held -= 1

    async def _timed(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run an admitted question and feed its time to the rate."""
        held = self.held
        started = time.perf_counter()
        status = 0

        async def receive_timed() -> Message:
            nonlocal started
            message = await receive()
            if message["type"] == "http.request" and not message.get("more_body"):
                started = time.perf_counter()  # a slow upload is the client's time, not ours
            return message

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        await self.app(scope, receive_timed, send_status)
        if status == 200:  # a quick 4xx says nothing about how fast answers come
            self._observe(held, time.perf_counter() - started)

    def _observe(self, held: int, seconds: float) -> None:
        """The rate: the answers finished in the last second, or, when that is less (the process
        is not kept busy, so it shows demand rather than capacity), Little's law on each answer
        (`held` requests were done in about `seconds`), smoothed."""
        sample = held / max(seconds, 1e-4)
        self.little = sample if not self.answers else self.little + RATE_SMOOTHING * (sample - self.little)
        self.answers += 1
        now = time.perf_counter()
        self.finished.append(now)
        while self.finished[0] < now - 1.0:
            self.finished.popleft()
        self.rate = max(self.little, float(len(self.finished)))
