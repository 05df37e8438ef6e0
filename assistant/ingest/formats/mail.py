"""E-mail (.eml, .mbox): headers as metadata, the body as text, attachments as their own sections.

The loader contract is one file -> one LoadedDocument, so an attachment of a supported type
is read by its own format's reader and appended to the message as a separated section
("Attachment: NAME"), its page numbers kept. Text parts are decoded by their declared charset
with replacement characters for bad bytes; an unknown charset falls back to detection.
"""

from __future__ import annotations

import codecs
import email
import email.policy
import email.utils
import logging
import re
from email.message import EmailMessage, Message
from pathlib import Path
from typing import Any

from assistant.errors import AssistantError
from assistant.ingest.formats.html import html_to_text
from assistant.ingest.text import decode_bytes, normalise_text
from assistant.ingest.titles import clean_title, title_from_filename
from assistant.models import LoadedDocument

log = logging.getLogger(__name__)

EXTENSIONS = (".eml", ".mbox")

# An mbox holds messages one after another, each opened by a "From " line.
_MBOX_SEPARATOR = re.compile(rb"^From [^\n]*\n", re.M)
_MBOX_QUOTED_FROM = re.compile(rb"^>(>*From )", re.M)


def read(data: bytes, path: Path, max_bytes: int) -> LoadedDocument:
    """One message (.eml) or every message of a mailbox (.mbox), in order."""
    if path.suffix.lower() == ".mbox":
        raw_messages = [m for m in _MBOX_SEPARATOR.split(data) if m.strip()]
    else:
        raw_messages = [data]
    sections: list[_Section] = []
    metadata: dict[str, Any] = {"format": "email"}
    for number, raw in enumerate(raw_messages, start=1):
        message = email.message_from_bytes(_MBOX_QUOTED_FROM.sub(rb"\1", raw), policy=email.policy.default)
        headers = _headers(message)
        if number == 1:
            metadata.update(headers)
        sections.append(_Section(_header_block(headers), []))
        sections.append(_Section(_body_text(message), []))
        sections.extend(_attachments(message, max_bytes, metadata))
    if len(raw_messages) > 1:
        metadata = {"format": "email", "messages": len(raw_messages)}
    text, pages = _join_sections(sections)
    subject = metadata.get("subject")
    title = clean_title(subject if isinstance(subject, str) else None) or title_from_filename(path)
    return LoadedDocument(text=text, title=title, source=str(path), pages=pages, metadata=metadata)


class _Section:
    """A part of the message's text and its page ranges (relative to the part)."""

    __slots__ = ("pages", "text")

    def __init__(self, text: str, pages: list[tuple[int, int, int]]) -> None:
        self.text = text
        self.pages = pages


def _headers(message: Message) -> dict[str, Any]:
    """Subject, sender, recipients and date (ISO 8601 where it parses)."""
    out: dict[str, Any] = {}
    for key, header in (("subject", "Subject"), ("sender", "From"), ("to", "To")):
        try:
            value = message.get(header)
        except Exception:  # a malformed header is left out, not a reason to refuse the message
            value = None
        if value:
            out[key] = " ".join(str(value).split())
    try:
        date = message.get("Date")
        if date:
            out["date"] = email.utils.parsedate_to_datetime(str(date)).isoformat()
    except (TypeError, ValueError, IndexError):
        if message.get("Date"):
            out["date"] = str(message.get("Date"))
    return out


def _header_block(headers: dict[str, Any]) -> str:
    names = {"subject": "Subject", "sender": "From", "to": "To", "date": "Date"}
    return "\n".join(f"{names[key]}: {headers[key]}" for key in names if key in headers)


def _decode_part(part: Message) -> str:
    """A text part's content: its declared charset with replacement, else detected."""
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    charset = part.get_content_charset()
    if charset:
        try:
            codecs.lookup(charset)
        except LookupError:
            log.debug("unknown charset %r: detecting instead", charset)
        else:
            return payload.decode(charset, errors="replace")
    try:
        return decode_bytes(payload)
    except AssistantError:
        return payload.decode("utf-8", errors="replace")


def _body_text(message: Message) -> str:
    """The plain-text body, else the HTML body as text; '' for a message without one."""
    body = message.get_body(("plain", "html")) if isinstance(message, EmailMessage) else None
    if body is None:
        return ""
    content = _decode_part(body)
    if body.get_content_subtype() == "html":
        content = html_to_text(content)[0]
    return normalise_text(content).strip()


def _attachments(message: Message, max_bytes: int, metadata: dict[str, Any]) -> list[_Section]:
    """Each attachment of a supported type as its own section; others are listed in metadata."""
    from assistant.ingest.formats import reader_for  # the registry imports this module

    sections: list[_Section] = []
    if not isinstance(message, EmailMessage):
        return sections
    for part in message.iter_attachments():
        name = part.get_filename() or "attachment"
        reader = reader_for(Path(name).suffix.lower())
        payload = part.get_payload(decode=True)
        if reader is None or reader is read or not isinstance(payload, bytes):
            metadata.setdefault("attachments_skipped", []).append(f"{name}: unsupported type")
            continue
        try:
            if len(payload) > max_bytes:
                raise AssistantError(f"too large ({len(payload):,} bytes)")
            document = reader(payload, Path(name), max_bytes)
        except Exception as exc:  # one bad attachment must not lose the message
            metadata.setdefault("attachments_skipped", []).append(f"{name}: {exc}")
            continue
        metadata.setdefault("attachments", []).append(name)
        sections.append(_Section(f"Attachment: {name}", []))
        sections.append(_Section(document.text.strip(), document.pages))
    return sections


def _join_sections(sections: list[_Section]) -> tuple[str, list[tuple[int, int, int]]]:
    """Non-empty sections joined by blank lines, each section's page ranges shifted to match."""
    parts: list[str] = []
    pages: list[tuple[int, int, int]] = []
    length = 0
    for section in sections:
        full = normalise_text(section.text)  # idempotent: a reader's text and pages are unchanged
        text = full.strip()
        if not text:
            continue
        if parts:
            parts.append("\n\n")
            length += 2
        leading = len(full) - len(full.lstrip())
        pages.extend(
            (start - leading + length, end - leading + length, page) for start, end, page in section.pages
        )
        parts.append(text)
        length += len(text)
    joined = "".join(parts)
    if normalise_text(joined) != joined:  # a word hyphenated across two sections; keep offsets honest
        log.warning("e-mail sections were not stable under normalisation; page ranges dropped")
        return normalise_text(joined), []
    return joined, pages
