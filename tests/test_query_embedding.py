"""The ONNX query embedder: agreement with torch, padding, truncation, the export cache, the factory."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

import assistant.embedding.onnx_export as qe
from assistant.embedding import SentenceTransformerEmbedder, make_query_embedder
from assistant.errors import ModelLoadError
from assistant.settings import BUNDLED_MODEL, Settings, resolve_model_path
from tests.conftest import EXAMPLE_QUESTION, REPO_ROOT

QUESTIONS = [
    EXAMPLE_QUESTION,
    "When was Masoud Pezeshkian sworn in as president?",
    "In what country is Normandy located?",
    "Who was the Norse leader?",
    "What is the capital of France and how many people live there today?",
    "Resolution 598",
    "ok",
]
#: a sentence answering each of the first questions
ANSWERS = [
    "They can use the never-implemented mandate that the UN Security Council gave to the UN "
    "secretary-general in 1987, under Resolution 598.",
    "On July 30, Masoud Pezeshkian was sworn in as Iran's new president.",
    "Normandy is a region in the north of France.",
    "Under their leader Rollo, the Norse raiders agreed to swear fealty to King Charles III.",
    "Paris, the capital of France, has about two million inhabitants.",
]


@pytest.fixture(scope="module")
def cache_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private XDG_CACHE_HOME: exports land in <it>/assistant/onnx, never in the user's cache."""
    return tmp_path_factory.mktemp("xdg-cache")


@pytest.fixture(scope="module")
def onnx_dir(cache_home: Path) -> Path:
    """The bundled model exported (int8) into the private cache, once for this module."""
    return qe.ensure_onnx_model(BUNDLED_MODEL, cache_home / "assistant" / "onnx")


@pytest.fixture(scope="module")
def torch_embedder() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder(BUNDLED_MODEL)


def test_onnx_vectors_match_the_torch_model(
    onnx_dir: Path, torch_embedder: SentenceTransformerEmbedder
) -> None:
    embedder = qe.OnnxQueryEmbedder(onnx_dir, model_name=BUNDLED_MODEL)
    ours = embedder.embed(QUESTIONS)
    reference = torch_embedder.embed(QUESTIONS)
    assert ours.dtype == np.float32 and ours.shape == reference.shape == (len(QUESTIONS), 384)
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-4)
    cosines = (ours * reference).sum(axis=1)
    # the bounds the export itself enforces (measured on AMD EPYC: mean 0.992, worst 0.971)
    assert cosines.mean() >= qe.MIN_MEAN_COSINE and cosines.min() >= qe.MIN_WORST_COSINE, cosines
    # and it retrieves like torch: each question finds its answer among the others' answers
    passages = torch_embedder.embed(ANSWERS)
    assert (np.argmax(ours[: len(ANSWERS)] @ passages.T, axis=1) == np.arange(len(ANSWERS))).all()
    meta = json.loads((onnx_dir / qe.META_FILE).read_text())
    assert meta["quantization"] == "int8" and meta["max_length"] == 256
    assert (onnx_dir / qe.OPTIMIZED_FILE).is_file()  # what serving loads
    assert meta["sha256"]["model.safetensors"] and meta["probe_cosine"]["mean"] >= qe.MIN_MEAN_COSINE


def test_a_question_gets_the_same_vector_whatever_is_embedded_with_it(onnx_dir: Path) -> None:
    embedder = qe.OnnxQueryEmbedder(onnx_dir, max_batch=4)
    together = embedder.embed(QUESTIONS)
    alone = np.vstack([embedder.embed([q]) for q in QUESTIONS])
    assert np.array_equal(together, alone)


def test_long_text_is_truncated_like_sentence_transformers(
    onnx_dir: Path, torch_embedder: SentenceTransformerEmbedder
) -> None:
    long_text = " ".join(["The Normans conquered England in 1066 after the battle of Hastings."] * 60)
    ours = qe.OnnxQueryEmbedder(onnx_dir).embed([long_text])[0]
    assert float(ours @ torch_embedder.embed([long_text])[0]) >= 0.97
    # truncation happened at 256 tokens, not at the tokenizer file's 128
    tokens = qe.Tokens(onnx_dir / "tokenizer.json", 256)
    assert tokens.batch([long_text])[0].shape == (1, 256)


def test_the_export_is_cached_and_reused(onnx_dir: Path) -> None:
    stamp = (onnx_dir / qe.MODEL_FILE).stat().st_mtime_ns
    again = qe.ensure_onnx_model(BUNDLED_MODEL, onnx_dir.parent)
    assert again == onnx_dir and (again / qe.MODEL_FILE).stat().st_mtime_ns == stamp
    assert not list(onnx_dir.parent.glob(".*.tmp"))


