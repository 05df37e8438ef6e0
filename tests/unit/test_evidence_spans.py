"""The text rules of evidence assembly: references, lists, bylines and the answer-bearing span."""

from __future__ import annotations

import pytest

from assistant.compose.answer_types import answer_type
from assistant.compose.evidence import (
    answer_span,
    asks_for_list,
    holds_list,
    known_names,
    names_someone,
    refers_back,
    unresolved_person,
)
from assistant.ingest.loaders import byline_author


def span_text(question: str, sentence: str) -> str | None:
    span = answer_span(answer_type(question), sentence, question)
    return sentence[span[0] : span[1]] if span else None


@pytest.mark.parametrize(
    ("question", "sentence", "expected"),
    [
        (
            "When was Masoud Pezeshkian sworn in as president?",
            "On July 30, Masoud Pezeshkian was sworn in as Iran's new president.",
            "July 30",
        ),
        (
            "When was he ambassador to the United Nations?",
            "He was Chief Nuclear Negotiator from 2013 to 2015 and Ambassador to the United Nations "
            "from 2002 to 2007.",
            "from 2002 to 2007",
        ),
        (
            "How many countries would the union include?",
            "He called for a union with 25 countries, led by five major regional powers.",
            "25 countries",
        ),
        (
            "Who called for forming a South West Union?",
            "On July 8, Mohsen Rezaei, former commander of the Islamic Revolution Guard Corps, called "
            "for forming a South West Union led by Egypt, Saudi Arabia, and Turkey.",
            "Mohsen Rezaei",
        ),
        (
            "Where does Zarif teach?",
            "MOHAMMAD JAVAD ZARIF is Associate Professor of Global Studies at University of Tehran.",
            "University of Tehran",
        ),
        (
            "How many tons of dust fell on the basin in 2010?",
            "In 2010, after the 2005 drought, 27 million tons fell on the basin.",
            "27 million tons",
        ),
        (
            "How many members joined in ten years?",
            "In ten years 5,792 members joined.",
            "5,792 members",
        ),
        (
            "Who founded the company?",
            "When Corliss arrived, the company was founded by Thomas S. Ricketts, a banker.",
            "Thomas S. Ricketts",
        ),
        ("What does the plan say?", "On July 30 the plan was published.", None),
        ("When did it happen?", "Nobody knows why it happened.", None),
    ],
)
def test_the_answer_bearing_span(question: str, sentence: str, expected: str | None) -> None:
    assert span_text(question, sentence) == expected


def test_refers_back_anywhere_but_not_to_the_calendar() -> None:
    assert refers_back("The administration believes this provision can serve as the legal basis.")
    assert refers_back("However, the talks failed.")
    assert not refers_back("Talks will resume this year in Geneva.")
    assert not refers_back("Proper equipment such as harnesses can curtail the risk.")
    # the noun was named earlier in the same sentence: nothing to fetch
    assert not refers_back("Papers criticized the graph, and the criticisms in these papers were refuted.")


def test_a_person_pronoun_needs_a_name_before_it() -> None:
    assert unresolved_person("From 2013 to 2021, he served as Foreign Minister of Iran.")
    assert not unresolved_person("On Monday, Maria Lopez said she would attend.")
    assert not unresolved_person("The talks resumed on Monday.")


def test_a_lone_first_word_names_someone_only_when_seen_as_a_name_nearby() -> None:
    assert not names_someone("Officials met for an hour.")
    known = known_names(["But Pezeshkian is well prepared for the difficulties."])
    assert names_someone("Pezeshkian recognizes that the world is changing.", known)
    assert names_someone("MOHAMMAD JAVAD ZARIF is Associate Professor at University of Tehran.")
    assert not names_someone("He has been Vice President for Strategic Affairs since August 2024.")


def test_list_questions_and_list_sentences() -> None:
    assert asks_for_list("What are the three pillars of Pezeshkian's foreign policy?")
    assert asks_for_list("Which countries has the president visited?")
    assert not asks_for_list("Which process does Zarif suggest Iran could imitate?")
    assert not asks_for_list("When was the president sworn in?")
    assert holds_list(
        "He anchored foreign policy on three strategic pillars: deterrence, peace, and diplomacy."
    )
    assert holds_list("Trips to countries such as Iraq, Qatar, and Oman stand as symbols.")
    assert not holds_list("Iran, under its new administration, plans to improve relations.")


@pytest.mark.parametrize(
    ("head", "author"),
    [
        (
            "How Iran Sees the Path to Peace\n\nBy [Mohammad Javad Zarif](#)\n\nDecember 2, 2024",
            "Mohammad Javad Zarif",
        ),
        ("Title\n\n**By Ann Lee**\n\nText.", "Ann Lee"),
        ("Title\n\nBy the way, it rained all day.\n", None),
        ("Title\n\nNo byline here.\n", None),
    ],
)
def test_byline_author(head: str, author: str | None) -> None:
    assert byline_author(head) == author
