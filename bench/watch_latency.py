"""Watched folder: seconds from a file's save to an answer that reflects it.

    python -m bench.watch_latency [--edits 5]

The sample corpus is copied to a temp folder and indexed; `watch_folders` then runs in a
thread as `assistant index watch` / `serve --watch` run it. Each edit appends a new fact to one
file (an atomic save: written aside, renamed over); the clock stops when `Assistant.ask`
returns an answer that contains the new fact. Debounce and sync are included; the model is warm.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import threading
import time
from pathlib import Path

from assistant.core import Assistant
from assistant.models import IndexReport
from assistant.settings import Settings
from assistant.sources.watch import watch_folders
from bench.common import REPO_ROOT

QUESTION = "What was the name of the harbour master's dog?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--edits", type=int, default=5)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="watch-bench-"))
    folder = root / "corpus"
    shutil.copytree(REPO_ROOT / "corpus", folder)
    index_dir = root / "index"
    assistant = Assistant.open_or_create(index_dir, Settings(index_dir=index_dir))
    stop = threading.Event()
    synced = threading.Event()
    reports: list[IndexReport] = []

    def on_report(report: IndexReport) -> None:
        reports.append(report)
        synced.set()

    thread = threading.Thread(
        target=watch_folders,
        args=([folder], lambda: assistant.index_paths([folder], prune=True), stop, on_report),
        daemon=True,
    )
    thread.start()
    synced.wait(600)
    assistant.ask("warm up")
    target = sorted(folder.glob("*.txt"))[0]
    original = target.read_text()
    seconds = []
    for n in range(args.edits):
        name = f"Brisko{n}x"
        aside = folder / f".{target.name}.tmp"
        aside.write_text(original + f"\nThe harbour master's dog was named {name}.\n")
        saved = time.perf_counter()
        os.replace(aside, target)
        while name not in assistant.ask(QUESTION).answer:
            if time.perf_counter() - saved > 60:
                raise SystemExit(f"edit {n} not answered within 60 s")
            time.sleep(0.05)
        seconds.append(time.perf_counter() - saved)
        last = reports[-1]
        print(
            f"edit {n}: {seconds[-1]:.2f} s (sync {last.seconds:.2f} s, "
            f"{last.embedded_texts} texts embedded, {last.reused_texts} reused)"
        )
    stop.set()
    thread.join(10)
    shutil.rmtree(root, ignore_errors=True)
    print(f"save -> answer: median {statistics.median(seconds):.2f} s, max {max(seconds):.2f} s")


if __name__ == "__main__":
    main()
