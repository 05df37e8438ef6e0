"""load_file on real files of every supported format, and every reason a file is refused."""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

import docx
import pytest
from pypdf import PdfReader, PdfWriter

from assistant.errors import LoadError
from assistant.ingest import SUPPORTED_EXTENSIONS, load_file, normalise_text
from tests.conftest import CORPUS_DIR


def _pdf_string(text: str) -> str:
    return "(" + text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ")"


def write_pdf(path: Path, pages: list[list[str]], title: str | None = None) -> Path:
    """A minimal but valid PDF: one Helvetica text line per entry, one page per list."""
    objects: list[bytes] = []
    page_ids = [4 + 2 * index for index in range(len(pages))]
    kids = " ".join(f"{page_id} 0 R" for page_id in page_ids)
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>".encode())
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    for page_id, lines in zip(page_ids, pages, strict=True):
        ops = ["BT", "/F1 12 Tf", "72 720 Td", "14 TL"]
        ops += [f"{_pdf_string(line)} Tj T*" for line in lines]
        ops.append("ET")
        stream = "\n".join(ops).encode("latin-1") if lines else b""
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            f"/Resources << /Font << /F1 3 0 R >> >> /Contents {page_id + 1} 0 R >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    if title is not None:
        objects.append(f"<< /Title {_pdf_string(title)} >>".encode("latin-1"))
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    info = f" /Info {len(objects)} 0 R" if title is not None else ""
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R{info} >>\n".encode()
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    path.write_bytes(bytes(out))
    return path


# --- plain text and the sample corpus ----------------------------------------------------


def test_corpus_titles() -> None:
    pezeshkian = load_file(CORPUS_DIR / "pezeshkian-foreign-policy-first-year.txt")
    zarif = load_file(CORPUS_DIR / "zarif-how-iran-sees-the-path-to-peace.txt")
    assert pezeshkian.title == "Pezeshkian Foreign Policy First Year"
    assert zarif.title == "How Iran Sees the Path to Peace"
    assert pezeshkian.source == str(CORPUS_DIR / "pezeshkian-foreign-policy-first-year.txt")
    assert pezeshkian.metadata["format"] == "text"
    assert pezeshkian.pages == []


def test_corpus_text_is_the_file_text_with_only_the_broken_word_repaired() -> None:
    path = CORPUS_DIR / "pezeshkian-foreign-policy-first-year.txt"
    raw = path.read_text(encoding="utf-8")
    document = load_file(path)
    assert "the need to build a regional alliance" in document.text
    assert document.text == raw.replace("re-\n\ngional", "regional")
    zarif = CORPUS_DIR / "zarif-how-iran-sees-the-path-to-peace.txt"
    assert load_file(zarif).text == zarif.read_text(encoding="utf-8")


def test_text_file_crlf_cp1252_and_title_line(tmp_path: Path) -> None:
    path = tmp_path / "notes_on-talks.txt"
    path.write_bytes("Talks “Resume”\r\n\r\nThe envoy said – again – no.\r\n".encode("cp1252"))
    document = load_file(path)
    assert document.text == "Talks “Resume”\n\nThe envoy said – again – no.\n"
    assert document.title == "Talks “Resume”"


@pytest.mark.parametrize(
    "content",
    [
        "This first line is a sentence that ends with a period.\n\nMore text.",
        "A first line that runs straight\ninto a second line of the same paragraph.",
        "x" * 200,
    ],
)
def test_text_file_without_a_title_line_uses_the_file_name(tmp_path: Path, content: str) -> None:
    path = tmp_path / "regional_security-review.txt"
    path.write_text(content, encoding="utf-8")
    assert load_file(path).title == "Regional Security Review"


# --- Markdown and HTML -----------------------------------------------------------------


def test_markdown_is_cleaned_to_readable_text(tmp_path: Path) -> None:
    path = tmp_path / "readme.md"
    path.write_text(
        "# The *Helsinki* Process\n\n"
        "Read **the [final act](https://example.org/act)** and `Article 8`.\n\n"
        "> Quoted _line_ here.\n\n"
        "```python\nprint('kept')  # *not* emphasis\n```\n\n"
        "## Next steps\n\n- one\n- two\n\n---\n\n[ref]: https://example.org\n",
        encoding="utf-8",
    )
    document = load_file(path)
    assert document.title == "The Helsinki Process"
    assert document.metadata["format"] == "markdown"
    text = document.text
    assert "Read the final act and Article 8." in text
    assert "Quoted line here." in text
    assert "print('kept')  # *not* emphasis" in text
    assert "Next steps" in text and "- one\n- two" in text
    for markup in ("#", "**", "](", "```", ">", "https://example.org"):
        assert markup not in text.replace("# *not*", "")


