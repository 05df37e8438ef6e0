"""A small website on 127.0.0.1 for the web source's tests: pages a test may change or remove."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Site:
    """Routes path -> (status, content type, body); `not_modified` counts 304 answers."""

    base: str = ""
    routes: dict[str, tuple[int, str, bytes]] = field(default_factory=dict)
    redirects: dict[str, str] = field(default_factory=dict)
    not_modified: int = 0
    requests: list[str] = field(default_factory=list)

    def page(self, path: str, title: str, *paragraphs: str, links: tuple[str, ...] = ()) -> None:
        body = "".join(f"<p>{p}</p>" for p in paragraphs)
        anchors = "".join(f'<li><a href="{link}">{link}</a></li>' for link in links)
        html = (
            f"<html><head><title>{title}</title></head><body><nav><ul>{anchors}</ul></nav>"
            f"<article><h1>{title}</h1>{body}</article><footer>Site footer</footer></body></html>"
        )
        self.routes[path] = (200, "text/html; charset=utf-8", html.encode())


@contextmanager
def serve_site() -> Iterator[Site]:
    site = Site()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            site.requests.append(self.path)
            if self.path in site.redirects:
                self.send_response(302)
                self.send_header("Location", site.redirects[self.path])
                self.end_headers()
                return
            status, kind, body = site.routes.get(self.path, (404, "text/plain", b"not found"))
            etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
            if status == 200 and self.headers.get("If-None-Match") == etag:
                site.not_modified += 1
                self.send_response(304)
                self.end_headers()
                return
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            if status == 200:
                self.send_header("ETag", etag)
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    site.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()
