"""The confident threshold: the second cut of the calibrated confidence (docs/answer-model.md).

Above the abstention threshold an answer is given; above the confident threshold it is given
without the "may not answer your question" mark. The policy: the lowest threshold (two
decimals) at which at least CONFIDENT_PRECISION of the confident answers to the training
split's answerable SQuAD questions are correct (the chosen sentences hold a gold answer),
measured on out-of-fold probabilities. SQuAD's adversarial questions are left out of the
promise (no threshold keeps 95 % when an answer to one counts as wrong: they look answerable
to the model), and reported beside it as `confident_precision_with_adversarial`.
"""

from __future__ import annotations

import numpy as np

#: the promise of the confident tier: at least this share of its answers are correct
CONFIDENT_PRECISION = 0.95


def confident_threshold(probabilities: np.ndarray, correct: np.ndarray, floor: float) -> float:
    """The lowest threshold >= `floor` (2 decimals) whose confident answers meet the promise."""
    for step in range(int(np.ceil(floor * 100)), 100):
        threshold = step / 100
        confident = probabilities >= threshold
        if confident.any() and correct[confident].mean() >= CONFIDENT_PRECISION:
            return threshold
    return 1.0


def outcome_figures(
    probabilities: np.ndarray,
    correct: np.ndarray,
    answerable: np.ndarray,
    abstain_threshold: float,
    confident_at: float,
) -> dict[str, float]:
    """Share of answerable questions and accuracy of each outcome (also counting SQuAD's
    adversarial questions, where any answer is wrong)."""
    confident = probabilities >= confident_at
    tentative = (probabilities >= abstain_threshold) & ~confident
    figures = {
        "confident_share": confident[answerable].mean(),
        "confident_precision": _share(correct, confident & answerable),
        "confident_precision_with_adversarial": _share(correct, confident),
        "tentative_share": tentative[answerable].mean(),
        "tentative_accuracy": _share(correct, tentative & answerable),
        "tentative_accuracy_with_adversarial": _share(correct, tentative),
        "abstained_share": (probabilities < abstain_threshold)[answerable].mean(),
    }
    return {k: round(float(v), 4) for k, v in figures.items()}


def _share(correct: np.ndarray, mask: np.ndarray) -> float:
    return float(correct[mask].mean()) if mask.any() else 0.0
