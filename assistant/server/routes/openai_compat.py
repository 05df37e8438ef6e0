"""The OpenAI-compatible chat API (`/v1/chat/completions`, `/v1/models`) over the same Assistant.

Chat tools (Open WebUI, LibreChat, editors) talk to this as to any OpenAI-style server. The
last user message is the question and the earlier messages (questions and the assistant's
replies) are its history; the reply's
content is the answer with its `[n]` markers, and the citations travel in an extra `citations`
field (and, on request, as a Sources block in the text). Every error, including a wrong key or
a malformed body, is an OpenAI error object `{"error": {message, type, param, code}}`.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable, Coroutine, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from assistant.compose.outcome import TENTATIVE_NOTE
from assistant.compose.seam import AnswerDelta
from assistant.core import Assistant
from assistant.errors import AssistantError, user_message
from assistant.models import Answer, Citation, Turn, source_url
from assistant.server.deps import AssistantDep, CallerDep, RateLimited, ReadAccess, SettingsDep
from assistant.server.errors import RETRY_AFTER_SECONDS, _clean_error, _describe, status_for
from assistant.server.openai_models import (
    MODEL_PREFIX,
    SOURCES_SUFFIX,
    AssistantMessage,
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    ChatMessage,
    Choice,
    ChunkChoice,
    ChunkDelta,
    ModelCard,
    ModelList,
    OpenAIErrorDetail,
    OpenAIErrorResponse,
    SourceCitation,
)
from assistant.server.routes.ask import MAX_HISTORY, check_question_length
from assistant.settings import Settings
from assistant.state.access import narrow

log = logging.getLogger(__name__)

#: how much of each quote the Sources block shows (the full quote is in `citations`)
SOURCE_QUOTE_CHARS = 240
#: opens the Sources block of a reply; an earlier reply sent back as history is read without it
SOURCES_HEADING = "\n\n**Sources**"
#: when the models "were created": the index has no better date, and clients only display it
_CREATED = 1_700_000_000


class OpenAIRequestError(Exception):
    """A request this API refuses, reported as an OpenAI error object."""

    def __init__(self, status: int, message: str, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.param = param
        self.code = code


class OpenAIRoute(APIRoute):
    """Turns every failure on a `/v1` route into OpenAI's error shape.

    Auth, rate limit, body validation and domain errors are all raised inside the route handler,
    so wrapping it here keeps the rest of the API's `{"detail": ...}` shape untouched.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except Exception as exc:
                return error_response(exc, request)

        return handle


router = APIRouter(tags=["openai"], route_class=OpenAIRoute, dependencies=[ReadAccess, RateLimited])

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    404: "invalid_request_error",
    413: "invalid_request_error",
    429: "requests",
}
_ERROR_CODES = {
    401: "invalid_api_key",
    404: "not_found",
    413: "request_too_large",
    429: "rate_limit_exceeded",
    503: "service_unavailable",
}
_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": OpenAIErrorResponse, "description": description}
    for status, description in {
        400: "Malformed request or unsupported parameter",
        401: "Missing or wrong API key (send `Authorization: Bearer <key>`)",
        404: "Unknown model",
        413: "Request body too large",
        429: "Too many requests; retry after the number of seconds in `Retry-After`",
        503: "The index is busy or unreadable; retry later or rebuild it",
    }.items()
}


