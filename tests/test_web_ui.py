"""The web UI in a real browser: Debian's headless Chromium driving the real server and model.

One server per module (uvicorn on a free loopback port, over a private copy of the sample
index, with an API key so uploads exercise the key prompt). Each test gets a fresh browser
context, so localStorage and sessionStorage start empty.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import uvicorn
from playwright.sync_api import Browser, ConsoleMessage, Locator, Page, sync_playwright

from tests.conftest import EXAMPLE_QUESTION, REPO_ROOT

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = REPO_ROOT / "test-artifacts"
API_KEY = "web-ui-browser-test-key-5d1c9e"
EXAMPLE_DOC = "zarif-how-iran-sees-the-path-to-peace"
TIMEOUT_MS = 60_000

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="Debian Chromium is not installed at /usr/bin/chromium (run .ci/install-chromium.sh)",
    ),
]

LIGHTHOUSE_TEXT = """Kestrel Point Lighthouse Ledger

The Kestrel Point lighthouse was first lit on 14 March 1872, after four years of construction \
on the basalt headland.
Its keeper, Ingrid Solberg, recorded every passing ship in a leather ledger that survives in \
the harbor museum.
The lamp used a second-order Fresnel lens imported from Paris.
In 1931 the station was electrified, and the last resident keeper left in 1968.
"""
LIGHTHOUSE_QUESTION = "When was the Kestrel Point lighthouse first lit?"

SCRIPT_PAYLOAD = "<script>window.__pwned=1</script>"
IMG_PAYLOAD = '<img src=x onerror="window.__pwned=1">'
LINK_PAYLOAD = '<a href="javascript:window.__pwned=1">javascript:window.__pwned=1</a>'
MD_LINK_PAYLOAD = "[the archive](javascript:window.__pwned=1)"
XSS_TEXT = f"""Quillfeather Guild <b>minutes</b>

The Quillfeather guild adopted its charter in 1907 {IMG_PAYLOAD} after a long debate in the \
river hall.
Members were warned about the {SCRIPT_PAYLOAD} tag that someone pasted onto the notice board.
The guild newsletter linked to {LINK_PAYLOAD} by mistake, and also to {MD_LINK_PAYLOAD}.
"""
XSS_QUESTION = "When did the Quillfeather guild adopt its charter?"

OFF_TOPIC_QUESTION = "What is the recommended oven temperature for baking sourdough bread?"


@dataclass(frozen=True)
class LiveServer:
    url: str

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=60)


@pytest.fixture(scope="module")
def live_server(sample_index_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The real app under uvicorn on a free 127.0.0.1 port, in a background thread."""
    from assistant.server import create_app
    from assistant.settings import Settings

    index_dir = tmp_path_factory.mktemp("web-ui") / "index"
    shutil.copytree(sample_index_dir, index_dir, symlinks=True)
    with pytest.MonkeyPatch.context() as patch:
        # Module fixtures run before the autouse env isolation: do it here too.
        for key in [name for name in os.environ if name.startswith("ASSISTANT_")]:
            patch.delenv(key)
        settings = Settings(_env_file=None, index_dir=index_dir, api_key=API_KEY)
        app = create_app(settings)

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the server did not start")
        time.sleep(0.05)
    try:
        yield LiveServer(url=f"http://127.0.0.1:{port}")
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield instance
        instance.close()


class PageErrors(list[str]):
    """Script errors and console errors (CSP violations are console errors) seen by a page."""

    def watch(self, page: Page) -> None:
        page.on("pageerror", lambda error: self.append(f"pageerror: {error}"))
        page.on("console", self._on_console)

    def _on_console(self, message: ConsoleMessage) -> None:
        # A 401 before the key prompt is expected; the browser logs it as a failed resource.
        if message.type == "error" and "status of 401" not in message.text:
            self.append(f"console: {message.text}")


