"""State that survives a restart: the migration runner, upload jobs, Slack de-duplication, index versions.

Real SQLite files, the real app (TestClient, and `assistant serve` in a child process that is
killed mid-job), the real CLI and a real index whose recorded version is altered.
"""

from __future__ import annotations

import json
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from assistant.cli import main as cli_main
from assistant.core import Assistant
from assistant.errors import IndexVersionError, StateVersionError
from assistant.fileio import file_checksum
from assistant.models import IndexReport
from assistant.server.jobs import INTERRUPTED, JOBS_FILENAME, JobManager
from assistant.slack.dedupe import DEDUPE_FILENAME, Deduplicator
from assistant.state.migrations import StateDB
from assistant.store import FORMAT_VERSION
from assistant.store.snapshot.layout import CURRENT_FILE, SETS_SCHEMA, SNAPSHOTS_DIR
from assistant.store.snapshot.writer import PAUSE_ENV
from tests.helpers import (
    SURVEY_DOC,
    SURVEY_NAME,
    SURVEY_TEXT,
    app_on,
    assistant_on,
    subprocess_env,
    upload,
    wait_for_job,
)

SERVER_START_SECONDS = 180

# --- the migration runner -------------------------------------------------------------------


def _create_notes(conn: sqlite3.Connection) -> None:
    conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL)")


def _add_author(conn: sqlite3.Connection) -> None:
    conn.execute("ALTER TABLE notes ADD COLUMN author TEXT NOT NULL DEFAULT ''")


def _broken(conn: sqlite3.Connection) -> None:
    conn.execute("CREATE TABLE half_done (x INTEGER)")
    raise sqlite3.OperationalError("migration failed halfway")


def _user_version(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])


def test_an_old_database_is_upgraded_by_the_missing_migrations_only(tmp_path: Path) -> None:
    path = tmp_path / "notes.sqlite"
    with StateDB(path, [_create_notes], "notes").transaction() as conn:
        conn.execute("INSERT INTO notes (text) VALUES ('kept')")
    assert _user_version(path) == 1

    upgraded = StateDB(path, [_create_notes, _add_author], "notes")
    with upgraded.transaction(write=False) as conn:
        rows = [dict(r) for r in conn.execute("SELECT text, author FROM notes")]

    assert rows == [{"text": "kept", "author": ""}]
    assert _user_version(path) == upgraded.version == 2


def test_a_failed_migration_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "notes.sqlite"
    with StateDB(path, [_create_notes], "notes").transaction(write=False):
        pass

    upgraded = StateDB(path, [_create_notes, _broken], "notes")
    with pytest.raises(sqlite3.OperationalError, match="halfway"), upgraded.transaction():
        pass

    assert _user_version(path) == 1
    with sqlite3.connect(path) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "half_done" not in tables


def test_a_database_from_a_newer_version_is_refused_with_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "notes.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version = 7")

    older = StateDB(path, [_create_notes], "notes")
    with pytest.raises(StateVersionError, match="newer") as caught, older.transaction():
        pass

    assert "upgrade the assistant" in str(caught.value) and str(path) in str(caught.value)


# --- upload jobs ----------------------------------------------------------------------------


def test_a_finished_job_answers_after_a_restart(mutable_index_dir: Path, sample_assistant: Assistant) -> None:
    with TestClient(app_on(mutable_index_dir, sample_assistant)) as client:
        job_id = upload(client, (SURVEY_NAME, SURVEY_TEXT.encode())).json()["job_id"]
        before = wait_for_job(client, job_id)
    assert before["status"] == "done", before

    with TestClient(app_on(mutable_index_dir, sample_assistant)) as restarted:
        after = restarted.get(f"/jobs/{job_id}")

    assert after.status_code == 200
    assert after.json() == before
    assert after.json()["report"]["added"] == [SURVEY_DOC]
    assert (mutable_index_dir / JOBS_FILENAME).is_file()


