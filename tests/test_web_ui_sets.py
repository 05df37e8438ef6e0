"""The set picker in a real browser: the caller's sets with their counts, a choice that narrows
the question (and survives a reload), and a stored choice outside the caller's sets that is dropped.

Its own server over ACCESS_DOCS (the handbook in `default`, the marker's document in `hr`); the
browser and helpers are test_web_ui's.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from assistant.core import Assistant
from assistant.state.keys import KeyStore
from tests.helpers import (
    ACCESS_MARKER,
    ACCESS_QUESTION,
    SECRET_DOC,
    assistant_on,
    index_with_sets,
    running_server,
)
from tests.test_web_ui import ARTIFACTS, TIMEOUT_MS, LiveServer, PageErrors, ask, browser, pytestmark

__all__ = ["browser", "pytestmark"]

#: the running server, the issued keys by role, the index folder
Served = tuple[LiveServer, dict[str, str], Path]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, sample_assistant: Assistant) -> Iterator[Served]:
    from assistant.server import create_app

    assistant = index_with_sets(tmp_path_factory.mktemp("web-sets"), sample_assistant)
    keys = KeyStore.for_index(assistant.index_dir)
    issued = {
        "both": keys.create("both-sets", ["default", "hr"]),
        "public": keys.create("handbook", ["default"]),
    }
    with running_server(create_app(assistant.settings, assistant)) as url:
        yield LiveServer(url=url), issued, assistant.index_dir


def _open(browser: Browser, server: LiveServer, key: str, chosen: list[str] | None = None) -> Page:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, base_url=server.url)
    context.set_default_timeout(TIMEOUT_MS)
    script = f"sessionStorage.setItem('assistant.apiKey', {json.dumps(key)});"
    if chosen is not None:  # as a tab would hold it from an earlier visit
        script += f"sessionStorage.setItem('assistant.sets', {json.dumps(json.dumps(chosen))});"
    context.add_init_script(script)
    page = context.new_page()
    page.goto("/")
    page.wait_for_selector("body[data-ready=true]")
    return page


def _sent_and_answer(page: Page) -> tuple[dict[str, Any], dict[str, Any]]:
    with page.expect_request(lambda request: request.url.endswith("/ask/stream")) as sent:
        answer, _ = ask(page, ACCESS_QUESTION)
    return json.loads(sent.value.post_data or "{}"), answer


def test_the_picker_lists_the_callers_sets_and_a_choice_narrows_the_question(
    browser: Browser, served: Served
) -> None:
    server, keys, _ = served
    errors = PageErrors()
    page = _open(browser, server, keys["both"])
    errors.watch(page)
    try:
        picker = page.get_by_test_id("set-picker")
        picker.wait_for(state="visible")
        options = picker.get_by_test_id("set-option")
        assert [options.nth(i).inner_text().split() for i in range(options.count())] == [
            ["default", "1"],
            ["hr", "1"],
        ]
        assert "all your sets" in picker.inner_text()

        body, answer = _sent_and_answer(page)  # nothing ticked: every set of the key
        assert "filters" not in body
        assert SECRET_DOC in {p["doc_id"] for p in answer["passages"]}

        options.filter(has_text="default").locator("input").check()
        body, answer = _sent_and_answer(page)
        assert body["filters"] == {"sets": ["default"]}
        assert ACCESS_MARKER not in json.dumps(answer).lower()
        shown = page.get_by_test_id("turn").last.get_by_test_id("answer").inner_text()
        assert ACCESS_MARKER not in shown.lower() and "null" not in shown
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "chat-sets.png"))

        page.reload()
        page.wait_for_selector("body[data-ready=true]")
        picker.wait_for(state="visible")
        assert picker.get_by_test_id("set-option").filter(has_text="default").locator("input").is_checked()
    finally:
        page.context.close()
    assert not errors, errors


def test_a_stored_choice_outside_the_callers_sets_is_dropped(browser: Browser, served: Served) -> None:
    server, keys, _ = served
    page = _open(browser, server, keys["public"], chosen=["hr"])
    try:
        page.wait_for_function("() => sessionStorage.getItem('assistant.sets') === null")
        assert page.get_by_test_id("set-picker").is_hidden()  # one set: nothing to choose
        body, answer = _sent_and_answer(page)
        assert "filters" not in body
        assert ACCESS_MARKER not in json.dumps(answer).lower()
        # Even a request that names the set itself gets nothing from it.
        forced = page.evaluate(
            """async ([question, key]) => {
              const response = await fetch('/ask', {method: 'POST', headers: {
                'Content-Type': 'application/json', Authorization: `Bearer ${key}`},
                body: JSON.stringify({question, filters: {sets: ['hr']}})});
              return await response.text();
            }""",
            [ACCESS_QUESTION, keys["public"]],
        )
        assert ACCESS_MARKER not in forced.lower()
    finally:
        page.context.close()


def test_when_reads_need_a_key_the_picker_appears_once_the_key_is_given(
    browser: Browser, served: Served, sample_assistant: Assistant
) -> None:
    from assistant.server import create_app

    _, keys, index_dir = served
    guarded = assistant_on(
        index_dir, sample_assistant, api_key="admin-key-web-sets", require_key_for_read=True
    )
    errors = PageErrors()
    with running_server(create_app(guarded.settings, guarded)) as url:
        context = browser.new_context(viewport={"width": 1280, "height": 800}, base_url=url)
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()
        errors.watch(page)
        try:
            page.goto("/")
            page.wait_for_selector("body[data-ready=true]")
            picker = page.get_by_test_id("set-picker")
            assert picker.is_hidden()
            assert page.get_by_test_id("api-key-dialog").count() == 0  # loading the sets never prompts
            box = page.get_by_test_id("question-input")
            box.fill(ACCESS_QUESTION)
            box.press("Enter")
            page.get_by_test_id("api-key-input").fill(keys["both"])
            page.get_by_test_id("api-key-save").click()
            picker.wait_for(state="visible")
            assert picker.get_by_test_id("set-option").count() == 2
        finally:
            context.close()
    assert not errors, errors
