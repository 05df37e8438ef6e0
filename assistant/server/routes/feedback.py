"""Thumbs up/down on answers: anyone may rate; listing needs the API key when one is set."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from assistant.server.deps import AssistantDep, FeedbackDep, RateLimited, ReadAccess, SettingsDep, WriteAccess
from assistant.server.errors import error_responses
from assistant.server.routes.ask import check_question_length
from assistant.state.feedback import MAX_COMMENT_CHARS, MAX_ID_CHARS

router = APIRouter(tags=["feedback"])


class FeedbackIn(BaseModel):
    answer_id: str = Field(min_length=1, max_length=MAX_ID_CHARS, pattern=r"\S")
    rating: Literal["up", "down"]
    comment: str = Field("", max_length=MAX_COMMENT_CHARS)
    question: str = Field("", description="Limited to ASSISTANT_MAX_QUESTION_CHARS.")


class FeedbackCreated(BaseModel):
    id: int


class FeedbackEntry(BaseModel):
    id: int
    answer_id: str
    rating: Literal["up", "down"]
    comment: str
    question: str
    source: str
    created_at: str


class FeedbackList(BaseModel):
    feedback: list[FeedbackEntry]


@router.post(
    "/feedback",
    status_code=201,
    response_model=FeedbackCreated,
    responses=error_responses(401, 413, 422, 429),
    dependencies=[ReadAccess, RateLimited],
)
def add_feedback(
    body: FeedbackIn, store: FeedbackDep, settings: SettingsDep, assistant: AssistantDep
) -> FeedbackCreated:
    """Record a rating (and optional comment) for an answer id."""
    check_question_length(body.question, settings)
    row_id = store.add(
        body.answer_id, body.rating, comment=body.comment, question=body.question, source="web"
    )
    if body.rating == "down" and body.question.strip() and settings.gaps_enabled:
        # The feedback names no documents: search again for the ones this question retrieves.
        doc_ids = list(dict.fromkeys(p.doc_id for p in assistant.search(body.question)))
        assistant.gaps.record(body.question, "thumbs_down", doc_ids)
    return FeedbackCreated(id=row_id)


@router.get(
    "/feedback",
    response_model=FeedbackList,
    responses=error_responses(401, 422),
    dependencies=[WriteAccess],
)
def list_feedback(store: FeedbackDep, limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> FeedbackList:
    """The newest feedback first."""
    return FeedbackList(feedback=[FeedbackEntry(**row) for row in store.list(limit=limit)])
