"""A property over random document sets and keys: no front end ever shows a forbidden document.

One index of a few documents, each with a unique marker word in its title and text, is built
once per store backend. Each example then gives every document random sets (re-indexing with
other sets does not re-embed), issues random scoped keys and picks random public, channel and DM
sets. For every caller and every route (ask, stream, search with and without filters naming
every document and set, the listing, each document as the viewer opens it, the sources list,
OpenAI-compatible chat, the MCP tools and a Slack reply) the response must not contain the
marker of a document outside the caller's sets, and the listing shows exactly the allowed ones.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from mcp import Client
from pydantic import SecretStr

from assistant.core import Assistant
from assistant.mcp import build_server
from assistant.server import create_app
from assistant.state.keys import KeyStore
from tests.helpers import assistant_on, running_server
from tests.slack_fake_api import BOT_TOKEN, FakeSlack, fake_slack
from tests.test_slack import (
    ANSWER_TIMEOUT,
    SIGNING_SECRET,
    Bot,
    block_texts,
    event_body,
    mention,
    message,
    new_ts,
    post_json,
    wait_until_done,
)

SET_POOL = ("default", "alpha", "beta", "gamma")
#: one marker per document; equal length and distinct, so none is inside another
MARKERS = tuple(f"qzv{letter}xmark" for letter in "abcde")
QUESTION = "What is the travel budget of the team?"
CHAT_MODEL = "assistant-extractive-sources"
ADMIN_KEY = "admin-key-of-the-access-property"
MAPPED_CHANNEL_PREFIX = "CMAP"
_serial = itertools.count(1)


@dataclass(frozen=True)
class World:
    """One example: each document's sets, the keys' sets, and the keyless callers' sets."""

    doc_sets: tuple[frozenset[str], ...]
    key_sets: tuple[frozenset[str], ...]
    public: frozenset[str]
    channel: frozenset[str]
    dm: frozenset[str]

    def forbidden(self, sets: frozenset[str]) -> set[str]:
        """The markers of the documents a caller limited to `sets` must never see."""
        return {MARKERS[i] for i, doc in enumerate(self.doc_sets) if not doc & sets}

    def allowed_docs(self, sets: frozenset[str]) -> set[str]:
        return {doc_id(i) for i, doc in enumerate(self.doc_sets) if doc & sets}


def doc_id(index: int) -> str:
    return f"budget-{index}"


some_sets = st.frozensets(st.sampled_from(SET_POOL), min_size=1)
worlds = st.builds(
    World,
    doc_sets=st.tuples(*[some_sets for _ in MARKERS]),
    key_sets=st.lists(some_sets, min_size=1, max_size=3).map(tuple),
    public=st.frozensets(st.sampled_from(SET_POOL)),  # may be empty: keyless callers see nothing
    channel=some_sets,
    dm=some_sets,
)


@pytest.fixture(scope="module", params=["snapshot", "milvus"])
def store_settings(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """The Settings of the store backend under test (each backend is one parameter; Milvus Lite
    in a file of its own)."""
    if request.param == "milvus":
        pytest.importorskip("pymilvus", reason='the Milvus backend needs `pip install "assistant[milvus]"`')
        pytest.importorskip("milvus_lite")
        folder = tmp_path_factory.mktemp("access-property-milvus")
        return {"store": "milvus", "milvus_uri": str(folder / "milvus.db")}
    return {"store": request.param}


@dataclass
class Corpus:
    writer: Assistant
    shared: Assistant
    files: list[Path]
    store_settings: dict[str, Any]


@pytest.fixture(scope="module")
def corpus(
    tmp_path_factory: pytest.TempPathFactory, sample_assistant: Assistant, store_settings: dict[str, Any]
) -> Corpus:
    root = tmp_path_factory.mktemp("access-property")
    files = []
    for i, marker in enumerate(MARKERS):
        path = root / "docs" / f"{doc_id(i)}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            f"Budget note {marker}\n\nThe travel budget of the {marker} team is {10 + i} thousand euros "
            f"this year, as the {marker} lead agreed with the finance board.\n"
        )
        files.append(path)
    writer = assistant_on(root / "index", sample_assistant, **store_settings)
    writer.index_paths(files)
    return Corpus(writer, sample_assistant, files, store_settings)


@pytest.fixture(scope="module")
def slack_api() -> Iterator[FakeSlack]:
    with fake_slack() as fake:
        yield fake


