"""Every eval metric on hand-made inputs whose values were worked out by hand."""

from __future__ import annotations

import math

import pytest

from assistant.evaluation import metrics as m
from assistant.evaluation.calibrate import Observation, best_threshold, summarize, sweep
from assistant.evaluation.gold import GoldRecord
from assistant.evaluation.runner import (
    METRIC_NAMES,
    QuestionResult,
    aggregate,
    aggregate_by_category,
    score_answer,
    score_retrieval,
)
from assistant.models import Answer, Citation, Passage

# ---- answer normalisation and accuracy -----------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("The  Helsinki process!", "helsinki process"),
        ("an Apple, a pear; the end.", "apple pear end"),
        ("U.S.-Iran talks", "usiran talks"),
        ("Theatre then", "theatre then"),  # articles only as whole words
        ("", ""),
    ],
)
def test_normalize_answer_matches_squad_rules(raw: str, normalised: str) -> None:
    assert m.normalize_answer(raw) == normalised


def test_answer_is_correct_is_case_punctuation_and_article_insensitive() -> None:
    text = "They can use the mandate under resolution 598. [1]"
    assert m.answer_is_correct(text, ["Resolution 598"])
    assert m.answer_is_correct(text, ["nope", "the Resolution-598"]) is False  # hyphen glues
    assert m.answer_is_correct("Deterrence, peace, and diplomacy [2]", ["deterrence, peace and diplomacy"])
    assert not m.answer_is_correct(text, ["Resolution 242"])


def test_answer_is_correct_ignores_markers_and_empty_gold() -> None:
    assert not m.answer_is_correct("See [1] and [2].", ["1"])
    assert not m.answer_is_correct("the a an", ["the"])  # normalises to nothing: never a match
    assert not m.answer_is_correct("anything", [])


@pytest.mark.parametrize(
    ("text", "gold", "correct"),
    [
        ("Yes. Both are American [1] [2]", "yes", True),
        ("[1] No, they are not. [2]", "no", True),
        ("yes", "Yes", True),
        ("No. [1]", "yes", False),
        # the word inside a quote is not the answer: only the leading word counts
        ("He is known as a director and was not born there. [1]", "no", False),
        ("Nobody knows. [1]", "no", False),
        ("The band said yes to the tour. [1]", "yes", False),
        ("Yesterday it rained. [1]", "yes", False),
    ],
)
def test_answer_is_correct_scores_yes_no_by_the_leading_word(text: str, gold: str, correct: bool) -> None:
    assert m.answer_is_correct(text, [gold]) is correct


def test_answer_is_correct_yes_no_leaves_other_gold_answers_as_substrings() -> None:
    assert m.answer_is_correct("Letters to Cleo, not Screaming Trees [1]", ["no", "Letters to Cleo"])
    assert not m.answer_is_correct("It is not known. [1]", ["no"])


def test_answer_length_ignores_markers() -> None:
    assert m.answer_length_words("One two three. [1] Four [2]") == 4
    assert m.answer_length_words("") == 0


def test_markers_consistent() -> None:
    assert m.markers_consistent("a [1] b [2]", [1, 2])
    assert not m.markers_consistent("a [1] b [3]", [1, 2])  # [3] has no citation, 2 unused
    assert not m.markers_consistent("a [1]", [1, 2])
    assert m.markers_consistent("no markers", [])


# ---- retrieval -----------------------------------------------------------------------------

RANKED = ["x", "a", "y", "b", "z"]
RELEVANT = {"a", "b"}


def test_unique_in_order_keeps_first_occurrence() -> None:
    assert m.unique_in_order(["d1", "d2", "d1", "d3", "d2"]) == ["d1", "d2", "d3"]


def test_hit_at_k() -> None:
    assert m.hit_at_k(RANKED, RELEVANT, 1) == 0.0
    assert m.hit_at_k(RANKED, RELEVANT, 2) == 1.0
    assert m.hit_at_k([], RELEVANT, 5) == 0.0


def test_recall_at_k() -> None:
    assert m.recall_at_k(RANKED, RELEVANT, 2) == 0.5
    assert m.recall_at_k(RANKED, RELEVANT, 4) == 1.0
    assert m.recall_at_k(["a", "a"], RELEVANT, 2) == 0.5  # a duplicate is found once


def test_reciprocal_rank() -> None:
    assert m.reciprocal_rank(RANKED, RELEVANT) == 0.5
    assert m.reciprocal_rank(["b"], RELEVANT) == 1.0
    assert m.reciprocal_rank(["x", "y"], RELEVANT) == 0.0


