"""The Slack bot end to end: the real Bolt app inside the real service, with the real model and
index, served by uvicorn on 127.0.0.1, talking to a local stand-in for the Slack Web API.

Requests are signed like Slack signs them; replies are asserted from the stand-in's recordings.
Answers happen in background threads, so tests poll the recordings with a timeout.
"""

from __future__ import annotations

import itertools
import json
import logging
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
import yaml
from click.testing import CliRunner
from slack_sdk.signature import SignatureVerifier

from assistant.models import Answer, Citation
from assistant.settings import Settings
from assistant.slack.blocks import (
    ABSTAIN_TEXT,
    MAX_BLOCKS_PER_MESSAGE,
    MAX_SECTION_CHARS,
    answer_messages,
    escape_mrkdwn,
    parse_feedback_action,
    quote_mrkdwn,
    source_url,
    split_text,
)
from assistant.slack.dedupe import Deduplicator, TTLMap
from assistant.slack.http import SLACK_EVENTS_PATH
from assistant.slack.text import bot_in_thread, clean_question, earlier_turns
from tests.conftest import EXAMPLE_QUESTION, REPO_ROOT
from tests.helpers import ACCESS_MARKER, ACCESS_QUESTION, SECRET_DOC, index_with_sets
from tests.slack_fake_api import (
    APP_TOKEN,
    BOT_ID,
    BOT_TOKEN,
    BOT_USER_ID,
    TEAM_ID,
    Call,
    FakeSlack,
    fake_slack,
    serve,
)

SIGNING_SECRET = "test-signing-secret-0001"
PUBLIC_URL = "https://assistant.example.test"
API_KEY = "test-api-key-0001"
EXAMPLE_DOC = "zarif-how-iran-sees-the-path-to-peace"
USER = "U0HUMAN001"
ANSWER_TIMEOUT = 90.0
QUIET_SECONDS = 2.0

_ids = itertools.count(1)


# ---------------------------------------------------------------------------- fixtures
@dataclass
class Bot:
    """The service under test and its Slack stand-in."""

    url: str
    slack: FakeSlack
    app: Any  # the FastAPI app from create_app
    http: httpx.Client

    @property
    def assistant(self) -> Any:
        return self.app.state.assistant


@pytest.fixture(scope="module")
def slack_api() -> Iterator[FakeSlack]:
    with fake_slack() as fake:
        yield fake


