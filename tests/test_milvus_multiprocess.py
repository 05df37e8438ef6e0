"""Two `assistant serve` processes sharing one Milvus (Milvus Lite serving gRPC on loopback):
what one replica writes, the other answers from, and a removal through either reaches both."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from assistant.models import Answer
from tests.conftest import CORPUS_DIR, EXAMPLE_QUESTION
from tests.helpers import (
    SURVEY_DOC,
    SURVEY_NAME,
    SURVEY_QUESTION,
    SURVEY_TEXT,
    assert_contract,
    subprocess_env,
    upload_and_wait,
)
from tests.test_state import _served_url

pytest.importorskip("milvus_lite", reason='the Milvus backend needs `pip install "assistant[milvus]"`')

ZARIF = "zarif-how-iran-sees-the-path-to-peace"
START_SECONDS = 60


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture()
def milvus_uri(tmp_path: Path) -> Iterator[str]:
    """Milvus Lite's server binary on a free loopback port (what a Milvus server would be)."""
    from milvus_lite.server import Server

    port = _free_port()
    server = Server(str(tmp_path / "shared.db"), f"127.0.0.1:{port}")
    assert server.init() and server.start(), "milvus-lite did not start"
    try:
        deadline = time.monotonic() + START_SECONDS
        while True:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert time.monotonic() < deadline, "milvus-lite is not listening"
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@contextmanager
def _serve(index_dir: Path, milvus_uri: str, *flags: str) -> Iterator[httpx.Client]:
    """An `assistant serve` child process on the shared Milvus; its own folder for jobs."""
    env = {
        **subprocess_env(),
        "ASSISTANT_STORE": "milvus",
        "ASSISTANT_MILVUS_URI": milvus_uri,
        "ASSISTANT_CORPUS_DIR": str(CORPUS_DIR),
    }
    command = [sys.executable, "-c", "from assistant.cli import main; main()", "serve", "--port", "0"]
    child = subprocess.Popen(
        [*command, "--index-dir", str(index_dir), *flags],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        with httpx.Client(base_url=_served_url(child), timeout=60) as client:
            yield client
    finally:
        child.send_signal(signal.SIGTERM)
        try:
            child.wait(30)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait(30)


def _ask(client: httpx.Client, question: str) -> Answer:
    response = client.post("/ask", json={"question": question})
    assert response.status_code == 200, response.text
    return Answer.model_validate(response.json())


def test_two_replicas_share_uploads_answers_and_removals(milvus_uri: str, tmp_path: Path) -> None:
    with (
        _serve(tmp_path / "a", milvus_uri) as first,  # builds the sample corpus into Milvus
        _serve(tmp_path / "b", milvus_uri, "--no-build") as second,
    ):
        # the corpus the first replica indexed answers through the second
        answer = _ask(second, EXAMPLE_QUESTION)
        assert ZARIF in {c.doc_id for c in answer.citations} and "598" in answer.answer
        assert_contract(answer, second)
        assert_contract(answer, first)

        # upload through the first, ask through the second
        before = _ask(second, SURVEY_QUESTION)
        assert SURVEY_DOC not in {c.doc_id for c in before.citations}
        job = upload_and_wait(first, SURVEY_NAME, SURVEY_TEXT.encode())
        assert job["status"] == "done", job
        answer = _ask(second, SURVEY_QUESTION)
        assert not answer.abstained and "412" in answer.answer
        assert SURVEY_DOC in {c.doc_id for c in answer.citations}
        assert_contract(answer, second)
        assert_contract(answer, first)
        listed = {d["doc_id"] for d in second.get("/documents").json()["documents"]}
        assert listed == {ZARIF, "pezeshkian-foreign-policy-first-year", SURVEY_DOC}

        # delete through the second; the first no longer has it
        assert second.delete(f"/documents/{SURVEY_DOC}").status_code in (200, 204)
        assert first.get(f"/documents/{SURVEY_DOC}").status_code == 404
        after = _ask(first, SURVEY_QUESTION)
        assert "412" not in after.answer
        assert SURVEY_DOC not in {c.doc_id for c in after.citations}
        assert_contract(after, first)
        for client in (first, second):
            passages = client.post("/search", json={"query": "harbour lamp posts quay", "top_k": 10})
            assert passages.status_code == 200, passages.text
            assert SURVEY_DOC not in {p["doc_id"] for p in passages.json()["passages"]}


def test_a_revoked_key_is_refused_at_once_by_every_replica(milvus_uri: str, tmp_path: Path) -> None:
    """Replicas sharing one state folder (the keys) and one Milvus: a revoke reaches both."""
    from assistant.state.keys import KeyStore

    index_dir = tmp_path / "shared"
    keys = KeyStore.for_index(index_dir)
    key = keys.create("reader", ["default"])
    auth = {"Authorization": f"Bearer {key}"}
    with (
        _serve(index_dir, milvus_uri) as first,
        _serve(index_dir, milvus_uri, "--no-build") as second,
    ):
        for client in (first, second):
            response = client.post("/search", json={"query": "Resolution 598"}, headers=auth)
            assert response.status_code == 200, response.text
        assert keys.revoke("reader")
        for client in (first, second):
            for method, path, body in (
                ("POST", "/search", {"query": "Resolution 598"}),
                ("GET", "/documents", None),
            ):
                response = client.request(method, path, json=body, headers=auth)
                assert response.status_code == 401, (path, response.text)
