"""A tentative answer in a real browser: its mark, the words, and its passages.

Its own server over the sample index with `confident_threshold=1.0`, so the example question's
answer is tentative; the browser, page and helpers are test_web_ui's.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page

from assistant.core import Assistant
from tests.conftest import EXAMPLE_QUESTION
from tests.helpers import app_on, running_server
from tests.test_web_ui import ARTIFACTS, LiveServer, ask, browser, page, pytestmark

# test_web_ui's browser and page fixtures, over this module's live_server
__all__ = ["browser", "page", "pytestmark"]


@pytest.fixture(scope="module")
def live_server(sample_index_dir: Path, sample_assistant: Assistant) -> Iterator[LiveServer]:
    with running_server(app_on(sample_index_dir, sample_assistant, confident_threshold=1.0)) as url:
        yield LiveServer(url=url)


def test_tentative_answer_is_marked_and_lists_its_passages(page: Page) -> None:
    answer, node = ask(page, EXAMPLE_QUESTION)
    assert answer["tentative"] and not answer["abstained"]
    assert node.get_attribute("data-state") == "tentative"
    badge = node.get_by_test_id("tentative")
    assert badge.is_visible()
    assert "may not answer your question" in badge.inner_text().lower()
    assert node.get_by_test_id("source").count() == len(answer["citations"]) > 0
    assert node.get_by_test_id("passage").count() == len(answer["passages"])
    border = node.locator(".answer__main").evaluate("n => getComputedStyle(n).borderLeftWidth")
    assert border == "4px"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "chat-tentative.png"))
