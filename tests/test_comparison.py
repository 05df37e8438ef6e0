"""Comparison questions end to end: the real model, a real index of a small corpus made here
(bands and people with nationality and years, one document each, and a distractor), and
compose/comparison.py. Asserted: "Yes."/"No." or the chosen side, with both sides' sentences
cited and every quote the stored text; a side without a document gives no confident yes/no.
"""

from __future__ import annotations

from typing import Any

import pytest

from assistant.core import Assistant
from assistant.models import Answer
from tests.helpers import assert_contract, assistant_on

DOCUMENTS = {
    "harrow-lane.txt": "Harrow Lane\n\nHarrow Lane is a Canadian indie rock band formed in Halifax, Nova "
    "Scotia in 1994. The band has 5 members and released four studio albums before a hiatus in 2009.\n",
    "velvet-finches.txt": "The Velvet Finches\n\nThe Velvet Finches are a Canadian folk band from "
    "Winnipeg, Manitoba, formed in 2003. The band has 3 members, and its second album was recorded in "
    "a converted church.\n",
    "marisol-quay.txt": "Marisol Quay\n\nMarisol Quay is an Australian synth-pop duo formed in Perth in "
    "1999. The duo has toured Europe twice.\n",
    "ottilie-brandt.txt": "Ottilie Brandt\n\nOttilie Brandt (born 3 May 1931) is a German sculptor known "
    "for large bronze figures. She taught at the academy in Munich for twenty years.\n",
    "casimir-velde.txt": "Casimir Velde\n\nCasimir Velde (born 12 November 1958) is a Dutch architect who "
    "designed several harbour buildings in Rotterdam.\n",
    "folk-festivals.txt": "Folk festivals\n\nFolk festivals in Canada draw bands from many countries. "
    "Most festivals are held in summer, in parks or on fairgrounds.\n",
}


@pytest.fixture(scope="module")
def assistant(sample_assistant: Assistant, tmp_path_factory: pytest.TempPathFactory) -> Assistant:
    folder = tmp_path_factory.mktemp("comparison-corpus")
    for name, text in DOCUMENTS.items():
        (folder / name).write_text(text, encoding="utf-8")
    index_dir = tmp_path_factory.mktemp("comparison") / "index"
    built = assistant_on(index_dir, sample_assistant)
    assert built.index_paths([folder]).documents == len(DOCUMENTS)
    return assistant_on(index_dir, sample_assistant)


def _cited_titles(answer: Answer) -> set[str]:
    return {c.title for c in answer.citations}


@pytest.mark.parametrize(
    ("question", "lead", "titles"),
    [
        (
            "Are Harrow Lane and The Velvet Finches both from Canada?",
            "Yes.",
            {"Harrow Lane", "The Velvet Finches"},
        ),
        (
            "Were Harrow Lane and Marisol Quay of the same nationality?",
            "No.",
            {"Harrow Lane", "Marisol Quay"},
        ),
        (
            "Were Harrow Lane and The Velvet Finches of the same nationality?",
            "Yes.",
            {"Harrow Lane", "The Velvet Finches"},
        ),
        ("Is Ottilie Brandt older than Casimir Velde?", "Yes.", {"Ottilie Brandt", "Casimir Velde"}),
        ("Is Casimir Velde older than Ottilie Brandt?", "No.", {"Ottilie Brandt", "Casimir Velde"}),
        (
            "Which band was formed first, Harrow Lane or The Velvet Finches?",
            "Harrow Lane.",
            {"Harrow Lane", "The Velvet Finches"},
        ),
        (
            "Which band has more members, The Velvet Finches or Harrow Lane?",
            "Harrow Lane.",
            {"Harrow Lane", "The Velvet Finches"},
        ),
        (
            "Which duo is Australian, Marisol Quay or Harrow Lane?",
            "Marisol Quay.",
            {"Marisol Quay", "Harrow Lane"},
        ),
    ],
)
def test_a_comparison_is_answered_from_both_sides(
    assistant: Assistant, question: str, lead: str, titles: set[str]
) -> None:
    answer = assistant.ask(question)
    assert answer.answer.startswith(f"{lead} "), answer.answer
    assert titles <= _cited_titles(answer), answer.answer
    assert_contract(answer, assistant)


def test_a_no_from_a_missing_property_is_tentative(assistant: Assistant) -> None:
    # the sentences do not say "not jazz": they only fail to say jazz, so the "No." is unsure
    answer = assistant.ask("Are Harrow Lane and The Velvet Finches both jazz bands?")
    assert answer.answer.startswith("No. "), answer.answer
    assert answer.tentative
    assert {"Harrow Lane", "The Velvet Finches"} <= _cited_titles(answer)
    assert_contract(answer, assistant)


@pytest.mark.parametrize(
    "question",
    [
        "Are Harrow Lane and Zephyrine Okafor both from Canada?",
        "Is Ottilie Brandt older than Zephyrine Okafor?",
    ],
)
def test_a_side_without_evidence_gets_no_confident_yes_or_no(assistant: Assistant, question: str) -> None:
    answer: Any = assistant.ask(question)
    assert not answer.answer.startswith(("Yes.", "No.")), answer.answer
    assert answer.abstained or answer.tentative, answer.answer
    assert_contract(answer, assistant)
