"""The torch document embedder: sentence-transformers, with late-pooled sentence vectors.

Indexing needs a vector per chunk (retrieval) and per sentence (the composer scores sentences).
Encoding each sentence on its own would run the model over every token twice. Instead
`SentenceTransformerEmbedder.embed_with_spans` runs it once per chunk and derives each
sentence's vector from the same pass ("late pooling", late_pooling.py): the mean of the
chunk's token embeddings inside the sentence's character span, L2-normalised. The chunk's
own vector is the ordinary mean over all its tokens, identical to `encode`. Measurements and
the quality check behind this choice: bench/RESULTS.md.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from assistant.embedding.late_pooling import LatePooler, embed_with_spans
from assistant.embedding.protocol import Span
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


def _late_pooler(model: Any, folder: Path, batch_size: int) -> LatePooler | None:
    """Token-level access to a mean-pooling sentence-transformers model (Transformer, Pooling
    'mean', optional Normalize): one forward pass, any number of pooled spans. None when the
    model is not a plain mean-pooling text model (then spans are encoded on their own)."""
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
        transformer = model[0].auto_model
        tokenizer_file = folder / "tokenizer.json"
        if not tokenizer_file.is_file():
            raise OSError(f"no tokenizer.json in {folder}")
        tokens = Tokens(tokenizer_file, int(model.max_seq_length))
    except (OSError, ValueError, AttributeError) as exc:
        log.info("late pooling unavailable (%s); sentences are encoded on their own", exc)
        return None

    def forward(ids: np.ndarray, mask: np.ndarray, types: np.ndarray) -> np.ndarray:
        import torch

        device = transformer.device
        with torch.inference_mode():
            hidden = transformer(
                input_ids=torch.from_numpy(ids).to(device),
                attention_mask=torch.from_numpy(mask).to(device),
                token_type_ids=torch.from_numpy(types).to(device),
            ).last_hidden_state
            return np.asarray(hidden.float().cpu().numpy())

    return LatePooler(tokens, int(transformer.config.hidden_size), batch_size, forward)


class SentenceTransformerEmbedder:
    """sentence-transformers over torch; loaded on first use so serving need not import torch."""

    def __init__(self, model_name: str, batch_size: int = 16, device: str = "cpu") -> None:
        self.model_name = model_name
        self.batch_size = batch_size
        self.device = device
        self._model: Any = None
        self._pooler: LatePooler | None = None
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

    def _late_pooler(self) -> LatePooler | None:
        model = self._load()
        with self._lock:
            if not self._pooler_tried:
                folder = Path(resolve_model_path(self.model_name))
                self._pooler = _late_pooler(model, folder, self.batch_size)
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
        pooler = self._late_pooler()
        if pooler is None:
            raise ValueError(f"{self.model_name} is not a mean-pooling model: encode spans on their own")
        return embed_with_spans(pooler, self.embed, texts, spans)
