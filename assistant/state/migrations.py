"""Service state in small SQLite files next to the index: one migration runner for all of them.

Feedback, upload jobs and Slack's de-duplication each keep a database of their own, upgraded by
numbered migrations: migration N turns a database whose `PRAGMA user_version` is N-1 into
version N, so an old file upgrades itself and a file from a newer program is refused with a
clear message instead of being misread. Each thread keeps its own connection (closing the last
connection of a WAL database checkpoints it, which made a connection per call cost ~15 ms), so
one store object can be shared by threads, and two processes can use the same file at once
(SQLite's locks serialise the writers, each transaction is short, and WAL lets readers carry on
meanwhile).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager
from pathlib import Path

from assistant.errors import StateVersionError

log = logging.getLogger(__name__)

Migration = Callable[[sqlite3.Connection], None]

#: seconds a writer waits for another process's transaction before giving up
BUSY_TIMEOUT_SECONDS = 30.0


class StateDB:
    """One SQLite file and its migrations; `transaction()` hands out a connection per call."""

    def __init__(self, path: Path | str, migrations: Sequence[Migration], what: str) -> None:
        self.path = Path(path)
        self.what = what
        self._migrations = tuple(migrations)
        self._lock = threading.Lock()
        self._ready = False
        self._local = threading.local()

    @property
    def version(self) -> int:
        """The schema version this program writes (the number of migrations)."""
        return len(self._migrations)

    @contextmanager
    def transaction(self, write: bool = True) -> Iterator[sqlite3.Connection]:
        """A connection inside one transaction: committed on success, rolled back on error.

        `write` takes the write lock at the start (BEGIN IMMEDIATE), so a read-then-write
        such as "claim this key if nobody has" is atomic across processes too.
        """
        self._ensure_schema()
        conn: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if conn is None:
            conn = self._local.connection = self._connect()
        conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
        conn.row_factory = sqlite3.Row
        # With WAL, NORMAL syncs at checkpoints instead of every commit: a crashed process loses
        # nothing, a power cut at most the last few commits, and a commit costs no fsync.
        conn.execute("PRAGMA synchronous=NORMAL")
        return conn

    def _ensure_schema(self) -> None:
        if self._ready:
            return
        with self._lock:
            if self._ready:
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with closing(self._connect()) as conn:
                conn.execute("PRAGMA journal_mode=WAL")
                # BEGIN IMMEDIATE: two processes opening a fresh file migrate it once, not twice.
                conn.execute("BEGIN IMMEDIATE")
                try:
                    self._migrate(conn)
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
            self._ready = True

    def _migrate(self, conn: sqlite3.Connection) -> None:
        found = conn.execute("PRAGMA user_version").fetchone()[0]
        if found > self.version:
            raise StateVersionError(
                f"the {self.what} database {self.path} has schema version {found}, newer than this "
                f"version of the assistant reads ({self.version}); upgrade the assistant, or move "
                "the file away to start an empty one"
            )
        for number in range(found + 1, self.version + 1):
            self._migrations[number - 1](conn)
            conn.execute(f"PRAGMA user_version = {number}")
            log.info("%s database %s migrated to version %d", self.what, self.path, number)
