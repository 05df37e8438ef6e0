"""Which embedder turns questions into vectors: the ONNX export, or the indexing model itself."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from assistant.embedding.onnx_export import ensure_onnx_model, exportable
from assistant.embedding.onnx_runtime import OnnxQueryEmbedder
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