def error_response(exc: Exception, request: Request) -> JSONResponse:
    """The OpenAI error object (and status, headers) for any failure on a `/v1` route."""
    headers: dict[str, str] | None = None
    param = code = None
    if isinstance(exc, OpenAIRequestError):
        status, message, param, code = exc.status, str(exc), exc.param, exc.code
    elif isinstance(exc, RequestValidationError):
        items = [_clean_error(error) for error in exc.errors()]
        status = 400
        message = "Invalid request: " + ("; ".join(_describe(item) for item in items[:3]) or "malformed")
        if items and items[0]["type"] != "json_invalid":  # its loc is a character position
            param = ".".join(str(part) for part in items[0]["loc"] if part != "body") or None
    elif isinstance(exc, StarletteHTTPException):
        status, message = exc.status_code, str(exc.detail)
        headers = dict(exc.headers or {}) or None
    elif isinstance(exc, AssistantError):
        status, message = status_for(exc), user_message(exc)
        headers = {"Retry-After": RETRY_AFTER_SECONDS} if status == 503 else None
    else:
        log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        status, message = 500, "Internal server error; the server log has details"
    # OpenAI answers 400 where the rest of this API says 422 (e.g. a question over the limit)
    status = 400 if status == 422 else status
    detail = OpenAIErrorDetail(
        message=message,
        type=_ERROR_TYPES.get(status, "server_error"),
        param=param,
        code=code or _ERROR_CODES.get(status),
    )
    body = OpenAIErrorResponse(error=detail).model_dump(mode="json")
    return JSONResponse(body, status_code=status, headers=headers)


# --- models -------------------------------------------------------------------------------


def composer_names(settings: Settings) -> list[str]:
    """Composers this configuration can answer with (llm only when a model is configured)."""
    return ["extractive", "llm"] if settings.llm else ["extractive"]


def model_ids(settings: Settings) -> list[str]:
    """Every model id: one per composer, each also with the suffix that adds a Sources block."""
    names = [MODEL_PREFIX + name for name in composer_names(settings)]
    return names + [name + SOURCES_SUFFIX for name in names]


@dataclass(frozen=True, slots=True)
class ModelChoice:
    composer: str
    sources: bool


def parse_model(model: str, settings: Settings) -> ModelChoice:
    """The composer and Sources option a model id names; 404 `model_not_found` otherwise."""
    if model not in model_ids(settings):
        raise OpenAIRequestError(
            404,
            f"The model '{model}' does not exist; use one of: {', '.join(model_ids(settings))}"
            + ("" if settings.llm else " (assistant-llm needs ASSISTANT_LLM)"),
            param="model",
            code="model_not_found",
        )
    sources = model.endswith(SOURCES_SUFFIX)
    name = model.removesuffix(SOURCES_SUFFIX) if sources else model
    return ModelChoice(composer=name.removeprefix(MODEL_PREFIX), sources=sources)


@router.get("/v1/models", response_model=ModelList, responses=_ERRORS)
def list_models(settings: SettingsDep) -> ModelList:
    """List the models: one per composer, each also as a `-sources` variant."""
    return ModelList(data=[ModelCard(id=name, created=_CREATED) for name in model_ids(settings)])


# --- the request --------------------------------------------------------------------------


def reject_unsupported(body: ChatCompletionRequest) -> None:
    """400 for parameters whose meaning this API cannot honour, rather than ignoring them."""
    refusals: list[tuple[bool, str, str]] = [
        (bool(body.tools) or bool(body.functions), "tools", "tool and function calling"),
        (body.tool_choice not in (None, "none", "auto"), "tool_choice", "forcing a tool call"),
        (body.function_call not in (None, "none", "auto"), "function_call", "forcing a function call"),
        (body.n is not None and body.n != 1, "n", "more than one choice (n > 1)"),
        (
            body.response_format is not None and body.response_format.get("type") not in (None, "text"),
            "response_format",
            "structured output (response_format other than text)",
        ),
        (bool(body.logprobs), "logprobs", "log probabilities"),
        (body.audio is not None or "audio" in (body.modalities or []), "audio", "audio output"),
    ]
    for refused, param, what in refusals:
        if refused:
            raise OpenAIRequestError(
                400,
                f"'{param}' is not supported: this API answers from documents with citations and "
                f"does not offer {what}. Remove the parameter.",
                param=param,
                code="unsupported_parameter",
            )


def message_text(message: ChatMessage, index: int) -> str:
    """The text of one message; a non-text part (image, audio, file) is a 400."""
    if message.content is None or isinstance(message.content, str):
        return message.content or ""
    texts = []
    for part_index, part in enumerate(message.content):
        kind = part.get("type")
        if kind != "text" or not isinstance(part.get("text"), str):
            raise OpenAIRequestError(
                400,
                f"Content parts of type '{kind}' are not supported; send the question as text.",
                param=f"messages.{index}.content.{part_index}",
                code="unsupported_content",
            )
        texts.append(part["text"])
    return "\n".join(texts)


