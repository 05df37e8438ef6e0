"""The indexing embedder: sentence-transformers over torch, with late-pooled sentence vectors.

Indexing needs a vector per chunk (retrieval) and per sentence (the composer scores sentences).
Encoding each sentence on its own would run the model over every token twice. Instead
`SentenceTransformerEmbedder.embed_with_spans` runs it once per chunk and derives each
sentence's vector from the same pass ("late pooling"): the mean of the chunk's token
embeddings inside the sentence's character span (found with the tokenizer's offsets),
L2-normalised. The chunk's own vector is the ordinary mean over all its tokens, identical to
`encode`. Measurements and the quality check behind this choice: bench/RESULTS.md.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from assistant.embedding.protocol import Span, l2_normalize
from assistant.embedding.tokenizer import Tokens
from assistant.errors import ModelLoadError
from assistant.settings import resolve_model_path

log = logging.getLogger(__name__)


_MODEL_CACHE: dict[tuple[str, str], Any] = {}
_MODEL_CACHE_LOCK = threading.Lock()


def _load_model(name: str, device: str) -> Any:
    """Load a sentence-transformers model once per process (several Assistants may share it)."""
    with _MODEL_CACHE_LOCK:
        key = (name, device)
        if key not in _MODEL_CACHE:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as transformers_logging

            transformers_logging.disable_progress_bar()
            path = resolve_model_path(name)
            log.info("loading embedding model %s from %s", name, path)
            try:
                _MODEL_CACHE[key] = SentenceTransformer(path, device=device)
            except (OSError, ValueError) as exc:
                raise ModelLoadError(
                    f"cannot load the embedding model '{name}' ({exc}); set "
                    "ASSISTANT_EMBEDDING_MODEL to a local sentence-transformers folder"
                ) from exc
        return _MODEL_CACHE[key]


class _LatePooler:
    """Token-level access to a mean-pooling sentence-transformers model (Transformer, Pooling
    'mean', optional Normalize): one forward pass, any number of pooled spans."""

    def __init__(self, model: Any, folder: Path, batch_size: int) -> None:
        self.transformer = model[0].auto_model
        self.batch_size = batch_size
        tokenizer_file = folder / "tokenizer.json"
        if not tokenizer_file.is_file():
            raise OSError(f"no tokenizer.json in {folder}")
        self.tokens = Tokens(tokenizer_file, int(model.max_seq_length))

    @classmethod
    def create(cls, model: Any, folder: Path, batch_size: int) -> _LatePooler | None:
        """None when the model is not a plain mean-pooling text model (then spans are encoded)."""
        names = [type(module).__name__ for module in model]
        if names not in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"]):
            return None
        pooling = model[1]
        mode = getattr(pooling, "pooling_mode", None)
        if mode is None and getattr(pooling, "pooling_mode_mean_tokens", False):
            mode = "mean"
        if mode != "mean" or getattr(pooling, "include_prompt", True) is False:
            return None
        try:
            return cls(model, folder, batch_size)
        except (OSError, ValueError, AttributeError) as exc:
            log.info("late pooling unavailable (%s); sentences are encoded on their own", exc)
            return None

    def run(
        self, texts: Sequence[str], spans: Sequence[Sequence[Span]]
    ) -> tuple[np.ndarray, list[np.ndarray], list[tuple[int, int]]]:
        """Text vectors, span vectors (NaN rows where a span lies beyond the truncated text),
        and the (text, span) positions of those uncovered spans."""
        import torch

        encodings = self.tokens.encode(texts)
        text_vectors = np.zeros((len(texts), self.transformer.config.hidden_size), dtype=np.float32)
        span_vectors = [np.full((len(s), text_vectors.shape[1]), np.nan, dtype=np.float32) for s in spans]
        uncovered: list[tuple[int, int]] = []
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        with torch.inference_mode():
            for first in range(0, len(order), self.batch_size):
                batch = order[first : first + self.batch_size]
                ids, mask, types = Tokens.pad([encodings[i] for i in batch])
                device = self.transformer.device
                hidden = (
                    self.transformer(
                        input_ids=torch.from_numpy(ids).to(device),
                        attention_mask=torch.from_numpy(mask).to(device),
                        token_type_ids=torch.from_numpy(types).to(device),
                    )
                    .last_hidden_state.float()
                    .cpu()
                    .numpy()
                )
                for row, i in enumerate(batch):
                    n = len(encodings[i].ids)
                    tokens = hidden[row, :n]
                    text_vectors[i] = tokens.mean(axis=0)
                    if spans[i]:
                        self._pool_spans(tokens, encodings[i].offsets, spans[i], span_vectors[i])
                        missing = np.flatnonzero(np.isnan(span_vectors[i][:, 0])).tolist()
                        uncovered.extend((i, j) for j in missing)
        return l2_normalize(text_vectors), span_vectors, uncovered

    @staticmethod
    def _pool_spans(
        tokens: np.ndarray, offsets: Sequence[Span], spans: Sequence[Span], out: np.ndarray
    ) -> None:
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


class SentenceTransformerEmbedder:
    """sentence-transformers over torch; loaded on first use so serving need not import torch."""

    def __init__(self, model_name: str, batch_size: int = 16, device: str = "cpu") -> None:
        self.model_name = model_name
        self.batch_size = batch_size
        self.device = device
        self._model: Any = None
        self._pooler: _LatePooler | None = None
        self._pooler_tried = False
        self._lock = threading.Lock()

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                self._model = _load_model(self.model_name, self.device)
        return self._model

    @property
    def dimension(self) -> int:
        model = self._load()
        getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        dim = getter()
        return int(dim)

    @property
    def max_seq_length(self) -> int:
        return int(self._load().max_seq_length)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed in length-sorted batches (sentence-transformers sorts internally)."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self._load().encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def _late_pooler(self) -> _LatePooler | None:
        model = self._load()
        with self._lock:
            if not self._pooler_tried:
                folder = Path(resolve_model_path(self.model_name))
                self._pooler = _LatePooler.create(model, folder, self.batch_size)
                self._pooler_tried = True
        return self._pooler

    def pools_spans(self) -> bool:
        return self._late_pooler() is not None

    def embed_with_spans(
        self, texts: Sequence[str], spans: Sequence[Sequence[Span]]
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Vectors of `texts` and, for each text, of its character `spans` (offsets into it),
        from one forward pass per text. A span the model never saw (beyond its 256-token
        window) is encoded on its own. Only for models where pools_spans() is true."""
        if len(spans) != len(texts):
            raise ValueError(f"got {len(texts)} texts but {len(spans)} span lists")
        pooler = self._late_pooler()
        if pooler is None:
            raise ValueError(f"{self.model_name} is not a mean-pooling model: encode spans on their own")
        text_vectors, span_vectors, uncovered = pooler.run(texts, spans)
        if uncovered:
            log.debug("%d spans lie beyond the model's window; encoding them on their own", len(uncovered))
            extra = self.embed([texts[i][spans[i][j][0] : spans[i][j][1]] for i, j in uncovered])
            for (i, j), vector in zip(uncovered, extra, strict=True):
                span_vectors[i][j] = vector
        return text_vectors, span_vectors
