"""Zip containers (DOCX, PPTX, XLSX, EPUB): refuse broken archives and zip bombs before parsing.

The parsing libraries inflate parts into memory, so a small file that declares gigabytes
of content must be refused from the zip directory alone, before anything is inflated.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from typing import IO, TypeVar

from assistant.errors import FileTooLargeError, LoadError

T = TypeVar("T")

# An archive may not inflate beyond this many times the file-size limit, nor beyond an
# absolute cap: the parsers hold every part in memory, so the cap bounds a zip bomb's memory.
INFLATE_FACTOR = 20
MAX_INFLATED_BYTES = 200_000_000
# Office XML compresses about 5-20x; a member far beyond that is a bomb, not a document.
MAX_MEMBER_RATIO = 200
# Members this small are exempt from the ratio test (a run of spaces compresses very well).
RATIO_EXEMPT_BYTES = 1_000_000


def check_archive(data: bytes, kind: str, required: str, max_bytes: int) -> zipfile.ZipFile:
    """The opened archive, once it holds `required` and inflates to a bounded size.

    Raises LoadError for a file that is not a zip of this kind, FileTooLargeError for a bomb.
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise LoadError(f"corrupt {kind}: not a valid zip archive ({exc})") from exc
    if not any(member.filename == required for member in members):
        raise LoadError(f"corrupt {kind}: {required} is missing (not a {kind} file)")
    inflated = sum(member.file_size for member in members)
    limit = min(INFLATE_FACTOR * max_bytes, MAX_INFLATED_BYTES)
    if inflated > limit:
        raise FileTooLargeError(
            f"{kind} too large: it would decompress to {inflated:,} bytes, the limit is {limit:,} "
            "(a zip bomb, or a file to split)"
        )
    for member in members:
        ratio = member.file_size / max(member.compress_size, 1)
        if member.file_size > RATIO_EXEMPT_BYTES and ratio > MAX_MEMBER_RATIO:
            raise FileTooLargeError(
                f"{kind} refused as a zip bomb: {member.filename} inflates {ratio:,.0f} times "
                f"(to {member.file_size:,} bytes; the limit is {MAX_MEMBER_RATIO} times)"
            )
    return archive


def open_archive(data: bytes, kind: str, required: str, max_bytes: int, parse: Callable[[IO[bytes]], T]) -> T:
    """`parse` applied to the file once `check_archive` passed; its failures become a LoadError."""
    check_archive(data, kind, required, max_bytes).close()
    try:
        return parse(io.BytesIO(data))
    except Exception as exc:
        raise LoadError(f"corrupt {kind}: {type(exc).__name__}: {exc}") from exc
