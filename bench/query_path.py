"""Query-path benchmark: `ask` latency and quality with the torch and the ONNX query embedder.

Part 1 (embedders): one short question at a time through sentence-transformers/torch, the
ONNX fp32 export and the int8 export, interleaved question by question so background load
hits all three alike; cosine of each to torch on 500 SQuAD 2.0 dev questions; onnxruntime
intra-op threads 1 vs 2, alone and with 4 questions in flight at once.

Part 2 (ask): `Assistant.ask` over the sample corpus (its 52 gold questions, asked 4 times)
and over SQuAD 2.0 dev (all 1,204 paragraphs indexed; 300 questions, half unanswerable),
with each query embedder, interleaved; p50/p95 of the total and of embed/retrieve/compose
from Answer.timings_ms; and quality per embedder (evidence document in the top 5, answer
correct, abstention correct) plus the top-5 overlap between the two.

Part 3 (cold): process start to first answer, a fresh interpreter per run, per embedder.

    .venv/bin/python bench/query_path.py            # all parts, indexes built into bench/out/
    .venv/bin/python bench/query_path.py --parts cold

Writes bench/out/query-path.json and prints Markdown tables.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
DATA = Path(os.environ.get("BENCH_DATASETS", REPO.parent / "shared" / "datasets"))
OUT = REPO / "bench" / "out"
WORK = OUT / "query-path"


def pct(values: Sequence[float]) -> dict[str, float]:
    return {
        "p50": round(float(np.percentile(values, 50)), 2),
        "p95": round(float(np.percentile(values, 95)), 2),
    }


def squad_questions(n: int) -> list[str]:
    lines = (DATA / "squad-v2.0-dev" / "questions.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["question"] for line in lines[:: max(1, len(lines) // n)][:n]]


# --- part 1: embedders --------------------------------------------------------------------------


def compare_embedders(n_questions: int) -> dict[str, Any]:
    from assistant.embedding import OnnxQueryEmbedder, SentenceTransformerEmbedder, ensure_onnx_model
    from assistant.settings import BUNDLED_MODEL

    questions = squad_questions(n_questions)
    torch_embedder = SentenceTransformerEmbedder(BUNDLED_MODEL)
    reference = torch_embedder.embed(questions)
    onnx = {q: ensure_onnx_model(BUNDLED_MODEL, quantization=q) for q in ("fp32", "int8")}
    runners: dict[str, Callable[[str], np.ndarray]] = {"torch": lambda t: torch_embedder.embed([t])[0]}
    for quantization, folder in onnx.items():
        for threads in (1, 2):
            embedder = OnnxQueryEmbedder(folder, threads=threads)
            runners[f"onnx-{quantization}-t{threads}"] = lambda t, e=embedder: e.embed([t])[0]
    for run in runners.values():  # load sessions, warm caches
        for question in questions[:10]:
            run(question)
    times: dict[str, list[float]] = {name: [] for name in runners}
    vectors: dict[str, list[np.ndarray]] = {name: [] for name in runners}
    for question in questions:
        for name, run in runners.items():
            started = time.perf_counter()
            vectors[name].append(run(question))
            times[name].append((time.perf_counter() - started) * 1000)
    result: dict[str, Any] = {"questions": len(questions), "single": {}}
    for name in runners:
        cosines = (np.vstack(vectors[name]) * reference).sum(axis=1)
        result["single"][name] = {
            **pct(times[name]),
            "cosine_mean": round(float(cosines.mean()), 5),
            "cosine_p1": round(float(np.percentile(cosines, 1)), 5),
            "cosine_min": round(float(cosines.min()), 5),
        }
    result["concurrent4"] = {}
    for threads in (1, 2):
        embedder = OnnxQueryEmbedder(onnx["int8"], threads=threads)
        embedder.warm()
        result["concurrent4"][f"onnx-int8-t{threads}"] = _concurrent(embedder.embed, questions, 4)
    return result


def _concurrent(
    embed: Callable[[list[str]], np.ndarray], questions: list[str], workers: int
) -> dict[str, float]:
    """Throughput and latency with `workers` questions in flight (as a busy server would have)."""
    latencies: list[float] = []
    lock = threading.Lock()

    def one(question: str) -> None:
        started = time.perf_counter()
        embed([question])
        with lock:
            latencies.append((time.perf_counter() - started) * 1000)

    started = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(one, questions))
    elapsed = time.perf_counter() - started
    return {**pct(latencies), "per_s": round(len(questions) / elapsed, 1)}


# --- part 2: ask ----------------------------------------------------------------------------------


def build_sets(squad_n: int) -> dict[str, tuple[Path, list[Any]]]:
    """(index_dir, gold records) for the sample corpus and for SQuAD 2.0 dev, built if missing."""
    from assistant.core import Assistant
    from assistant.evaluation.converters import convert_squad
    from assistant.evaluation.gold import load_gold
    from assistant.settings import Settings

    sets: dict[str, tuple[Path, list[Any]]] = {}
    squad = convert_squad(DATA, WORK / "squad", limit=squad_n)
    for name, corpus, gold in (
        ("sample", REPO / "corpus", REPO / "eval" / "sample.jsonl"),
        ("squad", squad.corpus_dir, squad.gold_path),
    ):
        index_dir = WORK / f"index-{name}"
        assistant = Assistant.open_or_create(index_dir, settings=Settings(index_dir=index_dir))
        started = time.perf_counter()
        report = assistant.index_paths([corpus], prune=True)
        print(
            f"{name}: index {report.documents} docs in {time.perf_counter() - started:.0f} s", file=sys.stderr
        )
        sets[name] = (index_dir, load_gold(gold))
    return sets


def assistant_with(index_dir: Path, kind: str) -> Any:
    """An Assistant whose questions are embedded by `kind` ("torch" or "onnx")."""
    from assistant.core import Assistant
    from assistant.embedding import make_query_embedder
    from assistant.settings import Settings

    settings = Settings(index_dir=index_dir, query_embedder=kind)  # type: ignore[arg-type]
    assistant = Assistant.load(index_dir, settings=settings)
    embedder = make_query_embedder(settings, assistant.embedder)
    if hasattr(assistant, "query_embedder"):
        assistant.query_embedder = embedder
    else:  # until core.py builds its query embedder itself
        assistant.embed_query = lambda text: embedder.embed([text])[0]
    return assistant


def ask_set(index_dir: Path, gold: list[Any], repeat: int, kinds: Sequence[str]) -> dict[str, Any]:
    from assistant.evaluation.metrics import answer_is_correct

    assistants = {kind: assistant_with(index_dir, kind) for kind in kinds}
    for assistant in assistants.values():
        for record in gold[:5]:
            assistant.ask(record.question)
    totals: dict[str, list[float]] = {k: [] for k in kinds}
    parts: dict[str, dict[str, list[float]]] = {
        k: {"embed": [], "retrieve": [], "compose": []} for k in kinds
    }
    quality: dict[str, dict[str, list[bool]]] = {k: {"hit5": [], "correct": [], "abstain": []} for k in kinds}
    top5: dict[str, list[list[str]]] = {k: [] for k in kinds}
    for round_ in range(repeat):
        for record in gold:
            for kind, assistant in assistants.items():
                started = time.perf_counter()
                answer = assistant.ask(record.question)
                totals[kind].append((time.perf_counter() - started) * 1000)
                for name, values in parts[kind].items():
                    values.append(float(answer.timings_ms.get(name, 0.0)))
                if round_:
                    continue
                top5[kind].append([p.chunk_id for p in answer.passages[:5]])
                if record.answerable:
                    if record.evidence_docs:
                        docs = {p.doc_id for p in answer.passages[:5]}
                        quality[kind]["hit5"].append(bool(docs & set(record.evidence_docs)))
                    quality[kind]["correct"].append(
                        not answer.abstained and answer_is_correct(answer.answer, record.answers)
                    )
                else:
                    quality[kind]["abstain"].append(answer.abstained)
    result: dict[str, Any] = {"questions": len(gold), "asks_per_embedder": len(gold) * repeat}
    for kind in kinds:
        result[kind] = {
            "ask_ms": pct(totals[kind]),
            **{f"{name}_ms": pct(values) for name, values in parts[kind].items()},
            **{name: round(float(np.mean(v)), 3) if v else None for name, v in quality[kind].items()},
        }
    if len(kinds) == 2:
        a, b = (top5[k] for k in kinds)
        overlap = [len(set(x) & set(y)) / max(len(x), 1) for x, y in zip(a, b, strict=True)]
        result["top5_overlap"] = round(float(np.mean(overlap)), 3)
    return result


# --- part 3: cold start ----------------------------------------------------------------------------

_COLD = """
import sys, time
from assistant.cli.common import load_assistant
assistant = load_assistant(sys.argv[1], query_embedder=sys.argv[2])
if not hasattr(assistant, "query_embedder"):  # until core.py builds its query embedder itself
    from assistant.embedding import make_query_embedder
    embedder = make_query_embedder(assistant.settings, assistant.embedder)
    assistant.embed_query = lambda text: embedder.embed([text])[0]
