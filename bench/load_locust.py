"""Serving under load, measured by locust (headless), ours and the LangChain peer in one run.

    python -m bench.load_locust [--corpus squad|sample] [--users 32] [--seconds 20] [--workers 2]
                                [--queue-limit 64] [--queue-target-ms 150]

On loopback only, bounded in users and time. Phases, one after another on the same machine:
  1. ours   (`assistant serve --workers N`, the SQuAD 2.0 dev index by default): `--users`
            closed-loop users (a refused one waits the 503's Retry-After, as real clients do);
  2. peer   (bench/peer_service.py: FastAPI around the plain LangChain pipeline, same model):
            the same users;
  3. ours at 4x its phase-1 rate, open loop (4 x users, each at a fixed pace): requests over the
            admission bound get a fast 503 + Retry-After; the admitted answers' p95 is reported
            apart from the 503s' (bench/locustfile.py names them `/ask` and `/ask 503`).
Locust runs in its own process on the same cores as the servers; its CPU is part of the load.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from bench.common import CORPORA, PYTHON, child_env, load_questions, save_result
from bench.indexing import ensure_index
from bench.load import Server

LOCUSTFILE = Path(__file__).with_name("locustfile.py")


def locust(url: str, users: int, seconds: int, questions: Path, user_rate: float = 0.0) -> dict[str, Any]:
    """One headless locust run; the per-name rows of its CSV stats."""
    with tempfile.TemporaryDirectory() as folder:
        prefix = str(Path(folder) / "run")
        command = [str(Path(PYTHON).parent / "locust"), "-f", str(LOCUSTFILE), "--headless"]
        command += ["--host", url, "-u", str(users), "-r", str(users), "-t", f"{seconds}s"]
        command += ["--csv", prefix, "--only-summary", "--stop-timeout", "5", "--loglevel", "WARNING"]
        env = child_env(BENCH_QUESTIONS=str(questions), BENCH_USER_RATE=str(user_rate))
        subprocess.run(command, env=env, check=False, timeout=seconds + 120, capture_output=True)
        with open(f"{prefix}_stats.csv", encoding="utf-8") as handle:
            rows = {row["Name"]: row for row in csv.DictReader(handle)}
    return {name: _row(row, seconds) for name, row in rows.items()}


def _row(row: dict[str, str], seconds: int) -> dict[str, Any]:
    return {
        "requests": int(row["Request Count"]),
        "failures": int(row["Failure Count"]),
        "per_s": round(float(row["Requests/s"]), 1),
        "p50_ms": float(row["50%"] or 0),
        "p95_ms": float(row["95%"] or 0),
        "p99_ms": float(row["99%"] or 0),
    }


def _show(label: str, stats: dict[str, Any]) -> None:
    for name, row in stats.items():
        print(
            f"  {label:<28} {name:<10} {row['per_s']:7.1f}/s  p50 {row['p50_ms']:5.0f} ms  "
            f"p95 {row['p95_ms']:5.0f} ms  p99 {row['p99_ms']:5.0f} ms  "
            f"n={row['requests']} failures={row['failures']}",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--corpus", default="squad", choices=CORPORA)
    parser.add_argument("--users", type=int, default=32)
    parser.add_argument("--seconds", type=int, default=20, help="per phase")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--queue-limit", type=int, default=64, help="ASSISTANT_QUEUE_LIMIT of ours")
    parser.add_argument("--queue-target-ms", type=int, default=150, help="ASSISTANT_QUEUE_TARGET_MS of ours")
    parser.add_argument("--questions", type=int, default=1000)
    args = parser.parse_args()
    ours_index = ensure_index("ours", args.corpus)
    peer_index = ensure_index("langchain", args.corpus)
    results: dict[str, Any] = {"corpus": args.corpus, "users": args.users, "seconds_per_phase": args.seconds}
    results |= {
        "workers": args.workers,
        "queue_limit": args.queue_limit,
        "queue_target_ms": args.queue_target_ms,
    }
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(load_questions(args.corpus, args.questions), handle)
    questions = Path(handle.name)
    try:
        limits = {
            "ASSISTANT_QUEUE_LIMIT": str(args.queue_limit),
            "ASSISTANT_QUEUE_TARGET_MS": str(args.queue_target_ms),
        }
        ours = Server(ours_index, workers=args.workers, **limits)
        try:
            ours.wait_ready()
            locust(ours.url, 4, 5, questions)  # warm every worker
            results["ours"] = locust(ours.url, args.users, args.seconds, questions)
            _show(f"ours, {args.users} users", results["ours"])
            sustained = results["ours"].get("/ask", {}).get("per_s", 0.0)
            users = 4 * args.users
            rate = 4 * sustained / users
            results["ours_overload"] = locust(ours.url, users, args.seconds, questions, user_rate=rate)
            results["overload_offered_per_s"] = round(4 * sustained, 1)
            _show(f"ours, 4x ({4 * sustained:.0f}/s offered)", results["ours_overload"])
        finally:
            ours.stop()
        command = [PYTHON, "-m", "bench.peer_service", "--index", str(peer_index), "--port", "{port}"]
        peer = Server(peer_index, command=command)
        try:
            peer.wait_ready()
            locust(peer.url, 4, 5, questions)
            results["peer"] = locust(peer.url, args.users, args.seconds, questions)
            _show(f"LangChain peer, {args.users} users", results["peer"])
        finally:
            peer.stop()
    finally:
        os.unlink(questions)
    print(f"wrote {save_result(f'load_locust-{args.corpus}', results)}")


if __name__ == "__main__":
    main()