def conversation(messages: Sequence[ChatMessage], settings: Settings) -> tuple[str, list[Turn]]:
    """The question (last message, which must be the user's) and the earlier turns: each user
    message with the assistant reply that followed it (its text without the sources block).

    System messages are not used: the composer has its own instructions.
    """
    last = len(messages) - 1
    if messages[last].role != "user":
        raise OpenAIRequestError(
            400,
            f"The last message must be the user's question; it has role '{messages[last].role}'.",
            param=f"messages.{last}.role",
        )
    question = message_text(messages[last], last)
    turns: list[Turn] = []
    for index, message in enumerate(messages[:last]):
        text = message_text(message, index)
        if message.role == "user" and text.strip():
            check_question_length(text, settings, field="history entry")
            turns.append(Turn(question=text))
        elif message.role == "assistant" and turns and not turns[-1].answer:
            turns[-1].answer = text.split(SOURCES_HEADING, 1)[0].strip()
    check_question_length(question, settings)
    return question, turns[-MAX_HISTORY:]


# --- the reply ----------------------------------------------------------------------------


def viewer_base(request: Request, settings: Settings) -> str:
    """Base URL of the web UI for source links: ASSISTANT_PUBLIC_URL, else this server."""
    return settings.public_url or str(request.base_url)


def cited(citations: Sequence[Citation], base: str) -> list[SourceCitation]:
    return [
        SourceCitation(**citation.model_dump(), url=source_url(base, citation) or "")
        for citation in citations
    ]


def sources_block(citations: Sequence[SourceCitation]) -> str:
    """Markdown list of the sources, for clients that show only the text."""
    if not citations:
        return ""
    entries = []
    for citation in citations:
        quote = " ".join(citation.quote.split())
        if len(quote) > SOURCE_QUOTE_CHARS:
            quote = quote[: SOURCE_QUOTE_CHARS - 1].rstrip() + "…"
        where = f"{citation.doc_id}, characters {citation.start}–{citation.end}"
        if citation.page is not None:
            where += f", page {citation.page}"
        entries.append(
            f"[{citation.marker}] {citation.title or citation.doc_id} ({where}): “{quote}” {citation.url}"
        )
    # one paragraph per source, so Markdown renderers keep them apart
    return SOURCES_HEADING + "\n\n" + "\n\n".join(entries)


def completion(answer: Answer, model: str, choice: ModelChoice, base: str) -> ChatCompletion:
    citations = cited(answer.citations, base)
    text = tentative_prefix(answer) + answer.answer + (sources_block(citations) if choice.sources else "")
    return ChatCompletion(
        id=completion_id(answer),
        created=int(time.time()),
        model=model,
        choices=[Choice(message=AssistantMessage(content=text))],
        citations=citations,
        abstained=answer.abstained,
        tentative=answer.tentative,
    )


def tentative_prefix(answer: Answer) -> str:
    """The short mark before a tentative answer's text (docs/answer-model.md); '' otherwise."""
    return f"_{TENTATIVE_NOTE}_\n\n" if answer.tentative else ""


def completion_id(answer: Answer) -> str:
    return f"chatcmpl-{answer.id or uuid.uuid4().hex}"


_STREAM_DOC: dict[str, Any] = {
    "description": "A ChatCompletion, or with `stream: true` server-sent events: "
    "`data: <ChatCompletionChunk>` lines, the last chunk with finish_reason, citations and "
    "abstained, then `data: [DONE]`.",
    "content": {"text/event-stream": {"schema": {"type": "string"}}},
}


