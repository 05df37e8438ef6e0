"""EPUB: the chapters in reading (spine) order as paragraph text; title and author from the package."""

from __future__ import annotations

import posixpath
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from assistant.errors import LoadError
from assistant.ingest.formats.archive import check_archive
from assistant.ingest.formats.html import html_to_text
from assistant.ingest.text import decode_bytes, normalise_text
from assistant.ingest.titles import clean_title, title_from_filename
from assistant.models import LoadedDocument

EXTENSIONS = (".epub",)

_CHAPTER_TYPES = frozenset({"application/xhtml+xml", "text/html"})


def read(data: bytes, path: Path, max_bytes: int) -> LoadedDocument:
    """An e-book (checked as an archive first, so a zip bomb is never inflated)."""
    with check_archive(data, "EPUB", "META-INF/container.xml", max_bytes) as archive:
        package_path = _package_path(archive)
        package = _xml(archive, package_path)
        chapters = [
            normalise_text(html_to_text(decode_bytes(archive.read(name)))[0]).strip()
            for name in _spine(package, posixpath.dirname(package_path), set(archive.namelist()))
        ]
    text = "\n\n".join(chapter for chapter in chapters if chapter)
    metadata: dict[str, Any] = {"format": "epub", "chapters": sum(1 for c in chapters if c)}
    creator = _dc(package, "creator")
    if creator:
        metadata["author"] = creator
    title = clean_title(_dc(package, "title")) or title_from_filename(path)
    return LoadedDocument(text=normalise_text(text), title=title, source=str(path), metadata=metadata)


def _xml(archive: zipfile.ZipFile, name: str) -> ET.Element:
    try:
        return ET.fromstring(archive.read(name))
    except KeyError as exc:
        raise LoadError(f"corrupt EPUB: {name} is missing") from exc
    except ET.ParseError as exc:
        raise LoadError(f"corrupt EPUB: {name} is not valid XML ({exc})") from exc


def _package_path(archive: zipfile.ZipFile) -> str:
    """Where the package document (.opf) is, as META-INF/container.xml says."""
    rootfile = _xml(archive, "META-INF/container.xml").find(".//{*}rootfile")
    full_path = rootfile.get("full-path") if rootfile is not None else None
    if not full_path:
        raise LoadError("corrupt EPUB: META-INF/container.xml names no package document")
    return full_path


def _spine(package: ET.Element, base: str, names: set[str]) -> list[str]:
    """The archive names of the chapters, in reading order."""
    manifest = {
        item.get("id"): item
        for item in package.iterfind(".//{*}manifest/{*}item")
        if item.get("media-type") in _CHAPTER_TYPES
    }
    chapters: list[str] = []
    for itemref in package.iterfind(".//{*}spine/{*}itemref"):
        item = manifest.get(itemref.get("idref"))
        href = item.get("href") if item is not None else None
        if not href:
            continue
        name = posixpath.normpath(posixpath.join(base, unquote(href.split("#", 1)[0])))
        if name in names and name not in chapters:
            chapters.append(name)
    if not chapters:
        raise LoadError("corrupt EPUB: its spine lists no readable chapters")
    return chapters


def _dc(package: ET.Element, field: str) -> str | None:
    """A Dublin Core field of the package metadata (title, creator), or None."""
    element = package.find(f".//{{*}}metadata/{{http://purl.org/dc/elements/1.1/}}{field}")
    text = element.text if element is not None else None
    return " ".join(text.split()) if text and text.strip() else None
