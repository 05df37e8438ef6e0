"""Read questions and earlier turns out of Slack message text and threads (mentions, links,
entities, bots)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from assistant.models import Answer, Turn

# Subtypes a person produces; anything else (edits, joins, bot posts...) is not a question.
HUMAN_SUBTYPES = frozenset({"", "thread_broadcast", "file_share"})

_USER_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
_CHANNEL_LINK = re.compile(r"<#[CGD][A-Z0-9]+(?:\|([^>]*))?>")
_SPECIAL = re.compile(r"<![^>]*>")
_LINK = re.compile(r"<([^>|]+)(?:\|([^>]*))?>")


def clean_question(text: str) -> str:
    """Plain question text: mentions dropped, links reduced to their labels, entities decoded."""
    # Other people's ids carry nothing retrieval can use, so every mention goes, not just the bot's.
    text = _USER_MENTION.sub("", text)
    text = _CHANNEL_LINK.sub(lambda m: f"#{m.group(1)}" if m.group(1) else "", text)
    text = _SPECIAL.sub("", text)
    text = _LINK.sub(lambda m: m.group(2) or m.group(1), text)
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return " ".join(text.split())


def mentions(text: str, user_id: str | None) -> bool:
    """True when `text` mentions `user_id` (`<@U123>` or `<@U123|name>`)."""
    if not user_id:
        return False
    return any(m.group(1) == user_id for m in _USER_MENTION.finditer(text))


def is_from_bot(message: Mapping[str, Any]) -> bool:
    """Messages posted by any bot or app (including this one) are never questions."""
    return bool(message.get("bot_id") or message.get("bot_profile")) or (
        message.get("subtype") == "bot_message"
    )


def is_human_message(message: Mapping[str, Any]) -> bool:
    """A message a person wrote (not a bot, not an edit/deletion/join notice)."""
    return (
        not is_from_bot(message)
        and bool(message.get("user"))
        and (message.get("subtype") or "") in HUMAN_SUBTYPES
    )


def bot_in_thread(messages: Iterable[Mapping[str, Any]], bot_user_id: str | None, bot_id: str | None) -> bool:
    """Whether the bot posted in, or was mentioned in, this thread (so follow-ups are for it)."""
    for message in messages:
        if bot_user_id and message.get("user") == bot_user_id:
            return True
        if bot_id and message.get("bot_id") == bot_id:
            return True
        if mentions(str(message.get("text", "")), bot_user_id):
            return True
    return False


def earlier_turns(
    messages: Iterable[Mapping[str, Any]],
    before_ts: str,
    limit: int = 5,
    answer_for: Callable[[str], Answer | None] = lambda _id: None,
) -> list[Turn]:
    """The thread before `before_ts` as turns, oldest first: each person's question with the
    bot's reply that followed it. A reply whose answer is still cached (`answer_for`, by the id
    on its buttons) brings its citations; otherwise its text stands for the answer."""
    turns: list[Turn] = []
    cutoff = _ts_value(before_ts)
    for message in messages:
        if _ts_value(str(message.get("ts", ""))) >= cutoff:
            continue
        if is_human_message(message):
            question = clean_question(str(message.get("text", "")))
            if question:
                turns.append(Turn(question=question))
        elif is_from_bot(message) and turns and not turns[-1].answer:
            answer = next(filter(None, map(answer_for, _answer_ids(message))), None)
            if answer is not None:
                turns[-1].answer, turns[-1].citations = answer.answer, list(answer.citations)
            else:
                turns[-1].answer = clean_question(str(message.get("text", "")))
    return turns[-limit:] if limit > 0 else []


def _answer_ids(message: Mapping[str, Any]) -> list[str]:
    """The answer ids on a bot message's buttons (its actions block is `answer:<id>`)."""
    ids = []
    for block in message.get("blocks") or []:
        block_id = str(block.get("block_id", "")) if isinstance(block, Mapping) else ""
        if block_id.startswith("answer:"):
            ids.append(block_id.removeprefix("answer:"))
    return ids


def _ts_value(ts: str) -> float:
    try:
        return float(ts)
    except ValueError:
        return float("inf")
