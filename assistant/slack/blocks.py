"""Turn an Answer into Slack Block Kit messages: mrkdwn answer, quoted Sources, feedback buttons.

Slack rejects a section whose text exceeds 3,000 characters and a message with more than 50
blocks, so long content is split into several sections and, if need be, several messages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from assistant.compose.outcome import TENTATIVE_NOTE
from assistant.models import Answer, Citation, source_url

MAX_SECTION_CHARS = 3_000
MAX_BLOCKS_PER_MESSAGE = 50
MAX_FALLBACK_CHARS = 3_000

FEEDBACK_ACTION_PREFIX = "feedback"
SHARE_ACTION_PREFIX = "share"
FEEDBACK_ACTION_PATTERN = re.compile(rf"^{FEEDBACK_ACTION_PREFIX}:(up|down):")
SHARE_ACTION_PATTERN = re.compile(rf"^{SHARE_ACTION_PREFIX}:")

ABSTAIN_TEXT = (
    "The indexed documents don't cover this question, so I can't give a cited answer. "
    "Try rephrasing it, or ask about something the documents discuss."
)

Block = dict[str, Any]
Rating = Literal["up", "down"]


@dataclass(slots=True)
class SlackMessage:
    """One Slack message: notification `text` plus at most 50 `blocks`."""

    text: str
    blocks: list[Block] = field(default_factory=list)


def escape_mrkdwn(text: str) -> str:
    """Escape the three characters Slack treats as markup (&, <, >)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_MD_BOLD = re.compile(r"\*\*(.+?)\*\*", re.DOTALL)
_MD_LINK = re.compile(r"\[([^\]\n]+)\]\((https?://[^)\s]+)\)")


def to_mrkdwn(text: str) -> str:
    """Escape plain or Markdown answer text and map the Markdown an LLM may emit to Slack mrkdwn."""
    escaped = escape_mrkdwn(text.strip())
    escaped = _MD_LINK.sub(lambda m: f"<{m.group(2)}|{m.group(1)}>", escaped)
    return _MD_BOLD.sub(r"*\1*", escaped)


_SPACE = re.compile(r"\s+")
# mrkdwn has no escape for its formatting characters: a span holding one is left plain.
_MRKDWN_FORMATTING = re.compile(r"[*_~`]")


def quote_mrkdwn(citation: Citation) -> str:
    """The citation's quote as escaped mrkdwn on one line, the part that answers in bold.

    `highlight` holds document offsets inside the quote's own; the words are the quote's, only
    whitespace runs become single spaces.
    """
    quote_text = citation.quote
    start, end = _highlight_in_quote(citation)
    mark = quote_text[start:end]
    if start == end or mark != mark.strip() or _MRKDWN_FORMATTING.search(mark):
        return escape_mrkdwn(_SPACE.sub(" ", quote_text).strip())
    before = _SPACE.sub(" ", quote_text[:start]).lstrip()
    after = _SPACE.sub(" ", quote_text[end:]).rstrip()
    bold = escape_mrkdwn(_SPACE.sub(" ", mark))
    return f"{escape_mrkdwn(before)}*{bold}*{escape_mrkdwn(after)}"


def _highlight_in_quote(citation: Citation) -> tuple[int, int]:
    """The highlight as offsets into the quote, or (0, 0) when it is missing or out of range."""
    if not citation.highlight or len(citation.highlight) != 2:
        return 0, 0
    start, end = citation.highlight[0] - citation.start, citation.highlight[1] - citation.start
    if 0 <= start < end <= len(citation.quote):
        return start, end
    return 0, 0


def split_text(text: str, limit: int = MAX_SECTION_CHARS) -> list[str]:
    """Split text into non-empty pieces of at most `limit` characters.

    Prefers paragraph, then line, then word boundaries, and never cuts an `&amp;`-style entity.
    """
    if limit < 10:
        raise ValueError(f"limit must be at least 10. Currently, limit is {limit}")
    pieces: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        cut = _best_cut(rest, limit)
        piece = rest[:cut].rstrip()
        if piece:
            pieces.append(piece)
        rest = rest[cut:].lstrip()
    if rest:
        pieces.append(rest)
    return pieces


def _best_cut(text: str, limit: int) -> int:
    for separator in ("\n\n", "\n", " "):
        cut = text.rfind(separator, 0, limit + 1)
        if cut >= limit // 2:
            return cut
    cut = limit
    amp = text.rfind("&", max(0, cut - 6), cut)
    if amp > 0 and ";" not in text[amp:cut]:
        cut = amp
    return cut


def feedback_action_id(rating: Rating, answer_id: str) -> str:
    return f"{FEEDBACK_ACTION_PREFIX}:{rating}:{answer_id}"


def share_action_id(answer_id: str) -> str:
    return f"{SHARE_ACTION_PREFIX}:{answer_id}"


