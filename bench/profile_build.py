"""Where a full index build spends its time: cProfile around the build bench.indexing times.

    python -m bench.profile_build [--corpus squad|sample] [--top 25]

The model is loaded and warmed first (as in bench.indexing), then only `index_paths` is
profiled. Prints the share of the build in each step and the functions with the most own
time, and saves the profile under bench/out/ (`python -m pstats` or snakeviz open it).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import tempfile
import time
from pathlib import Path

from bench.common import CORPORA, OUT_DIR, load_corpus

#: the build's steps, by the function that does each (file fragment, function name)
STEPS = {
    "model forward (embed_batch)": ("assistant/indexing/pipeline.py", "embed_batch"),
    "load + chunk (prepare)": ("assistant/indexing/pipeline.py", "prepare"),
    "commit (SQLite, FAISS, checksums)": ("assistant/store/snapshot/writer.py", "commit"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--corpus", default="squad", choices=CORPORA)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    from assistant.core import Assistant
    from assistant.settings import Settings

    corpus = load_corpus(args.corpus)
    profiler = cProfile.Profile()
    with tempfile.TemporaryDirectory() as folder:
        assistant = Assistant(Path(folder) / "index", Settings())
        assistant.embedder.embed(["warm up the model"])
        started = time.perf_counter()
        profiler.enable()
        report = assistant.index_paths([corpus.folder], rebuild=True)
        profiler.disable()
        seconds = time.perf_counter() - started
    done = f"{report.documents} documents, {report.chunks} chunks in {seconds:.1f} s"
    print(f"{args.corpus}: {done} (profiled)")
    stats = pstats.Stats(profiler)
    raw = stats.stats  # type: ignore[attr-defined]
    total = sum(entry[2] for entry in raw.values())
    for label, (fragment, name) in STEPS.items():
        cumulative = sum(e[3] for (file, _, func), e in raw.items() if func == name and fragment in file)
        print(f"  {label:<36} {cumulative:7.1f} s  {100 * cumulative / max(total, 1e-9):5.1f} %")
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    path = OUT_DIR / f"profile-build-{args.corpus}.prof"
    stats.dump_stats(path)
    stats.sort_stats("tottime").print_stats(args.top)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
