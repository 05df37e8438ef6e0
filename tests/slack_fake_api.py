"""A local stand-in for the Slack Web API (and response_url, and Socket Mode) on 127.0.0.1.

It is a real HTTP server (FastAPI under uvicorn in a thread) that answers like Slack does for the
methods the bot uses, keeps per-thread message history for `conversations.replies`, and records
every call so tests can assert on what the bot sent.
"""

from __future__ import annotations

import itertools
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse, PlainTextResponse

TEAM_ID = "T0TEST0001"
BOT_USER_ID = "U0BOT00001"
BOT_ID = "B0BOT00001"
BOT_TOKEN = "xoxb-test-bot-token-0001"
APP_TOKEN = "xapp-1-test-app-token-0001"


@dataclass
class Call:
    """One recorded request: a Web API method, a response_url post, or a Socket Mode message."""

    method: str
    params: dict[str, Any]
    token: str | None = None
    at: float = field(default_factory=time.monotonic)


class FakeSlack:
    """State and recordings of the stand-in; `app` is the ASGI app to serve."""

    def __init__(self, bot_token: str = BOT_TOKEN, app_token: str = APP_TOKEN) -> None:
        self.bot_token = bot_token
        self.app_token = app_token
        self.calls: list[Call] = []
        self.base_url = ""  # set once served
        self.fail_methods: dict[str, str] = {}  # method -> Slack error code to return
        self._lock = threading.Lock()
        self._ts = itertools.count(1)
        self._threads: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self._reactions: set[tuple[str, str, str]] = set()
        self.socket_outbox: list[dict[str, Any]] = []  # envelopes sent to the next socket client
        self.app = self._build_app()

    # ------------------------------------------------------------------ test helpers
    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api/"

    def response_url(self, name: str) -> str:
        return f"{self.base_url}/response/{name}"

    def next_ts(self) -> str:
        return f"{int(time.time())}.{next(self._ts):06d}"

    def add_thread_message(self, channel: str, thread_ts: str, message: dict[str, Any]) -> None:
        """Seed history that `conversations.replies` returns (e.g. the user's earlier messages)."""
        with self._lock:
            self._threads.setdefault((channel, thread_ts), []).append(dict(message))

    def calls_to(self, method: str) -> list[Call]:
        with self._lock:
            return [call for call in self.calls if call.method == method]

    def wait_for(
        self,
        method: str,
        count: int = 1,
        timeout: float = 30.0,
        where: Callable[[Call], bool] | None = None,
    ) -> list[Call]:
        """Poll until `count` matching calls were recorded; returns them (raises on timeout)."""
        deadline = time.monotonic() + timeout
        while True:
            matching = [c for c in self.calls_to(method) if where is None or where(c)]
            if len(matching) >= count:
                return matching
            if time.monotonic() > deadline:
                seen = [c.method for c in self.calls]
                raise AssertionError(
                    f"expected {count} {method} call(s) within {timeout}s, got {len(matching)}; "
                    f"calls so far: {seen}"
                )
            time.sleep(0.05)

    def reactions_on(self, channel: str, ts: str) -> set[str]:
        with self._lock:
            return {name for (ch, t, name) in self._reactions if ch == channel and t == ts}

    # ------------------------------------------------------------------ the server
    def _record(self, method: str, params: dict[str, Any], token: str | None) -> None:
        with self._lock:
            self.calls.append(Call(method=method, params=params, token=token))

    def _build_app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/api/{method}")
        async def web_api(method: str, request: Request) -> JSONResponse:
            params = await _read_params(request)
            token = _bearer(request) or params.pop("token", None)
            self._record(method, params, token)
            return JSONResponse(self._answer(method, params, token))

        @app.post("/response/{name}")
        async def response_url(name: str, request: Request) -> PlainTextResponse:
            self._record("response_url", {"name": name, **json.loads(await request.body())}, None)
            return PlainTextResponse("ok")

        @app.websocket("/socket")
        async def socket_mode(websocket: WebSocket) -> None:
            await websocket.accept()
            await websocket.send_text(json.dumps({"type": "hello", "num_connections": 1}))
            with self._lock:
                outbox, self.socket_outbox = self.socket_outbox, []
            for envelope in outbox:
                await websocket.send_text(json.dumps(envelope))
            try:
                while True:
                    message = await websocket.receive_text()
                    self._record("socket_ack", json.loads(message), None)
            except WebSocketDisconnect:
                return

        return app

    def _answer(self, method: str, params: dict[str, Any], token: str | None) -> dict[str, Any]:
        expected = self.app_token if method == "apps.connections.open" else self.bot_token
        if token != expected:
            return {"ok": False, "error": "invalid_auth"}
        if method in self.fail_methods:
            return {"ok": False, "error": self.fail_methods[method]}
        handler = getattr(self, "_api_" + method.replace(".", "_"), None)
        if handler is None:
            return {"ok": False, "error": "unknown_method"}
        return handler(params)

    def _api_auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": "https://test-team.slack.com/",
            "team": "Test Team",
            "user": "assistant",
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _api_chat_postMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = params.get("channel")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        if not params.get("text") and not params.get("blocks"):
            return {"ok": False, "error": "no_text"}
        ts = self.next_ts()
        message = {
            "type": "message",
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "text": params.get("text", ""),
            "ts": ts,
        }
        thread_ts = params.get("thread_ts")
        if thread_ts:
            message["thread_ts"] = thread_ts
            self.add_thread_message(channel, thread_ts, message)
        return {"ok": True, "channel": channel, "ts": ts, "message": message}

    def _api_chat_postEphemeral(self, params: dict[str, Any]) -> dict[str, Any]:
        if not params.get("channel") or not params.get("user"):
            return {"ok": False, "error": "channel_not_found"}
        return {"ok": True, "message_ts": self.next_ts()}

    def _api_reactions_add(self, params: dict[str, Any]) -> dict[str, Any]:
        key = (params.get("channel", ""), params.get("timestamp", ""), params.get("name", ""))
        with self._lock:
            if key in self._reactions:
                return {"ok": False, "error": "already_reacted"}
            self._reactions.add(key)
        return {"ok": True}

    def _api_reactions_remove(self, params: dict[str, Any]) -> dict[str, Any]:
        key = (params.get("channel", ""), params.get("timestamp", ""), params.get("name", ""))
        with self._lock:
            if key not in self._reactions:
                return {"ok": False, "error": "no_reaction"}
            self._reactions.discard(key)
        return {"ok": True}

    def _api_conversations_replies(self, params: dict[str, Any]) -> dict[str, Any]:
        key = (params.get("channel", ""), params.get("ts", ""))
        with self._lock:
            messages = sorted(self._threads.get(key, []), key=lambda m: float(m["ts"]))
        if not messages:
            return {"ok": False, "error": "thread_not_found"}
        return {"ok": True, "messages": messages, "has_more": False}

    def _api_apps_connections_open(self, params: dict[str, Any]) -> dict[str, Any]:
        ws_base = self.base_url.replace("http://", "ws://", 1)
        return {"ok": True, "url": f"{ws_base}/socket"}


