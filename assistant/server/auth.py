"""API-key checks and a per-client rate limit, used as route dependencies.

The admin key (`ASSISTANT_API_KEY`) grants everything: uploads, deletes and the feedback list
always need it once it is set; asking, searching and reading documents need it only
with `ASSISTANT_REQUIRE_KEY_FOR_READ`. Scoped keys (`assistant keys create`) read only the
documents of their sets; a request without a key reads those of `ASSISTANT_PUBLIC_SETS`. A
scoped key on a write route is 403; a revoked key is 401. Keys are never logged.
"""

from __future__ import annotations

import hmac
import logging
import math
import threading
import time
from dataclasses import dataclass
from typing import Literal

from fastapi import HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from assistant.errors import RevokedKeyError
from assistant.settings import Settings
from assistant.state.access import ADMIN, Caller, key_caller, public_caller
from assistant.state.keys import KeyStore

log = logging.getLogger(__name__)

# Two names for the one key, so the OpenAPI document can show only the rules in force.
WRITE_SCHEME = "ApiKey"
READ_SCHEME = "ApiKeyForReading"
bearer_scheme = HTTPBearer(
    scheme_name=WRITE_SCHEME,
    auto_error=False,
    description="The value of ASSISTANT_API_KEY, sent as `Authorization: Bearer <key>`.",
)
read_bearer_scheme = HTTPBearer(
    scheme_name=READ_SCHEME,
    auto_error=False,
    description="The same key, needed for reading only with ASSISTANT_REQUIRE_KEY_FOR_READ.",
)


Access = Literal["read", "write"]


def key_required(settings: Settings, access: Access) -> bool:
    """Whether this configuration demands the API key for that kind of access."""
    return settings.api_key is not None and (access == "write" or settings.require_key_for_read)


def check_api_key(
    settings: Settings, credentials: HTTPAuthorizationCredentials | None, access: Access
) -> None:
    """Raise 401 unless the request may proceed under the configured key rules."""
    expected = settings.api_key
    if expected is None or not key_required(settings, access):
        return
    if credentials is None:
        raise HTTPException(
            status_code=401,
            detail="An API key is required: send the header `Authorization: Bearer <key>`",
            headers={"WWW-Authenticate": "Bearer"},
        )
    given = credentials.credentials.encode("utf-8")
    if not hmac.compare_digest(given, expected.get_secret_value().encode("utf-8")):
        log.warning("rejected a request with a wrong API key")
        raise HTTPException(
            status_code=401,
            detail="The API key is not valid",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )


def authorize(
    settings: Settings, keys: KeyStore, credentials: HTTPAuthorizationCredentials | None, access: Access
) -> Caller:
    """The caller of a request under the key rules (401/403 when it may not proceed)."""
    if credentials is not None:
        try:
            found = key_caller(settings, keys, credentials.credentials)
        except RevokedKeyError as exc:
            raise HTTPException(
                status_code=401,
                detail="The API key was revoked",
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            ) from exc
        if found is not None:
            if access == "write" and found.sets is not None:
                raise HTTPException(
                    status_code=403, detail="This key may only read; uploads and deletes need an admin key"
                )
            return found
    if key_required(settings, access):
        check_api_key(settings, credentials, access)  # raises the 401 that says what is missing
    return ADMIN if access == "write" else public_caller(settings)


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """A token bucket per client: `per_minute` requests in a burst, refilled evenly."""

    _MAX_CLIENTS = 10_000

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.per_minute > 0

    def acquire(self, client: str, now: float | None = None) -> float:
        """Take one token; return 0 when allowed, else the seconds until one is free."""
        if not self.enabled:
            return 0.0
        now = time.monotonic() if now is None else now
        rate = self.per_minute / 60.0
        with self._lock:
            bucket = self._buckets.get(client)
            if bucket is None:
                if len(self._buckets) >= self._MAX_CLIENTS:
                    self._forget_full_buckets(now, rate)
                bucket = self._buckets[client] = _Bucket(float(self.per_minute), now)
            bucket.tokens = min(self.per_minute, bucket.tokens + (now - bucket.updated) * rate)
            bucket.updated = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0.0
            return (1.0 - bucket.tokens) / rate

    def _forget_full_buckets(self, now: float, rate: float) -> None:
        # A bucket that has refilled completely carries no state worth keeping.
        full = [
            client
            for client, bucket in self._buckets.items()
            if bucket.tokens + (now - bucket.updated) * rate >= self.per_minute
        ]
        for client in full:
            del self._buckets[client]
        if len(self._buckets) >= self._MAX_CLIENTS:
            self._buckets.clear()


def client_id(request: Request) -> str:
    """Who the rate limit counts against: the peer address."""
    return request.client.host if request.client else "unknown"


def enforce_rate_limit(limiter: RateLimiter, request: Request) -> None:
    wait = limiter.acquire(client_id(request))
    if wait > 0:
        raise HTTPException(
            status_code=429,
            detail=f"Too many requests; try again in {math.ceil(wait)} s",
            headers={"Retry-After": str(math.ceil(wait))},
        )
