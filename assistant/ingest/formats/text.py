"""Plain text: the file's own text, normalised."""

from __future__ import annotations

from pathlib import Path

from assistant.ingest.text import decode_bytes, normalise_text
from assistant.ingest.titles import first_line_title, title_from_filename
from assistant.models import LoadedDocument

EXTENSIONS = (".txt",)


def read(data: bytes, path: Path, max_bytes: int) -> LoadedDocument:
    """A text file; its title is a first line that reads as one, else the file name."""
    text = normalise_text(decode_bytes(data))
    title = first_line_title(text) or title_from_filename(path)
    return LoadedDocument(text=text, title=title, source=str(path), metadata={"format": "text"})
