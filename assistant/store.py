"""The on-disk index: FAISS vectors + SQLite (documents, chunks, sentences, FTS5) in atomic snapshots.

Layout of an index directory::

    CURRENT                 name of the live snapshot (replaced atomically with os.replace)
    snapshots/<name>/       manifest.json, store.sqlite, vectors.faiss  (immutable once committed)
    .lock                   writers hold an exclusive flock while building a new snapshot

A writer copies the live snapshot into a temporary folder, applies its changes there, fsyncs,
renames the folder and finally swaps CURRENT. A crash at any point leaves CURRENT naming a
complete snapshot, so readers see either the old index or the new one, never a mix.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import logging
import os
import queue
import shutil
import sqlite3
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from assistant.errors import (
    IndexBusyError,
    IndexCorruptError,
    IndexNotFoundError,
    IndexVersionError,
    IndexWriteError,
)
from assistant.lexical import content_terms, index_terms
from assistant.models import DocumentMeta
from assistant.vector_index import VectorIndex, VectorWriteError, choose_kind

log = logging.getLogger(__name__)

FORMAT_VERSION = 2
CURRENT_FILE = "CURRENT"
SNAPSHOTS_DIR = "snapshots"
KEEP_SNAPSHOTS = 3
#: read connections per open snapshot: queries beyond this many at once wait for one
READ_CONNECTIONS = 4
#: stemmed terms whose sentence frequency a snapshot remembers (the question vocabulary)
DF_CACHE_TERMS = 100_000
REBUILD_HINT = "rebuild it with `assistant index build --rebuild --index-dir {dir}`"
#: Test hook for crash tests: with ASSISTANT_TEST_PAUSE_AT=<point> a writer touches
#: `<index_dir>/.paused-<point>` at that step of commit() and sleeps there, so a test can SIGKILL
#: it at exactly that moment. Unset (always, outside tests) it costs one dict lookup per point.
PAUSE_ENV = "ASSISTANT_TEST_PAUSE_AT"
PAUSE_POINTS = ("before_commit", "before_manifest", "before_rename", "before_swap", "after_swap")

_SCHEMA = [
    # migration 1
    """
    CREATE TABLE documents (
        doc_id TEXT PRIMARY KEY,
        title TEXT NOT NULL,
        source TEXT NOT NULL,
        source_key TEXT NOT NULL,
        content_hash TEXT NOT NULL,
        text TEXT NOT NULL,
        pages TEXT NOT NULL DEFAULT '[]',
        metadata TEXT NOT NULL DEFAULT '{}',
        chunks INTEGER NOT NULL,
        indexed_at TEXT NOT NULL
    );
    CREATE UNIQUE INDEX documents_source_key ON documents(source_key);
    CREATE TABLE chunks (
        id INTEGER PRIMARY KEY,
        doc_id TEXT NOT NULL REFERENCES documents(doc_id),
        ord INTEGER NOT NULL,
        start INTEGER NOT NULL,
        end INTEGER NOT NULL,
        text TEXT NOT NULL,
        page INTEGER,
        first_sentence INTEGER NOT NULL,
        last_sentence INTEGER NOT NULL
    );
    CREATE INDEX chunks_doc ON chunks(doc_id, ord);
    CREATE TABLE sentences (
        doc_id TEXT NOT NULL,
        ord INTEGER NOT NULL,
        start INTEGER NOT NULL,
        end INTEGER NOT NULL,
        embedding BLOB NOT NULL,
        PRIMARY KEY (doc_id, ord)
    ) WITHOUT ROWID;
    CREATE TABLE term_df (term TEXT PRIMARY KEY, df INTEGER NOT NULL) WITHOUT ROWID;
    CREATE VIRTUAL TABLE chunks_fts USING fts5(
        text, content='chunks', content_rowid='id', tokenize='porter unicode61'
    );
    """,
    # migration 2: keyword search over the stems of the one stemmer the rest of the index uses
    # (lexical.stem: sentence frequencies, the posting budget), instead of FTS5's own porter
    """
    DROP TABLE chunks_fts;
    CREATE VIRTUAL TABLE chunks_fts USING fts5(text, content='', tokenize='unicode61');
    INSERT INTO chunks_fts(rowid, text) SELECT id, index_terms(text) FROM chunks;
    """,
]


@dataclass
class Manifest:
    """What an index was built with; checked at load so a mismatch is a clear error."""

    format_version: int
    model: str
    dimension: int
    chunk_size: int
    chunk_overlap_sentences: int
    faiss_index: str = "flat"
    documents: int = 0
    chunks: int = 0
    sentences: int = 0
    created_at: str = ""
    snapshot: str = ""
    #: file name -> SHA-256 of the snapshot's data files, verified at load (absent in older builds)
    checksums: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def read(cls, path: Path, index_dir: Path) -> Manifest:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
            version = data.get("format_version")
            # Checked before the fields: another format may have fields this version lacks.
            if isinstance(version, int) and version != FORMAT_VERSION:
                raise version_error(index_dir, "format", version, FORMAT_VERSION)
            return cls(**data)
        except (OSError, ValueError, TypeError) as exc:
            raise IndexCorruptError(
                f"index manifest {path} is unreadable ({exc}); " + REBUILD_HINT.format(dir=index_dir)
            ) from exc

    def write(self, path: Path) -> None:
        _write_durably(path, json.dumps(asdict(self), indent=2).encode("utf-8"))


@dataclass(frozen=True, slots=True)
class ChunkRow:
    id: int
    doc_id: str
    ord: int
    start: int
    end: int
    text: str
    page: int | None
    first_sentence: int
    last_sentence: int


@dataclass(frozen=True, slots=True)
class SentenceRow:
    doc_id: str
    ord: int
    start: int
    end: int
    embedding: np.ndarray


@dataclass(slots=True)
class NewChunk:
    """A chunk to be written: offsets, text and the ordinals of its first and last sentence."""

    start: int
    end: int
    text: str
    page: int | None
    first_sentence: int
    last_sentence: int


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_durably(path: Path, data: bytes) -> None:
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _fsync_file(path: Path) -> None:
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


#: what a failed snapshot write raises: the file system, SQLite's I/O, FAISS's serialiser
WRITE_FAILURES = (OSError, sqlite3.OperationalError, VectorWriteError)


def _disk_full(exc: BaseException) -> bool:
    """ENOSPC/EDQUOT from the file system, SQLITE_FULL from SQLite (by code, never by wording)."""
    if isinstance(exc, OSError):
        return exc.errno in (errno.ENOSPC, errno.EDQUOT)
    if isinstance(exc, sqlite3.Error):
        return (getattr(exc, "sqlite_errorcode", 0) & 0xFF) == sqlite3.SQLITE_FULL
    return False


def _write_error(exc: BaseException, index_dir: Path) -> IndexWriteError:
    """A clear message for a failed write; a full disk (or quota) says so."""
    reason = "the disk is full" if _disk_full(exc) else f"{type(exc).__name__}: {exc}"
    return IndexWriteError(
        f"could not write the new index snapshot in {index_dir} ({reason}); the index is "
        "unchanged. Free some space (or fix the file system) and run the build again"
    )


def version_error(index_dir: Path, what: str, found: int, expected: int) -> IndexVersionError:
    """What to do about an index another version of the assistant wrote: rebuild or upgrade."""
    rebuild = REBUILD_HINT.format(dir=index_dir)
    if found < expected:
        return IndexVersionError(
            f"the index at {index_dir} was built by an older version of the assistant ({what} "
            f"version {found}, this version reads {expected}); {rebuild} (the documents are "
            "read again from their files)"
        )
    return IndexVersionError(
        f"the index at {index_dir} was built by a newer version of the assistant ({what} "
        f"version {found}, this version reads {expected}); upgrade the assistant, or {rebuild}"
    )


def _pause_for_tests(point: str, index_dir: Path) -> None:
    """Stop at `point` when PAUSE_ENV names it (see PAUSE_ENV); a no-op otherwise."""
    if os.environ.get(PAUSE_ENV) != point:
        return
    (index_dir / f".paused-{point}").touch()
    log.warning("test hook: writer paused at %s", point)
    time.sleep(3600)


class Snapshot:
    """A committed, immutable index generation opened for reading (thread-safe)."""

    def __init__(self, index_dir: Path, name: str) -> None:
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
            self.vectors = VectorIndex.read(self.path)
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
        if version != len(_SCHEMA):
            raise version_error(self.index_dir, "store schema", version, len(_SCHEMA))

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

    # --- retrieval primitives -------------------------------------------------------------

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
            sql += f" AND rowid IN (SELECT id FROM chunks WHERE doc_id IN ({marks}))"
            params.extend(doc_ids)
        sql += " ORDER BY s LIMIT ?"
        params.append(k)
        return [(int(r), -float(s)) for r, s in self._query(sql, params)]

    def chunk_ids_for_docs(self, doc_ids: Sequence[str]) -> list[int]:
        if not doc_ids:
            return []
        marks = ",".join("?" * len(doc_ids))
        return [r for (r,) in self._query(f"SELECT id FROM chunks WHERE doc_id IN ({marks})", doc_ids)]

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
        return [self._doc_dict(row) for row in rows]

    def document(self, doc_id: str) -> dict[str, Any] | None:
        rows = self._query(
            f"SELECT {self._DOC_COLUMNS}, text, pages FROM documents WHERE doc_id = ?", (doc_id,)
        )
        if not rows:
            return None
        info = self._doc_dict(rows[0][:8])
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


def chunk_key(doc_id: str, ord_: int) -> str:
    """The public chunk_id: stable across rebuilds as long as the document is unchanged."""
    return f"{doc_id}#{ord_}"


class IndexStore:
    """Finds, opens and writes snapshots of one index directory."""

    def __init__(self, index_dir: Path, faiss_index: str = "auto", faiss_exact_max: int = 200_000) -> None:
        self.index_dir = Path(index_dir)
        #: settings.faiss_index / faiss_exact_max: which vector index a commit leaves behind
        self.faiss_index = faiss_index
        self.faiss_exact_max = faiss_exact_max

    def current_name(self) -> str | None:
        try:
            name = (self.index_dir / CURRENT_FILE).read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        return name or None

    def exists(self) -> bool:
        return self.current_name() is not None

    def open(self) -> Snapshot:
        name = self.current_name()
        if name is None:
            raise IndexNotFoundError(
                f"no index at {self.index_dir}; build one with "
                f"`assistant index build corpus/ --index-dir {self.index_dir}`"
            )
        return Snapshot(self.index_dir, name)

    @contextlib.contextmanager
    def writer(
        self, manifest: Manifest, fresh: bool = False, lock_timeout: float = 600.0
    ) -> Iterator[SnapshotWriter]:
        """Lock, copy the live snapshot, yield a writer; commit on clean exit, discard on error.

        `manifest` gives the model and chunking settings the new snapshot is built with;
        `fresh` starts from an empty index instead (the way out of a damaged one).
        """
        self.index_dir.mkdir(parents=True, exist_ok=True)
        (self.index_dir / SNAPSHOTS_DIR).mkdir(exist_ok=True)
        with open(self.index_dir / ".lock", "a+") as lock_handle:
            _acquire(lock_handle, lock_timeout, self.index_dir)
            self._remove_abandoned()
            try:
                writer = SnapshotWriter(self, manifest, fresh)
            except BaseException as exc:
                self._remove_abandoned()
                if isinstance(exc, WRITE_FAILURES):
                    raise _write_error(exc, self.index_dir) from exc
                raise
            try:
                yield writer
                if not writer.changed:
                    # Nothing was added or removed: keep serving the live snapshot as it is.
                    writer.discard()
                    return
                writer.commit()
            except BaseException as exc:
                writer.discard()
                if isinstance(exc, WRITE_FAILURES):
                    raise _write_error(exc, self.index_dir) from exc
                raise
            self._collect_garbage()

    def _remove_abandoned(self) -> None:
        """Temporary snapshot folders left by a killed writer (we hold the lock, so none is live)."""
        for path in (self.index_dir / SNAPSHOTS_DIR).glob("*.tmp"):
            log.warning("removing unfinished snapshot %s left by an interrupted build", path.name)
            shutil.rmtree(path, ignore_errors=True)

    def _collect_garbage(self) -> None:
        current = self.current_name()
        names = sorted(
            p.name for p in (self.index_dir / SNAPSHOTS_DIR).iterdir() if not p.name.endswith(".tmp")
        )
        for name in names[:-KEEP_SNAPSHOTS]:
            if name != current:
                shutil.rmtree(self.index_dir / SNAPSHOTS_DIR / name, ignore_errors=True)


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


def _acquire(handle: Any, timeout: float, index_dir: Path) -> None:
    if not lock_exclusively(handle, timeout):
        raise IndexBusyError(
            f"another process is writing the index at {index_dir}; try again when it is done"
        )


def _connect_for_writing(path: Path) -> sqlite3.Connection:
    """A connection that can compute what FTS5 indexes (`index_terms(text)`, see lexical.py)."""
    connection = sqlite3.connect(path)
    connection.create_function("index_terms", 1, index_terms, deterministic=True)
    return connection


class SnapshotWriter:
    """Builds the next snapshot in a temporary folder; nothing is visible until commit()."""

    def __init__(self, store: IndexStore, manifest: Manifest, fresh: bool = False) -> None:
        self.store = store
        self.name = time.strftime("%Y%m%dT%H%M%S") + f"-{uuid.uuid4().hex[:8]}"
        self.tmp_path = store.index_dir / SNAPSHOTS_DIR / f"{self.name}.tmp"
        self.tmp_path.mkdir()
        self.manifest = manifest
        current = None if fresh else store.current_name()
        #: whether this snapshot differs from the live one (a new or fresh index always does)
        self.changed = current is None
        db_path = self.tmp_path / "store.sqlite"
        self.live_manifest: Manifest | None = None
        self.db: sqlite3.Connection
        if current is not None:
            live = Snapshot(store.index_dir, current)
            self.live_manifest = live.manifest
            try:
                self._check_compatible(live.manifest)
                target = sqlite3.connect(db_path)
                live.backup_to(target)
                target.close()
                self.vectors = live.vectors.clone()
            finally:
                live.close()
            self.db = _connect_for_writing(db_path)
        else:
            self.db = _connect_for_writing(db_path)
            for migration in _SCHEMA:
                self.db.executescript(migration)
            self.db.execute(f"PRAGMA user_version = {len(_SCHEMA)}")
            kind = choose_kind(store.faiss_index, 0, store.faiss_exact_max)
            self.vectors = VectorIndex.create(kind, manifest.dimension)
        self.db.execute("PRAGMA journal_mode = OFF")
        self.db.execute("PRAGMA synchronous = OFF")
        self.db.execute("BEGIN")

    def _check_compatible(self, live: Manifest) -> None:
        from assistant.errors import ModelMismatchError

        if live.model != self.manifest.model or live.dimension != self.manifest.dimension:
            raise ModelMismatchError(
                f"the index at {self.store.index_dir} was built with {live.model} "
                f"({live.dimension} dimensions) but the configured model is {self.manifest.model} "
                f"({self.manifest.dimension}); use the same model or build into a new --index-dir"
            )

    # --- reads the builder needs -----------------------------------------------------------

    def documents_by_source(self) -> dict[str, tuple[str, str]]:
        """source_key -> (doc_id, content_hash)."""
        rows = self.db.execute("SELECT source_key, doc_id, content_hash FROM documents")
        return {key: (doc_id, digest) for key, doc_id, digest in rows}

    def all_documents(self) -> list[tuple[str, str]]:
        """(doc_id, source_key) of every document."""
        return list(self.db.execute("SELECT doc_id, source_key FROM documents"))

    def doc_id_taken(self, doc_id: str) -> bool:
        row = self.db.execute("SELECT 1 FROM documents WHERE doc_id = ?", (doc_id,)).fetchone()
        return row is not None

    def chunking_matches(self) -> bool:
        """False when the live snapshot was chunked differently, so every document is redone."""
        live = self.live_manifest
        return live is None or (
            live.chunk_size == self.manifest.chunk_size
            and live.chunk_overlap_sentences == self.manifest.chunk_overlap_sentences
        )

    # --- writes ---------------------------------------------------------------------------------

    def remove_document(self, doc_id: str) -> bool:
        """Delete a document's chunks from FAISS, FTS5, and every table; False if unknown."""
        rows = self.db.execute("SELECT id, text FROM chunks WHERE doc_id = ?", (doc_id,)).fetchall()
        doc = self.db.execute("SELECT text FROM documents WHERE doc_id = ?", (doc_id,)).fetchone()
        if doc is None:
            return False
        self.changed = True
        if rows:
            self.vectors.remove(r[0] for r in rows)
            self.db.executemany(
                "INSERT INTO chunks_fts(chunks_fts, rowid, text) VALUES('delete', ?, index_terms(?))", rows
            )
        spans = self.db.execute("SELECT start, end FROM sentences WHERE doc_id = ?", (doc_id,)).fetchall()
        self._update_term_df([doc[0][s:e] for s, e in spans], -1)
        self.db.execute("DELETE FROM chunks WHERE doc_id = ?", (doc_id,))
        self.db.execute("DELETE FROM sentences WHERE doc_id = ?", (doc_id,))
        self.db.execute("DELETE FROM documents WHERE doc_id = ?", (doc_id,))
        return True

    def add_document(
        self,
        *,
        doc_id: str,
        title: str,
        source: str,
        source_key: str,
        content_hash: str,
        text: str,
        pages: Sequence[tuple[int, int, int]],
        metadata: dict[str, Any],
        sentence_spans: Sequence[tuple[int, int]],
        sentence_vectors: np.ndarray,
        chunks: Sequence[NewChunk],
        chunk_vectors: np.ndarray,
    ) -> None:
        self.changed = True
        self.db.execute(
            "INSERT INTO documents (doc_id, title, source, source_key, content_hash, text, pages,"
            " metadata, chunks, indexed_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (
                doc_id,
                title,
                source,
                source_key,
                content_hash,
                text,
                json.dumps([list(p) for p in pages]),
                json.dumps(metadata),
                len(chunks),
                time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            ),
        )
        half = sentence_vectors.astype(np.float16)
        self.db.executemany(
            "INSERT INTO sentences (doc_id, ord, start, end, embedding) VALUES (?,?,?,?,?)",
            [(doc_id, i, s, e, half[i].tobytes()) for i, (s, e) in enumerate(sentence_spans)],
        )
        self._update_term_df([text[s:e] for s, e in sentence_spans], +1)
        ids: list[int] = []
        for ord_, chunk in enumerate(chunks):
            cursor = self.db.execute(
                "INSERT INTO chunks (doc_id, ord, start, end, text, page, first_sentence,"
                " last_sentence) VALUES (?,?,?,?,?,?,?,?)",
                (
                    doc_id,
                    ord_,
                    chunk.start,
                    chunk.end,
                    chunk.text,
                    chunk.page,
                    chunk.first_sentence,
                    chunk.last_sentence,
                ),
            )
            assert cursor.lastrowid is not None
            ids.append(cursor.lastrowid)
            self.db.execute(
                "INSERT INTO chunks_fts(rowid, text) VALUES (?, index_terms(?))",
                (cursor.lastrowid, chunk.text),
            )
        self.vectors.add(chunk_vectors, ids)

    def _update_term_df(self, sentences: Iterable[str], sign: int) -> None:
        counts: Counter[str] = Counter()
        for sentence in sentences:
            counts.update(set(content_terms(sentence)))
        if sign > 0:
            self.db.executemany(
                "INSERT INTO term_df (term, df) VALUES (?, ?) "
                "ON CONFLICT(term) DO UPDATE SET df = df + excluded.df",
                counts.items(),
            )
        else:
            self.db.executemany(
                "UPDATE term_df SET df = df - ? WHERE term = ?",
                [(n, t) for t, n in counts.items()],
            )
            self.db.execute("DELETE FROM term_df WHERE df <= 0")

    # --- commit / discard -------------------------------------------------------------------

    def commit(self) -> None:
        """Make the snapshot durable, then swap CURRENT to it (the only visible step)."""
        index_dir = self.store.index_dir
        _pause_for_tests("before_commit", index_dir)
        db = self.db
        (docs,) = db.execute("SELECT count(*) FROM documents").fetchone()
        (chunks,) = db.execute("SELECT count(*) FROM chunks").fetchone()
        (sentences,) = db.execute("SELECT count(*) FROM sentences").fetchone()
        db.commit()
        db.execute("PRAGMA journal_mode = DELETE")
        db.close()
        # exact below faiss_exact_max, HNSW above; rebuilt when tombstones pile up
        self.vectors = self.vectors.reorganised(self.store.faiss_index, self.store.faiss_exact_max)
        files = ["store.sqlite", *(p.name for p in self.vectors.write(self.tmp_path))]
        _pause_for_tests("before_manifest", index_dir)
        self.manifest.faiss_index = self.vectors.kind
        self.manifest.checksums = {name: file_checksum(self.tmp_path / name) for name in files}
        self.manifest.documents = docs
        self.manifest.chunks = chunks
        self.manifest.sentences = sentences
        self.manifest.snapshot = self.name
        self.manifest.created_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        self.manifest.format_version = FORMAT_VERSION
        self.manifest.write(self.tmp_path / "manifest.json")
        for name in files:
            _fsync_file(self.tmp_path / name)
        _fsync_dir(self.tmp_path)
        _pause_for_tests("before_rename", index_dir)
        final = index_dir / SNAPSHOTS_DIR / self.name
        os.replace(self.tmp_path, final)
        _fsync_dir(final.parent)
        pointer = index_dir / f"{CURRENT_FILE}.tmp"
        _write_durably(pointer, self.name.encode("utf-8"))
        _pause_for_tests("before_swap", index_dir)
        os.replace(pointer, index_dir / CURRENT_FILE)
        _fsync_dir(index_dir)
        _pause_for_tests("after_swap", index_dir)
        log.info("committed snapshot %s: %d documents, %d chunks", self.name, docs, chunks)

    def discard(self) -> None:
        with contextlib.suppress(Exception):
            self.db.close()
        shutil.rmtree(self.tmp_path, ignore_errors=True)
