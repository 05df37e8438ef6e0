"""Mount the Slack bot on the FastAPI service: events, actions and /ask share POST /slack/events."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from slack_bolt.adapter.fastapi import SlackRequestHandler
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from starlette.concurrency import run_in_threadpool

from assistant.settings import Settings
from assistant.slack.app import build_app

if TYPE_CHECKING:
    from assistant.core import Assistant

log = logging.getLogger(__name__)

SLACK_EVENTS_PATH = "/slack/events"


class ThreadedSlackRequestHandler(SlackRequestHandler):
    """Bolt's FastAPI handler, but dispatching in a worker thread.

    `App.dispatch` is synchronous (signature check, auth.test on first use, ack); run inline it
    would stall the event loop and every other request with it.
    """

    async def handle(
        self, req: Request, addition_context_properties: dict[str, Any] | None = None
    ) -> Response:
        if req.method != "POST":
            return await super().handle(req, addition_context_properties)
        timestamp = req.headers.get("x-slack-request-timestamp", "0")
        if not timestamp.strip().lstrip("-").isdigit():
            # Bolt's verifier would raise on it (a 500); it is simply an unverifiable request.
            return JSONResponse({"error": "invalid request"}, status_code=401)
        body = await req.body()
        bolt_request = to_bolt_request(req, body, addition_context_properties)
        bolt_response = await run_in_threadpool(self.app.dispatch, bolt_request)
        return to_starlette_response(bolt_response)


def mount_slack(app: FastAPI, assistant: Assistant, settings: Settings) -> None:
    """Add `POST /slack/events` (Events API, interactivity and the /ask command) to `app`.

    Requests are verified with the signing secret by Bolt (bad or stale signatures get 401), so
    this route must stay outside any API-key check.
    """
    handler = ThreadedSlackRequestHandler(build_app(assistant, settings))

    @app.post(SLACK_EVENTS_PATH, include_in_schema=False)
    async def slack_events(request: Request) -> Response:
        return await handler.handle(request)

    app.state.slack_handler = handler
    log.info("Slack events endpoint mounted at %s", SLACK_EVENTS_PATH)