@pytest.fixture(scope="module")
def bot(
    slack_api: FakeSlack, sample_index_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Bot]:
    """`create_app` with Slack enabled, on a private copy of the sample index (feedback writes)."""
    from assistant.server import create_app

    index_dir = tmp_path_factory.mktemp("slack-index") / "index"
    shutil.copytree(sample_index_dir, index_dir, symlinks=True)
    settings = Settings(
        _env_file=None,
        index_dir=index_dir,
        slack_bot_token=BOT_TOKEN,
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=slack_api.api_url,
        public_url=PUBLIC_URL,
        api_key=API_KEY,  # Slack cannot send it: /slack/events is exempt
    )
    app = create_app(settings)
    with serve(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        yield Bot(url=url, slack=slack_api, app=app, http=client)


# ---------------------------------------------------------------------------- helpers
def unique(prefix: str) -> str:
    return f"{prefix}{next(_ids):07d}"


def new_ts() -> str:
    return f"{int(time.time())}.{next(_ids):06d}"


def signed_headers(
    body: str, *, secret: str = SIGNING_SECRET, timestamp: int | None = None
) -> dict[str, str]:
    """The two headers Slack adds to every request (v0 HMAC-SHA256 of `v0:ts:body`)."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature or ""}


def event_body(event: dict[str, Any], event_id: str | None = None) -> dict[str, Any]:
    return {
        "token": "legacy-verification-token",
        "team_id": TEAM_ID,
        "api_app_id": "A0TESTAPP1",
        "event": event,
        "type": "event_callback",
        "event_id": event_id or unique("Ev"),
        "event_time": int(time.time()),
        "authorizations": [{"team_id": TEAM_ID, "user_id": BOT_USER_ID, "is_bot": True}],
    }


def post_json(
    bot: Bot, payload: dict[str, Any], headers: dict[str, str] | None = None, **sign: Any
) -> httpx.Response:
    body = json.dumps(payload)
    all_headers = {"Content-Type": "application/json", **signed_headers(body, **sign)}
    return bot.http.post(SLACK_EVENTS_PATH, content=body, headers={**all_headers, **(headers or {})})


def post_form(bot: Bot, fields: dict[str, str]) -> httpx.Response:
    body = urlencode(fields)
    headers = {"Content-Type": "application/x-www-form-urlencoded", **signed_headers(body)}
    return bot.http.post(SLACK_EVENTS_PATH, content=body, headers=headers)


def mention(channel: str, ts: str, text: str, thread_ts: str | None = None) -> dict[str, Any]:
    event = {
        "type": "app_mention",
        "user": USER,
        "text": f"<@{BOT_USER_ID}> {text}",
        "ts": ts,
        "channel": channel,
        "event_ts": ts,
    }
    if thread_ts:
        event["thread_ts"] = thread_ts
    return event


def message(channel: str, ts: str, text: str, **extra: Any) -> dict[str, Any]:
    event = {
        "type": "message",
        "user": USER,
        "text": text,
        "ts": ts,
        "channel": channel,
        "event_ts": ts,
        "channel_type": "channel",
    }
    event.update(extra)
    return event


def posts_to(slack: FakeSlack, channel: str) -> list[Call]:
    return [c for c in slack.calls_to("chat.postMessage") if c.params.get("channel") == channel]


def wait_for_reply(slack: FakeSlack, channel: str, count: int = 1) -> list[Call]:
    return slack.wait_for(
        "chat.postMessage",
        count=count,
        timeout=ANSWER_TIMEOUT,
        where=lambda c: c.params.get("channel") == channel,
    )


def wait_until_done(slack: FakeSlack, channel: str, ts: str) -> None:
    """The 👀 comes off after the reply is posted: past that, no more work is pending for `ts`."""
    slack.wait_for(
        "reactions.remove",
        timeout=ANSWER_TIMEOUT,
        where=lambda c: c.params.get("channel") == channel and c.params.get("timestamp") == ts,
    )


def block_texts(blocks: list[dict[str, Any]]) -> str:
    """All text a person would read in the blocks, joined."""
    parts: list[str] = []
    for block in blocks:
        if "text" in block:
            parts.append(block["text"]["text"])
        for element in block.get("elements", []):
            text = element.get("text")
            parts.append(text["text"] if isinstance(text, dict) else str(text or ""))
    return "\n".join(parts)


def action_ids(blocks: list[dict[str, Any]]) -> list[str]:
    return [
        element["action_id"]
        for block in blocks
        if block["type"] == "actions"
        for element in block["elements"]
    ]


def block_action(
    action_id: str, value: str, response_url: str, channel: str, ephemeral: bool = False
) -> dict[str, str]:
    payload = {
        "type": "block_actions",
        "user": {"id": USER, "username": "someone", "team_id": TEAM_ID},
        "api_app_id": "A0TESTAPP1",
        "token": "legacy-verification-token",
        "container": {
            "type": "message",
            "message_ts": new_ts(),
            "channel_id": channel,
            "is_ephemeral": ephemeral,
        },
        "trigger_id": "123.456.abc",
        "team": {"id": TEAM_ID, "domain": "test-team"},
        "channel": {"id": channel, "name": "general"},
        "response_url": response_url,
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": f"answer:{value}",
                "value": value,
                "text": {"type": "plain_text", "text": "button"},
                "action_ts": str(time.time()),
            }
        ],
    }
    return {"payload": json.dumps(payload)}


def slash_command(channel: str, text: str, response_url: str) -> dict[str, str]:
    return {
        "token": "legacy-verification-token",
        "team_id": TEAM_ID,
        "team_domain": "test-team",
        "channel_id": channel,
        "channel_name": "general",
        "user_id": USER,
        "user_name": "someone",
        "command": "/ask",
        "text": text,
        "api_app_id": "A0TESTAPP1",
        "response_url": response_url,
        "trigger_id": "123.456.abc",
    }


def ask_by_mention(bot: Bot, question: str = EXAMPLE_QUESTION) -> tuple[str, str, Call]:
    channel, ts = unique("C"), new_ts()
    response = post_json(bot, event_body(mention(channel, ts, question)))
    assert response.status_code == 200, response.text
    reply = wait_for_reply(bot.slack, channel)[0]
    return channel, ts, reply


# ---------------------------------------------------------------------------- HTTP endpoint
def test_url_verification_echoes_the_challenge(bot: Bot) -> None:
    payload = {"token": "legacy", "challenge": "3eZbrw1aBm2rZgRNFdxV", "type": "url_verification"}
    response = post_json(bot, payload)
    assert response.status_code == 200
    assert response.json() == {"challenge": "3eZbrw1aBm2rZgRNFdxV"}


def test_bad_signature_is_rejected(bot: Bot) -> None:
    channel = unique("C")
    body = event_body(mention(channel, new_ts(), EXAMPLE_QUESTION))
    assert post_json(bot, body, secret="not-the-signing-secret").status_code == 401
    unsigned = bot.http.post(SLACK_EVENTS_PATH, json=body)
    assert unsigned.status_code == 401
    time.sleep(QUIET_SECONDS)
    assert posts_to(bot.slack, channel) == []


def test_stale_timestamp_is_rejected(bot: Bot) -> None:
    """A correctly signed request replayed ten minutes later must not be accepted."""
    channel = unique("C")
    body = event_body(mention(channel, new_ts(), EXAMPLE_QUESTION))
    stale = int(time.time()) - 10 * 60
    assert post_json(bot, body, timestamp=stale).status_code == 401
    garbled = {"X-Slack-Request-Timestamp": "yesterday"}
    assert post_json(bot, body, headers=garbled).status_code == 401
    time.sleep(QUIET_SECONDS)
    assert posts_to(bot.slack, channel) == []


# ---------------------------------------------------------------------------- answering
def test_mention_gets_a_threaded_cited_answer(bot: Bot) -> None:
    channel, ts = unique("C"), new_ts()
    started = time.monotonic()
    response = post_json(bot, event_body(mention(channel, ts, EXAMPLE_QUESTION)))
    assert response.status_code == 200
    assert time.monotonic() - started < 3.0, "events must be acknowledged within 3 seconds"

    reply = wait_for_reply(bot.slack, channel)[0]
    wait_until_done(bot.slack, channel, ts)
    assert reply.token == BOT_TOKEN
    assert reply.params["thread_ts"] == ts
    blocks = reply.params["blocks"]
    assert len(blocks) <= MAX_BLOCKS_PER_MESSAGE
    text = block_texts(blocks)
    assert "Resolution 598" in text
    assert "[1]" in blocks[0]["text"]["text"]
    assert "Resolution 598" in reply.params["text"]  # notification fallback
    assert any(b["type"] == "header" and b["text"]["text"] == "Sources" for b in blocks)

    # The Sources section links to the web UI's source view, and its quote is exactly the
    # document text at the linked offsets.
    link = f"{PUBLIC_URL}/#/doc/{EXAMPLE_DOC}?start="
    source_blocks = [b for b in blocks if b["type"] == "section" and link in b["text"]["text"]]
    assert source_blocks, text
    source_text = source_blocks[0]["text"]["text"]
    start = int(source_text.split("?start=")[1].split("&amp;")[0])
    end = int(source_text.split("&amp;end=")[1].split("|")[0])
    document = bot.http.get(f"/documents/{EXAMPLE_DOC}").json()
    quoted = escape_mrkdwn(" ".join(document["text"][start:end].split()))
    assert f"> {quoted}" in source_text
    assert "How Iran Sees the Path to Peace" in source_text

    # Feedback buttons carry the answer id; a channel answer has no Share button.
    ids = action_ids(blocks)
    assert [parse_feedback_action(a) for a in ids] == ["up", "down"]
    answer_id = ids[0].rsplit(":", 1)[1]
    assert len(answer_id) == 32 and all(a.endswith(answer_id) for a in ids)

    # 👀 went on before the reply and came off after it.
    added = bot.slack.wait_for("reactions.add", where=lambda c: c.params.get("timestamp") == ts, timeout=5)[0]
    removed = bot.slack.calls_to("reactions.remove")
    removed_here = next(c for c in removed if c.params.get("timestamp") == ts)
    assert {k: added.params[k] for k in ("channel", "timestamp", "name")} == {
        "channel": channel,
        "timestamp": ts,
        "name": "eyes",
    }
    assert added.at <= reply.at <= removed_here.at
    assert bot.slack.reactions_on(channel, ts) == set()


def test_direct_message_is_answered_in_the_dm(bot: Bot) -> None:
    channel, ts = unique("D"), new_ts()
    event = message(channel, ts, EXAMPLE_QUESTION, channel_type="im")
    assert post_json(bot, event_body(event)).status_code == 200
    reply = wait_for_reply(bot.slack, channel)[0]
    assert "thread_ts" not in reply.params  # a top-level DM gets a top-level reply
    assert "Resolution 598" in block_texts(reply.params["blocks"])


def test_thread_follow_up_reads_the_earlier_question_and_answer(
    bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """'When was that resolution adopted?' only makes sense after the thread's first answer."""
    seen_history: list[Any] = []
    real_ask = bot.assistant.ask

    def recording_ask(question: str, *args: Any, **kwargs: Any) -> Answer:
        seen_history.append(kwargs.get("history"))
        return real_ask(question, *args, **kwargs)

    monkeypatch.setattr(bot.assistant, "ask", recording_ask)
    channel, parent_ts = unique("C"), new_ts()
    first_question = "Which UN resolution ended the war between Iran and Iraq?"
    parent = mention(channel, parent_ts, first_question)
    bot.slack.add_thread_message(channel, parent_ts, {**parent, "type": "message"})
    assert post_json(bot, event_body(parent)).status_code == 200
    first = wait_for_reply(bot.slack, channel)[0]  # the bot is now part of the thread
    posted = {"bot_id": BOT_ID, "user": BOT_USER_ID, "ts": new_ts(), "thread_ts": parent_ts}
    bot.slack.add_thread_message(channel, parent_ts, {**posted, **first.params})

    follow_ts = new_ts()
    follow_up = message(channel, follow_ts, "When was that resolution adopted?", thread_ts=parent_ts)
    bot.slack.add_thread_message(channel, parent_ts, follow_up)
    assert post_json(bot, event_body(follow_up)).status_code == 200
    reply = wait_for_reply(bot.slack, channel, count=2)[1]

    assert reply.params["thread_ts"] == parent_ts
    [turn] = seen_history[-1]
    assert turn.question == first_question and turn.citations  # the cached answer, with citations
    assert "Resolution 598" in turn.answer
    assert "1987" in block_texts(reply.params["blocks"])
    assert bot.slack.calls_to("conversations.replies")


def test_reply_in_a_thread_without_the_bot_is_ignored(bot: Bot) -> None:
    channel, parent_ts = unique("C"), new_ts()
    bot.slack.add_thread_message(channel, parent_ts, message(channel, parent_ts, "lunch?"))
    reply_ts = new_ts()
    event = message(channel, reply_ts, EXAMPLE_QUESTION, thread_ts=parent_ts)
    bot.slack.add_thread_message(channel, parent_ts, event)
    assert post_json(bot, event_body(event)).status_code == 200
    bot.slack.wait_for(
        "conversations.replies", where=lambda c: c.params.get("channel") == channel, timeout=30
    )
    time.sleep(QUIET_SECONDS)
    assert posts_to(bot.slack, channel) == []
    assert not [c for c in bot.slack.calls_to("reactions.add") if c.params["channel"] == channel]


def test_abstention_says_the_documents_do_not_cover_it(bot: Bot) -> None:
    _channel, ts, reply = ask_by_mention(bot, "What is the boiling point of tungsten?")
    blocks = reply.params["blocks"]
    text = block_texts(blocks)
    assert reply.params["thread_ts"] == ts
    assert "don't cover this question" in text
    assert not any(b["type"] == "header" for b in blocks)  # no Sources for an abstention
    assert [parse_feedback_action(a) for a in action_ids(blocks)] == ["up", "down"]


def test_internal_error_posts_an_apology_and_logs(
    bot: Bot, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken_ask(*args: Any, **kwargs: Any) -> Answer:
        raise RuntimeError("index exploded")

    monkeypatch.setattr(bot.assistant, "ask", broken_ask)
    caplog.set_level(logging.ERROR, logger="assistant.slack")
    channel, ts = unique("C"), new_ts()
    assert post_json(bot, event_body(mention(channel, ts, EXAMPLE_QUESTION))).status_code == 200
    reply = wait_for_reply(bot.slack, channel)[0]
    wait_until_done(bot.slack, channel, ts)
    assert reply.params["thread_ts"] == ts
    assert "Sorry, something went wrong" in block_texts(reply.params["blocks"])
    assert "index exploded" not in block_texts(reply.params["blocks"])
    assert bot.slack.reactions_on(channel, ts) == set()
    failures = [r for r in caplog.records if "failed to answer Slack message" in r.getMessage()]
    assert failures and failures[0].exc_info is not None

    name = unique("cmd")
    ack = post_form(bot, slash_command(channel, EXAMPLE_QUESTION, bot.slack.response_url(name)))
    assert ack.status_code == 200
    apology = bot.slack.wait_for("response_url", where=lambda c: c.params["name"] == name)[0]
    assert apology.params["response_type"] == "ephemeral"
    assert "Sorry, something went wrong" in apology.params["text"]


# ---------------------------------------------------------------------------- never twice
def test_retried_event_is_answered_once(bot: Bot, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="assistant.slack")
    channel, ts = unique("C"), new_ts()
    body = event_body(mention(channel, ts, EXAMPLE_QUESTION))
    assert post_json(bot, body).status_code == 200
    for attempt in (1, 2):
        retry = {"X-Slack-Retry-Num": str(attempt), "X-Slack-Retry-Reason": "http_timeout"}
        response = post_json(bot, body, headers=retry)
        assert response.status_code == 200
    wait_for_reply(bot.slack, channel)
    wait_until_done(bot.slack, channel, ts)
    time.sleep(QUIET_SECONDS)
    assert len(posts_to(bot.slack, channel)) == 1
    assert len([c for c in bot.slack.calls_to("reactions.add") if c.params["channel"] == channel]) == 1
    # The retries were dropped on arrival, before any listener ran.
    dropped = [r.getMessage() for r in caplog.records if body["event_id"] in r.getMessage()]
    assert len(dropped) == 2 and "retry 2, reason http_timeout" in dropped[1]


def test_same_message_with_different_event_ids_is_answered_once(bot: Bot) -> None:
    # A mention in a channel the bot reads arrives as app_mention and as message.channels; a
    # redelivery may also carry a fresh event_id. All of them are one question.
    channel, ts = unique("C"), new_ts()
    event = mention(channel, ts, EXAMPLE_QUESTION)
    twin = {**event, "type": "message", "channel_type": "channel"}
    for payload in (event, twin, event):
        assert post_json(bot, event_body(payload)).status_code == 200
    dm, dm_ts = unique("D"), new_ts()
    dm_event = message(dm, dm_ts, EXAMPLE_QUESTION, channel_type="im")
    for _ in range(2):
        assert post_json(bot, event_body(dm_event)).status_code == 200
    wait_for_reply(bot.slack, channel)
    wait_for_reply(bot.slack, dm)
    wait_until_done(bot.slack, channel, ts)
    wait_until_done(bot.slack, dm, dm_ts)
    time.sleep(QUIET_SECONDS)
    assert len(posts_to(bot.slack, channel)) == 1
    assert len(posts_to(bot.slack, dm)) == 1


def test_bot_messages_are_ignored(bot: Bot) -> None:
    channel = unique("D")
    own = message(channel, new_ts(), EXAMPLE_QUESTION, channel_type="im", user=BOT_USER_ID)
    own["bot_id"] = BOT_ID
    other = message(channel, new_ts(), EXAMPLE_QUESTION, channel_type="im", bot_id="B0OTHER01")
    other["subtype"] = "bot_message"
    edited = message(channel, new_ts(), EXAMPLE_QUESTION, channel_type="im")
    edited["subtype"] = "message_changed"
    for event in (own, other, edited):
        assert post_json(bot, event_body(event)).status_code == 200
    # A person's message afterwards is answered: the bot is alive, it only skipped the others.
    person_ts = new_ts()
    person = message(channel, person_ts, EXAMPLE_QUESTION, channel_type="im")
    assert post_json(bot, event_body(person)).status_code == 200
    wait_for_reply(bot.slack, channel)
    wait_until_done(bot.slack, channel, person_ts)
    time.sleep(QUIET_SECONDS)
    assert len(posts_to(bot.slack, channel)) == 1
    assert {c.params["timestamp"] for c in bot.slack.calls_to("reactions.add")} & {
        own["ts"],
        other["ts"],
        edited["ts"],
    } == set()


# ---------------------------------------------------------------------------- /ask and buttons
def test_slash_command_is_acked_fast_then_answered_privately_and_shareable(bot: Bot) -> None:
    channel, name = unique("C"), unique("cmd")
    started = time.monotonic()
    response = post_form(bot, slash_command(channel, EXAMPLE_QUESTION, bot.slack.response_url(name)))
    elapsed = time.monotonic() - started
    assert response.status_code == 200
    assert elapsed < 3.0, f"/ask took {elapsed:.2f}s to acknowledge"
    assert "Looking that up" in response.text

    answer = bot.slack.wait_for(
        "response_url", where=lambda c: c.params["name"] == name, timeout=ANSWER_TIMEOUT
    )[0]
    assert answer.params["response_type"] == "ephemeral"
    blocks = answer.params["blocks"]
    text = block_texts(blocks)
    assert "Resolution 598" in text
    assert f"<@{USER}> asked" in text
    ids = action_ids(blocks)
    share = [a for a in ids if a.startswith("share:")]
    assert len(share) == 1 and [parse_feedback_action(a) for a in ids[:2]] == ["up", "down"]
    assert posts_to(bot.slack, channel) == []  # private: nothing posted in the channel

    share_name = unique("share")
    answer_id = share[0].split(":", 1)[1]
    click = block_action(share[0], answer_id, bot.slack.response_url(share_name), channel, ephemeral=True)
    assert post_form(bot, click).status_code == 200
    shared, deleted = bot.slack.wait_for(
        "response_url", count=2, where=lambda c: c.params["name"] == share_name, timeout=30
    )[:2]
    assert shared.params["response_type"] == "in_channel"
    assert "Resolution 598" in block_texts(shared.params["blocks"])
    assert not [a for a in action_ids(shared.params["blocks"]) if a.startswith("share:")]
    assert deleted.params.get("delete_original") is True


def test_slash_command_without_a_question_explains_usage(bot: Bot) -> None:
    name = unique("cmd")
    response = post_form(bot, slash_command(unique("C"), "   ", bot.slack.response_url(name)))
    assert response.status_code == 200
    assert "Usage: `/ask QUESTION`" in response.text
    time.sleep(QUIET_SECONDS)
    assert not [c for c in bot.slack.calls_to("response_url") if c.params["name"] == name]


def test_thumbs_up_click_is_stored_with_the_web_feedback(bot: Bot) -> None:
    channel, _, reply = ask_by_mention(bot)
    up = next(a for a in action_ids(reply.params["blocks"]) if parse_feedback_action(a) == "up")
    answer_id = up.rsplit(":", 1)[1]
    name = unique("fb")
    click = block_action(up, answer_id, bot.slack.response_url(name), channel)
    started = time.monotonic()
    assert post_form(bot, click).status_code == 200
    assert time.monotonic() - started < 3.0
    thanks = bot.slack.wait_for("response_url", where=lambda c: c.params["name"] == name)[0]
    assert thanks.params["response_type"] == "ephemeral"
    assert thanks.params["replace_original"] is False
    assert "👍" in thanks.params["text"]

    assert bot.http.get("/feedback").status_code == 401  # the service's key still guards it
    auth = {"Authorization": f"Bearer {API_KEY}"}
    stored = bot.http.get("/feedback", headers=auth).json()["feedback"]
    mine = [row for row in stored if row["answer_id"] == answer_id]
    assert len(mine) == 1
    assert mine[0]["rating"] == "up"
    assert mine[0]["source"] == "slack"
    assert mine[0]["question"] == EXAMPLE_QUESTION


# ---------------------------------------------------------------------------- Socket Mode
def test_socket_mode_answers_a_mention(slack_api: FakeSlack, sample_assistant: Any) -> None:
    from assistant.slack.socket import socket_mode_handler

    channel, ts = unique("C"), new_ts()
    envelope_id = unique("env-")
    slack_api.socket_outbox.append(
        {
            "envelope_id": envelope_id,
            "type": "events_api",
            "accepts_response_payload": False,
            "retry_attempt": 0,
            "retry_reason": "",
            "payload": event_body(mention(channel, ts, EXAMPLE_QUESTION)),
        }
    )
    settings = Settings(
        _env_file=None,
        slack_bot_token=BOT_TOKEN,
        slack_app_token=APP_TOKEN,
        slack_api_url=slack_api.api_url,
    )
    handler = socket_mode_handler(sample_assistant, settings)
    handler.connect()
    try:
        ack = slack_api.wait_for(
            "socket_ack", where=lambda c: c.params.get("envelope_id") == envelope_id, timeout=30
        )
        assert ack
        reply = wait_for_reply(slack_api, channel)[0]
        assert reply.params["thread_ts"] == ts
        assert "Resolution 598" in block_texts(reply.params["blocks"])
    finally:
        handler.close()


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"ASSISTANT_SLACK_BOT_TOKEN": BOT_TOKEN}, "ASSISTANT_SLACK_APP_TOKEN"),
        ({"ASSISTANT_SLACK_APP_TOKEN": APP_TOKEN}, "ASSISTANT_SLACK_BOT_TOKEN"),
        (
            {"ASSISTANT_SLACK_BOT_TOKEN": BOT_TOKEN, "ASSISTANT_SLACK_APP_TOKEN": BOT_TOKEN},
            "must be an app-level token starting with 'xapp-'",
        ),
    ],
)
def test_slack_command_refuses_to_start_without_tokens(env: dict[str, str], expected: str) -> None:
    from assistant.cli.slack_cmd import slack

    result = CliRunner().invoke(slack, [], env=env)
    assert result.exit_code == 1, result.output
    assert expected in result.output
    assert "Traceback" not in result.output
    assert BOT_TOKEN not in result.output and APP_TOKEN not in result.output


