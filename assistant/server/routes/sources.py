"""The registered sources: each one's last sync, counts and per-item errors."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from assistant.server.deps import AssistantDep, ReadAccess
from assistant.server.errors import error_responses
from assistant.sources.registry import SourceStatus

router = APIRouter(tags=["sources"])


class SourceList(BaseModel):
    sources: list[SourceStatus]


@router.get("/sources", response_model=SourceList, responses=error_responses(401), dependencies=[ReadAccess])
def list_sources(assistant: AssistantDep) -> SourceList:
    """Each registered source with its last sync, counts and the items that failed (and why)."""
    return SourceList(sources=[s.model_copy(update={"config": {}}) for s in assistant.sources().load()])
