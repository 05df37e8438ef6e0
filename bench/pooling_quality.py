"""Answer quality with late-pooled sentence vectors against sentences encoded on their own.

    python -m bench.pooling_quality [--set sample|squad|all]

For each gold set, builds its corpus twice (same chunks, same chunk vectors; only the
sentence vectors differ), runs `assistant eval run` on both and prints the metrics side by
side. Late pooling is kept only if answer quality does not drop (bench/RESULTS.md).
The SQuAD gold set comes from `assistant eval convert squad` (eval/generated/squad/).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from bench.common import OUT_DIR, PYTHON, REPO_ROOT, run_child, save_result

GOLD_SETS = {
    "sample": (REPO_ROOT / "eval" / "sample.jsonl", REPO_ROOT / "corpus"),
    "squad": (
        REPO_ROOT / "eval" / "generated" / "squad" / "gold.jsonl",
        REPO_ROOT / "eval/generated/squad/corpus",
    ),
}
MODES = ("encoded", "late-pooled")
SHOWN = (
    "accuracy",
    "answer_accuracy",
    "abstention_f1",
    "false_abstention_rate",
    "citation_precision",
    "citation_recall",
    "hit@1",
    "recall@5",
    "mrr",
    "passage_hit@1",
    "passage_mrr",
    "questions",
)


def evaluate(name: str) -> dict[str, Any]:
    gold, corpus = GOLD_SETS[name]
    if not gold.exists() or not corpus.exists():
        raise SystemExit(f"{gold} or {corpus} is missing; for SQuAD run `assistant eval convert squad` first")
    metrics: dict[str, dict[str, float]] = {}
    for mode in MODES:
        index_dir = OUT_DIR / "indexes" / f"quality-{name}-{mode}"
        build = [PYTHON, "-m", "bench.index_options", "--worker", mode, "2", "16"]
        built = run_child([*build, "--folder", str(corpus), "--index-dir", str(index_dir)]).result
        report = OUT_DIR / f"quality-{name}-{mode}.json"
        cli = str(Path(PYTHON).parent / "assistant")
        run_child(
            [cli, "eval", "run", str(gold), "--index-dir", str(index_dir), "--out", str(report)], check=False
        )
        data = json.loads(report.read_text(encoding="utf-8"))
        metrics[mode] = {k: data["metrics"][k] for k in SHOWN if k in data["metrics"]}
        metrics[mode]["build_cpu_seconds"] = built["cpu_seconds"]
        print(f"  {name} {mode}: accuracy {metrics[mode].get('accuracy')}", flush=True)
    return {"gold": str(gold.relative_to(REPO_ROOT)), "metrics": metrics}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--set", default="all", choices=[*GOLD_SETS, "all"])
    args = parser.parse_args()
    names = list(GOLD_SETS) if args.set == "all" else [args.set]
    results = {name: evaluate(name) for name in names}
    for name, item in results.items():
        print(f"{name}: metric, encoded, late-pooled")
        for key in item["metrics"]["encoded"]:
            encoded, late = item["metrics"]["encoded"][key], item["metrics"]["late-pooled"][key]
            print(f"  {key:24s} {encoded:>9.3f} {late:>9.3f}")
    path = save_result("pooling_quality", {"sets": results})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
