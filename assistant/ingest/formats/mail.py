"""E-mail (.eml, .mbox): headers as metadata, the body as text; attachments are their own documents.

A message's document holds its headers and body. Each attachment of a supported type is a
part of the file (see `assistant.ingest.parts`): a source lists it beside the message and it
is indexed as its own document by its own format's reader, with its message named in its
metadata. Text parts are decoded by their declared charset with replacement characters for
bad bytes; an unknown charset falls back to detection.
"""

from __future__ import annotations

import codecs
import email
import email.policy
import email.utils
import logging
import re
from dataclasses import dataclass
from email.message import EmailMessage, Message
from pathlib import Path, PurePosixPath
from typing import Any

from assistant.errors import AssistantError, LoadError
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
    """One message (.eml) or every message of a mailbox (.mbox), in order, without attachments."""
    messages = _messages(data, path)
    metadata: dict[str, Any] = {"format": "email"}
    if len(messages) > 1:
        metadata["messages"] = len(messages)
    else:
        metadata.update(_headers(messages[0]))
    sections: list[str] = []
    for message in messages:
        sections.append(_header_block(_headers(message)))
        sections.append(_body_text(message))
    for attachment in _attachments(messages):
        if attachment.problem is None:
            metadata.setdefault("attachments", []).append(attachment.key)
        else:
            metadata.setdefault("attachments_skipped", []).append(f"{attachment.key}: {attachment.problem}")
    text = normalise_text("\n\n".join(s for s in (normalise_text(s).strip() for s in sections) if s))
    subject = metadata.get("subject") if len(messages) == 1 else _headers(messages[0]).get("subject")
    title = clean_title(subject if isinstance(subject, str) else None) or title_from_filename(path)
    return LoadedDocument(text=text, title=title, source=str(path), metadata=metadata)


@dataclass(frozen=True, slots=True)
class Attachment:
    """One attachment: `key` is unique in the file ("memo.docx", "memo (2).docx"), `name` is its
    file name (the extension picks the reader), `problem` why it is not indexed, if it is not."""

    key: str
    name: str
    problem: str | None
    message: Message
    part: Message


def attachments(data: bytes, path: Path) -> list[Attachment]:
    """Every attachment of every message in the file, in order."""
    return _attachments(_messages(data, path))


def attachment_document(data: bytes, path: Path, key: str) -> tuple[str, bytes, dict[str, Any]]:
    """The indexable attachment `key`: its file name, its bytes and its message's headers."""
    for attachment in attachments(data, path):
        if attachment.key == key and attachment.problem is None:
            payload = attachment.part.get_payload(decode=True)
            if not isinstance(payload, bytes):
                break
            return attachment.name, payload, _headers(attachment.message)
    raise LoadError(f"the message has no attachment {key!r}")


def _messages(data: bytes, path: Path) -> list[Message]:
    if path.suffix.lower() == ".mbox":
        raw_messages = [m for m in _MBOX_SEPARATOR.split(data) if m.strip()] or [data]
    else:
        raw_messages = [data]
    return [
        email.message_from_bytes(_MBOX_QUOTED_FROM.sub(rb"\1", raw), policy=email.policy.default)
        for raw in raw_messages
    ]


def _attachments(messages: list[Message]) -> list[Attachment]:
    from assistant.ingest.formats import reader_for  # the registry imports this module

    found: list[Attachment] = []
    keys: set[str] = set()
    for message in messages:
        if not isinstance(message, EmailMessage):
            continue
        for part in message.iter_attachments():
            name = _plain_name(part.get_filename())
            stem, suffix = PurePosixPath(name).stem, PurePosixPath(name).suffix
            key, number = name, 1
            while key in keys:  # a second "memo.docx" is "memo (2).docx"
                number += 1
                key = f"{stem} ({number}){suffix}"
            keys.add(key)
            extension = suffix.lower()
            unsupported = extension in EXTENSIONS or reader_for(extension) is None or part.is_multipart()
            found.append(Attachment(key, name, "unsupported type" if unsupported else None, message, part))
    return found


def _plain_name(raw: str | None) -> str:
    """An attachment's file name without any folder part or control characters."""
    name = (raw or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip().lstrip(".")
    return name or "attachment"


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
