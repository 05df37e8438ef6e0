"""The fp32 ONNX document embedder: the torch model's twin for chunk and sentence vectors; the setting."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from assistant.embedding import DocumentEmbedder, OnnxDocumentEmbedder, SentenceTransformerEmbedder
from assistant.embedding.onnx_export import ensure_onnx_model
from assistant.errors import ModelLoadError
from assistant.settings import BUNDLED_MODEL, Settings

TEXTS = [
    "The Normans were the people who in the 10th and 11th centuries gave their name to Normandy. "
    "They descended from Norse raiders. Their leader was Rollo.",
    "Resolution 598.",
    " ".join(["Rainfall in the northern valleys doubled during the monsoon season."] * 40),
]


@pytest.fixture(scope="module")
def onnx_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ensure_onnx_model(BUNDLED_MODEL, tmp_path_factory.mktemp("onnx"), quantization="fp32")


def _spans(text: str) -> list[tuple[int, int]]:
    spans, start = [], 0
    for end in range(text.find(".") + 1, len(text) + 1):
        if text[end - 1] == ".":
            spans.append((start, end))
            start = end + 1
    return spans


def test_onnx_document_vectors_match_torch(onnx_dir: Path) -> None:
    onnx = OnnxDocumentEmbedder(onnx_dir, BUNDLED_MODEL)
    torch = SentenceTransformerEmbedder(BUNDLED_MODEL)
    spans = [_spans(text) for text in TEXTS]  # the long text's later sentences lie past the window
    got_chunks, got_spans = onnx.embed_with_spans(TEXTS, spans)
    want_chunks, want_spans = torch.embed_with_spans(TEXTS, spans)
    assert (got_chunks * want_chunks).sum(axis=1).min() >= 0.999
    for got, want in zip(got_spans, want_spans, strict=True):
        assert not np.isnan(got).any()
        assert (got * want).sum(axis=1).min() >= 0.999
    assert (onnx.embed(TEXTS) * torch.embed(TEXTS)).sum(axis=1).min() >= 0.999


def test_the_setting_chooses_the_document_embedder(onnx_dir: Path) -> None:
    cache = onnx_dir.parent
    chosen = DocumentEmbedder(Settings(document_embedder="auto", onnx_cache_dir=cache))
    assert isinstance(chosen.inner, OnnxDocumentEmbedder)
    torch = DocumentEmbedder(Settings(document_embedder="torch"))
    assert isinstance(torch.inner, SentenceTransformerEmbedder)


def test_a_model_that_cannot_be_exported_falls_back_or_fails(tmp_path: Path) -> None:
    model = tmp_path / "not-a-model"
    model.mkdir()
    auto = DocumentEmbedder(Settings(embedding_model=str(model), document_embedder="auto"))
    assert isinstance(auto.inner, SentenceTransformerEmbedder)
    with pytest.raises(ModelLoadError, match="ASSISTANT_DOCUMENT_EMBEDDER"):
        _ = DocumentEmbedder(Settings(embedding_model=str(model), document_embedder="onnx")).inner
