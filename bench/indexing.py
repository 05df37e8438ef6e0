"""Index build throughput, ours against the LangChain baseline, in the same run.

    python -m bench.indexing [--corpus squad|sample|all] [--rounds 3]

Each round builds a fresh index with each side, each in a new process, alternating sides so
that a slow minute on a shared machine does not favour one of them. Both sides load and warm
the model before the clock starts; the clock covers reading, splitting, embedding and writing
the index. Throughput is given in chunks/s and in *source* tokens/s (word pieces of the input
files counted with the model's tokenizer), the one numerator both sides share: we embed every
chunk and every sentence, the baseline only its chunks. The best round of each side counts
(the least disturbed by other load); every round is kept in the JSON.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import time
from pathlib import Path
from typing import Any

from bench.common import (
    CORPORA,
    OUT_DIR,
    PYTHON,
    count_tokens,
    emit,
    load_corpus,
    peak_rss_mb,
    ratio,
    run_child,
    save_result,
)


def build_ours(corpus_name: str, index_dir: Path) -> dict[str, Any]:
    """A fresh `assistant index build` of the corpus (the same call the CLI makes)."""
    from assistant.core import Assistant
    from assistant.settings import Settings

    corpus = load_corpus(corpus_name)
    shutil.rmtree(index_dir, ignore_errors=True)
    assistant = Assistant(index_dir, Settings())
    assistant.embedder.embed(["warm up the model"])
    _ = assistant.query_embedder  # the one-off ONNX export of the model is not part of a build
    started = time.perf_counter()
    cpu_started = time.process_time()
    report = assistant.index_paths([corpus.folder], rebuild=True)
    seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu_started
    snapshot = assistant.snapshot()
    assert snapshot is not None
    chunk_texts = _chunk_texts(snapshot.path / "store.sqlite")
    source_tokens = count_tokens(corpus.texts)
    return {
        "side": "ours",
        "corpus": corpus_name,
        "documents": report.documents,
        "chunks": report.chunks,
        "sentences": snapshot.manifest.sentences,
        "skipped": len(report.skipped),
        "chunk_chars_mean": round(sum(map(len, chunk_texts)) / max(len(chunk_texts), 1), 1),
        "source_tokens": source_tokens,
        "chunk_tokens": count_tokens(chunk_texts),
        "embedded_texts": report.embedded_texts,
        "sentence_vectors": snapshot.manifest.extra.get("sentence_vectors", ""),
        "seconds": round(seconds, 3),
        "cpu_seconds": round(cpu_seconds, 3),
        "chunks_per_s": round(report.chunks / seconds, 2),
        "tokens_per_s": round(source_tokens / seconds, 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }


def _chunk_texts(database: Path) -> list[str]:
    """Every chunk's text, read straight from the snapshot's SQLite file (read-only)."""
    import sqlite3

    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as db:
        return [row[0] for row in db.execute("SELECT text FROM chunks")]


def index_dir_for(side: str, corpus_name: str) -> Path:
    """Where a side's index of a corpus lives (the latency and cold-start figures reuse it)."""
    return OUT_DIR / "indexes" / f"{side}-{corpus_name}"


def measure(corpus_name: str, rounds: int) -> dict[str, Any]:
    """Alternate fresh builds of both sides and keep every round."""
    runs: dict[str, list[dict[str, Any]]] = {"ours": [], "baseline": []}
    for number in range(1, rounds + 1):
        order = ("ours", "baseline") if number % 2 else ("baseline", "ours")
        for side in order:
            result = build_once(side, corpus_name)
            runs[side].append(result)
            print(
                f"  round {number} {side:8s} {corpus_name}: {result['seconds']:.1f} s, "
                f"{result['chunks_per_s']:.1f} chunks/s, {result['tokens_per_s']:.0f} source tokens/s",
                flush=True,
            )
    best = {side: max(items, key=lambda r: r["tokens_per_s"]) for side, items in runs.items()}
    return {
        "corpus": corpus_name,
        "rounds": rounds,
        "best": best,
        "runs": runs,
        "ratio_tokens_per_s": ratio(best["ours"]["tokens_per_s"], best["baseline"]["tokens_per_s"]),
        "ratio_chunks_per_s": ratio(best["ours"]["chunks_per_s"], best["baseline"]["chunks_per_s"]),
    }


def build_once(side: str, corpus_name: str) -> dict[str, Any]:
    """One fresh build by one side, in its own process; the index is kept for the other figures."""
    target = index_dir_for(side, corpus_name)
    if side == "ours":
        command = [PYTHON, "-m", "bench.indexing", "--worker", "--corpus", corpus_name]
        command += ["--index-dir", str(target)]
    else:
        shutil.rmtree(target, ignore_errors=True)
        command = [PYTHON, "-m", "bench.baseline_langchain", "build", "--corpus", corpus_name]
        command += ["--save", str(target)]
    run = run_child(command)
    return run.result | {"process_peak_rss_mb": round(run.peak_rss_mb, 1)}


def ensure_index(side: str, corpus_name: str) -> Path:
    """The side's index of the corpus, built now if an earlier figure did not leave one."""
    target = index_dir_for(side, corpus_name)
    marker = "CURRENT" if side == "ours" else "index.faiss"
    if not (target / marker).exists():
        print(f"  building the {side} index of {corpus_name}", flush=True)
        build_once(side, corpus_name)
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--corpus", default="all", choices=[*CORPORA, "all"])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--index-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        emit(build_ours(args.corpus, args.index_dir))
        return
    corpora = CORPORA if args.corpus == "all" else (args.corpus,)
    results = {}
    for name in corpora:
        print(f"indexing {name}: {args.rounds} round(s) per side", flush=True)
        results[name] = measure(name, args.rounds)
        best = results[name]["best"]
        print(
            f"{name}: ours {best['ours']['tokens_per_s']:.0f} tok/s vs baseline "
            f"{best['baseline']['tokens_per_s']:.0f} tok/s -> x{results[name]['ratio_tokens_per_s']}",
            flush=True,
        )
    path = save_result(
        "indexing" if args.corpus == "all" else f"indexing-{args.corpus}", {"corpora": results}
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
