"""Evidence assembly over an in-memory index: antecedents, the author, lists, one citation per run.

The chosen sentences are given directly (as selection would hand them over), so these tests
check what happens after the choice and do not depend on how sentences are scored.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from assistant.compose.evidence import Evidence, compose_answer, gather, runs
from assistant.store import SentenceRow, chunk_key
from tests.unit.fakes import FakeDocument, FakeSnapshot, compose_context

BIO = FakeDocument(
    "essay",
    "A Path to Peace\n\nBy [Jane Q Public](#)\n\nThe region needs talks. We propose a forum.\n\n"
    "- JANE Q PUBLIC is Professor of Law at Example University. She has been the country's envoy "
    "since August 2024. From 2013 to 2021, she served as Foreign Minister of Examplestan.",
)
NEWS = FakeDocument(
    "news",
    "Talks resumed in Geneva on Monday. Maria Lopez, the chief negotiator, arrived late. "
    "Officials met for an hour. From 2010 to 2014, she led the trade ministry. "
    "The delegates brought a plan. They can use the old treaty of 1987 for this. "
    "The council believes this provision can serve as the basis for regional talks.",
)
UNION = FakeDocument(
    "union",
    "Ana Ruiz, a former minister, proposed a southern union of ten states. She likened the union "
    "to the European Union. She said this union could shield the region from conflict.",
)
HEADED = FakeDocument(
    "headed",
    "Normans\n\nThe wars of the sixteenth century destroyed much of this Norman creativity.",
)
LISTS = FakeDocument(
    "lists",
    "The plan has a long history. He anchored the plan on three pillars: deterrence, peace, and "
    "diplomacy. Work on it continued for years.\n\nThe report names the member states below:\n\n"
    "- Iraq, Qatar, and Oman.\n\nThe ministers met in spring.",
)


@dataclass
class Chosen:
    row: SentenceRow
    chunk_id: str
    text: str


@pytest.fixture(scope="module")
def snapshot() -> FakeSnapshot:
    return FakeSnapshot([BIO, NEWS, UNION, HEADED, LISTS])


def chosen(snapshot: FakeSnapshot, doc_id: str, fragment: str) -> Chosen:
    """The sentence of `doc_id` containing `fragment`, as selection would hand it over."""
    text = snapshot.docs[doc_id].text
    for row in snapshot.sentences(doc_id, 0, 10_000):
        if fragment in text[row.start : row.end]:
            return Chosen(row, chunk_key(doc_id, 0), text[row.start : row.end])
    raise AssertionError(f"no sentence of {doc_id} holds {fragment!r}")


def texts(evidence: Evidence, snapshot: FakeSnapshot) -> list[str]:
    return [snapshot.text_slice(p.row.doc_id, p.row.start, p.row.end) for p in evidence.pieces]


def test_a_pronoun_mid_sentence_pulls_in_the_sentence_that_names_the_person(snapshot: FakeSnapshot) -> None:
    evidence = gather([chosen(snapshot, "news", "she led")], "What did she lead?", snapshot)
    found = texts(evidence, snapshot)
    assert any("Maria Lopez" in t for t in found)
    assert found[-1].startswith("From 2010 to 2014, she led")
    # the sentence in between names nobody and is left out: two citations, not one long quote
    assert not any(t.startswith("Officials met") for t in found)
    assert len(runs(evidence.pieces)) == 2
    assert evidence.authors == {}


def test_no_antecedent_when_the_answer_already_names_the_person(snapshot: FakeSnapshot) -> None:
    picked = [chosen(snapshot, "news", "Maria Lopez"), chosen(snapshot, "news", "Officials met")]
    evidence = gather(picked, "Who negotiated?", snapshot)
    assert len(evidence.pieces) == 2


def test_a_name_before_the_pronoun_in_the_same_sentence_resolves_it(snapshot: FakeSnapshot) -> None:
    evidence = gather([chosen(snapshot, "news", "Maria Lopez")], "Who arrived late?", snapshot)
    assert len(evidence.pieces) == 1


def test_the_author_is_named_from_the_byline_when_the_bio_says_she(snapshot: FakeSnapshot) -> None:
    evidence = gather(
        [chosen(snapshot, "essay", "she served as Foreign Minister")], "Who was minister?", snapshot
    )
    assert texts(evidence, snapshot) == ["From 2013 to 2021, she served as Foreign Minister of Examplestan."]
    assert list(evidence.authors.values()) == ["Jane Q Public"]


def test_the_answer_text_names_the_author_outside_the_exact_quote(snapshot: FakeSnapshot) -> None:
    context = compose_context(snapshot, "Who served as Foreign Minister of Examplestan?")
    answer = compose_answer(context, [chosen(snapshot, "essay", "she served as Foreign Minister")], 0.9)
    assert answer.answer.startswith("Jane Q Public (the author): “From 2013 to 2021, she served")
    assert answer.answer.endswith("” [1]")
    citation = answer.citations[0]
    assert citation.quote == snapshot.docs["essay"].text[citation.start : citation.end]


def test_a_demonstrative_anywhere_pulls_in_the_sentence_before(snapshot: FakeSnapshot) -> None:
    evidence = gather([chosen(snapshot, "news", "this provision")], "What is the basis for talks?", snapshot)
    found = texts(evidence, snapshot)
    assert found[1].startswith("They can use the old treaty")
    # that one opens with "They" and leans back too, within MAX_ANTECEDENTS
    assert found[0] == "The delegates brought a plan."
    assert len(found) == 3
    assert len(runs(evidence.pieces)) == 1


def test_a_pronoun_and_a_demonstrative_keep_the_sentences_in_between(snapshot: FakeSnapshot) -> None:
    # "She" is Ana Ruiz, two back; "this union" needs the sentence just before: all three, one run
    evidence = gather(
        [chosen(snapshot, "union", "this union could")], "What was the union likened to?", snapshot
    )
    found = texts(evidence, snapshot)
    assert len(found) == 3
    assert any("European Union" in t for t in found)
    assert len(runs(evidence.pieces)) == 1


def test_a_heading_is_never_pulled_in_as_an_antecedent(snapshot: FakeSnapshot) -> None:
    evidence = gather([chosen(snapshot, "headed", "Norman creativity")], "What destroyed it?", snapshot)
    assert texts(evidence, snapshot) == [
        "The wars of the sixteenth century destroyed much of this Norman creativity."
    ]


def test_a_list_question_keeps_the_sentence_with_the_items(snapshot: FakeSnapshot) -> None:
    picked = [  # the best first, as selection hands them over
        chosen(snapshot, "lists", "three pillars"),
        chosen(snapshot, "lists", "Work on it continued"),
        chosen(snapshot, "lists", "long history"),
    ]
    evidence = gather(picked, "What are the three pillars of the plan?", snapshot)
    found = texts(evidence, snapshot)
    assert any("deterrence, peace, and diplomacy" in t for t in found)
    assert not any(t.startswith("Work on it") for t in found)
    assert len(found) <= 2


def test_a_runner_up_list_of_something_else_does_not_displace_the_best(snapshot: FakeSnapshot) -> None:
    picked = [chosen(snapshot, "lists", "Work on it continued"), chosen(snapshot, "lists", "three pillars")]
    evidence = gather(picked, "What are the three pillars of the plan?", snapshot)
    assert any(t.startswith("Work on it") for t in texts(evidence, snapshot))


def test_a_list_announced_by_a_colon_continues_into_the_next_sentence(snapshot: FakeSnapshot) -> None:
    evidence = gather(
        [chosen(snapshot, "lists", "member states below")], "Which states are members?", snapshot
    )
    found = texts(evidence, snapshot)
    assert len(found) == 2
    assert "Iraq, Qatar, and Oman" in found[1]


def test_every_citation_quotes_the_text_and_marks_the_answer_inside_it(snapshot: FakeSnapshot) -> None:
    context = compose_context(snapshot, "When did she lead the trade ministry?")
    answer = compose_answer(context, [chosen(snapshot, "news", "she led")], 0.8)
    assert [c.marker for c in answer.citations] == [1, 2]
    for citation in answer.citations:
        text = snapshot.docs[citation.doc_id].text
        assert citation.quote == text[citation.start : citation.end]
        assert f"[{citation.marker}]" in answer.answer
    marked = [c for c in answer.citations if c.highlight]
    assert marked, answer.citations
    start, end = marked[-1].highlight or [0, 0]
    assert marked[-1].start <= start < end <= marked[-1].end
    assert snapshot.docs["news"].text[start:end] == "From 2010 to 2014"


def test_no_antecedent_when_the_question_names_the_person(snapshot: FakeSnapshot) -> None:
    # "she" is Maria Lopez, whom the question names: the sentence naming her adds nothing asked
    evidence = gather([chosen(snapshot, "news", "she led")], "Which ministry did Maria Lopez lead?", snapshot)
    assert texts(evidence, snapshot) == ["From 2010 to 2014, she led the trade ministry."]


def test_the_answer_opens_with_the_best_sentence_and_its_antecedents_follow(snapshot: FakeSnapshot) -> None:
    context = compose_context(snapshot, "What was the union likened to?")
    answer = compose_answer(context, [chosen(snapshot, "union", "She likened")], 0.8)
    lead, *rest = answer.citations
    assert lead.quote == "She likened the union to the European Union."
    assert answer.answer.startswith("She likened the union")
    named = "Ana Ruiz, a former minister, proposed a southern union of ten states."
    assert [c.quote for c in rest] == [named]


def test_a_runner_up_before_the_best_sentence_follows_it(snapshot: FakeSnapshot) -> None:
    # adjacent sentences, the best one second in reading order: two citations, the best first
    picked = [chosen(snapshot, "news", "Officials met"), chosen(snapshot, "news", "Maria Lopez")]
    answer = compose_answer(compose_context(snapshot, "How long did officials meet?"), picked, 0.8)
    assert [c.quote for c in answer.citations] == [
        "Officials met for an hour.",
        "Maria Lopez, the chief negotiator, arrived late.",
    ]
