"""Bounded, expiring memory of what the bot has already handled, so Slack never gets two answers.

Slack delivers the same message more than once: a retry after a slow acknowledgement carries the
same `event_id`, and a mention inside a channel the bot reads arrives both as `app_mention` and as
`message` (different `event_id`s, same `(channel, ts)`). Both keys are remembered here.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Generic, TypeVar

from assistant.observability.metrics import count_slack_event
from assistant.state.migrations import Migration, StateDB

V = TypeVar("V")

# Slack retries three times within about five minutes; an hour also covers slow duplicate paths.
DEFAULT_TTL_SECONDS = 60 * 60
DEFAULT_MAX_ITEMS = 10_000
DEDUPE_FILENAME = "slack-events.sqlite"


class TTLMap(Generic[V]):
    """A thread-safe map whose entries expire after `ttl` seconds; the oldest go first when full."""

    def __init__(
        self,
        ttl: float = DEFAULT_TTL_SECONDS,
        max_items: int = DEFAULT_MAX_ITEMS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ttl <= 0:
            raise ValueError(f"ttl must be greater than 0. Currently, ttl is {ttl}")
        if max_items < 1:
            raise ValueError(f"max_items must be at least 1. Currently, max_items is {max_items}")
        self._ttl = ttl
        self._max_items = max_items
        self._clock = clock
        self._items: OrderedDict[Hashable, tuple[float, V]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            self._expire(self._clock())
            return len(self._items)

    def get(self, key: Hashable) -> V | None:
        """The live value for `key`, or None when absent or expired."""
        with self._lock:
            self._expire(self._clock())
            entry = self._items.get(key)
            return entry[1] if entry is not None else None

    def put(self, key: Hashable, value: V) -> None:
        """Store (or refresh) `key`; evicts the oldest entries beyond `max_items`."""
        with self._lock:
            now = self._clock()
            self._expire(now)
            self._items.pop(key, None)
            self._items[key] = (now + self._ttl, value)
            self._trim()

    def add_if_absent(self, key: Hashable, value: V) -> bool:
        """Store `key` only if no live entry exists; True when this call stored it (atomic)."""
        with self._lock:
            now = self._clock()
            self._expire(now)
            if key in self._items:
                return False
            self._items[key] = (now + self._ttl, value)
            self._trim()
            return True

    def _expire(self, now: float) -> None:
        # Insertion order equals expiry order because every entry gets the same ttl.
        while self._items:
            key, (expires_at, _) = next(iter(self._items.items()))
            if expires_at > now:
                break
            del self._items[key]

    def _trim(self) -> None:
        while len(self._items) > self._max_items:
            self._items.popitem(last=False)


def _migration_1(conn: sqlite3.Connection) -> None:
    conn.execute(
        """
        CREATE TABLE claimed (
            key TEXT PRIMARY KEY,
            expires_at REAL NOT NULL
        ) WITHOUT ROWID
        """
    )
    conn.execute("CREATE INDEX claimed_expiry ON claimed (expires_at)")


# Append only: migration N upgrades a database whose PRAGMA user_version is N-1.
MIGRATIONS: tuple[Migration, ...] = (_migration_1,)


class Deduplicator:
    """Remembers `event_id`s and `(channel, ts)` pairs; a `claim_*` is True only the first time.

    Kept in SQLite (`<index_dir>/slack-events.sqlite`), so a restart does not answer Slack's
    retries of events handled just before it, and two processes (`assistant serve` and
    `assistant slack` on one index) never both answer one message. The clock is wall time,
    because an expiry must mean the same thing to the next process.
    """

    def __init__(
        self,
        path: Path | str,
        ttl: float = DEFAULT_TTL_SECONDS,
        max_items: int = DEFAULT_MAX_ITEMS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if ttl <= 0:
            raise ValueError(f"ttl must be greater than 0. Currently, ttl is {ttl}")
        if max_items < 1:
            raise ValueError(f"max_items must be at least 1. Currently, max_items is {max_items}")
        self._db = StateDB(path, MIGRATIONS, "Slack event")
        self._ttl = ttl
        self._max_items = max_items
        self._clock = clock

    @classmethod
    def for_index(cls, index_dir: Path | str) -> Deduplicator:
        """The de-duplication memory that belongs to an index directory."""
        return cls(Path(index_dir) / DEDUPE_FILENAME)

    def claim_event(self, event_id: str) -> bool:
        """True the first time an Events API `event_id` is seen (retries reuse the id)."""
        return self._claim(f"event:{event_id}", "event")

    def claim_message(self, channel: str, ts: str) -> bool:
        """True the first time the bot decides to answer the message `(channel, ts)`."""
        return self._claim(f"message:{channel}:{ts}", "message")

    def _claim(self, key: str, kind: str) -> bool:
        now = self._clock()
        # One short write transaction: of two processes claiming the same key, one inserts and
        # the other, waiting on the lock, then finds the row.
        with self._db.transaction() as conn:
            conn.execute("DELETE FROM claimed WHERE expires_at <= ?", (now,))
            inserted = conn.execute(
                "INSERT OR IGNORE INTO claimed (key, expires_at) VALUES (?, ?)", (key, now + self._ttl)
            ).rowcount
            if inserted:
                # Every entry has the same ttl, so the soonest to expire are the oldest.
                conn.execute(
                    "DELETE FROM claimed WHERE key IN (SELECT key FROM claimed ORDER BY expires_at DESC"
                    " LIMIT -1 OFFSET ?)",
                    (self._max_items,),
                )
        count_slack_event(kind, handled=bool(inserted))
        return bool(inserted)
