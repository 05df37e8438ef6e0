"""Scoped API keys: a name, the document sets the key may see, and whether it is an admin key.

Only the sha256 of a key is stored (in `<index_dir>/keys.sqlite`, a StateDB), so the file never
holds a usable secret; `create` returns the key once. The server looks a key up on every request,
so a revoked key is refused at once by every process that shares the file.
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from assistant.errors import ConfigError
from assistant.settings import SET_NAME, split_set_names
from assistant.state.migrations import Migration, StateDB

KEYS_FILENAME = "keys.sqlite"
_NAME = SET_NAME  # a key's name follows the rule of a set's name
#: the bytes of randomness in a new key (URL-safe base64 in the key itself)
KEY_BYTES = 32


def _migration_1(conn: sqlite3.Connection) -> None:
    conn.execute(
        """
        CREATE TABLE api_keys (
            name TEXT PRIMARY KEY,
            key_hash TEXT NOT NULL UNIQUE,
            sets TEXT NOT NULL,
            admin INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            revoked_at TEXT
        )
        """
    )


# Append only: migration N upgrades a database whose PRAGMA user_version is N-1.
MIGRATIONS: tuple[Migration, ...] = (_migration_1,)


@dataclass(frozen=True, slots=True)
class ApiKey:
    """What a key grants (never the key itself)."""

    name: str
    sets: tuple[str, ...]
    admin: bool
    created_at: str
    revoked_at: str | None = None


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def parse_sets(text: str) -> list[str]:
    """'a, b' -> ['a', 'b'] (sorted, unique); ConfigError naming a malformed set name."""
    names = split_set_names(text)
    for name in names:
        if not _NAME.match(name):
            raise ConfigError(f"set name {name!r} is not valid: use letters, digits, '.', '-' or '_'")
    return names


class KeyStore:
    """The scoped keys of one index directory."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._db = StateDB(self.path, MIGRATIONS, "api keys")

    @classmethod
    def for_index(cls, index_dir: Path | str) -> KeyStore:
        return cls(Path(index_dir) / KEYS_FILENAME)

    def create(self, name: str, sets: list[str], admin: bool = False) -> str:
        """Store a new key and return it (the only time it is shown)."""
        if not _NAME.match(name):
            raise ConfigError(f"key name {name!r} is not valid: use letters, digits, '.', '-' or '_'")
        if not sets and not admin:
            raise ConfigError("a key needs at least one set (--sets a,b) or --admin")
        key = "ak_" + secrets.token_urlsafe(KEY_BYTES)
        now = datetime.now(UTC).isoformat(timespec="seconds")
        with self._db.transaction() as conn:
            if conn.execute("SELECT 1 FROM api_keys WHERE name = ?", (name,)).fetchone():
                raise ConfigError(f"a key named {name!r} exists already; revoke it or pick another name")
            conn.execute(
                "INSERT INTO api_keys (name, key_hash, sets, admin, created_at) VALUES (?, ?, ?, ?, ?)",
                (name, key_hash(key), ",".join(sets), int(admin), now),
            )
        return key

    def lookup(self, key: str) -> ApiKey | None:
        """The key with this value (revoked ones too: the caller refuses them), or None."""
        if not self.path.exists():  # no key was ever created: no file to make
            return None
        with self._db.transaction(write=False) as conn:
            row = conn.execute("SELECT * FROM api_keys WHERE key_hash = ?", (key_hash(key),)).fetchone()
        return None if row is None else _key(row)

    def list(self) -> list[ApiKey]:
        with self._db.transaction(write=False) as conn:
            rows = conn.execute("SELECT * FROM api_keys ORDER BY name").fetchall()
        return [_key(row) for row in rows]

    def revoke(self, name: str) -> bool:
        """Revoke a live key by name; False when there is none of that name."""
        now = datetime.now(UTC).isoformat(timespec="seconds")
        with self._db.transaction() as conn:
            cursor = conn.execute(
                "UPDATE api_keys SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL", (now, name)
            )
        return cursor.rowcount > 0


def _key(row: sqlite3.Row) -> ApiKey:
    return ApiKey(
        name=row["name"],
        sets=tuple(s for s in row["sets"].split(",") if s),
        admin=bool(row["admin"]),
        created_at=row["created_at"],
        revoked_at=row["revoked_at"],
    )
