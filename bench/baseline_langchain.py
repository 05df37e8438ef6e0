"""The baseline: the plain LangChain pipeline a user would write in a few lines.

RecursiveCharacterTextSplitter(1000, 200) -> HuggingFaceEmbeddings (the same bundled
all-MiniLM-L6-v2 folder, loaded by path) -> FAISS.from_documents -> similarity_search(k=5).

Subcommands (each is one measured child process of the figure scripts):
    build   --corpus C --save DIR      index build throughput; saves the store for the others
    latency --corpus C --index DIR     similarity_search p50/p95 with the model loaded
    query   --index DIR QUESTION       process start to first result (cold start)
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from pathlib import Path
from typing import Any

from bench.common import (
    BASELINE_CHUNK_OVERLAP,
    BASELINE_CHUNK_SIZE,
    BASELINE_K,
    count_tokens,
    emit,
    load_corpus,
    load_questions,
    model_path,
    peak_rss_mb,
    summarize,
)

os.environ.setdefault("HF_HUB_OFFLINE", "1")
warnings.filterwarnings("ignore", category=DeprecationWarning)  # langchain-community's sunset notice


def embeddings() -> Any:
    """HuggingFaceEmbeddings with its defaults (batch 32, no normalisation), by model path."""
    try:
        from langchain_huggingface import HuggingFaceEmbeddings
    except ImportError:  # older installs: the community class of the same name
        from langchain_community.embeddings import HuggingFaceEmbeddings  # type: ignore[assignment]

    return HuggingFaceEmbeddings(model_name=model_path())


def build(corpus_name: str, save: Path | None) -> dict[str, Any]:
    """Split, embed and index a corpus; time everything after the model is loaded and warm."""
    from langchain_community.vectorstores import FAISS
    from langchain_core.documents import Document
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    corpus = load_corpus(corpus_name)
    embedder = embeddings()
    embedder.embed_query("warm up the model")
    started = time.perf_counter()
    cpu_started = time.process_time()
    docs = [
        Document(page_content=path.read_text(encoding="utf-8"), metadata={"source": str(path)})
        for path in corpus.files
    ]
    splitter = RecursiveCharacterTextSplitter(
        chunk_size=BASELINE_CHUNK_SIZE, chunk_overlap=BASELINE_CHUNK_OVERLAP, add_start_index=True
    )
    chunks = splitter.split_documents(docs)
    store = FAISS.from_documents(chunks, embedder)
    seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu_started
    if save is not None:
        store.save_local(str(save))
    source_tokens = count_tokens(corpus.texts)
    return {
        "side": "baseline",
        "corpus": corpus_name,
        "documents": len(docs),
        "chunks": len(chunks),
        "chunk_chars_mean": round(sum(len(c.page_content) for c in chunks) / max(len(chunks), 1), 1),
        "source_tokens": source_tokens,
        "embedded_tokens": count_tokens(c.page_content for c in chunks),
        "seconds": round(seconds, 3),
        "cpu_seconds": round(cpu_seconds, 3),
        "chunks_per_s": round(len(chunks) / seconds, 2),
        "tokens_per_s": round(source_tokens / seconds, 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }


def load_store(index: Path) -> Any:
    from langchain_community.vectorstores import FAISS

    return FAISS.load_local(str(index), embeddings(), allow_dangerous_deserialization=True)


def latency(corpus_name: str, index: Path, count: int) -> dict[str, Any]:
    """similarity_search(k=5) over `count` questions, model loaded and warmed first."""
    store = load_store(index)
    questions = load_questions(corpus_name, count)
    for question in questions[:5]:
        store.similarity_search(question, k=BASELINE_K)
    latencies = []
    for question in questions:
        started = time.perf_counter()
        store.similarity_search(question, k=BASELINE_K)
        latencies.append((time.perf_counter() - started) * 1000)
    return {
        "side": "baseline",
        "corpus": corpus_name,
        "questions": len(questions),
        "unique_questions": len(set(questions)),
        "latency_ms": summarize(latencies),
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }


def query(index: Path, question: str) -> dict[str, Any]:
    """What a cold process does: import, load model and store, answer one question."""
    store = load_store(index)
    docs = store.similarity_search(question, k=BASELINE_K)
    return {"side": "baseline", "results": len(docs), "first": docs[0].page_content[:80] if docs else ""}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p_build = sub.add_parser("build")
    p_build.add_argument("--corpus", default="squad")
    p_build.add_argument("--save", type=Path)
    p_lat = sub.add_parser("latency")
    p_lat.add_argument("--corpus", default="squad")
    p_lat.add_argument("--index", type=Path, required=True)
    p_lat.add_argument("--questions", type=int, default=200)
    p_query = sub.add_parser("query")
    p_query.add_argument("--index", type=Path, required=True)
    p_query.add_argument("question")
    args = parser.parse_args()
    if args.command == "build":
        emit(build(args.corpus, args.save))
    elif args.command == "latency":
        emit(latency(args.corpus, args.index, args.questions))
    else:
        emit(query(args.index, args.question))


if __name__ == "__main__":
    main()
