"""The Store contract: one suite that every backend passes unchanged (tests/test_store_contract.py
runs it against the snapshot store and Milvus Lite).

A subclass provides `settings_for(tmp_path)`: the settings that put an index on its backend.
Everything else goes through the Assistant and the Store Protocol, never a backend's internals.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from assistant.core import Assistant
from assistant.errors import DocumentNotFoundError
from assistant.models import SearchFilters
from assistant.settings import Settings
from assistant.store.lexical import content_terms
from tests.conftest import CORPUS_DIR, EXAMPLE_QUESTION
from tests.helpers import assert_contract

ZARIF = "zarif-how-iran-sees-the-path-to-peace"
PEZESHKIAN = "pezeshkian-foreign-policy-first-year"
ALPHA_OLD = "Alpha\n\nThe alpha reactor produces 40 megawatts of power. It was built near the lake.\n"
ALPHA_NEW = "Alpha\n\nThe alpha reactor now produces 75 megawatts. It was rebuilt after the flood.\n"
BETA = "Beta\n\nThe beta bridge spans the river near the old mill. Its towers are granite.\n"


class StoreContract:
    """What retrieval, the composers, the core and the API rely on, whatever holds the index."""

    @classmethod
    def settings_for(cls, index_dir: Path) -> dict[str, Any]:
        raise NotImplementedError

    @classmethod
    def _assistant(cls, index_dir: Path, shared: Assistant) -> Assistant:
        settings = Settings(index_dir=index_dir, **cls.settings_for(index_dir))
        return Assistant(index_dir, settings, shared.embedder)

    @pytest.fixture(scope="class")
    @classmethod
    def corpus_assistant(
        cls, sample_assistant: Assistant, tmp_path_factory: pytest.TempPathFactory
    ) -> Assistant:
        """The sample corpus indexed once on this backend (read-only tests share it)."""
        assistant = cls._assistant(tmp_path_factory.mktemp("contract") / "index", sample_assistant)
        report = assistant.index_paths([CORPUS_DIR])
        assert sorted(report.added) == [PEZESHKIAN, ZARIF]
        return assistant

    @pytest.fixture()
    def folder_assistant(self, sample_assistant: Assistant, tmp_path: Path) -> tuple[Assistant, Path]:
        """A fresh index of two small documents in a folder the test may change."""
        folder = tmp_path / "docs"
        folder.mkdir()
        (folder / "alpha.txt").write_text(ALPHA_OLD)
        (folder / "beta.txt").write_text(BETA)
        assistant = self._assistant(tmp_path / "index", sample_assistant)
        assert sorted(assistant.index_paths([folder]).added) == ["alpha", "beta"]
        return assistant, folder

    # --- the Answer contract ----------------------------------------------------------------------

    def test_answer_quotes_the_stored_text(self, corpus_assistant: Assistant) -> None:
        answer = corpus_assistant.ask(EXAMPLE_QUESTION)
        assert not answer.abstained
        assert ZARIF in {c.doc_id for c in answer.citations}
        assert "598" in answer.answer
        assert_contract(answer, corpus_assistant)
        view = corpus_assistant.snapshot()
        assert view is not None
        for citation in answer.citations:
            assert view.text_slice(citation.doc_id, citation.start, citation.end) == citation.quote
            assert view.chunk_containing(citation.doc_id, citation.start, citation.end).startswith(
                f"{citation.doc_id}#"
            )

    def test_unanswerable_question_abstains(self, corpus_assistant: Assistant) -> None:
        answer = corpus_assistant.ask("How many people live in Tehran?")
        assert answer.abstained and answer.citations == []

    def test_manifest_counts_and_documents(self, corpus_assistant: Assistant) -> None:
        view = corpus_assistant.snapshot()
        assert view is not None
        assert view.manifest.documents == 2
        assert view.manifest.chunks > 10 and view.manifest.sentences > view.manifest.chunks
        assert [d["doc_id"] for d in view.documents()] == [PEZESHKIAN, ZARIF]
        record = corpus_assistant.get_document(ZARIF)
        assert "Resolution 598" in record.text
        assert view.text_slice(ZARIF, 10, 60) == record.text[10:60]
        meta = view.document_meta([ZARIF, "no-such-doc"])
        assert set(meta) == {ZARIF} and meta[ZARIF].title

    # --- search ------------------------------------------------------------------------------

    def test_search_modes_and_doc_filter(self, corpus_assistant: Assistant) -> None:
        top = corpus_assistant.search("Resolution 598", top_k=3)
        assert ZARIF in {p.doc_id for p in top[:3]}
        for mode in ("dense", "keyword", "hybrid"):
            passages = corpus_assistant.search(
                "regional talks", top_k=4, filters=SearchFilters(doc_ids=[PEZESHKIAN]), mode=mode
            )
            assert passages and {p.doc_id for p in passages} == {PEZESHKIAN}, mode
        view = corpus_assistant.snapshot()
        assert view is not None
        vector = corpus_assistant.embed_query("regional talks")
        assert view.search([(vector, "regional talks")], 5, 20, doc_ids=[]) == []

    def test_chunks_and_sentences_agree_with_the_text(self, corpus_assistant: Assistant) -> None:
        view = corpus_assistant.snapshot()
        assert view is not None
        hits = view.search([(corpus_assistant.embed_query("Resolution 598"), "Resolution 598")], 5, 20)
        rows = view.chunks([i for i, _ in hits])
        assert set(rows) == {i for i, _ in hits}
        text = corpus_assistant.get_document(ZARIF).text
        for row in rows.values():
            if row.doc_id != ZARIF:
                continue
            assert text[row.start : row.end] == row.text
            sentences = view.sentences(ZARIF, row.first_sentence, row.last_sentence)
            assert [s.ord for s in sentences] == list(range(row.first_sentence, row.last_sentence + 1))
            assert all(row.start <= s.start < s.end <= row.end for s in sentences)
            assert sentences[0].embedding.shape == (view.manifest.dimension,)

    # --- term statistics -------------------------------------------------------------------------

    def test_document_frequencies_count_sentences(self, folder_assistant: tuple[Assistant, Path]) -> None:
        assistant, _ = folder_assistant
        view = assistant.snapshot()
        assert view is not None
        expected: dict[str, int] = {}
        for doc_id in ("alpha", "beta"):
            rows = view.sentences(doc_id, 0, 1_000)
            for row in rows:
                for term in set(content_terms(view.text_slice(doc_id, row.start, row.end))):
                    expected[term] = expected.get(term, 0) + 1
        assert view.document_frequencies([*expected, "zzzabsent"]) == expected
        assistant.remove_document("beta")
        after = assistant.snapshot()
        assert after is not None
        assert "bridg" not in after.document_frequencies(["bridg"])
        assert after.document_frequencies(["reactor"]) == view.document_frequencies(["reactor"])

    # --- incremental re-index, replace and remove -------------------------------------------------

    def test_reindexing_unchanged_files_writes_nothing(
        self, folder_assistant: tuple[Assistant, Path]
    ) -> None:
        assistant, folder = folder_assistant
        before = assistant.store.current_name()
        report = assistant.index_paths([folder])
        assert report.embedded_texts == 0 and sorted(report.unchanged) == ["alpha", "beta"]
        assert assistant.store.current_name() == before

    def test_changed_file_is_replaced_and_vanished_file_pruned(
        self, folder_assistant: tuple[Assistant, Path]
    ) -> None:
        assistant, folder = folder_assistant
        (folder / "alpha.txt").write_text(ALPHA_NEW)
        (folder / "beta.txt").unlink()
        report = assistant.index_paths([folder], prune=True)
        assert report.replaced == ["alpha"] and report.removed == ["beta"]
        assert [d.doc_id for d in assistant.list_documents()] == ["alpha"]
        answer = assistant.ask("How many megawatts does the alpha reactor produce?")
        assert "75" in answer.answer and "40" not in answer.answer
        assert_contract(answer, assistant)
        for mode in ("dense", "keyword"):
            passages = assistant.search("beta bridge river mill", top_k=10, mode=mode)
            assert all(p.doc_id != "beta" for p in passages), mode
        view = assistant.snapshot()
        assert view is not None and view.manifest.documents == 1

    def test_removed_document_is_gone_everywhere(self, folder_assistant: tuple[Assistant, Path]) -> None:
        assistant, _ = folder_assistant
        assistant.remove_document("beta")
        with pytest.raises(DocumentNotFoundError):
            assistant.get_document("beta")
        with pytest.raises(DocumentNotFoundError):
            assistant.remove_document("beta")
        for mode in ("dense", "keyword", "hybrid"):
            passages = assistant.search("beta bridge granite towers", top_k=10, mode=mode)
            assert all(p.doc_id != "beta" for p in passages), mode
        view = assistant.snapshot()
        assert view is not None
        assert view.document("beta") is None and view.sentences("beta", 0, 100) == []

    def test_a_failed_write_changes_nothing(self, folder_assistant: tuple[Assistant, Path]) -> None:
        assistant, folder = folder_assistant
        before = assistant.store.current_name()
        view = assistant.snapshot()
        assert view is not None
        with (
            pytest.raises(RuntimeError, match="stop here"),
            assistant.store.writer(copy.deepcopy(view.manifest)) as writer,
        ):
            assert writer.remove_document("beta")
            raise RuntimeError("stop here")
        assert assistant.store.current_name() == before
        assert sorted(d.doc_id for d in assistant.list_documents()) == ["alpha", "beta"]
        # the next write starts from the live version, not from what the failed one left
        (folder / "gamma.txt").write_text("Gamma\n\nThe gamma lighthouse was painted red in 1990.\n")
        report = assistant.index_paths([folder])
        assert report.added == ["gamma"] and sorted(report.unchanged) == ["alpha", "beta"]
        assert sorted(d.doc_id for d in assistant.list_documents()) == ["alpha", "beta", "gamma"]

    # --- consistency -----------------------------------------------------------------------------

    def test_a_reader_keeps_its_version_while_a_writer_commits(
        self, folder_assistant: tuple[Assistant, Path], sample_assistant: Assistant
    ) -> None:
        assistant, folder = folder_assistant
        old = assistant.snapshot()
        assert old is not None
        query = [(assistant.embed_query("beta bridge river"), "beta bridge river")]
        before = old.search(query, 5, 20)
        # another Assistant (its own store connection) replaces alpha and removes beta
        writer = self._assistant(assistant.index_dir, sample_assistant)
        (folder / "alpha.txt").write_text(ALPHA_NEW)
        (folder / "beta.txt").unlink()
        writer.index_paths([folder], prune=True)
        new_name = assistant.store.current_name()
        assert new_name is not None and new_name != old.name
        # the old view still sees beta and the old alpha, and only them
        assert [d["doc_id"] for d in old.documents()] == ["alpha", "beta"]
        assert [i for i, _ in old.search(query, 5, 20)] == [i for i, _ in before]
        assert "beta" in {row.doc_id for row in old.chunks([i for i, _ in before]).values()}
        old_alpha = old.document("alpha")
        assert old_alpha is not None and "40 megawatts" in old_alpha["text"]
        # a view of the new version sees the change
        new = assistant.store.open(new_name)
        assert [d["doc_id"] for d in new.documents()] == ["alpha"]
        new_alpha = new.document("alpha")
        assert new_alpha is not None and "75 megawatts" in new_alpha["text"]
        assert all(
            row.doc_id == "alpha" for row in new.chunks([i for i, _ in new.search(query, 5, 20)]).values()
        )
        new.close()