def _new_page(browser: Browser, server: LiveServer, *, with_key: bool, errors: PageErrors) -> Page:
    context = browser.new_context(
        viewport={"width": 1280, "height": 800}, base_url=server.url, color_scheme="light"
    )
    context.set_default_timeout(TIMEOUT_MS)
    if with_key:
        context.add_init_script(f"sessionStorage.setItem('assistant.apiKey', {json.dumps(API_KEY)});")
    page = context.new_page()
    errors.watch(page)
    return page


@pytest.fixture()
def page(browser: Browser, live_server: LiveServer) -> Iterator[Page]:
    """A fresh context whose tab already holds the API key (as after answering the prompt)."""
    errors = PageErrors()
    page = _new_page(browser, live_server, with_key=True, errors=errors)
    page.goto("/")
    page.wait_for_selector("body[data-ready=true]")
    yield page
    page.context.close()
    assert not errors, errors


def parse_sse(body: str) -> list[tuple[str, str]]:
    """(event, data) pairs of a text/event-stream body."""
    events = []
    for block in re.split(r"\r?\n\r?\n", body):
        name, data = "message", []
        for line in block.splitlines():
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].removeprefix(" "))
        if data:
            events.append((name, "\n".join(data)))
    return events


def ask(page: Page, question: str) -> tuple[dict[str, Any], Locator]:
    """Type a question, press Enter, wait for the final answer; returns (Answer JSON, its node)."""
    box = page.get_by_test_id("question-input")
    box.fill(question)
    with page.expect_response(lambda response: response.url.endswith("/ask/stream")) as info:
        box.press("Enter")
    events = parse_sse(info.value.text())
    assert [name for name, _ in events if name == "error"] == [], events
    finals = [json.loads(data) for name, data in events if name == "answer"]
    assert len(finals) == 1, events
    answer_node = page.get_by_test_id("turn").last.get_by_test_id("answer")
    page.wait_for_function("node => node.dataset.state !== 'streaming'", arg=answer_node.element_handle())
    return finals[0], answer_node


def text_of(locator: Locator) -> str:
    """The exact textContent (inner_text would re-flow whitespace)."""
    return str(locator.evaluate("node => node.textContent"))


def upload(page: Page, paths: list[Path]) -> Locator:
    """Upload through the documents view's file input; returns the finished upload card."""
    page.get_by_test_id("nav-documents").click()
    page.get_by_test_id("file-input").set_input_files([str(path) for path in paths])
    card = page.get_by_test_id("upload").first
    page.wait_for_function(
        "node => !['uploading', 'indexing'].includes(node.dataset.state)",
        arg=card.element_handle(),
    )
    return card


def highlight_is_visible(page: Page) -> bool:
    return bool(
        page.evaluate(
            """() => {
              const mark = document.querySelector('[data-testid=doc-highlight]').getBoundingClientRect();
              const body = document.querySelector('#viewer [data-role=body]').getBoundingClientRect();
              return mark.top < body.bottom && mark.bottom > body.top;
            }"""
        )
    )