def test_a_job_cut_short_by_a_crash_is_reported_as_interrupted(
    mutable_index_dir: Path, sample_assistant: Assistant
) -> None:
    paused = mutable_index_dir / ".paused-before_commit"
    env = {**subprocess_env(), PAUSE_ENV: "before_commit"}
    command = [sys.executable, "-c", "from assistant.cli import main; main()"]
    args = ["serve", "--no-build", "--port", "0", "--index-dir", str(mutable_index_dir)]
    child = subprocess.Popen([*command, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        base_url = _served_url(child)
        with httpx.Client(base_url=base_url, timeout=60) as client:
            job_id = upload(client, (SURVEY_NAME, SURVEY_TEXT.encode())).json()["job_id"]
            deadline = time.monotonic() + SERVER_START_SECONDS
            while not paused.exists():  # the job's writer is now inside its commit
                assert time.monotonic() < deadline and child.poll() is None, "the job never ran"
                time.sleep(0.05)
            assert client.get(f"/jobs/{job_id}").json()["status"] == "running"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(30)

    with TestClient(app_on(mutable_index_dir, sample_assistant)) as restarted:
        job = restarted.get(f"/jobs/{job_id}").json()
        documents = {d["doc_id"] for d in restarted.get("/documents").json()["documents"]}

    assert job["status"] == "failed"
    assert job["detail"] == INTERRUPTED and "interrupted by a restart" in job["detail"].lower()
    assert SURVEY_DOC not in documents  # the killed commit never became visible


def _served_url(child: subprocess.Popen[bytes]) -> str:
    """The address `assistant serve` prints once its socket is bound."""
    assert child.stdout is not None
    lines: list[str] = []
    found: list[str] = []

    def read() -> None:
        assert child.stdout is not None
        for raw in child.stdout:
            line = raw.decode(errors="replace")
            lines.append(line)
            match = re.search(r"Serving on (http://\S+)", line)
            if match and not found:
                found.append(match.group(1))

    threading.Thread(target=read, daemon=True).start()
    deadline = time.monotonic() + SERVER_START_SECONDS
    while not found:
        assert child.poll() is None, "".join(lines)
        assert time.monotonic() < deadline, "the server did not start:\n" + "".join(lines)
        time.sleep(0.05)
    return found[0]


def test_job_history_is_bounded(tmp_path: Path) -> None:
    uploads = tmp_path / "uploads"
    jobs = JobManager(uploads, lambda paths, sets: IndexReport(), tmp_path / JOBS_FILENAME, max_finished=2)
    ids = []
    for _ in range(4):
        job_id, _ = jobs.reserve()
        ids.append(job_id)
        jobs.submit(job_id, [], ["default"])
        _wait_finished(jobs, job_id)
    jobs.shutdown()

    reopened = JobManager(
        uploads, lambda paths, sets: IndexReport(), tmp_path / JOBS_FILENAME, max_finished=2
    )
    kept = [job_id for job_id in ids if reopened.get(job_id) is not None]
    reopened.shutdown()

    assert kept == ids[-2:]


def test_no_job_is_left_queued_after_a_shutdown(tmp_path: Path) -> None:
    release = threading.Event()

    def slow_index(paths: list[Path], sets: list[str]) -> IndexReport:
        release.wait(30)
        return IndexReport()

    jobs = JobManager(tmp_path / "uploads", slow_index, tmp_path / JOBS_FILENAME)
    running, queued = jobs.reserve()[0], jobs.reserve()[0]
    jobs.submit(running, [], ["default"])
    jobs.submit(queued, [], ["default"])
    stopping = threading.Thread(target=jobs.shutdown)
    stopping.start()
    release.set()
    stopping.join(30)

    reopened = JobManager(tmp_path / "uploads", slow_index, tmp_path / JOBS_FILENAME)
    finished, dropped = reopened.get(running), reopened.get(queued)
    reopened.shutdown()
    assert finished is not None and finished.status == "done"
    # Dropped by the shutdown (usually) or run before it began: never left queued forever.
    assert dropped is not None and dropped.status in ("done", "failed")
    assert dropped.status == "done" or dropped.detail == INTERRUPTED


def _wait_finished(jobs: JobManager, job_id: str) -> None:
    deadline = time.monotonic() + 30
    while (status := jobs.get(job_id)) is None or status.status not in ("done", "failed"):
        assert time.monotonic() < deadline
        time.sleep(0.01)


# --- Slack de-duplication -------------------------------------------------------------------


def test_claims_are_remembered_across_a_restart(tmp_path: Path) -> None:
    path = tmp_path / DEDUPE_FILENAME
    first = Deduplicator(path)
    assert first.claim_event("Ev1") and first.claim_message("C1", "1.1")

    restarted = Deduplicator(path)

    assert not restarted.claim_event("Ev1")
    assert not restarted.claim_message("C1", "1.1")
    assert restarted.claim_message("C1", "1.2")


def test_claims_expire_after_the_ttl_and_stay_bounded(tmp_path: Path) -> None:
    now = [1_000.0]
    dedupe = Deduplicator(tmp_path / DEDUPE_FILENAME, ttl=10, max_items=3, clock=lambda: now[0])
    assert dedupe.claim_event("a") and not dedupe.claim_event("a")
    now[0] += 10.5
    assert dedupe.claim_event("a"), "an expired key is new again"
    for key in "bcd":
        now[0] += 0.1
        assert dedupe.claim_event(key)
    assert dedupe.claim_event("a"), "the oldest entry was evicted to stay within max_items"
    assert not dedupe.claim_event("d")


def test_two_processes_never_claim_the_same_message_twice(tmp_path: Path) -> None:
    path = tmp_path / DEDUPE_FILENAME
    script = (
        "import sys; from assistant.slack.dedupe import Deduplicator\n"
        "d = Deduplicator(sys.argv[1])\n"
        "print(sum(d.claim_message('C1', str(i)) for i in range(300)))\n"
    )
    children = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(path)], env=subprocess_env(), stdout=subprocess.PIPE
        )
        for _ in range(3)
    ]
    claimed = [int(child.communicate(timeout=120)[0]) for child in children]

    assert all(child.returncode == 0 for child in children)
    assert sum(claimed) == 300


