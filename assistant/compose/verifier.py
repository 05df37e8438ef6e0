"""The answer verifier: a cross-encoder that reads the question with one candidate sentence.

It re-scores the few best candidates of the selector and adds its logit to the abstention
decision, never as the only signal: a small logistic blend of the selector's logit and the
verifier's (fit on the training articles, assistant/evaluation/verifier_eval.py) orders the top
`top_k` sentences, and the answerable probability is recalibrated with the best verifier logit.
The model is an int8 ONNX file run by onnxruntime, loaded once and batched over the candidates;
trained by assistant/evaluation/train_verifier.py (docs/answer-model.md). Off unless
ASSISTANT_VERIFIER=on and the artifact is present.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from assistant.compose.candidate import Candidate
from assistant.errors import ModelLoadError

ARTIFACT_DIR = Path(__file__).with_name("verifier")
MODEL_FILE = "verifier.int8.onnx"
BLEND_FILE = "blend.json"


@dataclass(frozen=True, slots=True)
class Blend:
    """How the verifier's logit joins the selector's and the abstention model's."""

    top_k: int
    max_length: int
    selector_weight: float
    verifier_weight: float
    #: answerable probability: sigmoid(a * logit(p) + b * best verifier logit + c)
    abstention: tuple[float, float, float]

    @classmethod
    def load(cls, path: Path) -> Blend:
        data = json.loads(path.read_text(encoding="utf-8"))
        a, b, c = data["abstention"]
        return cls(
            int(data["top_k"]),
            int(data["max_length"]),
            float(data["selector_weight"]),
            float(data["verifier_weight"]),
            (float(a), float(b), float(c)),
        )


def context_text(candidates: Sequence[Candidate], i: int) -> str:
    """The verifier's second segment: the candidate, then its neighbours among the candidates."""
    by_key = {(c.row.doc_id, c.row.ord): c.text for c in candidates}
    row = candidates[i].row
    before = by_key.get((row.doc_id, row.ord - 1), "")
    after = by_key.get((row.doc_id, row.ord + 1), "")
    return f"{candidates[i].text} [SEP] {before} ... {after}".strip()


class Verifier:
    """The ONNX cross-encoder with its tokenizer; the session loads on first use (thread-safe)."""

    def __init__(self, folder: Path = ARTIFACT_DIR, threads: int = 1) -> None:
        self.folder = folder
        self.blend = Blend.load(folder / BLEND_FILE)
        self.threads = threads
        self._session: Any = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()

    def _load(self) -> tuple[Any, Any]:
        with self._lock:
            if self._session is None:
                import onnxruntime as ort
                from tokenizers import Tokenizer

                from assistant.settings import BUNDLED_MODEL, resolve_model_path

                options = ort.SessionOptions()
                options.intra_op_num_threads = self.threads
                options.inter_op_num_threads = 1
                self._session = ort.InferenceSession(
                    str(self.folder / MODEL_FILE), options, providers=["CPUExecutionProvider"]
                )
                tokenizer = Tokenizer.from_file(
                    str(Path(resolve_model_path(BUNDLED_MODEL)) / "tokenizer.json")
                )
                tokenizer.no_padding()
                tokenizer.enable_truncation(self.blend.max_length, strategy="only_second")
                self._tokenizer = tokenizer
            return self._session, self._tokenizer

    def warm(self) -> None:
        self._load()

    def logits(self, question: str, texts: Sequence[str]) -> np.ndarray:
        """One logit per text ("answers the question" against "does not"), in one batch."""
        if not texts:
            return np.zeros(0)
        session, tokenizer = self._load()
        encodings = tokenizer.encode_batch([(question, t) for t in texts])
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        types = np.zeros_like(ids)
        for row, e in enumerate(encodings):
            ids[row, : len(e.ids)] = e.ids
            mask[row, : len(e.ids)] = 1
            types[row, : len(e.ids)] = e.type_ids
        (out,) = session.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": types})
        return np.asarray(out, dtype=float).reshape(-1)

    def rescore(self, question: str, candidates: Sequence[Candidate], probability: float) -> float:
        """Blend the verifier into the top candidates' scores (in place); the new probability.

        The `top_k` best by the selector get the blended score; the rest are scored as if the
        verifier rated them like the worst of the top ones, so they stay behind."""
        if not candidates:
            return probability
        blend = self.blend
        top = sorted(range(len(candidates)), key=lambda i: candidates[i].score, reverse=True)[: blend.top_k]
        verified = self.logits(question, [context_text(candidates, i) for i in top])
        floor = float(verified.min())
        rated = dict(zip(top, verified.tolist(), strict=True))
        for i, candidate in enumerate(candidates):
            v = rated.get(i, floor)
            candidate.score = blend.selector_weight * candidate.score + blend.verifier_weight * v
        a, b, c = blend.abstention
        p = min(max(probability, 1e-6), 1 - 1e-6)
        z = a * math.log(p / (1 - p)) + b * float(verified.max()) + c
        return 1.0 / (1.0 + math.exp(-max(min(z, 50.0), -50.0)))


_shared: Verifier | None = None
_shared_lock = threading.Lock()


def load_verifier(folder: Path = ARTIFACT_DIR) -> Verifier:
    """The verifier of `folder`, loaded once per process; a clear error when it is not there."""
    global _shared
    with _shared_lock:
        if _shared is None or _shared.folder != folder:
            if not (folder / MODEL_FILE).is_file() or not (folder / BLEND_FILE).is_file():
                raise ModelLoadError(
                    f"ASSISTANT_VERIFIER=on needs {folder / MODEL_FILE} and {folder / BLEND_FILE}; train and "
                    "export it (python -m assistant.evaluation.train_verifier, docs/answer-model.md) or set "
                    "ASSISTANT_VERIFIER=off"
                )
            _shared = Verifier(folder)
        return _shared
