"""`assistant slack`: run the Slack bot over Socket Mode (no public URL needed)."""

from __future__ import annotations

import logging
from pathlib import Path

import click
from pydantic import ValidationError

from assistant.cli.common import friendly_errors, index_dir_option, load_assistant
from assistant.settings import Settings

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


@click.command("slack")
@index_dir_option
@friendly_errors
def slack(index_dir: Path | None) -> None:
    """Run the Slack bot in Socket Mode.

    Needs ASSISTANT_SLACK_BOT_TOKEN (xoxb-...) and ASSISTANT_SLACK_APP_TOKEN (xapp-...); see
    docs/slack.md. For the HTTP Events API instead, set ASSISTANT_SLACK_SIGNING_SECRET and run
    `assistant serve`.
    """
    from assistant.slack.socket import check_socket_settings, run_socket_mode

    settings = _settings()
    # Refuse before loading the model and the index: a missing token is the common first error.
    check_socket_settings(settings)
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    assistant = load_assistant(index_dir)
    run_socket_mode(assistant, assistant.settings)


def _settings() -> Settings:
    """Settings from the environment; a bad value names the variable but never echoes it."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"ASSISTANT_{'_'.join(str(part) for part in error['loc']).upper()}: {error['msg']}"
            for error in exc.errors()
        )
        raise click.ClickException(f"invalid configuration: {problems}") from None
