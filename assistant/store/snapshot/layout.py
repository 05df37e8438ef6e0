"""The embedded store's on-disk layout: folder and file names, and the SQLite schema migrations.

Layout of an index directory::

    CURRENT                 name of the live snapshot (replaced atomically with os.replace)
    snapshots/<name>/       manifest.json, store.sqlite, vectors.faiss  (immutable once committed)
    .lock                   writers hold an exclusive flock while building a new snapshot
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from assistant.store.lexical import index_terms
from assistant.store.protocol import DEFAULT_SET  # noqa: F401  (re-exported)

CURRENT_FILE = "CURRENT"
SNAPSHOTS_DIR = "snapshots"
KEEP_SNAPSHOTS = 3
#: read connections per open snapshot: queries beyond this many at once wait for one
SCHEMA = [
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
    # migration 3: document sets (who may see a document); every existing document is in `default`
    """
    CREATE TABLE document_sets (
        doc_id TEXT NOT NULL REFERENCES documents(doc_id),
        name TEXT NOT NULL,
        PRIMARY KEY (doc_id, name)
    ) WITHOUT ROWID;
    CREATE INDEX document_sets_name ON document_sets(name, doc_id);
    INSERT INTO document_sets(doc_id, name) SELECT doc_id, 'default' FROM documents;
    """,
]
#: the schema version that added document sets (a snapshot one below it is read as all `default`)
SETS_SCHEMA = 3


class IndexFolder:
    """One index directory and the vector-index settings its commits follow.

    What the store and its writer both need, so that neither imports the other.
    """

    def __init__(self, index_dir: Path, faiss_index: str = "auto", faiss_exact_max: int = 200_000) -> None:
        self.index_dir = Path(index_dir)
        #: settings.faiss_index / faiss_exact_max: which vector index a commit leaves behind
        self.faiss_index = faiss_index
        self.faiss_exact_max = faiss_exact_max

    def current_name(self) -> str | None:
        """The live snapshot's name, or None before the first commit."""
        try:
            name = (self.index_dir / CURRENT_FILE).read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        return name or None


def connect_for_writing(path: Path) -> sqlite3.Connection:
    """A connection that can compute what FTS5 indexes (`index_terms(text)`, see lexical.py)."""
    connection = sqlite3.connect(path)
    connection.create_function("index_terms", 1, index_terms, deterministic=True)
    return connection
