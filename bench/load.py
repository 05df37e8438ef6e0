"""Serving under load: `assistant serve` on loopback, POST /ask at several concurrency levels.

    python -m bench.load [--corpus squad|sample] [--levels 1,8,32] [--duration 30]
    python -m bench.load --levels 32 --duration 300      # the 5-minute memory soak

A closed-loop async client (httpx) keeps `concurrency` requests in flight for `duration`
seconds per level, cycling through distinct questions, and records every latency and every
failed request (transport error or non-200). The server's resident memory is sampled from
/proc once a second over the whole run; the client's own CPU time is reported because on a
2-core machine it competes with the server for the same cores.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import (
    CORPORA,
    PYTHON,
    child_env,
    load_questions,
    save_result,
    summarize,
)
from bench.indexing import ensure_index

STARTUP_TIMEOUT_S = 180
WARMUP_REQUESTS = 20


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_mb(pid: int) -> float | None:
    """Resident memory of a process from /proc (None once it is gone)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


class Server:
    """`assistant serve` in a child process, on a free loopback port."""

    def __init__(
        self, index_dir: Path, workers: int = 1, command: list[str] | None = None, **env: str
    ) -> None:
        """`command` (with `{port}` in it) serves something else: the peer of bench.load_locust."""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 (closed in stop())
        if command is None:
            cli = str(Path(PYTHON).parent / "assistant")
            command = [cli, "serve", "--host", "127.0.0.1", "--port", "{port}", "--workers", str(workers)]
            command += ["--index-dir", str(index_dir), "--no-build"]
        command = [part.replace("{port}", str(self.port)) for part in command]
        self.proc = subprocess.Popen(
            command, stdout=self.log, stderr=subprocess.STDOUT, env=child_env(**env), start_new_session=True
        )

    def wait_ready(self) -> None:
        import httpx

        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"assistant serve exited with {self.proc.returncode}:\n{self.output()}")
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        raise SystemExit(f"assistant serve did not answer /health within {STARTUP_TIMEOUT_S} s")

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode("utf-8", "replace")[-4000:]

    def stop(self) -> None:
        os.killpg(self.proc.pid, signal.SIGTERM)  # the server and its worker processes
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.log.close()


async def sample_rss(pid: int, samples: list[tuple[float, float]], stop: asyncio.Event) -> None:
    started = time.monotonic()
    while not stop.is_set():
        value = rss_mb(pid)
        if value is not None:
            samples.append((round(time.monotonic() - started, 1), round(value, 1)))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=1.0)


async def run_level(url: str, questions: list[str], concurrency: int, duration: float) -> dict[str, Any]:
    """Keep `concurrency` requests in flight for `duration` seconds; every latency recorded."""
    import httpx

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    latencies: list[float] = []
    stages: dict[str, list[float]] = {}
    errors: dict[str, int] = {}
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:
        for question in questions[:WARMUP_REQUESTS]:
            await client.post("/ask", json={"question": question})
        loop = asyncio.get_running_loop()
        deadline = loop.time() + duration

        async def worker(first: int) -> None:
            number = first
            while loop.time() < deadline:
                question = questions[number % len(questions)]
                number += concurrency
                started = time.perf_counter()
                try:
                    response = await client.post("/ask", json={"question": question})
                    failure = None if response.status_code == 200 else f"HTTP {response.status_code}"
                except httpx.HTTPError as exc:
                    failure = type(exc).__name__
                elapsed = (time.perf_counter() - started) * 1000
                if failure is None:
                    latencies.append(elapsed)
                    for stage, ms in response.json().get("timings_ms", {}).items():
                        stages.setdefault(stage, []).append(ms)
                else:
                    errors[failure] = errors.get(failure, 0) + 1

        cpu_started = time.process_time()
        wall_started = time.perf_counter()
        await asyncio.gather(*(worker(i) for i in range(concurrency)))
        wall = time.perf_counter() - wall_started
        client_cpu = time.process_time() - cpu_started
    return {
        "concurrency": concurrency,
        "seconds": round(wall, 2),
        "requests": len(latencies) + sum(errors.values()),
        "ok": len(latencies),
        "errors": sum(errors.values()),
        "error_kinds": errors,
        "requests_per_s": round(len(latencies) / wall, 1),
        "latency_ms": summarize(latencies),
        "server_stages_ms": {stage: summarize(values) for stage, values in stages.items()},
        "client_cpu_share": round(client_cpu / wall, 2),
    }


