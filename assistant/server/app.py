"""The FastAPI application factory: one shared Assistant, the routers, limits, CORS and the UI."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, ClassVar

import anyio.to_thread
from fastapi import FastAPI, HTTPException
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assistant.core import Assistant
from assistant.server.admission import AdmissionMiddleware
from assistant.server.auth import READ_SCHEME, WRITE_SCHEME, RateLimiter, key_required
from assistant.server.errors import install_error_handlers
from assistant.server.jobs import JOBS_FILENAME, JobManager
from assistant.server.observability import ObservabilityMiddleware
from assistant.server.routes import ROUTERS, documents
from assistant.server.routes.web import WEB_DIR
from assistant.settings import Settings
from assistant.state.keys import KeyStore

log = logging.getLogger(__name__)

#: JSON bodies (questions, feedback) never need more; a 100,000-character question still fits
#: and gets a clear 422 about the question length instead of a 413.
JSON_BODY_LIMIT = 1 << 20
#: multipart boundaries and part headers on top of the files' own bytes
MULTIPART_OVERHEAD = 1 << 16
MAX_FILES_PER_UPLOAD = 100

UPLOADS_DIRNAME = "uploads"


def create_app(
    settings: Settings | None = None, assistant: Assistant | None = None, recover_jobs: bool = True
) -> FastAPI:
    """Build the service; opens (or creates) the index at `settings.index_dir` unless given one.

    `recover_jobs=False` leaves the upload jobs of earlier processes alone: a worker of
    `--workers N` must not fail its siblings' live jobs (the starting process recovers them)."""
    settings = settings or Settings()
    if settings.require_key_for_read and settings.api_key is None:
        raise ValueError("ASSISTANT_REQUIRE_KEY_FOR_READ is set but ASSISTANT_API_KEY is not: set a key")
    if assistant is None:
        # Opened here rather than in the lifespan so a bad index fails `assistant serve`
        # with a clear message before the port is bound, and so Slack can mount on it.
        assistant = Assistant.open_or_create(settings.index_dir, settings=settings)
    index_dir = assistant.index_dir

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Sync routes (ask, search) run in this thread pool. One thread per core keeps the cores
        # busy (model and SQLite release the GIL); more only fight over the GIL and slow every
        # answer, so further requests wait in line instead (bench/RESULTS.md, worker threads).
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.worker_threads
        one_native_thread_per_request()
        yield
        await run_in_threadpool(app.state.jobs.shutdown)

    app = FastAPI(
        title="Assistant",
        summary="Questions answered from your documents, with exact citations.",
        version=_version(),
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.assistant = assistant
    app.state.rate_limiter = RateLimiter(settings.rate_limit_per_minute)
    app.state.keys = KeyStore.for_index(index_dir)
    app.state.jobs = JobManager(
        index_dir / UPLOADS_DIRNAME,
        lambda paths, sets: assistant.index_paths(paths, prune=False, sets=sets),
        state_path=index_dir / JOBS_FILENAME,
        recover=recover_jobs,
    )

    install_error_handlers(app)
    for router in ROUTERS:
        if router is documents.router:
            app.include_router(router, form_limits={"max_files": MAX_FILES_PER_UPLOAD})
        else:
            app.include_router(router)
    if WEB_DIR.is_dir():
        app.mount("/static", StaticFiles(directory=WEB_DIR), name="static")
    app.add_middleware(
        BodyLimitMiddleware,
        default_limit=JSON_BODY_LIMIT,
        limits={("POST", "/documents"): settings.max_upload_bytes + MULTIPART_OVERHEAD},
    )
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(ObservabilityMiddleware)  # times and tags everything but CORS preflights
    app.add_middleware(  # outermost but CORS: a refusal costs least
        AdmissionMiddleware,
        limit=settings.queue_limit,
        target_s=settings.queue_target_ms / 1000,
        threads=settings.worker_threads,
    )
    if settings.cors_origins:  # outermost, so even an early 413 carries CORS headers
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
        )
    if settings.slack_enabled:
        from assistant.slack.http import mount_slack

        mount_slack(app, assistant, settings)
        log.info("Slack events enabled at /slack/events")
    _tailor_openapi(app, settings)
    return app


def create_app_from_environment() -> FastAPI:
    """The app factory each worker process of `assistant serve --workers N` calls (uvicorn's
    `factory=True`): settings from the environment, the index opened read-only from disk (the
    vectors memory-mapped, so the processes share their pages) and the query model warmed."""
    settings = Settings()
    if settings.log_format == "json":
        from assistant.observability.logs import use_json_logs

        use_json_logs()
    app = create_app(settings, recover_jobs=False)
    app.state.assistant.embed_query("warm up")  # load the model now, not during the first question
    return app


