"""Late pooling: chunk and sentence vectors from one forward pass per chunk, for any encoder.

The mean of a chunk's token embeddings is its vector; the mean of the tokens inside a
sentence's character span (found with the tokenizer's offsets) is the sentence's. Both the
torch model and its fp32 ONNX export feed token embeddings into the same code here, so the
two paths pool, truncate and batch identically.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import numpy as np

from assistant.embedding.protocol import Span, l2_normalize
from assistant.embedding.tokenizer import Tokens

log = logging.getLogger(__name__)

#: (input_ids, attention_mask, token_type_ids) -> float32 token embeddings (batch, tokens, dim)
Forward = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


class LatePooler:
    """Token embeddings from `forward`, pooled over whole texts and over character spans."""

    def __init__(self, tokens: Tokens, dimension: int, batch_size: int, forward: Forward) -> None:
        self.tokens = tokens
        self.dimension = dimension
        self.batch_size = batch_size
        self.forward = forward

    def run(
        self, texts: Sequence[str], spans: Sequence[Sequence[Span]]
    ) -> tuple[np.ndarray, list[np.ndarray], list[tuple[int, int]]]:
        """Text vectors, span vectors (NaN rows where a span lies beyond the truncated text),
        and the (text, span) positions of those uncovered spans. Texts are batched by token
        count, so a batch carries little padding."""
        encodings = self.tokens.encode(texts)
        text_vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        span_vectors = [np.full((len(s), self.dimension), np.nan, dtype=np.float32) for s in spans]
        uncovered: list[tuple[int, int]] = []
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        for first in range(0, len(order), self.batch_size):
            batch = order[first : first + self.batch_size]
            hidden = self.forward(*Tokens.pad([encodings[i] for i in batch]))
            for row, i in enumerate(batch):
                n = len(encodings[i].ids)
                tokens = hidden[row, :n]
                text_vectors[i] = tokens.mean(axis=0)
                if spans[i]:
                    _pool_spans(tokens, encodings[i].offsets, spans[i], span_vectors[i])
                    missing = np.flatnonzero(np.isnan(span_vectors[i][:, 0])).tolist()
                    uncovered.extend((i, j) for j in missing)
        return l2_normalize(text_vectors), span_vectors, uncovered


def _pool_spans(tokens: np.ndarray, offsets: Sequence[Span], spans: Sequence[Span], out: np.ndarray) -> None:
    starts = np.fromiter((o[0] for o in offsets), dtype=np.int64, count=len(offsets))
    ends = np.fromiter((o[1] for o in offsets), dtype=np.int64, count=len(offsets))
    real = ends > starts  # special tokens have empty offsets
    last_end = int(ends[real].max()) if real.any() else 0
    bounds = np.asarray(spans, dtype=np.int64)
    inside = real[None, :] & (starts[None, :] < bounds[:, 1:2]) & (ends[None, :] > bounds[:, 0:1])
    # A span running past the last kept token was cut by truncation: leave it NaN.
    complete = (bounds[:, 1] <= last_end) & inside.any(axis=1)
    weights = inside[complete].astype(np.float32)
    weights /= weights.sum(axis=1, keepdims=True)
    out[complete] = l2_normalize(weights @ tokens)


def embed_with_spans(
    pooler: LatePooler,
    embed: Callable[[Sequence[str]], np.ndarray],
    texts: Sequence[str],
    spans: Sequence[Sequence[Span]],
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Vectors of `texts` and of their character `spans` from one pass per text; a span the
    model never saw (beyond its token window) is encoded on its own by `embed`."""
    if len(spans) != len(texts):
        raise ValueError(f"got {len(texts)} texts but {len(spans)} span lists")
    text_vectors, span_vectors, uncovered = pooler.run(texts, spans)
    if uncovered:
        log.debug("%d spans lie beyond the model's window; encoding them on their own", len(uncovered))
        extra = embed([texts[i][spans[i][j][0] : spans[i][j][1]] for i, j in uncovered])
        for (i, j), vector in zip(uncovered, extra, strict=True):
            span_vectors[i][j] = vector
    return text_vectors, span_vectors