# ---------------------------------------------------------------------------- manifest
def test_manifest_declares_what_the_bot_uses() -> None:
    manifest = yaml.safe_load((REPO_ROOT / "assistant" / "slack_manifest.yml").read_text())
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    assert {
        "app_mentions:read",
        "chat:write",
        "im:history",
        "im:read",
        "im:write",
        "channels:history",
        "groups:history",
        "reactions:write",
        "commands",
    } <= scopes
    settings = manifest["settings"]
    events = set(settings["event_subscriptions"]["bot_events"])
    assert {"app_mention", "message.im", "message.channels"} <= events
    assert settings["interactivity"]["is_enabled"] is True
    assert "socket_mode_enabled" in settings
    commands = manifest["features"]["slash_commands"]
    assert [c["command"] for c in commands] == ["/ask"]
    urls = [settings["event_subscriptions"]["request_url"], settings["interactivity"]["request_url"]]
    urls += [c["url"] for c in commands]
    assert all(url.endswith(SLACK_EVENTS_PATH) for url in urls)


# ---------------------------------------------------------------------------- unit: blocks
def _citation(marker: int, quote: str, **extra: Any) -> Citation:
    fields: dict[str, Any] = {
        "marker": marker,
        "doc_id": "doc one",
        "source": "corpus/doc.txt",
        "title": "A <Title> & more",
        "chunk_id": "c1",
        "start": 10,
        "end": 10 + len(quote),
        "quote": quote,
    }
    fields.update(extra)
    return Citation(**fields)


