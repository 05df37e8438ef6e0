"""The one-off export of a sentence-transformers model to ONNX, cached and checked against torch.

int8 embeds questions; fp32, which also outputs the token embeddings for late pooling, embeds
documents at index build (onnx_documents.py).

The export runs once per model (at index build, or at the first question when no build did
it), under a file lock, into a temporary folder that is renamed into place, so concurrent
processes never see half a model. It is checked against the torch model before it is used.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import shutil
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from assistant.embedding.onnx_runtime import (
    META_FILE,
    MODEL_FILE,
    OPTIMIZED_FILE,
    TOKEN_OUTPUT,
    OnnxQueryEmbedder,
)
from assistant.embedding.tokenizer import Tokens
from assistant.errors import ModelLoadError
from assistant.fileio import file_checksum, lock_exclusively
from assistant.settings import resolve_model_path

log = logging.getLogger(__name__)

#: bump when the export recipe changes, so cached exports are redone
EXPORT_VERSION = 3
Quantization = Literal["int8", "fp32"]
#: a recipe change of one variant only (fp32 gained its token output), so the other's cache stays
_VARIANT_VERSION: dict[str, int] = {"int8": 0, "fp32": 1}
#: files of a sentence-transformers folder whose change invalidates an export
_SOURCE_FILES = (
    "config.json",
    "model.safetensors",
    "pytorch_model.bin",
    "tokenizer.json",
    "sentence_bert_config.json",
    "modules.json",
    "1_Pooling/config.json",
)
#: an export is used only when its probe vectors are this close to the torch model's, on average
#: and at worst: a sanity check that catches a broken export (one that ignores the attention
#: mask measures about 0.85); int8 measures about 0.99 on these odd probes, 0.995 on SQuAD questions
MIN_MEAN_COSINE = 0.98
MIN_WORST_COSINE = 0.95
#: fp32 embeds documents that int8 or torch questions are compared with: it must be the torch
#: model's twin, for pooled vectors and for every real token (it measures about 0.99999)
MIN_FP32_COSINE = 0.999
_PROBES = (
    "What legal basis is proposed for regional talks?",
    "In what country is Normandy located?",
    "How many people live in the capital?",
    "The Normans were the people who in the 10th and 11th centuries gave their name to Normandy, "
    "a region in France.",
    "Alterations of the architecture of cerebral white matter in the developing human brain "
    "can affect cortical development and result in functional disabilities.",
    "x",
    # longer than the model's 256-token window: truncated alike, and the widest padded batch
    " ".join(["The export must agree with the torch model on long documents as well."] * 30),
)


def default_cache_dir() -> Path:
    """Where exports live unless configured: `$XDG_CACHE_HOME/assistant/onnx` (~/.cache/...)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "assistant" / "onnx"


