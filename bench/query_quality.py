"""Answer and retrieval quality with the ONNX query embedder against the torch one.

    python -m bench.query_quality [--set sample|squad|all]

The ONNX path is what makes `ask` fast; it is kept only if the gold sets score the same with
it. Each set is evaluated twice on the same index with `assistant eval run`, once per
`ASSISTANT_QUERY_EMBEDDER`, and the metrics are printed side by side. The sample set uses
the sample-corpus index of `bench.indexing`; the SQuAD set comes from
`assistant eval convert squad --build-index` (eval/generated/squad/).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from bench.common import OUT_DIR, PYTHON, REPO_ROOT, child_env, run_child, save_result
from bench.indexing import ensure_index

EMBEDDERS = ("torch", "onnx")
SHOWN = (
    "accuracy",
    "answer_accuracy",
    "abstention_recall",
    "citation_precision",
    "groundedness",
    "hit@1",
    "hit@5",
    "mrr",
    "ndcg@10",
    "passage_hit@5",
    "latency_p50_ms",
    "latency_p95_ms",
    "questions",
)


def gold_sets() -> dict[str, tuple[Path, Path]]:
    squad = REPO_ROOT / "eval" / "generated" / "squad"
    return {
        "sample": (REPO_ROOT / "eval" / "sample.jsonl", ensure_index("ours", "sample")),
        "squad": (squad / "gold.jsonl", squad / "index"),
    }


def evaluate(name: str, gold: Path, index_dir: Path) -> dict[str, Any]:
    if not gold.exists() or not (index_dir / "CURRENT").exists():
        raise SystemExit(
            f"{gold} or its index {index_dir} is missing; for SQuAD run "
            "`assistant eval convert squad --limit 500 --build-index` first"
        )
    metrics: dict[str, dict[str, float]] = {}
    for embedder in EMBEDDERS:
        report = OUT_DIR / f"eval-{name}-{embedder}.json"
        cli = str(Path(PYTHON).parent / "assistant")
        command = [cli, "eval", "run", str(gold), "--index-dir", str(index_dir), "--out", str(report)]
        run_child(command, env=child_env(ASSISTANT_QUERY_EMBEDDER=embedder), check=False)
        data = json.loads(report.read_text(encoding="utf-8"))
        metrics[embedder] = {k: data["metrics"][k] for k in SHOWN if k in data["metrics"]}
        print(f"  {name} {embedder}: accuracy {metrics[embedder].get('accuracy')}", flush=True)
    return {"gold": str(gold.relative_to(REPO_ROOT)), "metrics": metrics}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--set", default="all", choices=["sample", "squad", "all"])
    args = parser.parse_args()
    sets = gold_sets()
    names = list(sets) if args.set == "all" else [args.set]
    results = {name: evaluate(name, *sets[name]) for name in names}
    for name, item in results.items():
        print(f"{name}: metric, {', '.join(EMBEDDERS)}")
        for key in item["metrics"][EMBEDDERS[0]]:
            values = "  ".join(f"{item['metrics'][e].get(key, float('nan')):>9.3f}" for e in EMBEDDERS)
            print(f"  {key:20s} {values}")
    path = save_result("query_quality", {"sets": results})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
