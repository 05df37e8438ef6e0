"""Writes version V+1 of a Milvus-held index: rows tagged gen=V+1, tombstones, then one `live` upsert.

Readers filter on the version they opened, so rows written here stay invisible until commit()
upserts the `live` row in `meta`; a writer that dies leaves rows of a version never committed,
which the next writer deletes before it starts.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from assistant.errors import ModelMismatchError
from assistant.store.lexical import content_terms
from assistant.store.manifest import FORMAT_VERSION, Manifest
from assistant.store.milvus.meta import MilvusMeta
from assistant.store.milvus.reader import QUERY_LIMIT, STRONG, query_all, version_name
from assistant.store.milvus.schema import (
    PLACEHOLDER,
    ROW_KINDS,
    SETS_FIELD,
    TEXT_PART,
    quoted,
    set_list,
    set_value,
    visible,
)
from assistant.store.protocol import DEFAULT_SET, NewChunk, set_names

log = logging.getLogger(__name__)

#: rows per insert call (Milvus caps one message at 64 MiB)
INSERT_BATCH = 500
#: a removed document's rows are deleted this long after its removal was committed, so a
#: request still reading an older version finds them
GRACE_SECONDS = 120.0
#: versions whose manifest is kept (older read views cannot be opened any more)
KEEP_VERSIONS = 3
#: the row kinds of one document generation, and those that carry its sets
DOCUMENT_KINDS = ("documents", "texts", "chunks", "sentences")
SET_KINDS = ("documents", "chunks")


@dataclass
class _Doc:
    doc_key: str
    source_key: str
    content_hash: str
    chunks: int
    sets: list[str]


class MilvusWriter:
    """Builds version V+1 next to the live version V (single writer: the store holds the lease)."""

    def __init__(self, store: MilvusMeta, manifest: Manifest, live: int | None, fresh: bool) -> None:
        self.store = store
        self.client = store.client
        self.prefix = store.prefix
        self.manifest = manifest
        self.live_manifest: Manifest | None = None
        self.base = live or 0
        self.version = self.base + 1
        self.terms_from = self.version if fresh or live is None else store.terms_from(live)
        self.changed = live is None or fresh
        if live is not None:
            self.live_manifest = store.read_manifest(live)
            if not fresh:
                self._check_compatible(self.live_manifest)
        self._remove_abandoned()
        rows = query_all(
            self.client,
            f"{self.prefix}documents",
            self._live_expr(),
            ["doc_id", "doc_key", "source_key", "content_hash", "info", SETS_FIELD],
        )
        self.docs = {
            r["doc_id"]: _Doc(
                r["doc_key"],
                r["source_key"],
                r["content_hash"],
                json.loads(r["info"])["chunks"],
                set_list(r[SETS_FIELD]),
            )
            for r in rows
        }
        self.sentence_count = sum(json.loads(r["info"]).get("sentences", 0) for r in rows)
        self.tombstones: set[str] = set()
        self.term_delta: Counter[str] = Counter()
        self._next_chunk = 0
        self._pending: dict[str, list[dict[str, Any]]] = {}
        #: the sets of documents removed by this writer (a replaced document keeps them)
        self._removed_sets: dict[str, list[str]] = {}
        self._fields: dict[str, list[str]] = {}
        if fresh:
            self.tombstones = {d.doc_key for d in self.docs.values()}
            self.docs = {}
            self.sentence_count = 0

    def _live_expr(self) -> str:
        dead = query_all(self.client, f"{self.prefix}tombstones", f"removed <= {self.base}", ["doc_key"])
        return visible(self.base, (r["doc_key"] for r in dead))

    def _check_compatible(self, live: Manifest) -> None:
        if live.model != self.manifest.model or live.dimension != self.manifest.dimension:
            raise ModelMismatchError(
                f"the Milvus index {self.store.describe()} was built with {live.model} "
                f"({live.dimension} dimensions) but the configured model is {self.manifest.model} "
                f"({self.manifest.dimension}); use the same model, another "
                "ASSISTANT_MILVUS_COLLECTION_PREFIX, or rebuild with --rebuild"
            )

    def _remove_abandoned(self) -> None:
        """Rows of a version a killed writer never committed (we hold the lease: none is live)."""
        for kind in ROW_KINDS:
            self.client.delete(f"{self.prefix}{kind}", filter=f"gen > {self.base}")
        self.client.delete(f"{self.prefix}tombstones", filter=f"removed > {self.base}")

    # --- reads the builder needs -----------------------------------------------------------

    def documents_by_source(self) -> dict[str, tuple[str, str]]:
        return {d.source_key: (doc_id, d.content_hash) for doc_id, d in self.docs.items()}

    def all_documents(self) -> list[tuple[str, str]]:
        return [(doc_id, d.source_key) for doc_id, d in self.docs.items()]

    def doc_id_taken(self, doc_id: str) -> bool:
        return doc_id in self.docs

    def set_document_sets(self, doc_id: str, sets: Iterable[str]) -> bool:
        """Replace a document's sets from its stored rows (nothing is re-embedded); False if the
        document is unknown.

        Rows are never updated under a reader, so a document a reader may see gets a new
        generation: its rows copied with the new sets, the old ones tombstoned. One this writer
        added (no reader saw it) has its rows with sets rewritten in place."""
        doc = self.docs.get(doc_id)
        if doc is None:
            return False
        names = set_names(sets)
        if names == doc.sets:
            return True
        self.store.renew_lease()
        self.changed = True
        self._flush()  # rows of this writer must be in Milvus to be read back
        new_key = f"{doc_id}@{self.version}"
        if doc.doc_key == new_key:
            for kind in SET_KINDS:
                self._copy(kind, doc.doc_key, new_key, names, delete=True)
        else:
            for kind in DOCUMENT_KINDS:
                self._copy(kind, doc.doc_key, new_key, names, delete=False)
            self.tombstones.add(doc.doc_key)
        doc.doc_key, doc.sets = new_key, names
        return True

    def _copy(self, kind: str, old_key: str, new_key: str, sets: list[str], delete: bool) -> None:
        """Queue `kind`'s rows of generation `old_key` again as `new_key` in `sets` (`delete`:
        the old rows go first; the same key keeps its primary keys)."""
        collection = f"{self.prefix}{kind}"
        rows = query_all(self.client, collection, f"doc_key == {json.dumps(old_key)}", self._fields_of(kind))
        if delete:
            self.client.delete(collection, filter=f"doc_key == {json.dumps(old_key)}")
        for row in rows:
            row.update(doc_key=new_key, gen=self.version)
            if "pk" in row:
                row["pk"] = new_key + row["pk"][len(old_key) :]
            if kind == "chunks" and not delete:
                row["id"] = (self.version << 32) + self._next_chunk
                self._next_chunk += 1
            if kind in SET_KINDS:
                row[SETS_FIELD] = set_value(sets)
        self._insert(kind, rows)

    def _fields_of(self, kind: str) -> list[str]:
        """The stored fields of `kind` (the BM25 output is derived from the text, never written)."""
        if kind not in self._fields:
            fields = self.client.describe_collection(f"{self.prefix}{kind}")["fields"]
            self._fields[kind] = [f["name"] for f in fields if f["name"] != "sparse"]
        return self._fields[kind]

    def chunking_matches(self) -> bool:
        return self.manifest.chunked_like(self.live_manifest)

    def counts(self) -> tuple[int, int]:
        return len(self.docs), sum(d.chunks for d in self.docs.values())

    # --- writes ---------------------------------------------------------------------------------

    def remove_document(self, doc_id: str) -> bool:
        doc = self.docs.pop(doc_id, None)
        if doc is None:
            return False
        self.changed = True
        self._removed_sets[doc_id] = doc.sets
        self._flush()  # the document may have been added by this writer, its rows still queued
        key = quoted([doc.doc_key])
        parts = query_all(self.client, f"{self.prefix}texts", f"doc_key in {key}", ["part", "text"])
        text = "".join(p["text"] for p in sorted(parts, key=lambda p: int(p["part"])))
        spans = query_all(self.client, f"{self.prefix}sentences", f"doc_key in {key}", ["start", "end"])
        self.sentence_count -= len(spans)
        self._count_terms((text[s["start"] : s["end"]] for s in spans), -1)
        if doc.doc_key.endswith(f"@{self.version}"):
            # added by this writer: no reader ever saw it, so its rows go now
            for kind in ROW_KINDS:
                self.client.delete(f"{self.prefix}{kind}", filter=f"doc_key in {key}")
        else:
            self.tombstones.add(doc.doc_key)
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
        self.store.renew_lease()
        self.changed = True
        doc_key = f"{doc_id}@{self.version}"
        common = {"doc_id": doc_id, "doc_key": doc_key, "gen": self.version}
        info = {
            "title": title,
            "source": source,
            "chunks": len(chunks),
            "sentences": len(sentence_spans),
            "chars": len(text),
            "indexed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "metadata": metadata,
            "pages": [list(p) for p in pages],
        }
        self._insert(
            "documents",
            [
                {
                    **common,
                    "pk": doc_key,
                    "source_key": source_key,
                    "content_hash": content_hash,
                    "info": json.dumps(info),
                    SETS_FIELD: set_value(names),
                    "placeholder": PLACEHOLDER,
                }
            ],
        )
        self._insert(
            "texts",
            [
                {
                    **common,
                    "pk": f"{doc_key}#{n}",
                    "part": n,
                    "text": text[at : at + TEXT_PART],
                    "placeholder": PLACEHOLDER,
                }
                for n, at in enumerate(range(0, max(len(text), 1), TEXT_PART))
            ],
        )
        vectors = np.asarray(sentence_vectors, dtype=np.float32)
        self._insert(
            "sentences",
            [
                {
                    **common,
                    "pk": f"{doc_key}#{i}",
                    "ord": i,
                    "start": s,
                    "end": e,
                    "vector": vectors[i].tolist(),
                }
                for i, (s, e) in enumerate(sentence_spans)
            ],
        )
        dense = np.asarray(chunk_vectors, dtype=np.float32)
        rows = []
        for ord_, chunk in enumerate(chunks):
            rows.append(
                {
                    **common,
                    "id": (self.version << 32) + self._next_chunk,
                    "ord": ord_,
                    "start": chunk.start,
                    "end": chunk.end,
                    "page": -1 if chunk.page is None else chunk.page,
                    "first_sentence": chunk.first_sentence,
                    "last_sentence": chunk.last_sentence,
                    "text": chunk.text,
                    "vector": dense[ord_].tolist(),
                    SETS_FIELD: set_value(names),
                }
            )
            self._next_chunk += 1
        self._insert("chunks", rows)
        self.sentence_count += len(sentence_spans)
        self._count_terms((text[s:e] for s, e in sentence_spans), +1)
        self.docs[doc_id] = _Doc(doc_key, source_key, content_hash, len(chunks), names)

    def _count_terms(self, sentences: Iterable[str], sign: int) -> None:
        for sentence in sentences:
            for term in set(content_terms(sentence)):
                self.term_delta[term] += sign

    def _insert(self, kind: str, rows: list[dict[str, Any]]) -> None:
        """Queue rows; they go to Milvus INSERT_BATCH at a time (one call per document was the
        slow part of a build)."""
        pending = self._pending.setdefault(kind, [])
        pending.extend(rows)
        if len(pending) >= INSERT_BATCH:
            self._flush(kind)

    def _flush(self, *kinds: str) -> None:
        for kind in kinds or list(self._pending):
            rows = self._pending.pop(kind, [])
            for at in range(0, len(rows), INSERT_BATCH):
                self.client.insert(f"{self.prefix}{kind}", rows[at : at + INSERT_BATCH])

    # --- commit / discard -------------------------------------------------------------------

    def commit(self) -> None:
        """Write the term deltas and tombstones, then the version's manifest, then `live`."""
        deltas = [
            {
                "pk": f"{t}@{self.version}",
                "doc_id": "",
                "doc_key": "",
                "gen": self.version,
                "term": t,
                "df": n,
                "placeholder": PLACEHOLDER,
            }
            for t, n in self.term_delta.items()
            if n
        ]
        self._insert("terms", deltas)
        now = time.time()
        self._insert(
            "tombstones",
            [
                {"doc_key": k, "removed": self.version, "removed_at": now, "placeholder": PLACEHOLDER}
                for k in self.tombstones
            ],
        )
        self._flush()
        documents, chunks = self.counts()
        self.manifest.documents = documents
        self.manifest.chunks = chunks
        self.manifest.sentences = self.sentence_count
        self.manifest.faiss_index = "milvus"
        self.manifest.snapshot = version_name(self.version)
        self.manifest.created_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        self.manifest.format_version = FORMAT_VERSION
        value = {"manifest": asdict(self.manifest), "terms_from": self.terms_from}
        self.store.put_meta(f"manifest:{self.version}", value)
        self.store.put_meta("live", {"version": self.version})
        log.info("committed Milvus version %d: %d documents, %d chunks", self.version, documents, chunks)
        self._collect_garbage(now)

    def discard(self) -> None:
        self._pending.clear()
        for kind in ROW_KINDS:
            self.client.delete(f"{self.prefix}{kind}", filter=f"gen >= {self.version}")
        self.client.delete(f"{self.prefix}tombstones", filter=f"removed >= {self.version}")

    def _collect_garbage(self, now: float) -> None:
        """Delete documents removed more than GRACE_SECONDS ago, and old versions' manifests."""
        old = self.client.query(
            f"{self.prefix}tombstones",
            filter=f"removed_at < {now - GRACE_SECONDS}",
            output_fields=["doc_key"],
            limit=QUERY_LIMIT,
            consistency_level=STRONG,
        )
        keys = [r["doc_key"] for r in old]
        if keys:
            for kind in ROW_KINDS:
                self.client.delete(f"{self.prefix}{kind}", filter=f"doc_key in {quoted(keys)}")
            self.client.delete(f"{self.prefix}tombstones", filter=f"doc_key in {quoted(keys)}")
            log.info("deleted the rows of %d documents removed earlier", len(keys))
        stale = [f"manifest:{v}" for v in range(max(1, self.version - 50), self.version - KEEP_VERSIONS + 1)]
        if stale:
            self.client.delete(f"{self.prefix}meta", filter=f"key in {quoted(stale)}")