def test_example_question_streams_a_cited_answer_and_highlights_the_quote(
    page: Page, live_server: LiveServer
) -> None:
    box = page.get_by_test_id("question-input")
    box.fill("What legal basis")
    box.press("Shift+Enter")
    assert box.input_value() == "What legal basis\n"
    assert page.get_by_test_id("turn").count() == 0

    answer, node = ask(page, EXAMPLE_QUESTION)
    assert not answer["abstained"]
    assert "Resolution 598" in answer["answer"]
    answer_text = text_of(node.get_by_test_id("answer-text"))
    assert "Resolution 598" in answer_text
    assert not re.search(r"\[\d+\]", answer_text), "markers should render as chips"
    markers = [int(n) for n in re.findall(r"\[(\d+)\]", answer["answer"])]
    assert markers
    chips = node.get_by_test_id("citation-chip")
    assert [int(chips.nth(i).inner_text()) for i in range(chips.count())] == markers
    assert node.get_by_test_id("source").count() == len(answer["citations"])
    assert EXAMPLE_DOC in {citation["doc_id"] for citation in answer["citations"]}

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "chat.png"))

    citation = next(c for c in answer["citations"] if c["marker"] == markers[0])
    node.locator(f"[data-testid=citation-chip][data-marker='{markers[0]}']").first.click()
    panel = page.get_by_test_id("doc-panel")
    highlight = panel.get_by_test_id("doc-highlight")
    highlight.wait_for()
    assert text_of(highlight) == citation["quote"]
    assert panel.get_by_test_id("doc-panel-title").inner_text() == citation["title"]
    expected_hash = f"#/doc/{quote(citation['doc_id'])}?start={citation['start']}&end={citation['end']}"
    assert page.evaluate("location.hash") == expected_hash
    page.wait_for_function("() => document.querySelector('[data-testid=doc-highlight]')")
    page.wait_for_timeout(200)  # scrollIntoView runs on the next frame
    assert highlight_is_visible(page)
    page.screenshot(path=str(ARTIFACTS / "chat-source.png"))

    page.keyboard.press("Escape")
    panel.wait_for(state="hidden")
    assert page.evaluate("location.hash") == "#/"

    # The source card opens the same range.
    node.get_by_test_id("source").first.click()
    highlight.wait_for()
    first = answer["citations"][0]
    assert text_of(highlight) == first["quote"]
    page.get_by_test_id("doc-panel-close").click()
    panel.wait_for(state="hidden")

    page.set_viewport_size({"width": 360, "height": 780})
    page.wait_for_timeout(300)
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    page.screenshot(path=str(ARTIFACTS / "chat-phone.png"))
    # On a phone the panel is a full-screen sheet.
    chips.first.click()
    highlight.wait_for()
    box_ = panel.bounding_box()
    assert box_ is not None and box_["width"] >= 359 and box_["x"] <= 1
    page.wait_for_timeout(300)
    page.screenshot(path=str(ARTIFACTS / "chat-phone-source.png"))

    page.emulate_media(color_scheme="dark")
    page.keyboard.press("Escape")
    page.set_viewport_size({"width": 1280, "height": 800})
    page.wait_for_timeout(300)
    page.screenshot(path=str(ARTIFACTS / "chat-dark.png"))


def test_deep_link_opens_the_document_at_the_range(page: Page, live_server: LiveServer) -> None:
    with live_server.client() as client:
        text = client.get(f"/documents/{EXAMPLE_DOC}").json()["text"]
    start = text.index("Resolution 598")
    end = start + len("Resolution 598")
    page.goto(f"/#/doc/{EXAMPLE_DOC}?start={start}&end={end}")
    highlight = page.get_by_test_id("doc-highlight")
    highlight.wait_for()
    assert text_of(highlight) == text[start:end]
    assert text_of(page.get_by_test_id("doc-text")) == text
    page.wait_for_timeout(200)
    assert highlight_is_visible(page)