def memory_trend(samples: list[tuple[float, float]]) -> dict[str, Any]:
    """First and last minute's mean RSS and the least-squares slope (MB per minute)."""
    if len(samples) < 2:
        return {}
    times = [t for t, _ in samples]
    values = [v for _, v in samples]
    mean_t = sum(times) / len(times)
    mean_v = sum(values) / len(values)
    spread = sum((t - mean_t) ** 2 for t in times) or 1.0
    slope = sum((t - mean_t) * (v - mean_v) for t, v in samples) / spread
    window = 60.0 if times[-1] >= 180 else max(times[-1] / 4, 1.0)
    first = [v for t, v in samples if t <= window]
    last = [v for t, v in samples if t >= times[-1] - window]
    return {
        "start_mb": values[0],
        "max_mb": max(values),
        "end_mb": values[-1],
        "first_window_mean_mb": round(sum(first) / len(first), 1),
        "last_window_mean_mb": round(sum(last) / len(last), 1),
        "window_s": round(window, 1),
        "slope_mb_per_min": round(slope * 60, 2),
    }


async def run(url: str, pid: int, questions: list[str], levels: list[int], duration: float) -> dict[str, Any]:
    samples: list[tuple[float, float]] = []
    stop = asyncio.Event()
    sampler = asyncio.create_task(sample_rss(pid, samples, stop))
    results = []
    for level in levels:
        result = await run_level(url, questions, level, duration)
        lat = result["latency_ms"]
        print(
            f"  concurrency {level:3d}: {result['requests_per_s']:7.1f} asks/s, p50 {lat.get('p50')} ms, "
            f"p95 {lat.get('p95')} ms, p99 {lat.get('p99')} ms, errors {result['errors']}",
            flush=True,
        )
        results.append(result)
    stop.set()
    await sampler
    return {"levels": results, "rss_mb": memory_trend(samples), "rss_samples": samples}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--corpus", default="squad", choices=CORPORA)
    parser.add_argument("--levels", default="1,8,32", help="comma-separated concurrency levels")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds per level")
    parser.add_argument("--questions", type=int, default=1000, help="distinct questions to cycle")
    parser.add_argument("--index-dir", type=Path, help="serve this index instead of the bench one")
    parser.add_argument("--name", default=None, help="result name under bench/out/ (default: load)")
    args = parser.parse_args()
    levels = [int(x) for x in args.levels.split(",") if x.strip()]
    index_dir = args.index_dir or ensure_index("ours", args.corpus)
    questions = load_questions(args.corpus, args.questions)
    server = Server(index_dir)
    try:
        server.wait_ready()
        print(
            f"load on {server.url} ({args.corpus}, {os.cpu_count()} cores): {args.duration:.0f} s per level"
        )
        data = asyncio.run(run(server.url, server.proc.pid, questions, levels, args.duration))
    finally:
        server.stop()
    trend = data["rss_mb"]
    print(
        f"server RSS: start {trend.get('start_mb')} MB, max {trend.get('max_mb')} MB, "
        f"end {trend.get('end_mb')} MB, slope {trend.get('slope_mb_per_min')} MB/min"
    )
    name = args.name or ("load-soak" if args.duration >= 300 else "load")
    path = save_result(name, {"corpus": args.corpus, "duration_per_level_s": args.duration, **data})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