answer = assistant.ask(sys.argv[3])
heavy = [m for m in ("torch", "transformers", "sentence_transformers", "langchain_core") if m in sys.modules]
print(answer.abstained, ",".join(heavy) or "-")
"""


def cold_start(index_dir: Path, question: str, kinds: Sequence[str], runs: int) -> dict[str, Any]:
    """Process start to first answer: a fresh interpreter opens the index and answers once."""
    import subprocess

    result: dict[str, Any] = {}
    for kind in kinds:
        times, heavy = [], ""
        for _ in range(runs):
            started = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-c", _COLD, str(index_dir), kind, question],
                capture_output=True,
                text=True,
                check=True,
                cwd=REPO,
            )
            times.append(time.perf_counter() - started)
            heavy = done.stdout.split()[-1]
        result[kind] = {"median_s": round(float(np.median(times)), 2), "min_s": round(min(times), 2)}
        result[kind]["heavy_imports"] = heavy
    return result


# --- main -------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--parts", default="embed,ask,cold", help="embed, ask, cold (comma-separated)")
    parser.add_argument("--embed-questions", type=int, default=500)
    parser.add_argument("--squad-questions", type=int, default=300)
    parser.add_argument("--sample-repeat", type=int, default=4)
    parser.add_argument("--embedders", default="torch,onnx")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    WORK.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "load_average_at_start": os.getloadavg()[0],
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "command": "bench/query_path.py " + " ".join(sys.argv[1:]),
    }
    parts = args.parts.split(",")
    path = OUT / "query-path.json"
    if path.is_file():  # keep figures of parts not run this time
        results = {**json.loads(path.read_text()), **results}

    def save() -> None:  # after every part, so a later failure loses nothing
        results["load_average_now"] = os.getloadavg()[0]
        path.write_text(json.dumps(results, indent=2))

    if "embed" in parts:
        results["embedders"] = compare_embedders(args.embed_questions)
        save()
    if "ask" in parts:
        sets = build_sets(args.squad_questions)
        kinds = args.embedders.split(",")
        results["ask"] = {}
        for name, (index_dir, gold) in sets.items():
            repeat = args.sample_repeat if name == "sample" else 1
            results["ask"][name] = ask_set(index_dir, gold, repeat, kinds)
            save()
    if "cold" in parts:
        question = "What legal basis is proposed for regional talks?"
        results["cold_start"] = cold_start(WORK / "index-sample", question, ("torch", "onnx"), 5)
        save()
    print(tables(results))


def tables(results: dict[str, Any]) -> str:
    lines = [f"{results['machine']}; {results['date']}; `{results['command']}`", ""]
    if "embedders" in results:
        e = results["embedders"]
        lines += [
            f"Query embedding, one question at a time ({e['questions']} SQuAD 2.0 dev questions):",
            "",
            "| embedder | p50 ms | p95 ms | cosine to torch (mean / p1 / min) |",
            "| --- | ---: | ---: | --- |",
        ]
        for name, row in e["single"].items():
            lines.append(
                f"| {name} | {row['p50']} | {row['p95']} | "
                f"{row['cosine_mean']} / {row['cosine_p1']} / {row['cosine_min']} |"
            )
        lines += [
            "",
            "| 4 questions in flight | p50 ms | p95 ms | questions/s |",
            "| --- | ---: | ---: | ---: |",
        ]
        for name, row in e["concurrent4"].items():
            lines.append(f"| {name} | {row['p50']} | {row['p95']} | {row['per_s']} |")
        lines.append("")
    if "cold_start" in results:
        lines += ["Cold start, process start to first answer (sample index, median of 5):", ""]
        lines += [
            "| query embedder | median s | min s | heavy modules imported |",
            "| --- | ---: | ---: | --- |",
        ]
        for kind, row in results["cold_start"].items():
            lines.append(f"| {kind} | {row['median_s']} | {row['min_s']} | {row['heavy_imports']} |")
        lines.append("")
    for name, entry in results.get("ask", {}).items():
        lines += [
            f"`ask` on {name} ({entry['questions']} questions, {entry['asks_per_embedder']} asks per "
            f"embedder; top-5 overlap torch vs onnx {entry.get('top5_overlap', 'n/a')}):",
            "",
            "| query embedder | ask p50 | ask p95 | embed p50/p95 | retrieve p50/p95 | compose p50/p95 "
            "| evidence in top 5 | answer correct | abstained when unanswerable |",
            "| --- | ---: | ---: | --- | --- | --- | ---: | ---: | ---: |",
        ]
        for kind, row in entry.items():
            if not isinstance(row, dict):
                continue
            lines.append(
                f"| {kind} | {row['ask_ms']['p50']} | {row['ask_ms']['p95']} | "
                f"{row['embed_ms']['p50']} / {row['embed_ms']['p95']} | "
                f"{row['retrieve_ms']['p50']} / {row['retrieve_ms']['p95']} | "
                f"{row['compose_ms']['p50']} / {row['compose_ms']['p95']} | {row['hit5']} | "
                f"{row['correct']} | {row['abstain']} |"
            )
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
