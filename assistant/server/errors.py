"""Every error leaves the service as JSON `{"detail": message}`; the mapping lives here only."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from assistant.errors import (
    AssistantError,
    ConfigError,
    DocumentNotFoundError,
    FileTooLargeError,
    IndexBusyError,
    IndexCorruptError,
    IndexNotFoundError,
    IndexVersionError,
    IndexWriteError,
    InvalidFeedbackError,
    InvalidQuestionError,
    LoadError,
    ModelMismatchError,
    StateVersionError,
    UnsupportedFileTypeError,
    user_message,
)

log = logging.getLogger(__name__)

_METHODS = ("DELETE", "GET", "PATCH", "POST", "PUT")

# Most specific first: the first isinstance match wins.
STATUS_BY_ERROR: tuple[tuple[type[AssistantError], int], ...] = (
    (DocumentNotFoundError, 404),
    (InvalidQuestionError, 422),
    (InvalidFeedbackError, 422),
    (UnsupportedFileTypeError, 415),
    (FileTooLargeError, 413),
    (LoadError, 422),
    (IndexBusyError, 503),
    (IndexNotFoundError, 503),
    (IndexCorruptError, 503),
    (IndexVersionError, 503),
    (IndexWriteError, 503),
    (ModelMismatchError, 503),
    (StateVersionError, 503),
    (ConfigError, 500),
)
RETRY_AFTER_SECONDS = "5"


class ErrorResponse(BaseModel):
    """The body of every error response."""

    detail: str


class ValidationErrorItem(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ValidationErrorResponse(ErrorResponse):
    """A 422 for a malformed request: a readable summary plus each problem found."""

    errors: list[ValidationErrorItem] = []


_DESCRIPTIONS = {
    401: "Missing or wrong API key (send `Authorization: Bearer <key>`)",
    403: "The API key is not allowed to do this",
    404: "Not found",
    413: "Request body too large",
    415: "Unsupported file type",
    422: "Malformed request",
    429: "Too many requests; retry after the number of seconds in `Retry-After`",
    503: "The index is busy or unreadable; retry later or rebuild it",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries for the given error statuses, all with the error model."""
    return {
        status: {
            "model": ValidationErrorResponse if status == 422 else ErrorResponse,
            "description": _DESCRIPTIONS[status],
        }
        for status in statuses
    }


def status_for(exc: AssistantError) -> int:
    for error_type, status in STATUS_BY_ERROR:
        if isinstance(exc, error_type):
            return status
    return 400


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that turn every failure into a JSON error body."""
    app.add_exception_handler(AssistantError, _assistant_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)


async def _assistant_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AssistantError)
    status = status_for(exc)
    if status >= 500:
        log.warning("%s %s failed: %s", request.method, request.url.path, exc)
    headers = {"Retry-After": RETRY_AFTER_SECONDS} if status == 503 else None
    return JSONResponse({"detail": user_message(exc)}, status_code=status, headers=headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    items = [_clean_error(error) for error in exc.errors()]
    summary = "; ".join(_describe(item) for item in items[:3]) or "malformed request"
    if len(items) > 3:
        summary += f" (and {len(items) - 3} more)"
    return JSONResponse({"detail": f"Invalid request: {summary}", "errors": items}, status_code=422)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail
    body = {"detail": detail if isinstance(detail, str) else jsonable_encoder(detail)}
    headers = dict(exc.headers or {})
    status = exc.status_code
    if status == 400:
        # A body the parser cannot read (bad UTF-8, broken multipart) is a malformed request.
        status = 422
        body["detail"] = f"Invalid request: {body['detail']}"
    if exc.status_code == 405:
        # Starlette names only the first route that matched the path; list every method.
        headers["Allow"] = ", ".join(_allowed_methods(request))
    return JSONResponse(body, status_code=status, headers=headers or None)


def _allowed_methods(request: Request) -> list[str]:
    allowed = []
    for method in _METHODS:
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] == Match.FULL for route in request.app.router.routes):
            allowed.append(method)
    return allowed


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    # The traceback goes to the log only; the client learns nothing about the internals.
    log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    return JSONResponse({"detail": "Internal server error; the server log has details"}, 500)


def _clean_error(error: dict[str, Any]) -> dict[str, Any]:
    # `input` can echo a 100 kB question back and `ctx` may hold exception objects: drop both.
    return {
        "loc": [part if isinstance(part, int) else str(part) for part in error.get("loc", ())],
        "msg": str(error.get("msg", "invalid value")),
        "type": str(error.get("type", "value_error")),
    }


def _describe(item: dict[str, Any]) -> str:
    loc = [str(part) for part in item["loc"] if part != "body"]
    where = ".".join(loc)
    if item["type"] == "json_invalid":
        return "the body is not valid JSON"
    if not where and item["type"] == "missing":
        return "a request body is required"
    return f"{where}: {item['msg']}" if where else item["msg"]
