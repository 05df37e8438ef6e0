"""Files to `LoadedDocument`s: one small reader per format, one entry point (`load_file`).

Every reader returns text that has gone through `normalise_text`, because citation
offsets index into exactly that text. Any failure, including one inside a parsing
library, surfaces as a `LoadError` whose message says what is wrong with the file.
"""

from __future__ import annotations

import io
import logging
import re
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from assistant.errors import FileTooLargeError, LoadError, UnsupportedFileTypeError
from assistant.ingest.text import decode_bytes, normalise_text
from assistant.models import LoadedDocument

log = logging.getLogger(__name__)

SUPPORTED_EXTENSIONS: frozenset[str] = frozenset(
    {".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx"}
)

# A title longer than this is a paragraph, not a title.
MAX_TITLE_CHARS = 120
# A DOCX (a zip) may not inflate beyond this many times the file-size limit, nor beyond an
# absolute cap: python-docx holds every part in memory, so the cap bounds a zip bomb's memory.
DOCX_INFLATE_FACTOR = 20
MAX_DOCX_INFLATED_BYTES = 200_000_000
# Text extraction from a PDF page is pure Python and slow (~50 kB/s of drawing instructions), so
# a tiny compressed PDF can hold hours of work: cap each page's instructions and the total time.
MAX_PDF_PAGE_CONTENT_BYTES = 1_000_000
PDF_TIME_BUDGET_SECONDS = 60.0

_Reader = Callable[[bytes, Path, int], LoadedDocument]


def check_supported(path: Path) -> None:
    """UnsupportedFileTypeError unless a loader reads this kind of file (by its extension)."""
    extension = path.suffix.lower()
    if extension not in _READERS:
        supported = " ".join(sorted(SUPPORTED_EXTENSIONS))
        raise UnsupportedFileTypeError(
            f"unsupported file type '{extension or path.name}': supported are {supported}"
        )


def load_file(path: Path, max_bytes: int = 50_000_000) -> LoadedDocument:
    """Read one supported file; raise LoadError with the reason when it cannot be used.

    `source` is `str(path)` as given. The size is checked before any parsing.
    """
    check_supported(path)
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise LoadError("not a regular file")
        if size > max_bytes:
            raise FileTooLargeError(f"file too large: {size:,} bytes, the limit is {max_bytes:,}")
        if size == 0:
            raise LoadError("empty file: it contains no text")
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise LoadError("file not found") from exc
    except OSError as exc:
        raise LoadError(f"cannot read file: {exc.strerror or exc}") from exc
    return load_bytes(data, path, max_bytes)


def load_bytes(data: bytes, path: Path, max_bytes: int = 50_000_000) -> LoadedDocument:
    """Parse bytes already read (a source's fetch); `path` names the kind and the source."""
    check_supported(path)
    extension = path.suffix.lower()
    reader = _READERS[extension]
    if len(data) > max_bytes:
        raise FileTooLargeError(f"file too large: {len(data):,} bytes, the limit is {max_bytes:,}")
    if not data:
        raise LoadError("empty file: it contains no text")
    try:
        document = reader(data, path, max_bytes)
    except LoadError:
        raise
    except RecursionError as exc:
        raise LoadError(f"corrupt {extension[1:].upper()} file: structure nested too deeply") from exc
    except Exception as exc:  # a parser's own error must not escape as a crash
        raise LoadError(f"corrupt {extension[1:].upper()} file ({type(exc).__name__}: {exc})") from exc
    if not document.text.strip():
        raise LoadError("empty file: it contains only whitespace, no text")
    author = byline_author(document.text[:BYLINE_SEARCH_CHARS])
    if author:
        document.metadata.setdefault("author", author)
    log.debug("loaded %s: %d chars, title %r", path, len(document.text), document.title)
    return document


# --- titles and bylines -----------------------------------------------------------------

#: a byline is looked for this far into a document
BYLINE_SEARCH_CHARS = 1500
# "By NAME" alone on a line near the top; the name may be a Markdown link ("By [NAME](url)").
_BYLINE = re.compile(
    r"^[ \t]*(?:\*\*|_)?(?:by|By|BY)[ \t]+\[?((?:[A-Z][\w.’'-]*[ \t]+){0,4}[A-Z][\w’'-]*)\]?(?:\([^)\n]*\))?"
    r"(?:\*\*|_)?[ \t]*$",
    re.M,
)


def byline_author(head: str) -> str | None:
    """The author named by a "By NAME" line in a document's opening text, or None.

    The composer names the author when the text says "he" of them (an author bio).
    """
    match = _BYLINE.search(head)
    if match is None:
        return None
    return " ".join(match.group(1).split())


