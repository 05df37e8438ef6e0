"""Operator routes: Prometheus metrics and readiness (liveness is /health)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from pydantic import BaseModel

from assistant.observability import metrics
from assistant.server.deps import AssistantDep

router = APIRouter(tags=["operations"])


class Readiness(BaseModel):
    ready: bool
    detail: str


@router.get("/metrics", response_class=Response, responses={200: {"content": {metrics.CONTENT_TYPE: {}}}})
def prometheus_metrics(assistant: AssistantDep) -> Response:
    """Every metric in the Prometheus text format (merged over workers in multiprocess mode)."""
    stats = assistant.stats()
    metrics.set_index_size(stats["documents"], stats["chunks"])
    return Response(metrics.render(), media_type=metrics.CONTENT_TYPE)


@router.get(
    "/ready",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "No index loaded yet"}},
)
def ready(assistant: AssistantDep, response: Response) -> Readiness:
    """200 once an index is loaded and questions can be answered; 503 before."""
    if assistant.snapshot() is None:
        response.status_code = 503
        return Readiness(ready=False, detail="no index is loaded yet: build one (assistant index build)")
    return Readiness(ready=True, detail="serving index " + assistant.stats()["index_version"])
