"""OCR of a scanned PDF page, and one build over a folder of every new format plus bad inputs:
the good files are answerable with exact, paged citations; each bad one is reported, per file."""

from __future__ import annotations

from pathlib import Path

import docx
import pytest
from PIL import Image, ImageDraw, ImageFont

from assistant.core import Assistant
from assistant.errors import LoadError
from assistant.ingest import load_file
from assistant.ingest.formats.ocr import ocr_unavailable
from assistant.models import page_at
from assistant.settings import Settings
from tests.helpers import SURVEY_QUESTION, assert_contract
from tests.test_formats import add_bomb, make_eml, make_epub, make_pptx, make_xlsx

needs_ocr = pytest.mark.skipif(
    ocr_unavailable() is not None,
    reason=f"OCR is not available ({ocr_unavailable()}): run .ci/install-tesseract.sh",
)

SCANNED_LINES = [
    "The survey found that 412 lamp posts along",
    "the northern quay needed new fittings.",
]


def make_scanned_pdf(path: Path, lines: list[str], blank_first_page: bool = False) -> Path:
    """An image-only PDF: the text is pixels (rendered with Pillow), with no text layer at all."""
    font = ImageFont.load_default(size=40)
    page = Image.new("L", (1700, 400), 255)  # 8.5 x 2 inches at 200 dpi: small, so OCR is quick
    draw = ImageDraw.Draw(page)
    for number, line in enumerate(lines):
        draw.text((100, 80 + 70 * number), line, fill=0, font=font)
    pages = [Image.new("L", (1700, 400), 255), page] if blank_first_page else [page]
    pages[0].save(path, "PDF", resolution=200, save_all=True, append_images=pages[1:])
    return path


@needs_ocr
def test_scanned_pdf_page_is_read_by_ocr_with_its_page_number(tmp_path: Path) -> None:
    document = load_file(make_scanned_pdf(tmp_path / "scan.pdf", SCANNED_LINES, blank_first_page=True))
    words = " ".join(document.text.split())
    assert "412 lamp posts along the northern quay needed new fittings" in words
    assert document.metadata["ocr_pages"] == [2]  # the blank first page gave no text
    assert page_at(document.pages, document.text.index("412")) == 2


