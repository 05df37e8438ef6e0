"""A committed snapshot opened for reading: FAISS vectors + SQLite, immutable, thread-safe."""

from __future__ import annotations

import contextlib
import json
import queue
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from assistant.errors import IndexCorruptError
from assistant.fileio import verified_checksum
from assistant.models import DocumentMeta
from assistant.store.fusion import fused_search
from assistant.store.manifest import REBUILD_HINT, Manifest, version_error
from assistant.store.protocol import ChunkRow, SearchMode, SearchRequest, SentenceRow, chunk_key, narrowed
from assistant.store.snapshot.layout import DEFAULT_SET, SCHEMA, SETS_SCHEMA, SNAPSHOTS_DIR
from assistant.store.snapshot.vector_index import VectorIndex, remember

#: read connections per open snapshot: queries beyond this many at once wait for one
READ_CONNECTIONS = 4
#: stemmed terms whose sentence frequency a snapshot remembers (the question vocabulary)
DF_CACHE_TERMS = 100_000
#: filters (sets, doc_id lists) whose documents and chunk ids one snapshot keeps worked out
FILTER_CACHE_ENTRIES = 16


class Snapshot:
    """A committed, immutable index generation opened for reading (thread-safe).

    `mmap` maps the vectors from the file (read-only) instead of copying them: the serving
    processes of `assistant serve --workers N` then share one copy of the pages.
    """

    def __init__(self, index_dir: Path, name: str, mmap: bool = False) -> None:
        self.index_dir = index_dir
        self.name = name
        self.path = index_dir / SNAPSHOTS_DIR / name
        hint = REBUILD_HINT.format(dir=index_dir)
        if not self.path.is_dir():
            raise IndexCorruptError(f"index snapshot {self.path} is missing; {hint}")
        self.manifest = Manifest.read(self.path / "manifest.json", index_dir)
        self._check_schema_version(hint)
        self._verify_checksums(hint)
        try:
            self.vectors = VectorIndex.read(self.path, mmap=mmap)
        except (RuntimeError, OSError, ValueError) as exc:
            raise IndexCorruptError(f"vector file in {self.path} is damaged ({exc}); {hint}") from exc
        if (
            self.vectors.live_count != self.manifest.chunks
            or self.vectors.dimension != self.manifest.dimension
        ):
            raise IndexCorruptError(
                f"vector file in {self.path} holds {self.vectors.live_count} vectors of dimension "
                f"{self.vectors.dimension}, the manifest says {self.manifest.chunks} of "
                f"{self.manifest.dimension}; {hint}"
            )
        # A few read-only connections, opened now: SQLite runs their queries in parallel (it
        # releases the GIL), where one shared connection made every request queue on it. All are
        # opened up front because a writer may delete this snapshot's folder once it is retired;
        # open files stay readable, a new open would fail.
        self._idle: queue.SimpleQueue[sqlite3.Connection] = queue.SimpleQueue()
        self._pool_lock = threading.Lock()
        self._closed = False
        self._df_cache: dict[str, int] = {}
        # a snapshot never changes: what a filter expands to is worked out once per filter
        self._set_docs: dict[tuple[str, ...], list[str]] = {}
        self._doc_chunks: dict[tuple[str, ...], list[int]] = {}
        try:
            uri = f"file:{self.path / 'store.sqlite'}?mode=ro&immutable=1"
            for _ in range(READ_CONNECTIONS):
                self._idle.put(sqlite3.connect(uri, uri=True, check_same_thread=False))
            (count,) = self._query_unchecked("SELECT count(*) FROM chunks")[0]
        except sqlite3.DatabaseError as exc:
            raise IndexCorruptError(f"database in {self.path} is damaged ({exc}); {hint}") from exc
        if count != self.manifest.chunks:
            raise IndexCorruptError(
                f"database in {self.path} holds {count} chunks, the manifest says "
                f"{self.manifest.chunks}; {hint}"
            )

    def _check_schema_version(self, hint: str) -> None:
        """Refuse a database another version wrote (its tables or tokenizer may differ)."""
        try:
            uri = f"file:{self.path / 'store.sqlite'}?mode=ro&immutable=1"
            with contextlib.closing(sqlite3.connect(uri, uri=True)) as connection:
                (version,) = connection.execute("PRAGMA user_version").fetchone()
        except sqlite3.DatabaseError as exc:
            raise IndexCorruptError(f"database in {self.path} is damaged ({exc}); {hint}") from exc
        if version not in (SETS_SCHEMA - 1, len(SCHEMA)):
            raise version_error(self.index_dir, "store schema", version, len(SCHEMA))
        # a schema-2 snapshot predates document sets: every document in it is in `default`
        self._has_sets = version >= SETS_SCHEMA

    def _verify_checksums(self, hint: str) -> None:
        """Catch damage anywhere in the data files at load, not deep inside a later query."""
        for name, expected in self.manifest.checksums.items():
            try:
                actual = verified_checksum(self.path / name)
            except OSError as exc:
                raise IndexCorruptError(f"{name} in {self.path} is unreadable ({exc}); {hint}") from exc
            if actual != expected:
                raise IndexCorruptError(
                    f"{name} in {self.path} is damaged (its checksum does not match the manifest); {hint}"
                )

    def close(self) -> None:
        """Close the idle connections; one still in use is closed when its query ends."""
        with self._pool_lock:
            self._closed = True
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                return

    @contextlib.contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        """A connection of the pool (waiting for one when all are busy)."""
        if self._closed:
            raise RuntimeError(f"snapshot {self.name} was closed")
        connection = self._idle.get()
        try:
            yield connection
        finally:
            with self._pool_lock:
                if self._closed:
                    connection.close()
                else:
                    self._idle.put(connection)

    def _query_unchecked(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._connection() as connection:
            return connection.execute(sql, params).fetchall()

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        try:
            return self._query_unchecked(sql, params)
        except sqlite3.DatabaseError as exc:
            raise IndexCorruptError(
                f"database in {self.path} is damaged ({exc}); " + REBUILD_HINT.format(dir=self.index_dir)
            ) from exc

    def backup_to(self, target: sqlite3.Connection) -> None:
        """Copy the whole database into `target` (a writer starts from the live snapshot)."""
        with self._connection() as connection:
            connection.backup(target)

    # --- retrieval ------------------------------------------------------------------------

    def search(
        self,
        requests: Sequence[SearchRequest],
        k: int,
        depth: int,
        doc_ids: Sequence[str] | None = None,
        mode: SearchMode = "hybrid",
        sets: Sequence[str] | None = None,
    ) -> list[tuple[int, float]]:
        """Dense (FAISS) and keyword (FTS5 BM25) rankings of every request, fused by RRF; the
        sets become the documents they hold (FAISS's ID selector and FTS5's filter keep them)."""
        if sets is not None:
            allowed = self.doc_ids_in_sets(sets)
            # sets that hold every document (the usual public `default`) restrict nothing: the
            # plain search skips building and applying a filter of every chunk id
            if doc_ids is not None or len(allowed) < self.manifest.documents:
                doc_ids = narrowed(doc_ids, allowed)
        return fused_search(self, requests, k, depth, doc_ids, mode)

    def dense_search(
        self, query: np.ndarray, k: int, allowed_ids: Sequence[int] | None = None
    ) -> list[tuple[int, float]]:
        """Nearest chunks by inner product (vectors are normalised, so cosine)."""
        return self.vectors.search(query, k, allowed_ids)

    def keyword_search(
        self, match: str, k: int, doc_ids: Sequence[str] | None = None
    ) -> list[tuple[int, float]]:
        """BM25 over FTS5; `match` must come from lexical.fts_match_query (already quoted)."""
        sql = "SELECT rowid, bm25(chunks_fts) AS s FROM chunks_fts WHERE chunks_fts MATCH ?"
        params: list[Any] = [match]
        if doc_ids is not None:
            if not doc_ids:
                return []
            marks = ",".join("?" * len(doc_ids))
            # `+rowid`: filter the MATCH's rows, never let FTS5 look up every allowed rowid
            # (for a set of 10,000 chunks that plan took 350 ms against 3 ms for this one)
            sql += f" AND +rowid IN (SELECT id FROM chunks WHERE doc_id IN ({marks}))"
            params.extend(doc_ids)
        sql += " ORDER BY s LIMIT ?"
        params.append(k)
        return [(int(r), -float(s)) for r, s in self._query(sql, params)]

    def chunk_ids_for_docs(self, doc_ids: Sequence[str]) -> list[int]:
        if not doc_ids:
            return []
        key = tuple(doc_ids)
        found = self._doc_chunks.get(key)
        if found is None:
            marks = ",".join("?" * len(doc_ids))
            found = [r for (r,) in self._query(f"SELECT id FROM chunks WHERE doc_id IN ({marks})", doc_ids)]
            remember(self._doc_chunks, key, found, FILTER_CACHE_ENTRIES)
        return list(found)

    def chunks(self, ids: Sequence[int]) -> dict[int, ChunkRow]:
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self._query(
            "SELECT id, doc_id, ord, start, end, text, page, first_sentence, last_sentence "
            f"FROM chunks WHERE id IN ({marks})",
            list(ids),
        )
        return {row[0]: ChunkRow(*row) for row in rows}

    def sentences(self, doc_id: str, first: int, last: int) -> list[SentenceRow]:
        rows = self._query(
            "SELECT doc_id, ord, start, end, embedding FROM sentences "
            "WHERE doc_id = ? AND ord BETWEEN ? AND ? ORDER BY ord",
            (doc_id, first, last),
        )
        return [
            SentenceRow(d, o, s, e, np.frombuffer(blob, dtype=np.float16).astype(np.float32))
            for d, o, s, e, blob in rows
        ]

    def chunk_containing(self, doc_id: str, start: int, end: int) -> str:
        rows = self._query(
            "SELECT ord FROM chunks WHERE doc_id = ? AND start <= ? AND end >= ? ORDER BY ord LIMIT 1",
            (doc_id, start, end),
        )
        if not rows:
            rows = self._query(
                "SELECT ord FROM chunks WHERE doc_id = ? AND start <= ? ORDER BY start DESC LIMIT 1",
                (doc_id, start),
            )
        return chunk_key(doc_id, rows[0][0] if rows else 0)

    def document_frequencies(self, terms: Iterable[str]) -> dict[str, int]:
        """Sentences holding each stemmed term (absent: none). Remembered per snapshot, which
        never changes: retrieval and the composer both ask for the question's terms."""
        unique = set(terms)
        with self._pool_lock:
            known = {t: self._df_cache[t] for t in unique if t in self._df_cache}
        missing = sorted(unique - known.keys())
        if missing:
            marks = ",".join("?" * len(missing))
            found = dict(self._query(f"SELECT term, df FROM term_df WHERE term IN ({marks})", missing))
            with self._pool_lock:
                if len(self._df_cache) > DF_CACHE_TERMS:
                    self._df_cache.clear()
                self._df_cache.update({t: found.get(t, 0) for t in missing})
            known.update(found)
        return {t: n for t, n in known.items() if n}

    # --- documents ---------------------------------------------------------------------------

    _DOC_COLUMNS = "doc_id, title, source, chunks, length(text), content_hash, indexed_at, metadata"

    def documents(self) -> list[dict[str, Any]]:
        rows = self._query(f"SELECT {self._DOC_COLUMNS} FROM documents ORDER BY doc_id")
        sets = self.document_sets()
        return [{**self._doc_dict(row), "sets": sets.get(row[0], [])} for row in rows]

    def document_sets(self) -> dict[str, list[str]]:
        """doc_id -> the names of its sets, sorted."""
        found: dict[str, list[str]] = {}
        for doc_id, name in self._query(
            self._sets_sql("SELECT doc_id, name FROM sets ORDER BY doc_id, name")
        ):
            found.setdefault(doc_id, []).append(name)
        return found

    def doc_ids_in_sets(self, sets: Iterable[str]) -> list[str]:
        """The documents in any of `sets` (none for no sets): what a caller limited to them may see."""
        names = sorted(set(sets))
        if not names:
            return []
        key = tuple(names)
        found = self._set_docs.get(key)
        if found is None:
            marks = ",".join("?" * len(names))
            sql = self._sets_sql(f"SELECT DISTINCT doc_id FROM sets WHERE name IN ({marks}) ORDER BY doc_id")
            found = [doc_id for (doc_id,) in self._query(sql, names)]
            remember(self._set_docs, key, found, FILTER_CACHE_ENTRIES)
        return list(found)

    def set_counts(self) -> dict[str, int]:
        """Set name -> how many documents are in it."""
        rows = self._query(self._sets_sql("SELECT name, count(*) FROM sets GROUP BY name ORDER BY name"))
        return {name: int(count) for name, count in rows}

    def _sets_sql(self, sql: str) -> str:
        """`sql` over a `sets(doc_id, name)` view: the table, or `default` for a schema-2 snapshot."""
        source = (
            "SELECT doc_id, name FROM document_sets"
            if self._has_sets
            else f"SELECT doc_id, '{DEFAULT_SET}' AS name FROM documents"
        )
        return f"WITH sets AS ({source}) {sql}"

    def document(self, doc_id: str) -> dict[str, Any] | None:
        rows = self._query(
            f"SELECT {self._DOC_COLUMNS}, text, pages FROM documents WHERE doc_id = ?", (doc_id,)
        )
        if not rows:
            return None
        info = self._doc_dict(rows[0][:8])
        sets = self._query(self._sets_sql("SELECT name FROM sets WHERE doc_id = ? ORDER BY name"), (doc_id,))
        info["sets"] = [name for (name,) in sets]
        info["text"] = rows[0][8]
        info["pages"] = [tuple(p) for p in json.loads(rows[0][9])]
        return info

    def document_meta(self, doc_ids: Iterable[str]) -> dict[str, DocumentMeta]:
        """doc_id -> title, source and page ranges of the given documents."""
        unique = sorted(set(doc_ids))
        if not unique:
            return {}
        marks = ",".join("?" * len(unique))
        rows = self._query(
            f"SELECT doc_id, title, source, pages FROM documents WHERE doc_id IN ({marks})", unique
        )
        return {d: DocumentMeta(t, s, tuple(tuple(r) for r in json.loads(p))) for d, t, s, p in rows}

    def text_slice(self, doc_id: str, start: int, end: int) -> str:
        """document_text[start:end] without reading the whole text into Python."""
        rows = self._query(
            "SELECT substr(text, ?, ?) FROM documents WHERE doc_id = ?",
            (start + 1, end - start, doc_id),
        )
        return rows[0][0] if rows else ""

    def document_text(self, doc_id: str) -> str | None:
        rows = self._query("SELECT text FROM documents WHERE doc_id = ?", (doc_id,))
        return rows[0][0] if rows else None

    @staticmethod
    def _doc_dict(row: Sequence[Any]) -> dict[str, Any]:
        doc_id, title, source, chunks, chars, content_hash, indexed_at, metadata = row
        return {
            "doc_id": doc_id,
            "title": title,
            "source": source,
            "chunks": chunks,
            "chars": chars,
            "content_hash": content_hash,
            "indexed_at": indexed_at,
            "metadata": json.loads(metadata),
        }
