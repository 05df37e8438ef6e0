"""Bytes to clean text: encoding detection, binary refusal and the normalisation all loaders share.

The normalised text is what gets stored and what citation offsets index into, so
`normalise_text` changes as little as it can: line endings, control characters and
words hyphenated across line breaks. Everything else is the file's own text.
"""

from __future__ import annotations

import codecs
import re

from assistant.errors import LoadError

# A sample is enough to recognise binary data; reading all of a 50 MB file is not needed.
_SNIFF_BYTES = 64 * 1024
# Share of control bytes above which a file is not text (text has almost none).
_MAX_CONTROL_SHARE = 0.05
# C0 controls other than \t \n \r \f \v, plus DEL: bytes that text files do not contain.
_CONTROL_BYTES = frozenset([*range(0x00, 0x09), *range(0x0E, 0x20), 0x7F])

_NEWLINES = re.compile(r"\r\n?|[\f\v]")
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
# A letter, a hyphen, a line break (blank lines and spaces allowed), then a letter that
# must be lowercase (checked in the callback: `re` has no Unicode lowercase class).
_BROKEN_WORD = re.compile(r"(?<=[^\W\d_])-[ \t]*\n[ \t\n]*(?=[^\W\d_])")


def decode_bytes(data: bytes) -> str:
    """Decode a text file: UTF-8 (BOM stripped), UTF-16/32 with BOM, else cp1252, else latin-1.

    Raises LoadError when the bytes look binary, so a renamed image or archive is refused
    instead of being indexed as noise.
    """
    for bom, encoding in (
        (codecs.BOM_UTF32_LE, "utf-32"),
        (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if data.startswith(bom):
            try:
                return data.decode(encoding)
            except UnicodeDecodeError as exc:
                raise LoadError(f"binary file, not text (invalid {encoding}: {exc.reason})") from exc
    _refuse_binary(data)
    for encoding in ("utf-8", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def _refuse_binary(data: bytes) -> None:
    if b"\x00" in data:
        raise LoadError("binary file, not text (contains NUL bytes)")
    sample = data[:_SNIFF_BYTES]
    if not sample:
        return
    controls = sum(1 for byte in sample if byte in _CONTROL_BYTES)
    share = controls / len(sample)
    if share > _MAX_CONTROL_SHARE:
        raise LoadError(f"binary file, not text ({share:.0%} control bytes)")


def normalise_text(raw: str) -> str:
    """Unify line endings, drop control characters and rejoin words hyphenated across lines.

    Form feeds and vertical tabs become newlines (they separate pages or lines, and
    dropping them would glue words together). Idempotent: normalising twice changes nothing.
    """
    text = _NEWLINES.sub("\n", raw)
    text = _CONTROL_CHARS.sub("", text)
    return _BROKEN_WORD.sub(_join_broken_word, text)


def _join_broken_word(match: re.Match[str]) -> str:
    following = match.string[match.end()]
    return "" if following.islower() else match.group(0)
