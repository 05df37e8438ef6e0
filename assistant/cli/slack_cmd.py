"""`assistant slack`: run the Slack bot over Socket Mode (no public URL needed)."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from assistant.cli.common import command_settings, friendly_errors, index_dir_option, load_assistant

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

    settings = command_settings(index_dir=index_dir)
    # Refuse before loading the model and the index: a missing token is the common first error.
    check_socket_settings(settings)
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    run_socket_mode(load_assistant(settings), settings)
