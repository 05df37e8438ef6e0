"""Helpers shared by the integration tests: servers on loopback, uploads, the Answer contract."""

from __future__ import annotations

import json
import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from assistant.core import Assistant
from assistant.models import Answer, DocumentRecord
from assistant.server import create_app
from assistant.settings import Settings
from tests.conftest import REPO_ROOT

#: a small document whose facts the sample corpus does not hold (uploads, auth, new documents)
SURVEY_NAME = "harbour-lighting-survey.txt"
SURVEY_DOC = "harbour-lighting-survey"
SURVEY_TEXT = (
    "Harbour Lighting Survey\n\n"
    "The Harbour Lighting Survey was completed by the Port of Valmora in March 2024. "
    "The survey found that 412 lamp posts along the northern quay needed new fittings. "
    "The replacement work is funded by a municipal bond of 3.2 million euros.\n"
)
SURVEY_QUESTION = "How many lamp posts along the northern quay needed new fittings?"

_MARKER = re.compile(r"\[(\d+)\]")

#: planted only in the document of the `hr` set (also in its file name, so in its doc_id)
ACCESS_MARKER = "zorblax"
SECRET_DOC = f"{ACCESS_MARKER}-salaries"
ACCESS_QUESTION = "What is the salary band for engineers?"
ACCESS_DOCS = {
    "pub/handbook.txt": "Handbook\n\nThe office opens at nine. Engineers ask the front desk about parking.\n",
    f"hr/{SECRET_DOC}.txt": (
        f"Salaries\n\nThe salary band for engineers is {ACCESS_MARKER} grade seven, paid monthly.\n"
    ),
}


def assistant_on(index_dir: Path, shared: Assistant, **settings: Any) -> Assistant:
    """A separate Assistant over `index_dir` that reuses the loaded model (saves a reload)."""
    assistant = Assistant(index_dir, Settings(index_dir=index_dir, **settings), shared.embedder)
    assistant.refresh()
    return assistant


def index_with_sets(root: Path, shared: Assistant, **settings: Any) -> Assistant:
    """An index under `root`/index of ACCESS_DOCS: the handbook in `default`, the marker's
    document in `hr` only."""
    for name, text in ACCESS_DOCS.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    assistant = assistant_on(root / "index", shared, **settings)
    assistant.index_paths([root / "pub"])
    assistant.index_paths([root / "hr"], sets=["hr"])
    return assistant


def app_on(index_dir: Path, shared: Assistant, **settings: Any) -> FastAPI:
    """The real app over `index_dir`, sharing `shared`'s model."""
    assistant = assistant_on(index_dir, shared, **settings)
    return create_app(assistant.settings, assistant)


def assert_contract(answer: Answer, source: Assistant | httpx.Client | TestClient) -> None:
    """The Answer contract: every [n] has a citation, every citation is used, every quote is
    the stored text at its offsets (read from `source`: the core, or the API's /documents)."""
    markers = {int(m) for m in _MARKER.findall(answer.answer)}
    assert markers == {c.marker for c in answer.citations}, answer.answer
    if answer.abstained:
        assert answer.citations == []
    for citation in answer.citations:
        if isinstance(source, Assistant):
            text = source.get_document(citation.doc_id).text
        else:
            response = source.get(f"/documents/{citation.doc_id}")
            text = DocumentRecord.model_validate(response.json()).text
        assert text[citation.start : citation.end] == citation.quote


def wait_for_job(client: httpx.Client | TestClient, job_id: str, **kwargs: Any) -> dict[str, Any]:
    """Poll an upload job until it is done or failed (two minutes at most)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        response = client.get(f"/jobs/{job_id}", **kwargs)
        assert response.status_code == 200, response.text
        job = response.json()
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish")


def upload(client: httpx.Client | TestClient, *files: tuple[str, bytes], **kwargs: Any) -> httpx.Response:
    return client.post(
        "/documents",
        files=[("files", (name, data, "application/octet-stream")) for name, data in files],
        **kwargs,
    )


def upload_and_wait(
    client: httpx.Client | TestClient, name: str, data: bytes, **kwargs: Any
) -> dict[str, Any]:
    response = upload(client, (name, data), **kwargs)
    assert response.status_code == 202, response.text
    return wait_for_job(client, response.json()["job_id"], **kwargs)


def raw_multipart(filenames: list[bytes], data: bytes = b"some text") -> tuple[bytes, str]:
    """A multipart body with the file names exactly as given (no client-side escaping)."""
    boundary = b"----assistant-test-boundary"
    body = b""
    for name in filenames:
        body += (
            b"--" + boundary + b"\r\n"
            b'Content-Disposition: form-data; name="files"; filename="' + name + b'"\r\n'
            b"Content-Type: text/plain\r\n\r\n" + data + b"\r\n"
        )
    body += b"--" + boundary + b"--\r\n"
    return body, "multipart/form-data; boundary=" + boundary.decode()


def parse_sse(text: str) -> list[tuple[str, Any]]:
    """Server-sent events as (event, decoded JSON data) pairs."""
    events = []
    for block in text.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((fields["event"], json.loads(fields["data"])))
    return events


def assert_error(response: httpx.Response, status: int, *fragments: str) -> dict[str, Any]:
    """A JSON error with this status whose message names every fragment, and no traceback."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert isinstance(body["detail"], str) and body["detail"]
    for fragment in fragments:
        assert fragment.lower() in body["detail"].lower(), body
    assert "Traceback" not in response.text
    return body


def subprocess_env() -> dict[str, str]:
    """The environment for a child `assistant` process: offline, importing this checkout."""
    path = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": path}


@contextmanager
def running_server(app: FastAPI) -> Iterator[str]:
    """Serve `app` with uvicorn on a free 127.0.0.1 port in a thread; yield its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()
