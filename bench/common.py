"""Shared helpers of the benchmarks: corpora, questions, token counts, percentiles, child processes.

Every figure is measured in a child process of its own, so that model loading, thread pools
and peak memory of one side never leak into the other side's numbers. A child prints one
JSON object as its last stdout line; `run_child` returns it with the child's wall time and
peak resident memory (from `wait4`, i.e. the kernel's own accounting, not sampling).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = REPO_ROOT / "bench" / "out"
SQUAD_DIR = Path(os.environ.get("BENCH_SQUAD_DIR", REPO_ROOT.parent / "shared/datasets/squad-v2.0-dev"))
SAMPLE_CORPUS = REPO_ROOT / "corpus"
SAMPLE_GOLD = REPO_ROOT / "eval" / "sample.jsonl"
PYTHON = sys.executable
CORPORA = ("squad", "sample")

#: the baseline's splitter settings (the pipeline a user would write from the LangChain docs)
BASELINE_CHUNK_SIZE = 1000
BASELINE_CHUNK_OVERLAP = 200
BASELINE_K = 5


@dataclass(slots=True)
class Corpus:
    """A folder of .txt files, and the text of each file (the numerator of tokens/s)."""

    name: str
    folder: Path
    files: list[Path]
    texts: list[str]


def _squad_passages() -> list[dict[str, Any]]:
    path = SQUAD_DIR / "passages.jsonl"
    if not path.exists():
        raise SystemExit(f"SQuAD 2.0 dev passages not found at {path}; set BENCH_SQUAD_DIR")
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _safe_name(passage_id: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in passage_id)


def write_squad_corpus(folder: Path) -> list[Path]:
    """One .txt file per SQuAD 2.0 dev paragraph (1,204), written once and reused."""
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for passage in _squad_passages():
        path = folder / f"{_safe_name(passage['passage_id'])}.txt"
        if not path.exists() or path.read_text(encoding="utf-8") != passage["text"]:
            path.write_text(passage["text"], encoding="utf-8")
        files.append(path)
    return files


def load_corpus(name: str) -> Corpus:
    """The SQuAD 2.0 dev paragraphs or the sample corpus, as files plus their source text."""
    if name == "squad":
        folder = OUT_DIR / "corpora" / "squad"
        files = write_squad_corpus(folder)
    elif name == "sample":
        folder = SAMPLE_CORPUS
        files = sorted(p for p in folder.iterdir() if p.suffix == ".txt")
    else:
        raise SystemExit(f"unknown corpus '{name}'; use one of {', '.join(CORPORA)}")
    return Corpus(name, folder, files, [p.read_text(encoding="utf-8") for p in files])


def load_questions(name: str, count: int) -> list[str]:
    """`count` questions for a corpus: SQuAD questions spread over all 35 articles (answerable
    and unanswerable alike); for the sample corpus, the gold set's questions repeated in order."""
    if name == "squad":
        lines = (SQUAD_DIR / "questions.jsonl").read_text(encoding="utf-8").splitlines()
        questions = [json.loads(line)["question"] for line in lines if line.strip()]
        step = max(len(questions) // count, 1)
        return [questions[(i * step) % len(questions)] for i in range(count)]
    if not SAMPLE_GOLD.exists():
        raise SystemExit(f"gold set {SAMPLE_GOLD} not found")
    gold = [json.loads(line)["question"] for line in SAMPLE_GOLD.read_text(encoding="utf-8").splitlines()]
    gold = [q for q in gold if q.strip()]
    return [gold[i % len(gold)] for i in range(count)]


def model_path() -> str:
    """The bundled all-MiniLM-L6-v2 folder (both sides load the same weights by path)."""
    from assistant.settings import BUNDLED_MODEL, resolve_model_path

    return resolve_model_path(BUNDLED_MODEL)


@cache
def _tokenizer() -> Any:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(Path(model_path()) / "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


def count_tokens(texts: Iterable[str]) -> int:
    """Word pieces of the text with the model's own tokenizer (no special tokens, no truncation)."""
    encodings = _tokenizer().encode_batch(list(texts), add_special_tokens=False)
    return sum(len(e.ids) for e in encodings)


def summarize(latencies_ms: Sequence[float]) -> dict[str, float]:
    """p50/p95/p99/mean of a list of latencies in milliseconds."""
    ordered = sorted(latencies_ms)
    if not ordered:
        return {"n": 0}

    def pct(q: float) -> float:
        # nearest-rank on the sorted sample: a reported p95 is a latency that was observed
        rank = max(round(q / 100 * len(ordered) + 0.5) - 1, 0)
        return round(ordered[min(rank, len(ordered) - 1)], 2)

    return {
        "n": len(ordered),
        "p50": pct(50),
        "p95": pct(95),
        "p99": pct(99),
        "mean": round(statistics.fmean(ordered), 2),
        "max": round(ordered[-1], 2),
    }


def child_env(**extra: str) -> dict[str, str]:
    """The environment of a measured child: offline, no tokenizer threads, our settings untouched."""
    env = dict(os.environ)
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH", "")]))
    env.update(extra)
    return env


@dataclass(slots=True)
class ChildRun:
    """What one measured child process did."""

    command: list[str]
    seconds: float
    peak_rss_mb: float
    returncode: int
    stdout: str
    stderr: str
    result: dict[str, Any] = field(default_factory=dict)


#: GNU time forks the measured command from its own tiny process, so the peak RSS it reports is
#: the command's own. (A child spawned straight from Python inherits, in its ru_maxrss, the peak
#: of the process it was forked from, because Linux carries that over exec.)
GNU_TIME = Path("/usr/bin/time")


def run_child(command: Sequence[str], env: dict[str, str] | None = None, check: bool = True) -> ChildRun:
    """Run a command; wall time from spawn to exit and its own peak RSS."""
    with (
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
        tempfile.NamedTemporaryFile() as rss,
    ):
        wrapped = list(command)
        if GNU_TIME.exists():
            wrapped = [str(GNU_TIME), "-q", "-f", "%M", "-o", rss.name, *wrapped]
        started = time.perf_counter()
        proc = subprocess.Popen(wrapped, stdout=out, stderr=err, env=env or child_env(), cwd=REPO_ROOT)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode("utf-8", "replace")
        stderr = err.read().decode("utf-8", "replace")
        peak_kb = float(usage.ru_maxrss)
        reported = Path(rss.name).read_text(encoding="ascii").split() if GNU_TIME.exists() else []
        if reported and reported[-1].isdigit():
            peak_kb = float(reported[-1])
    run = ChildRun(list(command), seconds, peak_kb / 1024, proc.returncode, stdout, stderr)
    if check and run.returncode != 0:
        raise SystemExit(
            f"benchmark child failed ({run.returncode}): {shlex.join(run.command)}\n{stderr[-4000:]}"
        )
    for line in reversed(stdout.splitlines()):
        if line.startswith("{") and line.rstrip().endswith("}"):
            with contextlib.suppress(ValueError):
                run.result = json.loads(line)
                break
    return run


def emit(result: dict[str, Any]) -> None:
    """A worker's result: one JSON line on stdout (the last one wins)."""
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _lscpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
    except OSError:
        return platform.processor() or "unknown"
    for line in out.splitlines():
        if line.startswith("Model name:"):
            return line.split(":", 1)[1].strip()
    return "unknown"


def _ram_gb() -> float:
    with open("/proc/meminfo", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    return 0.0


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "-"


def machine_info() -> dict[str, Any]:
    """CPU, cores, RAM, load and library versions: the context every figure needs."""
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": _lscpu_model(),
        "cores": os.cpu_count(),
        "ram_gb": _ram_gb(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "versions": {
            p: _version(p)
            for p in (
                "torch",
                "sentence-transformers",
                "transformers",
                "faiss-cpu",
                "onnxruntime",
                "langchain-community",
                "langchain-huggingface",
            )
        },
    }


def save_result(name: str, data: dict[str, Any]) -> Path:
    """Write bench/out/<name>.json with the machine and the command that produced it."""
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    payload = {
        "figure": name,
        "command": shlex.join(["python", "-m", f"bench.{Path(sys.argv[0]).stem}", *sys.argv[1:]]),
        "machine": machine_info(),
        **data,
    }
    path = OUT_DIR / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    return path


def ratio(ours: float, theirs: float) -> float | None:
    """ours / theirs, rounded; None when the baseline figure is missing or zero."""
    if not theirs:
        return None
    return round(ours / theirs, 2)
