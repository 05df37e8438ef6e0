"""The eval's outcome metrics: each outcome's share and accuracy, and the risk-coverage table."""

from __future__ import annotations

from assistant.evaluation.gold import GoldRecord
from assistant.evaluation.report import missed_thresholds, parse_threshold
from assistant.evaluation.runner import QuestionResult, aggregate, score_answer
from assistant.models import Answer


def _result(
    answerable: bool, text: str, confidence: float, tentative: bool, abstained: bool
) -> QuestionResult:
    gold = GoldRecord(
        id=text,
        question="q?",
        answers=["yes"] if answerable else [],
        evidence_docs=["d"] if answerable else [],
        answerable=answerable,
    )
    answer = Answer(
        question="q?", answer=text, abstained=abstained, confidence=confidence, tentative=tentative
    )
    return QuestionResult(gold, answer, score_answer(gold, answer, lambda _: None))


def test_outcomes_and_risk_coverage_are_reported_and_checked_by_min() -> None:
    results = [
        _result(True, "yes", 0.95, False, False),  # confident, right
        _result(True, "yes", 0.9, False, False),  # confident, right
        _result(False, "yes", 0.6, True, False),  # tentative, wrong (unanswerable)
        _result(True, "no", 0.5, True, False),  # tentative, wrong
        _result(False, "none", 0.1, False, True),  # abstained, right
    ]
    metrics = aggregate(results)
    assert metrics["confident_share"] == 0.4 and metrics["confident_accuracy"] == 1.0
    assert metrics["tentative_share"] == 0.4 and metrics["tentative_accuracy"] == 0.0
    assert metrics["selective_accuracy@40"] == 1.0
    assert metrics["selective_accuracy@100"] == 0.4  # abstentions count as not answered
    assert missed_thresholds(metrics, [parse_threshold("confident_accuracy=0.95")]) == []
    assert missed_thresholds(metrics, [parse_threshold("tentative_accuracy=0.5")])
