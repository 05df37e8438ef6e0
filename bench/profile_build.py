"""Where a full index build spends its time: cProfile around the build bench.indexing measures.

    python -m bench.profile_build [--corpus squad|sample] [--top 25]

Prints the functions with the most cumulative and own time, and saves the profile under
bench/out/ (open it with `python -m pstats` or snakeviz).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import tempfile
from pathlib import Path

from bench.common import CORPORA, OUT_DIR
from bench.indexing import build_ours


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--corpus", default="squad", choices=CORPORA)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    profiler = cProfile.Profile()
    with tempfile.TemporaryDirectory() as folder:
        profiler.enable()
        result = build_ours(args.corpus, Path(folder) / "index")
        profiler.disable()
    print({k: result[k] for k in ("documents", "chunks", "source_tokens", "seconds") if k in result})
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    path = OUT_DIR / f"profile-build-{args.corpus}.prof"
    profiler.dump_stats(path)
    stats = pstats.Stats(profiler)
    stats.sort_stats("cumulative").print_stats(args.top)
    stats.sort_stats("tottime").print_stats(args.top)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
