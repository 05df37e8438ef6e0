"""The three outcomes of an answer: confident, tentative, abstained (docs/answer-model.md).

The calibrated confidence decides: below the abstention threshold the composer abstains; an
answer below the confident threshold is still shown, with its passages, but marked as possibly
not answering. Every front end shows the mark with the words of `TENTATIVE_NOTE`.
"""

from __future__ import annotations

from typing import Literal

from assistant.models import Answer

TENTATIVE_NOTE = "This may not answer your question: check the passages."

Outcome = Literal["confident", "tentative", "abstained"]


def mark_tentative(answer: Answer, confident_threshold: float, composer_marked: bool = False) -> Answer:
    """Set `answer.tentative` from its confidence (an answer without one stays confident), or
    because its composer marked it so (`composer_marked`: a comparison missing one side)."""
    answer.tentative = not answer.abstained and (
        composer_marked or (answer.confidence is not None and answer.confidence < confident_threshold)
    )
    return answer


def outcome(answer: Answer) -> Outcome:
    """Which of the three outcomes an answer is."""
    if answer.abstained:
        return "abstained"
    return "tentative" if answer.tentative else "confident"
