"""Rows kept with their header: what CSV and spreadsheet readers share.

A passage cut out of a table means nothing without its column names, so each row becomes
a block of "Header: value" lines and rows are separated by blank lines.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from assistant.errors import FileTooLargeError

#: a table renders to at most this many characters of text; a bigger one is refused, not cut
MAX_TABLE_TEXT_CHARS = 20_000_000


@dataclass(slots=True)
class TextBudget:
    """Characters a table may still render to (one budget across a workbook's sheets)."""

    limit: int = MAX_TABLE_TEXT_CHARS
    used: int = 0

    def spend(self, chars: int, kind: str) -> None:
        self.used += chars
        if self.used > self.limit:
            raise FileTooLargeError(
                f"{kind} too large: its rows make more than {self.limit:,} characters of text; "
                "split it or index a summary"
            )


def cell_text(value: object) -> str:
    """A cell as one line of text ('' for an empty cell)."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return " ".join(str(value).split())


def table_blocks(rows: Iterable[Sequence[object]], kind: str, budget: TextBudget) -> list[str]:
    """One block per data row ("Header: value" lines); the first non-empty row is the header."""
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
        budget.spend(len(block) + 2, kind)
        blocks.append(block)
    if header is not None and not blocks:
        blocks.append(" | ".join(cell for cell in header if cell))  # a header-only table
    return blocks
