"""PowerPoint: one passage per slide (its text, then its speaker notes), the slide number as page."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from assistant.ingest.formats.archive import open_archive
from assistant.ingest.formats.pages import join_pages
from assistant.ingest.titles import clean_title, title_from_filename
from assistant.models import LoadedDocument

EXTENSIONS = (".pptx",)


def read(data: bytes, path: Path, max_bytes: int) -> LoadedDocument:
    """A deck; citations carry the slide number where PDFs carry the page number."""
    import pptx

    deck = open_archive(data, "PPTX", "ppt/presentation.xml", max_bytes, pptx.Presentation)
    slide_texts: list[str] = []
    first_title: str | None = None
    for slide in deck.slides:
        title_shape = slide.shapes.title
        if first_title is None and title_shape is not None and title_shape.has_text_frame:
            first_title = clean_title(title_shape.text_frame.text)
        blocks = list(_shape_texts(slide.shapes))
        if slide.has_notes_slide:
            notes = slide.notes_slide.notes_text_frame
            if notes is not None and notes.text.strip():
                blocks.append("Notes: " + notes.text.strip())
        slide_texts.append("\n\n".join(blocks))
    text, pages = join_pages(slide_texts)
    title = clean_title(deck.core_properties.title) or first_title or title_from_filename(path)
    metadata = {"format": "pptx", "slide_count": len(slide_texts)}
    breaks = [start for start, _, _ in pages[1:]]
    return LoadedDocument(
        text=text, title=title, source=str(path), pages=pages, metadata=metadata, passage_breaks=breaks
    )


def _shape_texts(shapes: Iterable[Any]) -> Iterator[str]:
    """Text of every shape in reading order: text frames, table rows, grouped shapes."""
    for shape in shapes:
        if shape.has_text_frame and shape.text_frame.text.strip():
            yield shape.text_frame.text.strip()
        elif getattr(shape, "has_table", False) and shape.has_table:
            for row in shape.table.rows:
                cells = [cell.text.strip() for cell in row.cells if cell.text.strip()]
                if cells:
                    yield "\n".join(cells)
        elif hasattr(shape, "shapes"):  # a group
            yield from _shape_texts(shape.shapes)
