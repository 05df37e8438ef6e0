"""Serving with several worker processes, and load shedding: real servers on 127.0.0.1."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from assistant.core import Assistant
from assistant.server.admission import WARM_UP_ANSWERS
from tests.conftest import EXAMPLE_QUESTION
from tests.helpers import (
    SURVEY_DOC,
    SURVEY_QUESTION,
    SURVEY_TEXT,
    app_on,
    assistant_on,
    running_server,
    subprocess_env,
)

#: the bounded load: this many requests, this many in flight at once
LOAD_REQUESTS = 48
LOAD_CLIENTS = 8


@contextmanager
def serve_workers(index_dir: Path, workers: int) -> Iterator[str]:
    """`assistant serve --workers N` in a child process; yields its URL once it answers."""
    command = [sys.executable, "-c", "from assistant.cli import main; main()", "serve"]
    command += ["--port", "0", "--index-dir", str(index_dir), "--no-build", "--workers", str(workers)]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=subprocess_env()
    )
    try:
        assert process.stdout is not None
        lines: list[str] = []
        for line in process.stdout:
            lines.append(line)
            if line.startswith("Serving on "):
                break
        match = re.fullmatch(r"Serving on (http://127\.0\.0\.1:\d+)\n", lines[-1] if lines else "")
        assert match, "".join(lines)
        threading.Thread(target=process.stdout.read, daemon=True).start()  # keep the pipe drained
        deadline = time.monotonic() + 120
        while True:  # every worker loads the model before it accepts; wait for one to answer
            try:
                httpx.get(f"{match.group(1)}/health", timeout=5).raise_for_status()
                break
            except httpx.TransportError:
                assert process.poll() is None and time.monotonic() < deadline, "workers did not start"
                time.sleep(0.2)
        yield match.group(1)
    finally:
        process.terminate()
        process.wait(60)


def _ask_many(url: str, question: str, count: int) -> list[httpx.Response]:
    """`count` questions over `LOAD_CLIENTS` parallel clients, each on fresh connections, so the
    kernel spreads them over the worker processes."""

    def one(_: int) -> httpx.Response:
        with httpx.Client(base_url=url, timeout=120) as http:
            return http.post("/ask", json={"question": question})

    with ThreadPoolExecutor(LOAD_CLIENTS) as pool:
        return list(pool.map(one, range(count)))


def _answers_counted(exposition: str) -> float:
    """The sum of `assistant_answers_total` over its outcomes in a Prometheus text exposition."""
    values = re.findall(r"^assistant_answers_total\{[^}]*\} (\S+)$", exposition, flags=re.M)
    return sum(float(v) for v in values)


def test_two_workers_hold_a_bounded_load_and_all_see_a_new_snapshot(
    mutable_index_dir: Path, sample_assistant: Assistant
) -> None:
    with serve_workers(mutable_index_dir, workers=2) as url:
        responses = _ask_many(url, EXAMPLE_QUESTION, LOAD_REQUESTS)
        assert [r.status_code for r in responses] == [200] * LOAD_REQUESTS, [
            r.text for r in responses if r.status_code != 200
        ]
        assert all(r.json()["citations"] for r in responses)
        # Every worker writes to the shared metrics folder, so one scrape counts every answer.
        scraped = httpx.get(f"{url}/metrics", timeout=30).text
        assert _answers_counted(scraped) == LOAD_REQUESTS, scraped

        # A build by another process commits a new snapshot; every worker serves it next.
        (mutable_index_dir.parent / "new").mkdir()
        survey = mutable_index_dir.parent / "new" / "harbour-lighting-survey.txt"
        survey.write_text(SURVEY_TEXT, encoding="utf-8")
        assistant_on(mutable_index_dir, sample_assistant).index_paths([survey], prune=False)
        after = _ask_many(url, SURVEY_QUESTION, 2 * LOAD_CLIENTS)
        assert all(r.status_code == 200 for r in after)
        assert all(SURVEY_DOC in {c["doc_id"] for c in r.json()["citations"]} for r in after)


@contextmanager
def one_question_held(http: httpx.Client) -> Iterator[Future[httpx.Response]]:
    """A question admitted and held (its body half sent) until the block ends; yields its reply."""
    body_sent = threading.Event()
    release = threading.Event()

    def slow_body() -> Iterator[bytes]:
        # The request is admitted when its headers arrive and held until its body is complete.
        yield b'{"question": '
        body_sent.set()
        release.wait(60)
        yield f'"{EXAMPLE_QUESTION}"}}'.encode()

    with ThreadPoolExecutor(1) as pool:
        admitted = pool.submit(
            http.post, "/ask", content=slow_body(), headers={"Content-Type": "application/json"}
        )
        assert body_sent.wait(30)
        try:
            yield admitted
        finally:
            release.set()


def first_refusal(url: str) -> httpx.Response:
    """Questions while one is held, until one is refused (or 30 s pass): the held one reaches
    the app just after its first bytes."""
    deadline = time.monotonic() + 30
    with httpx.Client(base_url=url, timeout=30) as other:
        while True:
            reply = other.post("/ask", json={"question": EXAMPLE_QUESTION})
            if reply.status_code == 503 or time.monotonic() > deadline:
                return reply
            time.sleep(0.05)


def test_questions_beyond_the_queue_limit_get_a_fast_503_while_the_admitted_one_is_answered(
    mutable_index_dir: Path, sample_assistant: Assistant
) -> None:
    app = app_on(mutable_index_dir, sample_assistant, queue_limit=1)
    with running_server(app) as url, httpx.Client(base_url=url, timeout=60) as http:
        with one_question_held(http) as admitted:
            refused = first_refusal(url)
            assert refused.status_code == 503, refused.text
            assert refused.headers["Retry-After"] == "1"
            assert "ASSISTANT_QUEUE_LIMIT" in refused.json()["detail"]
            assert http.get("/health").status_code == 200  # only questions are shed
        answered = admitted.result(60)
        assert answered.status_code == 200, answered.text
        assert answered.json()["citations"]
        assert http.post("/ask", json={"question": EXAMPLE_QUESTION}).status_code == 200
        scraped = http.get("/metrics").text
        assert re.search(r"^assistant_shed_requests_total [1-9]", scraped, re.MULTILINE), scraped


@pytest.mark.parametrize(("target_ms", "expected"), [(1, 503), (0, 200)])
def test_a_question_that_would_be_late_is_refused_once_every_worker_thread_is_busy(
    mutable_index_dir: Path, sample_assistant: Assistant, target_ms: int, expected: int
) -> None:
    """With a 1 ms target no answer is ever on time, so past the warm-up the bound falls to the
    worker threads (one here): a second question while one is held is refused. Without the
    target only the (wide) queue limit applies and it is answered."""
    app = app_on(
        mutable_index_dir, sample_assistant, queue_limit=64, queue_target_ms=target_ms, worker_threads=1
    )
    with running_server(app) as url, httpx.Client(base_url=url, timeout=60) as http:
        for _ in range(WARM_UP_ANSWERS):
            assert http.post("/ask", json={"question": EXAMPLE_QUESTION}).status_code == 200
        with one_question_held(http) as admitted:
            if expected == 503:
                reply = first_refusal(url)
                assert "ASSISTANT_QUEUE_TARGET_MS" in reply.json()["detail"]
            else:
                time.sleep(1.0)  # long past the held one's admission
                reply = http.post("/ask", json={"question": EXAMPLE_QUESTION})
            assert reply.status_code == expected, reply.text
        assert admitted.result(60).status_code == 200


def test_each_worker_gets_its_own_socket_on_the_one_port() -> None:
    import socket
    import sys

    from assistant.cli.serve_cmd import _listen

    single = _listen("127.0.0.1", 0, 1)
    sockets = _listen("127.0.0.1", 0, 3)
    try:
        assert len(single) == 1
        ports = {s.getsockname()[1] for s in sockets}
        if sys.platform == "linux":
            assert len(sockets) == 3 and len(ports) == 1  # the kernel spreads connections over them
            assert all(s.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) for s in sockets)
        else:
            assert len(sockets) == 1
        with socket.create_connection(("127.0.0.1", ports.pop()), timeout=5):
            pass  # the port takes connections
    finally:
        for s in [*single, *sockets]:
            s.close()