def test_markdown_setext_title_and_file_name_fallback(tmp_path: Path) -> None:
    setext = tmp_path / "a.markdown"
    setext.write_text("Big Title\n=========\n\nBody text here.\n", encoding="utf-8")
    assert load_file(setext).title == "Big Title"
    plain = tmp_path / "meeting-minutes.md"
    plain.write_text("Only a sentence of body text, and nothing more.\n", encoding="utf-8")
    assert load_file(plain).title == "Meeting Minutes"


def test_html_drops_scripts_and_keeps_paragraphs(tmp_path: Path) -> None:
    path = tmp_path / "page.html"
    path.write_text(
        "<!doctype html><html><head><title>Gulf  Security &amp; Talks</title>"
        "<style>p { color: red }</style></head><body>"
        "<nav>Home | About</nav><script>var secret = 1;</script>"
        "<h1>Heading One</h1><p>First   paragraph\n spans lines.</p>"
        "<div>Second<br>line two</div><!-- a comment --><noscript>enable js</noscript>"
        "<ul><li>item one</li><li>item two</li></ul></body></html>",
        encoding="utf-8",
    )
    document = load_file(path)
    assert document.title == "Gulf Security & Talks"
    assert document.text == (
        "Heading One\n\nFirst paragraph spans lines.\n\nSecond\nline two\n\nitem one\n\nitem two"
    )
    assert document.metadata["format"] == "html"


def test_html_title_falls_back_to_first_h1(tmp_path: Path) -> None:
    path = tmp_path / "page.htm"
    path.write_text("<body><p>intro</p><h1>The Real Title</h1><p>Text.</p></body>", "utf-8")
    assert load_file(path).title == "The Real Title"


# --- PDF ---------------------------------------------------------------------------------


def test_pdf_pages_and_metadata_title(tmp_path: Path) -> None:
    path = write_pdf(
        tmp_path / "report.pdf",
        [["First page line.", "It ends with a re-"], [], ["gional plan (draft)."]],
        title="Regional Plan",
    )
    document = load_file(path)
    assert document.title == "Regional Plan"
    assert document.metadata == {"format": "pdf", "page_count": 3}
    assert "a regional plan (draft)." in document.text
    assert normalise_text(document.text) == document.text
    (s1, e1, p1), (s2, e2, p2) = document.pages
    assert (p1, p2) == (1, 3)  # the empty page 2 has no range
    assert document.text[s1:e1].startswith("First page line.")
    assert document.text[s2:e2] == "gional plan (draft)."
    assert e1 == s2  # the broken word is rejoined across the page break


def test_pdf_without_metadata_title_uses_first_line(tmp_path: Path) -> None:
    path = write_pdf(tmp_path / "x.pdf", [["Annual Review", "Body text."], ["Page two."]])
    document = load_file(path)
    assert document.title == "Annual Review"
    (_, end1, _), (start2, _, _) = document.pages
    assert document.text[end1:start2] == "\n\n"


def test_encrypted_pdf_is_refused(tmp_path: Path) -> None:
    plain = write_pdf(tmp_path / "plain.pdf", [["Secret text."]])
    writer = PdfWriter(clone_from=PdfReader(plain))
    writer.encrypt(user_password="hunter2", owner_password="owner")
    locked = tmp_path / "locked.pdf"
    with locked.open("wb") as handle:
        writer.write(handle)
    with pytest.raises(LoadError, match="encrypted PDF: remove the password and re-add it"):
        load_file(locked)


def test_pdf_with_owner_password_only_is_read(tmp_path: Path) -> None:
    plain = write_pdf(tmp_path / "plain.pdf", [["Open text."]])
    writer = PdfWriter(clone_from=PdfReader(plain))
    writer.encrypt(user_password="", owner_password="owner")
    restricted = tmp_path / "restricted.pdf"
    with restricted.open("wb") as handle:
        writer.write(handle)
    assert "Open text." in load_file(restricted).text


def test_scanned_pdf_without_text_is_refused(tmp_path: Path) -> None:
    path = write_pdf(tmp_path / "scan.pdf", [[], []])
    with pytest.raises(LoadError, match="no extractable text"):
        load_file(path)


