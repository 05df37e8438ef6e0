"""DOCX: paragraphs and table rows in document order; the core title or first heading as title."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from assistant.ingest.formats.archive import open_archive
from assistant.ingest.text import normalise_text
from assistant.ingest.titles import MAX_TITLE_CHARS, clean_title, title_from_filename
from assistant.models import LoadedDocument

EXTENSIONS = (".docx",)


def read(data: bytes, path: Path, max_bytes: int) -> LoadedDocument:
    """A Word document (checked as an archive first, so a zip bomb is never inflated)."""
    import docx
    from docx.table import Table

    document = open_archive(data, "DOCX", "word/document.xml", max_bytes, docx.Document)
    blocks: list[str] = []
    heading: str | None = None
    first_paragraph: str | None = None
    for item in document.iter_inner_content():
        if isinstance(item, Table):
            blocks.extend(_docx_table_rows(item))
            continue
        paragraph_text = item.text.strip()
        if not paragraph_text:
            continue
        blocks.append(paragraph_text)
        style = (item.style.name if item.style is not None else "") or ""
        if heading is None and (style.startswith("Heading") or style == "Title"):
            heading = paragraph_text
        if first_paragraph is None:
            first_paragraph = paragraph_text
    text = normalise_text("\n\n".join(blocks))
    core_title = document.core_properties.title
    title = (
        clean_title(core_title)
        or clean_title(heading)
        or (first_paragraph if first_paragraph and len(first_paragraph) <= MAX_TITLE_CHARS else None)
        or title_from_filename(path)
    )
    return LoadedDocument(text=text, title=title, source=str(path), metadata={"format": "docx"})


def _docx_table_rows(table: Any) -> Iterator[str]:
    """One block per row, one line per cell; merged cells (the same cell repeated) once."""
    for row in table.rows:
        seen: set[int] = set()
        lines: list[str] = []
        for cell in row.cells:
            if id(cell._tc) in seen:
                continue
            seen.add(id(cell._tc))
            cell_text = cell.text.strip()
            if cell_text:
                lines.append(cell_text)
        if lines:
            yield "\n".join(lines)
