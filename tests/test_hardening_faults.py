"""Faults: a killed indexer, damaged index files, a full disk, and re-indexing under load.

Every test uses the real model, FAISS, SQLite and (for the load test) real HTTP on loopback.
Crash points are reached with the store's test hook (`ASSISTANT_TEST_PAUSE_AT`, see
assistant/store/snapshot/writer.py): the child process stops at that step of the commit and
is SIGKILLed there.
"""

from __future__ import annotations

import errno
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from assistant.cli import main as cli_main
from assistant.core import Assistant
from assistant.errors import AssistantError, IndexCorruptError, IndexVersionError, IndexWriteError
from assistant.server import create_app
from assistant.settings import Settings
from assistant.store.snapshot.layout import CURRENT_FILE, SNAPSHOTS_DIR
from assistant.store.snapshot.writer import PAUSE_ENV, PAUSE_POINTS
from tests.conftest import CORPUS_DIR, EXAMPLE_QUESTION, REPO_ROOT
from tests.helpers import assistant_on, running_server, subprocess_env

REMOVED_DOC = "pezeshkian-foreign-policy-first-year"
CHILD_START = [sys.executable, "-c", "from assistant.cli import main; main()"]
KILL_WAIT_SECONDS = 180


# --- helpers ------------------------------------------------------------------------------


def index_state(index_dir: Path, shared: Assistant) -> dict[str, Any]:
    """What a reader sees: every document's stored text plus the manifest's counts."""
    assistant = assistant_on(index_dir, shared)
    snapshot = assistant.snapshot()
    assert snapshot is not None
    texts = {d.doc_id: assistant.get_document(d.doc_id).text for d in assistant.list_documents()}
    manifest = snapshot.manifest
    return {"texts": texts, "chunks": manifest.chunks, "sentences": manifest.sentences}


def assert_answers_verifiably(index_dir: Path, shared: Assistant) -> None:
    assistant = assistant_on(index_dir, shared)
    answer = assistant.ask(EXAMPLE_QUESTION)
    assert answer.citations, answer
    for citation in answer.citations:
        text = assistant.get_document(citation.doc_id).text
        assert text[citation.start : citation.end] == citation.quote


def leftovers(index_dir: Path) -> list[str]:
    return sorted(p.name for p in (index_dir / SNAPSHOTS_DIR).iterdir() if p.name.endswith(".tmp"))


def run_cli(*args: str) -> Any:
    result = CliRunner().invoke(cli_main, list(args), catch_exceptions=False)
    assert "Traceback" not in result.output
    return result


def kill_when(process: subprocess.Popen[bytes], ready: Callable[[], bool]) -> None:
    """SIGKILL `process` as soon as `ready()` holds (fail if it exits or takes too long first)."""
    deadline = time.monotonic() + KILL_WAIT_SECONDS
    while not ready():
        if process.poll() is not None:
            out = process.stdout.read().decode() if process.stdout else ""
            raise AssertionError(f"the indexer exited ({process.returncode}) before the kill point:\n{out}")
        assert time.monotonic() < deadline, "the indexer never reached the kill point"
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    assert process.wait(30) == -signal.SIGKILL


