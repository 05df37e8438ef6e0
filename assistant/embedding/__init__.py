"""Embedding: one Protocol, one tokenizer wrapper, the torch model for indexing, ONNX for questions."""

from assistant.embedding.factory import make_query_embedder
from assistant.embedding.onnx_export import ensure_onnx_model, exportable
from assistant.embedding.onnx_runtime import OnnxQueryEmbedder
from assistant.embedding.protocol import Embedder, SpanEmbedder, l2_normalize
from assistant.embedding.sentence_transformer import SentenceTransformerEmbedder

__all__ = [
    "Embedder",
    "OnnxQueryEmbedder",
    "SentenceTransformerEmbedder",
    "SpanEmbedder",
    "ensure_onnx_model",
    "exportable",
    "l2_normalize",
    "make_query_embedder",
]
