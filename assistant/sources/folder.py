"""A folder (or files) on disk as a Source: items are supported files, versioned by content hash."""

from __future__ import annotations

import hashlib
import mimetypes
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from assistant.errors import FileTooLargeError
from assistant.fileio import file_checksum
from assistant.ingest import SUPPORTED_EXTENSIONS
from assistant.models import SkippedFile
from assistant.sources.protocol import Fetched, ItemChangedError, Listing, SourceItem


def find_files(paths: Iterable[Path]) -> tuple[list[Path], list[SkippedFile]]:
    """Expand folders recursively (hidden entries skipped); report unsupported or missing paths."""
    files: list[Path] = []
    skipped: list[SkippedFile] = []
    for root in paths:
        if root.is_dir():
            candidates = sorted(
                p
                for p in root.rglob("*")
                if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts)
            )
        elif root.is_file():
            candidates = [root]
        else:
            skipped.append(SkippedFile(path=str(root), reason="no such file or folder"))
            continue
        for path in candidates:
            if path.suffix.lower() in SUPPORTED_EXTENSIONS:
                files.append(path)
            else:
                supported = ", ".join(sorted(SUPPORTED_EXTENSIONS))
                reason = f"unsupported file type '{path.suffix or '(none)'}' (supported: {supported})"
                skipped.append(SkippedFile(path=str(path), reason=reason))
    return files, skipped


@dataclass(frozen=True, slots=True)
class FolderSource:
    """Files and folders on disk. The version is the SHA-256 of the content (as the store keeps),
    so a touched but unchanged file is skipped and an index built before sources still matches."""

    paths: tuple[Path, ...]

    @classmethod
    def of(cls, paths: Sequence[Path]) -> FolderSource:
        return cls(tuple(Path(p) for p in paths))

    @property
    def name(self) -> str:
        return "folder " + " ".join(str(p) for p in self.paths)

    def list_items(self) -> Listing:
        files, skipped = find_files(self.paths)
        listing = Listing(skipped=skipped)
        seen: set[str] = set()
        for path in files:
            item_id = str(path.resolve())
            if item_id in seen:
                continue
            seen.add(item_id)
            try:
                version = file_checksum(path)
            except OSError as exc:
                listing.skipped.append(SkippedFile(path=str(path), reason=f"cannot read: {exc}"))
                continue
            listing.items.append(SourceItem(item_id, version, path.stem, str(path)))
        return listing

    def owns(self, item_id: str) -> bool:
        item = Path(item_id)
        return any(item == root or root in item.parents for root in (p.resolve() for p in self.paths))

    def fetch(self, item: SourceItem, max_bytes: int) -> Fetched:
        path = Path(item.location)
        try:
            size = path.stat().st_size
            if size > max_bytes:
                raise FileTooLargeError(f"file too large: {size:,} bytes, the limit is {max_bytes:,}")
            data = path.read_bytes()
        except FileNotFoundError as exc:
            raise ItemChangedError("file vanished while it was read") from exc
        except OSError as exc:
            raise ItemChangedError(f"cannot read file: {exc.strerror or exc}") from exc
        if hashlib.sha256(data).hexdigest() != item.version:
            raise ItemChangedError("file changed while it was read (a save in progress)")
        media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return Fetched(data, media_type, path.name)
