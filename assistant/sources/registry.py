"""Registered sources and their sync status, kept in `sources.json` beside the index.

The file is small and rewritten whole, atomically (a temp file renamed over it), after each
sync: it holds each source's settings, the web pages' validators for conditional requests,
the last sync's time and counts, and the items that could not be indexed with the reason.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from assistant.errors import ConfigError
from assistant.fileio import fsync_dir, write_durably
from assistant.models import IndexReport, SkippedFile
from assistant.sources.folder import FolderSource
from assistant.sources.protocol import Source
from assistant.sources.web import WebSource

FILE_NAME = "sources.json"


class SourceStatus(BaseModel):
    """One registered source as `sources list` and GET /sources show it."""

    id: str
    kind: str
    location: str
    last_sync: str | None = None
    counts: dict[str, int] = Field(default_factory=dict)
    errors: list[SkippedFile] = Field(default_factory=list)
    config: dict[str, Any] = Field(default_factory=dict)


def make_source(status: SourceStatus) -> Source:
    """The one factory from a stored record to a Source."""
    if status.kind == "web":
        return WebSource.from_json(status.config)
    if status.kind == "folder":
        return FolderSource.of([Path(p) for p in status.config["paths"]])
    raise ConfigError(f"unknown source kind '{status.kind}' in {FILE_NAME}: expected web or folder")


def source_config(source: Source) -> tuple[str, str, dict[str, Any]]:
    """(kind, location, config) to store for `source`."""
    if isinstance(source, WebSource):
        return "web", source.url, source.to_json()
    if isinstance(source, FolderSource):
        return "folder", " ".join(map(str, source.paths)), {"paths": [str(p) for p in source.paths]}
    raise ConfigError(f"cannot register a source of type {type(source).__name__}")


class SourceRegistry:
    """The sources registered for one index."""

    def __init__(self, index_dir: Path) -> None:
        self.path = Path(index_dir) / FILE_NAME

    def load(self) -> list[SourceStatus]:
        if not self.path.exists():
            return []
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return [SourceStatus.model_validate(item) for item in data["sources"]]
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(
                f"{self.path} is damaged ({exc}); fix or delete it and add the sources again"
            ) from exc

    def save(self, sources: list[SourceStatus]) -> None:
        """Write the whole file atomically: a reader sees the old file or the new one."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        payload = json.dumps({"sources": [s.model_dump(mode="json") for s in sources]}, indent=2)
        fd, temp = tempfile.mkstemp(prefix=".sources-", suffix=".json", dir=self.path.parent)
        os.close(fd)
        try:
            write_durably(Path(temp), payload.encode("utf-8"))
            os.replace(temp, self.path)
        finally:
            if os.path.exists(temp):
                os.unlink(temp)
        fsync_dir(self.path.parent)

    def add(self, source: Source) -> SourceStatus:
        kind, location, config = source_config(source)
        sources = self.load()
        if any(s.kind == kind and s.location == location for s in sources):
            raise ConfigError(f"{kind} source {location} is registered already")
        used = {s.id for s in sources}
        number = len(sources) + 1
        while f"{kind}-{number}" in used:
            number += 1
        status = SourceStatus(id=f"{kind}-{number}", kind=kind, location=location, config=config)
        self.save([*sources, status])
        return status

    def record(self, status: SourceStatus, source: Source, report: IndexReport) -> SourceStatus:
        """Store one sync's outcome (and the source's state, e.g. page validators)."""
        _, _, config = source_config(source)
        updated = status.model_copy(
            update={
                "config": config,
                "last_sync": datetime.now(UTC).isoformat(timespec="seconds"),
                "counts": {
                    "added": len(report.added),
                    "replaced": len(report.replaced),
                    "unchanged": len(report.unchanged),
                    "removed": len(report.removed),
                    "errors": len(report.skipped),
                },
                "errors": report.skipped,
            }
        )
        self.save([updated if s.id == status.id else s for s in self.load()])
        return updated
