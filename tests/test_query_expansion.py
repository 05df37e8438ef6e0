"""Query expansion (assistant/retrieval/expansion.py) with the real model, FAISS and FTS5.

A tiny corpus: one passage on exercise and the heart, health passages near it in meaning, two
passages that share the question's words but not its topic, and unrelated ones. The question
("Which activities do doctors advise to keep your cardiovascular system healthy?") shares no
word with its evidence, so keyword search ranks the two look-alikes first; the dense top passages
lend their own words (heart, blood, arteries) to the keyword search, which then finds it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.core import Assistant
from assistant.retrieval.expansion import EXPANSION_TERMS, FEEDBACK_PASSAGES, expanded, salient_terms
from assistant.retrieval.hybrid import retrieve
from assistant.settings import Settings
from assistant.store.lexical import STOPWORDS, content_terms, stem, words

QUESTION = "Which activities do doctors advise to keep your cardiovascular system healthy?"
EVIDENCE = "evidence"
DOCUMENTS = {
    EVIDENCE: "Exercise and the heart\n\nPhysicians recommend brisk walking, swimming and cycling "
    "several times a week. Such aerobic exercise strengthens the heart muscle, lowers blood "
    "pressure and improves circulation in the arteries.",
    "diet": "Diet and the heart\n\nEating vegetables, fish and less salt lowers blood pressure and "
    "the risk of a heart attack. Too much saturated fat narrows the arteries.",
    "sleep": "Sleep and blood pressure\n\nAdults who sleep fewer than six hours a night show higher "
    "blood pressure, and the heart beats faster during the following day.",
    "museum": "Museum guides\n\nThe museum's guides advise visitors which activities to try first, "
    "and the booking system keeps a list of them. Doctors of art history lead the tours.",
    "garden": "Garden club\n\nThe garden club keeps a calendar of activities; its members advise "
    "which bulbs to plant so the flower beds stay healthy through the winter.",
    "bread": "Bread baking\n\nBakers knead the dough, let it rise overnight and bake loaves in a hot "
    "oven until the crust turns golden brown.",
    "danube": "Rivers of Europe\n\nThe Danube flows through ten countries before reaching the Black "
    "Sea, passing Vienna, Budapest and Belgrade on its way.",
    "chess": "Chess openings\n\nThe Sicilian Defence answers the king's pawn with a pawn on the "
    "queen's bishop file, leading to sharp and unbalanced positions.",
}


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    corpus = tmp_path_factory.mktemp("expansion-corpus")
    for name, text in DOCUMENTS.items():
        (corpus / f"{name}.txt").write_text(text + "\n", encoding="utf-8")
    index_dir = tmp_path_factory.mktemp("expansion") / "index"
    assistant = Assistant.open_or_create(index_dir, settings=Settings(index_dir=index_dir))
    assert assistant.index_paths([corpus]).documents == len(DOCUMENTS)
    return index_dir


@pytest.fixture(scope="module")
def assistant(index_dir: Path) -> Assistant:
    return Assistant.load(index_dir, settings=Settings(index_dir=index_dir))


def _with(assistant: Assistant, expansion: str) -> Assistant:
    other = Assistant(assistant.index_dir, Settings(index_dir=assistant.index_dir, query_expansion=expansion))
    other.query_embedder = assistant.query_embedder
    other.refresh()
    return other


def _doc_ids(assistant: Assistant, question: str, top_k: int) -> list[str]:
    return [p.doc_id for p in assistant.search(question, top_k=top_k)]


def test_expansion_adds_a_few_words_of_the_dense_top_passages(assistant: Assistant) -> None:
    snapshot = assistant.snapshot()
    assert snapshot is not None
    vector = assistant.embed_query(QUESTION)
    vector_out, text = expanded(snapshot, (vector, QUESTION))
    assert vector_out is vector
    assert text.startswith(QUESTION)
    added = text[len(QUESTION) :].split()
    assert 0 < len(added) <= EXPANSION_TERMS
    top = retrieve(snapshot, [(vector, QUESTION)], FEEDBACK_PASSAGES, mode="dense")
    top_words = {w for chunk in top for w in words(chunk.row.text)}
    asked = set(content_terms(QUESTION))
    for word in added:
        assert word in top_words, (word, added)
        assert word not in STOPWORDS and stem(word) not in asked, (word, added)


def test_a_question_worded_apart_from_its_evidence_finds_it_with_expansion_on(assistant: Assistant) -> None:
    assert EVIDENCE not in _doc_ids(_with(assistant, "off"), QUESTION, 2)
    assert EVIDENCE in _doc_ids(_with(assistant, "on"), QUESTION, 2)


def test_expansion_is_off_by_default_and_when_set_off(assistant: Assistant) -> None:
    assert Settings().query_expansion == "off"
    snapshot = assistant.snapshot()
    assert snapshot is not None
    vector = assistant.embed_query(QUESTION)
    plain = [c.row.doc_id for c in retrieve(snapshot, [(vector, QUESTION)], 3)]
    assert _doc_ids(_with(assistant, "off"), QUESTION, 3) == plain
    assert _doc_ids(assistant, QUESTION, 3) == plain


def test_a_question_worded_like_its_evidence_is_searched_as_asked(assistant: Assistant) -> None:
    snapshot = assistant.snapshot()
    assert snapshot is not None
    question = "Which exercise lowers blood pressure and strengthens the heart?"
    request = (assistant.embed_query(question), question)
    assert expanded(snapshot, request) is request


def test_salient_terms_are_bounded_and_leave_out_the_question_numbers_and_stop_words() -> None:
    texts = ["Arteries carry blood; the arteries of 2024 and the veins.", "Blood pressure in arteries."]
    frequency = {stem(w): 1 for t in texts for w in words(t)}
    terms = salient_terms(texts, "What carries the blood?", frequency, sentences=100, limit=2)
    assert terms == ["arteries", "pressure"]
    assert salient_terms(texts, "What carries the blood?", frequency, sentences=1) == []
