"""The embedded store: one index directory of immutable snapshots (the default backend)."""

from __future__ import annotations

import contextlib
import logging
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from assistant.errors import IndexBusyError, IndexNotFoundError
from assistant.fileio import lock_exclusively
from assistant.store.manifest import Manifest
from assistant.store.snapshot.layout import KEEP_SNAPSHOTS, SNAPSHOTS_DIR, IndexFolder
from assistant.store.snapshot.reader import Snapshot
from assistant.store.snapshot.writer import WRITE_FAILURES, SnapshotWriter, write_error

log = logging.getLogger(__name__)


class IndexStore(IndexFolder):
    """Finds, opens and writes snapshots of one index directory."""

    def exists(self) -> bool:
        return self.current_name() is not None

    def open(self, name: str | None = None) -> Snapshot:
        """Snapshot `name` (default: the live one), vectors memory-mapped (shared between the
        processes that serve it); IndexNotFoundError when there is no index."""
        name = name or self.current_name()
        if name is None:
            raise IndexNotFoundError(
                f"no index at {self.index_dir}; build one with "
                f"`assistant index build corpus/ --index-dir {self.index_dir}`"
            )
        return Snapshot(self.index_dir, name, mmap=True)

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
                    raise write_error(exc, self.index_dir) from exc
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
                    raise write_error(exc, self.index_dir) from exc
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


def _acquire(handle: Any, timeout: float, index_dir: Path) -> None:
    if not lock_exclusively(handle, timeout):
        raise IndexBusyError(
            f"another process is writing the index at {index_dir}; try again when it is done"
        )