def _answer(text: str, citations: list[Citation], abstained: bool = False) -> Answer:
    return Answer(id="a" * 32, question="Q <1>?", answer=text, abstained=abstained, citations=citations)


def test_split_text_respects_the_limit_and_keeps_every_word() -> None:
    text = " ".join(f"word{i}" for i in range(2_000)) + " " + "x" * 4_000
    pieces = split_text(text, MAX_SECTION_CHARS)
    assert len(pieces) > 1
    assert all(0 < len(p) <= MAX_SECTION_CHARS for p in pieces)
    assert "".join("".join(pieces).split()) == "".join(text.split())
    entities = split_text("&amp;" * 1_000, 3_000)
    assert all(p.endswith(";") for p in entities)


def test_long_answers_split_across_sections_and_messages() -> None:
    long_answer = " ".join(["The mandate dates from 1987 [1]."] * 300)  # ~9,900 characters
    citations = [_citation(i, f"Quote number {i}. " * 40) for i in range(1, 61)]
    messages = answer_messages(_answer(long_answer, citations), PUBLIC_URL)
    assert len(messages) >= 2
    for msg in messages:
        assert 0 < len(msg.blocks) <= MAX_BLOCKS_PER_MESSAGE
        for block in msg.blocks:
            if block["type"] == "section":
                assert len(block["text"]["text"]) <= MAX_SECTION_CHARS
    answer_sections = [b for b in messages[0].blocks if b["type"] == "section"][:4]
    assert len([b for b in answer_sections if "1987" in b["text"]["text"]]) >= 4
    # every citation shows up once, buttons only at the very end
    everything = [b for m in messages for b in m.blocks]
    for i in (1, 30, 60):
        assert sum(f"*[{i}]*" in b.get("text", {}).get("text", "") for b in everything) == 1
    assert all(b["type"] != "actions" for m in messages[:-1] for b in m.blocks)
    assert messages[-1].blocks[-1]["type"] == "actions"


