"""The HTTP service end to end: the real app, the real model, a real index, real HTTP on loopback."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import anyio.to_thread
import httpx
import pytest
from fastapi.testclient import TestClient

from assistant.core import Assistant
from assistant.models import Answer, IndexReport
from assistant.server import create_app
from assistant.server.routes.web import WEB_DIR
from tests.conftest import CORPUS_DIR, EXAMPLE_QUESTION
from tests.helpers import (
    SURVEY_DOC,
    SURVEY_NAME,
    SURVEY_QUESTION,
    SURVEY_TEXT,
    app_on,
    assert_contract,
    assert_error,
    parse_sse,
    raw_multipart,
    running_server,
    subprocess_env,
    upload,
    upload_and_wait,
    wait_for_job,
)

EXPECTED_DOC = "zarif-how-iran-sees-the-path-to-peace"


# --- fixtures ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def client(sample_assistant: Assistant) -> Iterator[TestClient]:
    """Read-only routes over the shared sample index (never mutate through this client)."""
    with TestClient(create_app(sample_assistant.settings, sample_assistant)) as test_client:
        yield test_client


@pytest.fixture()
def mutable_client(mutable_index_dir: Path, sample_assistant: Assistant) -> Iterator[TestClient]:
    with TestClient(app_on(mutable_index_dir, sample_assistant)) as test_client:
        yield test_client


# --- reading ------------------------------------------------------------------------------


def test_health_reports_the_served_index(client: TestClient, sample_assistant: Assistant) -> None:
    body = client.get("/health").json()

    documents = sample_assistant.list_documents()
    assert body["status"] == "ok"
    assert body["documents"] == len(documents) == 2
    assert body["chunks"] == sum(d.chunks for d in documents) > 0
    assert body["model"] == sample_assistant.settings.embedding_model
    assert body["index_version"]


def test_ask_returns_a_cited_verifiable_answer(client: TestClient) -> None:
    response = client.post("/ask", json={"question": EXAMPLE_QUESTION})

    assert response.status_code == 200
    answer = Answer.model_validate(response.json())
    assert "598" in answer.answer
    assert not answer.abstained
    assert answer.id
    assert EXPECTED_DOC in {c.doc_id for c in answer.citations}
    assert_contract(answer, client)


def test_requests_beyond_the_worker_threads_wait_in_line_and_are_answered(
    sample_index_dir: Path, sample_assistant: Assistant
) -> None:
    app = app_on(sample_index_dir, sample_assistant, worker_threads=3)
    with TestClient(app) as test_client:
        limiter_tokens = test_client.portal.call(
            lambda: anyio.to_thread.current_default_thread_limiter().total_tokens
        )
        with ThreadPoolExecutor(8) as pool:
            codes = list(
                pool.map(lambda _: test_client.post("/ask", json={"question": EXAMPLE_QUESTION}), range(8))
            )

    assert limiter_tokens == 3
    assert [r.status_code for r in codes] == [200] * 8
    assert all("598" in r.json()["answer"] for r in codes)


def test_ask_respects_top_k_and_doc_filter(client: TestClient) -> None:
    other = "pezeshkian-foreign-policy-first-year"
    response = client.post(
        "/ask", json={"question": EXAMPLE_QUESTION, "top_k": 2, "filters": {"doc_ids": [other]}}
    )

    answer = Answer.model_validate(response.json())
    assert 0 < len(answer.passages) <= 2
    assert {p.doc_id for p in answer.passages} == {other}
    assert all(c.doc_id == other for c in answer.citations)


def test_top_k_accepts_an_integral_number(client: TestClient) -> None:
    # JSON Schema counts 2.0 as an integer, so the API does too.
    response = client.post("/search", json={"query": "Resolution 598", "top_k": 2.0})
    assert response.status_code == 200
    assert len(response.json()["passages"]) == 2


def test_ask_accepts_history_for_follow_ups(client: TestClient) -> None:
    response = client.post(
        "/ask",
        json={"question": "Which resolution would it use?", "history": [EXAMPLE_QUESTION]},
    )

    assert response.status_code == 200
    assert "598" in response.json()["answer"]


def test_ask_and_stream_read_a_follow_up_against_typed_turns(client: TestClient) -> None:
    first_question = "Which UN resolution ended the war between Iran and Iraq?"
    first = client.post("/ask", json={"question": first_question}).json()
    turn = {"question": first_question, "answer": first["answer"], "citations": first["citations"]}
    body = {"question": "When was that resolution adopted?", "history": [turn]}
    answer = client.post("/ask", json=body).json()
    assert answer["standalone_question"] == "When was Resolution 598 adopted?"
    assert "1987" in answer["answer"]
    streamed = parse_sse(client.post("/ask/stream", json=body).text)
    assert streamed[-1][1]["standalone_question"] == "When was Resolution 598 adopted?"
    bad = client.post("/ask", json={"question": "ok?", "history": [{"answer": "no question"}]})
    assert bad.status_code == 422


def test_stream_sends_deltas_then_the_answer(client: TestClient) -> None:
    response = client.post("/ask/stream", json={"question": EXAMPLE_QUESTION})

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = parse_sse(response.text)
    kinds = [kind for kind, _ in events]
    assert kinds[-1] == "answer"
    assert set(kinds[:-1]) == {"delta"} and len(kinds) > 2
    answer = Answer.model_validate(events[-1][1])
    streamed = "".join(data["text"] for kind, data in events if kind == "delta")
    assert streamed.split() == answer.answer.split()
    assert EXPECTED_DOC in {c.doc_id for c in answer.citations}


def test_stream_with_a_bad_question_is_a_json_error_not_a_stream(client: TestClient) -> None:
    assert_error(client.post("/ask/stream", json={"question": "   "}), 422, "empty")
    assert_error(client.post("/ask/stream", json={"question": "x" * 100_000}), 422, "limit")


def test_search_returns_ranked_passages(client: TestClient) -> None:
    response = client.post("/search", json={"query": "Resolution 598", "top_k": 3})

    passages = response.json()["passages"]
    assert response.status_code == 200
    assert 0 < len(passages) <= 3
    assert passages[0]["doc_id"] == EXPECTED_DOC
    assert "598" in passages[0]["text"]
    scores = [p["score"] for p in passages]
    assert scores == sorted(scores, reverse=True)


@pytest.mark.parametrize("mode", ["dense", "keyword"])
def test_search_modes(client: TestClient, mode: str) -> None:
    response = client.post("/search", json={"query": "Resolution 598", "mode": mode})
    assert response.status_code == 200
    assert response.json()["passages"]


def test_documents_list_and_record(client: TestClient, sample_assistant: Assistant) -> None:
    listed = client.get("/documents").json()["documents"]
    assert {d["doc_id"] for d in listed} == {d.doc_id for d in sample_assistant.list_documents()}
    assert all("text" not in d for d in listed)

    record = client.get(f"/documents/{EXPECTED_DOC}")
    assert record.status_code == 200
    assert record.json() == sample_assistant.get_document(EXPECTED_DOC).model_dump(mode="json")


def test_unknown_document_and_job_are_404(client: TestClient) -> None:
    assert_error(client.get("/documents/no-such-doc"), 404, "no-such-doc")
    assert_error(client.get("/jobs/0123456789abcdef"), 404, "0123456789abcdef")
    assert_error(client.get("/no/such/route"), 404)


# --- malformed requests ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"content": b"{not json", "headers": {"content-type": "application/json"}}, "JSON"),
        ({}, "body is required"),
        ({"json": {}}, "question"),
        ({"json": {"query": "wrong field"}}, "question"),
        ({"json": {"question": ""}}, "question"),
        ({"json": {"question": "   "}}, "empty"),
        ({"json": {"question": 42}}, "question"),
        ({"json": {"question": "x" * 100_000}}, "limit is 2,000"),
        ({"json": {"question": "ok?", "top_k": 0}}, "top_k"),
        ({"json": {"question": "ok?", "top_k": "many"}}, "top_k"),
        ({"json": {"question": "ok?", "top_k": True}}, "top_k"),
        ({"json": {"question": "ok?", "top_k": "3"}}, "top_k"),
        ({"json": {"question": "ok?", "top_k": 2.5}}, "top_k"),
        ({"content": b'{"question": "\xff\xfe"}', "headers": {"content-type": "application/json"}}, ""),
        ({"json": {"question": "ok?", "filters": {"doc_ids": "one"}}}, "doc_ids"),
        ({"json": {"question": "ok?", "history": ["x" * 5_000]}}, "history"),
        ({"json": ["question"]}, ""),
        ({"content": b"question=hi", "headers": {"content-type": "text/plain"}}, ""),
    ],
)
def test_malformed_ask_is_422_with_a_message(
    client: TestClient, kwargs: dict[str, Any], fragment: str
) -> None:
    body = assert_error(client.post("/ask", **kwargs), 422, fragment)
    assert len(json.dumps(body)) < 2_000  # a long question is never echoed back


def test_validation_errors_list_each_problem(client: TestClient) -> None:
    body = assert_error(client.post("/ask", json={"top_k": -1}), 422)

    locations = {tuple(error["loc"]) for error in body["errors"]}
    assert ("body", "question") in locations
    assert ("body", "top_k") in locations
    assert all(error["msg"] and error["type"] for error in body["errors"])


def test_malformed_search_is_422(client: TestClient) -> None:
    assert_error(client.post("/search", json={"query": ""}), 422, "query")
    assert_error(client.post("/search", json={"query": "x", "mode": "fuzzy"}), 422, "mode")
    assert_error(client.post("/search", json={"query": "q" * 100_000}), 422, "limit")


def test_json_body_over_the_limit_is_413(client: TestClient) -> None:
    huge = json.dumps({"question": "x" * 2_000_000}).encode()
    response = client.post("/ask", content=huge, headers={"content-type": "application/json"})

    assert_error(response, 413, "too large")


# --- uploads -------------------------------------------------------------------------------


def test_upload_ask_cite_delete(mutable_client: TestClient, mutable_index_dir: Path) -> None:
    accepted = upload(mutable_client, (SURVEY_NAME, SURVEY_TEXT.encode()))
    assert accepted.status_code == 202
    assert accepted.json()["status"] == "queued"

    job = wait_for_job(mutable_client, accepted.json()["job_id"])
    assert job["status"] == "done", job
    report = IndexReport.model_validate(job["report"])
    assert report.added == [SURVEY_DOC]
    assert report.skipped == []
    assert (mutable_index_dir / "uploads" / SURVEY_NAME).read_text() == SURVEY_TEXT

    listed = {d["doc_id"] for d in mutable_client.get("/documents").json()["documents"]}
    assert SURVEY_DOC in listed
    answer = Answer.model_validate(mutable_client.post("/ask", json={"question": SURVEY_QUESTION}).json())
    assert "412" in answer.answer
    assert [c.doc_id for c in answer.citations] == [SURVEY_DOC]
    assert_contract(answer, mutable_client)

    deleted = mutable_client.delete(f"/documents/{SURVEY_DOC}")
    assert deleted.status_code == 200
    assert deleted.json() == {"deleted": SURVEY_DOC}

    listed = {d["doc_id"] for d in mutable_client.get("/documents").json()["documents"]}
    assert SURVEY_DOC not in listed
    assert_error(mutable_client.get(f"/documents/{SURVEY_DOC}"), 404)
    for mode in ("hybrid", "keyword", "dense"):
        found = mutable_client.post(
            "/search", json={"query": "lamp posts northern quay Valmora", "mode": mode}
        ).json()["passages"]
        assert SURVEY_DOC not in {p["doc_id"] for p in found}
    after = mutable_client.post("/ask", json={"question": SURVEY_QUESTION}).json()
    assert SURVEY_DOC not in {c["doc_id"] for c in after["citations"]}
    assert not (mutable_index_dir / "uploads" / SURVEY_NAME).exists()
    assert_error(mutable_client.delete(f"/documents/{SURVEY_DOC}"), 404)


def test_uploading_the_same_name_again_replaces_the_document(mutable_client: TestClient) -> None:
    first = upload_and_wait(mutable_client, "memo.md", b"# Memo\n\nThe budget is 10 euros.\n")
    second = upload_and_wait(mutable_client, "memo.md", b"# Memo\n\nThe budget is 95 euros.\n")

    assert first["report"]["added"] == ["memo"]
    assert second["report"]["replaced"] == ["memo"]
    text = mutable_client.get("/documents/memo").json()["text"]
    assert "95 euros" in text and "10 euros" not in text
    ids = [d["doc_id"] for d in mutable_client.get("/documents").json()["documents"]]
    assert ids.count("memo") == 1 and "memo-2" not in ids


def test_a_failed_replacement_keeps_the_previous_version(
    mutable_client: TestClient, mutable_index_dir: Path
) -> None:
    good = b"# Memo\n\nThe budget is 10 euros.\n"
    assert upload_and_wait(mutable_client, "memo.md", good)["report"]["added"] == ["memo"]

    job = upload_and_wait(mutable_client, "memo.md", b"   \n")

    assert [s["path"] for s in job["report"]["skipped"]] == ["memo.md"]
    assert (mutable_index_dir / "uploads" / "memo.md").read_bytes() == good
    assert "10 euros" in mutable_client.get("/documents/memo").json()["text"]
    assert not [p for p in (mutable_index_dir / "uploads").iterdir() if p.name.startswith(".")]


def test_leftovers_of_an_interrupted_upload_are_cleared_at_start(
    mutable_index_dir: Path, sample_assistant: Assistant
) -> None:
    staging = mutable_index_dir / "uploads" / ".staging-interrupted"
    staging.mkdir(parents=True)
    (staging / "half.txt").write_text("half written")

    app_on(mutable_index_dir, sample_assistant)

    assert not staging.exists()


def test_several_files_in_one_upload_with_per_file_errors(
    mutable_client: TestClient, mutable_index_dir: Path
) -> None:
    response = upload(
        mutable_client,
        (SURVEY_NAME, SURVEY_TEXT.encode()),
        ("broken.pdf", b"%PDF-1.4 this is not really a pdf"),
        ("empty.txt", b""),
    )
    job = wait_for_job(mutable_client, response.json()["job_id"])

    assert job["status"] == "done"
    assert job["report"]["added"] == [SURVEY_DOC]
    skipped = {s["path"]: s["reason"] for s in job["report"]["skipped"]}
    assert set(skipped) == {"broken.pdf", "empty.txt"}
    assert "empty" in skipped["empty.txt"]
    assert "2 of 3" in job["detail"]
    stored = sorted(p.name for p in (mutable_index_dir / "uploads").iterdir())
    assert stored == [SURVEY_NAME]  # files that could not be indexed are not kept


@pytest.mark.parametrize(
    "name",
    [
        b"../escape.txt",
        b"../../escape.txt",
        b"/etc/escape.txt",
        b"..\\escape.txt",
        b"sub/escape.txt",
        b"..",
        b".hidden.txt",
        b"",
        b"   ",
        b"nul\x00escape.txt",
        b"tab\tescape.txt",
        b"x" * 300 + b".txt",
    ],
)
def test_unsafe_file_names_are_422_and_nothing_is_written(
    mutable_client: TestClient, mutable_index_dir: Path, name: bytes
) -> None:
    body, content_type = raw_multipart([name])
    response = mutable_client.post("/documents", content=body, headers={"content-type": content_type})

    assert_error(response, 422)
    uploads = mutable_index_dir / "uploads"
    assert not uploads.exists() or list(uploads.iterdir()) == []
    assert not list(mutable_index_dir.parent.rglob("escape.txt"))


def test_duplicate_names_in_one_upload_are_422(mutable_client: TestClient) -> None:
    response = upload(mutable_client, ("a.txt", b"one"), ("a.txt", b"two"))
    assert_error(response, 422, "a.txt")


def test_missing_files_field_is_422(mutable_client: TestClient) -> None:
    assert_error(mutable_client.post("/documents"), 422)
    assert_error(mutable_client.post("/documents", data={"files": "not a file"}), 422)
    assert_error(mutable_client.post("/documents", json={"files": []}), 422)


@pytest.mark.parametrize("name", ["tool.exe", "archive.tar.gz", "README", "sheet.numbers"])
def test_unsupported_type_is_415(mutable_client: TestClient, mutable_index_dir: Path, name: str) -> None:
    response = upload(mutable_client, ("fine.txt", b"fine"), (name, b"data"))

    assert_error(response, 415, ".txt")
    assert not (mutable_index_dir / "uploads").exists() or not any((mutable_index_dir / "uploads").iterdir())


def test_upload_over_the_limit_is_413(mutable_index_dir: Path, sample_assistant: Assistant) -> None:
    limit = 10_000
    app = app_on(mutable_index_dir, sample_assistant, max_upload_bytes=limit)
    with TestClient(app) as client:
        # Far over: refused from Content-Length, before the body is read.
        assert_error(upload(client, ("big.txt", b"a" * (limit * 20))), 413, "too large")
        # Just over: within the multipart allowance, so caught while counting the bytes.
        assert_error(upload(client, ("big.txt", b"a" * (limit + 1))), 413, f"{limit:,}")
        # Two files that only together exceed the limit.
        half = b"b" * (limit // 2 + 1)
        assert_error(upload(client, ("a.txt", half), ("b.txt", half)), 413)
        # Streamed without a Content-Length.
        body, content_type = raw_multipart([b"big.txt"], b"c" * (limit * 20))
        chunks = (body[i : i + 4096] for i in range(0, len(body), 4096))
        response = client.post("/documents", content=chunks, headers={"content-type": content_type})
        assert_error(response, 413)
        # Under the limit is fine.
        ok = upload(client, ("fits.txt", b"Fits exactly. " * (limit // 14)))
        assert ok.status_code == 202
        assert wait_for_job(client, ok.json()["job_id"])["status"] == "done"
    stored = [p.name for p in (mutable_index_dir / "uploads").iterdir()]
    assert stored == ["fits.txt"]


# --- feedback -------------------------------------------------------------------------------


def test_feedback_add_and_list(mutable_client: TestClient, mutable_index_dir: Path) -> None:
    answer = mutable_client.post("/ask", json={"question": EXAMPLE_QUESTION}).json()
    up = mutable_client.post(
        "/feedback",
        json={"answer_id": answer["id"], "rating": "up", "question": EXAMPLE_QUESTION},
    )
    down = mutable_client.post(
        "/feedback", json={"answer_id": "other", "rating": "down", "comment": "wrong source"}
    )

    assert up.status_code == down.status_code == 201
    assert down.json()["id"] > up.json()["id"]
    rows = mutable_client.get("/feedback").json()["feedback"]
    assert [r["answer_id"] for r in rows] == ["other", answer["id"]]
    assert rows[0]["comment"] == "wrong source"
    assert rows[1]["question"] == EXAMPLE_QUESTION
    assert (mutable_index_dir / "feedback.sqlite").is_file()
    assert len(mutable_client.get("/feedback", params={"limit": 1}).json()["feedback"]) == 1


@pytest.mark.parametrize(
    "body",
    [
        {"answer_id": "a", "rating": "meh"},
        {"answer_id": "", "rating": "up"},
        {"answer_id": "   ", "rating": "up"},
        {"rating": "up"},
        {"answer_id": "a"},
        {"answer_id": "a", "rating": "up", "comment": "c" * 5_001},
    ],
)
def test_malformed_feedback_is_422(mutable_client: TestClient, body: dict[str, Any]) -> None:
    assert_error(mutable_client.post("/feedback", json=body), 422)
    assert mutable_client.get("/feedback").json()["feedback"] == []


def test_feedback_limit_is_validated(mutable_client: TestClient) -> None:
    assert_error(mutable_client.get("/feedback", params={"limit": 0}), 422, "limit")


# --- index changes made elsewhere, and consistency under load ------------------------------


def test_index_rebuilt_by_another_process_is_served_without_restart(
    mutable_client: TestClient, mutable_index_dir: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "new-docs"
    folder.mkdir()
    (folder / SURVEY_NAME).write_text(SURVEY_TEXT, encoding="utf-8")
    failures: list[str] = []
    stop = threading.Event()

    def keep_asking() -> None:
        while not stop.is_set():
            response = mutable_client.post("/ask", json={"question": SURVEY_QUESTION})
            if response.status_code != 200:
                failures.append(response.text)

    asker = threading.Thread(target=keep_asking)
    asker.start()
    try:
        build = subprocess.run(
            [
                sys.executable,
                "-c",
                "from assistant.cli import main; main()",
                "index",
                "build",
                str(folder),
                "--index-dir",
                str(mutable_index_dir),
            ],
            capture_output=True,
            text=True,
            timeout=300,
            env=subprocess_env(),
        )
    finally:
        stop.set()
        asker.join()

    assert build.returncode == 0, build.stderr
    assert failures == []
    listed = {d["doc_id"] for d in mutable_client.get("/documents").json()["documents"]}
    assert SURVEY_DOC in listed
    assert mutable_client.get("/health").json()["documents"] == 3
    answer = mutable_client.post("/ask", json={"question": SURVEY_QUESTION}).json()
    assert "412" in answer["answer"]
    assert SURVEY_DOC in {c["doc_id"] for c in answer["citations"]}


def test_reads_keep_working_while_uploads_are_indexed_and_deleted(
    mutable_client: TestClient,
) -> None:
    failures: list[str] = []
    stop = threading.Event()

    def keep_reading() -> None:
        while not stop.is_set():
            for response in (
                mutable_client.post("/ask", json={"question": EXAMPLE_QUESTION}),
                mutable_client.get("/documents"),
            ):
                if response.status_code != 200:
                    failures.append(response.text)

    readers = [threading.Thread(target=keep_reading) for _ in range(2)]
    for reader in readers:
        reader.start()
    try:
        for round_ in range(3):
            name = f"round-{round_}.txt"
            job = upload_and_wait(mutable_client, name, SURVEY_TEXT.encode())
            assert job["status"] == "done", job
            assert mutable_client.delete(f"/documents/round-{round_}").status_code == 200
    finally:
        stop.set()
        for reader in readers:
            reader.join()
    assert failures == []


# --- limits, CORS, errors, OpenAPI, UI -------------------------------------------------------


def test_rate_limit_on_ask_returns_429_with_retry_after(
    sample_index_dir: Path, sample_assistant: Assistant
) -> None:
    app = app_on(sample_index_dir, sample_assistant, rate_limit_per_minute=2)
    with TestClient(app) as client:
        statuses = [client.post("/ask", json={"question": EXAMPLE_QUESTION}) for _ in range(3)]
        assert [r.status_code for r in statuses[:2]] == [200, 200]
        assert_error(statuses[2], 429, "try again")
        assert int(statuses[2].headers["retry-after"]) >= 1
        assert client.get("/health").status_code == 200  # only /ask and uploads are limited


def test_no_cors_by_default_and_only_configured_origins(
    client: TestClient, sample_index_dir: Path, sample_assistant: Assistant
) -> None:
    evil = {"Origin": "https://evil.example"}
    assert "access-control-allow-origin" not in client.get("/health", headers=evil).headers

    app = app_on(sample_index_dir, sample_assistant, cors_origins=["https://ui.example"])
    with TestClient(app) as cors_client:
        allowed = cors_client.get("/health", headers={"Origin": "https://ui.example"})
        assert allowed.headers["access-control-allow-origin"] == "https://ui.example"
        refused = cors_client.get("/health", headers=evil)
        assert "access-control-allow-origin" not in refused.headers


def test_unexpected_failure_is_a_500_without_internals(
    sample_index_dir: Path, sample_assistant: Assistant, caplog: pytest.LogCaptureFixture
) -> None:
    app = app_on(sample_index_dir, sample_assistant)

    def explode() -> None:
        raise RuntimeError("secret internal state /srv/private")

    app.add_api_route("/explode", explode)
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/explode")

    body = assert_error(response, 500)
    assert "secret" not in response.text and "RuntimeError" not in response.text
    assert body == {"detail": "Internal server error; the server log has details"}
    assert "secret internal state" in caplog.text  # the operator still gets the traceback


def test_openapi_declares_routes_models_and_errors(
    sample_index_dir: Path, sample_assistant: Assistant
) -> None:
    app = app_on(sample_index_dir, sample_assistant, api_key="openapi-test-key", require_key_for_read=True)
    with TestClient(app) as client:
        spec = client.get("/openapi.json").json()
        assert client.get("/docs").status_code == 200
    paths = spec["paths"]

    expected = {
        ("/health", "get"): set(),
        ("/ask", "post"): {"401", "413", "422"},
        ("/ask/stream", "post"): {"401", "422"},
        ("/search", "post"): {"401", "422"},
        ("/documents", "get"): {"401"},
        ("/documents", "post"): {"401", "413", "415", "422"},
        ("/documents/{doc_id}", "get"): {"401", "404"},
        ("/documents/{doc_id}", "delete"): {"401", "404"},
        ("/jobs/{job_id}", "get"): {"401", "404"},
        ("/feedback", "post"): {"401", "422"},
        ("/feedback", "get"): {"401"},
    }
    for (path, method), errors in expected.items():
        operation = paths[path][method]
        responses = operation["responses"]
        assert errors <= set(responses), (path, method, sorted(responses))
        assert bool(operation.get("security")) == ("401" in errors), (path, method)
        success = next(code for code in responses if code.startswith("2"))
        assert responses[success]["content"], (path, method)
        for code in errors:
            assert responses[code]["content"]["application/json"]["schema"]["$ref"].endswith("ErrorResponse")
    assert "text/event-stream" in paths["/ask/stream"]["post"]["responses"]["200"]["content"]
    assert "Answer" in spec["components"]["schemas"]
    question = spec["components"]["schemas"]["AskRequest"]["properties"]["question"]
    assert question["maxLength"] == sample_assistant.settings.max_question_chars
    assert question["pattern"] == r"\S"


def test_openapi_without_a_key_declares_no_auth(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()

    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            assert "security" not in operation, (path, method)
            assert "401" not in operation["responses"], (path, method)
    assert "securitySchemes" not in spec.get("components", {})


def test_wrong_method_lists_every_allowed_one(client: TestClient) -> None:
    response = client.request("OPTIONS", f"/documents/{EXPECTED_DOC}")

    assert_error(response, 405)
    assert response.headers["allow"] == "DELETE, GET"


@pytest.mark.skipif(not (WEB_DIR / "index.html").is_file(), reason="web UI files not present")
def test_web_ui_and_static_files_are_served(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    asset = next(p for p in sorted(WEB_DIR.iterdir()) if p.is_file() and p.name != "index.html")
    static = client.get(f"/static/{asset.name}")
    assert static.status_code == 200
    assert static.content == asset.read_bytes()
    assert client.get("/static/../routes/web.py").status_code == 404
    assert client.get("/static/%2e%2e/app.py").status_code == 404


def test_security_headers_on_every_response(client: TestClient) -> None:
    for response in (client.get("/health"), client.get("/documents/none")):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"


# --- over real HTTP -------------------------------------------------------------------------


def test_real_server_answers_and_streams(sample_assistant: Assistant) -> None:
    app = create_app(sample_assistant.settings, sample_assistant)
    with running_server(app) as base, httpx.Client(base_url=base, timeout=60) as http:
        assert http.get("/health").json()["documents"] == 2

        answer = Answer.model_validate(http.post("/ask", json={"question": EXAMPLE_QUESTION}).json())
        assert "598" in answer.answer
        assert_contract(answer, http)

        kinds = []
        with http.stream("POST", "/ask/stream", json={"question": EXAMPLE_QUESTION}) as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            for line in stream.iter_lines():
                if line.startswith("event: "):
                    kinds.append(line.removeprefix("event: "))
        assert kinds[0] == "delta" and kinds[-1] == "answer"

        assert_error(http.post("/ask", json={"question": ""}), 422)
        assert_error(http.get("/documents/missing"), 404)


def test_serve_command_builds_the_index_and_prints_the_address(tmp_path: Path) -> None:
    index_dir = tmp_path / "fresh-index"
    env = {**subprocess_env(), "ASSISTANT_CORPUS_DIR": str(CORPUS_DIR)}
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from assistant.cli import main; main()",
            "serve",
            "--port",
            "0",
            "--index-dir",
            str(index_dir),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        lines = []
        for line in process.stdout:
            lines.append(line)
            if line.startswith("Serving on "):
                break
        match = re.fullmatch(r"Serving on (http://127\.0\.0\.1:\d+)\n", lines[-1])
        assert match, "".join(lines)
        assert any("Indexed 2 documents" in line for line in lines), lines
        with httpx.Client(base_url=match.group(1), timeout=60) as http:
            deadline = time.monotonic() + 30
            while True:
                try:
                    health = http.get("/health")
                    break
                except httpx.TransportError:
                    assert time.monotonic() < deadline
                    time.sleep(0.1)
            assert health.json()["documents"] == 2
            answer = http.post("/ask", json={"question": EXAMPLE_QUESTION}).json()
            assert EXPECTED_DOC in {c["doc_id"] for c in answer["citations"]}
    finally:
        process.terminate()
        process.wait(30)
