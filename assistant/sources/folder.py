"""A folder (or files) on disk as a Source: items are supported files (and the parts of those that
hold parts, an e-mail's attachments), versioned by content hash."""

from __future__ import annotations

import hashlib
import mimetypes
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from assistant.errors import FileTooLargeError
from assistant.fileio import file_checksum
from assistant.ingest import SUPPORTED_EXTENSIONS
from assistant.ingest.parts import holds_parts, list_parts, part_location, read_part, split_part_location
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

    def list_items(self, max_bytes: int) -> Listing:
        """Each supported file, and each indexable part of a file that holds parts (an e-mail's
        attachments), versioned by the file's hash: a changed file re-indexes its parts."""
        files, skipped = find_files(self.paths)
        listing = Listing(skipped=skipped)
        seen: set[str] = set()
        for path in files:
            item_id = str(path.resolve())
            if item_id in seen:
                continue
            seen.add(item_id)
            try:
                version, parts = _version_and_parts(path, max_bytes)
            except OSError as exc:
                listing.skipped.append(SkippedFile(path=str(path), reason=f"cannot read: {exc}"))
                continue
            listing.items.append(SourceItem(item_id, version, path.stem, str(path)))
            listing.items.extend(
                SourceItem(part_location(item_id, key), version, key, part_location(str(path), key))
                for key in parts
            )
        return listing

    def owns(self, item_id: str) -> bool:
        item = Path(split_part_location(item_id)[0])
        return any(item == root or root in item.parents for root in (p.resolve() for p in self.paths))

    def fetch(self, item: SourceItem, max_bytes: int) -> Fetched:
        location, key = split_part_location(item.location)
        path = Path(location)
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
        if key is None:
            return Fetched(data, _media_type(path.name), path.name)
        part = read_part(data, location, key)
        return Fetched(part.data, _media_type(part.name), part.name, part.metadata)


def _version_and_parts(path: Path, max_bytes: int) -> tuple[str, list[str]]:
    """The file's hash and its parts' keys, from one read (a file past `max_bytes` is not parsed)."""
    if not holds_parts(path) or path.stat().st_size > max_bytes:
        return file_checksum(path), []
    data = path.read_bytes()
    return hashlib.sha256(data).hexdigest(), list_parts(data, path)


def _media_type(name: str) -> str:
    return mimetypes.guess_type(name)[0] or "application/octet-stream"