def _fake_model(folder: Path, pooling: str = "mean") -> Path:
    (folder / "1_Pooling").mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    (folder / "tokenizer.json").write_text("{}")
    (folder / "model.safetensors").write_bytes(b"weights")
    (folder / "1_Pooling" / "config.json").write_text(json.dumps({f"pooling_mode_{pooling}_tokens": True}))
    return folder


def test_fingerprint_changes_with_the_model_files(tmp_path: Path) -> None:
    folder = _fake_model(tmp_path / "model")
    first = qe.fingerprint(folder, "int8")
    assert qe.fingerprint(folder, "int8") == first
    assert qe.fingerprint(folder, "fp32") != first
    (folder / "model.safetensors").write_bytes(b"other weights")
    assert qe.fingerprint(folder, "int8") != first


def test_concurrent_first_uses_export_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = _fake_model(tmp_path / "model")
    calls: list[Path] = []

    def fake_export(model_path: Path, out_dir: Path, quantization: str) -> dict[str, str]:
        calls.append(out_dir)
        threading.Event().wait(0.3)  # long enough for the other thread to reach the lock
        (out_dir / qe.META_FILE).write_text("{}")
        return {}

    monkeypatch.setattr(qe, "export_onnx", fake_export)
    results: list[Path] = []
    threads = [
        threading.Thread(target=lambda: results.append(qe.ensure_onnx_model(str(folder), tmp_path / "c")))
        for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1 and len(set(results)) == 1 and (results[0] / qe.META_FILE).is_file()
    assert not list((tmp_path / "c").glob(".*.tmp"))


def test_a_failed_export_leaves_nothing_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = _fake_model(tmp_path / "model")

    def broken_export(model_path: Path, out_dir: Path, quantization: str) -> dict[str, str]:
        (out_dir / qe.MODEL_FILE).write_bytes(b"half a model")
        raise ModelLoadError("the ONNX export differs from the torch model")

    monkeypatch.setattr(qe, "export_onnx", broken_export)
    with pytest.raises(ModelLoadError):
        qe.ensure_onnx_model(str(folder), tmp_path / "c")
    assert [p.name for p in (tmp_path / "c").iterdir()] == [".export.lock"]


def test_factory_honours_the_setting(tmp_path: Path, torch_embedder: SentenceTransformerEmbedder) -> None:
    assert make_query_embedder(Settings(query_embedder="torch"), torch_embedder) is torch_embedder
    cls_model = _fake_model(tmp_path / "cls-model", pooling="cls")
    assert not qe.exportable(cls_model)
    auto = make_query_embedder(Settings(embedding_model=str(cls_model)), torch_embedder)
    assert auto is torch_embedder
    with pytest.raises(ModelLoadError, match="cannot be exported"):
        make_query_embedder(Settings(embedding_model=str(cls_model), query_embedder="onnx"), torch_embedder)


def test_auto_uses_onnx_for_the_bundled_model(
    onnx_dir: Path,
    cache_home: Path,
    torch_embedder: SentenceTransformerEmbedder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache_home))
    assert qe.default_cache_dir() == onnx_dir.parent
    chosen = make_query_embedder(Settings(), torch_embedder)
    assert isinstance(chosen, qe.OnnxQueryEmbedder) and chosen.onnx_dir == onnx_dir
    assert chosen.model_name == BUNDLED_MODEL and chosen.dimension == torch_embedder.dimension


def test_an_unwritable_cache_falls_back_to_torch_under_auto(
    tmp_path: Path, torch_embedder: SentenceTransformerEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocked = tmp_path / "file-not-folder"
    blocked.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))
    assert make_query_embedder(Settings(), torch_embedder) is torch_embedder
    with pytest.raises(ModelLoadError, match="ASSISTANT_ONNX_CACHE_DIR"):
        make_query_embedder(Settings(query_embedder="onnx"), torch_embedder)


def test_serving_path_does_not_import_torch(onnx_dir: Path) -> None:
    """Answering with the export needs onnxruntime and tokenizers only (seconds of imports saved)."""
    code = (
        "import sys; from pathlib import Path; import assistant.embedding.onnx_runtime as qe; "
        f"v = qe.OnnxQueryEmbedder(Path({str(onnx_dir)!r})).embed(['hello there']); "
        "assert v.shape == (1, 384); "
        "print(sorted(m for m in ('torch', 'transformers', 'sentence_transformers') if m in sys.modules))"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert done.stdout.strip() == "[]"


def test_a_damaged_export_is_a_clear_error(onnx_dir: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(onnx_dir, broken)
    for model in broken.glob("*.onnx"):  # the saved optimised graph as well
        model.write_bytes(b"not a model")
    with pytest.raises(ModelLoadError, match="delete that folder"):
        qe.OnnxQueryEmbedder(broken).embed(["hello"])


def test_resolve_model_path_points_at_an_exportable_folder() -> None:
    assert qe.exportable(resolve_model_path(BUNDLED_MODEL))