def test_scanned_pdf_without_ocr_says_why(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("assistant.ingest.formats.pdf.ocr_unavailable", lambda: "tesseract is missing")
    with pytest.raises(LoadError, match=r"no extractable text .* OCR is not available: tesseract is missing"):
        load_file(make_scanned_pdf(tmp_path / "scan.pdf", SCANNED_LINES))


@pytest.fixture(scope="module")
def mixed_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("mixed")
    make_pptx(
        folder / "briefing.pptx",
        [
            ("Harbour Briefing", "Works on the quay are on schedule.", ""),
            (
                "Ferry timetable",
                "The night ferry to Ostrava leaves at 23:40 from pier seven.",
                "The ferry operator is Baltic Lines.",
            ),
        ],
    )
    make_xlsx(folder / "budget.xlsx", {"Costs": [["Item", "Cost"], ["Crane hire", "88,000 euros"]]})
    (folder / "berths.csv").write_text("vessel,berth\nMorning Star,berth 14\n", encoding="utf-8")
    (folder / "latin.eml").write_bytes(
        make_eml("Dredging", "Le dragage du chenal commence le 12 mai \xe0 l'aube.\n", charset="iso-8859-1")
    )
    make_epub(folder / "history.epub", ["<p>The lighthouse was built by Tomas Verlaine in 1887.</p>"])
    (folder / "notes.md").write_text(
        "---\ntitle: Pilot Notes\nowner: harbour office\n---\nPilots board at buoy nine.\n"
    )
    if ocr_unavailable() is None:
        make_scanned_pdf(folder / "scan.pdf", SCANNED_LINES)
    # bad inputs: each is reported, none stops the build
    (folder / "corrupt.pptx").write_bytes(b"PK\x03\x04 truncated")
    (folder / "corrupt.xlsx").write_bytes(b"not a spreadsheet")
    (folder / "empty.eml").write_bytes(b"")
    document = docx.Document()
    document.add_paragraph("A bomb in disguise.")
    document.save(str(folder / "bomb.docx"))
    add_bomb(folder / "bomb.docx")
    with (folder / "huge.csv").open("wb") as file:
        file.truncate(1_000_000_000)
    add_bomb(make_epub(folder / "bomb.epub", ["<p>Another bomb.</p>"]))
    return folder


@pytest.fixture(scope="module")
def mixed(mixed_folder: Path, sample_assistant: Assistant, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    index_dir = tmp_path_factory.mktemp("mixed-index") / "index"
    assistant = Assistant(index_dir, Settings(index_dir=index_dir), sample_assistant.embedder)
    report = assistant.index_paths([mixed_folder])
    return assistant, report


def test_bad_inputs_are_reported_per_file_and_the_rest_is_indexed(mixed) -> None:  # type: ignore[no-untyped-def]
    _, report = mixed
    reasons = {Path(item.path).name: item.reason for item in report.skipped}
    assert set(reasons) == {"corrupt.pptx", "corrupt.xlsx", "empty.eml", "bomb.docx", "huge.csv", "bomb.epub"}
    assert "corrupt PPTX: not a valid zip archive" in reasons["corrupt.pptx"]
    assert "corrupt XLSX: not a valid zip archive" in reasons["corrupt.xlsx"]
    assert "zip bomb" in reasons["bomb.docx"]
    assert "file too large: 1,000,000,000 bytes" in reasons["huge.csv"]
    assert "EPUB refused as a zip bomb" in reasons["bomb.epub"]
    expected = {"briefing", "budget", "berths", "latin", "history", "notes"}
    if ocr_unavailable() is None:
        expected.add("scan")
    assert set(report.added) == expected


@pytest.mark.parametrize(
    ("question", "doc_id", "fact", "page"),
    [
        ("At what time does the night ferry to Ostrava leave?", "briefing", "23:40", 2),
        ("Who operates the ferry?", "briefing", "Baltic Lines", 2),  # a slide's notes
        ("How much does the crane hire cost?", "budget", "88,000 euros", None),
        ("Which berth is the Morning Star at?", "berths", "berth 14", None),
        ("Where do pilots board?", "notes", "buoy nine", None),
        ("Who built the lighthouse?", "history", "Tomas Verlaine", None),
        pytest.param(SURVEY_QUESTION, "scan", "412", 1, marks=needs_ocr),
    ],
)
def test_each_format_is_answerable_with_exact_citations(
    mixed,  # type: ignore[no-untyped-def]
    question: str,
    doc_id: str,
    fact: str,
    page: int | None,
) -> None:
    assistant, _ = mixed
    answer = assistant.ask(question)
    assert not answer.abstained, answer.answer
    assert fact in answer.answer
    assert_contract(answer, assistant)
    cited = [c for c in answer.citations if fact in c.quote]
    assert cited and cited[0].doc_id == doc_id and cited[0].page == page


def test_metadata_of_new_formats_is_stored(mixed) -> None:  # type: ignore[no-untyped-def]
    assistant, _ = mixed
    assert assistant.get_document("notes").title == "Pilot Notes"
    latin = assistant.get_document("latin")
    assert "commence le 12 mai à l'aube" in latin.text
    assert latin.metadata["subject"] == "Dredging"
    assert assistant.get_document("briefing").chunks == 2  # one passage per slide
    assert assistant.get_document("notes").metadata["owner"] == "harbour office"


def test_a_page_that_declares_itself_huge_is_rendered_within_the_pixel_cap() -> None:
    from assistant.ingest.formats.ocr import MAX_OCR_PIXELS, OCR_DPI, _render_scale

    assert _render_scale(612, 792) == OCR_DPI / 72  # a letter page: full resolution
    scale = _render_scale(14_400, 14_400)  # 200 x 200 inches: 3.6 billion pixels at 300 dpi
    assert (14_400 * scale) ** 2 == pytest.approx(MAX_OCR_PIXELS)
