"""The dense index of one snapshot: exact search while it is small, HNSW graphs when it is large.

Exact inner-product search scans every vector (about 16 ms per question at 100k chunks,
150 ms at 1M on this machine class); an HNSW graph answers in well under a millisecond at
recall@10 above 0.95. `choose_kind` picks by size (settings.faiss_index, faiss_exact_max)
and `VectorIndex.reorganised` converts an index that has crossed the threshold.

Every kind is wrapped in IndexIDMap2, so FAISS ids are our chunk ids. HNSW cannot remove
vectors, so a removal there leaves a tombstone: the id is kept in `deleted` (saved next to
the FAISS file), filtered out at search time, and the graph is rebuilt without it once
tombstones exceed TOMBSTONE_SHARE of the index.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

import faiss
import numpy as np

log = logging.getLogger(__name__)

#: faiss's type stubs miss much of what it exports (IDMap2 fields, HNSW search parameters)
_faiss: Any = faiss

IndexKind = Literal["flat", "hnsw", "hnsw_sq8"]
#: FAISS hands the serialised index to Python in blocks of this size
WRITE_BLOCK_BYTES = 1 << 20


class VectorWriteError(Exception):
    """FAISS failed while serialising an index (the file system's own errors stay OSError)."""


IndexSetting = Literal["auto", "flat", "hnsw", "hnsw_sq8"]

VECTORS_FILE = "vectors.faiss"
DELETED_FILE = "vectors.deleted.npy"

#: graph degree: 32 is the usual choice for 384-dimensional text embeddings (recall vs. memory)
HNSW_M = 32
#: candidate list while building; higher builds slower and searches better
HNSW_EF_CONSTRUCTION = 80
#: candidate list while searching: recall@10 against exact search was 0.967 at 1M chunks with
#: 128 (0.936 with 64) for 0.6 ms per query (bench/RESULTS.md, scale)
HNSW_EF_SEARCH = 128
#: an index leaves exact search above faiss_exact_max and returns only below this share of it,
#: so an index hovering around the threshold is not converted back and forth
RETURN_TO_EXACT_SHARE = 0.8
#: rebuild an HNSW graph once this share of its vectors are tombstones
TOMBSTONE_SHARE = 0.2
#: a filter (doc_ids) allowing at most this many chunks is searched exactly over those chunks
EXACT_SUBSET_MAX = 50_000
#: filters whose decoded vectors are kept (at most EXACT_SUBSET_MAX x dimension floats each)
SUBSET_CACHE_ENTRIES = 4
_CACHE_LOCK = threading.Lock()


def remember(cache: dict[Any, Any], key: Any, value: Any, max_entries: int) -> None:
    """Store `value` in a small cache of a snapshot, dropping the oldest entry beyond
    `max_entries` (concurrent searches may fill it at once)."""
    with _CACHE_LOCK:
        if len(cache) >= max_entries:
            cache.pop(next(iter(cache)))
        cache[key] = value


def choose_kind(
    setting: IndexSetting | str, live: int, exact_max: int, current: IndexKind | None = None
) -> IndexKind:
    """The index kind for `live` vectors: the setting, or for "auto" exact up to `exact_max`.

    Above it "auto" uses HNSW over full vectors (about 1.9 GB at 1M chunks, within the 4 GB
    budget); "hnsw_sq8" quarters the vector memory at a small cost in recall.
    """
    if setting in ("flat", "hnsw", "hnsw_sq8"):
        return setting
    if setting != "auto":
        raise ValueError(f"faiss_index must be auto, flat, hnsw or hnsw_sq8, got {setting!r}")
    if current in ("hnsw", "hnsw_sq8") and live >= exact_max * RETURN_TO_EXACT_SHARE:
        return current
    return "flat" if live <= exact_max else "hnsw"


def _new_inner(kind: IndexKind, dimension: int) -> Any:
    inner: Any
    if kind == "flat":
        return faiss.IndexFlatIP(dimension)
    if kind == "hnsw":
        inner = faiss.IndexHNSWFlat(dimension, HNSW_M, faiss.METRIC_INNER_PRODUCT)
    elif kind == "hnsw_sq8":
        inner = _faiss.IndexHNSWSQ(
            dimension, _faiss.ScalarQuantizer.QT_8bit, HNSW_M, faiss.METRIC_INNER_PRODUCT
        )
    else:
        raise ValueError(f"unknown index kind {kind!r}")
    inner.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    inner.hnsw.efSearch = HNSW_EF_SEARCH
    return inner


def _kind_of(index: faiss.Index) -> IndexKind:
    inner = faiss.downcast_index(index.index) if isinstance(index, faiss.IndexIDMap2) else index
    if isinstance(inner, faiss.IndexHNSWSQ):
        return "hnsw_sq8"
    if isinstance(inner, faiss.IndexHNSW):
        return "hnsw"
    return "flat"


class VectorIndex:
    """A FAISS index keyed by chunk id, with tombstones where the index cannot delete.

    Tombstones are storage positions, not chunk ids: SQLite may hand a removed chunk's id to
    a new chunk, and the new vector must be found while the old one stays hidden.
    Reads (search) are thread-safe; writes (add, remove, reorganised) happen only on a
    writer's private copy (see `clone`).
    """

    def __init__(self, index: Any, tombstones: Iterable[int] = ()) -> None:
        self.index: Any = index  # an IndexIDMap2
        self.kind: IndexKind = _kind_of(index)
        self.tombstones: set[int] = {int(p) for p in tombstones}
        self._inner: Any = faiss.downcast_index(index.index)
        self._id_map: np.ndarray | None = None
        self._live_selector: Any = None
        # the decoded vectors of the last few filters (a set is asked about again and again)
        self._subsets: dict[bytes, tuple[np.ndarray, np.ndarray]] = {}

    # --- construction and files ------------------------------------------------------------

    @classmethod
    def create(cls, kind: IndexKind, dimension: int) -> VectorIndex:
        return cls(faiss.IndexIDMap2(_new_inner(kind, dimension)))

    @classmethod
    def read(cls, folder: Path, mmap: bool = False) -> VectorIndex:
        """Load `vectors.faiss` (and tombstones) from a snapshot folder.

        `mmap` maps flat vector storage from the file instead of copying it into memory, so
        opening a large index is quick and its pages are shared between processes.
        """
        flags = (faiss.IO_FLAG_MMAP_IFC | faiss.IO_FLAG_READ_ONLY) if mmap else 0
        index = faiss.read_index(str(folder / VECTORS_FILE), flags)
        if not isinstance(index, faiss.IndexIDMap2):
            raise ValueError(f"{folder / VECTORS_FILE} is not keyed by chunk id (IndexIDMap2)")
        path = folder / DELETED_FILE
        return cls(index, np.load(path).tolist() if path.is_file() else ())

    def write(self, folder: Path) -> list[Path]:
        """Write the FAISS file (and tombstones, if any); returns the files written.

        FAISS writes through a Python file, so a full disk arrives as OSError(ENOSPC) with its
        errno instead of FAISS's own RuntimeError text; any other FAISS failure is a
        VectorWriteError.
        """
        written = [folder / VECTORS_FILE]
        with open(written[0], "wb") as handle:
            sink = _faiss.PyCallbackIOWriter(handle.write, WRITE_BLOCK_BYTES)
            try:
                faiss.write_index(self.index, sink)
            except RuntimeError as exc:
                raise VectorWriteError(f"FAISS could not write {written[0]}: {exc}") from exc
            finally:
                del sink  # flushes its last block into the file before it closes
        if self.tombstones:
            written.append(folder / DELETED_FILE)
            np.save(written[1], np.fromiter(sorted(self.tombstones), dtype=np.int64))
        return written

    def clone(self) -> VectorIndex:
        return VectorIndex(faiss.clone_index(self.index), self.tombstones)

    # --- facts -------------------------------------------------------------------------------

    @property
    def dimension(self) -> int:
        return int(self.index.d)

    @property
    def ntotal(self) -> int:
        """Vectors stored, tombstones included."""
        return int(self.index.ntotal)

    @property
    def live_count(self) -> int:
        """Vectors that can be found: what a snapshot's manifest counts as chunks."""
        return self.ntotal - len(self.tombstones)

    def id_map(self) -> np.ndarray:
        """Chunk id of every storage position (tombstones included)."""
        if self._id_map is None or len(self._id_map) != self.ntotal:
            self._id_map = faiss.vector_to_array(self.index.id_map).astype(np.int64)
        return self._id_map

    def live_ids(self) -> np.ndarray:
        ids = self.id_map()
        if not self.tombstones:
            return ids
        return np.delete(ids, np.fromiter(self.tombstones, dtype=np.int64))

    # --- writes ----------------------------------------------------------------------------

    def add(self, vectors: np.ndarray, ids: Sequence[int] | np.ndarray) -> None:
        """Add normalised vectors under chunk ids (an SQ8 index trains on its first batch)."""
        if len(ids) == 0:
            return
        matrix = np.ascontiguousarray(vectors, dtype=np.float32)
        if not self.index.is_trained:
            self.index.train(matrix)
        self.index.add_with_ids(matrix, np.asarray(ids, dtype=np.int64))
        self._id_map = None
        self._subsets.clear()

    def remove(self, ids: Iterable[int]) -> None:
        """Delete chunk ids: at once from an exact index, as tombstones from an HNSW graph."""
        wanted = np.fromiter((int(i) for i in ids), dtype=np.int64)
        if wanted.size == 0:
            return
        self._subsets.clear()
        if self.kind == "flat":
            self.index.remove_ids(wanted)
            self._id_map = None
            return
        positions = np.flatnonzero(np.isin(self.id_map(), wanted))
        self.tombstones.update(positions.tolist())
        self._live_selector = None

    def reorganised(self, setting: IndexSetting | str, exact_max: int) -> VectorIndex:
        """This index, or a rebuilt one when the kind for its size changed or tombstones piled up."""
        kind = choose_kind(setting, self.live_count, exact_max, self.kind)
        too_many_tombstones = len(self.tombstones) > TOMBSTONE_SHARE * max(self.ntotal, 1)
        if kind == self.kind and not too_many_tombstones:
            return self
        return self.rebuilt(kind)

    def rebuilt(self, kind: IndexKind) -> VectorIndex:
        """A new index of `kind` holding the live vectors (from an SQ8 index: their decoded form)."""
        started = time.perf_counter()
        ids = self.id_map()
        live = np.setdiff1d(np.arange(self.ntotal), np.fromiter(self.tombstones, dtype=np.int64))
        fresh = VectorIndex.create(kind, self.dimension)
        if kind == "hnsw_sq8" and live.size:
            fresh.index.train(self._vectors_at(_spread(live, 100_000)))
        batch = 100_000  # bounded memory: never a second full float copy of a large index
        for first in range(0, live.size, batch):
            positions = live[first : first + batch]
            fresh.add(self._vectors_at(positions), ids[positions])
        log.info(
            "rebuilt the vector index as %s: %d vectors (%d tombstones dropped) in %.1f s",
            kind,
            fresh.ntotal,
            len(self.tombstones),
            time.perf_counter() - started,
        )
        return fresh

    def _vectors_at(self, positions: np.ndarray) -> np.ndarray:
        parts = [self._inner.reconstruct_n(start, end - start) for start, end in _runs(positions)]
        if not parts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.ascontiguousarray(np.vstack(parts), dtype=np.float32)

    # --- reads -----------------------------------------------------------------------------

    def search(
        self, query: np.ndarray, k: int, allowed_ids: Sequence[int] | None = None
    ) -> list[tuple[int, float]]:
        """The k nearest live chunks by inner product, best first; `allowed_ids` restricts them."""
        if k <= 0 or self.live_count == 0:
            return []
        vector = np.ascontiguousarray(query, dtype=np.float32).reshape(1, -1)
        if allowed_ids is not None:
            if len(allowed_ids) == 0:
                return []
            if len(allowed_ids) <= EXACT_SUBSET_MAX:
                return self._search_subset(vector, k, allowed_ids)
        k = min(k, self.live_count)
        if self.kind == "flat":
            params = None
            if allowed_ids is not None:
                params = _faiss.SearchParameters()
                params.sel = _faiss.IDSelectorBatch(np.asarray(allowed_ids, np.int64))
            scores, labels = self.index.search(vector, k, params=params)
            return [(int(i), float(s)) for i, s in zip(labels[0], scores[0], strict=True) if i >= 0]
        # HNSW: search the graph by storage position, so tombstones can be told from live copies
        scores, labels = self._inner.search(vector, k, params=self._hnsw_params(allowed_ids))
        ids = self.id_map()
        return [(int(ids[p]), float(s)) for p, s in zip(labels[0], scores[0], strict=True) if p >= 0]

    def _hnsw_params(self, allowed_ids: Sequence[int] | None) -> Any:
        params = _faiss.SearchParametersHNSW()
        params.efSearch = HNSW_EF_SEARCH
        if allowed_ids is not None:
            positions = np.flatnonzero(np.isin(self.id_map(), np.asarray(allowed_ids, dtype=np.int64)))
            if self.tombstones:
                positions = np.setdiff1d(positions, np.fromiter(self.tombstones, dtype=np.int64))
            selector = faiss.IDSelectorBatch(positions)
            # the walk meets mostly filtered-out nodes: widen it with the filter's selectivity
            widen = max(1.0, self.live_count / max(len(positions), 1)) ** 0.5
            params.efSearch = min(1024, int(HNSW_EF_SEARCH * widen))
            params.sel = selector
            params.referenced_selector = selector  # keep it alive as long as the params
        elif self.tombstones:
            if self._live_selector is None:
                dead = _faiss.IDSelectorBatch(np.fromiter(self.tombstones, dtype=np.int64))
                live = _faiss.IDSelectorNot(dead)
                live.referenced_selector = dead
                self._live_selector = live
            params.sel = self._live_selector
        return params

    def _search_subset(
        self, vector: np.ndarray, k: int, allowed_ids: Sequence[int]
    ) -> list[tuple[int, float]]:
        """Exact search over a few allowed chunks: decode their vectors, take inner products."""
        wanted, vectors = self._subset(np.unique(np.asarray(allowed_ids, dtype=np.int64)))
        if wanted.size == 0:
            return []
        scores = vectors @ vector[0]
        top = np.argpartition(-scores, k - 1)[:k] if k < scores.size else np.arange(scores.size)
        order = top[np.argsort(-scores[top], kind="stable")]
        return [(int(wanted[j]), float(scores[j])) for j in order]

    def _subset(self, wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The allowed ids still in the index with their decoded vectors (a few kept)."""
        key = wanted.tobytes()
        found = self._subsets.get(key)
        if found is not None:
            return found
        try:
            vectors = self.index.reconstruct_batch(wanted)
        except RuntimeError:  # an id that is not in the index: keep those that are
            wanted = wanted[np.isin(wanted, self.live_ids())]
            vectors = self.index.reconstruct_batch(wanted) if wanted.size else np.zeros((0, self.dimension))
        remember(self._subsets, key, (wanted, vectors), SUBSET_CACHE_ENTRIES)
        return wanted, vectors


def _runs(positions: np.ndarray) -> list[tuple[int, int]]:
    """Consecutive runs [start, end) of sorted positions, for reconstruct_n."""
    if positions.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(positions) != 1)
    starts = np.concatenate(([positions[0]], positions[breaks + 1]))
    ends = np.concatenate((positions[breaks] + 1, [positions[-1] + 1]))
    return list(zip(starts.tolist(), ends.tolist(), strict=True))


def _spread(positions: np.ndarray, size: int) -> np.ndarray:
    """An even spread of at most `size` positions (the 8-bit quantiser's training sample)."""
    if positions.size <= size:
        return positions
    return np.unique(positions[np.linspace(0, positions.size - 1, size).astype(np.int64)])
