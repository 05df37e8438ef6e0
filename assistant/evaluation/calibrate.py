"""Sweep the composer's abstention threshold and report what each value trades off.

The extractive composer abstains when its confidence (the answer model's calibrated chance
that the passages answer the question) is below `Settings.abstain_threshold`. For each
candidate threshold we measure answer accuracy on answerable questions and abstention
precision/recall on unanswerable ones. Two values are recommended: the most accurate one
(answered correctly, or abstained on an unanswerable question: the "best threshold" rule of
SQuAD 2.0's official evaluation script), and the policy's: the highest threshold that refuses
at most POLICY_FALSE_ABSTENTION of the answerable questions (docs/answer-model.md).

When answers carry a `confidence` and do not depend on the threshold otherwise, one pass at the
lowest threshold is enough (abstaining is monotone in the threshold). Two-hop answers do depend
on it (a first answer between the threshold and BRIDGE_BELOW may be replaced), so with
`two_hop` on, and for answers without a confidence, every threshold is asked again.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from assistant.evaluation import metrics as m
from assistant.evaluation.gold import GoldRecord

if TYPE_CHECKING:
    from assistant.core import Assistant
    from assistant.models import Answer

log = logging.getLogger(__name__)

DEFAULT_THRESHOLDS: tuple[float, ...] = tuple(round(0.05 + 0.05 * i, 2) for i in range(19))
#: the abstention policy: refuse at most this share of answerable questions
POLICY_FALSE_ABSTENTION = 0.05


@dataclass(frozen=True, slots=True)
class Outcome:
    """One question at one threshold: did it abstain, and does its text hold a gold answer."""

    answerable: bool
    abstained: bool
    text_correct: bool

    @property
    def correct(self) -> bool:
        return (not self.abstained and self.text_correct) if self.answerable else self.abstained


@dataclass(frozen=True, slots=True)
class ThresholdRow:
    """Metrics of the whole gold set at one threshold."""

    threshold: float
    accuracy: float
    answer_accuracy: float | None
    abstention_precision: float | None
    abstention_recall: float | None
    abstention_f1: float | None
    false_abstention_rate: float | None

    def as_dict(self) -> dict[str, float]:
        """The row without its not-applicable (None) metrics."""
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}


@dataclass(frozen=True, slots=True)
class Observation:
    """A question answered once at a low threshold, with the composer's confidence."""

    answerable: bool
    abstained: bool
    text_correct: bool
    confidence: float | None

    def at(self, threshold: float) -> Outcome:
        """The outcome at a higher threshold: it abstains once confidence falls below it."""
        if self.confidence is None:
            raise ValueError("an observation without confidence cannot be re-thresholded")
        abstained = self.abstained or self.confidence < threshold
        return Outcome(self.answerable, abstained, self.text_correct)


def summarize(threshold: float, outcomes: Sequence[Outcome]) -> ThresholdRow:
    """Accuracy and abstention metrics of one threshold's outcomes (see runner.aggregate)."""
    if not outcomes:
        raise ValueError("no outcomes to summarize")
    answerable = [o for o in outcomes if o.answerable]
    abstention = m.abstention_scores([not o.answerable for o in outcomes], [o.abstained for o in outcomes])
    false_rate = m.mean(float(o.abstained) for o in answerable)
    return ThresholdRow(
        threshold=threshold,
        accuracy=m.mean(float(o.correct) for o in outcomes) or 0.0,
        answer_accuracy=m.mean(float(o.correct) for o in answerable),
        abstention_precision=abstention.precision if abstention else None,
        abstention_recall=abstention.recall if abstention else None,
        abstention_f1=abstention.f1 if abstention else None,
        false_abstention_rate=false_rate,
    )


def sweep(observations: Sequence[Observation], thresholds: Sequence[float]) -> list[ThresholdRow]:
    """Re-threshold one pass of observations (all must carry a confidence)."""
    return [summarize(t, [o.at(t) for o in observations]) for t in sorted(thresholds)]