def _tailor_openapi(app: FastAPI, settings: Settings) -> None:
    """Make /openapi.json describe this configuration exactly, so clients and fuzzers can trust it.

    A route declares the bearer scheme (and 401) only when this app actually demands the key
    there, and text fields carry the configured length limit.
    """
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = generate()
        _declare_key_rules(schema, settings)
        components = schema.get("components", {}).get("schemas", {})
        limit = settings.max_question_chars
        limited = (("AskRequest", "question"), ("SearchRequest", "query"), ("FeedbackIn", "question"))
        for model, field in limited:
            if model in components:
                components[model]["properties"][field]["maxLength"] = limit
        history = components.get("AskRequest", {}).get("properties", {}).get("history", {})
        for option in history.get("anyOf", []):
            if option.get("type") == "array":
                for item in option.get("items", {}).get("anyOf", []):
                    if item.get("type") == "string":
                        item["maxLength"] = limit
        _homogeneous_tuples_as_arrays(schema)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


class BodyLimitMiddleware:
    """413 for a body over the limit: at once from Content-Length, else while it is read.

    Raising HTTPException from `receive` lets the route's JSON error handler answer, so the
    client gets the usual `{"detail": ...}` instead of a bare text response.
    """

    def __init__(self, app: ASGIApp, default_limit: int, limits: dict[tuple[str, str], int]) -> None:
        self.app = app
        self.default_limit = default_limit
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limits.get((scope["method"], scope["path"]), self.default_limit)
        too_large = HTTPException(413, f"Request body too large: the limit is {limit:,} bytes")
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            response = JSONResponse({"detail": too_large.detail}, status_code=413)
            await response(scope, receive, send)
            return
        received = 0

        async def receive_limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise too_large
            return message

        await self.app(scope, receive_limited, send)


class SecurityHeadersMiddleware:
    """Headers every response should carry: no MIME sniffing, no framing, no referrer leaks."""

    HEADERS: ClassVar[dict[str, str]] = {
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "no-referrer",
    }

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _declare_key_rules(schema: dict[str, Any], settings: Settings) -> None:
    """Keep a route's bearer requirement (and its 401) only where this configuration checks it."""
    needed = {WRITE_SCHEME: key_required(settings, "write"), READ_SCHEME: key_required(settings, "read")}
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            requirements = [
                {WRITE_SCHEME if name == READ_SCHEME else name: scopes}  # one key, one name
                for requirement in operation.get("security", [])
                for name, scopes in requirement.items()
                if needed.get(name, True)
            ]
            if requirements:
                operation["security"] = requirements[:1]
            elif "security" in operation:
                del operation["security"]
                operation.get("responses", {}).pop("401", None)
    schemes = schema.get("components", {}).get("securitySchemes", {})
    schemes.pop(READ_SCHEME, None)
    if not needed[WRITE_SCHEME]:
        schemes.pop(WRITE_SCHEME, None)
    if not schemes:
        schema.get("components", {}).pop("securitySchemes", None)


def _homogeneous_tuples_as_arrays(node: Any) -> None:
    """Rewrite `prefixItems` of one repeated type (e.g. `(start, end, page)`) as plain `items`.

    Equivalent for validation, and understood by OpenAPI tools that predate `prefixItems`.
    """
    if isinstance(node, list):
        for item in node:
            _homogeneous_tuples_as_arrays(item)
        return
    if not isinstance(node, dict):
        return
    prefix = node.get("prefixItems")
    if isinstance(prefix, list) and prefix and all(p == prefix[0] for p in prefix):
        del node["prefixItems"]
        node["items"] = prefix[0]
    for value in node.values():
        _homogeneous_tuples_as_arrays(value)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("assistant")
    except PackageNotFoundError:
        return "0.0.0"


def one_native_thread_per_request() -> None:
    """BLAS and OpenMP pools of this process to one thread each.

    A question's math is small (a matrix-vector product over a few thousand chunks, a FAISS
    walk), and the service runs many questions at once: with a pool per call, every product
    woke threads on every core that spun against each other and against the other requests.
    On 2 cores, 2 workers under 32 clients answered 110/s with the pools and 247/s without
    (bench/RESULTS.md, serving). Parallelism comes from concurrent requests instead.
    """
    import faiss
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1)
    faiss.omp_set_num_threads(1)
