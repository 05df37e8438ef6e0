"""Cold start and peak memory: process start to first answer, ours against the baseline.

    python -m bench.cold_start [--corpus sample|squad|all] [--runs 5]

Ours is the real command, `assistant ask QUESTION --index-dir DIR --json`; the baseline is a
script doing what a LangChain user's would: import, load HuggingFaceEmbeddings and the saved
FAISS store, `similarity_search(k=5)`, print. Wall time is measured from spawning the process
to its exit (an upper bound of "first answer"), peak RSS by the kernel (`wait4`). One unmeasured
run per side first warms the page cache; then the sides alternate and the median counts.
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
from pathlib import Path
from typing import Any

from bench.common import CORPORA, PYTHON, REPO_ROOT, load_questions, ratio, run_child, save_result
from bench.indexing import ensure_index


def commands(corpus_name: str) -> dict[str, list[str]]:
    question = load_questions(corpus_name, 1)[0]
    ours = ensure_index("ours", corpus_name)
    baseline = ensure_index("baseline", corpus_name)
    cli = str(Path(PYTHON).parent / "assistant")
    return {
        "ours": [cli, "ask", question, "--index-dir", str(ours), "--json"],
        "baseline": [PYTHON, "-m", "bench.baseline_langchain", "query", "--index", str(baseline), question],
    }


def _relative(command: list[str]) -> list[str]:
    """The command as a reader would type it from the repository root."""
    return [os.path.relpath(a, REPO_ROOT) if a.startswith(str(REPO_ROOT)) else a for a in command]


def measure(corpus_name: str, runs: int) -> dict[str, Any]:
    cmds = commands(corpus_name)
    for command in cmds.values():
        run_child(command)
    samples: dict[str, list[dict[str, float]]] = {"ours": [], "baseline": []}
    for number in range(1, runs + 1):
        order = ("ours", "baseline") if number % 2 else ("baseline", "ours")
        for side in order:
            run = run_child(cmds[side])
            samples[side].append({"seconds": round(run.seconds, 3), "peak_rss_mb": round(run.peak_rss_mb, 1)})
            print(f"  run {number} {side:8s}: {run.seconds:.2f} s, {run.peak_rss_mb:.0f} MB", flush=True)
    summary = {
        side: {
            "seconds_median": round(statistics.median(s["seconds"] for s in items), 3),
            "seconds_min": min(s["seconds"] for s in items),
            "peak_rss_mb_median": round(statistics.median(s["peak_rss_mb"] for s in items), 1),
        }
        for side, items in samples.items()
    }
    return {
        "corpus": corpus_name,
        "commands": {side: shlex.join(_relative(cmd)) for side, cmd in cmds.items()},
        "summary": summary,
        "samples": samples,
        "ratio_seconds": ratio(summary["ours"]["seconds_median"], summary["baseline"]["seconds_median"]),
        "ratio_peak_rss": ratio(
            summary["ours"]["peak_rss_mb_median"], summary["baseline"]["peak_rss_mb_median"]
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--corpus", default="all", choices=[*CORPORA, "all"])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    corpora = CORPORA if args.corpus == "all" else (args.corpus,)
    results = {}
    for name in corpora:
        print(f"cold start {name}: {args.runs} run(s) per side", flush=True)
        results[name] = measure(name, args.runs)
        summary = results[name]["summary"]
        print(
            f"{name}: ours {summary['ours']['seconds_median']} s / {summary['ours']['peak_rss_mb_median']} MB"
            f" vs baseline {summary['baseline']['seconds_median']} s / "
            f"{summary['baseline']['peak_rss_mb_median']} MB",
            flush=True,
        )
    path = save_result(
        "cold_start" if args.corpus == "all" else f"cold_start-{args.corpus}", {"corpora": results}
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
