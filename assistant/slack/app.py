"""The Slack bot: a Bolt App whose listeners answer mentions, DMs, thread follow-ups and /ask.

Every listener acknowledges at once and does the slow work in a lazy listener, so Slack's
3-second limit holds whatever the answer costs (and the app also works with
`process_before_response=True`). Duplicate deliveries are dropped before any work starts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from slack_bolt import Ack, App, BoltContext, BoltRequest, BoltResponse, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from assistant.errors import AssistantError, ConfigError, user_message
from assistant.models import Answer, SearchFilters, Turn
from assistant.observability.audit import audited
from assistant.settings import DM_CHANNELS, Settings
from assistant.slack.blocks import (
    FEEDBACK_ACTION_PATTERN,
    SHARE_ACTION_PATTERN,
    SlackMessage,
    answer_messages,
    escape_mrkdwn,
    notice_message,
    parse_feedback_action,
)
from assistant.slack.dedupe import Deduplicator, TTLMap
from assistant.slack.text import (
    bot_in_thread,
    clean_question,
    earlier_turns,
    is_from_bot,
    is_human_message,
    mentions,
)
from assistant.state.access import public_caller

if TYPE_CHECKING:
    from assistant.core import Assistant

log = logging.getLogger(__name__)

BOLT_APP_NAME = "assistant-slack"
WORKING_REACTION = "eyes"
MAX_HISTORY_TURNS = 5
ANSWER_CACHE_SECONDS = 24 * 60 * 60
ANSWER_CACHE_SIZE = 2_000
LISTENER_THREADS = 8

APOLOGY = (
    ":warning: Sorry, something went wrong while answering. "
    "The problem has been logged; please try again in a moment."
)
EMPTY_QUESTION = (
    "Ask me a question about the indexed documents, for example: "
    "_What legal basis is proposed for regional talks?_"
)
SLASH_USAGE = "Usage: `/ask QUESTION`, for example `/ask What legal basis is proposed for regional talks?`"
SLASH_WORKING = ":eyes: Looking that up…"
SHARE_EXPIRED = "That answer is no longer available to share. Run `/ask` again to get a fresh one."


def slack_api_url(settings: Settings) -> str:
    """Base URL of the Slack Web API (ASSISTANT_SLACK_API_URL, e.g. a proxy or a local stand-in)."""
    url = settings.slack_api_url or WebClient.BASE_URL
    return url if url.endswith("/") else url + "/"


def build_app(assistant: Assistant, settings: Settings, *, socket_mode: bool = False) -> App:
    """A Bolt App wired to `assistant`; HTTP mode needs the signing secret, Socket Mode does not."""
    if settings.slack_bot_token is None:
        raise ConfigError(
            "ASSISTANT_SLACK_BOT_TOKEN is not set: copy the Bot User OAuth Token (xoxb-...) from "
            "your Slack app's OAuth & Permissions page."
        )
    if not socket_mode and settings.slack_signing_secret is None:
        raise ConfigError(
            "ASSISTANT_SLACK_SIGNING_SECRET is not set: copy the Signing Secret from your Slack "
            "app's Basic Information page (HTTP mode verifies every request with it)."
        )
    client = WebClient(token=settings.slack_bot_token.get_secret_value(), base_url=slack_api_url(settings))
    secret = settings.slack_signing_secret
    app = App(
        # Bolt resets the level of the logger with the app's name on every request: "assistant"
        # would be our package's logger, and silence every INFO line of the service (the audit too).
        name=BOLT_APP_NAME,
        client=client,
        signing_secret=secret.get_secret_value() if secret is not None else "",
        # auth.test runs on the first request instead of at start-up, so the service comes up
        # even while Slack is unreachable; a bad token then shows in the log, not as a crash.
        token_verification_enabled=False,
        request_verification_enabled=True,
        ignoring_self_events_enabled=True,
        process_before_response=False,
        listener_executor=ThreadPoolExecutor(
            max_workers=LISTENER_THREADS, thread_name_prefix="slack-listener"
        ),
    )
    SlackBot(assistant, settings).register(app)
    return app


def _ack(ack: Ack) -> None:
    ack()


class SlackBot:
    """The listeners, bound to one Assistant; `register` attaches them to a Bolt App."""

    def __init__(
        self,
        assistant: Assistant,
        settings: Settings,
        dedupe: Deduplicator | None = None,
    ) -> None:
        self._assistant = assistant
        self._settings = settings
        self._dedupe = dedupe or Deduplicator.for_index(assistant.index_dir)
        # Answers by id: ephemeral messages are not sent back with button clicks, so "Share"
        # needs the answer from here; feedback takes its question from here too.
        self._answers: TTLMap[Answer] = TTLMap(ANSWER_CACHE_SECONDS, ANSWER_CACHE_SIZE)

    def register(self, app: App) -> None:
        app.middleware(self._drop_duplicate_events)
        app.event("app_mention")(ack=_ack, lazy=[self._on_mention])
        app.event("message")(ack=_ack, lazy=[self._on_message])
        app.command("/ask")(ack=self._ack_ask, lazy=[self._on_ask])
        app.action(FEEDBACK_ACTION_PATTERN)(ack=_ack, lazy=[self._on_feedback])
        app.action(SHARE_ACTION_PATTERN)(ack=_ack, lazy=[self._on_share])

    # ------------------------------------------------------------------ middleware
    def _drop_duplicate_events(
        self, body: dict[str, Any], request: BoltRequest, next: Callable[[], BoltResponse]
    ) -> BoltResponse:
        """Answer a repeated event_id (Slack's retries reuse it) with 200 and do nothing else."""
        event_id = body.get("event_id") if body.get("type") == "event_callback" else None
        if event_id and not self._dedupe.claim_event(str(event_id)):
            retry = (request.headers.get("x-slack-retry-num") or ["-"])[0]
            reason = (request.headers.get("x-slack-retry-reason") or ["-"])[0]
            log.info("dropped repeated event %s (retry %s, reason %s)", event_id, retry, reason)
            return BoltResponse(status=200, body="")
        return next()

    # ------------------------------------------------------------------ events
    def _on_mention(self, event: dict[str, Any], client: WebClient, context: BoltContext) -> None:
        """@mention in a channel: answer in a thread under the message."""
        if is_from_bot(event):
            return
        channel, ts = str(event.get("channel", "")), str(event.get("ts", ""))
        if not channel or not ts or not self._dedupe.claim_message(channel, ts):
            return
        thread_ts = event.get("thread_ts")
        self._converse(
            client,
            channel=channel,
            ts=ts,
            reply_in=str(thread_ts or ts),
            thread_ts=str(thread_ts) if thread_ts else None,
            text=str(event.get("text", "")),
        )

    def _on_message(self, event: dict[str, Any], client: WebClient, context: BoltContext) -> None:
        """DMs, and follow-ups in channel threads the bot takes part in."""
        if not is_human_message(event):
            return
        channel, ts = str(event.get("channel", "")), str(event.get("ts", ""))
        text = str(event.get("text", ""))
        thread_ts = str(event["thread_ts"]) if event.get("thread_ts") else None
        if not channel or not ts:
            return
        if event.get("channel_type") == "im":
            if self._dedupe.claim_message(channel, ts):
                self._converse(
                    client,
                    channel=channel,
                    ts=ts,
                    reply_in=thread_ts,
                    thread_ts=thread_ts,
                    text=text,
                    dm=True,
                )
            return
        if thread_ts is None or thread_ts == ts or mentions(text, context.bot_user_id):
            return  # top-level chatter is not for the bot; a mention is answered by _on_mention
        thread = self._thread_messages(client, channel, thread_ts)
        if not bot_in_thread(thread, context.bot_user_id, context.bot_id):
            return
        if self._dedupe.claim_message(channel, ts):
            self._converse(
                client,
                channel=channel,
                ts=ts,
                reply_in=thread_ts,
                thread_ts=thread_ts,
                text=text,
                thread=thread,
            )

    def _converse(
        self,
        client: WebClient,
        *,
        channel: str,
        ts: str,
        reply_in: str | None,
        thread_ts: str | None,
        text: str,
        thread: list[dict[str, Any]] | None = None,
        dm: bool = False,
    ) -> None:
        """Answer one message where it was asked (from the channel's sets); 👀 while working;
        never silent on failure."""
        question = clean_question(text)
        if not question:
            self._post_quietly(client, channel, reply_in, notice_message(EMPTY_QUESTION))
            return
        self._react(client, "add", channel, ts)
        try:
            history: list[Turn] = []
            if thread_ts is not None:
                if thread is None:
                    thread = self._thread_messages(client, channel, thread_ts)
                history = earlier_turns(thread, ts, MAX_HISTORY_TURNS, self._answers.get)
            answer = self._ask(question, history, channel_sets(self._settings, channel, dm), channel)
            for message in answer_messages(answer, self._settings.public_url):
                self._post(client, channel, reply_in, message)
        except AssistantError as exc:
            log.warning("could not answer Slack message %s in %s: %s", ts, channel, exc)
            self._post_quietly(client, channel, reply_in, notice_message(escape_mrkdwn(user_message(exc))))
        except Exception:
            log.exception("failed to answer Slack message %s in %s", ts, channel)
            self._post_quietly(client, channel, reply_in, notice_message(APOLOGY))
        finally:
            self._react(client, "remove", channel, ts)

    # ------------------------------------------------------------------ /ask
    def _ack_ask(self, ack: Ack, command: dict[str, Any]) -> None:
        """Acknowledge within Slack's 3 seconds; the answer follows via response_url."""
        ack(text=SLASH_WORKING if clean_question(command.get("text", "")) else SLASH_USAGE)

    def _on_ask(self, command: dict[str, Any], respond: Respond) -> None:
        question = clean_question(command.get("text", ""))
        if not question:
            return
        try:
            channel = str(command.get("channel_id", ""))
            dm = channel.startswith("D") or command.get("channel_name") == "directmessage"
            answer = self._ask(question, [], channel_sets(self._settings, channel, dm), channel)
            messages = answer_messages(
                answer, self._settings.public_url, shareable=True, asked_by=command.get("user_id")
            )
            for message in messages:
                respond(
                    text=message.text,
                    blocks=message.blocks,
                    response_type="ephemeral",
                    replace_original=False,
                )
        except AssistantError as exc:
            log.warning("could not answer /ask from %s: %s", command.get("user_id"), exc)
            self._respond_quietly(respond, escape_mrkdwn(user_message(exc)))
        except Exception:
            log.exception("failed to answer /ask from %s", command.get("user_id"))
            self._respond_quietly(respond, APOLOGY)

    # ------------------------------------------------------------------ buttons
    def _on_feedback(self, action: dict[str, Any], body: dict[str, Any], respond: Respond) -> None:
        """👍/👎: store in the same feedback store as the web UI, then thank the clicker."""
        rating = parse_feedback_action(str(action.get("action_id", "")))
        answer_id = str(action.get("value", ""))
        if rating is None or not answer_id:
            return
        cached = self._answers.get(answer_id)
        try:
            self._assistant.feedback.add(
                answer_id, rating, question=cached.question if cached else "", source="slack"
            )
        except AssistantError as exc:
            self._respond_quietly(respond, escape_mrkdwn(user_message(exc)))
            return
        except Exception:
            log.exception("failed to store Slack feedback for answer %s", answer_id)
            self._respond_quietly(respond, APOLOGY)
            return
        emoji = "👍" if rating == "up" else "👎"
        self._respond_quietly(respond, f"Thanks, your {emoji} was recorded.")

    def _on_share(self, action: dict[str, Any], body: dict[str, Any], respond: Respond) -> None:
        """Post a private /ask answer publicly in the channel, then remove the private copy."""
        answer = self._answers.get(str(action.get("value", "")))
        if answer is None:
            self._respond_quietly(respond, SHARE_EXPIRED)
            return
        user = (body.get("user") or {}).get("id")
        try:
            for message in answer_messages(answer, self._settings.public_url, asked_by=user):
                respond(
                    text=message.text,
                    blocks=message.blocks,
                    response_type="in_channel",
                    replace_original=False,
                )
            respond(delete_original=True)
        except Exception:
            log.exception("failed to share answer %s", answer.id)
            self._respond_quietly(respond, APOLOGY)

    # ------------------------------------------------------------------ helpers
    def _ask(self, question: str, history: list[Turn], sets: list[str], channel: str) -> Answer:
        filters = SearchFilters(sets=sets)
        with audited(None, "SLACK", f"channel {channel}"):  # no key: the channel decides the sets
            answer = self._assistant.ask(question, history=history or None, filters=filters)
        if answer.id:
            self._answers.put(answer.id, answer)
        log.info(
            "answered a Slack question (abstained=%s, citations=%d, history=%d, %.0f ms)",
            answer.abstained,
            len(answer.citations),
            len(history),
            answer.timings_ms.get("total", 0.0),
        )
        return answer

    def _thread_messages(self, client: WebClient, channel: str, thread_ts: str) -> list[Any]:
        """The thread's messages, oldest first; empty (and logged) when Slack refuses."""
        try:
            response = client.conversations_replies(channel=channel, ts=thread_ts, limit=100)
        except SlackApiError as exc:
            log.warning(
                "conversations.replies failed for %s in %s: %s",
                thread_ts,
                channel,
                _slack_error(exc),
            )
            return []
        messages = response.get("messages") or []
        return [m for m in messages if isinstance(m, Mapping)]

    def _post(self, client: WebClient, channel: str, thread_ts: str | None, message: SlackMessage) -> None:
        kwargs: dict[str, Any] = {"thread_ts": thread_ts} if thread_ts else {}
        client.chat_postMessage(
            channel=channel,
            text=message.text,
            blocks=message.blocks,
            unfurl_links=False,
            unfurl_media=False,
            **kwargs,
        )

    def _post_quietly(
        self, client: WebClient, channel: str, thread_ts: str | None, message: SlackMessage
    ) -> None:
        try:
            self._post(client, channel, thread_ts, message)
        except Exception:
            log.exception("could not post a notice to %s", channel)

    @staticmethod
    def _respond_quietly(respond: Respond, mrkdwn: str) -> None:
        message = notice_message(mrkdwn)
        try:
            respond(
                text=message.text,
                blocks=message.blocks,
                response_type="ephemeral",
                replace_original=False,
            )
        except Exception:
            log.exception("could not send an ephemeral notice via response_url")

    @staticmethod
    def _react(client: WebClient, verb: str, channel: str, ts: str) -> None:
        """Add or remove the 👀 'working on it' reaction; a failure here never blocks the answer."""
        try:
            if verb == "add":
                client.reactions_add(channel=channel, timestamp=ts, name=WORKING_REACTION)
            else:
                client.reactions_remove(channel=channel, timestamp=ts, name=WORKING_REACTION)
        except SlackApiError as exc:
            log.warning("reactions.%s failed on %s: %s", verb, ts, _slack_error(exc))
        except Exception:
            log.warning("reactions.%s failed on %s", verb, ts, exc_info=True)


def channel_sets(settings: Settings, channel: str, dm: bool) -> list[str]:
    """The sets a channel's answers come from: its ASSISTANT_SLACK_CHANNEL_SETS entry (the `dm`
    entry for direct messages), else the public sets."""
    mapped = settings.slack_channel_sets.get(DM_CHANNELS if dm else channel)
    return list(mapped) if mapped else public_caller(settings).sets or []


def _slack_error(exc: SlackApiError) -> str:
    response = exc.response
    data = response.data if response is not None else None
    return str(data.get("error")) if isinstance(data, dict) else str(exc)
