"""A real HTTP server on 127.0.0.1 speaking the OpenAI chat-completions API with scripted replies.

Tests queue `Reply` objects; each POST to /v1/chat/completions takes the next one and answers as
the API would: one JSON completion, or server-sent events (`data: {chunk}` ... `data: [DONE]`)
when the request asks for `"stream": true`. A reply can be late, fail with a status, or send a
raw body instead of a completion. Every request is recorded for assertions.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True, slots=True)
class Reply:
    """One scripted response."""

    text: str = ""
    status: int = 200
    delay: float = 0.0  # seconds before the response starts
    chunk_delay: float = 0.0  # seconds between streamed chunks
    chunk_chars: int = 3  # streamed pieces this long, so markers arrive split across chunks
    raw_body: str | None = None  # sent as-is (with a JSON content type) instead of a completion


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


class OpenAIStub:
    """Start with `with OpenAIStub() as stub:`; `stub.base_url` is what ASSISTANT_LLM_BASE_URL takes."""

    def __init__(self) -> None:
        self._replies: deque[Reply] = deque()
        self._lock = threading.Lock()
        self.requests: list[RecordedRequest] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="openai-stub", daemon=True)

    @property
    def base_url(self) -> str:
        port = self._server.server_address[1]
        return f"http://127.0.0.1:{port}/v1"

    def script(self, *replies: Reply) -> None:
        """Replace the queue: the next requests get these replies, in order."""
        with self._lock:
            self._replies = deque(replies)
            self.requests = []

    def next_reply(self) -> Reply | None:
        with self._lock:
            return self._replies.popleft() if self._replies else None

    def record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def __enter__(self) -> OpenAIStub:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def _handler_for(stub: OpenAIStub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            stub.record(RecordedRequest(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            if not self.path.endswith("/chat/completions"):
                self._json(404, _error(f"no route {self.path}"))
                return
            reply = stub.next_reply()
            if reply is None:
                self._json(500, _error("no scripted reply left"))
                return
            try:
                time.sleep(reply.delay)
                if reply.status != 200:
                    self._json(reply.status, _error("scripted failure"))
                elif reply.raw_body is not None:
                    self._send(200, "application/json", reply.raw_body.encode())
                elif body.get("stream"):
                    self._stream(reply, str(body.get("model", "")))
                else:
                    self._json(200, _completion(reply.text, str(body.get("model", ""))))
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test); nothing to do

        def _json(self, status: int, payload: dict[str, Any]) -> None:
            self._send(status, "application/json", json.dumps(payload).encode())

        def _send(self, status: int, content_type: str, data: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _stream(self, reply: Reply, model: str) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.end_headers()  # HTTP/1.0: the body ends when the connection closes
            text = reply.text
            pieces = [text[i : i + reply.chunk_chars] for i in range(0, len(text), reply.chunk_chars)]
            for index, piece in enumerate(pieces):
                delta = {"role": "assistant", "content": piece} if index == 0 else {"content": piece}
                self._event(_chunk(model, delta, None))
                time.sleep(reply.chunk_delay)
            self._event(_chunk(model, {}, "stop"))
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()

        def _event(self, payload: dict[str, Any]) -> None:
            self.wfile.write(f"data: {json.dumps(payload)}\n\n".encode())
            self.wfile.flush()

    return Handler


def _error(message: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": "server_error"}}


def _completion(text: str, model: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-stub",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


def _chunk(model: str, delta: dict[str, Any], finish_reason: str | None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-stub",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
    }