def byline_span(head: str) -> tuple[int, int] | None:
    """Where the "By NAME" line is in a document's opening text (what an authorship answer cites)."""
    match = _BYLINE.search(head)
    return None if match is None else (match.start(1), match.end(1))


def title_from_filename(path: Path) -> str:
    """'pezeshkian-foreign-policy-first-year.txt' -> 'Pezeshkian Foreign Policy First Year'."""
    words = re.split(r"[\s_\-.]+", path.stem)
    title = " ".join(word[:1].upper() + word[1:] for word in words if word)
    return title or path.name


def _first_line_title(text: str) -> str | None:
    """The first non-empty line when it reads as a title: short, standing alone, not a sentence."""
    lines = text.lstrip().split("\n", 2)
    first = lines[0].strip()
    if not first or len(first) > MAX_TITLE_CHARS or not re.search(r"[^\W\d_]", first):
        return None
    if first[-1] in ".,;:":
        return None
    stands_alone = len(lines) == 1 or not lines[1].strip()
    return first if stands_alone else None


def _clean_title(title: str | None) -> str | None:
    if not title:
        return None
    title = " ".join(title.split())
    return title[: MAX_TITLE_CHARS * 2] or None


# --- plain text and Markdown ------------------------------------------------------------


def _read_text(data: bytes, path: Path, max_bytes: int) -> LoadedDocument:
    text = normalise_text(decode_bytes(data))
    title = _first_line_title(text) or title_from_filename(path)
    return LoadedDocument(text=text, title=title, source=str(path), metadata={"format": "text"})


_FENCE = re.compile(r"^\s*(```|~~~)")
_ATX_HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")
_SETEXT_UNDERLINE = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_RULE = re.compile(r"^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$")
_LINK_DEFINITION = re.compile(r"^ {0,3}\[[^\]]+\]:\s*\S+.*$")
_BLOCKQUOTE = re.compile(r"^ {0,3}(?:>[ \t]?)+")
_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\[[^\]]*\])")
_AUTOLINK = re.compile(r"<((?:https?|mailto):[^>\s]+)>")
_CODE_SPAN = re.compile(r"`([^`\n]+)`")
_STRONG = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_EMPHASIS_STAR = re.compile(r"(?<![\w*])\*(?=[^\s*])(.+?)(?<=[^\s*])\*(?![\w*])")
_EMPHASIS_UNDERSCORE = re.compile(r"(?<![\w_])_(?=[^\s_])(.+?)(?<=[^\s_])_(?![\w_])")
_STRIKE = re.compile(r"~~(?=\S)(.+?)(?<=\S)~~")


def _clean_markdown_inline(line: str) -> str:
    line = _IMAGE.sub(r"\1", line)
    line = _LINK.sub(r"\1", line)
    line = _AUTOLINK.sub(r"\1", line)
    line = _CODE_SPAN.sub(r"\1", line)
    line = _STRONG.sub(r"\2", line)
    line = _EMPHASIS_STAR.sub(r"\1", line)
    line = _EMPHASIS_UNDERSCORE.sub(r"\1", line)
    return _STRIKE.sub(r"\1", line)


def markdown_to_text(markdown: str) -> tuple[str, str | None]:
    """Readable text from Markdown and its first level-1 heading (markup removed, code kept)."""
    out: list[str] = []
    title: str | None = None
    in_fence = False
    for line in markdown.split("\n"):
        if _FENCE.match(line):
            in_fence = not in_fence
            continue
        if in_fence:
            out.append(line)
            continue
        setext = _SETEXT_UNDERLINE.match(line)
        if setext and out and out[-1].strip():
            if title is None and setext.group(1)[0] == "=":
                title = out[-1].strip()
            out.append("")
            continue
        if _RULE.match(line) or _LINK_DEFINITION.match(line):
            out.append("")
            continue
        line = _BLOCKQUOTE.sub("", line)
        heading = _ATX_HEADING.match(line)
        if heading:
            line = _clean_markdown_inline(heading.group(2))
            if title is None and len(heading.group(1)) == 1:
                title = line.strip()
            out.append(line)
            continue
        out.append(_clean_markdown_inline(line))
    return "\n".join(out), title


def _read_markdown(data: bytes, path: Path, max_bytes: int) -> LoadedDocument:
    text, heading = markdown_to_text(normalise_text(decode_bytes(data)))
    text = normalise_text(text)
    title = _clean_title(heading) or _first_line_title(text) or title_from_filename(path)
    return LoadedDocument(text=text, title=title, source=str(path), metadata={"format": "markdown"})


# --- HTML -------------------------------------------------------------------------------

