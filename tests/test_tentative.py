"""Tentative answers (below the confident threshold) are marked in every front end.

One real app over the sample index with `confident_threshold=1.0`, so every answer that is
given is tentative; the default threshold keeps the example question confident.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from assistant.cli.ask_cmd import render
from assistant.compose.outcome import TENTATIVE_NOTE, mark_tentative, outcome
from assistant.core import Assistant
from assistant.mcp.server import ask_result, ask_text
from assistant.models import Answer
from assistant.slack.blocks import answer_messages
from tests.conftest import EXAMPLE_QUESTION
from tests.helpers import app_on, parse_sse, running_server

WORDS = "may not answer your question"


@pytest.fixture(scope="module")
def tentative_url(sample_index_dir: Path, sample_assistant: Assistant) -> Iterator[str]:
    with running_server(app_on(sample_index_dir, sample_assistant, confident_threshold=1.0)) as url:
        yield url


@pytest.fixture(scope="module")
def tentative_answer(tentative_url: str) -> Answer:
    response = httpx.post(f"{tentative_url}/ask", json={"question": EXAMPLE_QUESTION}, timeout=60)
    assert response.status_code == 200, response.text
    return Answer.model_validate(response.json())


def test_the_threshold_decides_the_outcome(sample_assistant: Assistant) -> None:
    answer = sample_assistant.ask(EXAMPLE_QUESTION)
    assert answer.confidence is not None and not answer.abstained
    assert mark_tentative(answer, answer.confidence).tentative is False
    assert outcome(mark_tentative(answer, answer.confidence + 0.01)) == "tentative"
    abstained = sample_assistant.ask("What is the recommended oven temperature for sourdough bread?")
    assert abstained.abstained and not mark_tentative(abstained, 1.0).tentative


def test_post_ask_and_the_streams_final_event_carry_the_field(
    tentative_url: str, tentative_answer: Answer
) -> None:
    assert tentative_answer.tentative and not tentative_answer.abstained and tentative_answer.citations
    response = httpx.post(f"{tentative_url}/ask/stream", json={"question": EXAMPLE_QUESTION}, timeout=60)
    kind, final = parse_sse(response.text)[-1]
    assert kind == "answer" and final["tentative"] is True


def test_openai_api_prefixes_the_text_and_sets_the_field(tentative_url: str) -> None:
    body = {"model": "assistant-extractive", "messages": [{"role": "user", "content": EXAMPLE_QUESTION}]}
    reply = httpx.post(f"{tentative_url}/v1/chat/completions", json=body, timeout=60).json()
    assert reply["tentative"] is True
    assert reply["choices"][0]["message"]["content"].lower().startswith(f"_this {WORDS}")
    streamed = httpx.post(f"{tentative_url}/v1/chat/completions", json={**body, "stream": True}, timeout=60)
    lines = [line[6:] for line in streamed.text.splitlines() if line.startswith("data: {")]
    chunks = [json.loads(line) for line in lines]
    assert chunks[-1]["tentative"] is True
    assert WORDS in "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks).lower()


def test_slack_cli_and_mcp_show_the_mark(tentative_answer: Answer) -> None:
    blocks = answer_messages(tentative_answer)[0].blocks
    contexts = [b["elements"][0]["text"] for b in blocks if b["type"] == "context"]
    assert any(TENTATIVE_NOTE in text for text in contexts)
    assert WORDS in render(tentative_answer).lower()
    result = ask_result(tentative_answer, None)
    assert result.tentative is True and WORDS in ask_text(result).lower()


def test_a_confident_answer_has_no_mark(sample_assistant: Assistant) -> None:
    answer = mark_tentative(sample_assistant.ask(EXAMPLE_QUESTION), 0.0)
    assert not answer.tentative
    assert WORDS not in render(answer).lower()
    assert not any(b["type"] == "context" for b in answer_messages(answer)[0].blocks)
