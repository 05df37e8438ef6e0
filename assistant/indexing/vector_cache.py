"""Vectors of chunks already embedded, so a changed document re-embeds only its changed chunks.

A saved edit changes one or two chunks of a file, yet a sync re-indexes the whole file: without
this cache every chunk goes through the model again, which is most of a watched folder's
save-to-answer time. Entries are keyed by a hash of the model, the text and (for late pooling)
the sentence spans inside it, so a hit is exactly the vector the model would return. It is only
a cache: a damaged file is replaced by an empty one, and no snapshot depends on it.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from assistant.embedding import Embedder, SpanEmbedder
from assistant.embedding.protocol import Span

log = logging.getLogger(__name__)

FILE_NAME = "vector_cache.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS vectors (
    key BLOB PRIMARY KEY,
    rows INTEGER NOT NULL,
    data BLOB NOT NULL,
    used INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS vectors_used ON vectors(used);
"""


class VectorCache:
    """A bounded, content-addressed store of float32 vector blocks in one SQLite file."""

    def __init__(self, path: Path, max_entries: int) -> None:
        self.path = path
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._conn = _open(path)
        row = self._conn.execute("SELECT COALESCE(MAX(used), 0) FROM vectors").fetchone()
        self._clock = int(row[0])

    def get_many(self, keys: Sequence[bytes], dimension: int) -> dict[bytes, np.ndarray]:
        """The cached blocks among `keys` (each rows x dimension), marked as just used.

        A cache that cannot be read (locked too long, disk trouble) answers with misses."""
        try:
            return self._get_many(keys, dimension)
        except sqlite3.Error as exc:
            log.warning("vector cache %s not read: %s", self.path, exc)
            return {}

    def put_many(self, blocks: dict[bytes, np.ndarray]) -> None:
        """Store new blocks, then drop the least recently used beyond `max_entries`.

        A failed write (a full disk, say) only costs future hits: the build goes on."""
        try:
            self._put_many(blocks)
        except sqlite3.Error as exc:
            log.warning("vector cache %s not written: %s", self.path, exc)
            with self._lock:
                self._conn.rollback()

    def _get_many(self, keys: Sequence[bytes], dimension: int) -> dict[bytes, np.ndarray]:
        found: dict[bytes, np.ndarray] = {}
        if not keys:
            return found
        with self._lock:
            for start in range(0, len(keys), 500):
                part = list(keys[start : start + 500])
                marks = ",".join("?" * len(part))
                query = f"SELECT key, rows, data FROM vectors WHERE key IN ({marks})"
                for key, rows, data in self._conn.execute(query, part):
                    block = np.frombuffer(data, dtype=np.float32)
                    if block.size == rows * dimension:  # another dimension: a different model
                        found[key] = block.reshape(rows, dimension)
            if found:
                self._clock += 1
                self._conn.executemany(
                    "UPDATE vectors SET used = ? WHERE key = ?", [(self._clock, k) for k in found]
                )
                self._conn.commit()
        return found

    def _put_many(self, blocks: dict[bytes, np.ndarray]) -> None:
        if not blocks:
            return
        with self._lock:
            self._clock += 1
            self._conn.executemany(
                "INSERT OR REPLACE INTO vectors (key, rows, data, used) VALUES (?, ?, ?, ?)",
                [
                    (key, block.shape[0], np.ascontiguousarray(block, np.float32).tobytes(), self._clock)
                    for key, block in blocks.items()
                ],
            )
            (count,) = self._conn.execute("SELECT COUNT(*) FROM vectors").fetchone()
            if count > self.max_entries:
                self._conn.execute(
                    "DELETE FROM vectors WHERE key IN (SELECT key FROM vectors ORDER BY used LIMIT ?)",
                    (count - self.max_entries,),
                )
            self._conn.commit()

    def __len__(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM vectors").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def _open(path: Path) -> sqlite3.Connection:
    """The cache's connection; a file that is not a usable cache is set aside and started anew."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        return _connect(path)
    except sqlite3.DatabaseError as exc:
        log.warning("vector cache %s is damaged (%s): starting an empty one", path, exc)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return _connect(path)


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, check_same_thread=False, timeout=30)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.executescript(_SCHEMA)
        conn.execute("SELECT COUNT(*) FROM vectors").fetchone()
    except sqlite3.DatabaseError:
        conn.close()
        raise
    return conn


class CachingEmbedder:
    """An Embedder (and SpanEmbedder) that asks its inner embedder only for texts not cached.

    `computed` and `reused` count texts since creation, in the units the build reports.
    """

    def __init__(self, inner: Embedder, cache: VectorCache) -> None:
        self.inner = inner
        self.cache = cache
        self.model_name = inner.model_name
        self.computed = 0
        self.reused = 0

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    def pools_spans(self) -> bool:
        return isinstance(self.inner, SpanEmbedder) and self.inner.pools_spans()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        keys = [self._key("text", text) for text in texts]
        cached = self.cache.get_many(keys, self.dimension)
        missing = [i for i, key in enumerate(keys) if key not in cached]
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        if missing:
            fresh = self.inner.embed([texts[i] for i in missing])
            out[missing] = fresh
            self.cache.put_many({keys[i]: fresh[j : j + 1] for j, i in enumerate(missing)})
        for i, key in enumerate(keys):
            if key in cached:
                out[i] = cached[key][0]
        self.computed += len(missing)
        self.reused += len(texts) - len(missing)
        return out

    def embed_with_spans(
        self, texts: Sequence[str], spans: Sequence[Sequence[Span]]
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        if not isinstance(self.inner, SpanEmbedder):
            raise TypeError(f"{type(self.inner).__name__} cannot pool spans")
        keys = [self._key("spans", text, tuple(s)) for text, s in zip(texts, spans, strict=True)]
        cached = self.cache.get_many(keys, self.dimension)
        missing = [i for i, key in enumerate(keys) if key not in cached]
        blocks: dict[int, np.ndarray] = {i: cached[key] for i, key in enumerate(keys) if key in cached}
        if missing:
            chunk_vectors, span_vectors = self.inner.embed_with_spans(
                [texts[i] for i in missing], [spans[i] for i in missing]
            )
            fresh = {
                i: np.vstack([chunk_vectors[j : j + 1], span_vectors[j].reshape(-1, self.dimension)])
                for j, i in enumerate(missing)
            }
            blocks.update(fresh)
            self.cache.put_many({keys[i]: block for i, block in fresh.items()})
        self.computed += len(missing)
        self.reused += len(texts) - len(missing)
        ordered = [blocks[i] for i in range(len(texts))]
        chunks = np.ascontiguousarray(
            np.vstack([b[:1] for b in ordered]) if ordered else np.zeros((0, self.dimension)),
            dtype=np.float32,
        )
        return chunks, [b[1:] for b in ordered]

    def _key(self, kind: str, text: str, spans: tuple[Span, ...] = ()) -> bytes:
        digest = hashlib.sha256()
        for part in (self.model_name, kind, text, repr(spans)):
            digest.update(part.encode("utf-8", "surrogatepass"))
            digest.update(b"\x00")
        return digest.digest()
