"""Ingestion: files to normalised text (loaders), text to sentence spans, spans to chunks."""

from assistant.ingest.chunking import chunk_document, chunk_sentences
from assistant.ingest.loaders import SUPPORTED_EXTENSIONS, load_bytes, load_file
from assistant.ingest.sentences import split_sentences
from assistant.ingest.text import decode_bytes, normalise_text

__all__ = [
    "SUPPORTED_EXTENSIONS",
    "chunk_document",
    "chunk_sentences",
    "decode_bytes",
    "load_bytes",
    "load_file",
    "normalise_text",
    "split_sentences",
]
