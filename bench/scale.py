"""Scale benchmark: the dense index (and optionally a whole `ask`) at up to a million chunks.

Vectors: real all-MiniLM-L6-v2 embeddings of SQuAD 2.0 dev sentences and SciFact abstract
sentences (embedded once with the torch model, cached in bench/out/), plus synthetic vectors
for the rest. A synthetic vector is a random mixture of two real ones plus Gaussian noise,
renormalised: it lies in the same anisotropic, clustered region of the sphere as real
embeddings (uniform random vectors would be far easier for HNSW), and many of them crowd
around every real vector, so a query's ten nearest neighbours are close calls.
Queries: SQuAD questions and SciFact claims embedded by the ONNX query embedder, as in `ask`.

For each index kind it reports build time, resident memory of a fresh process that loads
the index from disk, p50/p95 search latency (one query at a time, depth 30 as retrieval
asks for) and recall@10 against exact search; with --ask it also builds a whole snapshot
(SQLite + FTS5 with a real sentence as each chunk's text) and times `Assistant.ask`.

    .venv/bin/python bench/scale.py                     # 100k chunks, a few minutes
    .venv/bin/python bench/scale.py --n 1000000 --ask   # the 1M figure (see docs/scale.md)

Results go to bench/out/scale-<n>.json and a Markdown table to stdout.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
DATA = Path(os.environ.get("BENCH_DATASETS", REPO.parent / "shared" / "datasets"))
OUT = REPO / "bench" / "out"
DEPTH = 30  # retrieval reads max(top_k * 4, 30) dense hits
EF_SWEEP = (16, 32, 48, 64, 96, 128)


# --- data ------------------------------------------------------------------------------------


def real_texts(limit: int) -> list[str]:
    """Sentences of SQuAD 2.0 dev paragraphs, then of SciFact abstracts (deduplicated)."""
    from assistant.ingest import split_sentences

    texts: list[str] = []
    seen: set[str] = set()
    with open(DATA / "squad-v2.0-dev" / "passages.jsonl", encoding="utf-8") as handle:
        for line in handle:
            text = json.loads(line)["text"]
            for span in split_sentences(text):
                sentence = text[span.start : span.end]
                if len(sentence) > 20 and sentence not in seen:
                    seen.add(sentence)
                    texts.append(sentence)
    with open(DATA / "scifact" / "corpus.jsonl", encoding="utf-8") as handle:
        for line in handle:
            for sentence in json.loads(line)["abstract"]:
                if len(sentence) > 20 and sentence not in seen:
                    seen.add(sentence)
                    texts.append(sentence)
    return texts[:limit]


def query_texts(n: int) -> list[str]:
    """Half SQuAD questions, half SciFact claims (real user-like queries for both halves)."""
    squad = [json.loads(line)["question"] for line in _lines(DATA / "squad-v2.0-dev" / "questions.jsonl")]
    claims = [json.loads(line)["claim"] for line in _lines(DATA / "scifact" / "claims_dev.jsonl")]
    return squad[:: max(1, len(squad) // (n - n // 2))][: n - n // 2] + claims[: n // 2]


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def real_vectors(texts: list[str]) -> np.ndarray:
    """Torch (reference) embeddings of the real texts, cached in bench/out/."""
    key = hashlib.sha256("\n".join(texts).encode()).hexdigest()[:16]
    path = OUT / f"scale-real-{len(texts)}-{key}.npy"
    if path.is_file():
        return np.load(path)
    from assistant.embedding import SentenceTransformerEmbedder
    from assistant.settings import BUNDLED_MODEL

    started = time.perf_counter()
    vectors = SentenceTransformerEmbedder(BUNDLED_MODEL, batch_size=64).embed(texts)
    print(f"embedded {len(texts):,} real texts in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    np.save(path, vectors)
    return vectors


def synthetic_vectors(real: np.ndarray, n: int, seed: int = 0, noise: float = 0.25) -> np.ndarray:
    """Mixtures of two real vectors (weight 0.5-1 on the first) plus noise, renormalised."""
    rng = np.random.default_rng(seed)
    out = np.empty((n, real.shape[1]), dtype=np.float32)
    for first in range(0, n, 100_000):
        m = min(100_000, n - first)
        a = real[rng.integers(0, len(real), m)]
        b = real[rng.integers(0, len(real), m)]
        w = rng.uniform(0.5, 1.0, (m, 1)).astype(np.float32)
        mixed = w * a + (1 - w) * b
        mixed += rng.normal(0, noise / np.sqrt(real.shape[1]), mixed.shape).astype(np.float32)
        out[first : first + m] = mixed / np.linalg.norm(mixed, axis=1, keepdims=True)
    return out


def exact_top(base: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """Chunk ids (row + 1, as the indexes are built) of the exact k nearest rows."""
    import faiss

    _, rows = faiss.knn(queries, base, k, metric=faiss.METRIC_INNER_PRODUCT)
    return rows + 1


# --- measuring in a fresh process -----------------------------------------------------------


def rss_mb() -> tuple[float, float]:
    """(current, peak) resident memory of this process in MB, from /proc."""
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def measure(folder: Path, queries_path: Path, truth_path: Path, mmap: bool) -> dict[str, Any]:
    """Load an index like a server would and time single queries (run in a fresh process)."""
    import faiss

    import assistant.store.snapshot.vector_index as vi

    faiss.omp_set_num_threads(1)  # one query at a time: threads only add overhead
    before, _ = rss_mb()
    started = time.perf_counter()
    index = vi.VectorIndex.read(folder, mmap=mmap)
    load_s = time.perf_counter() - started
    after, _ = rss_mb()
    queries = np.load(queries_path)
    truth = np.load(truth_path)
    sweep = EF_SWEEP if index.kind != "flat" else (0,)
    rows = []
    for ef in sweep:
        if ef:
            vi.HNSW_EF_SEARCH = ef
        for q in queries[:20]:
            index.search(q, DEPTH)
        times, hits = [], 0
        for q, true_ids in zip(queries, truth, strict=True):
            t = time.perf_counter()
            found = index.search(q, DEPTH)
            times.append((time.perf_counter() - t) * 1000)
            hits += len({i for i, _ in found[:10]} & set(true_ids[:10].tolist()))
        rows.append(
            {
                "ef_search": ef or None,
                "recall_at_10": round(hits / (10 * len(queries)), 4),
                "p50_ms": round(float(np.percentile(times, 50)), 3),
                "p95_ms": round(float(np.percentile(times, 95)), 3),
            }
        )
    return {"load_s": round(load_s, 2), "index_rss_mb": round(after - before, 1), "sweep": rows}


def run_measure(folder: Path, queries_path: Path, truth_path: Path, mmap: bool) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "measure", str(folder), str(queries_path), str(truth_path)]
    if mmap:
        cmd.append("--mmap")
    result = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


# --- whole-ask mode ---------------------------------------------------------------------------


def build_snapshot(index_dir: Path, texts: list[str], vectors_dir: Path, n: int) -> float:
    """A real snapshot of n one-sentence chunks (10 per document) over the vector index already
    built in `vectors_dir` (chunk i has FAISS id i + 1, the id SQLite gives it).

    Chunk i's text is real sentence i mod len(texts), so FTS5 posting lists are as long as
    they would be for a million real sentences drawn from these sources.
    """
    from assistant.settings import BUNDLED_MODEL
    from assistant.store import FORMAT_VERSION, Manifest, NewChunk
    from assistant.store.snapshot.store import IndexStore
    from assistant.store.snapshot.vector_index import VectorIndex

    class _Sink:  # the writer's own index is replaced by the prebuilt one below
        def add(self, *_: Any) -> None:
            return None

    vector_index = VectorIndex.read(vectors_dir)
    dimension = vector_index.dimension
    started = time.perf_counter()
    manifest = Manifest(FORMAT_VERSION, BUNDLED_MODEL, dimension, 600, 1, faiss_index=vector_index.kind)
    store = IndexStore(index_dir)
    per_doc = 10
    # sentence vectors are what the composer scores: the chunk's own vector (one sentence each)
    ids = vector_index.id_map()
    assert ids.size == n and ids[0] == 1 and ids[-1] == n, "vectors must be stored under ids 1..n"
    with store.writer(manifest, fresh=True) as writer:
        writer.vectors = _Sink()  # type: ignore[assignment]
        for doc in range(0, n, per_doc):
            rows = range(doc, min(doc + per_doc, n))
            parts = [texts[i % len(texts)] for i in rows]
            text = " ".join(parts)
            spans, offset = [], 0
            for part in parts:
                spans.append((offset, offset + len(part)))
                offset += len(part) + 1
            vectors = vector_index.index.reconstruct_batch(np.arange(doc + 1, doc + 1 + len(parts)))
            writer.add_document(
                doc_id=f"doc{doc // per_doc}",
                title=f"Document {doc // per_doc}",
                source=f"synthetic/doc{doc // per_doc}.txt",
                source_key=f"synthetic/doc{doc // per_doc}.txt",
                content_hash=str(doc),
                text=text,
                pages=[],
                metadata={},
                sentence_spans=spans,
                sentence_vectors=vectors,
                chunks=[NewChunk(s, e, text[s:e], None, j, j) for j, (s, e) in enumerate(spans)],
                chunk_vectors=vectors,
            )
        writer.vectors = vector_index
    return time.perf_counter() - started


def measure_ask(index_dir: Path, questions: list[str]) -> dict[str, Any]:
    """Assistant.ask over the questions in this (fresh) process: latency, timings and memory."""
    from assistant.core import Assistant
    from assistant.settings import Settings

    started = time.perf_counter()
    settings = Settings(index_dir=index_dir)
    assistant = Assistant.load(index_dir, settings=settings)
    assistant.ask(questions[0])
    first_answer_s = time.perf_counter() - started
    for q in questions[:10]:
        assistant.ask(q)
    totals, parts = [], {"embed": [], "retrieve": [], "compose": []}
    for q in questions:
        t = time.perf_counter()
        answer = assistant.ask(q)
        totals.append((time.perf_counter() - t) * 1000)
        for name in parts:
            parts[name].append(answer.timings_ms.get(name, 0.0))
    current, peak = rss_mb()

    def pct(values: list[float]) -> dict[str, float]:
        return {
            "p50": round(float(np.percentile(values, 50)), 2),
            "p95": round(float(np.percentile(values, 95)), 2),
        }

    return {
        "first_answer_s": round(first_answer_s, 2),
        "ask_ms": pct(totals),
        **{f"{name}_ms": pct(v) for name, v in parts.items()},
        "rss_mb": round(current, 1),
        "peak_rss_mb": round(peak, 1),
    }


# --- main ---------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=100_000, help="chunks in the index")
    parser.add_argument("--real", type=int, default=40_000, help="of which real embeddings (at most)")
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--kinds", default="flat,hnsw,hnsw_sq8")
    parser.add_argument("--ask", action="store_true", help="also build a whole snapshot and time ask()")
    parser.add_argument("--ask-kind", default="hnsw")
    parser.add_argument(
        "--ask-again",
        action="store_true",
        help="only time ask() again on the snapshot an earlier --ask run left (after a query-path change)",
    )
    args = parser.parse_args()
    if args.ask_again:
        ask_again(args.n)
        return
    if args.ask and args.ask_kind not in args.kinds.split(","):
        parser.error(f"--ask-kind {args.ask_kind} must be one of --kinds ({args.kinds})")

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    OUT.mkdir(parents=True, exist_ok=True)
    work = OUT / f"scale-{args.n}"
    work.mkdir(exist_ok=True)
    texts = real_texts(min(args.real, args.n))
    real = real_vectors(texts)
    base = (
        np.vstack([real, synthetic_vectors(real, args.n - len(real))])
        if args.n > len(real)
        else real[: args.n]
    )
    print(f"{len(real):,} real + {len(base) - len(real):,} synthetic vectors", file=sys.stderr)

    from assistant.embedding import make_query_embedder
    from assistant.settings import Settings

    questions = query_texts(args.queries)
    embedder = make_query_embedder(Settings(query_embedder="onnx"), fallback=None)  # type: ignore[arg-type]
    queries = embedder.embed(questions)
    started = time.perf_counter()
    truth = exact_top(base, queries, 10)
    exact_s = time.perf_counter() - started
    np.save(work / "queries.npy", queries)
    np.save(work / "truth.npy", truth)

    from assistant.store.snapshot.vector_index import VectorIndex

    results: dict[str, Any] = {
        "n": args.n,
        "real": len(real),
        "synthetic": len(base) - len(real),
        "queries": len(questions),
        "exact_batch_s": round(exact_s, 1),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}",
        "date": time.strftime("%Y-%m-%d"),
        "command": "bench/scale.py " + " ".join(sys.argv[1:]),
        "kinds": {},
    }
    for kind in args.kinds.split(","):
        index = VectorIndex.create(kind, base.shape[1])  # type: ignore[arg-type]
        started = time.perf_counter()
        for first in range(0, len(base), 100_000):
            index.add(
                base[first : first + 100_000], np.arange(first + 1, min(first + 100_000, len(base)) + 1)
            )
        build_s = time.perf_counter() - started
        folder = work / kind
        folder.mkdir(exist_ok=True)
        index.write(folder)
        size_mb = (folder / "vectors.faiss").stat().st_size / 2**20
        del index
        entry = {"build_s": round(build_s, 1), "file_mb": round(size_mb, 1)}
        entry.update(run_measure(folder, work / "queries.npy", work / "truth.npy", mmap=False))
        if kind == "flat":
            entry["mmap"] = run_measure(folder, work / "queries.npy", work / "truth.npy", mmap=True)
        results["kinds"][kind] = entry
        print(f"{kind}: {json.dumps(entry)}", file=sys.stderr)

    if args.ask:
        index_dir = work / "index"
        import shutil

        shutil.rmtree(index_dir, ignore_errors=True)
        build_s = build_snapshot(index_dir, texts, work / args.ask_kind, args.n)
        cmd = [sys.executable, __file__, "ask", str(index_dir), str(work / "questions.json")]
        (work / "questions.json").write_text(json.dumps(questions))
        done = subprocess.run(cmd, capture_output=True, text=True, check=True)
        results["ask"] = {"kind": args.ask_kind, "snapshot_build_s": round(build_s, 1)}
        results["ask"].update(json.loads(done.stdout.strip().splitlines()[-1]))
        print(f"ask: {json.dumps(results['ask'])}", file=sys.stderr)

    (OUT / f"scale-{args.n}.json").write_text(json.dumps(results, indent=2))
    print(table(results))


def ask_again(n: int) -> None:
    """Re-time ask() on the kept snapshot and replace the "ask" figures of scale-<n>.json."""
    work = OUT / f"scale-{n}"
    path = OUT / f"scale-{n}.json"
    if not path.exists() or not (work / "index" / "CURRENT").exists():
        raise SystemExit(f"no earlier `bench/scale.py --n {n} --ask` run to reuse in {work}")
    results = json.loads(path.read_text())
    cmd = [sys.executable, __file__, "ask", str(work / "index"), str(work / "questions.json")]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    results["ask"].update(json.loads(done.stdout.strip().splitlines()[-1]))
    results["ask"]["timed"] = time.strftime("%Y-%m-%d %H:%M") + " (bench/scale.py --ask-again)"
    path.write_text(json.dumps(results, indent=2))
    print(table(results))


def table(results: dict[str, Any]) -> str:
    lines = [
        f"Scale: {results['n']:,} chunks ({results['real']:,} real MiniLM vectors, "
        f"{results['synthetic']:,} synthetic), {results['queries']} queries; {results['machine']}; "
        f"{results['date']}; `{results['command']}`",
        "",
        "| index | build s | file MB | resident MB | load s | efSearch | recall@10 | p50 ms | p95 ms |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for kind, entry in results["kinds"].items():
        for row in entry["sweep"]:
            lines.append(
                f"| {kind} | {entry['build_s']} | {entry['file_mb']} | {entry['index_rss_mb']} | "
                f"{entry['load_s']} | {row['ef_search'] or '-'} | {row['recall_at_10']} | "
                f"{row['p50_ms']} | {row['p95_ms']} |"
            )
        if "mmap" in entry:
            m = entry["mmap"]
            row = m["sweep"][0]
            lines.append(
                f"| {kind} (mmap) | - | {entry['file_mb']} | {m['index_rss_mb']} | {m['load_s']} | - | "
                f"{row['recall_at_10']} | {row['p50_ms']} | {row['p95_ms']} |"
            )
    if "ask" in results:
        a = results["ask"]
        lines += [
            "",
            f"Whole `ask` on a {results['n']:,}-chunk snapshot ({a['kind']}; snapshot built in "
            f"{a['snapshot_build_s']} s): first answer {a['first_answer_s']} s after load start; "
            f"ask p50 {a['ask_ms']['p50']} ms, p95 {a['ask_ms']['p95']} ms (embed p50 "
            f"{a['embed_ms']['p50']}, retrieve p50 {a['retrieve_ms']['p50']} / p95 "
            f"{a['retrieve_ms']['p95']}, compose p50 {a['compose_ms']['p50']}); resident "
            f"{a['rss_mb']} MB (peak {a['peak_rss_mb']} MB).",
        ]
    return "\n".join(lines)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "measure":
        print(
            json.dumps(measure(Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4]), "--mmap" in sys.argv))
        )
    elif len(sys.argv) > 1 and sys.argv[1] == "ask":
        print(json.dumps(measure_ask(Path(sys.argv[2]), json.loads(Path(sys.argv[3]).read_text()))))
    else:
        main()
