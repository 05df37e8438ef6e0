"""Rows kept with their header: what CSV and spreadsheet readers share.

A passage cut out of a table means nothing without its column names, so each row becomes
a block of "Header: value" lines and rows are separated by blank lines.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from assistant.errors import FileTooLargeError

#: a table renders to at most this many characters of text; a bigger one is refused, not cut
MAX_TABLE_TEXT_CHARS = 20_000_000


def cell_text(value: object) -> str:
    """A cell as one line of text ('' for an empty cell)."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return " ".join(str(value).split())


def table_blocks(rows: Iterable[Sequence[object]], kind: str, budget: list[int]) -> list[str]:
    """One block per data row ("Header: value" lines); the first non-empty row is the header.

    `budget` holds the characters still allowed (shared across a workbook's sheets).
    """
    header: list[str] | None = None
    blocks: list[str] = []
    for row in rows:
        cells = [cell_text(value) for value in row]
        if not any(cells):
            continue
        if header is None:
            header = cells
            continue
        lines = []
        for number, value in enumerate(cells):
            if not value:
                continue
            name = header[number] if number < len(header) and header[number] else f"Column {number + 1}"
            lines.append(f"{name}: {value}")
        block = "\n".join(lines)
        budget[0] -= len(block) + 2
        if budget[0] < 0:
            raise FileTooLargeError(
                f"{kind} too large: its rows make more than {MAX_TABLE_TEXT_CHARS:,} characters of "
                "text; split it or index a summary"
            )
        blocks.append(block)
    if header is not None and not blocks:
        blocks.append(" | ".join(cell for cell in header if cell))  # a header-only table
    return blocks
