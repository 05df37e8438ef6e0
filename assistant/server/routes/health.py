"""Liveness plus what is being served: counts, model and index version."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from assistant.server.deps import AssistantDep
from assistant.server.errors import error_responses

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str = "ok"
    documents: int
    chunks: int
    model: str
    index_version: str


@router.get("/health", response_model=Health, responses=error_responses(503))
def health(assistant: AssistantDep) -> Health:
    """Report that the service is up and which index it serves."""
    return Health(**assistant.stats())
