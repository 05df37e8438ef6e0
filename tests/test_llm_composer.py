"""The LLM composer end to end: real Assistant and index, real ChatOpenAI, a real HTTP stub server.

Every case checks the final Answer against the contract: each `[n]` has a citation and each
citation is used, and every quote is exactly the stored text at its offsets.
"""

from __future__ import annotations

import re
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from assistant.compose.extractive import ABSTAIN_TEXT
from assistant.compose.seam import AnswerDelta, AnswerReady
from assistant.core import Assistant
from assistant.errors import AssistantError
from assistant.models import Answer, Passage
from assistant.settings import Settings
from tests.conftest import EXAMPLE_QUESTION
from tests.helpers import assert_contract
from tests.openai_stub_server import OpenAIStub, Reply

#: long enough for a scripted reply on a busy machine; the timeout tests set their own
TIMEOUT = 15.0
#: the timeout the timeout tests use, and the scripted delay they beat
SHORT_TIMEOUT = 1.0
LATE_S = 8.0
#: the extractive fallback fits in this after the timeout (generous: CI machines are shared)
SLACK_S = 2.5
UNANSWERABLE = "Who won the 2022 FIFA World Cup?"
#: a phrase found in a passage retrieved for EXAMPLE_QUESTION
NEEDLE = "Iran-Iraq War"


@pytest.fixture(scope="module")
def stub() -> Iterator[OpenAIStub]:
    with OpenAIStub() as server:
        yield server


def llm_assistant(index_dir: Path, base: Assistant, stub_url: str, **overrides: Any) -> Assistant:
    """An Assistant on the sample index whose LLM is the stub (sharing the loaded embedder)."""
    values: dict[str, Any] = {
        "index_dir": index_dir,
        "llm": "openai:stub-model",
        "llm_base_url": stub_url,
        "llm_api_key": "test-key-123",
        "llm_timeout": TIMEOUT,
        **overrides,
    }
    assistant = Assistant(index_dir, Settings(**values), embedder=base.embedder)
    assert assistant.refresh()
    return assistant


@pytest.fixture()
def assistant(sample_index_dir: Path, sample_assistant: Assistant, stub: OpenAIStub) -> Assistant:
    stub.script()
    return llm_assistant(sample_index_dir, sample_assistant, stub.base_url)


def check(answer: Answer, assistant: Assistant) -> None:
    """The contract, plus markers numbered 1..n in order of first use."""
    assert_contract(answer, assistant)
    order = list(dict.fromkeys(int(n) for n in re.findall(r"\[(\d+)\]", answer.answer)))
    assert order == list(range(1, len(order) + 1))


def passage_with(passages: list[Passage], needle: str) -> int:
    """The 1-based number of the first passage whose text holds `needle`."""
    return next(i for i, p in enumerate(passages, start=1) if needle in p.text)


def sentences_of(assistant: Assistant, passage: Passage) -> list[str]:
    """The stored sentences inside a passage, as text."""
    snapshot = assistant.snapshot()
    assert snapshot is not None
    rows = snapshot.sentences(passage.doc_id, 0, 1_000_000)
    return [
        snapshot.text_slice(r.doc_id, r.start, r.end)
        for r in rows
        if passage.start <= r.start and r.end <= passage.end
    ]


