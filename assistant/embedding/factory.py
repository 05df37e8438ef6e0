"""Which embedders turn documents and questions into vectors: ONNX exports, or torch."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from assistant.embedding.onnx_documents import OnnxDocumentEmbedder
from assistant.embedding.onnx_export import ensure_onnx_model, exportable
from assistant.embedding.onnx_runtime import OnnxQueryEmbedder
from assistant.embedding.protocol import Span
from assistant.embedding.sentence_transformer import SentenceTransformerEmbedder
from assistant.errors import ModelLoadError
from assistant.settings import resolve_model_path

if TYPE_CHECKING:
    from assistant.embedding.protocol import Embedder
    from assistant.settings import Settings

log = logging.getLogger(__name__)


def make_query_embedder(settings: Settings, fallback: Embedder) -> Embedder:
    """The query embedder `settings.query_embedder` asks for.

    "onnx": the ONNX export (exported now if needed; ModelLoadError if impossible).
    "torch": `fallback`, the indexing embedder itself. "auto": ONNX when the model can be exported,
    else `fallback`, with a warning when an export was possible but failed.
    """
    choice = settings.query_embedder
    if choice == "torch":
        return fallback
    cache_dir, threads = settings.onnx_cache_dir, settings.onnx_threads
    model_path = resolve_model_path(settings.embedding_model)
    if choice == "auto" and not exportable(model_path):
        log.info("query embedder: torch (%s cannot be exported to ONNX)", settings.embedding_model)
        return fallback
    try:
        folder = ensure_onnx_model(settings.embedding_model, cache_dir)
    except ModelLoadError as exc:
        if choice == "onnx":
            raise
        log.warning("query embedder: falling back to torch: %s", exc)
        return fallback
    log.info("query embedder: onnx (%s)", folder)
    return OnnxQueryEmbedder(folder, model_name=settings.embedding_model, threads=threads)


class DocumentEmbedder:
    """Embeds documents with what ASSISTANT_DOCUMENT_EMBEDDER asks for, chosen on first use.

    Deciding late keeps opening an index for serving free of torch and of the one-off export;
    a build (or anything else that embeds documents) makes the choice once per process.
    "torch": sentence-transformers. "onnx": the fp32 export (ModelLoadError if impossible).
    "auto": the fp32 export when the model can be exported and its vectors matched torch's at
    export, else torch, with a warning when an export was possible but failed.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.model_name = settings.embedding_model
        self._inner: SentenceTransformerEmbedder | OnnxDocumentEmbedder | None = None
        self._lock = threading.Lock()

    @property
    def inner(self) -> SentenceTransformerEmbedder | OnnxDocumentEmbedder:
        with self._lock:
            if self._inner is None:
                self._inner = _choose_document_embedder(self.settings)
            return self._inner

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return self.inner.embed(texts)

    def pools_spans(self) -> bool:
        return self.inner.pools_spans()

    def embed_with_spans(
        self, texts: Sequence[str], spans: Sequence[Sequence[Span]]
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        return self.inner.embed_with_spans(texts, spans)


def _choose_document_embedder(settings: Settings) -> SentenceTransformerEmbedder | OnnxDocumentEmbedder:
    choice, name = settings.document_embedder, settings.embedding_model
    batch_size = settings.embedding_batch_size
    torch = SentenceTransformerEmbedder(name, batch_size=batch_size)
    if choice == "torch":
        return torch
    if choice == "auto" and not exportable(resolve_model_path(name)):
        log.info("document embedder: torch (%s cannot be exported to ONNX)", name)
        return torch
    try:
        folder = ensure_onnx_model(name, settings.onnx_cache_dir, quantization="fp32")
        embedder = OnnxDocumentEmbedder(folder, name, batch_size=batch_size)
    except (ModelLoadError, ValueError, KeyError) as exc:
        if choice == "onnx":
            raise ModelLoadError(f"cannot embed documents with the ONNX export: {exc}") from exc
        log.warning("document embedder: falling back to torch: %s", exc)
        return torch
    log.info("document embedder: onnx fp32 (%s)", folder)
    return embedder
