"""Answer feedback (thumbs up/down plus a comment) kept in SQLite next to the index.

The file is a StateDB (assistant/state/migrations.py): one instance can be shared by the server's
worker threads, and another process (the Slack bot) can write the same file at the same time.
The question's length is checked where it arrives, against ASSISTANT_MAX_QUESTION_CHARS.
"""

from __future__ import annotations

import logging
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, get_args

from assistant.errors import InvalidFeedbackError
from assistant.state.migrations import Migration, StateDB

log = logging.getLogger(__name__)

FEEDBACK_FILENAME = "feedback.sqlite"

Rating = Literal["up", "down"]
RATINGS: frozenset[str] = frozenset(get_args(Rating))

MAX_COMMENT_CHARS = 5_000
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
MIGRATIONS: tuple[Migration, ...] = (_migration_1,)


class FeedbackStore:
    """Append-only feedback records in `<index_dir>/feedback.sqlite`."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._db = StateDB(self.path, MIGRATIONS, "feedback")

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
        """Record one rating and return its row id (InvalidFeedbackError for a malformed one)."""
        answer_id = answer_id.strip()
        if not answer_id or len(answer_id) > MAX_ID_CHARS:
            raise InvalidFeedbackError(f"answer_id must be 1 to {MAX_ID_CHARS} characters")
        if rating not in RATINGS:
            raise InvalidFeedbackError(f"rating must be 'up' or 'down', not {rating!r}")
        if len(comment) > MAX_COMMENT_CHARS:
            raise InvalidFeedbackError(f"comment is longer than {MAX_COMMENT_CHARS} characters")
        if not source or len(source) > MAX_SOURCE_CHARS:
            raise InvalidFeedbackError(f"source must be 1 to {MAX_SOURCE_CHARS} characters")
        created_at = datetime.now(UTC).isoformat(timespec="seconds")
        with self._db.transaction() as conn:
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
        with self._db.transaction(write=False) as conn:
            rows = conn.execute(
                "SELECT id, answer_id, rating, comment, question, source, created_at"
                " FROM feedback ORDER BY id DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [dict(row) for row in rows]
