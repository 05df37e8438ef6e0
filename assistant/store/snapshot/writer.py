"""Builds the next snapshot in a temporary folder; nothing is visible until commit() swaps CURRENT.

A writer copies the live snapshot into a temporary folder, applies its changes there, fsyncs,
renames the folder and finally swaps CURRENT. A crash at any point leaves CURRENT naming a
complete snapshot, so readers see either the old index or the new one, never a mix.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import shutil
import sqlite3
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from assistant import fileio
from assistant.errors import IndexWriteError, ModelMismatchError
from assistant.store.lexical import content_terms
from assistant.store.manifest import FORMAT_VERSION, Manifest
from assistant.store.protocol import NewChunk, set_names
from assistant.store.snapshot.layout import (
    CURRENT_FILE,
    DEFAULT_SET,
    SCHEMA,
    SNAPSHOTS_DIR,
    IndexFolder,
    connect_for_writing,
)
from assistant.store.snapshot.reader import Snapshot
from assistant.store.snapshot.vector_index import VectorIndex, VectorWriteError, choose_kind

log = logging.getLogger(__name__)

#: Test hook for crash tests: with ASSISTANT_TEST_PAUSE_AT=<point> a writer touches
#: `<index_dir>/.paused-<point>` at that step of commit() and sleeps there, so a test can SIGKILL
#: it at exactly that moment. Unset (always, outside tests) it costs one dict lookup per point.
PAUSE_ENV = "ASSISTANT_TEST_PAUSE_AT"
PAUSE_POINTS = ("before_commit", "before_manifest", "before_rename", "before_swap", "after_swap")

#: what a failed snapshot write raises: the file system, SQLite's I/O, FAISS's serialiser
WRITE_FAILURES = (OSError, sqlite3.OperationalError, VectorWriteError)


def _disk_full(exc: BaseException) -> bool:
    """ENOSPC/EDQUOT from the file system, SQLITE_FULL from SQLite (by code, never by wording)."""
    if isinstance(exc, OSError):
        return exc.errno in (errno.ENOSPC, errno.EDQUOT)
    if isinstance(exc, sqlite3.Error):
        return (getattr(exc, "sqlite_errorcode", 0) & 0xFF) == sqlite3.SQLITE_FULL
    return False


def write_error(exc: BaseException, index_dir: Path) -> IndexWriteError:
    """A clear message for a failed write; a full disk (or quota) says so."""
    reason = "the disk is full" if _disk_full(exc) else f"{type(exc).__name__}: {exc}"
    return IndexWriteError(
        f"could not write the new index snapshot in {index_dir} ({reason}); the index is "
        "unchanged. Free some space (or fix the file system) and run the build again"
    )


def _pause_for_tests(point: str, index_dir: Path) -> None:
    """Stop at `point` when PAUSE_ENV names it (see PAUSE_ENV); a no-op otherwise."""
    if os.environ.get(PAUSE_ENV) != point:
        return
    (index_dir / f".paused-{point}").touch()
    log.warning("test hook: writer paused at %s", point)
    time.sleep(3600)


class SnapshotWriter:
    """Builds the next snapshot in a temporary folder; nothing is visible until commit()."""

    def __init__(self, store: IndexFolder, manifest: Manifest, fresh: bool = False) -> None:
        self.store = store
        self.name = time.strftime("%Y%m%dT%H%M%S") + f"-{uuid.uuid4().hex[:8]}"
        self.tmp_path = store.index_dir / SNAPSHOTS_DIR / f"{self.name}.tmp"
        self.tmp_path.mkdir()
        self.manifest = manifest
        current = None if fresh else store.current_name()
        #: whether this snapshot differs from the live one (a new or fresh index always does)
        self.changed = current is None
        #: the sets of documents removed by this writer (a replaced document keeps them)
        self._removed_sets: dict[str, list[str]] = {}
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
            self.db = connect_for_writing(db_path)
            # a snapshot from an older schema gets the migrations it lacks (sets: all `default`)
            (version,) = self.db.execute("PRAGMA user_version").fetchone()
            for migration in SCHEMA[version:]:
                self.db.executescript(migration)
            self.db.execute(f"PRAGMA user_version = {len(SCHEMA)}")
        else:
            self.db = connect_for_writing(db_path)
            for migration in SCHEMA:
                self.db.executescript(migration)
            self.db.execute(f"PRAGMA user_version = {len(SCHEMA)}")
            kind = choose_kind(store.faiss_index, 0, store.faiss_exact_max)
            self.vectors = VectorIndex.create(kind, manifest.dimension)
        self.db.execute("PRAGMA journal_mode = OFF")
        self.db.execute("PRAGMA synchronous = OFF")
        self.db.execute("BEGIN")

    def _check_compatible(self, live: Manifest) -> None:
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
        return self.manifest.chunked_like(self.live_manifest)

    def counts(self) -> tuple[int, int]:
        """(documents, chunks) as they stand in this writer."""
        (documents,) = self.db.execute("SELECT count(*) FROM documents").fetchone()
        (chunks,) = self.db.execute("SELECT count(*) FROM chunks").fetchone()
        return int(documents), int(chunks)

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
        # a replaced document keeps its sets (add_document reads them back)
        self._removed_sets[doc_id] = self._sets_of(doc_id)
        self.db.execute("DELETE FROM document_sets WHERE doc_id = ?", (doc_id,))
        self.db.execute("DELETE FROM documents WHERE doc_id = ?", (doc_id,))
        return True

    def _sets_of(self, doc_id: str) -> list[str]:
        rows = self.db.execute("SELECT name FROM document_sets WHERE doc_id = ? ORDER BY name", (doc_id,))
        return [n for (n,) in rows]

    def set_document_sets(self, doc_id: str, sets: Iterable[str]) -> bool:
        """Replace a document's sets without touching its chunks or vectors; False if unknown."""
        names = set_names(sets)
        if not self.doc_id_taken(doc_id):
            return False
        if self._sets_of(doc_id) == names:
            return True
        self.changed = True
        self.db.execute("DELETE FROM document_sets WHERE doc_id = ?", (doc_id,))
        self.db.executemany(
            "INSERT INTO document_sets(doc_id, name) VALUES (?, ?)", [(doc_id, n) for n in names]
        )
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
        sets: Sequence[str] | None = None,
    ) -> None:
        names = set_names(sets) if sets is not None else self._removed_sets.get(doc_id, [DEFAULT_SET])
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
        self.db.executemany(
            "INSERT INTO document_sets(doc_id, name) VALUES (?, ?)", [(doc_id, n) for n in names]
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
        self.manifest.checksums = {name: fileio.file_checksum(self.tmp_path / name) for name in files}
        self.manifest.documents = docs
        self.manifest.chunks = chunks
        self.manifest.sentences = sentences
        self.manifest.snapshot = self.name
        self.manifest.created_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        self.manifest.format_version = FORMAT_VERSION
        self.manifest.write(self.tmp_path / "manifest.json")
        for name in files:
            fileio.fsync_file(self.tmp_path / name)
        fileio.fsync_dir(self.tmp_path)
        _pause_for_tests("before_rename", index_dir)
        final = index_dir / SNAPSHOTS_DIR / self.name
        os.replace(self.tmp_path, final)
        fileio.fsync_dir(final.parent)
        pointer = index_dir / f"{CURRENT_FILE}.tmp"
        fileio.write_durably(pointer, self.name.encode("utf-8"))
        _pause_for_tests("before_swap", index_dir)
        os.replace(pointer, index_dir / CURRENT_FILE)
        fileio.fsync_dir(index_dir)
        _pause_for_tests("after_swap", index_dir)
        log.info("committed snapshot %s: %d documents, %d chunks", self.name, docs, chunks)

    def discard(self) -> None:
        with contextlib.suppress(Exception):
            self.db.close()
        shutil.rmtree(self.tmp_path, ignore_errors=True)
