"""Document sets through every HTTP route: a key scoped to other sets never sees a forbidden
document (ask, stream, search, listing, get, OpenAI chat), the admin key does, a revoked key is 401;
GET /sets lists only the caller's sets; every request leaves one audit line (key name, never the key)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from assistant.cli import main
from assistant.core import Assistant
from assistant.observability.logs import JsonFormatter
from assistant.server import create_app
from assistant.state.keys import KeyStore
from tests.helpers import (
    ACCESS_MARKER,
    ACCESS_QUESTION,
    SECRET_DOC,
    index_with_sets,
    upload,
    wait_for_job,
)

ADMIN_KEY = "admin-k3y-for-access-tests"
MARKER = ACCESS_MARKER
QUESTION = ACCESS_QUESTION
CHAT_MODEL = "assistant-extractive-sources"


@pytest.fixture(scope="module", params=["snapshot", "milvus"])
def setup(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, sample_assistant: Assistant
) -> Iterator[tuple[TestClient, dict[str, str]]]:
    """The two-set index on each store backend (Milvus Lite in a file of its own)."""
    store: dict[str, str] = {"store": request.param}
    root = tmp_path_factory.mktemp(f"access-{request.param}")
    if request.param == "milvus":
        pytest.importorskip("pymilvus", reason='the Milvus backend needs `pip install "assistant[milvus]"`')
        store["milvus_uri"] = str(root / "milvus.db")
    assistant = index_with_sets(root, sample_assistant, api_key=ADMIN_KEY, **store)
    index_dir = assistant.index_dir
    keys = KeyStore.for_index(index_dir)
    headers = {
        "public": {"Authorization": f"Bearer {keys.create('public-team', ['default'])}"},
        "hr": {"Authorization": f"Bearer {keys.create('hr-team', ['hr'])}"},
        "admin": {"Authorization": f"Bearer {ADMIN_KEY}"},
        "revoked": {"Authorization": f"Bearer {keys.create('gone', ['hr'])}"},
        "anonymous": {},
    }
    assert keys.revoke("gone")
    with TestClient(create_app(assistant.settings, assistant)) as client:
        yield client, {name: h["Authorization"] if h else "" for name, h in headers.items()}


ROUTES = [
    ("POST", "/ask", {"question": QUESTION}),
    ("POST", "/ask/stream", {"question": QUESTION}),
    ("POST", "/search", {"query": QUESTION}),
    ("POST", "/search", {"query": QUESTION, "filters": {"doc_ids": [SECRET_DOC]}}),
    ("GET", "/documents", None),
    (
        "POST",
        "/v1/chat/completions",
        {"model": CHAT_MODEL, "messages": [{"role": "user", "content": QUESTION}]},
    ),
]


def _call(client: TestClient, method: str, path: str, body: object, auth: str) -> str:
    headers = {"Authorization": auth} if auth else {}
    response = client.request(method, path, json=body, headers=headers)
    assert response.status_code == 200, response.text
    return response.text.lower()


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
@pytest.mark.parametrize("who", ["public", "anonymous"])
def test_a_caller_outside_the_set_never_sees_the_marker(
    setup: tuple[TestClient, dict[str, str]], who: str, method: str, path: str, body: object
) -> None:
    client, auth = setup
    assert MARKER not in _call(client, method, path, body, auth[who])


@pytest.mark.parametrize("who", ["public", "anonymous"])
def test_a_document_outside_the_callers_sets_is_404(
    setup: tuple[TestClient, dict[str, str]], who: str
) -> None:
    client, auth = setup
    headers = {"Authorization": auth[who]} if auth[who] else {}
    response = client.get(f"/documents/{SECRET_DOC}", headers=headers)
    assert response.status_code == 404
    assert MARKER not in response.json()["detail"].replace(SECRET_DOC, "")


@pytest.mark.parametrize("who", ["hr", "admin"])
def test_callers_in_the_set_see_it(setup: tuple[TestClient, dict[str, str]], who: str) -> None:
    client, auth = setup
    assert MARKER in _call(client, "POST", "/search", {"query": QUESTION}, auth[who])
    assert MARKER in _call(client, "GET", "/documents", None, auth[who])
    assert MARKER in _call(client, "GET", f"/documents/{SECRET_DOC}", None, auth[who])


def test_the_hr_key_sees_no_public_document(setup: tuple[TestClient, dict[str, str]]) -> None:
    client, auth = setup
    listed = client.get("/documents", headers={"Authorization": auth["hr"]}).json()["documents"]
    assert [(d["doc_id"], d["sets"]) for d in listed] == [(SECRET_DOC, ["hr"])]


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
def test_a_revoked_key_is_401(
    setup: tuple[TestClient, dict[str, str]], method: str, path: str, body: object
) -> None:
    client, auth = setup
    response = client.request(method, path, json=body, headers={"Authorization": auth["revoked"]})
    assert response.status_code == 401
    assert MARKER not in response.text.lower()


def test_a_scoped_key_may_not_delete(setup: tuple[TestClient, dict[str, str]]) -> None:
    client, auth = setup
    response = client.delete(f"/documents/{SECRET_DOC}", headers={"Authorization": auth["hr"]})
    assert response.status_code == 403


@pytest.mark.parametrize(("method", "path", "body"), [r for r in ROUTES if "doc_ids" not in str(r[2])])
def test_the_admin_key_sees_the_marker_on_every_route(
    setup: tuple[TestClient, dict[str, str]], method: str, path: str, body: object
) -> None:
    client, auth = setup
    assert MARKER in _call(client, method, path, body, auth["admin"])


def test_keys_cli_prints_a_key_once_stores_only_its_hash_and_revokes(tmp_path: Path) -> None:
    index = ["--index-dir", str(tmp_path / "index")]
    runner = CliRunner()
    created = runner.invoke(main, ["keys", "create", "finance", "--sets", "fin,default", *index])
    assert created.exit_code == 0, created.output
    key = created.stdout.strip()
    store = KeyStore.for_index(tmp_path / "index")
    found = store.lookup(key)
    assert found is not None and found.sets == ("default", "fin") and not found.admin
    assert key.encode() not in (tmp_path / "index" / "keys.sqlite").read_bytes()
    listed = runner.invoke(main, ["keys", "list", *index])
    assert "finance\tdefault,fin\tactive" in listed.output and key not in listed.output
    assert runner.invoke(main, ["keys", "revoke", "finance", *index]).exit_code == 0
    found = store.lookup(key)
    assert found is not None and found.revoked_at is not None
    again = runner.invoke(main, ["keys", "revoke", "finance", *index])
    assert again.exit_code != 0 and "no active key" in again.output


def test_an_upload_goes_into_the_sets_it_names(setup: tuple[TestClient, dict[str, str]]) -> None:
    client, auth = setup
    admin = {"Authorization": auth["admin"]}
    text = b"Payroll\n\nThe payroll closes on the twentieth of each month.\n"
    response = upload(client, ("uploaded-payroll.txt", text), data={"sets": "hr"}, headers=admin)
    assert response.status_code == 202, response.text
    job = wait_for_job(client, response.json()["job_id"], headers=admin)
    assert job["status"] == "done", job
    listed = {
        d["doc_id"]: d["sets"]
        for d in client.get("/documents", headers={"Authorization": auth["hr"]}).json()["documents"]
    }
    assert listed["uploaded-payroll"] == ["hr"]
    public = client.get("/documents", headers={"Authorization": auth["public"]}).json()["documents"]
    assert "uploaded-payroll" not in {d["doc_id"] for d in public}


@pytest.mark.parametrize(("who", "sets", "status"), [("hr", "hr", 403), ("admin", "no such!", 422)])
def test_an_upload_needs_the_admin_key_and_valid_set_names(
    setup: tuple[TestClient, dict[str, str]], who: str, sets: str, status: int
) -> None:
    client, auth = setup
    response = upload(client, ("x.txt", b"text"), data={"sets": sets}, headers={"Authorization": auth[who]})
    assert response.status_code == status, response.text


@pytest.mark.parametrize(
    ("who", "expected"),
    [("hr", {"hr": 2}), ("public", {"default": 1}), ("anonymous", {"default": 1}), ("admin", None)],
)
def test_sets_lists_only_the_callers_sets_with_counts(
    setup: tuple[TestClient, dict[str, str]], who: str, expected: dict[str, int] | None
) -> None:
    client, auth = setup
    headers = {"Authorization": auth[who]} if auth[who] else {}
    response = client.get("/sets", headers=headers)
    assert response.status_code == 200, response.text
    found = {s["name"]: s["documents"] for s in response.json()["sets"]}
    if expected is None:  # admin: every set of the index
        assert {"default", "hr"} <= set(found) and found["default"] >= 1
    else:
        # hr holds the planted document and, once the upload test ran, the payroll one
        assert set(found) == set(expected) and all(found[n] >= 1 for n in expected)


@pytest.mark.parametrize("sets", [["hr"], ["hr", "default"]])
def test_a_named_set_outside_the_callers_is_dropped_never_widened(
    setup: tuple[TestClient, dict[str, str]], sets: list[str]
) -> None:
    client, auth = setup
    body = {"query": QUESTION, "filters": {"sets": sets}}
    assert MARKER not in _call(client, "POST", "/search", body, auth["public"])


def test_a_named_set_narrows_an_admins_search(setup: tuple[TestClient, dict[str, str]]) -> None:
    client, auth = setup
    body = {"query": QUESTION, "filters": {"sets": ["default"]}}
    assert MARKER not in _call(client, "POST", "/search", body, auth["admin"])
    body = {"query": QUESTION, "filters": {"sets": ["hr"]}}
    response = client.post("/search", json=body, headers={"Authorization": auth["admin"]})
    assert {p["doc_id"] for p in response.json()["passages"]} <= {SECRET_DOC, "uploaded-payroll"}


def _audit_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, object]]:
    return [r.fields for r in caplog.records if r.name == "assistant.audit"]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [*ROUTES, ("GET", f"/documents/{SECRET_DOC}", None), ("GET", "/sets", None)],
)
def test_each_request_is_audited_with_the_key_name_route_status_and_documents(
    setup: tuple[TestClient, dict[str, str]],
    caplog: pytest.LogCaptureFixture,
    method: str,
    path: str,
    body: object,
) -> None:
    client, auth = setup
    with caplog.at_level(logging.INFO, logger="assistant.audit"):
        _call(client, method, path, body, auth["hr"])
    (line,) = _audit_lines(caplog)
    template = "/documents/{doc_id}" if path.startswith("/documents/") else path
    assert {k: line[k] for k in ("key", "method", "route", "status")} == {
        "key": "hr-team",
        "method": method,
        "route": template,
        "status": 200,
    }
    doc_ids = line["doc_ids"]
    assert isinstance(doc_ids, list) and len(doc_ids) == len(set(doc_ids))
    assert all(d in (SECRET_DOC, "uploaded-payroll") for d in doc_ids)
    assert bool(doc_ids) == (path != "/sets")  # every other route returned hr documents
    key = auth["hr"].removeprefix("Bearer ")
    assert all(
        key not in record.getMessage() and key not in str(record.__dict__) for record in caplog.records
    )


@pytest.mark.parametrize(("who", "status", "name"), [("revoked", 401, None), ("anonymous", 200, "public")])
def test_refused_and_anonymous_requests_are_audited_too(
    setup: tuple[TestClient, dict[str, str]],
    caplog: pytest.LogCaptureFixture,
    who: str,
    status: int,
    name: str | None,
) -> None:
    client, auth = setup
    headers = {"Authorization": auth[who]} if auth[who] else {}
    with caplog.at_level(logging.INFO, logger="assistant.audit"):
        response = client.get(f"/documents/{SECRET_DOC}", headers=headers)
        assert response.status_code == (401 if who == "revoked" else 404)
        client.get("/documents", headers=headers)
    first, second = _audit_lines(caplog)
    assert first["key"] == name and first["doc_ids"] == [] and first["status"] == response.status_code
    assert second["key"] == name and second["status"] == status and SECRET_DOC not in second["doc_ids"]  # type: ignore[operator]


def test_the_audit_line_is_one_json_object_with_its_fields(setup: tuple[TestClient, dict[str, str]]) -> None:
    client, auth = setup
    formatter = JsonFormatter()
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    audit = logging.getLogger("assistant.audit")
    audit.addHandler(handler)
    audit.setLevel(logging.INFO)
    try:
        client.post("/search", json={"query": QUESTION}, headers={"Authorization": auth["hr"]})
    finally:
        audit.removeHandler(handler)
    entry = json.loads(formatter.format(records[-1]))
    assert entry["key"] == "hr-team" and entry["route"] == "/search" and entry["status"] == 200
    assert SECRET_DOC in entry["doc_ids"] and entry["message"] == "POST /search 200"