# Few examples, each checks every route for every caller; no shrinking (each run costs seconds:
# the assertion messages name the world that failed instead).
@settings(
    max_examples=6,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow],
)
@given(world=worlds)
def test_no_route_ever_shows_a_document_outside_the_callers_sets(
    corpus: Corpus, slack_api: FakeSlack, world: World
) -> None:
    for path, sets in zip(corpus.files, world.doc_sets, strict=True):
        corpus.writer.index_paths([path], sets=sorted(sets))  # new sets, no new embeddings
    serial = next(_serial)
    keys = KeyStore.for_index(corpus.writer.index_dir)
    callers: list[tuple[str | None, frozenset[str]]] = [(None, world.public)]
    for n, sets in enumerate(world.key_sets):
        callers.append((keys.create(f"key-{serial}-{n}", sorted(sets)), sets))
    mapped = f"{MAPPED_CHANNEL_PREFIX}{serial:05d}"
    assistant = assistant_on(
        corpus.writer.index_dir,
        corpus.shared,
        **corpus.store_settings,
        api_key=ADMIN_KEY,
        public_sets=",".join(sorted(world.public)),
        slack_bot_token=BOT_TOKEN,
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=slack_api.api_url,
        slack_channel_sets={mapped: sorted(world.channel), "dm": sorted(world.dm)},
    )
    app = create_app(assistant.settings, assistant)
    with running_server(app) as url, httpx.Client(base_url=url, timeout=60) as http:
        for key, sets in callers:
            _check_http(http, key, world, sets)
            _check_mcp(assistant, key, world.forbidden(sets))
        bot = Bot(url=url, slack=slack_api, app=app, http=http)
        channels = [
            (mapped, "channel", world.channel),
            (f"D{serial:07d}", "im", world.dm),
            (f"CUNMAP{serial:04d}", "channel", world.public),
        ]
        for channel, kind, sets in channels:
            reply = _slack_reply(bot, channel, kind)
            assert not _found(reply, world.forbidden(sets)), (channel, sets, world)


def _found(text: str, markers: set[str]) -> set[str]:
    lowered = text.lower()
    return {marker for marker in markers if marker in lowered}


def _check_http(http: httpx.Client, key: str | None, world: World, sets: frozenset[str]) -> None:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    forbidden = world.forbidden(sets)
    every_doc = [doc_id(i) for i in range(len(MARKERS))]
    requests: list[tuple[str, str, Any]] = [
        ("POST", "/ask", {"question": QUESTION}),
        ("POST", "/ask", {"question": QUESTION, "filters": {"sets": list(SET_POOL)}}),
        ("POST", "/ask/stream", {"question": QUESTION, "filters": {"doc_ids": every_doc}}),
        ("POST", "/search", {"query": QUESTION, "top_k": 10}),
        ("POST", "/search", {"query": QUESTION, "filters": {"doc_ids": every_doc, "sets": list(SET_POOL)}}),
        ("POST", "/search", {"query": QUESTION, "mode": "keyword"}),
        ("GET", "/documents", None),
        ("GET", "/sets", None),
        ("GET", "/sources", None),
        (
            "POST",
            "/v1/chat/completions",
            {"model": CHAT_MODEL, "messages": [{"role": "user", "content": QUESTION}]},
        ),
        (
            "POST",
            "/v1/chat/completions",
            {"model": CHAT_MODEL, "stream": True, "messages": [{"role": "user", "content": QUESTION}]},
        ),
    ]
    requests += [("GET", f"/documents/{doc}", None) for doc in every_doc]  # as the viewer opens them
    for method, path, body in requests:
        response = http.request(method, path, json=body, headers=headers)
        assert response.status_code in (200, 404), (path, response.text)
        assert not _found(response.text, forbidden), (path, body, sorted(sets), world)
    listed = http.get("/documents", headers=headers).json()["documents"]
    assert {d["doc_id"] for d in listed} == world.allowed_docs(sets)


def _check_mcp(assistant: Assistant, key: str | None, forbidden: set[str]) -> None:
    """The MCP tools, in-process through the SDK's client, acting for `key` (None: no key)."""
    update: dict[str, Any] = {"mcp_key": SecretStr(key) if key else None}
    scoped = Assistant(assistant.index_dir, assistant.settings.model_copy(update=update), assistant.embedder)
    server = build_server(scoped)
    every_doc = [doc_id(i) for i in range(len(MARKERS))]
    calls: list[tuple[str, dict[str, Any]]] = [
        ("ask", {"question": QUESTION}),
        ("search", {"query": QUESTION, "top_k": 10}),
        ("search", {"query": QUESTION, "doc_ids": every_doc}),
        ("list_documents", {}),
        *[("get_document", {"doc_id": doc}) for doc in every_doc],
    ]

    async def run() -> list[str]:
        async with Client(server) as client:
            results = [await client.call_tool(name, arguments) for name, arguments in calls]
        return [
            json.dumps(r.structured_content) + json.dumps([c.model_dump() for c in r.content])
            for r in results
        ]

    for (name, arguments), text in zip(calls, anyio.run(run), strict=True):
        assert not _found(text, forbidden), (name, arguments)


def _slack_reply(bot: Bot, channel: str, kind: str) -> str:
    """Everything the bot posted in answer to the question asked in `channel`."""
    ts = new_ts()
    event = (
        mention(channel, ts, QUESTION)
        if kind == "channel"
        else message(channel, ts, QUESTION, channel_type="im")
    )
    assert post_json(bot, event_body(event)).status_code == 200
    wait_until_done(bot.slack, channel, ts)
    posts = bot.slack.wait_for(
        "chat.postMessage", where=lambda c: c.params.get("channel") == channel, timeout=ANSWER_TIMEOUT
    )
    return "\n".join(block_texts(p.params.get("blocks") or []) + str(p.params.get("text", "")) for p in posts)
