"""One committed version of a Milvus-held index, read through the visibility filter (a ReadView)."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from pymilvus import AnnSearchRequest, MilvusClient, RRFRanker

from assistant.models import DocumentMeta
from assistant.store.fusion import RRF_K
from assistant.store.lexical import content_terms
from assistant.store.manifest import Manifest
from assistant.store.milvus.schema import SETS_FIELD, TEXT_PART, in_sets, quoted, set_list, visible
from assistant.store.protocol import DEFAULT_SET, ChunkRow, SearchMode, SearchRequest, SentenceRow, chunk_key

# Milvus Lite cannot pin an iterator to a server timestamp, and pymilvus warns on every page;
# the client-side timestamp it falls back to is what Strong consistency reads anyway.
logging.getLogger("pymilvus.orm.iterator").setLevel(logging.ERROR)

#: rows one query returns at most (Milvus caps offset + limit at 16,384)
QUERY_LIMIT = 16_384
STRONG = "Strong"
_CHUNK_FIELDS = ["id", "doc_id", "ord", "start", "end", "text", "page", "first_sentence", "last_sentence"]


def query_all(client: MilvusClient, collection: str, expr: str, fields: list[str]) -> list[dict[str, Any]]:
    """Every row matching `expr` (paged: one query returns at most QUERY_LIMIT rows)."""
    iterator = client.query_iterator(
        collection, batch_size=1000, filter=expr, output_fields=fields, consistency_level=STRONG
    )
    rows: list[dict[str, Any]] = []
    try:
        while batch := iterator.next():
            rows.extend(batch)
    finally:
        iterator.close()
    return rows


def query_rows(client: MilvusClient, collection: str, expr: str, fields: list[str]) -> list[dict[str, Any]]:
    """Like query_all, in one call when the rows fit in one (the usual case)."""
    rows: list[dict[str, Any]] = client.query(
        collection, filter=expr, output_fields=fields, limit=QUERY_LIMIT, consistency_level=STRONG
    )
    return rows if len(rows) < QUERY_LIMIT else query_all(client, collection, expr, fields)


class MilvusView:
    """Version `version` of the index: rows of later writes and tombstoned documents are hidden."""

    def __init__(
        self,
        client: MilvusClient,
        prefix: str,
        version: int,
        manifest: Manifest,
        terms_from: int,
        has_sets: bool = True,
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.version = version
        self.name = version_name(version)
        self.manifest = manifest
        self._terms_expr = f"gen >= {terms_from} and gen <= {version}"
        rows = query_rows(client, f"{prefix}tombstones", f"removed <= {version}", ["doc_key"])
        self._expr = visible(version, (r["doc_key"] for r in rows))
        self._df_cache: dict[str, int] = {}
        self._lock = threading.Lock()
        # collections made before document sets: every document in them is in `default`
        self._has_sets = has_sets

    def _query(
        self, kind: str, expr: str, fields: list[str], limit: int = QUERY_LIMIT
    ) -> list[dict[str, Any]]:
        return self.client.query(
            f"{self.prefix}{kind}",
            filter=f"({expr}) and {self._expr}",
            output_fields=fields,
            limit=limit,
            consistency_level=STRONG,
        )

    def _scope(self, doc_ids: Sequence[str] | None, sets: Sequence[str] | None) -> str | None:
        """The filter of the rows a caller limited to `doc_ids` and `sets` may see (None: no row)."""
        expr = self._expr
        if doc_ids is not None:
            if not doc_ids:
                return None
            expr += f" and doc_id in {quoted(doc_ids)}"
        if sets is not None:
            if not sets:
                return None
            if self._has_sets:
                expr += f" and {in_sets(sets)}"
            elif DEFAULT_SET not in sets:
                return None
        return expr

    # --- search -------------------------------------------------------------------------------

    def search(
        self,
        requests: Sequence[SearchRequest],
        k: int,
        depth: int,
        doc_ids: Sequence[str] | None = None,
        mode: SearchMode = "hybrid",
        sets: Sequence[str] | None = None,
    ) -> list[tuple[int, float]]:
        """Milvus ranks (dense by inner product, keyword by its BM25 function) and fuses with
        its own RRF ranker (k = fusion.RRF_K); one ranking alone keeps its own scores. The
        documents and sets limit is part of each request's filter (exact top k inside it)."""
        expr = self._scope(doc_ids, sets)
        if expr is None:
            return []
        searches: list[AnnSearchRequest] = []
        for vector, text in requests:
            if mode in ("hybrid", "dense") and vector is not None:
                data = [np.asarray(vector, dtype=np.float32).reshape(-1).tolist()]
                searches.append(AnnSearchRequest(data, "vector", {"metric_type": "IP"}, depth, expr=expr))
            # a question of stop words only has nothing to match (and Milvus refuses an empty query)
            if mode in ("hybrid", "keyword") and content_terms(text):
                searches.append(AnnSearchRequest([text], "sparse", {"metric_type": "BM25"}, depth, expr=expr))
        if not searches:
            return []
        collection = f"{self.prefix}chunks"
        if mode == "hybrid" or len(searches) > 1:
            hits = self.client.hybrid_search(
                collection, searches, RRFRanker(RRF_K), limit=k, consistency_level=STRONG
            )[0]
            return [(int(h["id"]), float(h["distance"])) for h in hits]
        only = searches[0]
        hits = self.client.search(
            collection,
            data=only.data,
            anns_field=only.anns_field,
            search_params=only.param,
            limit=k,
            filter=expr,
            consistency_level=STRONG,
        )[0]
        if mode == "dense":
            return [(int(h["id"]), float(h["distance"])) for h in hits]
        return [(int(h["id"]), 1.0 / (RRF_K + r)) for r, h in enumerate(hits, 1)]

    def document_frequencies(self, terms: Iterable[str]) -> dict[str, int]:
        """Sentences holding each stemmed term: the sum of the per-commit deltas up to this
        version (remembered per view, which never changes)."""
        unique = set(terms)
        with self._lock:
            known = {t: self._df_cache[t] for t in unique if t in self._df_cache}
        missing = sorted(unique - known.keys())
        if missing:
            found = dict.fromkeys(missing, 0)
            expr = f"term in {quoted(missing)} and {self._terms_expr}"
            for row in query_rows(self.client, f"{self.prefix}terms", expr, ["term", "df"]):
                found[row["term"]] += int(row["df"])
            with self._lock:
                self._df_cache.update(found)
            known.update(found)
        return {t: n for t, n in known.items() if n > 0}

    # --- chunks and sentences ----------------------------------------------------------------

    def chunks(self, ids: Sequence[int]) -> dict[int, ChunkRow]:
        if not ids:
            return {}
        rows = self._query("chunks", f"id in {[int(i) for i in ids]}", _CHUNK_FIELDS)
        return {int(r["id"]): _chunk_row(r) for r in rows}

    def chunk_containing(self, doc_id: str, start: int, end: int) -> str:
        rows = self._query("chunks", f"doc_id == {json.dumps(doc_id)}", ["ord", "start", "end"])
        rows.sort(key=lambda r: int(r["ord"]))
        for row in rows:
            if row["start"] <= start and row["end"] >= end:
                return chunk_key(doc_id, int(row["ord"]))
        before = [r for r in rows if r["start"] <= start]
        best = max(before, key=lambda r: int(r["start"]), default=None)
        return chunk_key(doc_id, int(best["ord"]) if best else 0)

    def sentences(self, doc_id: str, first: int, last: int) -> list[SentenceRow]:
        rows = self._query(
            "sentences",
            f"doc_id == {json.dumps(doc_id)} and ord >= {int(first)} and ord <= {int(last)}",
            ["doc_id", "ord", "start", "end", "vector"],
        )
        rows.sort(key=lambda r: int(r["ord"]))
        return [
            SentenceRow(
                r["doc_id"],
                int(r["ord"]),
                int(r["start"]),
                int(r["end"]),
                np.asarray(r["vector"], np.float32),
            )
            for r in rows
        ]

    # --- documents ---------------------------------------------------------------------------

    def documents(self) -> list[dict[str, Any]]:
        return sorted(map(_doc_dict, self._document_rows(None, ["content_hash", "info"])), key=_by_id)

    def _document_rows(
        self, sets: Sequence[str] | None, fields: list[str], doc_id: str | None = None
    ) -> list[dict[str, Any]]:
        """The documents rows in any of `sets` (None: all), or document `doc_id`'s, each with
        its sets (`default` for collections made before sets)."""
        expr = self._scope(None if doc_id is None else [doc_id], sets)
        if expr is None:
            return []
        wanted = ["doc_id", *fields] + ([SETS_FIELD] if self._has_sets else [])
        rows = query_all(self.client, f"{self.prefix}documents", expr, wanted)
        for row in rows:
            row[SETS_FIELD] = set_list(row[SETS_FIELD]) if self._has_sets else [DEFAULT_SET]
        return rows

    def document_sets(self) -> dict[str, list[str]]:
        return {r["doc_id"]: r[SETS_FIELD] for r in self._document_rows(None, [])}

    def doc_ids_in_sets(self, sets: Iterable[str]) -> list[str]:
        """The documents in any of `sets` (none for no sets), asked of Milvus by the sets field."""
        return sorted(r["doc_id"] for r in self._document_rows(sorted(set(sets)), []))

    def set_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for row in self._document_rows(None, []):
            for name in row[SETS_FIELD]:
                counts[name] = counts.get(name, 0) + 1
        return dict(sorted(counts.items()))

    def document(self, doc_id: str) -> dict[str, Any] | None:
        rows = self._document_rows(None, ["content_hash", "info"], doc_id)
        if not rows:
            return None
        info = _doc_dict(rows[0])
        parts = self._query("texts", f"doc_id == {json.dumps(doc_id)}", ["part", "text"])
        info["text"] = "".join(p["text"] for p in sorted(parts, key=lambda p: int(p["part"])))
        info["pages"] = [tuple(p) for p in json.loads(rows[0]["info"])["pages"]]
        return info

    def document_meta(self, doc_ids: Iterable[str]) -> dict[str, DocumentMeta]:
        unique = sorted(set(doc_ids))
        if not unique:
            return {}
        rows = self._query("documents", f"doc_id in {quoted(unique)}", ["doc_id", "info"])
        metas: dict[str, DocumentMeta] = {}
        for row in rows:
            info = json.loads(row["info"])
            pages = tuple(tuple(p) for p in info["pages"])
            metas[row["doc_id"]] = DocumentMeta(info["title"], info["source"], pages)
        return metas

    def text_slice(self, doc_id: str, start: int, end: int) -> str:
        if end <= start:
            return ""
        first, last = start // TEXT_PART, (end - 1) // TEXT_PART
        parts = self._query(
            "texts",
            f"doc_id == {json.dumps(doc_id)} and part >= {first} and part <= {last}",
            ["part", "text"],
        )
        text = "".join(p["text"] for p in sorted(parts, key=lambda p: int(p["part"])))
        offset = first * TEXT_PART
        return text[start - offset : end - offset]

    def close(self) -> None:
        """Nothing to release: the client belongs to the store."""


def version_name(version: int) -> str:
    return f"v{version}"


def _chunk_row(row: dict[str, Any]) -> ChunkRow:
    page = int(row["page"])
    return ChunkRow(
        int(row["id"]),
        row["doc_id"],
        int(row["ord"]),
        int(row["start"]),
        int(row["end"]),
        row["text"],
        None if page < 0 else page,
        int(row["first_sentence"]),
        int(row["last_sentence"]),
    )


def _by_id(doc: dict[str, Any]) -> str:
    return str(doc["doc_id"])


def _doc_dict(row: dict[str, Any]) -> dict[str, Any]:
    info = json.loads(row["info"])
    return {
        "doc_id": row["doc_id"],
        "title": info["title"],
        "source": info["source"],
        "chunks": info["chunks"],
        "chars": info["chars"],
        "content_hash": row["content_hash"],
        "indexed_at": info["indexed_at"],
        "metadata": info["metadata"],
        "sets": row[SETS_FIELD],
    }
