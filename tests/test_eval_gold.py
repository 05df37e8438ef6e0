"""Gold-set loading and validation, and the shape and honesty of eval/sample.jsonl."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from assistant.evaluation.errors import GoldSetError
from assistant.evaluation.gold import GoldRecord, check_against_index, load_gold, parse_gold_lines
from assistant.evaluation.metrics import normalize_answer
from tests.conftest import EXAMPLE_QUESTION, REPO_ROOT

SAMPLE = REPO_ROOT / "eval" / "sample.jsonl"
ZARIF = "zarif-how-iran-sees-the-path-to-peace"

GOOD = {"id": "q1", "question": "Why?", "answers": ["x"], "evidence_docs": ["d"], "answerable": True}


def _lines(*records: object) -> list[str]:
    return [r if isinstance(r, str) else json.dumps(r) for r in records]


# ---- loader --------------------------------------------------------------------------------


def test_parse_keeps_extra_fields_and_skips_blank_lines() -> None:
    unanswerable = {"id": "q2", "question": "Who?", "answerable": False, "category": "near-miss"}
    records = parse_gold_lines(_lines(GOOD | {"source": "x"}, "", unanswerable))
    assert [r.id for r in records] == ["q1", "q2"]
    assert records[0].to_json()["source"] == "x"
    assert records[1].category == "near-miss" and records[1].answers == []
    assert records[0].scores_answers and records[0].evidence_quotes == []


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("{not json", ":2: not valid JSON"),
        ("[1, 2]", ":2: expected a JSON object"),
        ({"id": "q2", "answerable": True}, "question"),
        (GOOD | {"id": "q2", "question": "   "}, "must not be blank"),
        (GOOD | {"id": "q2", "answerable": False}, "must have no answers"),
        (GOOD | {"id": "q2", "evidence_docs": []}, "needs at least one evidence_docs"),
        (GOOD | {"id": "q2", "answers": []}, "needs answers (or retrieval_only"),
        (GOOD | {"id": "q2", "answers": [""]}, "blank strings"),
        (GOOD, "duplicate id 'q1' (first on line 1)"),
        (GOOD | {"id": "q2", "answerable": "maybe"}, "answerable"),
    ],
)
def test_invalid_lines_are_named_with_line_numbers(bad: object, message: str) -> None:
    with pytest.raises(GoldSetError) as info:
        parse_gold_lines(_lines(GOOD, bad), source="gold.jsonl")
    assert "gold.jsonl:2" in str(info.value)
    assert message in str(info.value)


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(GoldSetError) as info:
        parse_gold_lines(["{", "{", json.dumps(GOOD), "[]"])
    text = str(info.value)
    assert ":1:" in text and ":2:" in text and ":4:" in text and ":3:" not in text


def test_retrieval_only_records_need_no_answers() -> None:
    record = GoldRecord.model_validate(GOOD | {"answers": [], "retrieval_only": True})
    assert not record.scores_answers


def test_missing_and_empty_files(tmp_path: Path) -> None:
    with pytest.raises(GoldSetError, match="does not exist"):
        load_gold(tmp_path / "nope.jsonl")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n", encoding="utf-8")
    with pytest.raises(GoldSetError, match="holds no questions"):
        load_gold(empty)


# ---- the sample gold set ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample() -> list[GoldRecord]:
    return load_gold(SAMPLE)


def test_sample_set_meets_the_coverage_the_issue_asks_for(sample: list[GoldRecord]) -> None:
    categories = Counter(r.category for r in sample)
    assert len(sample) >= 40
    assert categories["paraphrase"] >= 10
    multi = [r for r in sample if r.category == "multi-doc"]
    assert len(multi) >= 3 and all(len(r.evidence_docs) == 2 for r in multi)
    unanswerable = [r for r in sample if not r.answerable]
    assert len(unanswerable) >= 8
    assert {r.category for r in unanswerable} == {"unanswerable", "near-miss"}
    assert all(r.category for r in sample)
    example = next(r for r in sample if r.question == EXAMPLE_QUESTION)
    assert example.answers == ["Resolution 598"] and example.evidence_docs == [ZARIF]


_STOP = frozenset(
    re.split(
        r"\s+",
        "a an the of in on at to for with by from and or but is are was were be been has have had "
        "do does did what which who whom whose when where why how that this these those it its his "
        "her their they he she as into over after before about than not can could would should will "
        "may must one all any each both other such so also only more most some",
    )
)


def _stems(text: str) -> set[str]:
    """Crude stems (first five letters) of the content words, so 'negotiations' ~ 'negotiate'."""
    return {w[:5] for w in re.findall(r"[a-z0-9]+", text.lower()) if len(w) > 2 and w not in _STOP}


def test_paraphrases_share_no_key_word_with_their_evidence(sample: list[GoldRecord]) -> None:
    paraphrases = [r for r in sample if r.category == "paraphrase"]
    assert all(r.evidence_quotes for r in paraphrases)
    for record in paraphrases:
        for quote in record.evidence_quotes:
            shared = _stems(record.question) & _stems(quote)
            assert not shared, f"{record.id} shares {shared} with its evidence"


def test_sample_quotes_and_answers_are_in_the_stored_text(sample_assistant, sample) -> None:  # type: ignore[no-untyped-def]
    check_against_index(sample, sample_assistant)  # raises on any quote that is not exact text
    for record in (r for r in sample if r.answerable):
        texts = " ".join(
            normalize_answer(sample_assistant.get_document(d).text) for d in record.evidence_docs
        )
        found = [a for a in record.answers if normalize_answer(a) in texts]
        assert found, f"{record.id}: no gold answer occurs in its evidence documents"
        for quote in record.evidence_quotes:
            assert "\n" not in quote, f"{record.id}: quote crosses a line break"


EXACT = "On July 30, Masoud Pezeshkian was sworn in as Iran's new president."


def test_check_against_index_names_missing_docs_and_inexact_quotes(sample_assistant) -> None:  # type: ignore[no-untyped-def]
    records = parse_gold_lines(
        _lines(
            GOOD | {"id": "a", "evidence_docs": ["no-such-doc"]},
            GOOD
            | {
                "id": "b",
                "evidence_docs": [ZARIF],
                "evidence_quotes": ["On July 30, Masoud Pezeshkian was sworn in as president."],
            },
            GOOD | {"id": "c", "evidence_docs": [ZARIF], "evidence_quotes": [EXACT]},
        )
    )
    with pytest.raises(GoldSetError) as info:
        check_against_index(records, sample_assistant)
    text = str(info.value)
    assert "a: evidence doc(s) not in the index: no-such-doc" in text
    assert "b: evidence quote is not exact text" in text
    assert "c:" not in text
