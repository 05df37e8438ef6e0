"""load_file on slides, spreadsheets, CSV, e-mail, EPUB and Markdown front matter, each built
here with the format's own library, and every bad input those formats bring."""

from __future__ import annotations

import io
import re
import zipfile
from email.message import EmailMessage
from pathlib import Path

import docx
import openpyxl
import pptx
import pytest
from pptx.util import Inches

from assistant.errors import FileTooLargeError, LoadError
from assistant.ingest import chunk_document, load_file, normalise_text
from assistant.models import page_at

# --- builders -----------------------------------------------------------------------------


def make_pptx(path: Path, slides: list[tuple[str, str, str]], core_title: str = "") -> Path:
    """One title-and-content slide per (title, body, notes)."""
    deck = pptx.Presentation()
    deck.core_properties.title = core_title
    for title, body, notes in slides:
        slide = deck.slides.add_slide(deck.slide_layouts[1])
        slide.shapes.title.text = title
        slide.placeholders[1].text = body
        if notes:
            slide.notes_slide.notes_text_frame.text = notes
    deck.save(str(path))
    return path


def make_xlsx(path: Path, sheets: dict[str, list[list[object]]]) -> Path:
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for name, rows in sheets.items():
        sheet = workbook.create_sheet(name)
        for row in rows:
            sheet.append(row)
    workbook.save(str(path))
    return path


def make_eml(
    subject: str,
    body: str,
    attachments: list[tuple[str, bytes]] = (),  # type: ignore[assignment]
    charset: str = "utf-8",
) -> bytes:
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = "Mina Rahimi <mina@example.org>"
    message["To"] = "team@example.org"
    message["Date"] = "Tue, 05 Mar 2024 09:30:00 +0100"
    message.set_content(body, charset=charset)
    for name, data in attachments:
        message.add_attachment(data, maintype="application", subtype="octet-stream", filename=name)
    return message.as_bytes()


def make_epub(path: Path, chapters: list[str], title: str = "Harbour Stories") -> Path:
    items = "".join(
        f'<item id="c{n}" href="text/ch{n}.xhtml" media-type="application/xhtml+xml"/>'
        for n in range(len(chapters))
    )
    spine = "".join(f'<itemref idref="c{n}"/>' for n in range(len(chapters)))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("mimetype", "application/epub+zip", compress_type=zipfile.ZIP_STORED)
        archive.writestr(
            "META-INF/container.xml",
            '<?xml version="1.0"?><container xmlns="urn:oasis:names:tc:opendocument:xmlns:container" '
            'version="1.0"><rootfiles><rootfile full-path="OEBPS/content.opf" '
            'media-type="application/oebps-package+xml"/></rootfiles></container>',
        )
        archive.writestr(
            "OEBPS/content.opf",
            '<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" version="3.0">'
            '<metadata xmlns:dc="http://purl.org/dc/elements/1.1/">'
            f"<dc:title>{title}</dc:title><dc:creator>Leila Farahani</dc:creator></metadata>"
            f"<manifest>{items}</manifest><spine>{spine}</spine></package>",
        )
        for n, chapter in enumerate(chapters):
            archive.writestr(
                f"OEBPS/text/ch{n}.xhtml",
                f'<html xmlns="http://www.w3.org/1999/xhtml"><head><title>c{n}</title></head>'
                f"<body>{chapter}</body></html>",
            )
    return path


def add_bomb(path: Path) -> Path:
    """Append a member that inflates 5 MB of zeros from a few kilobytes."""
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("bomb/zeros.bin", b"\0" * 5_000_000)
    return path


def assert_offsets_exact(text: str) -> None:
    assert normalise_text(text) == text


# --- PowerPoint ---------------------------------------------------------------------------


