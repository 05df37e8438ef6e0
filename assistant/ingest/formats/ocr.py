"""OCR for PDF pages without a text layer: render with pypdfium2, read with Tesseract.

Tesseract is a Debian package (`tesseract-ocr`), not a Python one; where it is missing,
`ocr_unavailable()` says so and the PDF reader indexes the pages that do have text.
"""

from __future__ import annotations

import functools
import math
import shutil

from assistant.errors import LoadError

#: pages are rendered at this resolution: Tesseract reads body text best at about 300 dpi
OCR_DPI = 300
#: Tesseract's language packs to use (Debian: tesseract-ocr-eng, -deu, ...), joined by "+"
OCR_LANGUAGES = "eng"
#: a page that takes longer than this to read is given up (a huge or pathological image)
OCR_PAGE_TIMEOUT_SECONDS = 120
#: a page is rendered with at most this many pixels (an A4 page at 300 dpi has 8.7 million), so a
#: page that declares itself metres wide costs resolution, not gigabytes of memory
MAX_OCR_PIXELS = 25_000_000


@functools.cache
def ocr_unavailable() -> str | None:
    """Why OCR cannot run here, or None when it can."""
    try:
        import pypdfium2  # noqa: F401
        import pytesseract  # noqa: F401
    except ImportError as exc:
        return f"the Python package {exc.name} is not installed (pip install pypdfium2 pytesseract)"
    if shutil.which("tesseract") is None:
        return "the tesseract program is not installed (apt-get install tesseract-ocr; see README)"
    return None


def ocr_pdf_pages(data: bytes, page_numbers: list[int]) -> dict[int, str]:
    """The recognised text of each 1-based page in `page_numbers` of the PDF in `data`."""
    import pypdfium2 as pdfium
    import pytesseract

    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        raise LoadError(f"corrupt PDF: cannot render it for OCR ({exc})") from exc
    texts: dict[int, str] = {}
    try:
        for number in page_numbers:
            page = pdf[number - 1]
            try:
                image = page.render(scale=_render_scale(*page.get_size())).to_pil()
            finally:
                page.close()
            try:
                texts[number] = pytesseract.image_to_string(
                    image, lang=OCR_LANGUAGES, timeout=OCR_PAGE_TIMEOUT_SECONDS
                )
            except RuntimeError as exc:  # pytesseract's timeout
                raise LoadError(f"OCR of PDF page {number} took too long ({exc})") from exc
            except pytesseract.TesseractError as exc:
                raise LoadError(f"OCR of PDF page {number} failed: {exc.message}") from exc
    finally:
        pdf.close()
    return texts


def _render_scale(width_points: float, height_points: float) -> float:
    """OCR_DPI, lowered where the page would exceed MAX_OCR_PIXELS."""
    scale = OCR_DPI / 72
    pixels = width_points * height_points * scale * scale
    return scale if pixels <= MAX_OCR_PIXELS else scale * math.sqrt(MAX_OCR_PIXELS / pixels)