def best_threshold(rows: Sequence[ThresholdRow]) -> ThresholdRow:
    """The row with the highest accuracy; ties go to the higher abstention F1, then the lower value."""
    if not rows:
        raise ValueError("no thresholds were evaluated")
    return max(rows, key=lambda r: (r.accuracy, r.abstention_f1 or 0.0, -r.threshold))


def policy_threshold(
    rows: Sequence[ThresholdRow], max_false_abstention: float = POLICY_FALSE_ABSTENTION
) -> ThresholdRow | None:
    """The highest threshold refusing at most `max_false_abstention` of the answerable questions
    (None when the set has none, or every threshold refuses more)."""
    allowed = [
        r
        for r in rows
        if r.false_abstention_rate is not None and r.false_abstention_rate <= max_false_abstention + 1e-9
    ]
    return max(allowed, key=lambda r: r.threshold) if allowed else None


def _outcome(record: GoldRecord, answer: Answer | None) -> Outcome:
    """None (the question raised) is wrong at every threshold: never abstains, never correct."""
    if answer is None:
        return Outcome(record.answerable, False, False)
    text_ok = record.answerable and m.answer_is_correct(answer.answer, record.answers)
    return Outcome(record.answerable, answer.abstained, text_ok)


def _observe(record: GoldRecord, answer: Answer | None) -> Observation | None:
    """An observation for the one-pass sweep; None when the answer lacks a confidence."""
    outcome = _outcome(record, answer)
    if answer is None:
        return Observation(record.answerable, False, False, math.inf)
    confidence = getattr(answer, "confidence", None)
    if confidence is None and not answer.abstained:
        return None
    return Observation(record.answerable, outcome.abstained, outcome.text_correct, confidence or 0.0)


class Calibrator:
    """Runs the sweep against a loaded Assistant (its threshold is restored afterwards)."""

    def __init__(self, assistant: Assistant, top_k: int | None = None) -> None:
        self.assistant = assistant
        self.top_k = top_k

    def run(
        self,
        records: Sequence[GoldRecord],
        thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
        progress: Callable[[int, int], None] | None = None,
    ) -> list[ThresholdRow]:
        scored = [r for r in records if r.scores_answers]
        if not scored:
            raise ValueError("calibration needs questions with answers or unanswerable ones")
        grid = sorted(set(thresholds))
        if not grid:
            raise ValueError("no thresholds given")
        original = self.assistant.settings
        try:
            first = self._answers(scored, grid[0], progress, 0, len(grid))
            observed = [_observe(r, a) for r, a in zip(scored, first, strict=True)]
            if all(o is not None for o in observed) and not original.two_hop:
                if progress:
                    progress(len(grid) * len(scored), len(grid) * len(scored))
                return sweep([o for o in observed if o is not None], grid)
            log.info("answers depend on the threshold: asking again at each of %d thresholds", len(grid))
            rows = [summarize(grid[0], [_outcome(r, a) for r, a in zip(scored, first, strict=True)])]
            for step, threshold in enumerate(grid[1:], start=1):
                answers = self._answers(scored, threshold, progress, step, len(grid))
                outcomes = [_outcome(r, a) for r, a in zip(scored, answers, strict=True)]
                rows.append(summarize(threshold, outcomes))
            return rows
        finally:
            self.assistant.settings = original

    def _answers(
        self,
        records: Sequence[GoldRecord],
        threshold: float,
        progress: Callable[[int, int], None] | None,
        step: int,
        steps: int,
    ) -> list[Answer | None]:
        self.assistant.settings = self.assistant.settings.model_copy(update={"abstain_threshold": threshold})
        answers: list[Answer | None] = []
        for done, record in enumerate(records, start=1):
            try:
                answers.append(self.assistant.ask(record.question, top_k=self.top_k))
            except Exception as exc:  # scored as a wrong answer, as in the runner
                log.warning("question %s raised: %s", record.id, exc)
                answers.append(None)
            if progress:
                progress(step * len(records) + done, steps * len(records))
        return answers
