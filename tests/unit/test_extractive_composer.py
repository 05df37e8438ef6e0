"""The extractive composer over a fake snapshot: quotes, markers, abstention, antecedents, selection."""

from __future__ import annotations

import re

import numpy as np
import pytest

from assistant.compose.candidate import Candidate
from assistant.compose.extractive import ExtractiveComposer, _select
from assistant.models import Answer
from assistant.store import SentenceRow
from tests.unit.conftest import HARBOUR
from tests.unit.fakes import FakeDocument, FakeEmbedder, FakeSnapshot, compose_context

#: low enough that any question with a fitting sentence is answered: these tests are about
#: what an answer holds; when to abstain is the calibrated threshold's job (tested below)
ANSWER_ALWAYS = -1.0
#: a threshold stricter than the policy's, for near misses the model is unsure about
STRICT_THRESHOLD = 0.6


def ask(snapshot: FakeSnapshot, question: str, threshold: float = ANSWER_ALWAYS, **kwargs: int) -> Answer:
    return ExtractiveComposer(**kwargs).compose(compose_context(snapshot, question), threshold)


def assert_contract(answer: Answer, snapshot: FakeSnapshot) -> None:
    """Every [n] has a citation, every citation is used, every quote is the text at its offsets."""
    markers = [int(m) for m in re.findall(r"\[(\d+)\]", answer.answer)]
    assert sorted(set(markers)) == [c.marker for c in answer.citations]
    for citation in answer.citations:
        assert snapshot.docs[citation.doc_id].text[citation.start : citation.end] == citation.quote
        assert citation.title == snapshot.docs[citation.doc_id].title
        assert citation.chunk_id.startswith(citation.doc_id + "#")


@pytest.mark.parametrize(
    "question",
    [
        "What legal basis is proposed for regional talks?",
        "How many lamp posts needed new fittings?",
        "When was the harbour survey completed?",
        "Who gave the secretary-general a mandate?",
    ],
)
def test_quotes_slice_the_text_and_markers_match_citations(snapshot: FakeSnapshot, question: str) -> None:
    answer = ask(snapshot, question)
    assert not answer.abstained and answer.citations
    assert_contract(answer, snapshot)
    assert answer.question == question


def test_the_answer_quotes_the_sentence_that_answers(snapshot: FakeSnapshot) -> None:
    answer = ask(snapshot, "How many lamp posts needed new fittings?")
    assert [c.doc_id for c in answer.citations] == [HARBOUR.doc_id]
    assert answer.citations[0].quote == (
        "The survey found that 412 lamp posts along the northern quay needed new fittings."
    )


def test_a_sentence_opening_they_leads_and_the_one_before_it_follows(snapshot: FakeSnapshot) -> None:
    answer = ask(snapshot, "What legal basis is proposed for regional talks?")
    lead, antecedent = answer.citations
    assert lead.quote.startswith("They can use")
    assert lead.quote.endswith("the legal basis for regional talks.")
    assert antecedent.quote.startswith("In 1987 the Security Council gave")
    # two citations of adjacent text: the answer opens with the sentence that answers
    assert antecedent.doc_id == lead.doc_id and antecedent.end <= lead.start
    assert answer.answer.index("They can use") < answer.answer.index("Resolution 598")


def test_a_sentence_that_stands_alone_comes_without_its_neighbour(snapshot: FakeSnapshot) -> None:
    answer = ask(snapshot, "How many lamp posts needed new fittings?")
    assert "Valmora" not in answer.answer


def test_nothing_of_the_kind_asked_for_is_an_abstention(snapshot: FakeSnapshot) -> None:
    # the talks document is about the question, but holds no count of delegates: the calibrated
    # model gives it a far lower chance than a question the text answers ("412 lamp posts"),
    # though not below the policy's threshold, which favours answering (docs/answer-model.md)
    answered = ask(snapshot, "How many lamp posts needed new fittings?")
    context = compose_context(snapshot, "How many delegates attended the regional talks?")
    answer = ExtractiveComposer().compose(context, STRICT_THRESHOLD)
    assert answer.abstained
    assert answer.confidence is not None and answered.confidence is not None
    assert answer.confidence < answered.confidence - 0.2
    assert answer.citations == []
    assert "[" not in answer.answer
    assert answer.passages == context.passages != [], "an abstention still shows the closest passages"


def test_a_question_about_something_the_documents_never_name_is_less_certain(snapshot: FakeSnapshot) -> None:
    named = ask(snapshot, "How many lamp posts in Valmora needed new fittings?")
    unknown = ask(snapshot, "How many lamp posts in Oslo needed new fittings?")
    assert named.confidence is not None and unknown.confidence is not None
    # the same words but one name, and "Oslo" occurs nowhere in the evidence: not a float
    # near-tie (the hand-set scorer takes 0.4 off for it; measured 0.80 vs 0.40)
    assert unknown.confidence < named.confidence


def test_one_of_two_identical_sentences_is_cited(embedder: FakeEmbedder) -> None:
    sentence = "The survey found that 412 lamp posts along the northern quay needed new fittings."
    copies = FakeSnapshot(
        [FakeDocument("first", f"{sentence}\n", "First"), FakeDocument("second", f"{sentence}\n", "Second")],
        embedder,
    )
    answer = ask(copies, "How many lamp posts needed new fittings?")
    assert len(answer.citations) == 1
    assert answer.answer.count("412") == 1


def test_max_sentences_bounds_the_answer(embedder: FakeEmbedder) -> None:
    text = (
        "Lamp posts on the quay were counted in 2021. "
        "Lamp posts on the pier were counted in 2022. "
        "Lamp posts on the beach were counted in 2023.\n"
    )
    snapshot = FakeSnapshot([FakeDocument("counts", text, "Counts")], embedder)
    for limit in (1, 2):
        answer = ask(snapshot, "When were lamp posts counted?", max_sentences=limit)
        assert_contract(answer, snapshot)
        quoted = sum(c.quote.count("were counted") for c in answer.citations)
        assert 1 <= quoted <= limit


def _candidate(ordinal: int, text: str, score: float, fits: bool) -> Candidate:
    vector = np.zeros(4)
    vector[ordinal % 4] = 1.0  # distinct sentences: no two are duplicates
    row = SentenceRow("doc", ordinal, 0, len(text), vector)
    return Candidate(row, "doc#0", text, 0.5, 0.5, fits, score=score)


def test_a_date_question_is_answered_by_a_likely_sentence_with_a_date_or_refused() -> None:
    undated = _candidate(0, "Zarif is a professor of global studies.", 2.0, fits=False)
    dated = _candidate(1, "Zarif was appointed in 2013.", 1.0, fits=True)
    # the dated sentence is e^-1 (37 %) as likely as the best: at a share of 0.25 it answers
    chosen = _select([undated, dated], 3, 0.25, "When was Zarif appointed?")
    assert chosen[0] is dated
    # at a share of 0.5 it is not likely enough, and no sentence is chosen
    assert _select([undated, dated], 3, 0.5, "When was Zarif appointed?") == []
    # a question that asks for no date or number keeps the best sentence
    assert _select([undated, dated], 3, 0.5, "What does Zarif teach?")[0] is undated
