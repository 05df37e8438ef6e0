"""Content gaps: recorded from real answers and thumbs-down, grouped by the query embedder,
listed and exported for the admin key, and shown by the web UI in headless Chromium."""

from __future__ import annotations

import csv
import io
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import sync_playwright

from assistant.core import Assistant
from assistant.server import create_app
from assistant.state.gaps import GapStore
from tests.helpers import assistant_on, running_server
from tests.test_web_ui import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, PageErrors

KEY = "content-gaps-test-key-7a41"
OVEN = "What is the recommended oven temperature for baking sourdough bread?"
OVEN_AGAIN = "At what oven temperature should sourdough bread be baked?"
NEPTUNE = "How many moons does the planet Neptune have?"


@pytest.fixture(scope="module")
def server(
    sample_index_dir: Path, sample_assistant: Assistant, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The real app under uvicorn with an API key, after four answers and one thumbs-down."""
    own_copy = shutil.copytree(sample_index_dir, tmp_path_factory.mktemp("gaps") / "index", symlinks=True)
    for leftover in own_copy.glob("gaps.sqlite*"):  # start from no gaps, whatever ran before
        leftover.unlink()
    assistant = assistant_on(own_copy, sample_assistant, api_key=KEY, gaps_enabled=True)
    with running_server(create_app(assistant.settings, assistant)) as url:
        with httpx.Client(base_url=url, timeout=60) as http:
            for question in (OVEN, OVEN_AGAIN, NEPTUNE, OVEN):
                answer = http.post("/ask", json={"question": question}).json()
                assert answer["abstained"] or answer["confidence"] < 0.5, answer
            feedback = {"answer_id": "a-1", "rating": "down", "question": NEPTUNE}
            assert http.post("/feedback", json=feedback).status_code == 201
        yield url


def _admin(url: str) -> httpx.Client:
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {KEY}"}, timeout=60)


def test_gaps_need_the_admin_key(server: str) -> None:
    with httpx.Client(base_url=server) as http:
        assert http.get("/admin/gaps").status_code == 401
        assert http.get("/admin/gaps/export.csv").status_code == 401


def test_similar_questions_are_grouped_with_counts_and_documents(server: str) -> None:
    with _admin(server) as http:
        body = http.get("/admin/gaps").json()
    assert body["enabled"] is True and body["retention_days"] == 30
    groups = {group["question"]: group for group in body["groups"]}
    oven = next(g for g in body["groups"] if OVEN in g["questions"])
    assert set(oven["questions"]) == {OVEN, OVEN_AGAIN} and oven["count"] == 3
    neptune = next(g for g in body["groups"] if NEPTUNE in g["questions"])
    assert neptune["count"] == 2 and neptune["reasons"].get("thumbs_down") == 1
    assert oven is not neptune and len(groups) == 2
    assert body["groups"][0] is not None and body["groups"][0]["count"] == 3  # most asked first
    for group in (oven, neptune):
        assert group["documents"] and group["last_asked"]


def test_csv_export_has_one_row_per_record(server: str) -> None:
    with _admin(server) as http:
        response = http.get("/admin/gaps/export.csv")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == 5
    assert sorted(r["question"] for r in rows) == sorted([OVEN, OVEN_AGAIN, NEPTUNE, OVEN, NEPTUNE])
    assert {r["reason"] for r in rows} <= {"refused", "low_confidence", "thumbs_down"}
    assert all(r["documents"] for r in rows)


def test_retention_and_off_switch(
    mutable_index_dir: Path, sample_assistant: Assistant, tmp_path: Path
) -> None:
    store = GapStore(tmp_path / "gaps.sqlite", retention_days=30)
    store.record("old question?", "refused", ["doc-a"])
    with sqlite3.connect(store.path) as conn:
        conn.execute("UPDATE gaps SET created_at = '2000-01-01T00:00:00+00:00'")
    assert store.list() == []  # past the retention: no longer listed
    store.record("new question?", "refused", [])
    with sqlite3.connect(store.path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM gaps").fetchone()[0] == 1  # and deleted on write

    off = assistant_on(mutable_index_dir, sample_assistant, gaps_enabled=False)
    before = len(off.gaps.list())
    assert off.ask(OVEN).abstained
    assert len(off.gaps.list()) == before


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian Chromium is not installed at /usr/bin/chromium")
def test_gaps_page_in_chromium(server: str) -> None:
    errors = PageErrors()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 800}, base_url=server)
            context.add_init_script(f"sessionStorage.setItem('assistant.apiKey', '{KEY}');")
            page = context.new_page()
            errors.watch(page)
            page.goto("/")
            page.wait_for_selector("body[data-ready=true]")
            page.get_by_test_id("nav-gaps").click()
            groups = page.get_by_test_id("gap-group")
            groups.first.wait_for()
            assert groups.count() == 2
            assert "asked 3×" in groups.first.inner_text()
            assert OVEN_AGAIN in page.get_by_test_id("gaps-view").inner_text()
            assert page.get_by_test_id("gap-docs").first.locator("a").count() >= 1
            assert "5 questions in 2 groups" in page.get_by_test_id("gaps-summary").inner_text()
            with page.expect_download() as download:
                page.get_by_test_id("gaps-export").click()
            assert download.value.suggested_filename == "content-gaps.csv"
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "content-gaps.png"), full_page=True)
        finally:
            browser.close()
    assert not errors, errors
