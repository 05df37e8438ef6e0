"""Document sets through every HTTP route: a key scoped to other sets never sees a forbidden
document (ask, stream, search, listing, get, OpenAI chat), the admin key does, a revoked key is 401."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from assistant.cli import main
from assistant.core import Assistant
from assistant.server import create_app
from assistant.state.keys import KeyStore
from tests.helpers import assistant_on, upload, wait_for_job

ADMIN_KEY = "admin-k3y-for-access-tests"
#: planted only in the document of the `hr` set (also in its file name, so in its doc_id)
MARKER = "zorblax"
SECRET_DOC = f"{MARKER}-salaries"
QUESTION = "What is the salary band for engineers?"
CHAT_MODEL = "assistant-extractive-sources"
DOCS = {
    "pub/handbook.txt": "Handbook\n\nThe office opens at nine. Engineers ask the front desk about parking.\n",
    f"hr/{SECRET_DOC}.txt": (
        f"Salaries\n\nThe salary band for engineers is {MARKER} grade seven, paid monthly.\n"
    ),
}


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
    for name, text in DOCS.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    index_dir = root / "index"
    assistant = assistant_on(index_dir, sample_assistant, api_key=ADMIN_KEY, **store)
    assistant.index_paths([root / "pub"])
    assistant.index_paths([root / "hr"], sets=["hr"])
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
