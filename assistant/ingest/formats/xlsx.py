"""Excel workbooks: each sheet under its name, each row with the sheet's header (openpyxl, read-only)."""

from __future__ import annotations

from pathlib import Path
from typing import IO, Any

from assistant.ingest.formats.archive import open_archive
from assistant.ingest.formats.tables import MAX_TABLE_TEXT_CHARS, TextBudget, table_blocks
from assistant.ingest.text import normalise_text
from assistant.ingest.titles import clean_title, title_from_filename
from assistant.models import LoadedDocument

EXTENSIONS = (".xlsx",)


def read(data: bytes, path: Path, max_bytes: int) -> LoadedDocument:
    """A workbook: "Sheet: NAME" then its rows; cached values, not formulas, are read."""
    import openpyxl

    def parse(file: IO[bytes]) -> Any:
        return openpyxl.load_workbook(file, read_only=True, data_only=True)

    workbook = open_archive(data, "XLSX", "xl/workbook.xml", max_bytes, parse)
    sections: list[str] = []
    sheets: list[str] = []
    budget = TextBudget(MAX_TABLE_TEXT_CHARS)
    try:
        for sheet in workbook.worksheets:
            blocks = table_blocks(sheet.iter_rows(values_only=True), "XLSX", budget)
            if blocks:
                sheets.append(sheet.title)
                sections.append("\n\n".join([f"Sheet: {sheet.title}", *blocks]))
        title = clean_title(workbook.properties.title) or title_from_filename(path)
    finally:
        workbook.close()
    text = normalise_text("\n\n".join(sections))
    return LoadedDocument(
        text=text, title=title, source=str(path), metadata={"format": "xlsx", "sheets": sheets}
    )