def parse_feedback_action(action_id: str) -> Rating | None:
    """The rating a feedback button's action_id carries, or None for any other action."""
    match = FEEDBACK_ACTION_PATTERN.match(action_id)
    if match is None:
        return None
    return "up" if match.group(1) == "up" else "down"


def answer_messages(
    answer: Answer,
    public_url: str | None = None,
    *,
    shareable: bool = False,
    asked_by: str | None = None,
) -> list[SlackMessage]:
    """Render an Answer as one or more Slack messages; buttons go on the last one.

    `shareable` adds the "Share in channel" button (for ephemeral answers); `asked_by` (a Slack
    user id) shows who asked what, for answers that appear without the question above them.
    """
    blocks: list[Block] = []
    if asked_by:
        question = escape_mrkdwn(_one_line(answer.question, 300))
        blocks.append(_context(f"<@{asked_by}> asked: _{question}_"))
    if answer.abstained:
        blocks.extend(_sections(f":mag: {ABSTAIN_TEXT}"))
    else:
        blocks.extend(_sections(to_mrkdwn(answer.answer)))
        if answer.tentative:
            blocks.append(_tentative_context())
        if answer.citations:
            blocks.append({"type": "divider"})
            blocks.append(
                {"type": "header", "text": {"type": "plain_text", "text": "Sources", "emoji": True}}
            )
            for citation in answer.citations:
                blocks.extend(_citation_sections(citation, public_url))
    actions = _actions(answer.id, shareable) if answer.id else None
    fallback = _fallback_text(answer)
    return [SlackMessage(text=fallback, blocks=chunk) for chunk in _paginate(blocks, actions)]


def notice_message(mrkdwn: str) -> SlackMessage:
    """A short mrkdwn message (usage hints, apologies); callers escape any user text in it."""
    return SlackMessage(text=mrkdwn, blocks=_sections(mrkdwn)[:MAX_BLOCKS_PER_MESSAGE])


def _sections(mrkdwn: str) -> list[Block]:
    return [_section(piece) for piece in split_text(mrkdwn)]


def _section(mrkdwn: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": mrkdwn}}


def _context(mrkdwn: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": mrkdwn[:MAX_SECTION_CHARS]}]}


def _tentative_context() -> Block:
    """The mark on an answer below the confident threshold (docs/answer-model.md)."""
    return _context(f":warning: {TENTATIVE_NOTE}")


def _citation_sections(citation: Citation, public_url: str | None) -> list[Block]:
    title = escape_mrkdwn(_one_line(citation.title or citation.doc_id, 200))
    url = source_url(public_url, citation)
    label = f"<{escape_mrkdwn(url)}|{title}>" if url else f"*{title}*"
    page = f" (p. {citation.page})" if citation.page else ""
    header = f"*[{citation.marker}]* {label}{page}"
    quote_text = quote_mrkdwn(citation)
    # Each piece becomes a blockquote line, so reserve room for the header and the "> " prefix.
    pieces = split_text(quote_text, MAX_SECTION_CHARS - len(header) - 4) if quote_text else []
    if not pieces:
        return [_section(header)]
    sections = [_section(f"{header}\n> {pieces[0]}")]
    sections.extend(_section(f"> {piece}") for piece in pieces[1:])
    return sections


def _actions(answer_id: str, shareable: bool) -> Block:
    elements: list[Block] = [
        _button("👍 Helpful", feedback_action_id("up", answer_id), answer_id),
        _button("👎 Not helpful", feedback_action_id("down", answer_id), answer_id),
    ]
    if shareable:
        elements.append(_button("Share in channel", share_action_id(answer_id), answer_id, style="primary"))
    return {"type": "actions", "block_id": f"answer:{answer_id}", "elements": elements}


def _button(text: str, action_id: str, value: str, style: str | None = None) -> Block:
    button: Block = {
        "type": "button",
        "text": {"type": "plain_text", "text": text, "emoji": True},
        "action_id": action_id,
        "value": value,
    }
    if style:
        button["style"] = style
    return button


def _paginate(blocks: list[Block], actions: Block | None) -> list[list[Block]]:
    """Cut blocks into messages of at most 50, keeping room for the actions in the last one."""
    pages: list[list[Block]] = []
    current: list[Block] = []
    for block in blocks:
        if len(current) == MAX_BLOCKS_PER_MESSAGE:
            pages.append(current)
            current = []
        current.append(block)
    if actions is not None:
        if len(current) == MAX_BLOCKS_PER_MESSAGE:
            pages.append(current)
            current = []
        current.append(actions)
    if current or not pages:
        pages.append(current)
    return pages


def _fallback_text(answer: Answer) -> str:
    """Plain text for notifications and clients that cannot show blocks."""
    text = ABSTAIN_TEXT if answer.abstained else answer.answer.strip()
    return escape_mrkdwn(_one_line(text, MAX_FALLBACK_CHARS))


def _one_line(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"