@pytest.mark.parametrize(
    "data",
    [b"%PDF-1.4\nthis is not a pdf at all\n%%EOF\n", b"garbage bytes", b"%PDF-1.7\n" + b"[" * 5000],
)
def test_corrupt_pdf_is_refused(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "broken.pdf"
    path.write_bytes(data)
    with pytest.raises(LoadError, match="corrupt PDF"):
        load_file(path)


# --- DOCX --------------------------------------------------------------------------------


def _make_docx(path: Path, core_title: str = "") -> Path:
    document = docx.Document()
    document.core_properties.title = core_title
    document.add_paragraph("Memo", style="Heading 1")
    document.add_paragraph("The first paragraph says hello.")
    document.add_paragraph("")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text = "Country"
    table.cell(0, 1).text = "Capital"
    table.cell(1, 0).text = "Iran"
    table.cell(1, 1).text = "Tehran"
    document.add_paragraph("After the table.")
    document.save(str(path))
    return path


def test_docx_paragraphs_tables_and_heading_title(tmp_path: Path) -> None:
    document = load_file(_make_docx(tmp_path / "memo.docx"))
    assert document.title == "Memo"
    assert document.text == (
        "Memo\n\nThe first paragraph says hello.\n\nCountry\nCapital\n\nIran\nTehran\n\nAfter the table."
    )
    assert document.metadata["format"] == "docx"


def test_docx_core_title_wins(tmp_path: Path) -> None:
    document = load_file(_make_docx(tmp_path / "memo.docx", core_title="Official Memo"))
    assert document.title == "Official Memo"


def test_corrupt_docx_is_refused(tmp_path: Path) -> None:
    not_zip = tmp_path / "a.docx"
    not_zip.write_bytes(b"this is not a zip archive")
    with pytest.raises(LoadError, match="corrupt DOCX: not a valid zip"):
        load_file(not_zip)
    other_zip = tmp_path / "b.docx"
    with zipfile.ZipFile(other_zip, "w") as archive:
        archive.writestr("hello.txt", "hi")
    with pytest.raises(LoadError, match=r"corrupt DOCX: word/document\.xml is missing"):
        load_file(other_zip)
    bad_xml = tmp_path / "c.docx"
    good = _make_docx(tmp_path / "good.docx")
    with zipfile.ZipFile(good) as source, zipfile.ZipFile(bad_xml, "w") as target:
        for item in source.infolist():
            data = source.read(item)
            target.writestr(item, b"<w:document><broken" if "document.xml" in item.filename else data)
    with pytest.raises(LoadError, match="corrupt DOCX"):
        load_file(bad_xml)


def test_docx_that_would_inflate_too_far_is_refused(tmp_path: Path) -> None:
    path = _make_docx(tmp_path / "bomb.docx")
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("word/media/zeros.bin", b"\0" * 5_000_000)
    max_bytes = path.stat().st_size + 1000
    assert 20 * max_bytes < 5_000_000
    with pytest.raises(LoadError, match="DOCX too large: it would decompress"):
        load_file(path, max_bytes=max_bytes)
    with pytest.raises(LoadError, match=r"DOCX refused as a zip bomb: word/media/zeros\.bin inflates"):
        load_file(path)  # under the default limit, the ratio alone gives it away


# --- refusals common to every format -----------------------------------------------------


def test_supported_extensions() -> None:
    expected = {".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx"}
    expected |= {".pptx", ".xlsx", ".csv", ".eml", ".mbox", ".epub"}
    assert expected == SUPPORTED_EXTENSIONS


@pytest.mark.parametrize("name", ["image.png", "archive.tar.gz", "Makefile"])
def test_unsupported_extension_names_the_supported_ones(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_text("text", encoding="utf-8")
    with pytest.raises(LoadError, match=r"unsupported file type .*supported are .*\.docx.*\.txt"):
        load_file(path)


def test_uppercase_extension_is_supported(tmp_path: Path) -> None:
    path = tmp_path / "LOUD.TXT"
    path.write_text("Hello there.", encoding="utf-8")
    assert load_file(path).text == "Hello there."


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("empty.txt", b"", "empty file"),
        ("blank.md", b"  \n\t\r\n  ", "only whitespace"),
        ("blank.html", b"<html><body><script>x()</script>  </body></html>", "only whitespace"),
        ("image.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary file, not text"),
    ],
)
def test_unusable_content_is_refused(tmp_path: Path, name: str, data: bytes, reason: str) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(LoadError, match=reason):
        load_file(path)


def test_size_limit_is_checked_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    path.write_text("word " * 1000, encoding="utf-8")
    with pytest.raises(LoadError, match="file too large: 5,000 bytes, the limit is 4,999"):
        load_file(path, max_bytes=4999)
    assert load_file(path, max_bytes=5000).text.startswith("word")


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(LoadError, match="file not found"):
        load_file(tmp_path / "missing.txt")
    folder = tmp_path / "folder.txt"
    folder.mkdir()
    with pytest.raises(LoadError, match="not a regular file"):
        load_file(folder)


def test_deeply_nested_pdf_is_refused_not_crashed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Write raw content-stream operands: an array nested 50,000 levels deep.
    monkeypatch.setattr(sys.modules[__name__], "_pdf_string", lambda text: text)
    path = write_pdf(tmp_path / "deep.pdf", [["(Hello.)", "[" * 50_000 + "]" * 50_000]])
    with pytest.raises(LoadError, match="corrupt PDF: object structure nested too deeply"):
        load_file(path)
