"""What a Milvus store and its writer share: the client, the meta collection, the writer lease."""

from __future__ import annotations

import json
import time
import uuid
import warnings
from typing import Any

from pymilvus import MilvusClient
from pymilvus.exceptions import MilvusException

from assistant.errors import ConfigError, IndexBusyError, IndexCorruptError
from assistant.store.manifest import Manifest
from assistant.store.milvus.reader import STRONG
from assistant.store.milvus.schema import PLACEHOLDER

#: how long a writer's lease lasts without renewal (each added document renews it)
LEASE_SECONDS = 300.0


class MilvusMeta:
    """The connection, the `meta` collection and the writer lease of one Milvus-held index.

    What the store and its writer both need, so that neither imports the other.
    """

    def __init__(self, uri: str, prefix: str = "assistant_") -> None:
        self.uri = uri
        self.prefix = prefix
        try:
            with warnings.catch_warnings():
                # milvus-lite 2.5.1 reads its version through pkg_resources, and setuptools
                # warns about that on every start; nothing for a user to act on
                warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)
                self.client = MilvusClient(uri=uri)
        except MilvusException as exc:
            raise ConfigError(
                f"cannot reach Milvus at {uri} ({exc.message}); start it, or fix ASSISTANT_MILVUS_URI"
            ) from exc
        self._owner = uuid.uuid4().hex
        self._meta_exists = False

    def describe(self) -> str:
        return f"at {self.uri} (collections {self.prefix}*)"

    # --- meta ---------------------------------------------------------------------------------

    def get_meta(self, key: str) -> dict[str, Any] | None:
        name = f"{self.prefix}meta"
        # collections are never dropped under a running store (only a --rebuild with a new
        # model does), so one check suffices and current_name() stays one query per request
        if not self._meta_exists:
            self._meta_exists = self.client.has_collection(name)
            if not self._meta_exists:
                return None
        rows = self.client.query(
            name, filter=f"key == {json.dumps(key)}", output_fields=["value"], consistency_level=STRONG
        )
        return json.loads(rows[0]["value"]) if rows else None

    def put_meta(self, key: str, value: dict[str, Any]) -> None:
        row = {"key": key, "value": json.dumps(value), "placeholder": PLACEHOLDER}
        self.client.upsert(f"{self.prefix}meta", [row])

    def _live(self) -> int | None:
        live = self.get_meta("live")
        return None if live is None else int(live["version"])

    def read_manifest(self, version: int) -> Manifest:
        value = self.get_meta(f"manifest:{version}")
        if value is None:
            # an old version whose manifest was collected: core.py opens the live one instead
            raise IndexCorruptError(f"version {version} of the Milvus index {self.describe()} is gone")
        return Manifest(**value["manifest"])

    def terms_from(self, version: int) -> int:
        value = self.get_meta(f"manifest:{version}")
        return int(value["terms_from"]) if value else 1

    # --- the writer lease -------------------------------------------------------------------------

    def _acquire(self, timeout: float) -> None:
        """One writer at a time across processes and machines. Milvus has no compare-and-set, so
        the lease is written, then read back after a pause: of two writers racing, the later
        upsert wins and the other waits."""
        deadline = time.monotonic() + timeout
        while True:
            lease = self.get_meta("lock")
            if lease is None or lease["owner"] == self._owner or lease["expires"] < time.time():
                self.renew_lease()
                time.sleep(0.2)
                lease = self.get_meta("lock")
                if lease is not None and lease["owner"] == self._owner:
                    return
            if time.monotonic() > deadline:
                raise IndexBusyError(
                    f"another process is writing the Milvus index {self.describe()}; "
                    "try again when it is done"
                )
            time.sleep(0.5)

    def renew_lease(self) -> None:
        self.put_meta("lock", {"owner": self._owner, "expires": time.time() + LEASE_SECONDS})
