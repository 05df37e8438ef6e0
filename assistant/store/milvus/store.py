"""An index held in Milvus (Milvus Lite in a file, or a server/cluster at http://host:19530)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

from pymilvus.exceptions import MilvusException

from assistant.errors import ConfigError, IndexCorruptError, IndexNotFoundError
from assistant.store.manifest import Manifest
from assistant.store.milvus.meta import MilvusMeta
from assistant.store.milvus.reader import MilvusView, version_name
from assistant.store.milvus.schema import create_collections, dimension_of, drop_collections, has_sets
from assistant.store.milvus.writer import MilvusWriter

log = logging.getLogger(__name__)


class MilvusStore(MilvusMeta):
    """Finds, opens and writes versions of one index held in Milvus collections (a Store)."""

    # --- Store -----------------------------------------------------------------------------------

    def current_name(self) -> str | None:
        """One small query on `meta` (called per request to pick up new versions)."""
        version = self._live()
        return None if version is None else version_name(version)

    def exists(self) -> bool:
        return self.current_name() is not None

    def open(self, name: str | None = None) -> MilvusView:
        name = name or self.current_name()
        if name is None:
            raise IndexNotFoundError(
                f"no index in Milvus {self.describe()}; build one with "
                "`ASSISTANT_STORE=milvus assistant index build corpus/`"
            )
        version = int(name.removeprefix("v"))
        value = self.get_meta(f"manifest:{version}")
        if value is None:
            raise IndexCorruptError(f"version {version} of the Milvus index {self.describe()} is gone")
        return MilvusView(
            self.client,
            self.prefix,
            version,
            Manifest(**value["manifest"]),
            value["terms_from"],
            has_sets(self.client, self.prefix),
        )

    @contextlib.contextmanager
    def writer(
        self, manifest: Manifest, fresh: bool = False, lock_timeout: float = 600.0
    ) -> Iterator[MilvusWriter]:
        """Take the writer lease, yield a writer; commit on clean exit, discard on error."""
        existing = dimension_of(self.client, self.prefix)
        outdated = existing is not None and not has_sets(self.client, self.prefix)
        if fresh and existing is not None and (existing != manifest.dimension or outdated):
            reason = "they predate document sets" if outdated else "the new model has another dimension"
            log.warning("dropping the Milvus collections %s*: %s", self.prefix, reason)
            drop_collections(self.client, self.prefix)
        elif outdated:
            raise ConfigError(
                f"the Milvus index {self.describe()} was built before document sets; rebuild it "
                "once with `assistant index build --rebuild PATH`"
            )
        create_collections(self.client, self.prefix, manifest.dimension)
        self._acquire(lock_timeout)
        try:
            writer = MilvusWriter(self, manifest, self._live(), fresh)
            try:
                yield writer
                if writer.changed:
                    writer.commit()
                else:
                    writer.discard()
            except BaseException:
                with contextlib.suppress(MilvusException):
                    writer.discard()
                raise
        finally:
            self.client.delete(f"{self.prefix}meta", filter='key == "lock"')