def test_ndcg_at_10_by_hand() -> None:
    # DCG = 1/log2(3) + 1/log2(5); ideal = 1/log2(2) + 1/log2(3)
    expected = (1 / math.log2(3) + 1 / math.log2(5)) / (1 + 1 / math.log2(3))
    assert m.ndcg_at_k(RANKED, RELEVANT, 10) == pytest.approx(expected)
    assert m.ndcg_at_k(["a", "b"], RELEVANT, 10) == pytest.approx(1.0)
    assert m.ndcg_at_k(["x"] * 3, RELEVANT, 10) == 0.0
    # cut at k: the relevant item at rank 3 is outside k=2
    assert m.ndcg_at_k(["x", "y", "a"], {"a"}, 2) == 0.0


def test_ndcg_ideal_is_capped_at_k() -> None:
    relevant = {f"r{i}" for i in range(15)}
    ranked = sorted(relevant)[:10]
    assert m.ndcg_at_k(ranked, relevant, 10) == pytest.approx(1.0)


@pytest.mark.parametrize(
    "call",
    [
        lambda: m.hit_at_k(RANKED, set(), 5),
        lambda: m.recall_at_k(RANKED, set(), 5),
        lambda: m.reciprocal_rank(RANKED, set()),
        lambda: m.ndcg_at_k(RANKED, set(), 10),
        lambda: m.hit_at_k(RANKED, RELEVANT, 0),
        lambda: m.citation_recall(["a"], []),
        lambda: m.passage_hit_at_k([], 0, 5),
    ],
)
def test_empty_relevance_or_bad_k_is_an_error_not_nan(call) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError):
        call()


def test_passage_level_metrics_match_quotes_across_whitespace() -> None:
    quotes = ["Iran will  not\ncapitulate.", "Tehran certainly won't."]
    passages = [
        "Nothing here.",
        "Yet as he said, Iran will not capitulate. More.",
        "Tehran certainly\n\nwon't. And Iran will not capitulate.",
    ]
    hits = m.quote_hits(passages, quotes)
    assert hits == [set(), {0}, {0, 1}]
    assert m.passage_hit_at_k(hits, 2, 1) == 0.0
    assert m.passage_hit_at_k(hits, 2, 2) == 1.0
    assert m.passage_recall_at_k(hits, 2, 2) == 0.5
    assert m.passage_recall_at_k(hits, 2, 5) == 1.0
    assert m.passage_reciprocal_rank(hits, 2) == 0.5
    assert m.passage_recall_at_k([], 2, 5) == 0.0


def test_a_partial_quote_does_not_count() -> None:
    hits = m.quote_hits(["Iran will not"], ["Iran will not capitulate."])
    assert hits == [set()]


# ---- citations and groundedness -------------------------------------------------------------


def test_citation_precision_and_recall() -> None:
    assert m.citation_precision(["a", "a", "c"], ["a", "b"]) == 0.5  # distinct docs {a, c}
    assert m.citation_precision([], ["a"]) is None
    assert m.citation_recall(["a", "c"], ["a", "b"]) == 0.5
    assert m.citation_recall([], ["a"]) == 0.0


def test_grounded_citations_checks_exact_slices() -> None:
    texts = {"d": "Alpha beta. Gamma delta."}
    spans = [
        m.CitationSpan("d", 0, 11, "Alpha beta."),  # exact
        m.CitationSpan("d", 12, 24, "Gamma  delta."),  # whitespace differs: not grounded
        m.CitationSpan("d", 20, 99, "delta."),  # out of range
        m.CitationSpan("missing", 0, 5, "Alpha"),  # unknown document
        m.CitationSpan("d", 12, 24, "Gamma delta."),
    ]
    assert m.grounded_citations(spans, texts) == 2


# ---- abstention and aggregates ---------------------------------------------------------------


def test_abstention_scores_by_hand() -> None:
    unanswerable = [True, True, True, False, False]
    abstained = [True, True, False, True, False]
    scores = m.abstention_scores(unanswerable, abstained)
    assert scores is not None
    assert scores.precision == pytest.approx(2 / 3)
    assert scores.recall == pytest.approx(2 / 3)
    assert scores.f1 == pytest.approx(2 / 3)
    assert scores.false_abstention_rate == 0.5


def test_abstention_empty_cases_are_defined() -> None:
    assert m.abstention_scores([False, False], [True, False]) is None  # nothing to detect
    never = m.abstention_scores([True, False], [False, False])
    assert never is not None
    assert (never.precision, never.recall, never.f1) == (0.0, 0.0, 0.0)
    only_unanswerable = m.abstention_scores([True], [True])
    assert only_unanswerable is not None and only_unanswerable.false_abstention_rate is None
    with pytest.raises(ValueError):
        m.abstention_scores([True], [])


