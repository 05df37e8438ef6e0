"""Fit the answer model: a sentence selector, an abstention model, its calibration and policy.

Everything here is deterministic for a given seed (L-BFGS from zeros, folds by sorted group).

1. Selector: a conditional logit (softmax over one question's candidates) on standardised
   CANDIDATE_FEATURES, trained on answerable questions that have a sentence holding the answer.
2. Out-of-fold selector logits (folds by article) give every training question the decision
   features it would see at serving time, without its own labels leaking in.
3. Abstention: weighted logistic regression on DECISION_FEATURES, label "answerable"; the mix
   weighs natural answerable questions, adversarial unanswerable ones and off-topic ones.
4. Platt scaling on out-of-fold abstention logits, then the policy: the highest threshold at
   which at most POLICY_FALSE_ABSTENTION of the answerable training questions are refused.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import minimize

from assistant.compose.features import CANDIDATE_FEATURES, DECISION_FEATURES, decision_vector
from assistant.compose.scorer import AnswerModel, LinearModel
from assistant.evaluation.answer_data import FeatureSet
from assistant.evaluation.outcomes import confident_threshold, outcome_figures

log = logging.getLogger(__name__)

#: the written policy: refuse at most this share of answerable questions, abstain as much as possible
POLICY_FALSE_ABSTENTION = 0.05
#: share of the abstention mix's weight per source (adversarial SQuAD is one part, not the whole)
MIX = {"answerable": 0.5, "adversarial": 0.2, "off_topic": 0.15, "near_miss": 0.15}
SELECTOR_L2 = 1.0
ABSTENTION_L2 = 1.0
FOLDS = 5
#: runner-up shares tried; the one kept maximises out-of-fold hits less EXTRA_SENTENCE_COST per
#: extra sentence (answers should stay short)
RUNNER_UP_SHARES = (0.1, 0.15, 0.25, 0.4, 0.6, 0.8, 1.0)
EXTRA_SENTENCE_COST = 0.03
RELIABILITY_BINS = 10


def _standardise(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = rows.mean(axis=0) if len(rows) else np.zeros(rows.shape[1])
    scale = rows.std(axis=0) if len(rows) else np.ones(rows.shape[1])
    return mean, np.where(scale > 1e-9, scale, 1.0)


def fit_selector(data: FeatureSet, questions: np.ndarray) -> LinearModel:
    """Conditional logit over the candidates of `questions` (indices into `data`) with a positive."""
    spans = [data.rows(int(i)) for i in questions]
    spans = [s for s in spans if s.stop > s.start and data.labels[s].any()]
    if not spans:
        raise ValueError("no training question has a candidate sentence that holds its answer")
    index = np.concatenate([np.arange(s.start, s.stop) for s in spans])
    mean, scale = _standardise(data.matrix[index])
    rows = (data.matrix[index] - mean) / scale
    # the questions' candidates as one array, with the question's number per row
    segment = np.concatenate([np.full(s.stop - s.start, k) for k, s in enumerate(spans)])
    positive = data.labels[index] > 0

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        z = rows @ w
        top = np.full(len(spans), -np.inf)
        np.maximum.at(top, segment, z)
        e = np.exp(z - top[segment])
        total = np.bincount(segment, e, len(spans))
        pos = np.bincount(segment, e * positive, len(spans))
        value = -np.sum(np.log(pos) - np.log(total)) / len(spans) + 0.5 * SELECTOR_L2 * w @ w / len(spans)
        # d/dz: softmax over all minus softmax over the positives
        grad_z = e / total[segment] - positive * e / pos[segment]
        grad = rows.T @ grad_z / len(spans) + SELECTOR_L2 * w / len(spans)
        return float(value), grad

    result = minimize(loss, np.zeros(rows.shape[1]), jac=True, method="L-BFGS-B", options={"maxiter": 500})
    return LinearModel(CANDIDATE_FEATURES, mean, scale, result.x, 0.0)


def _fit_logistic(x: np.ndarray, y: np.ndarray, weight: np.ndarray, l2: float) -> tuple[np.ndarray, float]:
    """Weighted L2 logistic regression; returns (weights, bias) on the given (standardised) x."""
    total = weight.sum()

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = theta[:-1], theta[-1]
        z = x @ w + b
        value = np.sum(weight * (np.logaddexp(0.0, z) - y * z)) / total + 0.5 * l2 * w @ w / len(y)
        g = weight * (1.0 / (1.0 + np.exp(-z)) - y) / total
        grad = np.concatenate([x.T @ g + l2 * w / len(y), [g.sum()]])
        return float(value), grad

    result = minimize(loss, np.zeros(x.shape[1] + 1), jac=True, method="L-BFGS-B", options={"maxiter": 1000})
    return result.x[:-1], float(result.x[-1])


def mix_weights(data: FeatureSet) -> np.ndarray:
    """Per-question weights giving each source its MIX share of the total."""
    weights = np.zeros(len(data))
    for source, share in MIX.items():
        mask = data.source == source
        if mask.any():
            weights[mask] = share / mask.sum()
    return weights * len(data)


def decisions(data: FeatureSet, selector: LinearModel) -> tuple[np.ndarray, list[np.ndarray]]:
    """DECISION_FEATURES for every question of `data`, and the selector's logits per question."""
    logits = [selector.logits(data.matrix[data.rows(i)]) for i in range(len(data))]
    rows = np.array(
        [decision_vector(logits[i], data.matrix[data.rows(i)], data.questions[i]) for i in range(len(data))]
    )
    return rows, logits


