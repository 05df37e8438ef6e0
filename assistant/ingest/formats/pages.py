"""Documents made of pages (PDF pages, slides): joined text and the page range of each part."""

from __future__ import annotations

import logging

from assistant.ingest.text import normalise_text

log = logging.getLogger(__name__)


def join_pages(page_texts: list[str]) -> tuple[str, list[tuple[int, int, int]]]:
    """Join normalised page texts with blank lines; return the text and (start, end, page) ranges.

    A word hyphenated across a page break is rejoined here (the pages are concatenated
    without a separator) so that normalising the joined text again changes nothing and
    the page ranges stay exact.
    """
    parts: list[str] = []
    pages: list[tuple[int, int, int]] = []
    length = 0
    for number, raw in enumerate(page_texts, start=1):
        page = normalise_text(raw).strip()
        if not page:
            continue
        if parts:
            previous = parts[-1]
            if len(previous) >= 2 and previous.endswith("-") and previous[-2].isalpha() and page[0].islower():
                parts[-1] = previous[:-1]
                length -= 1
                start, _, prev_number = pages[-1]
                pages[-1] = (start, length, prev_number)
            else:
                parts.append("\n\n")
                length += 2
        parts.append(page)
        pages.append((length, length + len(page), number))
        length += len(page)
    text = "".join(parts)
    if normalise_text(text) != text:  # cannot happen for normalised pages; keep offsets honest
        log.warning("page join was not stable under normalisation; page ranges dropped")
        return normalise_text(text), []
    return text, pages