def test_valid_markers_become_exact_citations_of_the_supporting_sentence(
    assistant: Assistant, stub: OpenAIStub
) -> None:
    passages = assistant.search(EXAMPLE_QUESTION)
    n = passage_with(passages, NEEDLE)
    other = next(i for i in range(1, len(passages) + 1) if i != n)
    other_sentence = " ".join(max(sentences_of(assistant, passages[other - 1]), key=len).split())
    reply = (
        f"{other_sentence} [{other}]. The talks could use the mandate of the resolution that "
        f"ended the {NEEDLE} [{n}]. The administration thinks this provision can be the legal "
        f"foundation for comprehensive regional negotiations [{n}]."
    )
    stub.script(Reply(text=reply))

    answer = assistant.ask(EXAMPLE_QUESTION, composer="llm")

    assert answer.composer == "llm" and not answer.abstained
    check(answer, assistant)
    # renumbered densely in order of first use; one passage cited for two claims gives two quotes
    assert re.findall(r"\[(\d+)\]", answer.answer) == ["1", "2", "3"]
    first, second, third = answer.citations
    assert other_sentence in " ".join(first.quote.split())
    assert NEEDLE in second.quote
    assert "legal basis for comprehensive regional talks" in " ".join(third.quote.split())
    for citation, number in zip(answer.citations, (other, n, n), strict=True):
        passage = passages[number - 1]
        assert citation.doc_id == passage.doc_id
        assert passage.start <= citation.start < citation.end <= passage.end
    # what the server was sent: the key, the model, the numbered passages and the question
    request = stub.requests[-1]
    assert request.headers["authorization"] == "Bearer test-key-123"
    assert request.body["model"] == "stub-model" and not request.body.get("stream")
    prompt = request.body["messages"][-1]["content"]
    assert EXAMPLE_QUESTION in prompt
    assert all(f"[{i}] (" in prompt for i in range(1, len(passages) + 1))


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        (
            "Resolution 598 is the proposed basis [{n}][7]. It dates from 1987 [7].",
            "Resolution 598 is the proposed basis [1]. It dates from 1987.",
        ),
        ("[7] Resolution 598 is the proposed basis [{n}, 7].", "Resolution 598 is the proposed basis [1]."),
    ],
)
def test_invented_marker_is_removed(
    assistant: Assistant, stub: OpenAIStub, template: str, expected: str
) -> None:
    passages = assistant.search(EXAMPLE_QUESTION)
    assert len(passages) < 7
    n = passage_with(passages, NEEDLE)
    stub.script(Reply(text=template.format(n=n)))

    answer = assistant.ask(EXAMPLE_QUESTION, composer="llm")

    assert answer.composer == "llm"
    assert answer.answer == expected
    assert [c.marker for c in answer.citations] == [1]
    assert answer.citations[0].chunk_id == passages[n - 1].chunk_id
    check(answer, assistant)


def test_reply_without_markers_falls_back_to_the_extractive_answer(
    assistant: Assistant, stub: OpenAIStub
) -> None:
    stub.script(Reply(text="The proposed legal basis is UN Security Council Resolution 598."))

    answer = assistant.ask(EXAMPLE_QUESTION, composer="llm")

    assert answer.composer == "extractive"
    assert answer.answer == assistant.ask(EXAMPLE_QUESTION, composer="extractive").answer
    assert answer.citations and not answer.abstained
    check(answer, assistant)


@pytest.mark.parametrize(
    "reply",
    [
        "The proposed legal basis is UN Security Council Resolution 598.",
        "The answer is not in the documents.",
        "The passages do not mention a legal basis [1].",
    ],
)
def test_unsupported_reply_abstains_when_configured(
    sample_index_dir: Path, sample_assistant: Assistant, stub: OpenAIStub, reply: str
) -> None:
    assistant = llm_assistant(sample_index_dir, sample_assistant, stub.base_url, llm_fallback="abstain")
    stub.script(Reply(text=reply))

    answer = assistant.ask(EXAMPLE_QUESTION, composer="llm")

    assert answer.abstained and answer.answer == ABSTAIN_TEXT
    assert answer.citations == [] and answer.passages
    assert answer.composer == "llm"
    check(answer, assistant)


def test_not_in_documents_on_an_unanswerable_question_falls_back(
    assistant: Assistant, stub: OpenAIStub
) -> None:
    stub.script(Reply(text="The answer is not in the documents."))

    answer = assistant.ask(UNANSWERABLE, composer="llm")

    assert answer.composer == "extractive" and answer.abstained
    check(answer, assistant)


