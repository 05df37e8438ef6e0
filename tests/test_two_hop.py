"""Two-hop answers end to end: the real model, a real index of one HotpotQA question's ten
Wikipedia paragraphs (the bundled dev sample), and the bridge search of compose/bridge.py.

"Where is the company that Sachin Warrier worked for as a software engineer headquartered?" The
first search finds his paragraph ("a software engineer in Tata Consultancy Services"); the
headquarters are in the company's own paragraph, which the second search, for the bridge name,
finds. Asserted: the answer cites both paragraphs and says where; without the second hop it
cannot.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from assistant.compose.bridge import bridges, describes_entity
from tests.conftest import REPO_ROOT
from tests.helpers import assert_contract, assistant_on

SAMPLE = REPO_ROOT / "eval" / "datasets" / "hotpotqa" / "hotpot_dev_distractor_v1.json"
QUESTION_ID = "5a74106b55429979e288289e"


@pytest.fixture(scope="module")
def hotpot_question(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    """The question and a folder with its context paragraphs, one file per paragraph."""
    question = next(q for q in json.loads(SAMPLE.read_text(encoding="utf-8")) if q["_id"] == QUESTION_ID)
    folder = tmp_path_factory.mktemp("hotpot-corpus")
    for k, (title, sentences) in enumerate(question["context"]):
        (folder / f"p{k:02d}.txt").write_text(f"{title}\n\n{''.join(sentences).strip()}\n", encoding="utf-8")
    return question, folder


@pytest.fixture(scope="module")
def hotpot_index(
    hotpot_question: tuple[dict[str, Any], Path], sample_assistant: Any, tmp_path_factory: Any
) -> Path:
    index_dir = tmp_path_factory.mktemp("hotpot") / "index"
    assistant = assistant_on(index_dir, sample_assistant)
    report = assistant.index_paths([hotpot_question[1]])
    assert report.documents == 10, report
    return index_dir


def _titles(answer: Any) -> set[str]:
    return {c.title for c in answer.citations}


def test_the_bridge_answer_cites_the_person_and_the_company(
    hotpot_question: tuple[dict[str, Any], Path], hotpot_index: Path, sample_assistant: Any
) -> None:
    question = hotpot_question[0]
    assistant = assistant_on(hotpot_index, sample_assistant)
    answer = assistant.ask(question["question"])
    assert not answer.abstained, answer.answer
    assert_contract(answer, assistant)
    assert {"Sachin Warrier", "Tata Consultancy Services"} <= _titles(answer), answer.answer
    assert question["answer"] in answer.answer  # Mumbai
    # the company's passage was found by the second search and is listed with the first ones
    assert "Tata Consultancy Services" in {p.title for p in answer.passages}


def test_without_the_second_hop_the_answer_lacks_the_headquarters(
    hotpot_question: tuple[dict[str, Any], Path], hotpot_index: Path, sample_assistant: Any
) -> None:
    assistant = assistant_on(hotpot_index, sample_assistant, two_hop=False)
    answer = assistant.ask(hotpot_question[0]["question"])
    assert hotpot_question[0]["answer"] not in answer.answer, answer.answer


def test_bridge_names_come_from_the_best_sentence_and_skip_modifiers() -> None:
    question = (
        "What government position was held by the woman who portrayed Corliss Archer "
        "in the film Kiss and Tell?"
    )
    sentences = [
        "Kiss and Tell is a 1945 American comedy film starring then 17-year-old Shirley Temple "
        "as Corliss Archer.",
        "Meet Corliss Archer ran from January 7, 1943 to September 30, 1956.",
    ]
    found = bridges(question, sentences, [2.0, 1.0])
    assert found and found[0].name == "Shirley Temple"
    assert "American" not in [b.name for b in found]  # "American comedy film": a modifier
    # the second search asks for the name with what the bridge sentence left unanswered
    assert found[0].query.startswith("Shirley Temple ")
    assert "government" in found[0].query and "Kiss" not in found[0].query
    assert describes_entity(question)
    assert not describes_entity("When did the Normans conquer England?")


def test_no_bridge_when_the_sentence_covers_the_whole_question() -> None:
    question = "When did Shirley Temple star in Kiss and Tell?"
    sentence = "Shirley Temple starred in Kiss and Tell, directed by Richard Wallace, in 1945."
    assert bridges(question, [sentence], [1.0]) == []
