"""One router per resource; `ROUTERS` is the order the app includes them in."""

from __future__ import annotations

from fastapi import APIRouter

from assistant.server.routes import (
    ask,
    documents,
    feedback,
    gaps,
    health,
    metrics,
    openai_compat,
    search,
    sets,
    sources,
    web,
)

ROUTERS: tuple[APIRouter, ...] = (
    health.router,
    metrics.router,
    ask.router,
    search.router,
    documents.router,
    sets.router,
    feedback.router,
    gaps.router,
    sources.router,
    openai_compat.router,
    web.router,
)

__all__ = ["ROUTERS", "documents"]