def test_mean_and_percentile() -> None:
    assert m.mean([]) is None
    assert m.mean([1.0, 2.0]) == 1.5
    assert m.percentile([], 50) is None
    assert m.percentile([10.0], 95) == 10.0
    assert m.percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert m.percentile([0.0, 10.0, 20.0, 30.0, 100.0], 95) == pytest.approx(86.0)
    with pytest.raises(ValueError):
        m.percentile([1.0], 101)


# ---- per-question scoring and aggregation (runner) -------------------------------------------

DOC_TEXT = "Intro. They can use Resolution 598. The end."


def _gold(**fields) -> GoldRecord:  # type: ignore[no-untyped-def]
    base = {
        "id": "g",
        "question": "q?",
        "answerable": True,
        "answers": ["Resolution 598"],
        "evidence_docs": ["zarif"],
    }
    return GoldRecord.model_validate(base | fields)


def _answer(text: str, citations: list[Citation], abstained: bool = False) -> Answer:
    return Answer(question="q?", answer=text, abstained=abstained, citations=citations)


def _citation(marker: int, doc_id: str, start: int, end: int, quote: str) -> Citation:
    return Citation(
        marker=marker, doc_id=doc_id, source="", title="", chunk_id="c", start=start, end=end, quote=quote
    )


def test_score_answer_correct_and_grounded() -> None:
    cite = _citation(1, "zarif", 7, 35, "They can use Resolution 598.")
    scores = score_answer(
        _gold(), _answer("They can use Resolution 598. [1]", [cite]), {"zarif": DOC_TEXT}.get
    )
    assert scores["correct"] == 1.0
    assert scores["abstained"] == 0.0
    assert scores["citation_precision"] == 1.0 and scores["citation_recall"] == 1.0
    assert scores["citations"] == 1.0 and scores["grounded_citations"] == 1.0
    assert scores["markers_consistent"] == 1.0
    assert scores["answer_words"] == 5.0


def test_score_answer_wrong_doc_and_bad_offsets() -> None:
    cite = _citation(1, "other", 0, 6, "Intro!")
    scores = score_answer(_gold(), _answer("Intro! [1]", [cite]), {"other": DOC_TEXT}.get)
    assert scores["correct"] == 0.0
    assert scores["citation_precision"] == 0.0 and scores["citation_recall"] == 0.0
    assert scores["grounded_citations"] == 0.0


def test_score_answer_unanswerable_and_errors() -> None:
    unanswerable = _gold(answerable=False, answers=[], evidence_docs=[])
    assert score_answer(unanswerable, _answer("none", [], abstained=True), {}.get)["correct"] == 1.0
    assert score_answer(unanswerable, _answer("x [1]", []), {}.get)["correct"] == 0.0
    raised = score_answer(_gold(), None, {}.get)
    assert raised == {"abstained": 0.0, "correct": 0.0, "citation_recall": 0.0}
    abstained = score_answer(_gold(), _answer("no", [], abstained=True), {}.get)
    assert abstained["correct"] == 0.0 and "answer_words" not in abstained


def test_score_retrieval_ranks_documents_not_passages() -> None:
    def passage(doc: str, text: str = "t") -> Passage:
        return Passage(chunk_id=f"{doc}:0", doc_id=doc, score=0.0, text=text)

    gold = _gold(evidence_docs=["b"], evidence_quotes=["the quote"])
    ranked = [passage("a"), passage("a"), passage("b", "with the  quote here"), passage("c")]
    scores = score_retrieval(gold, ranked)
    assert scores["hit@1"] == 0.0 and scores["hit@5"] == 1.0  # docs: a, b, c
    assert scores["mrr"] == 0.5
    assert scores["passage_mrr"] == pytest.approx(1 / 3)
    assert scores["passage_hit@1"] == 0.0 and scores["passage_recall@5"] == 1.0
    assert score_retrieval(gold, [])["ndcg@10"] == 0.0


def _result(
    category: str, scores: dict[str, float], answerable: bool = True, error: str | None = None
) -> QuestionResult:
    fields = {} if answerable else {"answers": [], "evidence_docs": []}
    gold = _gold(id=f"{category}{len(scores)}{error}", category=category, answerable=answerable, **fields)
    return QuestionResult(gold=gold, answer=None, scores=scores, error=error)


