"""Durable file writes, checksums and file locks: what crash-safe index and model caches rest on.

At the top level, below every stage, because three stages share it (the snapshot store, the
embedding cache and indexing) and none of them owns it.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import threading
import time
from pathlib import Path
from typing import Any


def fsync_dir(path: Path) -> None:
    """Make a rename or a new entry in `path` durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_durably(path: Path, data: bytes) -> None:
    """Write `data` to `path` and fsync it before returning."""
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def fsync_file(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def file_checksum(path: Path) -> str:
    """SHA-256 of a file, read in blocks (a damaged page anywhere changes it)."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


#: files this process has already verified, keyed by (path, inode, size, mtime): a committed
#: snapshot never changes, so a file is hashed once per process, not on every open (a writer
#: opens the live snapshot too, and at a million chunks the files hold gigabytes)
_VERIFIED: dict[tuple[str, int, int, int], str] = {}
_VERIFIED_LOCK = threading.Lock()


def verified_checksum(path: Path) -> str:
    """file_checksum, remembered while the file's identity, size and mtime stay the same."""
    info = path.stat()
    key = (str(path.resolve()), info.st_ino, info.st_size, info.st_mtime_ns)
    with _VERIFIED_LOCK:
        known = _VERIFIED.get(key)
    if known is not None:
        return known
    digest = file_checksum(path)
    with _VERIFIED_LOCK:
        _VERIFIED[key] = digest
    return digest


def lock_exclusively(handle: Any, timeout: float, poll: float = 0.05) -> bool:
    """Take an exclusive flock on an open file, waiting up to `timeout`; False if it timed out."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(poll)
