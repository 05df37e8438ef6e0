"""Answer feedback (thumbs up/down plus a comment) kept in SQLite next to the index.

The store opens a short-lived connection per call, so one instance can be shared by
the server's worker threads and the same file can be written by another process
(the Slack bot) at the same time; SQLite's own locking serialises the writers.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, get_args

log = logging.getLogger(__name__)

FEEDBACK_FILENAME = "feedback.sqlite"

Rating = Literal["up", "down"]
RATINGS: frozenset[str] = frozenset(get_args(Rating))

MAX_COMMENT_CHARS = 5_000
MAX_QUESTION_CHARS = 10_000
MAX_ID_CHARS = 200
MAX_SOURCE_CHARS = 50


def _migration_1(conn: sqlite3.Connection) -> None:
    conn.execute(
        """
        CREATE TABLE feedback (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            answer_id TEXT NOT NULL,
            rating TEXT NOT NULL CHECK (rating IN ('up', 'down')),
            comment TEXT NOT NULL DEFAULT '',
            question TEXT NOT NULL DEFAULT '',
            source TEXT NOT NULL DEFAULT 'web',
            created_at TEXT NOT NULL
        )
        """
    )
    conn.execute("CREATE INDEX feedback_answer_id ON feedback (answer_id)")


# Append only: migration N upgrades a database whose PRAGMA user_version is N-1.
MIGRATIONS: tuple[Callable[[sqlite3.Connection], None], ...] = (_migration_1,)


class FeedbackStore:
    """Append-only feedback records in `<index_dir>/feedback.sqlite`."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._ready = False

    @classmethod
    def for_index(cls, index_dir: Path | str) -> FeedbackStore:
        """The store that belongs to an index directory."""
        return cls(Path(index_dir) / FEEDBACK_FILENAME)

    def add(
        self,
        answer_id: str,
        rating: Rating,
        comment: str = "",
        question: str = "",
        source: str = "web",
    ) -> int:
        """Record one rating and return its row id."""
        answer_id = answer_id.strip()
        if not answer_id or len(answer_id) > MAX_ID_CHARS:
            raise ValueError(f"answer_id must be 1 to {MAX_ID_CHARS} characters")
        if rating not in RATINGS:
            raise ValueError(f"rating must be 'up' or 'down', not {rating!r}")
        if len(comment) > MAX_COMMENT_CHARS:
            raise ValueError(f"comment is longer than {MAX_COMMENT_CHARS} characters")
        if len(question) > MAX_QUESTION_CHARS:
            raise ValueError(f"question is longer than {MAX_QUESTION_CHARS} characters")
        if not source or len(source) > MAX_SOURCE_CHARS:
            raise ValueError(f"source must be 1 to {MAX_SOURCE_CHARS} characters")
        created_at = datetime.now(UTC).isoformat(timespec="seconds")
        with self._connect() as conn:
            cursor = conn.execute(
                "INSERT INTO feedback (answer_id, rating, comment, question, source, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (answer_id, rating, comment, question, source, created_at),
            )
            row_id = cursor.lastrowid
        assert row_id is not None
        log.info("feedback %d recorded: %s for answer %s", row_id, rating, answer_id)
        return row_id

    def list(self, limit: int = 100) -> list[dict[str, Any]]:
        """The newest `limit` records first, as plain dicts."""
        if limit < 1:
            raise ValueError(f"limit must be at least 1, not {limit}")
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT id, answer_id, rating, comment, question, source, created_at"
                " FROM feedback ORDER BY id DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [dict(row) for row in rows]

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        self._ensure_schema()
        conn = sqlite3.connect(self.path, timeout=30)
        conn.row_factory = sqlite3.Row
        try:
            with conn:  # commits on success, rolls back on error
                yield conn
        finally:
            conn.close()

    def _ensure_schema(self) -> None:
        if self._ready:
            return
        with self._lock:
            if self._ready:
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                # BEGIN IMMEDIATE: two processes opening a fresh file migrate it once, not twice.
                conn.execute("BEGIN IMMEDIATE")
                try:
                    version = conn.execute("PRAGMA user_version").fetchone()[0]
                    if version > len(MIGRATIONS):
                        raise RuntimeError(
                            f"{self.path} has schema version {version}, newer than this "
                            f"program understands ({len(MIGRATIONS)}); upgrade the assistant"
                        )
                    for number in range(version + 1, len(MIGRATIONS) + 1):
                        MIGRATIONS[number - 1](conn)
                        conn.execute(f"PRAGMA user_version = {number}")
                        log.info("feedback store %s migrated to version %d", self.path, number)
                    conn.execute("COMMIT")
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
            finally:
                conn.close()
            self._ready = True
