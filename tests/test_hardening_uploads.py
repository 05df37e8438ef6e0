"""Hostile uploads over real HTTP: unsafe names, bombs, looping PDFs, oversize and wrong types.

Each is refused (4xx) or contained (the job reports the file as skipped with a clear reason) in
bounded time and memory, and the index is unchanged afterwards.
"""

from __future__ import annotations

import io
import subprocess
import sys
import time
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from assistant.core import Assistant
from tests.helpers import (
    app_on,
    assert_error,
    raw_multipart,
    running_server,
    subprocess_env,
    upload,
    wait_for_job,
)

BOMB_INFLATED_BYTES = 400_000_000
#: a child that only loads one file: python, pypdf and python-docx fit well under this
MAX_CHILD_RSS_MB = 300
MAX_LOAD_SECONDS = 30


@pytest.fixture()
def service(mutable_index_dir: Path, sample_assistant: Assistant) -> Iterator[tuple[httpx.Client, Path]]:
    app = app_on(mutable_index_dir, sample_assistant, max_upload_bytes=2_000_000)
    with running_server(app) as base_url, httpx.Client(base_url=base_url, timeout=120) as client:
        yield client, mutable_index_dir


def snapshot_of(client: httpx.Client) -> tuple[str, list[dict[str, Any]]]:
    health = client.get("/health").json()
    return health["index_version"], client.get("/documents").json()["documents"]


def stray_files(index_dir: Path) -> list[str]:
    uploads = index_dir / "uploads"
    return sorted(str(p.relative_to(uploads)) for p in uploads.rglob("*")) if uploads.exists() else []


# --- hostile files ----------------------------------------------------------------------


def docx_bomb(inflated: int = BOMB_INFLATED_BYTES) -> bytes:
    """A small, honest zip whose word/document.xml inflates to `inflated` bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        with archive.open("word/document.xml", "w", force_zip64=True) as part:
            block = b" " * (1 << 22)
            for _ in range(inflated // len(block)):
                part.write(block)
    return buffer.getvalue()


def pdf(objects: list[bytes]) -> bytes:
    """A PDF from numbered object bodies (1 0 obj = objects[0]) with a correct xref table."""
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


def _page_pdf(content: bytes, kids: bytes = b"[3 0 R]") -> bytes:
    stream = zlib.compress(content, 9)
    return pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids " + kids + b" /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
            b"/Resources << /Font << /F1 5 0 R >> >> >>",
            b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream",
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        ]
    )


def pdf_instruction_bomb() -> bytes:
    """A few kB that inflate to millions of text-drawing operators (minutes of parsing)."""
    return _page_pdf(b"BT /F1 12 Tf 72 712 Td (peace talks) Tj ET\n" * 200_000)


def pdf_looping_page_tree() -> bytes:
    """The page tree lists itself among its own kids."""
    return _page_pdf(b"BT /F1 12 Tf 72 712 Td (The harbour opens at dawn.) Tj ET", kids=b"[3 0 R 2 0 R]")


def pdf_self_referencing_xobject() -> bytes:
    """A form XObject that draws itself: naive rendering recurses forever."""
    form = b"/X1 Do"
    return pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
            b"/Resources << /XObject << /X1 5 0 R >> >> >>",
            b"<< /Length 6 >>\nstream\n/X1 Do\nendstream",
            b"<< /Type /XObject /Subtype /Form /BBox [0 0 10 10] /Resources << /XObject << /X1 5 0 R >> >>"
            b" /Length %d >>\nstream\n" % len(form) + form + b"\nendstream",
        ]
    )


def pdf_circular_length() -> bytes:
    """A stream whose /Length refers to an object that refers back to it."""
    return pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>",
            b"<< /Length 5 0 R >>\nstream\nBT ET\nendstream",
            b"4 0 R",
        ]
    )


HOSTILE_FILES = {
    "zip-bomb.docx": docx_bomb,
    "instruction-bomb.pdf": pdf_instruction_bomb,
    "looping-pages.pdf": pdf_looping_page_tree,
    "self-drawing.pdf": pdf_self_referencing_xobject,
    "circular-length.pdf": pdf_circular_length,
}


@pytest.fixture(scope="module")
def hostile_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("hostile")
    for name, make in HOSTILE_FILES.items():
        (folder / name).write_bytes(make())
    return folder


LOAD_CHILD = """
import sys, time
from pathlib import Path
from assistant.errors import LoadError
from assistant.ingest import load_file
started = time.monotonic()
try:
    doc = load_file(Path(sys.argv[1]))
    outcome = f"loaded {len(doc.text)} chars"