def test_long_quote_is_split_into_blockquote_sections() -> None:
    quote = "A sentence that goes on. " * 300  # 7,500 characters
    blocks = answer_messages(_answer("Short [1].", [_citation(1, quote)]))[0].blocks
    quote_sections = [b["text"]["text"] for b in blocks if b["type"] == "section"][1:]
    assert len(quote_sections) >= 3
    assert all(len(t) <= MAX_SECTION_CHARS for t in quote_sections)
    assert all("\n> " in t or t.startswith("> ") for t in quote_sections)


def test_blocks_escape_text_and_link_sources() -> None:
    citation = _citation(1, "x < y & z > w", page=4)
    blocks = answer_messages(_answer("Use <b> & **bold** [1]", [citation]), PUBLIC_URL)[0].blocks
    assert blocks[0]["text"]["text"] == "Use &lt;b&gt; &amp; *bold* [1]"
    source = blocks[3]["text"]["text"]
    url = source_url(PUBLIC_URL, citation)
    assert url == f"{PUBLIC_URL}/#/doc/doc%20one?start=10&end={10 + len(citation.quote)}"
    assert f"<{escape_mrkdwn(url)}|A &lt;Title&gt; &amp; more>" in source
    assert "(p. 4)" in source
    assert source.endswith("> x &lt; y &amp; z &gt; w")
    unlinked = answer_messages(_answer("Use [1]", [citation]), None)[0].blocks[3]["text"]["text"]
    assert unlinked.startswith("*[1]* *A &lt;Title&gt; &amp; more*")