def compose_seconds(answer: Answer) -> float:
    """Time spent composing (the model call plus any fallback), without retrieval."""
    return answer.timings_ms["compose"] / 1000


@pytest.mark.parametrize("streaming", [False, True])
def test_reply_slower_than_the_timeout_falls_back_within_the_timeout(
    sample_index_dir: Path, sample_assistant: Assistant, stub: OpenAIStub, streaming: bool
) -> None:
    assistant = llm_assistant(sample_index_dir, sample_assistant, stub.base_url, llm_timeout=SHORT_TIMEOUT)
    n = passage_with(assistant.search(EXAMPLE_QUESTION), NEEDLE)
    stub.script(Reply(text=f"Resolution 598 [{n}].", delay=LATE_S))

    events = list(assistant.stream(EXAMPLE_QUESTION, composer="llm", deltas=streaming))

    answer = events[-1].answer
    assert SHORT_TIMEOUT <= compose_seconds(answer) < SHORT_TIMEOUT + SLACK_S, answer.timings_ms
    assert answer.composer == "extractive" and "598" in answer.answer
    check(answer, assistant)


def test_stream_that_trickles_past_the_timeout_falls_back_within_it(
    sample_index_dir: Path, sample_assistant: Assistant, stub: OpenAIStub
) -> None:
    """The timeout bounds the whole reply, not each read: tokens trickling in do not extend it."""
    assistant = llm_assistant(sample_index_dir, sample_assistant, stub.base_url, llm_timeout=SHORT_TIMEOUT)
    n = passage_with(assistant.search(EXAMPLE_QUESTION), NEEDLE)
    text = f"The proposed legal basis is the resolution that ended the {NEEDLE} [{n}]."
    stub.script(Reply(text=text, chunk_chars=4, chunk_delay=LATE_S / (len(text) / 4)))

    events = list(assistant.stream(EXAMPLE_QUESTION, composer="llm"))

    deltas = [e for e in events if isinstance(e, AnswerDelta)]
    assert deltas and isinstance(events[-1], AnswerReady) and len(events) == len(deltas) + 1
    answer = events[-1].answer
    assert compose_seconds(answer) < SHORT_TIMEOUT + SLACK_S, answer.timings_ms
    assert answer.composer == "extractive"
    check(answer, assistant)


@pytest.mark.parametrize("streaming", [False, True])
def test_http_500_falls_back_without_retrying(
    assistant: Assistant, stub: OpenAIStub, streaming: bool
) -> None:
    stub.script(Reply(status=500), Reply(text="Resolution 598 [1]."))

    events = list(assistant.stream(EXAMPLE_QUESTION, composer="llm", deltas=streaming))

    answer = events[-1].answer
    assert answer.composer == "extractive" and answer.citations
    assert len(stub.requests) == 1, "a failing server is not asked again"
    check(answer, assistant)


@pytest.mark.parametrize("streaming", [False, True])
@pytest.mark.parametrize("body", ["{not json", '{"object": "chat.completion", "choices": null}', ""])
def test_garbage_response_falls_back(
    assistant: Assistant, stub: OpenAIStub, body: str, streaming: bool
) -> None:
    stub.script(Reply(raw_body=body))

    events = list(assistant.stream(EXAMPLE_QUESTION, composer="llm", deltas=streaming))

    answer = events[-1].answer
    assert answer.composer == "extractive" and answer.citations
    check(answer, assistant)


def test_empty_reply_falls_back(assistant: Assistant, stub: OpenAIStub) -> None:
    stub.script(Reply(text="   "))

    answer = assistant.ask(EXAMPLE_QUESTION, composer="llm")

    assert answer.composer == "extractive"
    check(answer, assistant)


def test_unreachable_server_falls_back(sample_index_dir: Path, sample_assistant: Assistant) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/v1"
    assistant = llm_assistant(sample_index_dir, sample_assistant, url, llm_timeout=SHORT_TIMEOUT)

    answer = assistant.ask(EXAMPLE_QUESTION, composer="llm")

    assert compose_seconds(answer) < SHORT_TIMEOUT + SLACK_S, answer.timings_ms
    assert answer.composer == "extractive" and "598" in answer.answer
    check(answer, assistant)


