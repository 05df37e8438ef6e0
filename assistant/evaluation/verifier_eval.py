"""Measure the verifier on the service path and fit its blend; held-out SQuAD articles only.

Questions are asked through `Assistant.ask()` with a recording composer, so the candidates are
the service's own: the selector's top `top_k` sentences with the verifier's input text. The
blend (selector and verifier logits as a conditional logit over the top sentences; the
abstention logit and the best verifier logit as a logistic regression) is fit on questions of
the training articles and every figure is measured on the held-out articles:

    python -m assistant.evaluation.verifier_eval --model assistant/compose/verifier
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

from assistant.compose.extractive import abstention, collect_candidates, confidence
from assistant.compose.seam import ComposeContext
from assistant.compose.verifier import BLEND_FILE, Blend, Verifier, context_text
from assistant.evaluation.answer_data import article_of, split_articles
from assistant.evaluation.gold import GoldRecord, load_gold
from assistant.evaluation.metrics import answer_is_correct
from assistant.models import Answer

log = logging.getLogger(__name__)

MAX_FALSE_ABSTENTION = 0.10


@dataclass(slots=True)
class Seen:
    question: str = ""
    texts: list[str] = field(default_factory=list)
    sentences: list[str] = field(default_factory=list)
    selector: list[float] = field(default_factory=list)
    probability: float = 0.0


class CandidateRecorder:
    """A composer that keeps the selector's top sentences and the answerable probability."""

    name = "extractive"

    def __init__(self, top_k: int) -> None:
        self.top_k = top_k
        self.last: Seen | None = None

    def compose(self, context: ComposeContext, abstain_threshold: float) -> Answer:
        candidates = collect_candidates(context)
        probability = confidence(candidates, context)
        top = sorted(range(len(candidates)), key=lambda i: candidates[i].score, reverse=True)[: self.top_k]
        self.last = Seen(
            context.question,
            [context_text(candidates, i) for i in top],
            [candidates[i].text for i in top],
            [candidates[i].score for i in top],
            probability,
        )
        return abstention(context)


@dataclass(slots=True)
class Recorded:
    seen: Seen
    answerable: bool
    holds: list[bool]
    verifier: np.ndarray = field(default_factory=lambda: np.zeros(0))


def record(index_dir: Path, records: Sequence[GoldRecord], top_k: int) -> list[Recorded]:
    from assistant.core import Assistant
    from assistant.settings import Settings

    recorder = CandidateRecorder(top_k)
    assistant = Assistant(index_dir, Settings(index_dir=index_dir), composer=recorder)
    assistant.refresh()
    out: list[Recorded] = []
    for n, r in enumerate(records, start=1):
        recorder.last = None
        assistant.ask(r.question)
        if n % 100 == 0:
            log.info("asked %d of %d", n, len(records))
        if recorder.last is None or not recorder.last.texts:
            continue
        holds = [bool(r.answerable and answer_is_correct(s, r.answers)) for s in recorder.last.sentences]
        out.append(Recorded(recorder.last, r.answerable, holds))
    return out


def _sample(records: Sequence[GoldRecord], articles: Sequence[str], n: int, seed: int) -> list[GoldRecord]:
    chosen = set(articles)
    answerable = [r for r in records if article_of(r) in chosen and r.answerable]
    other = [r for r in records if article_of(r) in chosen and not r.answerable]
    rng = random.Random(seed)
    return rng.sample(answerable, min(n, len(answerable))) + rng.sample(other, min(n, len(other)))


def fit_rank_blend(data: Sequence[Recorded]) -> tuple[float, float]:
    """Conditional logit over the top sentences on (selector logit, verifier logit)."""
    groups = [
        (np.column_stack([d.seen.selector, d.verifier]), np.array(d.holds)) for d in data if any(d.holds)
    ]

    def loss(w: np.ndarray) -> float:
        total = 0.0
        for x, y in groups:
            z = x @ w
            top = z.max()
            total -= math.log(np.exp(z - top)[y].sum()) - math.log(np.exp(z - top).sum())
        return total / len(groups) + 0.01 * float(w @ w)

    result = minimize(loss, np.array([1.0, 0.0]), method="Nelder-Mead")
    return float(result.x[0]), float(result.x[1])


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


def fit_abstention_blend(data: Sequence[Recorded]) -> tuple[float, float, float]:
    x = np.array([[_logit(d.seen.probability), float(d.verifier.max())] for d in data])
    y = np.array([d.answerable for d in data], dtype=float)

    def loss(t: np.ndarray) -> float:
        z = x @ t[:2] + t[2]
        return float(np.mean(np.logaddexp(0, z) - y * z) + 0.001 * t[:2] @ t[:2])

    result = minimize(loss, np.array([1.0, 0.0, 0.0]), method="Nelder-Mead")
    a, b, c = result.x
    return float(a), float(b), float(c)


