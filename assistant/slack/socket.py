"""Run the Slack bot over Socket Mode: no public URL, Slack pushes events over a WebSocket."""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_sdk.errors import SlackApiError

from assistant.errors import ConfigError
from assistant.settings import Settings
from assistant.slack.app import build_app

if TYPE_CHECKING:
    from assistant.core import Assistant

log = logging.getLogger(__name__)


def check_socket_settings(settings: Settings) -> None:
    """Raise a message saying what to set when Socket Mode cannot start with these settings."""
    missing = []
    if settings.slack_app_token is None:
        missing.append(
            "ASSISTANT_SLACK_APP_TOKEN (an app-level token, xapp-..., with the connections:write "
            "scope: Basic Information > App-Level Tokens)"
        )
    if settings.slack_bot_token is None:
        missing.append("ASSISTANT_SLACK_BOT_TOKEN (the Bot User OAuth Token, xoxb-...: OAuth & Permissions)")
    if missing:
        raise ConfigError("Socket Mode needs " + " and ".join(missing) + ". See docs/slack.md for the setup.")
    app_token = settings.slack_app_token.get_secret_value() if settings.slack_app_token else ""
    if not app_token.startswith("xapp-"):
        raise ConfigError(
            "ASSISTANT_SLACK_APP_TOKEN must be an app-level token starting with 'xapp-' "
            "(not the bot token); create one under Basic Information > App-Level Tokens."
        )


def socket_mode_handler(assistant: Assistant, settings: Settings) -> SocketModeHandler:
    """A connected-on-demand Socket Mode handler for the bot (call `.connect()` or `.start()`)."""
    check_socket_settings(settings)
    app = build_app(assistant, settings, socket_mode=True)
    try:
        identity = app.client.auth_test()
    except SlackApiError as exc:
        raise ConfigError(
            f"Slack rejected ASSISTANT_SLACK_BOT_TOKEN ({exc.response.get('error')}); "
            "copy the current Bot User OAuth Token from OAuth & Permissions."
        ) from exc
    log.info("Slack bot user %s in team %s", identity.get("user_id"), identity.get("team"))
    app_token = settings.slack_app_token.get_secret_value() if settings.slack_app_token else ""
    return SocketModeHandler(app, app_token=app_token)


def run_socket_mode(assistant: Assistant, settings: Settings) -> None:
    """Connect and serve until interrupted (Ctrl-C)."""
    handler = socket_mode_handler(assistant, settings)
    try:
        handler.connect()
    except SlackApiError as exc:
        raise ConfigError(
            f"Slack refused the Socket Mode connection ({exc.response.get('error')}); check "
            "ASSISTANT_SLACK_APP_TOKEN and that Socket Mode is enabled for the app."
        ) from exc
    log.info("Slack bot connected over Socket Mode; press Ctrl-C to stop")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        log.info("stopping the Slack bot")
    finally:
        handler.close()