def fit_abstention(rows: np.ndarray, data: FeatureSet) -> LinearModel:
    mean, scale = _standardise(rows)
    w, b = _fit_logistic(
        (rows - mean) / scale, data.answerable.astype(float), mix_weights(data), ABSTENTION_L2
    )
    return LinearModel(DECISION_FEATURES, mean, scale, w, b)


def fit_platt(raw: np.ndarray, data: FeatureSet) -> tuple[float, float]:
    w, b = _fit_logistic(raw[:, None], data.answerable.astype(float), mix_weights(data), 0.0)
    return float(w[0]), b


def _folds(groups: np.ndarray, count: int) -> list[np.ndarray]:
    names = sorted(set(groups.tolist()))
    return [np.isin(groups, names[k::count]) for k in range(min(count, len(names)))]


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-np.clip(z, -50, 50))))


def policy_threshold(probabilities: np.ndarray, answerable: np.ndarray) -> float:
    """The highest threshold (2 decimals) refusing at most POLICY_FALSE_ABSTENTION of answerable ones."""
    scores = np.sort(probabilities[answerable])
    if len(scores) == 0:
        return 0.5
    allowed = int(np.floor(POLICY_FALSE_ABSTENTION * len(scores)))
    return float(np.floor(scores[allowed] * 100) / 100)


def chosen_sets(logits: np.ndarray, matrix: np.ndarray, share: float, limit: int = 3) -> np.ndarray:
    """Indices the composer would pick: the best sentence plus runners-up within `share`."""
    if len(logits) == 0:
        return np.zeros(0, dtype=np.int64)
    ranked = np.argsort(-logits, kind="stable")
    floor = logits[ranked[0]] + np.log(share)
    return ranked[: min(limit, 1 + int(np.sum(logits[ranked[1:]] >= floor)))]


def selection_figures(data: FeatureSet, logits: Sequence[np.ndarray], share: float) -> dict[str, float]:
    """On answerable questions: top-1 holds the answer, the chosen set holds it, sentences chosen."""
    top1, hit, sizes, n = 0.0, 0.0, 0.0, 0
    for i in np.flatnonzero(data.answerable):
        span, z = data.rows(int(i)), logits[int(i)]
        if len(z) == 0:
            n += 1
            continue
        labels, matrix = data.labels[span], data.matrix[span]
        picked = chosen_sets(z, matrix, share)
        top1 += float(labels[picked[:1]].any())
        hit += float(labels[picked].any())
        sizes += len(picked)
        n += 1
    return {"top1": top1 / max(n, 1), "chosen_hit": hit / max(n, 1), "sentences": sizes / max(n, 1)}


def handset_logits(data: FeatureSet) -> list[np.ndarray]:
    """The first composer's score as logits, for the before/after comparison."""
    column = CANDIDATE_FEATURES.index("handset_score")
    return [data.matrix[data.rows(i), column] * 20.0 for i in range(len(data))]