def top1(data: Sequence[Recorded], scores: Sequence[np.ndarray]) -> float:
    """Share of answerable questions whose best-scored sentence holds the answer."""
    hits = [d.holds[int(np.argmax(s))] for d, s in zip(data, scores, strict=True) if d.answerable]
    return float(np.mean(hits)) if hits else 0.0


def abstention_recall(data: Sequence[Recorded], probability: np.ndarray) -> dict[str, float]:
    """Unanswerable questions refused at the highest threshold refusing at most 10 % of the
    answerable ones (and the same with "answered correctly" as the positive class)."""
    answerable = np.array([d.answerable for d in data])
    out: dict[str, float] = {}
    for name, positive in (("answerable", answerable), ("answerable_and_top1_correct", None)):
        if positive is None:
            positive = np.array([d.answerable and d.holds[0] for d in data])
        scores = np.sort(probability[positive])
        threshold = scores[math.floor(MAX_FALSE_ABSTENTION * len(scores))]
        out[f"recall_vs_{name}"] = round(float(np.mean(probability[~answerable] < threshold)), 4)
    return out


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, default=Path("eval/generated/squad/index"))
    parser.add_argument("--gold", type=Path, default=Path("eval/generated/squad/gold.jsonl"))
    parser.add_argument("--model", type=Path, default=Path("assistant/compose/verifier"))
    parser.add_argument(
        "--per-kind", type=int, default=300, help="Answerable and unanswerable questions per split."
    )
    parser.add_argument("--top-k", type=int, default=4)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--train-articles", type=int, default=20)
    parser.add_argument("--cache", type=Path, default=Path("eval/generated/verifier/recorded.json"))
    parser.add_argument("--report", type=Path, default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    records = [r for r in load_gold(args.gold) if r.scores_answers]
    train_articles, heldout_articles = split_articles(records, args.train_articles, args.seed)
    splits: dict[str, list[Recorded]] = {}
    cached = json.loads(args.cache.read_text("utf-8")) if args.cache.exists() else None
    for name, articles in (("train", train_articles), ("heldout", heldout_articles)):
        if cached is not None:
            splits[name] = [Recorded(Seen(**d["seen"]), d["answerable"], d["holds"]) for d in cached[name]]
            continue
        splits[name] = record(args.index, _sample(records, articles, args.per_kind, args.seed), args.top_k)
    if cached is None:
        args.cache.parent.mkdir(parents=True, exist_ok=True)
        args.cache.write_text(
            json.dumps(
                {
                    n: [{"seen": vars_of(d.seen), "answerable": d.answerable, "holds": d.holds} for d in data]
                    for n, data in splits.items()
                }
            ),
            "utf-8",
        )
    verifier = Verifier(args.model, threads=2)
    verifier.warm()
    took: list[float] = []
    for data in splits.values():
        for d in data:
            started = time.perf_counter()
            d.verifier = verifier.logits(d.seen.question, d.seen.texts)
            took.append(time.perf_counter() - started)
    ws, wv = fit_rank_blend(splits["train"])
    abst = fit_abstention_blend(splits["train"])
    held = splits["heldout"]
    blended = Blend(args.top_k, verifier.blend.max_length, ws, wv, abst)
    p_before = np.array([d.seen.probability for d in held])
    p_after = np.array(
        [
            1
            / (
                1
                + math.exp(
                    -(abst[0] * _logit(d.seen.probability) + abst[1] * float(d.verifier.max()) + abst[2])
                )
            )
            for d in held
        ]
    )
    report = {
        "heldout_questions": len(held),
        "heldout_answerable": int(sum(d.answerable for d in held)),
        "top_k": args.top_k,
        "top1_selector": round(top1(held, [np.array(d.seen.selector) for d in held]), 4),
        "top1_verifier_alone": round(top1(held, [d.verifier for d in held]), 4),
        "top1_blend": round(top1(held, [ws * np.array(d.seen.selector) + wv * d.verifier for d in held]), 4),
        "verifier_ms_per_question_p50": round(1000 * float(np.median(took)), 2),
        "any_of_top_k": round(float(np.mean([any(d.holds) for d in held if d.answerable])), 4),
        "blend": {"selector_weight": ws, "verifier_weight": wv, "abstention": abst},
        "abstention_before": abstention_recall(held, p_before),
        "abstention_with_verifier": abstention_recall(held, p_after),
    }
    print(json.dumps(report, indent=2))
    (args.model / BLEND_FILE).write_text(
        json.dumps(
            {
                "top_k": blended.top_k,
                "max_length": blended.max_length,
                "selector_weight": ws,
                "verifier_weight": wv,
                "abstention": list(abst),
            },
            indent=2,
        )
        + "\n",
        "utf-8",
    )
    if args.report is not None:
        args.report.write_text(json.dumps(report, indent=2) + "\n", "utf-8")


def vars_of(seen: Seen) -> dict[str, object]:
    return {name: getattr(seen, name) for name in Seen.__slots__}


if __name__ == "__main__":
    main()
