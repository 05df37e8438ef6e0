"""Embedding: one Protocol, one tokenizer wrapper, torch or fp32 ONNX for documents, int8 for questions."""

from assistant.embedding.factory import DocumentEmbedder, make_query_embedder
from assistant.embedding.onnx_documents import OnnxDocumentEmbedder
from assistant.embedding.onnx_export import ensure_onnx_model, exportable
from assistant.embedding.onnx_runtime import OnnxQueryEmbedder
from assistant.embedding.protocol import Embedder, SpanEmbedder, l2_normalize
from assistant.embedding.sentence_transformer import SentenceTransformerEmbedder

__all__ = [
    "DocumentEmbedder",
    "Embedder",
    "OnnxDocumentEmbedder",
    "OnnxQueryEmbedder",
    "SentenceTransformerEmbedder",
    "SpanEmbedder",
    "ensure_onnx_model",
    "exportable",
    "l2_normalize",
    "make_query_embedder",
]
