"""Sentence embeddings: one Protocol, a sentence-transformers implementation for bulk indexing."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from assistant.errors import ModelLoadError
from assistant.settings import resolve_model_path

log = logging.getLogger(__name__)


class Embedder(Protocol):
    """Anything that turns texts into L2-normalised float32 vectors."""

    model_name: str

    @property
    def dimension(self) -> int: ...

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


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


class SentenceTransformerEmbedder:
    """sentence-transformers over torch; loaded on first use so serving need not import torch."""

    def __init__(self, model_name: str, batch_size: int = 64, device: str = "cpu") -> None:
        self.model_name = model_name
        self.batch_size = batch_size
        self.device = device
        self._model: Any = None
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
