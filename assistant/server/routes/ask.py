"""Questions in, cited answers out: whole (`POST /ask`) or streamed as server-sent events."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException
from fastapi.responses import StreamingResponse
from pydantic import AfterValidator, BaseModel, BeforeValidator, Field
from starlette.concurrency import run_in_threadpool

from assistant.compose.seam import AnswerReady, StreamEvent
from assistant.errors import AssistantError, user_message
from assistant.models import Answer, SearchFilters, Turn
from assistant.server.deps import AssistantDep, CallerDep, RateLimited, ReadAccess, SettingsDep
from assistant.server.errors import error_responses
from assistant.settings import Settings
from assistant.state.access import narrow

log = logging.getLogger(__name__)

router = APIRouter(tags=["ask"], dependencies=[ReadAccess, RateLimited])

MAX_HISTORY = 20
_ERRORS = error_responses(401, 413, 422, 429, 503)


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("it is empty; ask something in words")
    return value


#: Text with at least one non-space character; the app's OpenAPI adds the configured maxLength.
Words = Annotated[
    str,
    Field(min_length=1, json_schema_extra={"pattern": r"\S"}),
    AfterValidator(_not_blank),
]


def _integer_not_bool(value: Any) -> Any:
    # JSON Schema's "integer" admits 3.0 but not true; pydantic's lax int is the other way round.
    if isinstance(value, bool):
        raise ValueError("must be an integer, not true/false")
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


TopK = Annotated[int, Field(ge=1, le=100, strict=True), BeforeValidator(_integer_not_bool)]


class AskRequest(BaseModel):
    """A question, optionally narrowed to some documents or following earlier questions."""

    question: Words = Field(description="Limited to ASSISTANT_MAX_QUESTION_CHARS.")
    top_k: TopK | None = Field(None, description="Passages to retrieve.")
    filters: SearchFilters | None = None
    history: list[Turn | str] | None = Field(
        None,
        max_length=MAX_HISTORY,
        description="Earlier turns of this conversation, oldest first: each a question with the "
        "answer given and its citations (a follow-up is read against them), or a bare earlier "
        "question.",
    )


def check_question_length(text: str, settings: Settings, field: str = "question") -> None:
    """422 before any work when the text is over the configured limit."""
    limit = settings.max_question_chars
    if len(text) > limit:
        raise HTTPException(
            status_code=422,
            detail=f"The {field} is {len(text):,} characters long; the limit is {limit:,} "
            "(ASSISTANT_MAX_QUESTION_CHARS)",
        )


def _check(body: AskRequest, settings: Settings) -> None:
    check_question_length(body.question, settings)
    for earlier in body.history or []:
        text = earlier if isinstance(earlier, str) else earlier.question
        check_question_length(text, settings, field="history entry")


@router.post("/ask", response_model=Answer, responses=_ERRORS)
def ask(body: AskRequest, assistant: AssistantDep, settings: SettingsDep, caller: CallerDep) -> Answer:
    """Answer a question with citations into the indexed documents (those of the caller's sets)."""
    _check(body, settings)
    filters = narrow(body.filters, caller)
    return assistant.ask(body.question, top_k=body.top_k, filters=filters, history=body.history)


_STREAM_DOC = {
    "description": 'Server-sent events: `delta` events (`{"text": ...}`) as the answer is '
    'produced, then one `answer` event with the Answer JSON; `error` (`{"detail": ...}`) '
    "if it fails part-way.",
    "content": {
        "text/event-stream": {
            # Before OpenAPI 3.2 (no itemSchema) an event stream's schema describes one event.
            "schema": {
                "type": "object",
                "required": ["event", "data"],
                "properties": {
                    "event": {"type": "string", "enum": ["delta", "answer", "error"]},
                    "data": {"type": "string", "contentMediaType": "application/json"},
                },
            }
        }
    },
}


@router.post(
    "/ask/stream",
    response_class=StreamingResponse,
    responses={200: _STREAM_DOC, **_ERRORS},
)
async def ask_stream(
    body: AskRequest, assistant: AssistantDep, settings: SettingsDep, caller: CallerDep
) -> StreamingResponse:
    """Answer a question as a stream of server-sent events (for the web UI)."""
    _check(body, settings)
    events = await run_in_threadpool(
        assistant.stream,
        body.question,
        top_k=body.top_k,
        filters=narrow(body.filters, caller),
        history=body.history,
    )
    # The first event is produced before the response starts, so a bad question or an
    # unreadable index is still an ordinary JSON error with its status code.
    first = await run_in_threadpool(next, events, None)
    return StreamingResponse(
        _sse(first, events),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _sse(first: StreamEvent | None, events: Iterator[StreamEvent]) -> Iterator[str]:
    """Format core events as SSE; a sync generator, so Starlette iterates it in the threadpool."""
    try:
        event = first
        while event is not None:
            yield _format(event)
            event = next(events, None)
    except AssistantError as exc:
        yield format_sse("error", {"detail": user_message(exc)})
    except Exception as exc:
        log.error("streamed answer failed", exc_info=exc)
        yield format_sse("error", {"detail": "Internal server error; the server log has details"})


def _format(event: StreamEvent) -> str:
    if isinstance(event, AnswerReady):
        return format_sse("answer", event.answer.model_dump(mode="json"))
    return format_sse("delta", {"text": event.text})


def format_sse(event: str, data: Any) -> str:
    """One SSE message; JSON without newlines keeps `data:` to a single line."""
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"
