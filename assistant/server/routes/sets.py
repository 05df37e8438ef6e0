"""The document sets the caller may read, with their sizes (the web UI's set picker)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from assistant.server.deps import AssistantDep, CallerDep, ReadAccess
from assistant.server.errors import error_responses
from assistant.state.access import visible_sets

router = APIRouter(tags=["documents"])


class DocumentSet(BaseModel):
    name: str
    documents: int


class SetList(BaseModel):
    sets: list[DocumentSet]


@router.get("/sets", response_model=SetList, responses=error_responses(401, 503), dependencies=[ReadAccess])
def list_sets(assistant: AssistantDep, caller: CallerDep) -> SetList:
    """The document sets the caller may read, each with how many documents it holds."""
    assistant.refresh()
    snapshot = assistant.snapshot()
    counts = snapshot.set_counts() if snapshot is not None else {}
    return SetList(
        sets=[DocumentSet(name=name, documents=n) for name, n in visible_sets(counts, caller).items()]
    )