def test_share_button_only_on_shareable_answers_and_abstention_text() -> None:
    plain = answer_messages(_answer("x [1]", [_citation(1, "q")]))[-1].blocks[-1]
    shareable = answer_messages(_answer("x [1]", [_citation(1, "q")]), shareable=True, asked_by="U1")
    ids = [e["action_id"] for e in shareable[-1].blocks[-1]["elements"]]
    assert [e["action_id"] for e in plain["elements"]] == ids[:2]
    assert ids[2] == "share:" + "a" * 32
    assert shareable[0].blocks[0]["type"] == "context"
    assert "<@U1> asked: _Q &lt;1&gt;?_" in shareable[0].blocks[0]["elements"][0]["text"]
    abstained = answer_messages(_answer("The documents do not cover it.", [], abstained=True))
    assert ABSTAIN_TEXT in abstained[0].blocks[0]["text"]["text"]
    assert abstained[0].text == escape_mrkdwn(ABSTAIN_TEXT)


# ---------------------------------------------------------------------------- unit: dedupe, text
def test_ttl_map_expires_and_stays_bounded() -> None:
    now = [0.0]
    seen: TTLMap[bool] = TTLMap(ttl=10, max_items=3, clock=lambda: now[0])
    assert seen.add_if_absent("a", True) and not seen.add_if_absent("a", True)
    now[0] = 10.5
    assert seen.add_if_absent("a", True), "an expired key is new again"
    for key in "bcd":
        seen.put(key, True)
    assert len(seen) == 3 and seen.get("a") is None  # oldest evicted first
    with pytest.raises(ValueError, match="ttl must be greater than 0"):
        TTLMap(ttl=0)