@router.post("/v1/chat/completions", response_model=ChatCompletion, responses={200: _STREAM_DOC, **_ERRORS})
async def chat_completions(
    body: ChatCompletionRequest,
    request: Request,
    assistant: AssistantDep,
    settings: SettingsDep,
    caller: CallerDep,
) -> Response:
    """Answer the last user message with citations, whole or as `chat.completion.chunk` events."""
    choice = parse_model(body.model, settings)
    reject_unsupported(body)
    question, history = conversation(body.messages, settings)
    include = body.include_sources or choice.sources
    choice = ModelChoice(composer=choice.composer, sources=include)
    base = viewer_base(request, settings)
    arguments: dict[str, Any] = {
        "top_k": body.top_k,
        "filters": narrow(body.filters, caller),
        "history": history,
        "composer": choice.composer,
    }
    if not body.stream:
        answer = await run_in_threadpool(lambda: assistant.ask(question, **arguments))
        return JSONResponse(completion(answer, body.model, choice, base).model_dump(mode="json"))
    events = answer_events(assistant, question, arguments)
    # The first event is computed before the response starts, so a bad question or an unreadable
    # index is still an ordinary error object with its status code.
    first = await run_in_threadpool(next, events, None)
    return StreamingResponse(
        stream_chunks(first, events, body.model, choice, base),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def answer_events(assistant: Assistant, question: str, arguments: dict[str, Any]) -> Iterator[str | Answer]:
    """Text deltas, then the final Answer: the one place that reads the core's stream events."""
    for event in assistant.stream(question, **arguments):
        yield event.text if isinstance(event, AnswerDelta) else event.answer


def stream_chunks(
    first: str | Answer | None,
    events: Iterator[str | Answer],
    model: str,
    choice: ModelChoice,
    base: str,
) -> Iterator[str]:
    """Server-sent `chat.completion.chunk` events ending in `data: [DONE]`.

    A sync generator, so Starlette iterates it (and the core's stream) in the thread pool.
    """
    created = int(time.time())
    chunk_id = f"chatcmpl-{uuid.uuid4().hex}"

    def chunk(delta: ChunkDelta, finish: bool = False, answer: Answer | None = None) -> str:
        extra: dict[str, Any] = {}
        if answer is not None:
            extra = {
                "citations": cited(answer.citations, base),
                "abstained": answer.abstained,
                "tentative": answer.tentative,
            }
        data = ChatCompletionChunk(
            id=chunk_id,
            created=created,
            model=model,
            choices=[ChunkChoice(delta=delta, finish_reason="stop" if finish else None)],
            **extra,
        ).model_dump(mode="json", exclude_none=True)
        data["choices"][0]["finish_reason"] = "stop" if finish else None
        return sse(data)

    yield chunk(ChunkDelta(role="assistant", content=""))
    streamed = ""
    try:
        event = first
        while event is not None:
            if isinstance(event, Answer):
                yield from final_chunks(event, streamed, chunk, choice, base)
                break
            streamed += event
            yield chunk(ChunkDelta(content=event))
            event = next(events, None)
    except AssistantError as exc:
        yield sse({"error": OpenAIErrorDetail(message=user_message(exc), type="server_error").model_dump()})
        return
    except Exception as exc:
        log.error("streamed chat completion failed", exc_info=exc)
        message = "Internal server error; the server log has details"
        yield sse({"error": OpenAIErrorDetail(message=message, type="server_error").model_dump(mode="json")})
        return
    yield "data: [DONE]\n\n"


def final_chunks(
    answer: Answer,
    streamed: str,
    chunk: Callable[..., str],
    choice: ModelChoice,
    base: str,
) -> Iterator[str]:
    """Whatever text the client still needs, then the chunk carrying finish_reason and citations."""
    if streamed != answer.answer:
        # The final answer is authoritative (an LLM reply that fell back to the extractive one):
        # a stream cannot take text back, so the client is given the cited answer after a rule.
        separator = "\n\n---\n\n" if streamed else ""
        yield chunk(ChunkDelta(content=separator + answer.answer))
    if answer.tentative:  # known only once the answer is complete: after its text, before sources
        yield chunk(ChunkDelta(content=f"\n\n_{TENTATIVE_NOTE}_"))
    if choice.sources and answer.citations:
        yield chunk(ChunkDelta(content=sources_block(cited(answer.citations, base))))
    yield chunk(ChunkDelta(), finish=True, answer=answer)


def sse(data: dict[str, Any]) -> str:
    return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"
