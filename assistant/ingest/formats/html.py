"""HTML: paragraph text (blocks separated by blank lines) and the page's title."""

from __future__ import annotations

from pathlib import Path

from assistant.ingest.text import decode_bytes, normalise_text
from assistant.ingest.titles import clean_title, first_line_title, title_from_filename
from assistant.models import LoadedDocument

EXTENSIONS = (".html", ".htm")

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


def read(data: bytes, path: Path, max_bytes: int) -> LoadedDocument:
    """An HTML page; its title is <title>, else the first <h1>, else the file name."""
    text, title = html_to_text(decode_bytes(data))
    text = normalise_text(text)
    title = clean_title(title) or first_line_title(text) or title_from_filename(path)
    return LoadedDocument(text=text, title=title, source=str(path), metadata={"format": "html"})