def start_child(args: list[str], pause_at: str | None = None) -> subprocess.Popen[bytes]:
    env = subprocess_env()
    if pause_at is not None:
        env[PAUSE_ENV] = pause_at
    return subprocess.Popen([*CHILD_START, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def long_document(path: Path, sentences: int = 2500) -> Path:
    rng = random.Random(7)
    words = ["harbour", "lamp", "bond", "survey", "quay", "council", "budget", "ferry", "tide"]
    lines = [
        f"Report {i} says the {rng.choice(words)} {rng.choice(words)} cost {rng.randint(2, 999)} euros."
        for i in range(sentences)
    ]
    path.write_text(" ".join(lines) + "\n", encoding="utf-8")
    return path


# --- SIGKILL at every step of a commit ----------------------------------------------------


@pytest.mark.parametrize("point", PAUSE_POINTS)
def test_sigkill_during_commit_leaves_old_or_new_and_the_next_build_recovers(
    point: str, mutable_index_dir: Path, sample_assistant: Assistant
) -> None:
    index_dir = mutable_index_dir
    old = index_state(index_dir, sample_assistant)
    assert REMOVED_DOC in old["texts"]

    child = start_child(["index", "remove", REMOVED_DOC, "--index-dir", str(index_dir)], pause_at=point)
    kill_when(child, (index_dir / f".paused-{point}").exists)
    (index_dir / f".paused-{point}").unlink()

    after = index_state(index_dir, sample_assistant)
    if point == "after_swap":  # CURRENT already names the new snapshot: the removal happened
        assert set(after["texts"]) == set(old["texts"]) - {REMOVED_DOC}
        assert {k: old["texts"][k] for k in after["texts"]} == after["texts"]
    else:
        assert after == old
    assert_answers_verifiably(index_dir, sample_assistant)

    # `assistant index build` recovers without manual steps: no stale lock, no leftovers.
    result = run_cli("index", "build", str(CORPUS_DIR), "--index-dir", str(index_dir))
    assert result.exit_code == 0, result.output
    assert leftovers(index_dir) == []
    assert index_state(index_dir, sample_assistant)["texts"] == old["texts"]
    assert_answers_verifiably(index_dir, sample_assistant)


@pytest.mark.parametrize("moment", ["mid_build", "before_swap"])
def test_sigkill_of_index_build_keeps_the_old_index(
    moment: str, mutable_index_dir: Path, sample_assistant: Assistant, tmp_path: Path
) -> None:
    index_dir = mutable_index_dir
    docs = tmp_path / "more"
    docs.mkdir()
    long_document(docs / "harbour-ledger.txt", sentences=5000)
    old = index_state(index_dir, sample_assistant)
    snapshots_dir = index_dir / SNAPSHOTS_DIR

    if moment == "mid_build":
        child = start_child(["index", "build", str(docs), "--index-dir", str(index_dir)])

        opened: list[float] = []

        def building() -> bool:
            # A .tmp folder with a database in it: the writer holds the lock and has copied the
            # live snapshot; half a second later it is loading the model or embedding the long
            # document (which takes several seconds even on a fast, idle machine).
            if not opened and any((p / "store.sqlite").exists() for p in snapshots_dir.glob("*.tmp")):
                opened.append(time.monotonic())
            return bool(opened) and time.monotonic() - opened[0] > 0.5

        kill_when(child, building)
        assert leftovers(index_dir), "the kill did not land inside the build"
    else:
        child = start_child(["index", "build", str(docs), "--index-dir", str(index_dir)], pause_at=moment)
        kill_when(child, (index_dir / f".paused-{moment}").exists)
        (index_dir / f".paused-{moment}").unlink()

    assert index_state(index_dir, sample_assistant) == old
    assert_answers_verifiably(index_dir, sample_assistant)

    result = run_cli("index", "build", str(docs), "--index-dir", str(index_dir))
    assert result.exit_code == 0, result.output
    assert leftovers(index_dir) == []
    state = index_state(index_dir, sample_assistant)
    assert set(state["texts"]) == {*old["texts"], "harbour-ledger"}
    assert_answers_verifiably(index_dir, sample_assistant)


# --- damaged files ------------------------------------------------------------------------


def _live(index_dir: Path) -> Path:
    return index_dir / SNAPSHOTS_DIR / (index_dir / CURRENT_FILE).read_text().strip()


def _truncate_faiss(index_dir: Path) -> None:
    path = _live(index_dir) / "vectors.faiss"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _garbage_faiss_vectors(index_dir: Path) -> None:
    # Same size, header intact: FAISS itself loads this without complaint.
    path = _live(index_dir) / "vectors.faiss"
    data = bytearray(path.read_bytes())
    data[len(data) // 3 : len(data) // 3 + 4096] = random.Random(3).randbytes(4096)
    path.write_bytes(bytes(data))


def _garbage_sqlite_pages(index_dir: Path) -> None:
    path = _live(index_dir) / "store.sqlite"
    data = bytearray(path.read_bytes())
    rng = random.Random(5)
    page = 4096
    for number in range(2, len(data) // page, 3):
        data[number * page : (number + 1) * page] = rng.randbytes(page)
    path.write_bytes(bytes(data))


def _newer_manifest(index_dir: Path) -> None:
    path = _live(index_dir) / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["format_version"] += 1
    manifest["a_field_from_the_future"] = {"x": 1}
    path.write_text(json.dumps(manifest))


def _garbage_manifest(index_dir: Path) -> None:
    (_live(index_dir) / "manifest.json").write_bytes(b"\x00\xff{not json")


#: how to damage an index, a word its error names, and the error (a newer format is not damage)
DAMAGE: dict[str, tuple[Callable[[Path], None], str, type[AssistantError]]] = {
    "faiss-cut-in-half": (_truncate_faiss, "vectors.faiss", IndexCorruptError),
    "faiss-garbage-vectors": (_garbage_faiss_vectors, "vectors.faiss", IndexCorruptError),
    "sqlite-garbage-pages": (_garbage_sqlite_pages, "store.sqlite", IndexCorruptError),
    "manifest-newer-format": (_newer_manifest, "newer", IndexVersionError),
    "manifest-garbage": (_garbage_manifest, "manifest", IndexCorruptError),
}


@pytest.mark.parametrize("kind", sorted(DAMAGE))
def test_damaged_index_is_refused_at_load_with_the_rebuild_command(
    kind: str, mutable_index_dir: Path, sample_assistant: Assistant, tmp_path: Path
) -> None:
    damage, named, error = DAMAGE[kind]
    damage(mutable_index_dir)

    with pytest.raises(error) as caught:
        Assistant.load(mutable_index_dir, settings=Settings(index_dir=mutable_index_dir))
    message = str(caught.value)
    assert "assistant index build --rebuild" in message
    assert named in message

    result = run_cli("ask", EXAMPLE_QUESTION, "--index-dir", str(mutable_index_dir))
    assert result.exit_code == 1
    assert "--rebuild" in result.output

    # The named fix works, and without it an incremental build refuses rather than copying damage.
    tiny = tmp_path / "tiny"
    tiny.mkdir()
    (tiny / "tide-table.txt").write_text("The ferry to Valmora leaves at high tide every Tuesday.\n")
    refused = run_cli("index", "build", str(tiny), "--index-dir", str(mutable_index_dir))
    assert refused.exit_code == 1 and "--rebuild" in refused.output
    rebuilt = run_cli("index", "build", str(tiny), "--rebuild", "--index-dir", str(mutable_index_dir))
    assert rebuilt.exit_code == 0, rebuilt.output
    assert set(index_state(mutable_index_dir, sample_assistant)["texts"]) == {"tide-table"}


# --- disk full ----------------------------------------------------------------------------


def _enospc(*args: Any, **kwargs: Any) -> None:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


INJECTIONS: dict[str, tuple[str, Callable[..., None]]] = {
    # FAISS writes through a Python file, so a full disk reaches it as OSError(ENOSPC)
    "faiss-write": ("assistant.store.snapshot.vector_index.faiss.write_index", _enospc),
    "manifest-write": ("assistant.fileio.write_durably", _enospc),
    "folder-rename": ("assistant.store.snapshot.writer.os.replace", _enospc),
    "sqlite-copy": ("assistant.store.snapshot.writer.SnapshotWriter.__init__", _enospc),
}


@pytest.mark.parametrize("where", sorted(INJECTIONS))
def test_disk_full_while_indexing_is_a_clear_error_and_the_old_index_stays(
    where: str, mutable_index_dir: Path, sample_assistant: Assistant, tmp_path: Path, monkeypatch: Any
) -> None:
    old = index_state(mutable_index_dir, sample_assistant)
    docs = tmp_path / "more"
    docs.mkdir()
    (docs / "tide-table.txt").write_text("The ferry to Valmora leaves at high tide every Tuesday.\n")
    assistant = assistant_on(mutable_index_dir, sample_assistant)
    target, fault = INJECTIONS[where]
    with monkeypatch.context() as patch:
        patch.setattr(target, fault)
        with pytest.raises(IndexWriteError, match="disk is full") as caught:
            assistant.index_paths([docs])
    assert "index is unchanged" in str(caught.value)
    assert leftovers(mutable_index_dir) == []
    assert index_state(mutable_index_dir, sample_assistant) == old
    assert_answers_verifiably(mutable_index_dir, sample_assistant)

    report = assistant.index_paths([docs])  # space is back: the same build now succeeds
    assert report.added == ["tide-table"]


@pytest.fixture()
def small_tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A real, nearly full file system (tmpfs); skipped where mounting is not allowed."""
    mountpoint = tmp_path / "tmpfs"
    mountpoint.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1200k", "tmpfs", str(mountpoint)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], check=False)


def test_a_really_full_file_system_gives_a_clear_cli_error(
    small_tmpfs: Path, sample_index_dir: Path, sample_assistant: Assistant, tmp_path: Path
) -> None:
    index_dir = small_tmpfs / "index"
    shutil.copytree(sample_index_dir, index_dir)
    old = index_state(index_dir, sample_assistant)
    docs = tmp_path / "more"
    docs.mkdir()
    long_document(docs / "harbour-ledger.txt", sentences=3000)

    result = run_cli("index", "build", str(docs), "--index-dir", str(index_dir))

    assert result.exit_code == 1
    assert "disk is full" in result.output and "index is unchanged" in result.output
    assert leftovers(index_dir) == []
    assert index_state(index_dir, sample_assistant) == old
    assert_answers_verifiably(index_dir, sample_assistant)


# --- re-indexing continuously while 32 clients ask over HTTP ----------------------------

DOCS = ("harbour", "ferries", "budget")
TOPICS = {
    "harbour": "The Harbour Lighting Survey found that {n} lamp posts along the northern quay needed "
    "new fittings. The Port of Valmora completed the survey in March {year}.",
    "ferries": "The ferry to the island leaves at high tide. In {year} the ferry company carried {n} "
    "thousand passengers. Tickets are sold at the quay.",
    "budget": "The municipal bond raised {n} million euros in {year}. The council spends it on "
    "lighting, paving and the new ferry terminal.",
}
QUESTIONS = [
    "How many lamp posts needed new fittings?",
    "When was the Harbour Lighting Survey completed?",
    "How many passengers did the ferry company carry?",
    "How much did the municipal bond raise?",
    "What does the council spend the bond on?",
    "When does the ferry leave?",
    "Who completed the survey?",
    "What is sold at the quay?",
]


def version_text(doc: str, version: int) -> str:
    """Version `version` of a document: revisions shift every offset, so stale ones never match."""
    preamble = " ".join(f"Revision note {version}.{i} changes nothing." for i in range(version % 5))
    body = TOPICS[doc].format(n=100 + version, year=2000 + version % 25)
    return f"{doc.title()} Notes\n\n{preamble} {body}\n" if preamble else f"{doc.title()} Notes\n\n{body}\n"


def reindex_forever(index_dir: str, docs_dir: str, progress: str) -> None:
    """Run in the child: write the next version of every document and re-index, forever."""
    assistant = Assistant.open_or_create(Path(index_dir), settings=Settings(index_dir=Path(index_dir)))
    version = 0
    while True:
        for doc in DOCS:
            (Path(docs_dir) / f"{doc}.txt").write_text(version_text(doc, version), encoding="utf-8")
        assistant.index_paths([Path(docs_dir)])
        Path(progress).write_text(str(version))
        version += 1


def _run_load(seconds: float, tmp_path: Path, sample_assistant: Assistant) -> None:
    index_dir, docs_dir, progress = tmp_path / "index", tmp_path / "docs", tmp_path / "progress"
    docs_dir.mkdir()
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from tests.test_hardening_faults import reindex_forever; "
            "reindex_forever(*sys.argv[1:])",
            str(index_dir),
            str(docs_dir),
            str(progress),
        ],
        env=subprocess_env(),
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        kill_deadline = time.monotonic() + KILL_WAIT_SECONDS
        while not progress.exists():  # the first snapshot exists: start serving
            assert child.poll() is None, child.stdout.read().decode() if child.stdout else ""
            assert time.monotonic() < kill_deadline
            time.sleep(0.1)
        served = Assistant(index_dir, Settings(index_dir=index_dir), sample_assistant.embedder)
        served.refresh()
        with running_server(create_app(served.settings, served)) as base_url:
            results = _hammer(base_url, seconds, clients=32)
        assert child.poll() is None, "the re-indexing process died during the run"
        versions_done = int(progress.read_text())
    finally:
        child.kill()
        child.wait(30)

    texts = {(doc, v): version_text(doc, v) for doc in DOCS for v in range(versions_done + 3)}
    failures = results["failures"]
    answers = results["answers"]
    print(
        f"\nconcurrent load: {results['requests']} requests, {len(failures)} failed, "
        f"{len(answers)} answers, {versions_done + 1} re-index rounds, "
        f"{len(results['snapshots'])} snapshots served"
    )
    assert failures == []
    assert results["requests"] >= 32
    assert len(results["snapshots"]) >= 2, "the index did not change while the clients asked"
    cited = 0
    for answer in answers:
        markers = {int(m) for m in re.findall(r"\[(\d+)\]", answer["answer"])}
        assert markers == {c["marker"] for c in answer["citations"]}
        for citation in answer["citations"]:
            candidates = [t for (d, _), t in texts.items() if d == citation["doc_id"]]
            quote = citation["quote"]
            assert any(t[citation["start"] : citation["end"]] == quote for t in candidates), citation
            cited += 1
        for passage in answer["passages"]:
            candidates = [t for (d, _), t in texts.items() if d == passage["doc_id"]]
            assert any(t[passage["start"] : passage["end"]] == passage["text"] for t in candidates)
    assert cited > 0


def _hammer(base_url: str, seconds: float, clients: int) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    lock = threading.Lock()
    results: dict[str, Any] = {"requests": 0, "failures": [], "answers": [], "snapshots": set()}

    def client(number: int) -> None:
        rng = random.Random(number)
        with httpx.Client(base_url=base_url, timeout=60) as http:
            while time.monotonic() < deadline:
                question = rng.choice(QUESTIONS)
                try:
                    response = http.post("/ask", json={"question": question})
                    health = http.get("/health") if number == 0 else None
                except httpx.HTTPError as exc:
                    with lock:
                        results["requests"] += 1
                        results["failures"].append(f"{question}: {exc!r}")
                    continue
                with lock:
                    results["requests"] += 1 + (health is not None)
                    if response.status_code != 200:
                        results["failures"].append(f"{question}: {response.status_code} {response.text}")
                    else:
                        results["answers"].append(response.json())
                    if health is not None:
                        if health.status_code == 200:
                            results["snapshots"].add(health.json()["index_version"])
                        else:
                            results["failures"].append(f"/health: {health.status_code} {health.text}")

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + 120)
    return results


def test_asking_while_another_process_reindexes_short(tmp_path: Path, sample_assistant: Assistant) -> None:
    _run_load(20, tmp_path, sample_assistant)


@pytest.mark.slow
def test_asking_while_another_process_reindexes_two_minutes(
    tmp_path: Path, sample_assistant: Assistant
) -> None:
    _run_load(120, tmp_path, sample_assistant)
