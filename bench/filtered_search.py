"""Search inside one document set: `ask` latency with and without the filter, and its recall.

    .venv/bin/python -m bench.filtered_search [--n 100000] [--real 20000] [--share 0.1]

A snapshot of n one-sentence chunks (10 per document) is built as bench/scale.py builds it:
real MiniLM vectors of SQuAD 2.0 and SciFact sentences plus synthetic vectors around them, an
HNSW index. One document in 1/share is put in the set `team`. For each question `Assistant.ask`
runs twice, unfiltered and with `SearchFilters(sets=["team"])` (interleaved, same process), and
the store's dense search inside the set is compared with exact search over that set's vectors
(recall@10). Results go to bench/out/filtered-<n>.json and a Markdown table to stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import time
from pathlib import Path

import numpy as np

from bench.scale import (
    OUT,
    build_snapshot,
    query_texts,
    real_texts,
    real_vectors,
    synthetic_vectors,
)

SET = "team"
PER_DOC = 10  # chunks per document, as build_snapshot writes them


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=100_000, help="chunks in the index")
    parser.add_argument("--real", type=int, default=20_000, help="real sentence vectors among them")
    parser.add_argument("--share", type=float, default=0.1, help="share of documents in the set")
    parser.add_argument("--queries", type=int, default=100)
    args = parser.parse_args()
    work = OUT / f"filtered-{args.n}"
    work.mkdir(parents=True, exist_ok=True)

    texts = real_texts(min(args.real, args.n))
    real = real_vectors(texts)
    base = np.vstack([real, synthetic_vectors(real, args.n - len(real))]) if args.n > len(real) else real
    from assistant.store.snapshot.vector_index import VectorIndex

    index = VectorIndex.create("hnsw", base.shape[1])
    started = time.perf_counter()
    for first in range(0, len(base), 100_000):
        index.add(base[first : first + 100_000], np.arange(first + 1, min(first + 100_000, len(base)) + 1))
    index_s = time.perf_counter() - started
    vectors_dir = work / "hnsw"
    vectors_dir.mkdir(exist_ok=True)
    index.write(vectors_dir)
    del index
    index_dir = work / "index"
    shutil.rmtree(index_dir, ignore_errors=True)
    snapshot_s = build_snapshot(index_dir, texts, vectors_dir, args.n)
    members = _put_in_set(index_dir, args.n, args.share)
    done = f"index {index_s:.0f} s, snapshot {snapshot_s:.0f} s, {len(members)} docs in '{SET}'"
    print(done, file=sys.stderr)

    results = measure(index_dir, base, members, query_texts(args.queries))
    results.update(
        n=args.n,
        real=len(real),
        share=args.share,
        set_documents=len(members),
        set_chunks=len(members) * PER_DOC,
        machine=f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}",
        date=time.strftime("%Y-%m-%d"),
        command="python -m bench.filtered_search " + " ".join(sys.argv[1:]),
    )
    (OUT / f"filtered-{args.n}.json").write_text(json.dumps(results, indent=2))
    print(table(results))


def _put_in_set(index_dir: Path, n: int, share: float) -> list[str]:
    """Every (1/share)-th document moves from `default` to the set (one new snapshot)."""
    from assistant.store.snapshot.store import IndexStore

    store = IndexStore(index_dir)
    live = store.open()
    step = round(1 / share)
    members = [f"doc{d}" for d in range(0, n // PER_DOC, step)]
    with store.writer(live.manifest) as writer:
        for doc_id in members:
            writer.set_document_sets(doc_id, [SET])
    live.close()
    return members


def measure(index_dir: Path, base: np.ndarray, members: list[str], questions: list[str]) -> dict:
    from assistant.core import Assistant
    from assistant.models import SearchFilters
    from assistant.settings import Settings

    assistant = Assistant.load(index_dir, Settings(index_dir=index_dir))
    inside = SearchFilters(sets=[SET])
    for q in questions[:10]:  # warm both paths
        assistant.ask(q)
        assistant.ask(q, filters=inside)
    plain, filtered = [], []
    for q in questions:
        t = time.perf_counter()
        assistant.ask(q)
        plain.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        answer = assistant.ask(q, filters=inside)
        filtered.append((time.perf_counter() - t) * 1000)
        assert all(c.doc_id in set(members) for c in answer.citations), "a citation left the set"

    # recall@10 of the store's dense search inside the set against exact search over the set
    rows = np.concatenate([np.arange(int(d[3:]) * PER_DOC, int(d[3:]) * PER_DOC + PER_DOC) for d in members])
    rows = rows[rows < len(base)]
    subset = base[rows]
    view = assistant.snapshot()
    assert view is not None
    doc_ids = view.doc_ids_in_sets([SET])
    hits = total = 0
    for q in questions:
        vector = assistant.embed_query(q)
        exact = {int(rows[i]) + 1 for i in np.argsort(-(subset @ vector))[:10]}
        found = {chunk for chunk, _ in view.search([(vector, q)], 10, 30, doc_ids=doc_ids, mode="dense")}
        hits += len(exact & found)
        total += len(exact)

    def pct(values: list[float], p: float) -> float:
        return round(float(np.percentile(values, p)), 2)

    return {
        "queries": len(questions),
        "ask_ms": {"p50": pct(plain, 50), "p95": pct(plain, 95)},
        "ask_in_set_ms": {"p50": pct(filtered, 50), "p95": pct(filtered, 95)},
        "p50_ratio": round(pct(filtered, 50) / pct(plain, 50), 2),
        "recall_at_10_in_set": round(hits / total, 4),
    }


def table(r: dict) -> str:
    return "\n".join(
        [
            f"Filtered search: {r['n']:,} chunks ({r['real']:,} real vectors), set of "
            f"{r['set_documents']:,} documents / {r['set_chunks']:,} chunks ({r['share']:.0%}), "
            f"{r['queries']} questions; {r['machine']}; {r['date']}; `{r['command']}`",
            "",
            "| ask | p50 ms | p95 ms |",
            "| --- | ---: | ---: |",
            f"| whole index | {r['ask_ms']['p50']} | {r['ask_ms']['p95']} |",
            f"| inside the set | {r['ask_in_set_ms']['p50']} | {r['ask_in_set_ms']['p95']} |",
            "",
            f"p50 ratio {r['p50_ratio']}x; recall@10 inside the set vs exact search: "
            f"{r['recall_at_10_in_set']}",
        ]
    )


if __name__ == "__main__":
    main()