def reliability(probabilities: np.ndarray, outcome: np.ndarray, weight: np.ndarray) -> dict[str, Any]:
    """Equal-width reliability table and the expected calibration error (weighted by `weight`)."""
    edges = np.linspace(0.0, 1.0, RELIABILITY_BINS + 1)
    which = np.clip(np.digitize(probabilities, edges[1:-1]), 0, RELIABILITY_BINS - 1)
    table, ece, total = [], 0.0, weight.sum()
    for b in range(RELIABILITY_BINS):
        mask = which == b
        if not mask.any():
            continue
        w = weight[mask]
        predicted = float(np.average(probabilities[mask], weights=w))
        observed = float(np.average(outcome[mask], weights=w))
        ece += w.sum() / total * abs(predicted - observed)
        table.append(
            {
                "bin": f"{edges[b]:.1f}-{edges[b + 1]:.1f}",
                "questions": int(mask.sum()),
                "predicted": round(predicted, 3),
                "observed": round(observed, 3),
            }
        )
    return {"table": table, "ece": round(ece, 4)}


def abstention_figures(probabilities: np.ndarray, data: FeatureSet, threshold: float) -> dict[str, float]:
    abstain = probabilities < threshold
    figures = {"false_abstention": float(abstain[data.answerable].mean()) if data.answerable.any() else 0.0}
    for source in ("adversarial", "off_topic", "near_miss"):
        mask = data.source == source
        if mask.any():
            figures[f"abstention_recall_{source}"] = float(abstain[mask].mean())
    return {k: round(v, 4) for k, v in figures.items()}


@dataclass(slots=True)
class Trained:
    model: AnswerModel
    report: dict[str, Any]


def train(train_set: FeatureSet, heldout: FeatureSet | None, card: dict[str, Any]) -> Trained:
    """Fit on `train_set` (grouped folds inside it), report on `heldout` when given."""
    natural = np.flatnonzero(train_set.answerable)
    folds = _folds(train_set.group, FOLDS)
    out_of_fold = np.zeros((len(train_set), len(DECISION_FEATURES)))
    oof_logits: list[np.ndarray] = [np.zeros(0)] * len(train_set)
    for mask in folds:
        selector = fit_selector(train_set, natural[~mask[natural]])
        rows, logits = decisions(train_set, selector)
        out_of_fold[mask] = rows[mask]
        for i in np.flatnonzero(mask):
            oof_logits[i] = logits[i]
    raw = np.zeros(len(train_set))
    for mask in folds:
        fold_model = fit_abstention(out_of_fold[~mask], _subset(train_set, ~mask))
        raw[mask] = fold_model.logits(out_of_fold[mask])
    platt = fit_platt(raw, train_set)
    calibrated = _sigmoid(platt[0] * raw + platt[1])
    threshold = policy_threshold(calibrated, train_set.answerable)
    shares = {s: selection_figures(train_set, oof_logits, s) for s in RUNNER_UP_SHARES}
    share = max(
        shares, key=lambda s: shares[s]["chosen_hit"] - EXTRA_SENTENCE_COST * (shares[s]["sentences"] - 1)
    )
    squad = np.isin(train_set.source, ("answerable", "adversarial"))
    oof_hits = chosen_hits(train_set, oof_logits, share)
    natural_mask = train_set.source == "answerable"
    confident_at = confident_threshold(calibrated[natural_mask], oof_hits[natural_mask], threshold)
    selector = fit_selector(train_set, natural)
    abstention = fit_abstention(out_of_fold, train_set)
    model = AnswerModel(selector, abstention, platt, threshold, share, card)
    report: dict[str, Any] = {
        "training": {
            "questions": {s: int((train_set.source == s).sum()) for s in MIX},
            "out_of_fold_selection": {
                str(s): {k: round(v, 4) for k, v in f.items()} for s, f in shares.items()
            },
            "out_of_fold_abstention": abstention_figures(calibrated, train_set, threshold),
            "threshold": threshold,
            "confident_threshold": confident_at,
            "out_of_fold_outcomes": outcome_figures(
                calibrated[squad], oof_hits[squad], train_set.answerable[squad], threshold, confident_at
            ),
            "runner_up_share": share,
        }
    }
    if heldout is not None and len(heldout):
        report["heldout"] = evaluate(model, heldout)
        report["heldout"]["outcomes"] = heldout_outcomes(model, heldout, confident_at)
    model.card["figures"] = report
    return Trained(model, report)


def chosen_hits(data: FeatureSet, logits: Sequence[np.ndarray], share: float) -> np.ndarray:
    """Per question: answerable, and a sentence the composer would choose holds the answer."""
    spans = [data.rows(i) for i in range(len(data))]
    return np.array(
        [
            bool(data.answerable[i])
            and bool(data.labels[rows][chosen_sets(logits[i], data.matrix[rows], share)].any())
            for i, rows in enumerate(spans)
        ]
    )


