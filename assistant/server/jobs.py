"""Background indexing of uploaded files, one job at a time, with status a client can poll.

An upload is first written to a hidden staging folder (`uploads/.staging-<job_id>/`);
the job then moves each file to `uploads/<name>` and indexes it. A stable path per
name means uploading `notes.txt` again replaces that document instead of adding
`notes-2`, and `assistant index build index/uploads` can rebuild them later (hidden
staging folders are skipped by the indexer). When a file cannot be indexed, the
previous version of that name is put back so the folder keeps matching the index.

Job status lives in `<index_dir>/jobs.sqlite` (a StateDB), so `GET /jobs/{job_id}` still
answers after a restart; a job the restart cut short is reported as failed, saying so.
One server owns an index's uploads folder (a new one clears what an old one left staged).
"""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
import threading
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from assistant.errors import AssistantError, user_message
from assistant.models import IndexReport, SkippedFile
from assistant.state.migrations import Migration, StateDB

log = logging.getLogger(__name__)

JobState = Literal["queued", "running", "done", "failed"]
#: indexes the placed files into the given document sets
IndexFn = Callable[[list[Path], list[str]], IndexReport]

STAGING_PREFIX = ".staging-"
JOBS_FILENAME = "jobs.sqlite"
INTERRUPTED = "Interrupted by a restart before indexing finished; upload the files again"
UNEXPECTED = "Indexing failed unexpectedly; the server log has details"


class JobStatus(BaseModel):
    """What `GET /jobs/{job_id}` returns."""

    job_id: str
    status: JobState
    report: IndexReport | None = None
    detail: str | None = None


@dataclass(slots=True)
class _Placed:
    target: Path
    backup: Path | None


@dataclass(slots=True)
class _Job:
    job_id: str
    staging: Path
    names: list[str] = field(default_factory=list)
    sets: list[str] = field(default_factory=list)


def _migration_1(conn: sqlite3.Connection) -> None:
    conn.execute(
        """
        CREATE TABLE jobs (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            job_id TEXT NOT NULL UNIQUE,
            status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed')),
            detail TEXT,
            report TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )
        """
    )
    conn.execute("CREATE INDEX jobs_status ON jobs (status, seq)")


# Append only: migration N upgrades a database whose PRAGMA user_version is N-1.
MIGRATIONS: tuple[Migration, ...] = (_migration_1,)


