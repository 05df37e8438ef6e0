"""Answer latency with the model loaded: our `Assistant.ask` against the baseline's
`similarity_search(k=5)`, on the same questions, in the same run.

    python -m bench.latency [--corpus squad|sample|all] [--questions 200] [--rounds 2]

Ours answers (hybrid retrieval + a composed, cited answer); the baseline only retrieves.
Each side runs in its own process on the index that `bench.indexing` built (built here if it
is missing), is warmed with five questions, then times every question once. The round with
the lower p50 counts for each side; every round is kept in the JSON.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from bench.common import (
    CORPORA,
    PYTHON,
    emit,
    load_questions,
    peak_rss_mb,
    ratio,
    run_child,
    save_result,
    summarize,
)
from bench.indexing import ensure_index


def ask_ours(index_dir: Path, corpus_name: str, count: int) -> dict[str, Any]:
    """`Assistant.ask` over `count` questions, recording each stage's own timings too."""
    from assistant.core import Assistant

    assistant = Assistant.load(index_dir)
    questions = load_questions(corpus_name, count)
    for question in questions[:5]:
        assistant.ask(question)
    latencies: list[float] = []
    stages: dict[str, list[float]] = {}
    abstained = 0
    for question in questions:
        started = time.perf_counter()
        answer = assistant.ask(question)
        latencies.append((time.perf_counter() - started) * 1000)
        abstained += answer.abstained
        for stage, ms in answer.timings_ms.items():
            stages.setdefault(stage, []).append(ms)
    return {
        "side": "ours",
        "corpus": corpus_name,
        "questions": len(questions),
        "unique_questions": len(set(questions)),
        "abstained": abstained,
        "latency_ms": summarize(latencies),
        "stages_ms": {stage: summarize(values) for stage, values in stages.items()},
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }


def measure(corpus_name: str, count: int, rounds: int) -> dict[str, Any]:
    indexes = {side: ensure_index(side, corpus_name) for side in ("ours", "baseline")}
    runs: dict[str, list[dict[str, Any]]] = {"ours": [], "baseline": []}
    for number in range(1, rounds + 1):
        order = ("ours", "baseline") if number % 2 else ("baseline", "ours")
        for side in order:
            if side == "ours":
                command = [PYTHON, "-m", "bench.latency", "--worker", "--corpus", corpus_name]
                command += ["--questions", str(count), "--index-dir", str(indexes[side])]
            else:
                command = [PYTHON, "-m", "bench.baseline_langchain", "latency", "--corpus", corpus_name]
                command += ["--questions", str(count), "--index", str(indexes[side])]
            result = run_child(command).result
            runs[side].append(result)
            lat = result["latency_ms"]
            print(
                f"  round {number} {side:8s} {corpus_name}: p50 {lat['p50']} ms, p95 {lat['p95']} ms",
                flush=True,
            )
    best = {side: min(items, key=lambda r: r["latency_ms"]["p50"]) for side, items in runs.items()}
    return {
        "corpus": corpus_name,
        "best": best,
        "runs": runs,
        "ratio_p50": ratio(best["ours"]["latency_ms"]["p50"], best["baseline"]["latency_ms"]["p50"]),
        "ratio_p95": ratio(best["ours"]["latency_ms"]["p95"], best["baseline"]["latency_ms"]["p95"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--corpus", default="all", choices=[*CORPORA, "all"])
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--index-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        emit(ask_ours(args.index_dir, args.corpus, args.questions))
        return
    corpora = CORPORA if args.corpus == "all" else (args.corpus,)
    results = {}
    for name in corpora:
        print(f"latency {name}: {args.questions} questions, {args.rounds} round(s) per side", flush=True)
        results[name] = measure(name, args.questions, args.rounds)
        best = results[name]["best"]
        print(
            f"{name}: ours p50 {best['ours']['latency_ms']['p50']} ms vs baseline "
            f"{best['baseline']['latency_ms']['p50']} ms -> x{results[name]['ratio_p50']}",
            flush=True,
        )
    path = save_result("latency" if args.corpus == "all" else f"latency-{args.corpus}", {"corpora": results})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