def test_deduplicator_claims_events_and_messages_once(tmp_path: Path) -> None:
    dedupe = Deduplicator(tmp_path / "slack-events.sqlite")
    assert dedupe.claim_event("Ev1") and not dedupe.claim_event("Ev1")
    assert dedupe.claim_message("C1", "1.1") and not dedupe.claim_message("C1", "1.1")
    assert dedupe.claim_message("C2", "1.1")  # same ts, other channel: another message


def test_question_text_and_thread_history() -> None:
    raw = f"<@{BOT_USER_ID}> what about <#C123|general> and <https://x.test/a?b=1&amp;c|this> &lt;3 <!here>"
    assert clean_question(raw) == "what about #general and this <3"
    thread = [
        {"user": USER, "text": f"<@{BOT_USER_ID}> first?", "ts": "1.0"},
        {"user": BOT_USER_ID, "bot_id": BOT_ID, "text": "answer", "ts": "1.1"},
        {"user": USER, "text": "edited", "ts": "1.2", "subtype": "message_changed"},
        {"user": "U2", "text": "second?", "ts": "1.3"},
        {"user": USER, "text": "now?", "ts": "1.4"},
    ]
    turns = earlier_turns(thread, "1.4")
    assert [(t.question, t.answer) for t in turns] == [("first?", "answer"), ("second?", "")]
    assert bot_in_thread(thread, BOT_USER_ID, BOT_ID)
    assert not bot_in_thread(thread[3:], BOT_USER_ID, BOT_ID)


def test_the_part_of_the_quote_that_answers_is_bold_and_escaped() -> None:
    quote = "On July 30, Masoud\n Pezeshkian <b> was sworn in & took office."
    start = 10 + quote.index("July 30")
    citation = _citation(1, quote, highlight=[start, start + len("July 30")])
    blocks = answer_messages(_answer("Sworn in [1]", [citation]))[0].blocks
    source = blocks[3]["text"]["text"]
    assert source.endswith("> On *July 30*, Masoud Pezeshkian &lt;b&gt; was sworn in &amp; took office.")
    # Markup inside the marked part is escaped too, and a mark that cannot be bold stays plain.
    tricky = "The <Accords> & *stars* signed."
    at = 10 + tricky.index("<Accords> & *stars*")
    marked = _citation(1, tricky, highlight=[at, at + len("<Accords>")])
    assert quote_mrkdwn(marked) == "The *&lt;Accords&gt;* &amp; *stars* signed."
    starred = _citation(1, tricky, highlight=[at + 12, at + 19])
    assert quote_mrkdwn(starred) == "The &lt;Accords&gt; &amp; *stars* signed."
    outside = _citation(1, tricky, highlight=[0, 5])
    assert quote_mrkdwn(outside) == "The &lt;Accords&gt; &amp; *stars* signed."


