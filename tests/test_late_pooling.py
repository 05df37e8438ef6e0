"""Sentence vectors pooled from the chunk's own model pass (real MiniLM model)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from assistant.core import Assistant
from assistant.embedding import DocumentEmbedder
from assistant.indexing.pipeline import LATE_POOLED

SENTENCES = [
    "The treaty was signed in Vienna in 1815 after months of negotiation.",
    "Rainfall in the northern valleys doubled during the monsoon season.",
    "The company's new battery stores twice as much energy per kilogram.",
]


def _embedder(sample_assistant: Assistant) -> DocumentEmbedder:
    embedder = sample_assistant.embedder
    assert isinstance(embedder, DocumentEmbedder)
    return embedder


def _spans(text: str, parts: list[str]) -> list[tuple[int, int]]:
    spans, offset = [], 0
    for part in parts:
        start = text.index(part, offset)
        spans.append((start, start + len(part)))
        offset = start + len(part)
    return spans


def test_chunk_vectors_are_the_ordinary_embeddings(sample_assistant: Assistant) -> None:
    embedder = _embedder(sample_assistant)
    texts = [" ".join(SENTENCES), SENTENCES[0], "A short one."]
    pooled, _ = embedder.embed_with_spans(texts, [[] for _ in texts])
    encoded = embedder.embed(texts)
    assert np.allclose((pooled * encoded).sum(axis=1), 1.0, atol=1e-3)


def test_each_sentence_vector_stands_for_its_own_sentence(sample_assistant: Assistant) -> None:
    embedder = _embedder(sample_assistant)
    text = " ".join(SENTENCES)
    _, (sentence_vectors,) = embedder.embed_with_spans([text], [_spans(text, SENTENCES)])
    alone = embedder.embed(SENTENCES)
    similarity = sentence_vectors @ alone.T
    # pooled in context, a sentence's vector is not its solo encoding (cosine 0.66 to 0.88
    # here), but it is far nearer to it than to any other sentence of the chunk
    assert list(similarity.argmax(axis=1)) == [0, 1, 2]
    own = np.diag(similarity)
    others = np.where(np.eye(3, dtype=bool), -1.0, similarity).max(axis=1)
    assert np.all(own > 0.6) and np.all(own - others > 0.25)
    assert np.allclose(np.linalg.norm(sentence_vectors, axis=1), 1.0, atol=1e-4)


def test_a_sentence_past_the_model_window_is_encoded_on_its_own(sample_assistant: Assistant) -> None:
    embedder = _embedder(sample_assistant)
    filler = "word " * 400  # far more than the model's 256 tokens
    tail = "The lighthouse keeper retired in 1962."
    text = filler + tail
    start = text.index(tail)
    _, (vectors,) = embedder.embed_with_spans([text], [[(0, 10), (start, start + len(tail))]])
    assert float(vectors[1] @ embedder.embed([tail])[0]) > 0.999


def test_an_index_built_with_the_model_records_late_pooling(sample_index_dir: Path) -> None:
    name = (sample_index_dir / "CURRENT").read_text().strip()
    manifest = json.loads((sample_index_dir / "snapshots" / name / "manifest.json").read_text())
    assert manifest["extra"]["sentence_vectors"] == LATE_POOLED