_HTML_DROP = ("script", "style", "noscript", "nav", "head", "template", "iframe", "svg", "object")
_HTML_BLOCKS = (
    "address", "article", "aside", "blockquote", "caption", "dd", "details", "div", "dl", "dt",
    "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6",
    "header", "hr", "li", "main", "ol", "p", "pre", "section", "summary", "table", "td", "th",
    "tr", "ul", "body", "html",
)  # fmt: skip
# Private-use characters mark block edges and <br> while BeautifulSoup flattens the tree.
_BLOCK_MARK = "\ue000"
_BREAK_MARK = "\ue001"


def html_to_text(html: str) -> tuple[str, str | None]:
    """Paragraph text from HTML (blocks separated by blank lines) and its <title> or first <h1>."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html.replace(_BLOCK_MARK, "").replace(_BREAK_MARK, ""), "html.parser")
    title_tag = soup.find("title")
    title = title_tag.get_text(" ", strip=True) if title_tag else None
    if not title:
        h1 = soup.find("h1")
        title = h1.get_text(" ", strip=True) if h1 else None
    for tag in soup.find_all(_HTML_DROP):
        tag.decompose()
    for br in soup.find_all("br"):
        br.replace_with(_BREAK_MARK)
    for block in soup.find_all(_HTML_BLOCKS):
        block.insert_before(_BLOCK_MARK)
        block.insert_after(_BLOCK_MARK)
    paragraphs: list[str] = []
    for part in soup.get_text().split(_BLOCK_MARK):
        lines = (" ".join(line.split()) for line in part.split(_BREAK_MARK))
        paragraph = "\n".join(line for line in lines if line)
        if paragraph:
            paragraphs.append(paragraph)
    return "\n\n".join(paragraphs), title


def _read_html(data: bytes, path: Path, max_bytes: int) -> LoadedDocument:
    text, title = html_to_text(decode_bytes(data))
    text = normalise_text(text)
    title = _clean_title(title) or _first_line_title(text) or title_from_filename(path)
    return LoadedDocument(text=text, title=title, source=str(path), metadata={"format": "html"})


# --- PDF --------------------------------------------------------------------------------


def _read_pdf(data: bytes, path: Path, max_bytes: int) -> LoadedDocument:
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
    text, pages = join_pages(page_texts)
    if not text.strip():
        raise LoadError("PDF has no extractable text (a scanned image?): run OCR on it first, then re-add it")
    title = metadata_title or _clean_title(_first_nonempty_line(text)) or title_from_filename(path)
    metadata = {"format": "pdf", "page_count": len(page_texts)}
    return LoadedDocument(text=text, title=title, source=str(path), pages=pages, metadata=metadata)


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
    title = _clean_title(str(raw)) if raw else None
    if title and title.lower().startswith("microsoft word - "):
        title = title[len("microsoft word - ") :].strip() or None
    if title and title.lower() in {"untitled", "untitled document", "title"}:
        return None
    return title


def _first_nonempty_line(text: str) -> str | None:
    first = text.lstrip().split("\n", 1)[0].strip()
    return first if 0 < len(first) <= MAX_TITLE_CHARS else None


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


# --- DOCX -------------------------------------------------------------------------------


def _read_docx(data: bytes, path: Path, max_bytes: int) -> LoadedDocument:
    _check_docx_archive(data, max_bytes)
    import docx
    from docx.table import Table

    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:
        raise LoadError(f"corrupt DOCX: {type(exc).__name__}: {exc}") from exc
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
        _clean_title(core_title)
        or _clean_title(heading)
        or (first_paragraph if first_paragraph and len(first_paragraph) <= MAX_TITLE_CHARS else None)
        or title_from_filename(path)
    )
    return LoadedDocument(text=text, title=title, source=str(path), metadata={"format": "docx"})


def _check_docx_archive(data: bytes, max_bytes: int) -> None:
    """Refuse broken archives and zip bombs before python-docx inflates anything."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise LoadError(f"corrupt DOCX: not a valid zip archive ({exc})") from exc
    if not any(member.filename == "word/document.xml" for member in members):
        raise LoadError("corrupt DOCX: word/document.xml is missing (not a Word document)")
    inflated = sum(member.file_size for member in members)
    limit = min(DOCX_INFLATE_FACTOR * max_bytes, MAX_DOCX_INFLATED_BYTES)
    if inflated > limit:
        raise FileTooLargeError(
            f"DOCX too large: it would decompress to {inflated:,} bytes, the limit is {limit:,}"
        )


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


_READERS: dict[str, _Reader] = {
    ".txt": _read_text,
    ".md": _read_markdown,
    ".markdown": _read_markdown,
    ".html": _read_html,
    ".htm": _read_html,
    ".pdf": _read_pdf,
    ".docx": _read_docx,
}
