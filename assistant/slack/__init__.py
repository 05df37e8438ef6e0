"""Slack front end: a slack-bolt app served over HTTP by the API server, or over Socket Mode."""

from assistant.slack.app import SlackBot, build_app

__all__ = ["SlackBot", "build_app"]
