"""CSV: one block per row, each value with its column name (the first row is the header)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from assistant.errors import LoadError
from assistant.ingest.formats.tables import MAX_TABLE_TEXT_CHARS, TextBudget, table_blocks
from assistant.ingest.text import decode_bytes, normalise_text
from assistant.ingest.titles import title_from_filename
from assistant.models import LoadedDocument

EXTENSIONS = (".csv",)

# The delimiter is guessed from the opening lines only.
_SNIFF_CHARS = 16 * 1024


def read(data: bytes, path: Path, max_bytes: int) -> LoadedDocument:
    """A CSV file (delimiter , ; tab or |, guessed); a file over the size limit never gets here."""
    text = normalise_text(decode_bytes(data))
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(text[:_SNIFF_CHARS], ",;\t|")
    except csv.Error:
        dialect = csv.excel
    csv.field_size_limit(max(max_bytes, 131072))
    try:
        rows = list(csv.reader(io.StringIO(text), dialect))
        blocks = table_blocks(rows, "CSV", TextBudget(MAX_TABLE_TEXT_CHARS))
    except csv.Error as exc:
        raise LoadError(f"corrupt CSV: {exc}") from exc
    body = normalise_text("\n\n".join(blocks))
    metadata = {"format": "csv", "rows": len(blocks)}
    return LoadedDocument(text=body, title=title_from_filename(path), source=str(path), metadata=metadata)
