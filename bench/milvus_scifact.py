"""SciFact on both store backends: the same model and the same 300 questions, FAISS + SQLite
(the snapshot store) against Milvus (Milvus Lite in a file).

    python -m bench.milvus_scifact [--work DIR]

Needs `assistant eval convert scifact` first (eval/generated/scifact). Each backend's index is
built with `assistant index build` into DIR (kept, so a rerun only evaluates), then
`assistant eval` runs every question through the real ask path and reports nDCG@10 and the
per-question latency percentiles. Writes bench/out/milvus_scifact.json and prints a table.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from bench.common import PYTHON, REPO_ROOT, child_env, run_child, save_result

SCIFACT = REPO_ROOT / "eval" / "generated" / "scifact"
BACKENDS = ("snapshot", "milvus")


def backend_env(backend: str, work: Path) -> dict[str, str]:
    if backend == "snapshot":
        return child_env(ASSISTANT_STORE="snapshot")
    return child_env(ASSISTANT_STORE="milvus", ASSISTANT_MILVUS_URI=str(work / "milvus" / "scifact.db"))


def index_dir(backend: str, work: Path) -> Path:
    return work / ("snap" if backend == "snapshot" else "milvus")


def run_backend(backend: str, work: Path) -> dict[str, Any]:
    """Build (unless built) and evaluate one backend; its figures."""
    cli = str(Path(PYTHON).parent / "assistant")
    env = backend_env(backend, work)
    folder = index_dir(backend, work)
    figures: dict[str, Any] = {"backend": backend}
    marker = folder / ".bench-built"
    if not marker.exists():
        folder.mkdir(parents=True, exist_ok=True)
        build = run_child([cli, "index", "build", str(SCIFACT / "corpus"), "--index-dir", str(folder)], env)
        marker.write_text(json.dumps({"seconds": build.seconds, "peak_rss_mb": build.peak_rss_mb}))
    built = json.loads(marker.read_text())
    figures["build_seconds"] = round(built["seconds"], 1)
    figures["build_peak_rss_mb"] = round(built["peak_rss_mb"])
    report_path = work / f"report_{backend}.json"
    run_child(
        [cli, "eval", str(SCIFACT / "gold.jsonl"), "--index-dir", str(folder), "--out", str(report_path)], env
    )
    metrics = json.loads(report_path.read_text())["metrics"]
    for name in ("ndcg@10", "latency_p50_ms", "latency_p95_ms", "answer_accuracy", "recall@5"):
        if name in metrics:
            figures[name] = round(metrics[name], 1 if name.startswith("latency") else 3)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=REPO_ROOT / "bench" / "out" / "milvus-scifact")
    args = parser.parse_args()
    if not (SCIFACT / "gold.jsonl").exists():
        raise SystemExit("run `assistant eval convert scifact` first")
    rows = [run_backend(backend, args.work) for backend in BACKENDS]
    save_result("milvus_scifact", {"rows": rows})
    columns = list(rows[0])
    print("| " + " | ".join(columns) + " |")
    print("| " + " | ".join("---" for _ in columns) + " |")
    for row in rows:
        print("| " + " | ".join(str(row.get(c, "–")) for c in columns) + " |")


if __name__ == "__main__":
    main()
