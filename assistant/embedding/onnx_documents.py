"""Documents embedded by the fp32 ONNX export of the model, with late-pooled sentence vectors.

The encoder's forward pass is nearly all of an index build's time, and onnxruntime runs the same
fp32 weights several times faster than torch on CPU. The export outputs every token's embedding
as well as the pooled vector, so sentences are pooled from the chunk's pass exactly as on the
torch path (late_pooling.py). It is used only after its vectors matched torch's at export
(cosine >= 0.999, pooled and per token, in a padded batch), so questions embedded by torch or
by the int8 export find these documents as they find torch's.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from assistant.embedding.late_pooling import LatePooler, embed_with_spans
from assistant.embedding.onnx_runtime import TOKEN_OUTPUT, OnnxQueryEmbedder
from assistant.embedding.protocol import Span


class OnnxDocumentEmbedder:
    """An fp32 export run by onnxruntime over all cores (threads=0), in length-sorted batches."""

    def __init__(self, onnx_dir: Path, model_name: str, batch_size: int = 16, threads: int = 0) -> None:
        self.model_name = model_name
        self.batch_size = batch_size
        self.runner = OnnxQueryEmbedder(onnx_dir, model_name, threads=threads, max_batch=batch_size)
        if self.runner.meta.get("quantization") != "fp32":
            raise ValueError(f"{onnx_dir} is not an fp32 export: documents need one")
        self._pooler: LatePooler | None = None
        self._lock = threading.Lock()

    @property
    def dimension(self) -> int:
        return self.runner.dimension

    @property
    def max_seq_length(self) -> int:
        return int(self.runner.meta["max_length"])

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return self.runner.embed(texts)

    def pools_spans(self) -> bool:
        return True

    def _late_pooler(self) -> LatePooler:
        with self._lock:
            if self._pooler is None:
                session, tokens = self.runner.load()

                def forward(ids: np.ndarray, mask: np.ndarray, _types: np.ndarray) -> np.ndarray:
                    (hidden,) = session.run([TOKEN_OUTPUT], {"input_ids": ids, "attention_mask": mask})
                    return np.asarray(hidden)

                self._pooler = LatePooler(tokens, self.dimension, self.batch_size, forward)
            return self._pooler

    def embed_with_spans(
        self, texts: Sequence[str], spans: Sequence[Sequence[Span]]
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Vectors of `texts` and of their character `spans`, one forward pass per text."""
        return embed_with_spans(self._late_pooler(), self.embed, texts, spans)
