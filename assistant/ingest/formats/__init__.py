"""One reader per file format and the one registry of extensions -> reader.

A reader takes the file's bytes, its path (for the title and `source`) and the size limit,
and returns a LoadedDocument whose text has gone through `normalise_text`, because
citation offsets index into exactly that text. Adding a format is adding a module here
and one line below; `SUPPORTED_EXTENSIONS` follows from the registry.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from assistant.ingest.formats import csv, docx, epub, html, mail, markdown, pdf, pptx, text, xlsx
from assistant.models import LoadedDocument

Reader = Callable[[bytes, Path, int], LoadedDocument]

_MODULES: tuple[ModuleType, ...] = (text, markdown, html, pdf, docx, pptx, xlsx, csv, mail, epub)

READERS: dict[str, Reader] = {
    extension: module.read for module in _MODULES for extension in module.EXTENSIONS
}

SUPPORTED_EXTENSIONS: frozenset[str] = frozenset(READERS)


def reader_for(extension: str) -> Reader | None:
    """The reader for a lower-case extension such as '.pdf', or None when none reads it."""
    return READERS.get(extension)


__all__ = ["READERS", "SUPPORTED_EXTENSIONS", "Reader", "reader_for"]
