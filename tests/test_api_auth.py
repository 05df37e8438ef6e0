"""API-key rules: which routes need the key, 401 details, constant-time checks, no key in logs."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from assistant.core import Assistant
from assistant.server import create_app
from assistant.server.auth import RateLimiter
from assistant.server.routes.web import WEB_DIR
from assistant.settings import Settings
from tests.conftest import EXAMPLE_QUESTION
from tests.helpers import (
    SURVEY_DOC,
    SURVEY_NAME,
    SURVEY_TEXT,
    app_on,
    assert_error,
    upload,
    upload_and_wait,
)

KEY = "k3y-for-tests-7f1c2a9e"
GOOD = {"Authorization": f"Bearer {KEY}"}
BAD_HEADERS = [
    {},
    {"Authorization": "Bearer wrong-key"},
    {"Authorization": f"Bearer {KEY}x"},
    {"Authorization": f"Basic {KEY}"},
    {"Authorization": KEY},
    {"Authorization": "Bearer "},
]

# (method, path, json body) for the routes that need the key whenever one is set
WRITE_ROUTES = [
    ("DELETE", f"/documents/{SURVEY_DOC}", None),
    ("GET", "/feedback", None),
    ("GET", "/jobs/0123456789abcdef", None),
]
# routes that need it only with ASSISTANT_REQUIRE_KEY_FOR_READ
READ_ROUTES = [
    ("POST", "/ask", {"question": EXAMPLE_QUESTION}),
    ("POST", "/ask/stream", {"question": EXAMPLE_QUESTION}),
    ("POST", "/search", {"query": "Resolution 598"}),
    ("GET", "/documents", None),
    ("GET", "/documents/zarif-how-iran-sees-the-path-to-peace", None),
    ("POST", "/feedback", {"answer_id": "a1", "rating": "up"}),
]


@pytest.fixture()
def keyed(mutable_index_dir: Path, sample_assistant: Assistant) -> Iterator[TestClient]:
    with TestClient(app_on(mutable_index_dir, sample_assistant, api_key=KEY)) as client:
        yield client


@pytest.fixture()
def locked(mutable_index_dir: Path, sample_assistant: Assistant) -> Iterator[TestClient]:
    app = app_on(mutable_index_dir, sample_assistant, api_key=KEY, require_key_for_read=True)
    with TestClient(app) as client:
        yield client


def _assert_401(client: TestClient, method: str, path: str, body: object, headers: dict[str, str]) -> None:
    response = client.request(method, path, json=body, headers=headers)
    assert_error(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize("headers", BAD_HEADERS)
def test_uploads_need_the_key(keyed: TestClient, mutable_index_dir: Path, headers: dict[str, str]) -> None:
    response = upload(keyed, (SURVEY_NAME, SURVEY_TEXT.encode()), headers=headers)

    assert_error(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert not (mutable_index_dir / "uploads").exists()


@pytest.mark.parametrize("headers", BAD_HEADERS)
@pytest.mark.parametrize(("method", "path", "body"), WRITE_ROUTES)
def test_writes_and_feedback_list_need_the_key(
    keyed: TestClient, headers: dict[str, str], method: str, path: str, body: object
) -> None:
    _assert_401(keyed, method, path, body, headers)


def test_missing_and_wrong_keys_are_told_apart(keyed: TestClient) -> None:
    missing = assert_error(keyed.get("/feedback"), 401, "Authorization: Bearer")
    wrong = keyed.get("/feedback", headers={"Authorization": "Bearer nope"})
    assert_error(wrong, 401, "not valid")
    assert wrong.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    assert missing["detail"] != wrong.json()["detail"]


def test_with_the_key_uploads_deletes_and_lists_work(keyed: TestClient) -> None:
    job = upload_and_wait(keyed, SURVEY_NAME, SURVEY_TEXT.encode(), headers=GOOD)
    assert job["status"] == "done" and job["report"]["added"] == [SURVEY_DOC]

    assert keyed.post("/feedback", json={"answer_id": "a1", "rating": "down"}).status_code == 201
    assert [r["answer_id"] for r in keyed.get("/feedback", headers=GOOD).json()["feedback"]] == ["a1"]
    assert keyed.delete(f"/documents/{SURVEY_DOC}", headers=GOOD).json() == {"deleted": SURVEY_DOC}
    assert_error(keyed.get(f"/documents/{SURVEY_DOC}"), 404)


@pytest.mark.parametrize(("method", "path", "body"), READ_ROUTES)
def test_reading_stays_open_by_default(keyed: TestClient, method: str, path: str, body: object) -> None:
    response = keyed.request(method, path, json=body)
    assert response.status_code in (200, 201), response.text


@pytest.mark.parametrize(("method", "path", "body"), READ_ROUTES)
def test_reading_needs_the_key_when_required(
    locked: TestClient, method: str, path: str, body: object
) -> None:
    for headers in BAD_HEADERS:
        _assert_401(locked, method, path, body, headers)
    response = locked.request(method, path, json=body, headers=GOOD)
    assert response.status_code in (200, 201), response.text


def test_health_and_ui_never_need_the_key(locked: TestClient) -> None:
    assert locked.get("/health").status_code == 200
    assert locked.get("/openapi.json").status_code == 200
    if (WEB_DIR / "index.html").is_file():
        assert locked.get("/").status_code == 200
        asset = next(p for p in sorted(WEB_DIR.iterdir()) if p.is_file())
        assert locked.get(f"/static/{asset.name}").status_code == 200


def test_without_a_configured_key_everything_is_open(
    mutable_index_dir: Path, sample_assistant: Assistant
) -> None:
    with TestClient(app_on(mutable_index_dir, sample_assistant)) as client:
        assert client.get("/feedback", headers={"Authorization": "Bearer anything"}).status_code == 200
        assert_error(client.delete("/documents/none"), 404)  # reached the route


def test_key_required_for_read_without_a_key_is_refused_at_startup(sample_assistant: Assistant) -> None:
    settings = Settings(index_dir=sample_assistant.index_dir, require_key_for_read=True)
    with pytest.raises(ValueError, match="ASSISTANT_API_KEY"):
        create_app(settings, sample_assistant)


def test_the_key_never_reaches_the_log(keyed: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    keyed.get("/feedback", headers={"Authorization": "Bearer guess-one"})
    keyed.get("/feedback", headers=GOOD)
    upload_and_wait(keyed, SURVEY_NAME, SURVEY_TEXT.encode(), headers=GOOD)

    assert "wrong API key" in caplog.text  # the rejection is logged...
    assert KEY not in caplog.text and "guess-one" not in caplog.text  # ...the keys are not


def test_openapi_documents_the_bearer_scheme(keyed: TestClient) -> None:
    spec = keyed.get("/openapi.json").json()
    schemes = spec["components"]["securitySchemes"]
    assert any(s["type"] == "http" and s["scheme"].lower() == "bearer" for s in schemes.values())
    for method, path, _ in [("POST", "/documents", None), *WRITE_ROUTES]:
        operation = spec["paths"][_template(path)][method.lower()]
        assert operation["security"] and "401" in operation["responses"], path
    for method, path, _ in READ_ROUTES:  # open unless ASSISTANT_REQUIRE_KEY_FOR_READ is set
        operation = spec["paths"][_template(path)][method.lower()]
        assert "security" not in operation and "401" not in operation["responses"], path
    assert "security" not in spec["paths"]["/health"]["get"]


def _template(path: str) -> str:
    if path.startswith("/documents/"):
        return "/documents/{doc_id}"
    if path.startswith("/jobs/"):
        return "/jobs/{job_id}"
    return path


# --- the rate limiter on its own clock ---------------------------------------------------------


def test_rate_limiter_allows_a_burst_then_refills_evenly() -> None:
    limiter = RateLimiter(per_minute=3)

    assert [limiter.acquire("a", now=0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = limiter.acquire("a", now=0.0)
    assert wait == pytest.approx(20.0)
    assert limiter.acquire("b", now=0.0) == 0.0  # clients are counted separately
    assert limiter.acquire("a", now=19.0) > 0
    assert limiter.acquire("a", now=40.0) == 0.0


def test_rate_limiter_off_when_zero() -> None:
    limiter = RateLimiter(per_minute=0)
    assert not limiter.enabled
    assert all(limiter.acquire("a", now=0.0) == 0.0 for _ in range(1_000))


def test_rate_limiter_forgets_idle_clients(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(RateLimiter, "_MAX_CLIENTS", 10)
    limiter = RateLimiter(per_minute=60)
    for n in range(10):
        limiter.acquire(f"c{n}", now=0.0)
    limiter.acquire("late", now=120.0)  # everyone else has refilled by now

    assert set(limiter._buckets) == {"late"}
