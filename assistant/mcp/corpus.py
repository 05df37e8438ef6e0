"""Keep MCP indexing inside the configured corpus folders: an agent names paths, never arbitrary ones."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from assistant.indexing import find_files
from assistant.models import SkippedFile


class OutsideCorpusError(ValueError):
    """A path given to the indexing tool lies outside every corpus folder."""


def resolve_in_corpus(path: str, roots: Sequence[Path]) -> Path:
    """The real location of `path` (relative ones are looked up in each corpus folder in turn).

    Symlinks are resolved first, so a link that leads out of the corpus is refused too.
    """
    given = Path(path).expanduser()
    candidates = [given] if given.is_absolute() else [root / given for root in roots]
    for candidate in candidates:
        real = candidate.resolve()
        if not real.exists():
            continue
        if not any(real.is_relative_to(root.resolve()) for root in roots):
            break
        return real
    folders = ", ".join(str(root) for root in roots)
    if any(candidate.resolve().exists() for candidate in candidates):
        raise OutsideCorpusError(f"'{path}' is outside the corpus folders ({folders}); only they are indexed")
    raise OutsideCorpusError(f"'{path}' does not exist in the corpus folders ({folders})")


def corpus_files(paths: Sequence[Path], roots: Sequence[Path]) -> tuple[list[Path], list[SkippedFile]]:
    """The supported files under `paths` whose real location is inside a corpus folder."""
    found, skipped = find_files(paths)
    real_roots = [root.resolve() for root in roots]
    files = []
    for file in found:
        if any(file.resolve().is_relative_to(root) for root in real_roots):
            files.append(file)
        else:
            skipped.append(SkippedFile(path=str(file), reason="links outside the corpus folders"))
    return files, skipped