def test_pptx_one_section_per_slide_with_notes_and_slide_numbers(tmp_path: Path) -> None:
    path = make_pptx(
        tmp_path / "briefing.pptx",
        [
            ("Quarterly Briefing", "Harbour works are on schedule.", ""),
            ("Budget", "The bond raised 3.2 million euros.", "Mention the council vote in May."),
        ],
    )
    document = load_file(path)
    assert document.title == "Quarterly Briefing"
    assert document.metadata == {"format": "pptx", "slide_count": 2}
    assert document.text == (
        "Quarterly Briefing\n\nHarbour works are on schedule.\n\n"
        "Budget\n\nThe bond raised 3.2 million euros.\n\nNotes: Mention the council vote in May."
    )
    assert page_at(document.pages, document.text.index("Harbour works")) == 1
    assert page_at(document.pages, document.text.index("council vote")) == 2
    assert_offsets_exact(document.text)
    chunks = chunk_document(document.text, 600, 1, document.passage_breaks)
    assert [document.text[c.start : c.end] for c in chunks] == [  # one passage per slide, no overlap
        "Quarterly Briefing\n\nHarbour works are on schedule.",
        "Budget\n\nThe bond raised 3.2 million euros.\n\nNotes: Mention the council vote in May.",
    ]


def test_pptx_tables_and_groups_are_read(tmp_path: Path) -> None:
    deck = pptx.Presentation()
    slide = deck.slides.add_slide(deck.slide_layouts[6])  # blank
    table = slide.shapes.add_table(2, 2, Inches(1), Inches(1), Inches(4), Inches(1)).table
    for (row, col), value in {(0, 0): "Port", (0, 1): "Lamps", (1, 0): "Valmora", (1, 1): "412"}.items():
        table.cell(row, col).text = value
    group = slide.shapes.add_group_shape()
    group.shapes.add_textbox(Inches(1), Inches(3), Inches(3), Inches(1)).text_frame.text = "Grouped note."
    path = tmp_path / "table.pptx"
    deck.save(str(path))
    document = load_file(path)
    assert document.text == "Port\nLamps\n\nValmora\n412\n\nGrouped note."
    assert document.title == "Table"


# --- Excel and CSV ------------------------------------------------------------------------


def test_xlsx_rows_keep_their_header_and_sheets_are_named(tmp_path: Path) -> None:
    path = make_xlsx(
        tmp_path / "ports.xlsx",
        {
            "Lamps": [["Port", "Lamp posts", "Year"], ["Valmora", 412, 2024], ["Ostrava", None, 2023]],
            "Empty": [],
            "Budget": [["Item", "Euros"], ["Bond", 3.2e6]],
        },
    )
    document = load_file(path)
    assert document.text == (
        "Sheet: Lamps\n\nPort: Valmora\nLamp posts: 412\nYear: 2024\n\nPort: Ostrava\nYear: 2023\n\n"
        "Sheet: Budget\n\nItem: Bond\nEuros: 3200000"
    )
    assert document.metadata == {"format": "xlsx", "sheets": ["Lamps", "Budget"]}


def test_csv_rows_keep_their_header(tmp_path: Path) -> None:
    path = tmp_path / "lamps.csv"
    path.write_text('port;lamp posts;note\nValmora;412;"needs new, brighter fittings"\n\n', encoding="utf-8")
    document = load_file(path)
    assert document.text == "port: Valmora\nlamp posts: 412\nnote: needs new, brighter fittings"
    assert document.title == "Lamps"
    assert document.metadata == {"format": "csv", "rows": 1}


def test_a_1_gb_csv_is_reported_not_loaded(tmp_path: Path) -> None:
    path = tmp_path / "huge.csv"
    with path.open("wb") as file:  # sparse: a gigabyte on paper, nothing on disk
        file.truncate(1_000_000_000)
    with pytest.raises(FileTooLargeError, match="file too large: 1,000,000,000 bytes"):
        load_file(path)


def test_csv_whose_rows_render_too_large_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "wide.csv"
    path.write_text("a,b\n" + "1,2\n" * 500, encoding="utf-8")
    monkeypatch.setattr("assistant.ingest.formats.csv.MAX_TABLE_TEXT_CHARS", 1000)
    with pytest.raises(FileTooLargeError, match="CSV too large: its rows make more than 1,000"):
        load_file(path)


# --- e-mail -------------------------------------------------------------------------------