# --- the index format -------------------------------------------------------------------------


def _live_snapshot(index_dir: Path) -> Path:
    return index_dir / SNAPSHOTS_DIR / (index_dir / CURRENT_FILE).read_text().strip()


def _set_store_schema(index_dir: Path, version: int) -> None:
    """Rewrite the live snapshot as another version would have written it (checksum included)."""
    snapshot = _live_snapshot(index_dir)
    with sqlite3.connect(snapshot / "store.sqlite") as conn:
        conn.execute(f"PRAGMA user_version = {version}")
    manifest_path = snapshot / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["checksums"]["store.sqlite"] = file_checksum(snapshot / "store.sqlite")
    manifest_path.write_text(json.dumps(manifest))


def _set_format_version(index_dir: Path, version: int) -> None:
    manifest_path = _live_snapshot(index_dir) / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["format_version"] = version
    manifest_path.write_text(json.dumps(manifest))


#: the newest store schema this version no longer reads (the one before document sets still is)
OLDEST_UNREADABLE = SETS_SCHEMA - 2


def _schema_version(index_dir: Path) -> int:
    with sqlite3.connect(_live_snapshot(index_dir) / "store.sqlite") as conn:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])


@pytest.mark.parametrize(
    ("alter", "older"),
    [
        (lambda d: _set_store_schema(d, OLDEST_UNREADABLE), True),
        (lambda d: _set_store_schema(d, _schema_version(d) + 1), False),
        (lambda d: _set_format_version(d, FORMAT_VERSION - 1), True),
        (lambda d: _set_format_version(d, FORMAT_VERSION + 1), False),
    ],
    ids=["older-schema", "newer-schema", "older-format", "newer-format"],
)
def test_an_index_from_another_version_says_what_to_do(
    alter: object, older: bool, mutable_index_dir: Path, sample_assistant: Assistant
) -> None:
    alter(mutable_index_dir)  # type: ignore[operator]

    with pytest.raises(IndexVersionError) as caught:
        assistant_on(mutable_index_dir, sample_assistant)

    message = str(caught.value)
    assert f"assistant index build --rebuild --index-dir {mutable_index_dir}" in message
    if older:
        assert "older version" in message
    else:
        assert "newer version" in message and "upgrade the assistant" in message


def test_the_cli_refuses_an_older_index_in_one_line_and_rebuild_fixes_it(
    mutable_index_dir: Path, sample_assistant: Assistant, tmp_path: Path
) -> None:
    _set_store_schema(mutable_index_dir, OLDEST_UNREADABLE)
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / SURVEY_NAME).write_text(SURVEY_TEXT, encoding="utf-8")
    runner = CliRunner()

    for args in (["ask", "How many lamp posts?"], ["index", "build", str(docs)], ["serve", "--no-build"]):
        refused = runner.invoke(cli_main, [*args, "--index-dir", str(mutable_index_dir)])
        assert refused.exit_code == 1, (args, refused.output)
        lines = refused.output.strip().splitlines()
        assert len(lines) == 1 and "older version" in lines[0] and "--rebuild" in lines[0], refused.output

    rebuilt = runner.invoke(
        cli_main, ["index", "build", str(docs), "--rebuild", "--index-dir", str(mutable_index_dir)]
    )
    assert rebuilt.exit_code == 0, rebuilt.output
    assert [d.doc_id for d in assistant_on(mutable_index_dir, sample_assistant).list_documents()] == [
        SURVEY_DOC
    ]