def test_upload_ask_about_it_and_delete_it(page: Page, live_server: LiveServer, tmp_path: Path) -> None:
    doc = tmp_path / "kestrel-point-ledger.txt"
    doc.write_text(LIGHTHOUSE_TEXT, encoding="utf-8")
    broken = tmp_path / "broken-scan.pdf"
    broken.write_bytes(b"this is not a PDF at all")

    card = upload(page, [doc, broken])
    assert card.get_attribute("data-state") == "partial"
    assert "1 document ready" in card.get_by_test_id("upload-status").inner_text()
    skipped = card.get_by_test_id("upload-skipped")
    assert skipped.count() == 1 and "broken-scan.pdf" in skipped.inner_text()
    row = page.locator("[data-testid=document-row][data-doc-id='kestrel-point-ledger']")
    row.wait_for()
    assert row.locator("td.num").inner_text() != ""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "documents.png"))

    page.get_by_test_id("new-chat").click()
    answer, node = ask(page, LIGHTHOUSE_QUESTION)
    assert not answer["abstained"], answer["answer"]
    assert "kestrel-point-ledger" in {c["doc_id"] for c in answer["citations"]}
    assert "1872" in text_of(node.get_by_test_id("answer-text"))
    assert node.get_by_test_id("citation-chip").count() >= 1
    titles = [text_of(t) for t in node.get_by_test_id("source-title").all()]
    cited = next(c for c in answer["citations"] if c["doc_id"] == "kestrel-point-ledger")
    assert cited["title"] in titles

    page.get_by_test_id("nav-documents").click()
    row.wait_for()
    # Escape cancels the confirmation and keeps the document.
    row.get_by_test_id("delete-document").click()
    dialog = page.get_by_test_id("confirm-dialog")
    dialog.wait_for()
    page.keyboard.press("Escape")
    dialog.wait_for(state="detached")
    assert row.count() == 1

    row.get_by_test_id("delete-document").click()
    page.get_by_test_id("confirm-ok").click()
    row.wait_for(state="detached")
    with live_server.client() as client:
        listed = {d["doc_id"] for d in client.get("/documents").json()["documents"]}
        assert "kestrel-point-ledger" not in listed
        assert client.get("/documents/kestrel-point-ledger").status_code == 404


def test_hostile_document_renders_as_text_and_runs_nothing(
    page: Page, live_server: LiveServer, tmp_path: Path
) -> None:
    probe = tmp_path / "xss-probe.txt"
    probe.write_text(XSS_TEXT, encoding="utf-8")
    card = upload(page, [probe])
    assert card.get_attribute("data-state") == "done", card.inner_text()
    try:
        row = page.locator("[data-testid=document-row][data-doc-id='xss-probe']")
        row.wait_for()
        assert row.locator("b").count() == 0

        page.get_by_test_id("new-chat").click()
        answer, node = ask(page, XSS_QUESTION)
        assert "xss-probe" in {c["doc_id"] for c in answer["citations"]}, answer
        assert IMG_PAYLOAD in answer["answer"]
        shown = text_of(node.get_by_test_id("answer-text"))
        assert IMG_PAYLOAD in shown
        quotes = [text_of(q) for q in node.get_by_test_id("source-quote").all()]
        assert any(IMG_PAYLOAD in q for q in quotes)

        with live_server.client() as client:
            text = client.get("/documents/xss-probe").json()["text"]
        start = text.index(SCRIPT_PAYLOAD)
        page.goto(f"/#/doc/xss-probe?start={start}&end={start + len(SCRIPT_PAYLOAD)}")
        highlight = page.get_by_test_id("doc-highlight")
        highlight.wait_for()
        assert text_of(highlight) == SCRIPT_PAYLOAD
        panel_text = text_of(page.get_by_test_id("doc-text"))
        for payload in (SCRIPT_PAYLOAD, IMG_PAYLOAD, LINK_PAYLOAD, MD_LINK_PAYLOAD):
            assert payload in panel_text
        page.wait_for_timeout(300)
        assert page.evaluate("typeof window.__pwned") == "undefined"
        assert page.locator("img, iframe, object, embed").count() == 0
        assert page.locator("a[href^='javascript']").count() == 0
        assert page.locator("script").count() == 1  # the app's own module
        assert page.locator("#viewer b, #viewer script, #viewer a").count() == 0
    finally:
        with live_server.client() as client:
            client.delete("/documents/xss-probe")