# ---------------------------------------------------------------------------- document sets
HR_CHANNEL = "CHRTEAM01"


@pytest.fixture(scope="module")
def sets_bot(
    slack_api: FakeSlack, sample_assistant: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Bot]:
    """Slack over ACCESS_DOCS: #hr and DMs answer from `hr`, every other channel from `default`."""
    from assistant.server import create_app

    assistant = index_with_sets(
        tmp_path_factory.mktemp("slack-sets"),
        sample_assistant,
        slack_bot_token=BOT_TOKEN,
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=slack_api.api_url,
        slack_channel_sets=f"{HR_CHANNEL}=hr; dm=hr",
    )
    app = create_app(assistant.settings, assistant)
    with serve(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        yield Bot(url=url, slack=slack_api, app=app, http=client)


def _mention_reply(bot: Bot, channel: str) -> str:
    ts = new_ts()
    assert post_json(bot, event_body(mention(channel, ts, ACCESS_QUESTION))).status_code == 200
    reply = wait_for_reply(bot.slack, channel)[0]
    return (block_texts(reply.params["blocks"]) + reply.params.get("text", "")).lower()


def test_an_unmapped_channel_answers_from_the_public_sets_only(sets_bot: Bot) -> None:
    assert ACCESS_MARKER not in _mention_reply(sets_bot, unique("C"))


def test_a_mapped_channel_answers_from_its_sets(sets_bot: Bot) -> None:
    assert ACCESS_MARKER in _mention_reply(sets_bot, HR_CHANNEL)


def test_each_slack_answer_leaves_an_audit_line_naming_its_channel_and_documents(
    sets_bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    channel = unique("D")  # a channel of its own: its first reply is this question's
    with caplog.at_level(logging.INFO, logger="assistant.audit"):
        event = message(channel, new_ts(), ACCESS_QUESTION, channel_type="im")
        assert post_json(sets_bot, event_body(event)).status_code == 200
        reply = wait_for_reply(sets_bot.slack, channel)[0]
    assert ACCESS_MARKER in block_texts(reply.params["blocks"]).lower()
    lines = [r.fields for r in caplog.records if r.name == "assistant.audit"]  # type: ignore[attr-defined]
    slack = [line for line in lines if line["method"] == "SLACK"]
    assert len(slack) == 1, lines
    assert slack[0]["route"] == f"channel {channel}" and slack[0]["status"] == "ok"
    assert slack[0]["key"] is None and SECRET_DOC in slack[0]["doc_ids"]


def test_direct_messages_answer_from_the_sets_named_for_them(sets_bot: Bot) -> None:
    channel = unique("D")
    event = message(channel, new_ts(), ACCESS_QUESTION, channel_type="im")
    assert post_json(sets_bot, event_body(event)).status_code == 200
    reply = wait_for_reply(sets_bot.slack, channel)[0]
    assert ACCESS_MARKER in block_texts(reply.params["blocks"]).lower()


@pytest.mark.parametrize(("channel", "seen"), [("CGENERAL1", False), (HR_CHANNEL, True)])
def test_slash_ask_answers_from_the_channels_sets(sets_bot: Bot, channel: str, seen: bool) -> None:
    name = unique("cmd")
    response = post_form(sets_bot, slash_command(channel, ACCESS_QUESTION, sets_bot.slack.response_url(name)))
    assert response.status_code == 200
    answer = sets_bot.slack.wait_for(
        "response_url", where=lambda c: c.params["name"] == name, timeout=ANSWER_TIMEOUT
    )[0]
    assert (ACCESS_MARKER in (block_texts(answer.params["blocks"]) + answer.params["text"]).lower()) is seen


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("CHR01:hr", "is not CHANNEL=set1,set2"),
        ("general=hr", "is not a Slack channel id"),
        ("CHR01=", "names no sets"),
        ("CHR01=h r", "set name 'h r'"),
        ("CHR01=hr;CHR01=fin", "named twice"),
    ],
)
def test_a_malformed_channel_mapping_is_a_clear_config_error(
    monkeypatch: pytest.MonkeyPatch, value: str, says: str
) -> None:
    from assistant.cli import main

    monkeypatch.setenv("ASSISTANT_SLACK_CHANNEL_SETS", value)
    result = CliRunner().invoke(main, ["index", "sets"])
    assert result.exit_code == 1
    assert "ASSISTANT_SLACK_CHANNEL_SETS" in result.output and says in result.output
    assert "Traceback" not in result.output


def test_the_channel_mapping_reads_channels_sets_and_the_dm_entry() -> None:
    settings = Settings(_env_file=None, slack_channel_sets=" C01=hr, fin ; dm=handbook ;")
    assert settings.slack_channel_sets == {"C01": ["fin", "hr"], "dm": ["handbook"]}


def test_a_slack_request_leaves_the_services_log_levels_alone(bot: Bot) -> None:
    """Bolt sets the level of the logger named like the app on each request; ours must not be it."""
    package = logging.getLogger("assistant")
    before = package.level
    channel = unique("C")
    assert post_json(bot, event_body(mention(channel, new_ts(), EXAMPLE_QUESTION))).status_code == 200
    wait_for_reply(bot.slack, channel)
    assert package.level == before and not package.disabled