class JobManager:
    """Runs indexing jobs on one worker thread; `write_lock` serialises every index write.

    `state_path` is the SQLite file of job statuses; the newest `max_finished` finished jobs
    are kept there.
    """

    def __init__(
        self,
        uploads_dir: Path,
        index_fn: IndexFn,
        state_path: Path,
        max_finished: int = 500,
        recover: bool = True,
    ) -> None:
        """`recover` fails the jobs an earlier process left running and removes their staging;
        of several serving processes only the one that starts them does it (never a sibling
        whose jobs are live)."""
        self.uploads_dir = uploads_dir
        self.write_lock = threading.Lock()
        self._index_fn = index_fn
        self._max_finished = max_finished
        self._db = StateDB(state_path, MIGRATIONS, "upload jobs")
        self._reserved: dict[str, Path] = {}
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="index-job")
        self._recover = recover
        if recover:
            self._fail_interrupted()
            self._remove_stale_staging()

    def reserve(self) -> tuple[str, Path]:
        """A new job id and an empty staging folder to write its files into."""
        job_id = uuid.uuid4().hex
        staging = self.uploads_dir / f"{STAGING_PREFIX}{job_id}"
        staging.mkdir(parents=True)
        with self._lock:
            self._reserved[job_id] = staging
        return job_id, staging

    def discard(self, job_id: str) -> None:
        """Drop a reserved job whose upload was refused, with its staged files."""
        with self._lock:
            staging = self._reserved.pop(job_id, None)
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)

    def submit(self, job_id: str, names: Sequence[str], sets: Sequence[str]) -> JobStatus:
        """Queue the staged files of a reserved job for indexing into `sets`."""
        with self._lock:
            staging = self._reserved.pop(job_id)
        now = _now()
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO jobs (job_id, status, created_at, updated_at) VALUES (?, 'queued', ?, ?)",
                (job_id, now, now),
            )
        self._executor.submit(self._run, _Job(job_id, staging, list(names), list(sets)))
        return JobStatus(job_id=job_id, status="queued")

    def get(self, job_id: str) -> JobStatus | None:
        """The job's status, also for jobs of an earlier run of the server; None if unknown."""
        with self._db.transaction(write=False) as conn:
            row = conn.execute(
                "SELECT job_id, status, detail, report FROM jobs WHERE job_id = ?", (job_id,)
            ).fetchone()
        if row is None:
            return None
        report = IndexReport.model_validate_json(row["report"]) if row["report"] else None
        return JobStatus(job_id=row["job_id"], status=row["status"], detail=row["detail"], report=report)

    def shutdown(self) -> None:
        """Finish the running job; queued ones are dropped with their staged files (and failed)."""
        self._executor.shutdown(wait=True, cancel_futures=True)
        if self._recover:  # else the next start of the service fails them, siblings may be live
            self._fail_interrupted()
            self._remove_stale_staging()

    def _set(
        self, job: _Job, status: JobState, detail: str | None = None, report: IndexReport | None = None
    ) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                "UPDATE jobs SET status = ?, detail = ?, report = ?, updated_at = ? WHERE job_id = ?",
                (status, detail, report.model_dump_json() if report else None, _now(), job.job_id),
            )
            if status in ("done", "failed"):
                self._forget_old(conn)

    def _run(self, job: _Job) -> None:
        with self.write_lock:
            self._set(job, "running")
            placed: dict[str, _Placed] = {}
            try:
                for name in job.names:
                    placed[name] = self._place(job.staging / name, job.job_id)
                report = self._index_fn([p.target for p in placed.values()], job.sets)
            except Exception as exc:
                for item in placed.values():
                    _restore(item)
                if isinstance(exc, AssistantError):
                    detail = user_message(exc)
                else:
                    log.error("indexing job %s failed", job.job_id, exc_info=exc)
                    detail = UNEXPECTED
                self._set(job, "failed", detail)
            else:
                report = self._name_skipped_by_upload(report, placed)
                for name, item in placed.items():
                    if any(s.path == name for s in report.skipped):
                        _restore(item)
                    elif item.backup is not None:
                        item.backup.unlink(missing_ok=True)
                summary = None
                files = sum(s.path in placed for s in report.skipped)
                if files:
                    summary = f"{files} of {len(job.names)} files could not be indexed"
                if len(report.skipped) > files:  # attachments of files that were indexed
                    count = len(report.skipped) - files
                    parts = f"{count} attachment{'s' if count != 1 else ''} could not be indexed"
                    summary = f"{summary}; {parts}" if summary else parts
                log.info(
                    "indexing job %s done: %d added, %d replaced, %d skipped",
                    job.job_id,
                    len(report.added),
                    len(report.replaced),
                    len(report.skipped),
                )
                self._set(job, "done", summary, report)
            finally:
                shutil.rmtree(job.staging, ignore_errors=True)

    def _place(self, staged: Path, job_id: str) -> _Placed:
        target = self.uploads_dir / staged.name
        backup = None
        if target.exists():
            backup = self.uploads_dir / f".{staged.name}.{job_id}.previous"
            os.replace(target, backup)
        os.replace(staged, target)
        return _Placed(target, backup)

    @staticmethod
    def _name_skipped_by_upload(report: IndexReport, placed: dict[str, _Placed]) -> IndexReport:
        # The client knows its file names, not the server's paths; a part of a file (an
        # e-mail's attachment) is named by its file's name and the rest of its location.
        names = {str(item.target): name for name, item in placed.items()}

        def client_name(path: str) -> str:
            for target, name in names.items():
                if path == target or path.startswith(target + "#"):
                    return name + path[len(target) :]
            return Path(path).name

        skipped = [SkippedFile(path=client_name(s.path), reason=s.reason) for s in report.skipped]
        return report.model_copy(update={"skipped": skipped})

    def _forget_old(self, conn: sqlite3.Connection) -> None:
        conn.execute(
            "DELETE FROM jobs WHERE status IN ('done', 'failed') AND seq NOT IN ("
            " SELECT seq FROM jobs WHERE status IN ('done', 'failed') ORDER BY seq DESC LIMIT ?)",
            (self._max_finished,),
        )

    def _fail_interrupted(self) -> None:
        """Jobs still queued or running when the server starts (or stops) will never finish."""
        with self._db.transaction() as conn:
            cursor = conn.execute(
                "UPDATE jobs SET status = 'failed', detail = ?, updated_at = ?"
                " WHERE status IN ('queued', 'running')",
                (INTERRUPTED, _now()),
            )
        if cursor.rowcount:
            log.warning("%d upload job(s) will not finish: interrupted by a restart", cursor.rowcount)

    def _remove_stale_staging(self) -> None:
        # Called before the first and after the last job: nothing staged is still wanted.
        if not self.uploads_dir.is_dir():
            return
        for path in self.uploads_dir.glob(f"{STAGING_PREFIX}*"):
            shutil.rmtree(path, ignore_errors=True)
        for backup in self.uploads_dir.glob(".*.previous"):
            original = self.uploads_dir / backup.name[1:].rsplit(".", 2)[0]
            if original.exists():
                backup.unlink(missing_ok=True)
            else:
                os.replace(backup, original)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _restore(item: _Placed) -> None:
    """Put back the previous file of that name (or remove the new one if there was none)."""
    if item.backup is not None:
        os.replace(item.backup, item.target)
    else:
        item.target.unlink(missing_ok=True)
