"""What an index was built with (model, chunking, counts), checked at load; its format version."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from assistant import fileio
from assistant.errors import IndexCorruptError, IndexVersionError

FORMAT_VERSION = 2
REBUILD_HINT = "rebuild it with `assistant index build --rebuild --index-dir {dir}`"


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

    def chunked_like(self, other: Manifest | None) -> bool:
        """Whether documents chunked under `other` (None: no index yet) fit this manifest."""
        return other is None or (
            other.chunk_size == self.chunk_size
            and other.chunk_overlap_sentences == self.chunk_overlap_sentences
        )

    def write(self, path: Path) -> None:
        fileio.write_durably(path, json.dumps(asdict(self), indent=2).encode("utf-8"))
