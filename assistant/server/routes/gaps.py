"""The content-gaps admin page's data: grouped questions as JSON, every record as CSV (admin key)."""

from __future__ import annotations

import csv
import io
from dataclasses import asdict
from typing import Any

import numpy as np
from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel

from assistant.core import Assistant
from assistant.server.deps import AssistantDep, SettingsDep, WriteAccess
from assistant.server.errors import error_responses
from assistant.state.gaps import group_gaps

router = APIRouter(prefix="/admin/gaps", tags=["content gaps"], dependencies=[WriteAccess])


class GapGroupOut(BaseModel):
    question: str
    questions: list[str]
    count: int
    last_asked: str
    reasons: dict[str, int]
    documents: dict[str, int]


class GapsOut(BaseModel):
    enabled: bool
    retention_days: int
    groups: list[GapGroupOut]


def _embed(assistant: Assistant, questions: list[str]) -> np.ndarray:
    """One vector per gap, each distinct question embedded once by the query embedder."""
    distinct = list(dict.fromkeys(questions))
    vectors = assistant.query_embedder.embed(distinct) if distinct else np.zeros((0, 1), dtype=np.float32)
    by_text = dict(zip(distinct, vectors, strict=True))
    return np.array([by_text[q] for q in questions]) if questions else vectors


def _grouped(assistant: Assistant, min_similarity: float) -> list[GapGroupOut]:
    gaps = assistant.gaps.list()
    vectors = _embed(assistant, [gap["question"] for gap in gaps])
    return [GapGroupOut(**asdict(group)) for group in group_gaps(gaps, vectors, min_similarity)]


@router.get("", response_model=GapsOut, responses=error_responses(401))
async def list_gaps(assistant: AssistantDep, settings: SettingsDep) -> GapsOut:
    """Refused, low-confidence and thumbs-down questions, grouped by similar question."""
    groups = await run_in_threadpool(_grouped, assistant, settings.gaps_group_similarity)
    return GapsOut(enabled=settings.gaps_enabled, retention_days=settings.gaps_retention_days, groups=groups)


@router.get("/export.csv", response_class=Response, responses={200: {"content": {"text/csv": {}}}})
def export_gaps(assistant: AssistantDep) -> Response:
    """Every recorded gap within the retention, one row each."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["created_at", "reason", "confidence", "question", "documents"])
    rows: list[dict[str, Any]] = assistant.gaps.list()
    for gap in rows:
        confidence = "" if gap["confidence"] is None else f"{gap['confidence']:.3f}"
        writer.writerow(
            [gap["created_at"], gap["reason"], confidence, gap["question"], " ".join(gap["doc_ids"])]
        )
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="content-gaps.csv"'},
    )