def heldout_outcomes(model: AnswerModel, data: FeatureSet, confident_at: float) -> dict[str, float]:
    """The three outcomes on the split's SQuAD questions (answerable and adversarial)."""
    rows, logits = decisions(data, model.selector)
    probabilities = np.array([model.answerable_probability(r) for r in rows])
    squad = np.isin(data.source, ("answerable", "adversarial"))
    hits = chosen_hits(data, logits, model.runner_up_share)
    return outcome_figures(
        probabilities[squad], hits[squad], data.answerable[squad], model.threshold, confident_at
    )


def evaluate(model: AnswerModel, data: FeatureSet) -> dict[str, Any]:
    """Held-out figures: selection vs. the hand-set score, abstention at the policy threshold,
    reliability and ECE of the calibrated probability on the weighted mix."""
    rows, logits = decisions(data, model.selector)
    probabilities = np.array([model.answerable_probability(r) for r in rows])
    answered = probabilities >= model.threshold
    hits = chosen_hits(data, logits, model.runner_up_share)
    answer_accuracy = float((hits & answered)[data.answerable].mean()) if data.answerable.any() else 0.0
    return {
        "questions": {s: int((data.source == s).sum()) for s in MIX},
        "selection": {
            k: round(v, 4) for k, v in selection_figures(data, logits, model.runner_up_share).items()
        },
        "selection_handset": {
            k: round(v, 4)
            for k, v in selection_figures(data, handset_logits(data), model.runner_up_share).items()
        },
        "answer_accuracy": round(answer_accuracy, 4),
        "abstention": abstention_figures(probabilities, data, model.threshold),
        "reliability": reliability(probabilities, data.answerable.astype(float), mix_weights(data)),
    }


def _subset(data: FeatureSet, mask: np.ndarray) -> FeatureSet:
    """Only the question-level arrays are needed by the abstention fit."""
    return FeatureSet(
        matrix=data.matrix,
        labels=data.labels,
        offsets=data.offsets,
        questions=data.questions[mask],
        answerable=data.answerable[mask],
        source=data.source[mask],
        group=data.group[mask],
    )


DEFAULT_SEED = 13
DEFAULT_TRAIN_ARTICLES = 20


def train_answer_model(
    index_dir: Path,
    squad_gold: Path,
    claims_gold: Path | None,
    out: Path,
    seed: int = DEFAULT_SEED,
    train_articles: int = DEFAULT_TRAIN_ARTICLES,
    cache: Path | None = None,
) -> Trained:
    """The one training command: record features over a SQuAD index, fit, write the artifact.

    Also writes the split as gold sets beside `squad_gold` (`train.jsonl`, `heldout.jsonl`), so
    the held-out articles can be run through `assistant eval`.

    `index_dir` must hold the converted SQuAD corpus (`assistant eval convert squad --build-index`);
    `claims_gold` (SciFact's converted gold set) adds off-topic claims when given.
    """
    from assistant.core import Assistant
    from assistant.evaluation.answer_data import FeatureRecorder, build_splits, write_split_gold
    from assistant.evaluation.gold import load_gold
    from assistant.settings import Settings

    recorder = FeatureRecorder()
    assistant = Assistant(index_dir, Settings(index_dir=index_dir), composer=recorder)
    assistant.refresh()
    squad = [r for r in load_gold(squad_gold) if r.scores_answers]
    claims = load_gold(claims_gold) if claims_gold is not None else []
    splits = build_splits(assistant, recorder, squad, claims, train_articles, seed, cache)
    for name, articles in (("train", splits.train_articles), ("heldout", splits.heldout_articles)):
        written = write_split_gold(squad, articles, squad_gold.with_name(f"{name}.jsonl"))
        log.info("wrote %d %s questions to %s", written, name, squad_gold.with_name(f"{name}.jsonl"))
    card = {
        "data": f"{squad_gold.name} (SQuAD 2.0 dev) split by article, seed {seed}",
        "train_articles": splits.train_articles,
        "heldout_articles": splits.heldout_articles,
        "seed": seed,
        "policy": f"false abstention at most {POLICY_FALSE_ABSTENTION:.0%} of answerable questions",
        "mix": MIX,
    }
    trained = train(splits.train, splits.heldout, card)
    size = trained.model.save(out)
    trained.report["artifact_bytes"] = size
    log.info("wrote %s (%d bytes)", out, size)
    return trained
