"""End-to-end tests of the core with the real model, real FAISS and real SQLite."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from assistant.core import Assistant
from assistant.errors import (
    DocumentNotFoundError,
    IndexCorruptError,
    IndexNotFoundError,
    InvalidQuestionError,
    ModelMismatchError,
)
from assistant.models import SearchFilters
from assistant.settings import Settings
from tests.conftest import CORPUS_DIR, EXAMPLE_QUESTION
from tests.helpers import assert_contract

ZARIF = "zarif-how-iran-sees-the-path-to-peace"


def test_example_question_cites_resolution_598(sample_assistant: Assistant) -> None:
    answer = sample_assistant.ask(EXAMPLE_QUESTION)
    assert not answer.abstained
    assert "Resolution 598" in answer.answer
    assert any(c.doc_id == ZARIF and "598" in c.quote for c in answer.citations)
    assert_contract(answer, sample_assistant)
    assert {"embed", "retrieve", "compose", "total"} <= set(answer.timings_ms)


@pytest.mark.parametrize(
    "question",
    [
        "Who won the 2022 FIFA World Cup?",
        "How many people live in Tehran?",
        "What is the recipe for a chocolate cake?",
    ],
)
def test_unanswerable_questions_abstain(sample_assistant: Assistant, question: str) -> None:
    answer = sample_assistant.ask(question)
    assert answer.abstained, answer.answer
    assert answer.citations == []
    assert answer.passages, "an abstention still shows the closest passages"


def test_a_date_question_without_a_likely_dated_sentence_abstains(sample_assistant: Assistant) -> None:
    # the corpus names Zarif and his posts, never his birth: the best sentence (his bio) has no
    # date and the dated sentences are far less likely (logit margin 0.76 below the share)
    answer = sample_assistant.ask("When was Mohammad Javad Zarif born?")
    assert answer.abstained, answer.answer
    assert answer.confidence == 0.0
    dated = sample_assistant.ask("When was Masoud Pezeshkian sworn in as president?")
    assert not dated.abstained and dated.confidence and dated.confidence > 0.5


def test_search_ranks_the_keyword_match_first(sample_assistant: Assistant) -> None:
    passages = sample_assistant.search("Resolution 598", top_k=3)
    assert passages[0].doc_id == ZARIF
    assert "598" in passages[0].text


def test_search_modes_and_doc_filter(sample_assistant: Assistant) -> None:
    other = "pezeshkian-foreign-policy-first-year"
    for mode in ("dense", "keyword", "hybrid"):
        passages = sample_assistant.search(
            "regional talks", top_k=4, filters=SearchFilters(doc_ids=[other]), mode=mode
        )
        assert passages and {p.doc_id for p in passages} == {other}


def test_langchain_retriever_returns_documents_with_metadata(sample_assistant: Assistant) -> None:
    from langchain_core.retrievers import BaseRetriever

    retriever = sample_assistant.as_retriever(top_k=2)
    assert isinstance(retriever, BaseRetriever)
    docs = retriever.invoke("Resolution 598")
    assert len(docs) == 2
    assert docs[0].metadata["doc_id"] == ZARIF
    assert {"chunk_id", "start", "end", "title", "score"} <= set(docs[0].metadata)


@pytest.mark.parametrize("question", ["", "   \n\t", "x" * 100_000])
def test_bad_questions_get_clear_errors(sample_assistant: Assistant, question: str) -> None:
    with pytest.raises(InvalidQuestionError) as info:
        sample_assistant.ask(question)
    assert "question" in str(info.value)


def test_missing_index_names_the_build_command(tmp_path: Path) -> None:
    with pytest.raises(IndexNotFoundError, match="assistant index build"):
        Assistant.load(tmp_path / "nowhere")


def test_different_model_is_a_clear_error(sample_index_dir: Path) -> None:
    settings = Settings(index_dir=sample_index_dir, embedding_model="some/other-model")
    with pytest.raises(ModelMismatchError, match="ASSISTANT_EMBEDDING_MODEL"):
        Assistant.load(sample_index_dir, settings=settings)


def test_reindexing_unchanged_folder_embeds_nothing(mutable_index_dir: Path) -> None:
    assistant = Assistant.load(mutable_index_dir, settings=Settings(index_dir=mutable_index_dir))
    report = assistant.index_paths([CORPUS_DIR])
    assert report.embedded_texts == 0
    assert sorted(report.unchanged) == sorted(d.doc_id for d in assistant.list_documents())
    assert report.added == report.replaced == []


def test_changed_file_is_replaced_and_vanished_file_pruned(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "alpha.txt").write_text("Alpha\n\nThe alpha reactor produces 40 megawatts of power.\n")
    (folder / "beta.txt").write_text("Beta\n\nThe beta bridge spans the river near the old mill.\n")
    index_dir = tmp_path / "index"
    assistant = Assistant.open_or_create(index_dir, settings=Settings(index_dir=index_dir))
    first = assistant.index_paths([folder])
    assert sorted(first.added) == ["alpha", "beta"]

    (folder / "alpha.txt").write_text("Alpha\n\nThe alpha reactor now produces 75 megawatts.\n")
    (folder / "beta.txt").unlink()
    second = assistant.index_paths([folder], prune=True)
    assert second.replaced == ["alpha"]
    assert second.removed == ["beta"]
    assert [d.doc_id for d in assistant.list_documents()] == ["alpha"]
    answer = assistant.ask("How many megawatts does the alpha reactor produce?")
    assert "75" in answer.answer and "40" not in answer.answer
    assert_contract(answer, assistant)


def test_remove_document_from_dense_and_keyword_search(mutable_index_dir: Path) -> None:
    assistant = Assistant.load(mutable_index_dir, settings=Settings(index_dir=mutable_index_dir))
    assistant.remove_document(ZARIF)
    for mode in ("dense", "keyword"):
        passages = assistant.search("Resolution 598 Security Council", top_k=20, mode=mode)
        assert all(p.doc_id != ZARIF for p in passages), mode
    with pytest.raises(DocumentNotFoundError):
        assistant.get_document(ZARIF)
    with pytest.raises(DocumentNotFoundError):
        assistant.remove_document(ZARIF)
    # a second Assistant over the same folder sees the removal too
    other = Assistant.load(mutable_index_dir, settings=Settings(index_dir=mutable_index_dir))
    assert [d.doc_id for d in other.list_documents()] == ["pezeshkian-foreign-policy-first-year"]


def test_new_snapshot_is_picked_up_by_a_running_assistant(mutable_index_dir: Path) -> None:
    reader = Assistant.load(mutable_index_dir, settings=Settings(index_dir=mutable_index_dir))
    writer = Assistant.load(mutable_index_dir, settings=Settings(index_dir=mutable_index_dir))
    extra = mutable_index_dir.parent / "extra"
    extra.mkdir()
    (extra / "harbour.txt").write_text("The harbour of Bandar Abbas handles most container traffic.\n")
    writer.index_paths([extra])
    assert "harbour" in {d.doc_id for d in reader.list_documents()}


def test_damaged_vector_file_is_reported_with_the_fix(mutable_index_dir: Path) -> None:
    name = (mutable_index_dir / "CURRENT").read_text().strip()
    vectors = mutable_index_dir / "snapshots" / name / "vectors.faiss"
    data = vectors.read_bytes()
    vectors.write_bytes(data[: len(data) // 2])
    with pytest.raises(IndexCorruptError, match="--rebuild"):
        Assistant.load(mutable_index_dir, settings=Settings(index_dir=mutable_index_dir))
    # and the advertised fix works
    fresh = Assistant(mutable_index_dir, Settings(index_dir=mutable_index_dir))
    report = fresh.index_paths([CORPUS_DIR], rebuild=True)
    assert report.documents == 2
    assert not fresh.ask(EXAMPLE_QUESTION).abstained


def test_bad_files_are_skipped_and_good_ones_indexed(tmp_path: Path) -> None:
    folder = tmp_path / "mixed"
    folder.mkdir()
    shutil.copy(CORPUS_DIR / f"{ZARIF}.txt", folder)
    (folder / "empty.txt").write_text("")
    (folder / "binary.txt").write_bytes(bytes(range(256)) * 20)
    (folder / "latin1.txt").write_bytes("Café society in Montréal, naïve façade.\n".encode("latin-1"))
    (folder / "corrupt.pdf").write_bytes(b"%PDF-1.4 this is not really a pdf")
    (folder / "notes.xyz").write_text("unsupported")
    _write_encrypted_pdf(folder / "locked.pdf")

    index_dir = tmp_path / "index"
    assistant = Assistant.open_or_create(index_dir, settings=Settings(index_dir=index_dir))
    report = assistant.index_paths([folder])
    assert sorted(report.added) == sorted([ZARIF, "latin1"])
    reasons = {Path(s.path).name: s.reason for s in report.skipped}
    assert set(reasons) == {"empty.txt", "binary.txt", "corrupt.pdf", "notes.xyz", "locked.pdf"}
    assert "encrypted" in reasons["locked.pdf"]
    assert "unsupported" in reasons["notes.xyz"]
    assert "Café" in assistant.get_document("latin1").text


def _write_encrypted_pdf(path: Path) -> None:
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    writer.encrypt(user_password="secret-pass", owner_password="owner-pass")
    with open(path, "wb") as handle:
        writer.write(handle)
