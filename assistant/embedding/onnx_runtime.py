"""Questions embedded by the ONNX export of the model, run by onnxruntime (no torch at serving time).

A question is one short text, so the per-call overhead of sentence-transformers over torch
(and the ~4 s it takes to import) dominates `ask`. The same weights exported once to ONNX
(onnx_export.py), with mean pooling and L2 normalisation inside the graph, embed a question in
a few milliseconds and need only onnxruntime, `tokenizers` and numpy.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from assistant.embedding.tokenizer import Tokens
from assistant.errors import ModelLoadError

MODEL_FILE = "model.onnx"
#: the graph after onnxruntime's optimisations, saved at export: loading it skips them (0.1 s
#: instead of 0.3 s of a cold start); valid for the onnxruntime version named in meta.json
OPTIMIZED_FILE = "model.opt.onnx"
META_FILE = "meta.json"
#: the fp32 graph's second output: every token's embedding, for late pooling (onnx_documents.py)
TOKEN_OUTPUT = "token_embeddings"


class OnnxQueryEmbedder:
    """An exported model run by onnxruntime; loads its session on first use (thread-safe).

    `threads` is onnxruntime's intra-op thread count: 1 suits a server that answers several
    questions at once on few cores (measured in docs/scale.md); 2 can help a lone query.
    """

    def __init__(
        self,
        onnx_dir: Path,
        model_name: str = "",
        threads: int = 1,
        max_batch: int = 32,
        meta: dict[str, Any] | None = None,
    ) -> None:
        self.onnx_dir = Path(onnx_dir)
        self.meta = meta if meta is not None else json.loads((self.onnx_dir / META_FILE).read_text("utf-8"))
        self.model_name = model_name or self.meta["model_path"]
        self.threads = threads
        self.max_batch = max_batch
        self._session: Any = None
        self._tokens: Tokens | None = None
        self._lock = threading.Lock()

    @property
    def dimension(self) -> int:
        return int(self.meta["dimension"])

    def warm(self) -> None:
        """Load the session now (a server calls this at start so no request pays for it)."""
        self.load()

    def load(self) -> tuple[Any, Tokens]:
        """The onnxruntime session and the tokenizer, loaded on the first call."""
        with self._lock:
            if self._session is None:
                import onnxruntime as ort

                options = ort.SessionOptions()
                options.intra_op_num_threads = self.threads
                options.inter_op_num_threads = 1
                model = self.onnx_dir / MODEL_FILE
                optimized = self.onnx_dir / OPTIMIZED_FILE
                if optimized.is_file() and self.meta.get("onnxruntime") == ort.__version__:
                    model = optimized
                    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
                else:
                    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
                try:
                    self._session = ort.InferenceSession(
                        str(model), options, providers=["CPUExecutionProvider"]
                    )
                except Exception as exc:  # onnxruntime raises its own exception types
                    raise ModelLoadError(
                        f"cannot load the ONNX query model in {self.onnx_dir} ({exc}); delete that "
                        "folder to export it again, or set ASSISTANT_QUERY_EMBEDDER=torch"
                    ) from exc
                self._tokens = Tokens(self.onnx_dir / "tokenizer.json", int(self.meta["max_length"]))
            assert self._tokens is not None
            return self._session, self._tokens

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Normalised float32 vectors, one row per text.

        An int8 model scales its activations per run, so in a padded batch a text's vector
        would depend on its batch mates (cosine 0.96 for a two-word question batched with long
        ones): int8 runs one text at a time, so a question always gets the same vector and
        the same answer. fp32 batches texts of similar length.
        """
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        session, tokens = self.load()
        batch = 1 if self.meta.get("quantization") == "int8" else self.max_batch
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        for first in range(0, len(order), batch):
            rows = order[first : first + batch]
            ids, mask = tokens.batch([texts[i] for i in rows])
            (vectors,) = session.run(["embedding"], {"input_ids": ids, "attention_mask": mask})
            out[rows] = vectors
        return out