def test_aggregate_by_hand_and_never_nan() -> None:
    results = [
        _result(
            "f",
            {
                "correct": 1.0,
                "abstained": 0.0,
                "citations": 2.0,
                "grounded_citations": 2.0,
                "citation_recall": 1.0,
                "hit@1": 1.0,
                "latency_ms": 10.0,
            },
        ),
        _result(
            "f", {"correct": 0.0, "abstained": 1.0, "citation_recall": 0.0, "hit@1": 0.0, "latency_ms": 30.0}
        ),
        _result("u", {"correct": 1.0, "abstained": 1.0, "latency_ms": 20.0}, answerable=False),
        _result("u", {"correct": 0.0, "abstained": 0.0}, answerable=False, error="ask: boom"),
    ]
    metrics = aggregate(results)
    assert metrics["questions"] == 4 and metrics["errors"] == 1
    assert metrics["accuracy"] == 0.5
    assert metrics["answer_accuracy"] == 0.5
    assert metrics["abstention_precision"] == 0.5  # abstained twice, once rightly
    assert metrics["abstention_recall"] == 0.5
    assert metrics["false_abstention_rate"] == 0.5
    assert metrics["groundedness"] == 1.0
    assert metrics["hit@1"] == 0.5
    assert metrics["latency_p50_ms"] == 20.0
    assert "ndcg@10" not in metrics  # no question measured it: n/a, not NaN
    assert all(not math.isnan(v) for v in metrics.values())
    assert list(metrics) == [n for n in METRIC_NAMES if n in metrics]
    by_category = aggregate_by_category(results)
    assert set(by_category) == {"f", "u"}
    assert by_category["u"]["accuracy"] == 0.5
    assert "answer_accuracy" not in by_category["u"]


def test_aggregate_groundedness_counts_every_citation() -> None:
    results = [
        _result("a", {"correct": 1.0, "abstained": 0.0, "citations": 3.0, "grounded_citations": 3.0}),
        _result("b", {"correct": 1.0, "abstained": 0.0, "citations": 1.0, "grounded_citations": 0.0}),
    ]
    assert aggregate(results)["groundedness"] == 0.75


# ---- calibration sweep -----------------------------------------------------------------------


def test_sweep_rethresholds_one_pass() -> None:
    observations = [
        Observation(answerable=True, abstained=False, text_correct=True, confidence=0.6),
        Observation(answerable=True, abstained=False, text_correct=False, confidence=0.35),
        Observation(answerable=False, abstained=False, text_correct=False, confidence=0.3),
        Observation(answerable=False, abstained=True, text_correct=False, confidence=0.0),
    ]
    rows = sweep(observations, [0.5, 0.2, 0.4])
    assert [r.threshold for r in rows] == [0.2, 0.4, 0.5]
    low, mid, high = rows
    assert low.accuracy == 0.5 and low.abstention_recall == 0.5 and low.abstention_precision == 1.0
    assert mid.accuracy == 0.75 and mid.abstention_recall == 1.0
    assert mid.abstention_precision == pytest.approx(2 / 3)
    assert high.as_dict() == pytest.approx(
        {
            "threshold": 0.5,
            "accuracy": 0.75,
            "answer_accuracy": 0.5,
            "abstention_precision": 2 / 3,
            "abstention_recall": 1.0,
            "abstention_f1": 0.8,
            "false_abstention_rate": 0.5,
        }
    )
    assert best_threshold(rows).threshold == 0.4  # same accuracy and F1: the lower value wins


def test_summarize_without_unanswerable_questions() -> None:
    row = summarize(0.3, [Observation(True, False, True, 0.5).at(0.3)])
    assert row.accuracy == 1.0 and row.abstention_recall is None
    assert "abstention_recall" not in row.as_dict()


def test_first_sentence_accuracy_and_answer_length_metrics() -> None:
    intro = _citation(1, "zarif", 0, 6, "Intro.")
    cite = _citation(2, "zarif", 7, 35, "They can use Resolution 598.")
    late = score_answer(
        _gold(), _answer("Intro. [1] They can use Resolution 598. [2]", [intro, cite]), {}.get
    )
    first = score_answer(
        _gold(), _answer("They can use Resolution 598. [1]", [cite.model_copy(update={"marker": 1})]), {}.get
    )
    assert late["correct"] == 1.0 and late["first_sentence_correct"] == 0.0 and late["one_sentence"] == 0.0
    assert first["first_sentence_correct"] == 1.0 and first["one_sentence"] == 1.0
    assert m.first_cited_sentence("No markers.", {1: "x"}) is None
    results = [QuestionResult(_gold(), None, late), QuestionResult(_gold(), None, first)]
    metrics = aggregate(results)
    assert metrics["first_sentence_accuracy"] == 0.5 and metrics["one_sentence_answers"] == 0.5
    assert metrics["answer_words"] == 5.5 and metrics["answer_words_p90"] == pytest.approx(5.9)


def test_a_gold_record_may_carry_a_conversation() -> None:
    record = _gold(question="When was it adopted?", history=[{"question": "Which resolution?"}])
    assert record.history[0].question == "Which resolution?" and record.history[0].answer == ""
    assert record.to_json()["history"] == [{"question": "Which resolution?"}]
    with pytest.raises(ValueError):
        _gold(history=[{"answer": "no question"}])