def test_abstention_looks_different_and_lists_the_closest_passages(page: Page) -> None:
    answered, answered_node = ask(page, EXAMPLE_QUESTION)
    assert not answered["abstained"]
    answered_style = answered_node.locator(".answer__main").evaluate(
        "n => getComputedStyle(n).backgroundColor"
    )

    page.get_by_test_id("new-chat").click()
    answer, node = ask(page, OFF_TOPIC_QUESTION)
    assert answer["abstained"], answer["answer"]
    assert node.get_attribute("data-state") == "abstained"
    assert "not covered" in node.get_by_test_id("abstention").inner_text().lower()
    assert text_of(node.get_by_test_id("answer-text")) == answer["answer"].strip()
    assert node.get_by_test_id("citation-chip").count() == 0
    assert node.get_by_test_id("source").count() == 0
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "chat-abstained.png"))
    assert node.get_by_test_id("passage").count() == len(answer["passages"])
    if len(answer["passages"]) > 3:
        assert node.locator("[data-testid=passage]:visible").count() == 3
        node.get_by_test_id("more-passages").click()
        assert node.locator("[data-testid=passage]:visible").count() == len(answer["passages"])
    style = node.locator(".answer__main").evaluate("n => getComputedStyle(n).backgroundColor")
    assert style != answered_style
    if answer["passages"]:
        passage = answer["passages"][0]
        node.get_by_test_id("passage").first.click()
        assert text_of(page.get_by_test_id("doc-highlight")) == passage["text"]


def test_follow_up_in_the_same_chat_sends_history_and_is_answered(page: Page) -> None:
    ask(page, OFF_TOPIC_QUESTION)
    with page.expect_request(lambda request: request.url.endswith("/ask/stream")) as sent:
        answer, node = ask(page, EXAMPLE_QUESTION)
    assert sent.value.post_data_json == {
        "question": EXAMPLE_QUESTION,
        "history": [{"question": OFF_TOPIC_QUESTION}],  # an abstention carries no answer
    }
    assert page.get_by_test_id("turn").count() == 2
    assert not answer["abstained"], "an earlier question must not stop this one being answered"
    assert "Resolution 598" in text_of(node.get_by_test_id("answer-text"))
    assert node.get_by_test_id("searched-for").count() == 0  # asked as it stands


def test_follow_up_leaning_on_the_last_answer_shows_what_was_searched(page: Page) -> None:
    first_question = "Which UN resolution ended the war between Iran and Iraq?"
    first, _ = ask(page, first_question)
    with page.expect_request(lambda request: request.url.endswith("/ask/stream")) as sent:
        _, node = ask(page, "When was that resolution adopted?")
    [turn] = sent.value.post_data_json["history"]
    assert turn == {"question": first_question, "answer": first["answer"], "citations": first["citations"]}
    assert "1987" in text_of(node.get_by_test_id("answer-text"))
    assert text_of(node.get_by_test_id("searched-for")) == "Searched for: When was Resolution 598 adopted?"


def test_feedback_is_recorded_and_history_survives_a_reload(page: Page, live_server: LiveServer) -> None:
    answer, node = ask(page, EXAMPLE_QUESTION)
    node.get_by_test_id("feedback-down").click()
    node.get_by_test_id("feedback-comment").fill("Quote the resolution's year too.")
    node.get_by_test_id("feedback-submit").click()
    status = node.get_by_test_id("feedback-status")
    page.wait_for_function("node => node.textContent.includes('recorded')", arg=status.element_handle())
    assert node.get_by_test_id("feedback-down").get_attribute("aria-pressed") == "true"
    with live_server.client() as client:
        rows = client.get("/feedback").json()["feedback"]
    mine = [row for row in rows if row["answer_id"] == answer["id"]]
    assert len(mine) == 1
    assert mine[0]["rating"] == "down"
    assert mine[0]["comment"] == "Quote the resolution's year too."
    assert mine[0]["question"] == EXAMPLE_QUESTION

    # A second conversation, then switch back to the first one after a reload.
    page.get_by_test_id("new-chat").click()
    assert page.get_by_test_id("turn").count() == 0
    ask(page, OFF_TOPIC_QUESTION)
    page.reload()
    page.wait_for_selector("body[data-ready=true]")
    items = page.get_by_test_id("chat-item")
    assert items.count() == 2
    assert OFF_TOPIC_QUESTION[:40] in items.nth(0).inner_text()
    items.nth(1).click()
    restored = page.get_by_test_id("turn")
    assert restored.count() == 1
    assert restored.get_by_test_id("question").inner_text() == EXAMPLE_QUESTION
    assert "Resolution 598" in text_of(restored.get_by_test_id("answer-text"))
    assert "recorded" in restored.get_by_test_id("feedback-status").inner_text()
    assert restored.get_by_test_id("feedback-up").is_disabled()


