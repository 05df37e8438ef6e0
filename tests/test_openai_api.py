"""The OpenAI-compatible chat API, driven by the official `openai` client against the real app."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from openai import OpenAI

from assistant.core import Assistant
from assistant.models import Citation
from tests.conftest import EXAMPLE_QUESTION
from tests.helpers import app_on, running_server
from tests.openai_stub_server import OpenAIStub, Reply

ZARIF = "zarif-how-iran-sees-the-path-to-peace"
MODEL = "assistant-extractive"
KEY = "test-key-3f9a"


@pytest.fixture(scope="module")
def base_url(sample_index_dir: Any, sample_assistant: Assistant) -> Iterator[str]:
    with running_server(app_on(sample_index_dir, sample_assistant, confident_threshold=0.0)) as url:
        yield url


@pytest.fixture(scope="module")
def client(base_url: str) -> OpenAI:
    return OpenAI(base_url=f"{base_url}/v1", api_key="any-key", max_retries=0)


def citations_of(reply: Any) -> list[Citation]:
    return [Citation.model_validate(c) for c in reply.model_extra["citations"]]


def assert_cited(content: str, citations: list[dict[str, Any]], assistant: Assistant) -> None:
    """Markers and citations match, and each quote is the stored text at its offsets."""
    markers = {int(m) for m in re.findall(r"\[(\d+)\]", content)}
    assert markers == {c["marker"] for c in citations}, content
    for citation in citations:
        text = assistant.get_document(citation["doc_id"]).text
        assert text[citation["start"] : citation["end"]] == citation["quote"]
        assert citation["url"].endswith(
            f"/#/doc/{citation['doc_id']}?start={citation['start']}&end={citation['end']}"
        )


def ask(client: OpenAI, *messages: tuple[str, str], **kwargs: Any) -> Any:
    return client.chat.completions.create(
        model=kwargs.pop("model", MODEL),
        messages=[{"role": role, "content": content} for role, content in messages],  # type: ignore[misc]
        **kwargs,
    )


def test_models_lists_one_model_per_composer_with_a_sources_variant(client: OpenAI) -> None:
    ids = [model.id for model in client.models.list()]

    assert ids == ["assistant-extractive", "assistant-extractive-sources"]


def test_plain_completion_is_the_cited_answer(client: OpenAI, sample_assistant: Assistant) -> None:
    reply = ask(client, ("user", EXAMPLE_QUESTION))

    content = reply.choices[0].message.content
    assert reply.object == "chat.completion"
    assert reply.model == MODEL
    assert reply.choices[0].finish_reason == "stop"
    assert "598" in content
    assert "**Sources**" not in content
    assert reply.model_extra["abstained"] is False
    assert ZARIF in {c.doc_id for c in citations_of(reply)}
    assert_cited(content, reply.model_extra["citations"], sample_assistant)
    assert content == sample_assistant.ask(EXAMPLE_QUESTION).answer


def test_streamed_deltas_join_to_the_final_answer(client: OpenAI, sample_assistant: Assistant) -> None:
    stream = ask(client, ("user", EXAMPLE_QUESTION), stream=True)
    chunks = list(stream)

    assert {chunk.object for chunk in chunks} == {"chat.completion.chunk"}
    assert chunks[0].choices[0].delta.role == "assistant"
    deltas = [chunk.choices[0].delta.content or "" for chunk in chunks]
    assert len([d for d in deltas if d]) > 2, "the answer arrives in pieces"
    final = chunks[-1]
    assert final.choices[0].finish_reason == "stop"
    assert all(chunk.choices[0].finish_reason is None for chunk in chunks[:-1])
    streamed = "".join(deltas)
    assert streamed == sample_assistant.ask(EXAMPLE_QUESTION).answer
    assert final.model_extra["abstained"] is False
    assert_cited(streamed, final.model_extra["citations"], sample_assistant)


def test_stream_ends_with_done(base_url: str) -> None:
    body = {"model": MODEL, "stream": True, "messages": [{"role": "user", "content": EXAMPLE_QUESTION}]}
    response = httpx.post(f"{base_url}/v1/chat/completions", json=body, timeout=60)

    assert response.headers["content-type"].startswith("text/event-stream")
    blocks = response.text.strip().split("\n\n")
    assert all(block.startswith("data: ") for block in blocks)
    assert blocks[-1] == "data: [DONE]"


def test_follow_up_uses_the_earlier_questions(client: OpenAI) -> None:
    first = ask(client, ("user", EXAMPLE_QUESTION)).choices[0].message.content
    reply = ask(
        client,
        ("system", "You are a helpful assistant."),
        ("user", EXAMPLE_QUESTION),
        ("assistant", first),
        ("user", "Which resolution would it use?"),
    )

    assert "598" in reply.choices[0].message.content


def test_follow_up_reads_the_assistant_turn(client: OpenAI) -> None:
    """The earlier reply (with its Sources block) names what 'that resolution' means."""
    first_question = "Which UN resolution ended the war between Iran and Iraq?"
    first = client.chat.completions.create(
        model="assistant-extractive-sources", messages=[{"role": "user", "content": first_question}]
    )
    reply = ask(
        client,
        ("user", first_question),
        ("assistant", first.choices[0].message.content),
        ("user", "When was that resolution adopted?"),
    )

    assert "1987" in reply.choices[0].message.content
    assert reply.model_extra["abstained"] is False


def test_unanswerable_question_abstains_without_citations(client: OpenAI) -> None:
    reply = ask(client, ("user", "Who won the 2022 FIFA World Cup?"))

    assert reply.model_extra["abstained"] is True
    assert reply.model_extra["citations"] == []
    assert "[1]" not in reply.choices[0].message.content


def test_sources_block_on_request(client: OpenAI, sample_assistant: Assistant) -> None:
    by_field = ask(client, ("user", EXAMPLE_QUESTION), extra_body={"include_sources": True})
    by_model = ask(client, ("user", EXAMPLE_QUESTION), model="assistant-extractive-sources")

    plain = sample_assistant.ask(EXAMPLE_QUESTION).answer
    for reply in (by_field, by_model):
        content = reply.choices[0].message.content
        answer, sources = content.split("\n\n**Sources**\n\n")
        assert answer == plain
        assert sources.startswith("[1] ")
        assert "/#/doc/" in sources
        assert_cited(answer, reply.model_extra["citations"], sample_assistant)


def test_streamed_sources_block_precedes_the_final_chunk(client: OpenAI) -> None:
    chunks = list(ask(client, ("user", EXAMPLE_QUESTION), model="assistant-extractive-sources", stream=True))

    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks)
    assert "\n\n**Sources**\n\n[1] " in text
    assert chunks[-1].model_extra["citations"]


def test_wrong_key_is_refused_in_the_openai_error_shape(
    sample_index_dir: Any, sample_assistant: Assistant
) -> None:
    app = app_on(sample_index_dir, sample_assistant, api_key=KEY, require_key_for_read=True)
    with running_server(app) as url:
        wrong = OpenAI(base_url=f"{url}/v1", api_key="not-the-key", max_retries=0)
        with pytest.raises(openai.AuthenticationError) as caught:
            ask(wrong, ("user", EXAMPLE_QUESTION))
        right = OpenAI(base_url=f"{url}/v1", api_key=KEY, max_retries=0)
        reply = ask(right, ("user", EXAMPLE_QUESTION))

    assert caught.value.status_code == 401
    assert caught.value.code == "invalid_api_key"
    assert caught.value.body["message"] == "The API key is not valid"  # type: ignore[index]
    assert "598" in reply.choices[0].message.content


def test_rate_limit_answers_429_with_retry_after(sample_index_dir: Any, sample_assistant: Assistant) -> None:
    app = app_on(sample_index_dir, sample_assistant, rate_limit_per_minute=1)
    with running_server(app) as url:
        client = OpenAI(base_url=f"{url}/v1", api_key="any", max_retries=0)
        ask(client, ("user", EXAMPLE_QUESTION))
        with pytest.raises(openai.RateLimitError) as caught:
            ask(client, ("user", EXAMPLE_QUESTION))

    assert caught.value.code == "rate_limit_exceeded"
    assert int(caught.value.response.headers["Retry-After"]) > 0


def error_of(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["message"] and "Traceback" not in response.text
    return error


def test_malformed_bodies_get_openai_error_objects(base_url: str, client: OpenAI) -> None:
    url = f"{base_url}/v1/chat/completions"
    not_json = httpx.post(url, content=b"{not json", headers={"Content-Type": "application/json"})
    no_messages = httpx.post(url, json={"model": MODEL})
    bad_role = httpx.post(url, json={"model": MODEL, "messages": [{"role": "robot", "content": "hi"}]})
    with pytest.raises(openai.BadRequestError) as empty:
        ask(client)

    assert "not valid JSON" in error_of(not_json, 400)["message"]
    assert error_of(not_json, 400)["param"] is None
    assert error_of(no_messages, 400)["param"] == "messages"
    assert error_of(bad_role, 400)["param"] == "messages.0.role"
    assert empty.value.status_code == 400
    assert empty.value.body["type"] == "invalid_request_error"  # type: ignore[index]


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}]}, "tools"),
        ({"n": 2}, "n"),
        ({"response_format": {"type": "json_object"}}, "response_format"),
        ({"logprobs": True}, "logprobs"),
    ],
)
def test_unsupported_parameters_are_a_clear_400(client: OpenAI, extra: dict[str, Any], param: str) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        ask(client, ("user", EXAMPLE_QUESTION), extra_body=extra)

    assert caught.value.param == param
    assert caught.value.code == "unsupported_parameter"
    assert "not supported" in caught.value.message


def test_images_are_refused(client: OpenAI) -> None:
    content = [
        {"type": "text", "text": "What is in this picture?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
    ]
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": content}])  # type: ignore[misc,list-item]

    assert caught.value.param == "messages.0.content.1"
    assert "image_url" in caught.value.message


def test_text_parts_are_joined_into_the_question(client: OpenAI) -> None:
    content = [{"type": "text", "text": EXAMPLE_QUESTION}]
    reply = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": content}])  # type: ignore[misc,list-item]

    assert "598" in (reply.choices[0].message.content or "")


def test_unknown_model_and_unconfigured_llm_are_404(client: OpenAI) -> None:
    for model in ("gpt-4o", "assistant-llm"):
        with pytest.raises(openai.NotFoundError) as caught:
            ask(client, ("user", EXAMPLE_QUESTION), model=model)
        assert caught.value.code == "model_not_found"
        assert "assistant-extractive" in caught.value.message


def test_last_message_must_be_the_users(client: OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        ask(client, ("user", EXAMPLE_QUESTION), ("assistant", "Resolution 598."))

    assert caught.value.param == "messages.1.role"


def test_too_long_question_is_a_400_naming_the_limit(client: OpenAI, sample_assistant: Assistant) -> None:
    limit = sample_assistant.settings.max_question_chars
    with pytest.raises(openai.BadRequestError) as caught:
        ask(client, ("user", "word " * limit))

    assert "ASSISTANT_MAX_QUESTION_CHARS" in caught.value.message


def test_the_rest_of_the_api_keeps_its_error_shape(base_url: str) -> None:
    response = httpx.post(f"{base_url}/ask", json={})

    assert response.status_code == 422
    assert "detail" in response.json()


# --- the LLM composer behind the same API (its model server is the OpenAI stub) -------------


@pytest.fixture()
def llm_client(sample_index_dir: Any, sample_assistant: Assistant) -> Iterator[tuple[OpenAI, OpenAIStub]]:
    with OpenAIStub() as stub:
        app = app_on(
            sample_index_dir,
            sample_assistant,
            llm="openai:stub-model",
            llm_base_url=stub.base_url,
            llm_api_key="test-key-123",
            confident_threshold=0.0,  # the tentative mark is tested in test_tentative.py
        )
        with running_server(app) as url:
            yield OpenAI(base_url=f"{url}/v1", api_key="any", max_retries=0), stub


def test_llm_model_is_listed_and_answers_with_resolved_citations(
    llm_client: tuple[OpenAI, OpenAIStub], sample_assistant: Assistant
) -> None:
    client, stub = llm_client
    passages = sample_assistant.search(EXAMPLE_QUESTION)
    n = next(i for i, p in enumerate(passages, start=1) if "Iran-Iraq War" in p.text)
    stub.script(Reply(text=f"The talks could rest on the resolution that ended the Iran-Iraq War [{n}]."))

    ids = [model.id for model in client.models.list()]
    reply = ask(client, ("user", EXAMPLE_QUESTION), model="assistant-llm")

    assert "assistant-llm" in ids and "assistant-llm-sources" in ids
    content = reply.choices[0].message.content
    assert content.endswith("Iran-Iraq War [1].")
    assert_cited(content, reply.model_extra["citations"], sample_assistant)


def test_streamed_llm_fallback_ends_with_the_authoritative_answer(
    llm_client: tuple[OpenAI, OpenAIStub], sample_assistant: Assistant
) -> None:
    client, stub = llm_client
    stub.script(Reply(text="The proposed legal basis is UN Security Council Resolution 598.", chunk_chars=5))

    chunks = list(ask(client, ("user", EXAMPLE_QUESTION), model="assistant-llm", stream=True))

    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks)
    fallback = sample_assistant.ask(EXAMPLE_QUESTION, composer="extractive").answer
    assert text.endswith("\n\n---\n\n" + fallback)
    assert_cited(fallback, chunks[-1].model_extra["citations"], sample_assistant)


def test_blank_question_is_a_400(client: OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        ask(client, ("user", "   "))

    assert "empty" in caught.value.message
