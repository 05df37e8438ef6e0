"""Indexing throughput options, measured rather than assumed (the evidence behind the defaults).

    python -m bench.index_options [--docs 300] [--rounds 2]

On the first `--docs` SQuAD paragraphs, each configuration builds a fresh index in its own
process: sentence vectors encoded on their own (the indexer before late pooling) or pooled
from the chunk's pass, torch threads 1 or 2, batch sizes 8 to 64. Wall and CPU seconds are
both kept: on a shared machine CPU seconds per token are the steadier comparison. Counted
without timing (exact, machine-independent): tokens the model runs over, with and without
length-sorted batches (padding), and texts that occur more than once (what deduplication saves).
"""

from __future__ import annotations

import argparse
import re
import shutil
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench.common import OUT_DIR, PYTHON, count_tokens, emit, load_corpus, run_child, save_result

#: (sentence vectors, torch threads, batch size); the first late-pooled one is the default
CONFIGS: list[tuple[str, int, int]] = [
    ("encoded", 2, 16),
    ("late-pooled", 2, 16),
    ("late-pooled", 1, 16),
    ("late-pooled", 2, 8),
    ("late-pooled", 2, 32),
    ("late-pooled", 2, 64),
]


class _EncodeOnly:
    """Hides embed_with_spans, so the indexer encodes every sentence on its own."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.model_name = inner.model_name

    @property
    def dimension(self) -> int:
        return int(self.inner.dimension)

    def embed(self, texts: Any) -> Any:
        return self.inner.embed(texts)


def subset(docs: int) -> Path:
    """The first `docs` SQuAD paragraphs in a folder of their own."""
    corpus = load_corpus("squad")
    folder = OUT_DIR / "corpora" / f"squad-{docs}"
    if folder.exists() and len(list(folder.iterdir())) == min(docs, len(corpus.files)):
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for path in corpus.files[:docs]:
        shutil.copy(path, folder / path.name)
    return folder


def worker(mode: str, threads: int, batch: int, folder: Path, index_dir: Path) -> dict[str, Any]:
    import torch

    from assistant.core import Assistant
    from assistant.embedding import SentenceTransformerEmbedder
    from assistant.settings import Settings

    torch.set_num_threads(threads)
    settings = Settings(embedding_batch_size=batch)
    inner = SentenceTransformerEmbedder(settings.embedding_model, batch_size=batch)
    embedder = inner if mode == "late-pooled" else _EncodeOnly(inner)
    shutil.rmtree(index_dir, ignore_errors=True)
    assistant = Assistant(index_dir, settings, embedder=embedder)
    inner.embed(["warm up the model"])
    texts = [p.read_text(encoding="utf-8") for p in sorted(folder.iterdir())]
    started, cpu_started = time.perf_counter(), time.process_time()
    report = assistant.index_paths([folder], rebuild=True)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    tokens = count_tokens(texts)
    return {
        "mode": mode,
        "threads": threads,
        "batch": batch,
        "chunks": report.chunks,
        "embedded_texts": report.embedded_texts,
        "seconds": round(seconds, 2),
        "cpu_seconds": round(cpu, 2),
        "tokens_per_s": round(tokens / seconds, 1),
        "tokens_per_cpu_s": round(tokens / cpu, 1),
    }


def model_tokens(folder: Path, batch: int = 16) -> dict[str, Any]:
    """Exact counts of what each strategy feeds the model (no timing involved)."""
    from assistant.ingest import chunk_document
    from assistant.settings import Settings
    from bench.common import _tokenizer

    settings = Settings()
    texts = [p.read_text(encoding="utf-8") for p in sorted(folder.iterdir())]
    chunks: list[str] = []
    sentences: list[str] = []
    for text in texts:
        seen: set[tuple[int, int]] = set()
        for span in chunk_document(text, settings.chunk_size, settings.chunk_overlap_sentences):
            chunks.append(text[span.start : span.end])
            for s in span.sentences:
                if (s.start, s.end) not in seen:
                    seen.add((s.start, s.end))
                    sentences.append(text[s.start : s.end])
    tokenizer = _tokenizer()

    def lengths(items: list[str]) -> list[int]:
        return [min(len(e.ids) + 2, 256) for e in tokenizer.encode_batch(items, add_special_tokens=False)]

    def padded(items: list[int], sort: bool) -> int:
        order = sorted(items) if sort else items
        return sum(max(order[i : i + batch]) * len(order[i : i + batch]) for i in range(0, len(order), batch))

    chunk_lengths, sentence_lengths = lengths(chunks), lengths(sentences)
    both = chunk_lengths + sentence_lengths
    duplicates = sum(n - 1 for n in Counter(chunks + sentences).values() if n > 1)
    return {
        "source_tokens": count_tokens(texts),
        "chunks": len(chunks),
        "sentences": len(sentences),
        "encoded": {
            "tokens": sum(both),
            "padded_sorted": padded(both, True),
            "padded_unsorted": padded(both, False),
        },
        "late_pooled": {
            "tokens": sum(chunk_lengths),
            "padded_sorted": padded(chunk_lengths, True),
            "padded_unsorted": padded(chunk_lengths, False),
        },
        "duplicate_texts": duplicates,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--docs", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--worker", nargs=3, metavar=("MODE", "THREADS", "BATCH"), help=argparse.SUPPRESS)
    parser.add_argument("--only", help="run only configurations whose label matches this regular expression")
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    parser.add_argument(
        "--index-dir", type=Path, default=OUT_DIR / "indexes" / "options", help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.worker:
        mode, threads, batch = args.worker[0], int(args.worker[1]), int(args.worker[2])
        emit(worker(mode, threads, batch, args.folder, args.index_dir))
        return
    folder = subset(args.docs)
    counts = model_tokens(folder)
    print(f"model tokens: {counts}", flush=True)
    runs: dict[str, list[dict[str, Any]]] = {}
    for number in range(1, args.rounds + 1):
        configs = CONFIGS if number % 2 else list(reversed(CONFIGS))
        for mode, threads, batch in configs:
            key = f"{mode} threads={threads} batch={batch}"
            if args.only and not re.search(args.only, key):
                continue
            command = [PYTHON, "-m", "bench.index_options", "--worker", mode, str(threads), str(batch)]
            result = run_child([*command, "--folder", str(folder)]).result
            runs.setdefault(key, []).append(result)
            print(
                f"  round {number} {key}: {result['seconds']} s wall, {result['cpu_seconds']} s CPU, "
                f"{result['tokens_per_s']:.0f} tok/s, {result['tokens_per_cpu_s']:.0f} tok/CPU-s",
                flush=True,
            )
    best = {key: max(items, key=lambda r: r["tokens_per_s"]) for key, items in runs.items()}
    path = save_result(
        "index_options", {"docs": args.docs, "model_tokens": counts, "best": best, "runs": runs}
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
