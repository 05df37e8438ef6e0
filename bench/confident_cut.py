"""The confident cut: today's (the probability that the passages answer) against a correctness model.

    assistant eval train-answer-model --report /tmp/report.json   # records the features once
    python -m bench.confident_cut [--cache eval/generated/answer-model]

Reads the features `train-answer-model` recorded (training and held-out articles, the same split),
rebuilds the shipped pipeline's out-of-fold figures on the training articles, and compares cuts
for the confident tier on the held-out articles: share of answerable questions marked confident,
how many of those are right (the chosen sentences hold a gold answer), and the share of the
adversarial questions marked confident. Thresholds are chosen out of fold (at least 95 % right),
never on held-out questions. docs/answer-model.md has the figures.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from assistant.evaluation import training as fit
from assistant.evaluation.answer_data import FeatureSet
from assistant.evaluation.outcomes import confident_threshold

TARGET = 0.95
Scorer = Callable[[np.ndarray], np.ndarray]


def load(cache: Path, split: str) -> FeatureSet:
    parts = [FeatureSet.load(path) for path in sorted(cache.glob(f"{split}-*.npz"))]
    if not parts:
        raise SystemExit(f"no recorded features in {cache}: run `assistant eval train-answer-model` first")
    return FeatureSet.join(parts)


def chosen_mass(logits: Sequence[np.ndarray], share: float, max_sentences: int = 3) -> np.ndarray:
    """Per question: how many sentences are chosen, the selector's softmax mass on them, its log."""
    out = np.zeros((len(logits), 3))
    for i, z in enumerate(logits):
        if len(z) == 0:
            continue
        p = np.exp(z - z.max())
        p /= p.sum()
        order = np.argsort(-z, kind="stable")
        chosen = [j for j in order[:max_sentences] if z[j] >= z[order[0]] + np.log(share)]
        mass = float(p[chosen].sum())
        out[i] = (len(chosen), mass, np.log(mass + 1e-9))
    return out


def logistic(x: np.ndarray, y: np.ndarray) -> Scorer:
    mean, scale = fit._standardise(x)
    w, b = fit._fit_logistic((x - mean) / scale, y, np.ones(len(y)), 1.0)
    return lambda z: fit._sigmoid(((z - mean) / scale) @ w + b)


def lowest_threshold(p: np.ndarray, right: np.ndarray, counted: np.ndarray) -> float:
    """The lowest cut (0.005 steps) at which the counted questions above it are TARGET right."""
    for t in np.arange(0.3, 1.0, 0.005):
        above = (p >= t) & counted
        if above.any() and right[above].mean() >= TARGET:
            return float(t)
    return 1.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--cache", type=Path, default=Path("eval/generated/answer-model"))
    args = parser.parse_args()
    train, heldout = load(args.cache, "train"), load(args.cache, "heldout")
    natural = np.flatnonzero(train.answerable)
    folds = fit._folds(train.group, fit.FOLDS)
    oof = np.zeros((len(train), len(fit.DECISION_FEATURES)))
    oof_logits: list[np.ndarray] = [np.zeros(0)] * len(train)
    for mask in folds:
        rows, logits = fit.decisions(train, fit.fit_selector(train, natural[~mask[natural]]))
        oof[mask] = rows[mask]
        for i in np.flatnonzero(mask):
            oof_logits[i] = logits[i]
    raw = np.zeros(len(train))
    for mask in folds:
        raw[mask] = fit.fit_abstention(oof[~mask], fit._subset(train, ~mask)).logits(oof[mask])
    platt = fit.fit_platt(raw, train)
    answers = fit._sigmoid(platt[0] * raw + platt[1])
    threshold = fit.policy_threshold(answers, train.answerable)
    share = 0.1
    hits = fit.chosen_hits(train, oof_logits, share).astype(bool)
    natural_mask = train.source == "answerable"
    shipped_cut = confident_threshold(answers[natural_mask], hits[natural_mask], threshold)

    rows, logits = fit.decisions(heldout, fit.fit_selector(train, natural))
    held_answers = fit._sigmoid(platt[0] * fit.fit_abstention(oof, train).logits(rows) + platt[1])
    held_hits = fit.chosen_hits(heldout, logits, share).astype(bool)
    answerable, adversarial = heldout.source == "answerable", heldout.source == "adversarial"

    def show(name: str, confident: np.ndarray) -> None:
        right = held_hits[answerable][confident[answerable]].mean() if confident[answerable].any() else 0.0
        print(
            f"{name:<58} answerable {confident[answerable].mean():.3f}  right {right:.3f}  "
            f"adversarial {confident[adversarial].mean():.3f}"
        )

    show(f"shipped: passages answer >= {shipped_cut:.2f}", held_answers >= shipped_cut)
    with_mass = np.hstack([oof, chosen_mass(oof_logits, share)])
    held_mass = np.hstack([rows, chosen_mass(logits, share)])
    for label, x, held_x in (("without chosen mass", oof, rows), ("with chosen mass", with_mass, held_mass)):
        # answerable questions only: label "the chosen sentences hold a gold answer"
        xs, ys, groups = x[natural_mask], hits[natural_mask].astype(float), train.group[natural_mask]
        out = np.zeros(len(ys))
        for mask in fit._folds(groups, fit.FOLDS):
            out[mask] = logistic(xs[~mask], ys[~mask])(xs[mask])
        cut = lowest_threshold(out, ys.astype(bool), np.ones(len(ys), dtype=bool))
        scorer = logistic(xs, ys)
        show(f"correctness, answerable only, {label}, >= {cut:.3f}", scorer(held_x) >= cut)
    # answerable and adversarial: label "answerable and held"
    squad = np.isin(train.source, ("answerable", "adversarial"))
    xs, ys = with_mass[squad], (train.answerable & hits)[squad].astype(float)
    out = np.zeros(len(ys))
    for mask in fit._folds(train.group[squad], fit.FOLDS):
        out[mask] = logistic(xs[~mask], ys[~mask])(xs[mask])
    cut = lowest_threshold(out, ys.astype(bool), natural_mask[squad])
    joint = logistic(xs, ys)(held_mass)
    for t in (cut, cut - 0.05):
        show(f"correctness, answerable and adversarial, >= {t:.3f}", joint >= t)


if __name__ == "__main__":
    main()