def test_eml_headers_are_metadata_and_attachments_are_listed_not_inlined(tmp_path: Path) -> None:
    memo = io.BytesIO()
    document = docx.Document()
    document.add_paragraph("The attached memo says the quay reopens in June.")
    document.save(memo)
    path = tmp_path / "update.eml"
    path.write_bytes(
        make_eml(
            "Harbour update",
            "Hello team,\nthe survey is done.\n",
            [("memo.docx", memo.getvalue()), ("photo.jpg", b"\xff\xd8\xff"), ("memo.docx", b"again")],
        )
    )
    loaded = load_file(path)
    assert loaded.title == "Harbour update"
    assert loaded.text == (
        "Subject: Harbour update\nFrom: Mina Rahimi <mina@example.org>\nTo: team@example.org\n"
        "Date: 2024-03-05T09:30:00+01:00\n\nHello team,\nthe survey is done."
    )
    assert loaded.metadata["sender"] == "Mina Rahimi <mina@example.org>"
    assert loaded.metadata["date"] == "2024-03-05T09:30:00+01:00"
    assert loaded.metadata["attachments"] == ["memo.docx", "memo (2).docx"]
    assert loaded.metadata["attachments_skipped"] == ["photo.jpg: unsupported type"]


def test_email_parts_are_its_indexable_attachments_with_their_message(tmp_path: Path) -> None:
    from assistant.ingest.parts import list_parts, part_location, read_part, split_part_location

    data = make_eml(
        "Report",
        "See attached.",
        [("../../etc/report.txt", b"The tide tables are attached."), ("logo.png", b"\x89PNG")],
    )
    assert list_parts(data, Path("mail.eml")) == ["report.txt"]  # a plain name, the logo left out
    assert list_parts(b"plain text", Path("notes.txt")) == []
    part = read_part(data, "inbox/mail.eml", "report.txt")
    assert (part.name, part.data) == ("report.txt", b"The tide tables are attached.")
    assert part.metadata["message"]["subject"] == "Report"
    assert part.metadata["message"]["source"] == "inbox/mail.eml"
    with pytest.raises(LoadError, match=r"no attachment 'logo\.png'"):
        read_part(data, "inbox/mail.eml", "logo.png")
    location = part_location("inbox/mail.eml", "report.txt")
    assert split_part_location(location) == ("inbox/mail.eml", "report.txt")
    assert split_part_location("notes/C#attachment/x.txt") == ("notes/C#attachment/x.txt", None)


def test_non_utf8_email_is_decoded_by_its_charset_with_replacement(tmp_path: Path) -> None:
    raw = (
        b"Subject: =?iso-8859-1?q?R=E9union?=\nFrom: a@example.org\nMIME-Version: 1.0\n"
        b"Content-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: 8bit\n\n"
        b"Caf\xe9 au port \xe0 9h.\n"
    )
    path = tmp_path / "latin.eml"
    path.write_bytes(raw)
    loaded = load_file(path)
    assert loaded.title == "Réunion"
    assert "Café au port à 9h." in loaded.text
    broken = tmp_path / "broken.eml"  # declares UTF-8, holds Latin-1; and an unknown charset
    broken.write_bytes(raw.replace(b"iso-8859-1", b"utf-8"))
    assert "Caf\ufffd au port" in load_file(broken).text
    unknown = tmp_path / "unknown.eml"
    unknown.write_bytes(raw.replace(b"charset=iso-8859-1", b"charset=x-no-such-charset"))
    assert "au port" in load_file(unknown).text


def test_mbox_holds_every_message(tmp_path: Path) -> None:
    first = make_eml("First", "From the harbour office: all well.\n")
    second = make_eml("Second", "Lamps arrive Friday.\n")
    path = tmp_path / "archive.mbox"
    quoted = first.replace(b"From the harbour", b">From the harbour")  # mboxrd quoting
    path.write_bytes(
        b"From a@example.org Tue Mar  5 09:30:00 2024\n" + quoted + b"\n" + b"From b@x Wed\n" + second
    )
    loaded = load_file(path)
    assert "Subject: First" in loaded.text and "Subject: Second" in loaded.text
    assert "From the harbour office: all well." in loaded.text
    assert loaded.metadata == {"format": "email", "messages": 2}


# --- EPUB ---------------------------------------------------------------------------------


def test_epub_chapters_in_spine_order(tmp_path: Path) -> None:
    path = make_epub(
        tmp_path / "book.epub", ["<h1>One</h1><p>The lamps were old.</p>", "<p>They were replaced.</p>"]
    )
    loaded = load_file(path)
    assert loaded.text == "One\n\nThe lamps were old.\n\nThey were replaced."
    assert loaded.title == "Harbour Stories"
    assert loaded.metadata == {"format": "epub", "chapters": 2, "author": "Leila Farahani"}


