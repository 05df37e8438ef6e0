"""Shared route dependencies: the one Assistant, the settings, jobs, feedback and access checks."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials

from assistant.core import Assistant
from assistant.server.auth import (
    RateLimiter,
    authorize,
    bearer_scheme,
    enforce_rate_limit,
    read_bearer_scheme,
)
from assistant.server.jobs import JobManager
from assistant.server.observability import CALLER_STATE
from assistant.settings import Settings
from assistant.state.access import Caller
from assistant.state.feedback import FeedbackStore
from assistant.state.keys import KeyStore


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


async def get_keys(request: Request) -> KeyStore:
    keys: KeyStore = request.app.state.keys
    return keys


KeysDep = Annotated[KeyStore, Depends(get_keys)]


def require_key(request: Request, settings: SettingsDep, keys: KeysDep, credentials: Credentials) -> Caller:
    """Writes and the feedback list: the API key (or an admin key) whenever one is configured."""
    return _known(request, authorize(settings, keys, credentials, "write"))


def require_read_key(
    request: Request, settings: SettingsDep, keys: KeysDep, credentials: ReadCredentials
) -> Caller:
    """Asking, searching, reading documents: the key only with ASSISTANT_REQUIRE_KEY_FOR_READ;
    the caller's sets limit what it reads."""
    return _known(request, authorize(settings, keys, credentials, "read"))


def _known(request: Request, caller: Caller) -> Caller:
    """Leave the caller's name for the audit line (server/observability.py)."""
    setattr(request.state, CALLER_STATE, caller.name)
    return caller


CallerDep = Annotated[Caller, Depends(require_read_key)]


async def rate_limit(request: Request) -> None:
    """Count the request against its client's budget (ASSISTANT_RATE_LIMIT_PER_MINUTE)."""
    limiter: RateLimiter = request.app.state.rate_limiter
    enforce_rate_limit(limiter, request)


WriteAccess = Depends(require_key)
ReadAccess = Depends(require_read_key)
RateLimited = Depends(rate_limit)
