"""The documents view lists registered sources in a real browser: last sync, counts, errors.

Its own server over a copy of the sample index with a website source synced from a local site
(one page excluded by robots.txt); the browser, page and helpers are test_web_ui's.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page

from assistant.core import Assistant
from assistant.sources.web import WebSource
from tests.helpers import app_on, assistant_on, running_server
from tests.site_server import serve_site
from tests.test_web_ui import ARTIFACTS, LiveServer, browser, page, pytestmark

# test_web_ui's browser and page fixtures, over this module's live_server
__all__ = ["browser", "page", "pytestmark"]


@pytest.fixture(scope="module")
def synced_index(
    sample_index_dir: Path, sample_assistant: Assistant, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, str]:
    """A copy of the sample index with a website source synced once; (index dir, site URL)."""
    index_dir = tmp_path_factory.mktemp("web-ui-sources") / "index"
    shutil.copytree(sample_index_dir, index_dir, symlinks=True)
    with serve_site() as site:
        site.routes["/robots.txt"] = (200, "text/plain", b"User-agent: *\nDisallow: /private/\n")
        links = ("/tide.html", "/private/x.html")
        site.page("/", "Harbour Guide", "The harbour guide lists the sights.", links=links)
        site.page("/tide.html", "Tides", "High tide at the quay comes at noon today.")
        assistant = assistant_on(index_dir, sample_assistant)
        assistant.sources().add(WebSource(site.base + "/", max_pages=10))
        [status] = assistant.sync_registered()
        assert status.counts["added"] == 2, status
        return index_dir, site.base


@pytest.fixture(scope="module")
def live_server(synced_index: tuple[Path, str], sample_assistant: Assistant) -> Iterator[LiveServer]:
    with running_server(app_on(synced_index[0], sample_assistant)) as url:
        yield LiveServer(url=url)


def test_documents_view_shows_each_source_with_its_sync_counts_and_errors(
    page: Page, synced_index: tuple[Path, str]
) -> None:
    site_base = synced_index[1]
    page.get_by_test_id("nav-documents").click()
    row = page.get_by_test_id("source-row")
    row.wait_for()
    assert row.count() == 1
    text = row.inner_text()
    assert f"web {site_base}/" in text
    assert "synced" in text and "never synced" not in text
    assert "2 added" in text
    error = row.get_by_test_id("source-error")
    assert error.count() == 1
    assert f"{site_base}/private/x.html" in error.inner_text()
    assert "excluded by robots.txt" in error.inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "documents-sources.png"))
