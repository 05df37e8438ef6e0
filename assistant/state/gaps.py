"""Content gaps: questions the documents could not answer well, kept for the people who own them.

A refused question, one answered below a confidence setting, and one whose answer got a
thumbs-down are recorded with the documents retrieved for it, in `<index_dir>/gaps.sqlite`
(a StateDB). Records older than the retention are deleted on each write, so the file stays small.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import numpy as np

from assistant.state.migrations import Migration, StateDB

log = logging.getLogger(__name__)

GAPS_FILENAME = "gaps.sqlite"
Reason = Literal["refused", "low_confidence", "thumbs_down"]
#: the newest records that the admin page groups (grouping embeds each distinct question once)
MAX_LISTED = 2_000


def _migration_1(conn: sqlite3.Connection) -> None:
    conn.execute(
        """
        CREATE TABLE gaps (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            question TEXT NOT NULL,
            reason TEXT NOT NULL CHECK (reason IN ('refused', 'low_confidence', 'thumbs_down')),
            confidence REAL,
            doc_ids TEXT NOT NULL DEFAULT '[]',
            created_at TEXT NOT NULL
        )
        """
    )
    conn.execute("CREATE INDEX gaps_created_at ON gaps (created_at)")


MIGRATIONS: tuple[Migration, ...] = (_migration_1,)


def _now() -> datetime:
    return datetime.now(UTC)


class GapStore:
    """Recorded gaps, newest first; `retention_days` bounds how long one is kept."""

    def __init__(self, path: Path | str, retention_days: int = 30) -> None:
        if retention_days < 1:
            raise ValueError(f"retention_days must be at least 1, not {retention_days}")
        self.path = Path(path)
        self.retention = timedelta(days=retention_days)
        self._db = StateDB(self.path, MIGRATIONS, "content gaps")

    def record(
        self, question: str, reason: Reason, doc_ids: Sequence[str], confidence: float | None = None
    ) -> None:
        """Keep one gap, and forget those past the retention."""
        now = _now()
        with self._db.transaction() as conn:
            conn.execute("DELETE FROM gaps WHERE created_at < ?", ((now - self.retention).isoformat(),))
            conn.execute(
                "INSERT INTO gaps (question, reason, confidence, doc_ids, created_at) VALUES (?, ?, ?, ?, ?)",
                (
                    question.strip(),
                    reason,
                    confidence,
                    json.dumps(list(doc_ids)),
                    now.isoformat(timespec="seconds"),
                ),
            )
        log.info("content gap recorded: %s", reason)

    def list(self, limit: int = MAX_LISTED) -> list[dict[str, Any]]:
        """The newest `limit` gaps within the retention, each with its `doc_ids` as a list."""
        cutoff = (_now() - self.retention).isoformat()
        with self._db.transaction(write=False) as conn:
            rows = conn.execute(
                "SELECT id, question, reason, confidence, doc_ids, created_at FROM gaps"
                " WHERE created_at >= ? ORDER BY id DESC LIMIT ?",
                (cutoff, limit),
            ).fetchall()
        return [{**dict(row), "doc_ids": json.loads(row["doc_ids"])} for row in rows]


@dataclass(slots=True)
class GapGroup:
    """Similar questions together: how often, when last, why, and which documents came back."""

    question: str
    questions: list[str] = field(default_factory=list)
    count: int = 0
    last_asked: str = ""
    reasons: dict[str, int] = field(default_factory=dict)
    documents: dict[str, int] = field(default_factory=dict)


def group_gaps(gaps: Sequence[dict[str, Any]], vectors: np.ndarray, min_similarity: float) -> list[GapGroup]:
    """Greedy grouping, newest first: a gap joins the first group whose first question's
    (normalised) embedding is at least `min_similarity` alike, else starts a group.
    Groups come back most asked first."""
    groups: list[GapGroup] = []
    leaders: list[np.ndarray] = []
    for gap, vector in zip(gaps, vectors, strict=True):
        similar = [float(vector @ leader) for leader in leaders]
        best = int(np.argmax(similar)) if similar else -1
        if best < 0 or similar[best] < min_similarity:
            groups.append(GapGroup(question=gap["question"], last_asked=gap["created_at"]))
            leaders.append(vector)
            best = len(groups) - 1
        group = groups[best]
        group.count += 1
        if gap["question"] not in group.questions:
            group.questions.append(gap["question"])
        group.reasons[gap["reason"]] = group.reasons.get(gap["reason"], 0) + 1
        for doc_id in gap["doc_ids"]:
            group.documents[doc_id] = group.documents.get(doc_id, 0) + 1
    groups.sort(key=lambda g: g.last_asked, reverse=True)
    groups.sort(key=lambda g: g.count, reverse=True)
    return groups
