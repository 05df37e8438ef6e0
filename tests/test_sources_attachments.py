"""An e-mail's attachments are their own documents, synced with their mail: listed, citable,
re-indexed when the mail changes, removed when they leave it or it goes; a bad one is reported."""

from __future__ import annotations

import io
from pathlib import Path

import docx
from fastapi.testclient import TestClient

from assistant.core import Assistant
from assistant.models import page_at
from tests.helpers import app_on, assert_contract, assistant_on, upload_and_wait
from tests.test_formats import add_bomb, make_eml
from tests.test_loaders import write_pdf

MEMO = "The attached memo says the quay reopens in June after the dredging."


def _memo() -> bytes:
    out = io.BytesIO()
    document = docx.Document()
    document.add_paragraph(MEMO)
    document.save(out)
    return out.getvalue()


def _update(folder: Path, with_memo: bool = True) -> bytes:
    pages = [["Tide tables first page."], ["The spring tide peaks at 5.2 metres."]]
    pdf = write_pdf(folder.parent / "report.pdf", pages)
    bomb = folder.parent / "bomb.docx"
    docx.Document().save(str(bomb))
    add_bomb(bomb)
    attachments = [
        ("report.pdf", pdf.read_bytes()),
        ("bad.pptx", b"not a zip"),
        ("bomb.docx", bomb.read_bytes()),
        ("photo.jpg", b"\xff\xd8"),
    ]
    if with_memo:
        attachments.insert(0, ("memo.docx", _memo()))
    return make_eml("Harbour update", "Hello team,\nthe survey is done.\n", attachments)


def test_attachments_are_documents_that_follow_their_mail(
    tmp_path: Path, sample_assistant: Assistant
) -> None:
    folder = tmp_path / "mail"
    folder.mkdir()
    mail = folder / "update.eml"
    mail.write_bytes(_update(folder))
    assistant = assistant_on(tmp_path / "index", sample_assistant)
    report = assistant.index_paths([folder], prune=True)
    assert sorted(report.added) == ["update", "update-memo", "update-report"]
    reasons = {item.path: item.reason for item in report.skipped}
    assert set(reasons) == {f"{mail}#attachment/bad.pptx", f"{mail}#attachment/bomb.docx"}
    assert "corrupt PPTX" in reasons[f"{mail}#attachment/bad.pptx"]
    assert "DOCX refused as a zip bomb" in reasons[f"{mail}#attachment/bomb.docx"]

    message = assistant.get_document("update")
    assert MEMO not in message.text and "the survey is done" in message.text
    assert message.metadata["subject"] == "Harbour update"
    assert message.metadata["sender"] == "Mina Rahimi <mina@example.org>"
    assert message.metadata["date"] == "2024-03-05T09:30:00+01:00"
    assert message.metadata["attachments"] == ["memo.docx", "report.pdf", "bad.pptx", "bomb.docx"]
    assert message.metadata["attachments_skipped"] == ["photo.jpg: unsupported type"]
    memo = assistant.get_document("update-memo")
    assert memo.text == MEMO
    assert memo.source == f"{mail}#attachment/memo.docx"
    assert memo.metadata["message"] == {
        "subject": "Harbour update",
        "sender": "Mina Rahimi <mina@example.org>",
        "to": "team@example.org",
        "date": "2024-03-05T09:30:00+01:00",
        "source": str(mail),
    }
    tides = assistant.get_document("update-report")
    assert page_at(tides.pages, tides.text.index("spring tide")) == 2

    answer = assistant.ask("When does the quay reopen?")
    assert_contract(answer, assistant)
    assert [c.doc_id for c in answer.citations][:1] == ["update-memo"]

    again = assistant.index_paths([folder], prune=True)  # nothing changed: nothing re-indexed
    assert sorted(again.unchanged) == ["update", "update-memo", "update-report"] and not again.added

    mail.write_bytes(_update(folder, with_memo=False))  # the memo leaves the mail
    edited = assistant.index_paths([folder], prune=True)
    assert edited.removed == ["update-memo"]
    assert sorted(edited.replaced) == ["update", "update-report"]
    assert all(p.doc_id != "update-memo" for p in assistant.search("quay reopens in June", top_k=5))

    mail.unlink()  # the mail goes, and everything it brought
    gone = assistant.index_paths([folder], prune=True)
    assert sorted(gone.removed) == ["update", "update-report"]
    assert assistant.list_documents() == []


def test_an_mbox_names_each_attachment_by_its_own_message(
    tmp_path: Path, sample_assistant: Assistant
) -> None:
    first = make_eml("Dredging", "Dredging starts in May.\n", [("plan.txt", b"The dredger works at night.")])
    second = make_eml("Lamps", "New lamps arrive.\n", [("plan.txt", b"The lamps are fitted by hand.")])
    (tmp_path / "archive.mbox").write_bytes(b"From a@x Tue\n" + first + b"\nFrom b@x Wed\n" + second)
    assistant = assistant_on(tmp_path / "index", sample_assistant)
    report = assistant.index_paths([tmp_path / "archive.mbox"])
    assert sorted(report.added) == ["archive", "archive-plan", "archive-plan (2)"]
    subjects = {
        assistant.get_document(doc_id).text: assistant.get_document(doc_id).metadata["message"]["subject"]
        for doc_id in ("archive-plan", "archive-plan (2)")
    }
    assert subjects == {"The dredger works at night.": "Dredging", "The lamps are fitted by hand.": "Lamps"}


def test_an_uploaded_mail_brings_its_attachments_and_takes_them_when_deleted(
    tmp_path: Path, sample_assistant: Assistant
) -> None:
    with TestClient(app_on(tmp_path / "index", sample_assistant)) as client:
        job = upload_and_wait(client, "update.eml", _update(tmp_path))
        assert job["status"] == "done", job
        assert job["detail"] == "2 attachments could not be indexed"
        skipped = [item["path"] for item in job["report"]["skipped"]]
        assert sorted(skipped) == ["update.eml#attachment/bad.pptx", "update.eml#attachment/bomb.docx"]
        listed = {d["doc_id"] for d in client.get("/documents").json()["documents"]}
        assert listed == {"update", "update-memo", "update-report"}
        assert client.delete("/documents/update").status_code == 200
        assert client.get("/documents").json()["documents"] == []
        assert not (tmp_path / "index" / "uploads" / "update.eml").exists()