def test_corrupt_epub_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bad.epub"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("META-INF/container.xml", "<container><broken")
    with pytest.raises(LoadError, match=r"corrupt EPUB: META-INF/container\.xml is not valid XML"):
        load_file(path)


# --- Markdown front matter ----------------------------------------------------------------


def test_markdown_front_matter_is_metadata(tmp_path: Path) -> None:
    path = tmp_path / "note.md"
    path.write_text(
        "---\ntitle: Lamp Survey Notes\nauthor: Mina Rahimi\ndate: 2024-03-05\ntags: [harbour, lamps]\n"
        "format: ignored\n---\n# Heading\n\nBody text.\n",
        encoding="utf-8",
    )
    loaded = load_file(path)
    assert loaded.title == "Lamp Survey Notes"
    assert loaded.text == "Heading\n\nBody text.\n"
    assert loaded.metadata == {
        "format": "markdown",
        "title": "Lamp Survey Notes",
        "author": "Mina Rahimi",
        "date": "2024-03-05",
        "tags": ["harbour", "lamps"],
    }


def test_markdown_rule_that_is_not_front_matter_stays_text(tmp_path: Path) -> None:
    path = tmp_path / "rule.md"
    path.write_text("---\nJust a line: with: colons: [\n---\nText.\n", encoding="utf-8")
    loaded = load_file(path)
    assert "Just a line" in loaded.text
    assert loaded.metadata == {"format": "markdown"}


def test_markdown_front_matter_alias_bomb_is_refused(tmp_path: Path) -> None:
    levels = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    levels += [f"{chr(98 + n)}: &{chr(98 + n)} [{', '.join(['*' + chr(97 + n)] * 10)}]" for n in range(6)]
    path = tmp_path / "bomb.md"
    path.write_text("---\n" + "\n".join(levels) + "\n---\nText.\n", encoding="utf-8")
    with pytest.raises(LoadError, match="front matter too large"):
        load_file(path)


# --- corrupt files and zip bombs ----------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kind", "member"),
    [("a.pptx", "PPTX", "ppt/presentation.xml"), ("a.xlsx", "XLSX", "xl/workbook.xml")],
)
def test_corrupt_office_files_are_refused(tmp_path: Path, name: str, kind: str, member: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"this is not a zip archive")
    with pytest.raises(LoadError, match=f"corrupt {kind}: not a valid zip"):
        load_file(path)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("hello.txt", "hi")
    with pytest.raises(LoadError, match=f"corrupt {kind}: {member} is missing"):
        load_file(path)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(member, "<broken")
    with pytest.raises(LoadError, match=f"corrupt {kind}"):
        load_file(path)


def test_truncated_eml_still_loads_what_it_has(tmp_path: Path) -> None:
    path = tmp_path / "cut.eml"
    path.write_bytes(make_eml("Cut short", "The first line survives.\n" * 3)[:-20])
    assert "The first line survives." in load_file(path).text


@pytest.mark.parametrize("kind", ["docx", "pptx", "epub", "xlsx"])
def test_zip_bombs_are_refused_before_parsing(tmp_path: Path, kind: str) -> None:
    build = {
        "docx": lambda p: docx.Document().save(str(p)),
        "pptx": lambda p: make_pptx(p, [("T", "b", "")]),
        "epub": lambda p: make_epub(p, ["<p>x</p>"]),
        "xlsx": lambda p: make_xlsx(p, {"S": [["a"], [1]]}),
    }
    path = tmp_path / f"bomb.{kind}"
    build[kind](path)
    add_bomb(path)
    with pytest.raises(FileTooLargeError, match=rf"{kind.upper()} refused as a zip bomb: bomb/zeros\.bin"):
        load_file(path)
    with pytest.raises(FileTooLargeError, match=f"{kind.upper()} too large: it would decompress"):
        load_file(path, max_bytes=path.stat().st_size + 1000)


def test_the_web_upload_picker_accepts_exactly_the_supported_extensions() -> None:
    from assistant.ingest import SUPPORTED_EXTENSIONS

    script = (Path(__file__).parents[1] / "assistant/server/web/documents.js").read_text(encoding="utf-8")
    accept = re.search(r"const ACCEPT = \[(.*?)\];", script, re.S)
    assert accept is not None
    assert set(re.findall(r'"(\.[a-z]+)"', accept.group(1))) == SUPPORTED_EXTENSIONS
