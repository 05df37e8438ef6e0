"""Indexing on a local Ray cluster gives the local build's index, even when a worker is killed."""

from __future__ import annotations

import json
import os
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from assistant.cli import main
from assistant.core import Assistant
from assistant.models import IndexReport
from assistant.settings import Settings

ray = pytest.importorskip("ray")

CORPUS_DIR = Path(__file__).resolve().parent.parent / "corpus"
SQUAD = Path("/work/shared/datasets/squad-v2.0-dev/passages.jsonl")
SQUAD_PARAGRAPHS = 200
QUESTIONS = [
    "What legal basis is proposed for regional talks?",
    "Who were the Normans descended from?",
    "What is the foreign policy of Pezeshkian?",
]


def _write_corpus(folder: Path, paragraphs: int) -> Path:
    """The sample corpus, `paragraphs` SQuAD paragraphs and one file that cannot be indexed."""
    for path in CORPUS_DIR.glob("*.txt"):
        shutil.copy(path, folder / path.name)
    if SQUAD.exists():
        with SQUAD.open(encoding="utf-8") as lines:
            for number, line in zip(range(paragraphs), lines, strict=False):
                record = json.loads(line)
                (folder / f"squad-{number:04d}.txt").write_text(record["title"] + "\n\n" + record["text"])
    (folder / "blank.txt").write_text("  \n")
    return folder


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _write_corpus(tmp_path_factory.mktemp("ray-corpus"), SQUAD_PARAGRAPHS)


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[None]:
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=200 * 1024 * 1024)
    try:
        yield
    finally:
        ray.shutdown()


def _build(
    corpus: Path, index_dir: Path, ray_address: str | None, **kwargs: object
) -> tuple[Assistant, IndexReport]:
    settings = Settings(index_dir=index_dir, ray_address=ray_address)
    assistant = Assistant.open_or_create(index_dir, settings=settings)
    report = assistant.index_paths([corpus], **kwargs)  # type: ignore[arg-type]
    return assistant, report


@pytest.fixture(scope="module")
def local(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Assistant, IndexReport]:
    return _build(corpus, tmp_path_factory.mktemp("local") / "index", None)


def _chunks(assistant: Assistant, total: int) -> list[tuple[str, int, int, int, str]]:
    view = assistant.snapshot()
    assert view is not None
    rows = view.chunks(range(total + 100)).values()
    return sorted((r.doc_id, r.ord, r.start, r.end, r.text) for r in rows)


def assert_same_index(
    ray_built: Assistant, ray_report: IndexReport, local: Assistant, local_report: IndexReport
) -> None:
    """Same documents (ids in the same order), chunks, offsets, vectors, top passages and citations."""
    assert ray_report.added == local_report.added
    assert [s.path for s in ray_report.skipped] == [s.path for s in local_report.skipped]
    assert (ray_report.documents, ray_report.chunks) == (local_report.documents, local_report.chunks)
    assert _chunks(ray_built, ray_report.chunks) == _chunks(local, local_report.chunks)
    ray_view, local_view = ray_built.snapshot(), local.snapshot()
    assert ray_view is not None and local_view is not None
    for doc_id in local_report.added[:5]:
        ray_sentences = ray_view.sentences(doc_id, 0, 10**6)
        local_sentences = local_view.sentences(doc_id, 0, 10**6)
        assert [(s.start, s.end) for s in ray_sentences] == [(s.start, s.end) for s in local_sentences]
        # the same model over the same texts: only batching differs, far below any ranking margin
        assert np.allclose(
            np.stack([s.embedding for s in ray_sentences]),
            np.stack([s.embedding for s in local_sentences]),
            atol=1e-4,
        )
    for question in QUESTIONS:
        ray_top = {p.chunk_id for p in ray_built.search(question, top_k=3)}
        local_top = {p.chunk_id for p in local.search(question, top_k=3)}
        assert len(ray_top & local_top) >= 2, question
        ray_answer, local_answer = ray_built.ask(question), local.ask(question)
        for citation in ray_answer.citations:
            document = ray_view.document(citation.doc_id)
            assert document is not None and document["text"][citation.start : citation.end] == citation.quote
        ray_cited = {(c.doc_id, c.start, c.end) for c in ray_answer.citations}
        local_cited = {(c.doc_id, c.start, c.end) for c in local_answer.citations}
        assert ray_cited == local_cited or ray_cited & local_cited, question


def test_ray_build_equals_local_build(
    ray_cluster: None, corpus: Path, local: tuple[Assistant, IndexReport], tmp_path: Path
) -> None:
    seen: list[int] = []
    built, report = _build(
        corpus, tmp_path / "index", "local", progress=lambda n, total, path: seen.append(n)
    )
    assert report.skipped and report.skipped[0].path.endswith("blank.txt")
    assert seen == sorted(seen) and seen[-1] == len(report.added) + len(report.skipped)
    assert_same_index(built, report, *local)
    # incremental by content hash: nothing changed, so nothing reaches Ray again
    again = built.index_paths([corpus])
    assert again.added == [] and again.replaced == [] and len(again.unchanged) == len(report.added)
    assert again.embedded_texts == 0


def test_cli_ray_flag_builds_on_ray(ray_cluster: None, tmp_path: Path) -> None:
    """`--ray` with no address is the private local cluster; the report is the usual one."""
    index_dir = tmp_path / "index"
    args = ["index", "build", str(CORPUS_DIR), "--index-dir", str(index_dir), "--ray", "--json"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    report = IndexReport.model_validate_json(result.stdout[result.stdout.index("{") :])
    assert sorted(report.added) == sorted(p.stem for p in CORPUS_DIR.glob("*.txt"))
    assert Assistant.load(index_dir, Settings(index_dir=index_dir)).search(QUESTIONS[0], top_k=3)


def _embed_actor_pids() -> set[int]:
    """Processes Ray titles after the embedding actor class."""
    pids = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if b"MapBatches(EmbedActor)" in cmdline:
                pids.add(int(entry.name))
    return pids


def test_killed_worker_is_retried_without_loss_or_duplicates(
    ray_cluster: None, corpus: Path, local: tuple[Assistant, IndexReport], tmp_path: Path
) -> None:
    killed: list[int] = []

    def kill_once(number: int, total: int, path: str) -> None:
        if not killed:  # the first result is in; the rest of the job is still on the actors
            for pid in _embed_actor_pids():
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)

    built, report = _build(corpus, tmp_path / "index", "local", progress=kill_once)
    assert killed, "no embedding actor was found to kill"
    assert len(report.added) == len(set(report.added))
    assert_same_index(built, report, *local)


@pytest.mark.slow
def test_every_squad_paragraph_on_ray_equals_local(ray_cluster: None, tmp_path: Path) -> None:
    """The long run: all 1,204 SQuAD 2.0 dev paragraphs, with the worker kill of the short one."""
    (tmp_path / "corpus").mkdir()
    corpus = _write_corpus(tmp_path / "corpus", 10**6)
    local = _build(corpus, tmp_path / "local", None)
    killed: list[int] = []

    def kill_once(number: int, total: int, path: str) -> None:
        if number > total // 2 and not killed:
            for pid in _embed_actor_pids():
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)

    built, report = _build(corpus, tmp_path / "ray", "local", progress=kill_once)
    assert killed
    assert_same_index(built, report, *local)
