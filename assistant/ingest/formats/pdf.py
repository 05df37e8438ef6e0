"""PDF: the text layer of each page, OCR for pages without one, and page ranges for citations."""

from __future__ import annotations

import io
import logging
import time
from pathlib import Path
from typing import Any

from assistant.errors import LoadError
from assistant.ingest.formats.ocr import ocr_pdf_pages, ocr_unavailable
from assistant.ingest.formats.pages import join_pages
from assistant.ingest.titles import clean_title, first_nonempty_line, title_from_filename
from assistant.models import LoadedDocument

log = logging.getLogger(__name__)

EXTENSIONS = (".pdf",)

# Text extraction from a PDF page is pure Python and slow (~50 kB/s of drawing instructions), so
# a tiny compressed PDF can hold hours of work: cap each page's instructions and the total time.
MAX_PDF_PAGE_CONTENT_BYTES = 1_000_000
PDF_TIME_BUDGET_SECONDS = 60.0
#: at most this many pages of one PDF go through OCR (a few seconds each)
MAX_OCR_PAGES = 500


def read(data: bytes, path: Path, max_bytes: int) -> LoadedDocument:
    """A PDF; pages without a text layer are read by OCR when Tesseract is installed."""
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        encrypted = reader.is_encrypted
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, OSError) as exc:
        raise LoadError(f"corrupt PDF: {exc}") from exc
    if encrypted and not _try_empty_password(reader):
        raise LoadError("encrypted PDF: remove the password and re-add it")
    try:
        page_texts = _pdf_page_texts(reader)
        metadata_title = _pdf_metadata_title(reader)
    except LoadError:
        raise
    except RecursionError as exc:
        raise LoadError("corrupt PDF: object structure nested too deeply") from exc
    except Exception as exc:
        raise LoadError(f"corrupt PDF: {type(exc).__name__}: {exc}") from exc
    ocr_pages = _ocr_missing_pages(data, reader, page_texts, encrypted)
    text, pages = join_pages(page_texts)
    if not text.strip():
        why = ocr_unavailable()
        hint = f"OCR is not available: {why}" if why else "OCR found no text in its images"
        raise LoadError(f"PDF has no extractable text (a scanned image?) and {hint}")
    title = metadata_title or clean_title(first_nonempty_line(text)) or title_from_filename(path)
    metadata: dict[str, Any] = {"format": "pdf", "page_count": len(page_texts)}
    if ocr_pages:
        metadata["ocr_pages"] = ocr_pages
    return LoadedDocument(text=text, title=title, source=str(path), pages=pages, metadata=metadata)


def _ocr_missing_pages(data: bytes, reader: Any, page_texts: list[str], encrypted: bool) -> list[int]:
    """Fill in (in place) the pages with no text layer but an image by OCR; return their numbers."""
    missing = [
        number
        for number, text in enumerate(page_texts, start=1)
        if not text.strip() and _draws_images(reader.pages[number - 1])
    ]
    if not missing:
        return []
    why = ocr_unavailable() or ("the PDF is encrypted" if encrypted else None)
    if why:
        log.warning("%d PDF page(s) without a text layer left out: %s", len(missing), why)
        return []
    if len(missing) > MAX_OCR_PAGES:
        raise LoadError(
            f"PDF has {len(missing)} scanned pages (the OCR limit is {MAX_OCR_PAGES}): split it first"
        )
    recognised = ocr_pdf_pages(data, missing)
    found = []
    for number, text in recognised.items():
        if text.strip():
            page_texts[number - 1] = text
            found.append(number)
    return found


def _draws_images(page: Any) -> bool:
    """Whether a page can hold a scan: it has image or form objects, or an inline image."""
    try:
        resources = page.get("/Resources")
        if resources is not None and resources.get_object().get("/XObject"):
            return True
        contents = page.get_contents()
        return contents is not None and b"BI" in contents.get_data()
    except Exception:  # unreadable resources: let OCR decide
        return True


def _pdf_page_texts(reader: Any) -> list[str]:
    """Each page's text, refusing pages and files that would take unbounded time to read."""
    deadline = time.monotonic() + PDF_TIME_BUDGET_SECONDS
    texts: list[str] = []
    for number, page in enumerate(reader.pages, start=1):
        if time.monotonic() > deadline:
            raise LoadError(
                f"PDF takes too long to read: still at page {number} after "
                f"{PDF_TIME_BUDGET_SECONDS:.0f} s; split it or convert it to text first"
            )
        contents = page.get_contents()
        size = len(contents.get_data()) if contents is not None else 0
        if size > MAX_PDF_PAGE_CONTENT_BYTES:
            raise LoadError(
                f"PDF page {number} holds {size:,} bytes of drawing instructions (the limit is "
                f"{MAX_PDF_PAGE_CONTENT_BYTES:,}): a decompression bomb or a drawing, not text"
            )
        texts.append(page.extract_text() or "")
    return texts


def _try_empty_password(reader: Any) -> bool:
    """Owner-password-only PDFs open with an empty user password; those are readable."""
    try:
        return bool(reader.decrypt(""))
    except Exception:  # missing crypto backend or unsupported algorithm: treat as locked
        return False


def _pdf_metadata_title(reader: Any) -> str | None:
    metadata = reader.metadata
    raw = metadata.title if metadata is not None else None
    title = clean_title(str(raw)) if raw else None
    if title and title.lower().startswith("microsoft word - "):
        title = title[len("microsoft word - ") :].strip() or None
    if title and title.lower() in {"untitled", "untitled document", "title"}:
        return None
    return title