async def _read_params(request: Request) -> dict[str, Any]:
    """Slack's SDK sends JSON for some methods and form fields for others; accept both."""
    if request.headers.get("content-type", "").startswith("application/json"):
        body = await request.body()
        return dict(json.loads(body)) if body else {}
    form = await request.form()
    params: dict[str, Any] = {}
    for key, value in form.items():
        params[key] = _maybe_json(value) if key in {"blocks", "attachments"} else value
    for key, value in request.query_params.items():
        params.setdefault(key, value)
    return params


def _maybe_json(value: Any) -> Any:
    try:
        return json.loads(value)
    except (TypeError, ValueError):
        return value


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    return header.split(" ", 1)[1] if header.lower().startswith("bearer ") else None


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """Serve an ASGI app with uvicorn on a free 127.0.0.1 port in a thread; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("test server failed to start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@contextmanager
def fake_slack() -> Iterator[FakeSlack]:
    """A served FakeSlack whose `base_url` points at itself."""
    fake = FakeSlack()
    with serve(fake.app) as base_url:
        fake.base_url = base_url
        yield fake


__all__ = [
    "APP_TOKEN",
    "BOT_ID",
    "BOT_TOKEN",
    "BOT_USER_ID",
    "TEAM_ID",
    "Call",
    "FakeSlack",
    "fake_slack",
    "serve",
]
