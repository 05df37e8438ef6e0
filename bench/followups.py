"""The follow-up benchmark: follow-up accuracy against the same questions asked standalone.

    python -m bench.followups --gold eval/generated/squad/gold.jsonl \
        --index-dir eval/generated/squad/index [--pairs 300] [--out-dir bench/out/followups]

Builds follow-up pairs from the answer model's held-out SQuAD 2.0 articles
(assistant/evaluation/followups.py, fixed seed), writes `followups.jsonl` (records with a
`history`) and `standalone.jsonl` (the same questions with the name in place), runs both through
`assistant eval`'s Evaluator, and measures how often a new, unrelated question (every held-out
question, after a question and answer from another article) is rewritten. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from assistant.compose.scorer import shipped_model
from assistant.conversation import resolve
from assistant.core import Assistant
from assistant.evaluation.followups import build_pairs, unrelated_history
from assistant.evaluation.gold import GoldRecord, load_gold
from assistant.evaluation.runner import Evaluator
from assistant.models import Turn

SHOWN = ("answer_accuracy", "first_sentence_accuracy", "answer_words", "false_abstention_rate", "questions")


def _write(records: list[GoldRecord], path: Path) -> None:
    path.write_text(
        "".join(json.dumps(r.to_json(), ensure_ascii=False) + "\n" for r in records), encoding="utf-8"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--gold", type=Path, required=True, help="SQuAD gold from `assistant eval convert squad`"
    )
    parser.add_argument("--index-dir", type=Path, required=True, help="the index of its corpus")
    parser.add_argument("--pairs", type=int, default=300)
    parser.add_argument("--out-dir", type=Path, default=Path("bench/out/followups"))
    args = parser.parse_args()

    records = load_gold(args.gold)
    heldout = list(shipped_model().card["heldout_articles"])
    pairs = build_pairs(records, heldout, args.pairs)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    _write([p.follow_up for p in pairs], args.out_dir / "followups.jsonl")
    _write([p.standalone for p in pairs], args.out_dir / "standalone.jsonl")

    assistant = Assistant.load(args.index_dir)
    evaluator = Evaluator(assistant)
    follow = evaluator.run([p.follow_up for p in pairs], "followups")
    alone = evaluator.run([p.standalone for p in pairs], "standalone")
    resolved = sum(
        1
        for p, r in zip(pairs, follow.results, strict=True)
        if r.answer is not None and r.answer.standalone_question == p.standalone.question
    )

    own = [r for r in records if r.evidence_docs and r.evidence_docs[0].rsplit("-", 1)[0] in set(heldout)]
    unrelated = unrelated_history(own or records)
    rewritten = sum(
        1
        for earlier, record in unrelated
        if resolve(
            record.question, [Turn(question=earlier.question, answer=" ".join(earlier.answers))]
        ).rewritten
    )
    result = {
        "pairs": len(pairs),
        "follow_up": {k: follow.metrics.get(k) for k in SHOWN},
        "standalone": {k: alone.metrics.get(k) for k in SHOWN},
        "gap": round((alone.metrics["answer_accuracy"] - follow.metrics["answer_accuracy"]), 4),
        "rewritten_exactly_to_standalone": round(resolved / max(len(pairs), 1), 4),
        "unrelated_questions": len(unrelated),
        "unrelated_rewritten_rate": round(rewritten / max(len(unrelated), 1), 4),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