def exportable(model_path: str | Path) -> bool:
    """True for a local sentence-transformers folder that mean-pools a BERT-like encoder."""
    folder = Path(model_path)
    if not (folder / "config.json").is_file() or not (folder / "tokenizer.json").is_file():
        return False
    if not any((folder / name).is_file() for name in ("model.safetensors", "pytorch_model.bin")):
        return False
    try:
        pooling = json.loads((folder / "1_Pooling" / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    other_modes = ("cls_token", "max_tokens", "mean_sqrt_len_tokens", "weightedmean_tokens", "lasttoken")
    return bool(pooling.get("pooling_mode_mean_tokens")) and not any(
        pooling.get(f"pooling_mode_{mode}") for mode in other_modes
    )


def fingerprint(model_path: str | Path, quantization: Quantization) -> str:
    """Cache key of an export: recipe version, quantisation, model folder and its files.

    Files are identified by size and modification time rather than by reading them: hashing
    the 90 MB of weights on every start would cost a noticeable share of a cold start. The
    export records the SHA-256 of each file in its meta.json.
    """
    folder = Path(model_path).resolve()
    parts: list[Any] = [EXPORT_VERSION, quantization, str(folder)]
    if _VARIANT_VERSION[quantization]:
        parts.append(_VARIANT_VERSION[quantization])
    for name in _SOURCE_FILES:
        path = folder / name
        if path.is_file():
            stat = path.stat()
            parts.append([name, stat.st_size, stat.st_mtime_ns])
    return hashlib.sha256(json.dumps(parts).encode("utf-8")).hexdigest()[:24]


def _max_length(folder: Path) -> int:
    try:
        config = json.loads((folder / "sentence_bert_config.json").read_text(encoding="utf-8"))
        return int(config.get("max_seq_length") or 256)
    except (OSError, ValueError):
        return 256


@contextlib.contextmanager
def _locked(path: Path, timeout: float = 900.0) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        if not lock_exclusively(handle, timeout, poll=0.1):
            raise ModelLoadError(f"timed out waiting for another process exporting into {path.parent}")
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def ensure_onnx_model(
    model_name: str, cache_dir: Path | None = None, quantization: Quantization = "int8"
) -> Path:
    """The folder of the model's ONNX export, exporting it first if it is not cached yet.

    Raises ModelLoadError when the model cannot be exported (not a mean-pooling
    sentence-transformers folder, or the export does not match the torch model).
    """
    model_path = Path(resolve_model_path(model_name))
    setting = "ASSISTANT_DOCUMENT_EMBEDDER" if quantization == "fp32" else "ASSISTANT_QUERY_EMBEDDER"
    if not exportable(model_path):
        raise ModelLoadError(
            f"the embedding model '{model_name}' is not a local mean-pooling sentence-transformers "
            f"folder, so it cannot be exported to ONNX; set {setting}=torch"
        )
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    target = root / fingerprint(model_path, quantization)
    if (target / META_FILE).is_file():
        return target
    try:
        with _locked(root / ".export.lock"):
            if (target / META_FILE).is_file():  # another process finished while we waited
                return target
            tmp = root / f".{target.name}.{uuid.uuid4().hex[:8]}.tmp"
            tmp.mkdir(parents=True)
            try:
                export_onnx(model_path, tmp, quantization)
                os.replace(tmp, target)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
    except OSError as exc:
        raise ModelLoadError(
            f"cannot write the ONNX export of '{model_name}' under {root} ({exc}); set "
            f"ASSISTANT_ONNX_CACHE_DIR to a writable folder or {setting}=torch"
        ) from exc
    return target


def export_onnx(model_path: Path, out_dir: Path, quantization: Quantization = "int8") -> dict[str, Any]:
    """Export mean-pooled, normalised embeddings to `out_dir` and verify them against torch.

    Needs torch and transformers (seconds to import); run once per model, never per query.
    """
    started = time.perf_counter()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from transformers import AutoModel

    max_length = _max_length(model_path)
    encoder = AutoModel.from_pretrained(str(model_path)).eval()

    class Pooled(torch.nn.Module):
        """Encoder + mean pooling over real tokens + L2 normalisation, as sentence-transformers."""

        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(
            self, input_ids: torch.Tensor, attention_mask: torch.Tensor
        ) -> tuple[torch.Tensor, torch.Tensor]:
            hidden = self.inner(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            mean = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, p=2.0, dim=1), hidden

    class PooledOnly(torch.nn.Module):
        """The int8 graph: the pooled vector alone (questions need no token embeddings)."""

        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            return self.inner(input_ids, attention_mask)[0]

    # eval() on the wrapper: the exporter restores the wrapper's mode afterwards, recursively,
    # and a wrapper left in training mode would switch dropout on in the encoder
    pooled = Pooled(encoder).eval()
    with_tokens = quantization == "fp32"
    outputs = ["embedding", TOKEN_OUTPUT] if with_tokens else ["embedding"]
    fp32_path = out_dir / ("model.fp32.onnx" if quantization != "fp32" else MODEL_FILE)
    dummy_ids = torch.full((2, 8), 100, dtype=torch.long)
    # a padded row, so no branch that skips the mask for an all-ones mask is traced into the graph
    dummy_mask = torch.tensor([[1] * 8, [1] * 5 + [0] * 3], dtype=torch.long)
    with torch.no_grad(), _quiet_export_warnings():
        torch.onnx.export(
            pooled if with_tokens else PooledOnly(pooled).eval(),
            (dummy_ids, dummy_mask),
            str(fp32_path),
            input_names=["input_ids", "attention_mask"],
            output_names=outputs,
            dynamic_axes={
                "input_ids": {0: "batch", 1: "tokens"},
                "attention_mask": {0: "batch", 1: "tokens"},
                "embedding": {0: "batch"},
                **({TOKEN_OUTPUT: {0: "batch", 1: "tokens"}} if with_tokens else {}),
            },
            opset_version=17,
            dynamo=False,  # the dynamo exporter needs onnxscript; the TorchScript one does not
        )
    if quantization == "int8":
        _quantize_int8(fp32_path, out_dir / MODEL_FILE)
        fp32_path.unlink()
    shutil.copyfile(model_path / "tokenizer.json", out_dir / "tokenizer.json")
    _save_optimized(out_dir / MODEL_FILE, out_dir / OPTIMIZED_FILE)

    tokens = Tokens(out_dir / "tokenizer.json", max_length)

    def torch_run(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        ids, mask = tokens.batch(texts)
        with torch.no_grad():
            vectors, hidden = pooled.eval()(torch.from_numpy(ids), torch.from_numpy(mask))
        return vectors.numpy(), hidden.numpy()

    meta: dict[str, Any] = {
        "export_version": EXPORT_VERSION,
        "model_path": str(model_path.resolve()),
        "quantization": quantization,
        "max_length": max_length,
        "dimension": int(encoder.config.hidden_size),
        "sha256": {n: file_checksum(model_path / n) for n in _SOURCE_FILES if (model_path / n).is_file()},
        "torch": torch.__version__,
        "onnxruntime": _ort_version(),
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    torch_vectors, torch_hidden = torch_run(_PROBES)
    exported = OnnxQueryEmbedder(out_dir, threads=1, meta=meta).embed(list(_PROBES))
    cosines = (exported * torch_vectors).sum(axis=1)
    meta["probe_cosine"] = {"mean": round(float(cosines.mean()), 6), "min": round(float(cosines.min()), 6)}
    least_mean, least_worst, setting = MIN_MEAN_COSINE, MIN_WORST_COSINE, "ASSISTANT_QUERY_EMBEDDER"
    if with_tokens:
        least_mean = least_worst = MIN_FP32_COSINE
        setting = "ASSISTANT_DOCUMENT_EMBEDDER"
        token_cosines = _token_cosines(out_dir, tokens, _PROBES, torch_hidden)
        meta["token_cosine"] = {"min": round(float(token_cosines.min()), 6)}
        cosines = np.concatenate([cosines, token_cosines])
    if cosines.mean() < least_mean or cosines.min() < least_worst:
        raise ModelLoadError(
            f"the ONNX export ({quantization}) of {model_path} differs from the torch model (cosine "
            f"mean {cosines.mean():.4f}, worst {cosines.min():.4f}); set {setting}=torch"
        )
    (out_dir / META_FILE).write_text(json.dumps(meta, indent=2), encoding="utf-8")
    log.info(
        "exported %s to ONNX (%s) in %.1f s; probe cosine to torch %.4f (worst %.4f)",
        model_path,
        quantization,
        time.perf_counter() - started,
        cosines.mean(),
        cosines.min(),
    )
    return meta


def _token_cosines(out_dir: Path, tokens: Tokens, texts: Sequence[str], expected: np.ndarray) -> np.ndarray:
    """Cosine of each real (unpadded) token's embedding from the export to the torch model's,
    in one padded batch, so a graph that lets padding leak into real tokens fails."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(out_dir / MODEL_FILE), providers=["CPUExecutionProvider"])
    ids, mask = tokens.batch(texts)
    (hidden,) = session.run([TOKEN_OUTPUT], {"input_ids": ids, "attention_mask": mask})
    real = mask.astype(bool)
    got, want = hidden[real], expected[real]
    norms = np.linalg.norm(got, axis=1) * np.linalg.norm(want, axis=1)
    return np.asarray((got * want).sum(axis=1) / np.maximum(norms, 1e-12))


@contextlib.contextmanager
def _quiet_export_warnings() -> Iterator[None]:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer and deprecation chatter, none of it actionable
        yield


#: encoder layers kept in float: the first layer's error is carried through every later one
#: (quantising each of the 36 matrix products alone, layer 0's two output projections moved the
#: embedding most); with it in float, int8 keeps the sample gold set's retrieval unchanged
FLOAT_LAYERS = ("/layer.0/",)


def _quantize_int8(source: Path, target: Path) -> None:
    """Dynamic int8: weights per output channel, activations per tensor at run time.

    Only products with a constant matrix are quantised (attention's activation-by-activation
    products stay float), and the first encoder layer stays float. Cosine to fp32 on 500
    SQuAD questions: 0.9953 (0.968 with per-tensor weights, 0.9933 with layer 0 quantised too).
    """
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    graph = onnx.load(str(source), load_external_data=False).graph
    keep_float = [
        node.name
        for node in graph.node
        if node.op_type == "MatMul" and any(layer in node.name for layer in FLOAT_LAYERS)
    ]
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # it logs "consider pre-processing" advice on the root logger
    try:
        quantize_dynamic(
            str(source),
            str(target),
            per_channel=True,
            weight_type=QuantType.QInt8,
            nodes_to_exclude=keep_float,
            extra_options={"MatMulConstBOnly": True},
        )
    finally:
        root.setLevel(level)


def _ort_version() -> str:
    import onnxruntime

    return str(onnxruntime.__version__)


def _save_optimized(source: Path, target: Path) -> None:
    """Run onnxruntime's graph optimisations once and keep the result (extended level: portable
    across CPUs, unlike the layout-specific ones it may add at load time)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    options.optimized_model_filepath = str(target)
    ort.InferenceSession(str(source), options, providers=["CPUExecutionProvider"])
