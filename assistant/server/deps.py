"""Shared route dependencies: the one Assistant, the settings, jobs, feedback and access checks."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials

from assistant.core import Assistant
from assistant.server.auth import (
    RateLimiter,
    bearer_scheme,
    check_api_key,
    enforce_rate_limit,
    read_bearer_scheme,
)
from assistant.server.jobs import JobManager
from assistant.settings import Settings
from assistant.state.feedback import FeedbackStore


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_assistant(request: Request) -> Assistant:
    assistant: Assistant = request.app.state.assistant
    return assistant


async def get_jobs(request: Request) -> JobManager:
    jobs: JobManager = request.app.state.jobs
    return jobs


async def get_feedback(assistant: Annotated[Assistant, Depends(get_assistant)]) -> FeedbackStore:
    return assistant.feedback


SettingsDep = Annotated[Settings, Depends(get_settings)]
AssistantDep = Annotated[Assistant, Depends(get_assistant)]
JobsDep = Annotated[JobManager, Depends(get_jobs)]
FeedbackDep = Annotated[FeedbackStore, Depends(get_feedback)]
Credentials = Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)]
ReadCredentials = Annotated[HTTPAuthorizationCredentials | None, Security(read_bearer_scheme)]


async def require_key(settings: SettingsDep, credentials: Credentials) -> None:
    """Writes and the feedback list: the API key whenever one is configured."""
    check_api_key(settings, credentials, "write")


async def require_read_key(settings: SettingsDep, credentials: ReadCredentials) -> None:
    """Asking, searching, reading documents: the key only with ASSISTANT_REQUIRE_KEY_FOR_READ."""
    check_api_key(settings, credentials, "read")


async def rate_limit(request: Request) -> None:
    """Count the request against its client's budget (ASSISTANT_RATE_LIMIT_PER_MINUTE)."""
    limiter: RateLimiter = request.app.state.rate_limiter
    enforce_rate_limit(limiter, request)


WriteAccess = Depends(require_key)
ReadAccess = Depends(require_read_key)
RateLimited = Depends(rate_limit)
