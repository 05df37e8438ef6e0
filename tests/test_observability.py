"""Metrics, readiness, request ids and JSON logs, against the real app and real uvicorn workers."""

from __future__ import annotations

import io
import json
import logging
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from assistant.core import Assistant
from assistant.observability.logs import JsonFormatter, request_id_for
from assistant.observability.metrics import build_timer
from assistant.server import create_app
from assistant.settings import Settings
from assistant.slack.dedupe import Deduplicator
from tests.conftest import EXAMPLE_QUESTION
from tests.helpers import subprocess_env


@pytest.fixture(scope="module")
def client(sample_assistant: Assistant) -> Iterator[TestClient]:
    with TestClient(create_app(sample_assistant.settings, sample_assistant)) as test_client:
        yield test_client


def _samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a text exposition, keyed by name and label set."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _value(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_metrics_count_requests_by_route_template_and_answers_by_outcome(
    client: TestClient, sample_assistant: Assistant
) -> None:
    before = _samples(client.get("/metrics").text)
    assert client.post("/ask", json={"question": EXAMPLE_QUESTION}).status_code == 200
    assert client.post("/ask", json={"question": "How many moons does Neptune have?"}).status_code == 200
    doc_id = sample_assistant.list_documents()[0].doc_id
    assert client.get(f"/documents/{doc_id}").status_code == 200
    assert client.get("/no/such/path").status_code == 404
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    after = _samples(response.text)

    def grew(name: str, **labels: str) -> float:
        return _value(after, name, **labels) - _value(before, name, **labels)

    latency = "assistant_http_request_duration_seconds_count"
    assert grew(latency, route="/ask", method="POST", status="200") == 2
    assert grew(latency, route="/documents/{doc_id}", method="GET", status="200") == 1
    assert grew(latency, route="unmatched", method="GET", status="404") == 1
    assert not any(dict(labels).get("route") == f"/documents/{doc_id}" for _, labels in after)
    outcomes = ("answered", "tentative", "abstained")
    assert sum(grew("assistant_answers_total", outcome=o) for o in outcomes) == 2
    for stage in ("retrieve", "compose"):
        assert grew("assistant_answer_stage_duration_seconds_count", stage=stage) == 2
    stats = sample_assistant.stats()
    assert _value(after, "assistant_index_documents") == stats["documents"]
    assert _value(after, "assistant_index_chunks") == stats["chunks"]
    assert _value(after, "assistant_index_build_duration_seconds_count") >= 1  # the session's build


def test_build_timer_counts_failed_builds() -> None:
    failures = "assistant_index_build_failures_total"
    before = REGISTRY.get_sample_value(failures) or 0.0
    with pytest.raises(RuntimeError), build_timer():
        raise RuntimeError("disk full")
    assert REGISTRY.get_sample_value(failures) == before + 1


def test_slack_repeats_are_counted_as_deduplicated(tmp_path: Path) -> None:
    dedupe = Deduplicator(tmp_path / "slack-events.sqlite")
    name = "assistant_slack_events_total"

    def count(result: str) -> float:
        return REGISTRY.get_sample_value(name, {"kind": "event", "result": result}) or 0.0

    handled, repeated = count("handled"), count("deduplicated")
    assert dedupe.claim_event("Ev1") and not dedupe.claim_event("Ev1")
    assert (count("handled"), count("deduplicated")) == (handled + 1, repeated + 1)


def test_ready_is_503_until_an_index_is_loaded(client: TestClient, tmp_path: Path) -> None:
    ready = client.get("/ready")
    assert ready.status_code == 200 and ready.json()["ready"] is True
    empty_dir = tmp_path / "empty-index"
    empty = Assistant.open_or_create(empty_dir, settings=Settings(index_dir=empty_dir))
    with TestClient(create_app(empty.settings, empty)) as empty_client:
        response = empty_client.get("/ready")
        assert response.status_code == 503
        assert response.json()["ready"] is False and "index" in response.json()["detail"]
        assert empty_client.get("/health").status_code == 200  # alive, just not ready


def test_request_id_is_returned_and_a_valid_incoming_one_kept(client: TestClient) -> None:
    fresh = client.get("/health").headers["X-Request-ID"]
    assert len(fresh) == 32 and fresh != client.get("/health").headers["X-Request-ID"]
    kept = client.get("/health", headers={"X-Request-ID": "lb-7f3a.1"})
    assert kept.headers["X-Request-ID"] == "lb-7f3a.1"
    replaced = client.get("/health", headers={"X-Request-ID": "bad id\twith spaces"})
    assert replaced.headers["X-Request-ID"] != "bad id\twith spaces"
    assert request_id_for("x" * 129) != "x" * 129


def test_every_log_line_of_a_request_is_json_with_its_request_id(client: TestClient) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    old_level = root.level
    root.setLevel(logging.INFO)
    try:
        response = client.post(
            "/feedback",
            json={"answer_id": "a1", "rating": "down", "question": "q?"},
            headers={"X-Request-ID": "req-42"},
        )
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    assert response.status_code == 201
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    ours = [line for line in lines if line["logger"] == "assistant.state.feedback"]
    assert ours and all(line["request_id"] == "req-42" for line in ours)
    assert {"time", "level", "logger", "message"} <= set(ours[0])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_metrics_merge_two_uvicorn_workers(sample_index_dir: Path, tmp_path: Path) -> None:
    """Two worker processes, one multiprocess directory: a scrape counts every worker's requests."""
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()
    port = _free_port()
    env = {
        **subprocess_env(),
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "ASSISTANT_INDEX_DIR": str(sample_index_dir),
    }
    command = [sys.executable, "-m", "uvicorn", "--factory", "assistant.server:create_app"]
    command += ["--workers", "2", "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    server = subprocess.Popen(command, env=env, cwd=tmp_path)
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=30) as http:
            deadline = time.monotonic() + 120
            while True:
                assert server.poll() is None, "uvicorn exited"
                assert time.monotonic() < deadline, "two workers did not start in time"
                try:
                    if http.get("/ready").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.2)
            # New connections are spread over the workers by the kernel; keep-alive off.
            pids = set()
            for _ in range(40):
                with httpx.Client(base_url=base, timeout=30) as one_shot:
                    assert one_shot.get("/health").status_code == 200
            for path in metrics_dir.iterdir():
                pids.add(path.stem.rsplit("_", 1)[-1])
            samples = _samples(http.get("/metrics").text)
    finally:
        server.terminate()
        server.wait(30)
    health = {"route": "/health", "method": "GET", "status": "200"}
    assert _value(samples, "assistant_http_request_duration_seconds_count", **health) == 40
    assert len(pids) == 2, f"requests reached {len(pids)} worker(s): {sorted(pids)}"
