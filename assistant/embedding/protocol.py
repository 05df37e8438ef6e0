"""The one embedder seam: texts in, L2-normalised float32 vectors out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np

Span = tuple[int, int]


class Embedder(Protocol):
    """Anything that turns texts into L2-normalised float32 vectors (documents or questions)."""

    model_name: str

    @property
    def dimension(self) -> int: ...

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


@runtime_checkable
class SpanEmbedder(Protocol):
    """An Embedder that can also pool vectors of character spans from one pass over each text."""

    def pools_spans(self) -> bool:
        """Whether embed_with_spans works for this model (a plain mean-pooling one)."""
        ...

    def embed_with_spans(
        self, texts: Sequence[str], spans: Sequence[Sequence[Span]]
    ) -> tuple[np.ndarray, list[np.ndarray]]: ...


def l2_normalize(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), as contiguous float32."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.ascontiguousarray(vectors / np.maximum(norms, 1e-12), dtype=np.float32)