except LoadError as exc:
    outcome = f"refused: {exc}"
# VmHWM belongs to this program's address space; ru_maxrss would carry over the forking
# parent's peak (the test runner's, with the model loaded) across exec.
rss = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:")) // 1024
print(f"{time.monotonic() - started:.2f}|{rss}|{outcome}")
"""


@pytest.mark.parametrize("name", sorted(HOSTILE_FILES))
def test_hostile_file_is_contained_in_time_and_memory(name: str, hostile_dir: Path) -> None:
    child = subprocess.run(
        [sys.executable, "-c", LOAD_CHILD, str(hostile_dir / name)],
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=MAX_LOAD_SECONDS * 4,
    )
    assert child.returncode == 0, child.stderr  # a LoadError at most, never a crash
    seconds, rss, outcome = child.stdout.strip().splitlines()[-1].split("|", 2)
    assert float(seconds) < MAX_LOAD_SECONDS, outcome
    assert int(rss) < MAX_CHILD_RSS_MB, f"{name} used {rss} MB: {outcome}"
    if "bomb" in name:
        assert outcome.startswith("refused:"), outcome


@pytest.mark.parametrize("name", sorted(HOSTILE_FILES))
def test_hostile_upload_is_skipped_with_a_reason_and_the_index_is_unchanged(
    name: str, hostile_dir: Path, service: tuple[httpx.Client, Path]
) -> None:
    client, index_dir = service
    before = snapshot_of(client)
    response = upload(client, (name, (hostile_dir / name).read_bytes()))
    assert response.status_code == 202, response.text
    job = wait_for_job(client, response.json()["job_id"])
    assert job["status"] == "done", job
    skipped = job["report"]["skipped"]
    if skipped:
        assert [s["path"] for s in skipped] == [name]
        assert skipped[0]["reason"]
        assert snapshot_of(client) == before
        assert stray_files(index_dir) == []
    else:  # a malformed-but-harmless PDF may still yield its text; then it is a normal document
        assert "bomb" not in name
        assert {d["doc_id"] for d in snapshot_of(client)[1]} >= {d["doc_id"] for d in before[1]}


# --- unsafe names -------------------------------------------------------------------------

UNSAFE_NAMES = [
    b"../../etc/passwd.txt",
    b"/etc/passwd.txt",
    b"..\\..\\windows\\win.txt",
    b"....//....//escape.txt",
    b"notes\x00.txt",
    b"notes.txt\x00.sh",
    b"..",
    b".hidden.txt",
    b"bell\x07.txt",
    b"del\x7f.txt",
    b"x" * 300 + b".txt",
]


@pytest.mark.parametrize("name", UNSAFE_NAMES, ids=lambda n: repr(n[:30]))
def test_unsafe_file_names_are_422_and_nothing_is_written(
    name: bytes, service: tuple[httpx.Client, Path], tmp_path: Path
) -> None:
    client, index_dir = service
    before = snapshot_of(client)
    body, content_type = raw_multipart([name])
    response = client.post("/documents", content=body, headers={"content-type": content_type})
    assert_error(response, 422)
    assert snapshot_of(client) == before
    assert stray_files(index_dir) == []
    assert not (index_dir.parent / "etc").exists() and not (tmp_path / "escape.txt").exists()


def test_a_windows_path_is_refused_or_cut_to_its_base_name(service: tuple[httpx.Client, Path]) -> None:
    # The multipart parser may already cut "C:\\temp\\notes.txt" to "notes.txt" (as browsers do).
    client, index_dir = service
    body, content_type = raw_multipart([b"C:\\temp\\notes.txt"], b"The tide turns at noon.\n")
    response = client.post("/documents", content=body, headers={"content-type": content_type})
    if response.status_code == 202:
        job = wait_for_job(client, response.json()["job_id"])
        assert job["status"] == "done", job
        assert stray_files(index_dir) == ["notes.txt"]
    else:
        assert_error(response, 422)
        assert stray_files(index_dir) == []


def test_rfc2231_encoded_traversal_is_refused(service: tuple[httpx.Client, Path]) -> None:
    client, index_dir = service
    boundary = "----hardening"
    body = (
        f"--{boundary}\r\n"
        "Content-Disposition: form-data; name=\"files\"; filename*=UTF-8''..%2F..%2Fetc%2Fpasswd.txt\r\n"
        "Content-Type: text/plain\r\n\r\nsome text\r\n"
        f"--{boundary}--\r\n"
    ).encode()
    before = snapshot_of(client)
    response = client.post(
        "/documents", content=body, headers={"content-type": f"multipart/form-data; boundary={boundary}"}
    )
    assert 400 <= response.status_code < 500, response.text
    assert snapshot_of(client) == before
    assert stray_files(index_dir) == []


def test_odd_but_plain_names_stay_inside_the_uploads_folder(service: tuple[httpx.Client, Path]) -> None:
    client, index_dir = service
    names = ["%2e%2e%2fescape.txt", "a..\uff0ffullwidth-slash.txt", "名前 ✓.txt"]
    text = b"The lighthouse keeper logs every passing ship in a ledger.\n"
    response = upload(client, *[(name, text) for name in names])
    assert response.status_code == 202, response.text
    job = wait_for_job(client, response.json()["job_id"])
    assert job["status"] == "done" and job["report"]["skipped"] == [], job
    assert stray_files(index_dir) == sorted(names)


# --- size and type --------------------------------------------------------------------------


def test_over_the_size_limit_is_413_and_nothing_is_kept(service: tuple[httpx.Client, Path]) -> None:
    client, index_dir = service
    before = snapshot_of(client)
    response = upload(client, ("huge.txt", b"words and more words. " * 120_000))
    assert_error(response, 413, "limit")
    assert snapshot_of(client) == before
    assert stray_files(index_dir) == []


@pytest.mark.parametrize("name", ["program.exe", "archive.zip", "image.png", "no-extension", "notes.txt.sh"])
def test_unsupported_types_are_415(name: str, service: tuple[httpx.Client, Path]) -> None:
    client, index_dir = service
    before = snapshot_of(client)
    assert_error(upload(client, (name, b"MZ\x90\x00binary")), 415)
    assert snapshot_of(client) == before
    assert stray_files(index_dir) == []


def test_binary_content_under_a_text_name_is_skipped(service: tuple[httpx.Client, Path]) -> None:
    client, index_dir = service
    before = snapshot_of(client)
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40
    job = wait_for_job(client, upload(client, ("photo.txt", png)).json()["job_id"])
    assert [s["path"] for s in job["report"]["skipped"]] == ["photo.txt"]
    assert "binary" in job["report"]["skipped"][0]["reason"]
    assert snapshot_of(client) == before
    assert stray_files(index_dir) == []


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", b'{"files": "notes.txt"}'),
        ("text/plain", b"just some text"),
        ("multipart/form-data", b"--x\r\n"),  # no boundary
        ("multipart/form-data; boundary=x", b"--x\r\nContent-Disposition: form-data\r\n\r\n"),  # truncated
    ],
)
def test_wrong_or_broken_content_type_is_a_4xx(
    content_type: str, body: bytes, service: tuple[httpx.Client, Path]
) -> None:
    client, index_dir = service
    before = snapshot_of(client)
    response = client.post("/documents", content=body, headers={"content-type": content_type})
    assert 400 <= response.status_code < 500, response.text
    assert response.json()["detail"]
    time.sleep(0.2)
    assert snapshot_of(client) == before
    assert stray_files(index_dir) == []