def test_streaming_yields_resolved_deltas_then_the_answer(assistant: Assistant, stub: OpenAIStub) -> None:
    passages = assistant.search(EXAMPLE_QUESTION)
    n = passage_with(passages, NEEDLE)
    other = next(i for i in range(1, len(passages) + 1) if i != n)
    reply = (
        f"The talks could rest on the resolution that ended the {NEEDLE} [{n}, 9]. "
        f"It called for consultations with regional states [{n}][{other}]."
    )
    stub.script(Reply(text=reply, chunk_chars=3))

    events = list(assistant.stream(EXAMPLE_QUESTION, composer="llm"))

    assert isinstance(events[-1], AnswerReady) and len(events) > 5
    deltas = [e for e in events[:-1] if isinstance(e, AnswerDelta)]
    assert len(deltas) == len(events) - 1
    answer = events[-1].answer
    assert answer.composer == "llm" and not answer.abstained
    # markers are resolved as they arrive: the deltas spell exactly the final text
    assert "".join(e.text for e in deltas) == answer.answer
    assert "[9]" not in answer.answer and f"{NEEDLE} [1]." in answer.answer
    assert NEEDLE in answer.citations[0].quote
    check(answer, assistant)
    assert stub.requests[-1].body.get("stream") is True
    assert {"retrieve", "compose", "total"} <= set(answer.timings_ms)


def test_llm_is_the_default_composer_when_configured(assistant: Assistant, stub: OpenAIStub) -> None:
    n = passage_with(assistant.search(EXAMPLE_QUESTION), NEEDLE)
    stub.script(Reply(text=f"Resolution 598 [{n}]."))

    answer = assistant.ask(EXAMPLE_QUESTION)

    assert answer.composer == "llm" and answer.answer == "Resolution 598 [1]."
    check(answer, assistant)


def test_unknown_provider_is_a_clear_error(sample_index_dir: Path, sample_assistant: Assistant) -> None:
    assistant = llm_assistant(sample_index_dir, sample_assistant, "http://127.0.0.1:9/v1", llm="nosuch:model")

    with pytest.raises(AssistantError, match="nosuch:model"):
        assistant.ask(EXAMPLE_QUESTION)


def test_missing_provider_package_names_the_extra(
    sample_index_dir: Path, sample_assistant: Assistant, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "langchain_ollama", None)  # makes the import fail
    assistant = llm_assistant(sample_index_dir, sample_assistant, "http://127.0.0.1:9", llm="ollama:llama3.1")

    with pytest.raises(AssistantError, match=re.escape("pip install -e '.[llm]'")):
        assistant.ask(EXAMPLE_QUESTION)


def test_settings_reach_the_provider_clients() -> None:
    from langchain_ollama import ChatOllama
    from langchain_openai import ChatOpenAI

    from assistant.compose.llm.chat_model import build_chat_model

    url = "http://127.0.0.1:11434"
    ollama = build_chat_model(Settings(llm="ollama:llama3.1:8b", llm_base_url=url, llm_max_tokens=64))
    assert isinstance(ollama, ChatOllama)
    assert (ollama.model, ollama.base_url, ollama.num_predict) == ("llama3.1:8b", url, 64)
    assert ollama.client_kwargs == {"timeout": 30.0}

    openai = build_chat_model(
        Settings(llm="openai:some-model", llm_base_url="http://127.0.0.1:8080/v1", llm_timeout=7.5)
    )
    assert isinstance(openai, ChatOpenAI)
    assert (openai.model_name, openai.openai_api_base, openai.request_timeout) == (
        "some-model",
        "http://127.0.0.1:8080/v1",
        7.5,
    )
    assert openai.max_retries == 0 and openai.max_tokens == 512