def test_copy_answer_puts_text_and_sources_on_the_clipboard(page: Page) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    answer, node = ask(page, EXAMPLE_QUESTION)
    node.get_by_test_id("copy-answer").click()
    page.get_by_test_id("toast").filter(has_text="copied").wait_for()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert answer["answer"].strip() in copied
    assert answer["citations"][0]["quote"].strip() in copied


def test_upload_asks_for_the_api_key_once_and_keeps_it(
    browser: Browser, live_server: LiveServer, tmp_path: Path
) -> None:
    errors = PageErrors()
    page = _new_page(browser, live_server, with_key=False, errors=errors)
    try:
        page.goto("/#/documents")
        page.wait_for_selector("body[data-ready=true]")
        first = tmp_path / "key-prompt-note.txt"
        first.write_text("The east gate of the archive opens at seven in the morning.\n", "utf-8")
        page.get_by_test_id("file-input").set_input_files(str(first))

        dialog = page.get_by_test_id("api-key-dialog")
        dialog.wait_for()
        page.get_by_test_id("api-key-input").fill("not-the-right-key")
        page.get_by_test_id("api-key-save").click()
        page.get_by_test_id("api-key-error").wait_for()
        page.get_by_test_id("api-key-input").fill(API_KEY)
        page.get_by_test_id("api-key-save").click()

        card = page.get_by_test_id("upload").first
        page.wait_for_function(
            "node => !['uploading', 'indexing'].includes(node.dataset.state)",
            arg=card.element_handle(),
        )
        assert card.get_attribute("data-state") == "done", card.inner_text()
        assert page.evaluate("sessionStorage.getItem('assistant.apiKey')") == API_KEY
        # The key is kept: deleting needs it too, and no prompt appears.
        row = page.locator("[data-testid=document-row][data-doc-id='key-prompt-note']")
        row.get_by_test_id("delete-document").click()
        page.get_by_test_id("confirm-ok").click()
        row.wait_for(state="detached")
        assert page.get_by_test_id("api-key-dialog").count() == 0
    finally:
        page.context.close()
    assert not errors, errors


def test_the_part_of_the_quote_that_answers_is_marked_and_the_quote_is_unchanged(page: Page) -> None:
    answer, node = ask(page, "When was Masoud Pezeshkian sworn in as president?")
    assert not answer["abstained"], answer["answer"]
    marked = [c for c in answer["citations"] if c.get("highlight")]
    assert marked, answer["citations"]
    sources = node.get_by_test_id("source")
    for citation in answer["citations"]:
        source = sources.nth(citation["marker"] - 1)
        quote_node = source.get_by_test_id("source-quote")
        # The quote reads exactly as cited; the mark only wraps part of it.
        assert text_of(quote_node) == citation["quote"]
        marks = quote_node.get_by_test_id("answer-mark")
        if not citation.get("highlight"):
            assert marks.count() == 0
            continue
        start, end = citation["highlight"]
        assert citation["start"] <= start < end <= citation["end"]
        assert marks.count() == 1
        assert marks.first.evaluate("n => n.tagName") == "MARK"
        assert text_of(marks.first) == citation["quote"][start - citation["start"] : end - citation["start"]]
        assert marks.first.evaluate("n => [...n.childNodes].every(c => c.nodeType === Node.TEXT_NODE)")
    # The answer text marks the same words, and still reads as the answer.
    answer_text = node.get_by_test_id("answer-text")
    in_text = answer_text.get_by_test_id("answer-text-mark")
    assert in_text.count() == len(marked)
    assert "July 30" in {text_of(in_text.nth(i)) for i in range(in_text.count())}
    for citation in answer["citations"]:
        assert " ".join(citation["quote"].split()) in text_of(answer_text)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "chat-answer-mark.png"))
