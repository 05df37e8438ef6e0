"""Ranked passages for a query, without composing an answer."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from assistant.models import Passage, SearchFilters
from assistant.server.deps import AssistantDep, CallerDep, ReadAccess, SettingsDep
from assistant.server.errors import error_responses
from assistant.server.routes.ask import TopK, Words, check_question_length
from assistant.state.access import narrow

router = APIRouter(tags=["search"], dependencies=[ReadAccess])


class SearchRequest(BaseModel):
    query: Words = Field(description="Limited to ASSISTANT_MAX_QUESTION_CHARS.")
    top_k: TopK | None = None
    filters: SearchFilters | None = None
    mode: Literal["hybrid", "dense", "keyword"] = "hybrid"


class SearchResponse(BaseModel):
    passages: list[Passage]


@router.post("/search", response_model=SearchResponse, responses=error_responses(401, 413, 422, 503))
def search(
    body: SearchRequest, assistant: AssistantDep, settings: SettingsDep, caller: CallerDep
) -> SearchResponse:
    """Return the passages retrieval ranks highest for the query (in the caller's sets)."""
    check_question_length(body.query, settings, field="query")
    filters = narrow(body.filters, caller)
    passages = assistant.search(body.query, top_k=body.top_k, filters=filters, mode=body.mode)
    return SearchResponse(passages=passages)
