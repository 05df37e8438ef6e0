"""Background indexing of uploaded files, one job at a time, with status a client can poll.

An upload is first written to a hidden staging folder (`uploads/.staging-<job_id>/`);
the job then moves each file to `uploads/<name>` and indexes it. A stable path per
name means uploading `notes.txt` again replaces that document instead of adding
`notes-2`, and `assistant index build index/uploads` can rebuild them later (hidden
staging folders are skipped by the indexer). When a file cannot be indexed, the
previous version of that name is put back so the folder keeps matching the index.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from assistant.errors import AssistantError
from assistant.models import IndexReport, SkippedFile

log = logging.getLogger(__name__)

JobState = Literal["queued", "running", "done", "failed"]
IndexFn = Callable[[list[Path]], IndexReport]

STAGING_PREFIX = ".staging-"


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
    status: JobStatus
    staging: Path
    names: list[str] = field(default_factory=list)


class JobManager:
    """Runs indexing jobs on one worker thread; `write_lock` serialises every index write."""

    def __init__(self, uploads_dir: Path, index_fn: IndexFn, max_finished: int = 500) -> None:
        self.uploads_dir = uploads_dir
        self.write_lock = threading.Lock()
        self._index_fn = index_fn
        self._max_finished = max_finished
        self._jobs: OrderedDict[str, _Job] = OrderedDict()
        self._reserved: dict[str, Path] = {}
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="index-job")
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

    def submit(self, job_id: str, names: Sequence[str]) -> JobStatus:
        """Queue the staged files of a reserved job for indexing."""
        with self._lock:
            staging = self._reserved.pop(job_id)
            job = _Job(JobStatus(job_id=job_id, status="queued"), staging, list(names))
            self._jobs[job_id] = job
            self._forget_old()
        self._executor.submit(self._run, job)
        return job.status.model_copy()

    def get(self, job_id: str) -> JobStatus | None:
        with self._lock:
            job = self._jobs.get(job_id)
            return None if job is None else job.status.model_copy(deep=True)

    def shutdown(self) -> None:
        """Finish the running job; queued ones are dropped with their staged files."""
        self._executor.shutdown(wait=True, cancel_futures=True)
        self._remove_stale_staging()

    def _set(self, job: _Job, **changes: object) -> None:
        with self._lock:
            job.status = job.status.model_copy(update=changes)

    def _run(self, job: _Job) -> None:
        with self.write_lock:
            self._set(job, status="running")
            placed: dict[str, _Placed] = {}
            try:
                for name in job.names:
                    placed[name] = self._place(job.staging / name, job.status.job_id)
                report = self._index_fn([p.target for p in placed.values()])
            except Exception as exc:
                for item in placed.values():
                    _restore(item)
                if isinstance(exc, AssistantError):
                    detail = str(exc)
                else:
                    log.error("indexing job %s failed", job.status.job_id, exc_info=exc)
                    detail = "Indexing failed unexpectedly; the server log has details"
                self._set(job, status="failed", detail=detail)
            else:
                report = self._name_skipped_by_upload(report, placed)
                for name, item in placed.items():
                    if any(s.path == name for s in report.skipped):
                        _restore(item)
                    elif item.backup is not None:
                        item.backup.unlink(missing_ok=True)
                summary = None
                if report.skipped:
                    summary = f"{len(report.skipped)} of {len(job.names)} files could not be indexed"
                log.info(
                    "indexing job %s done: %d added, %d replaced, %d skipped",
                    job.status.job_id,
                    len(report.added),
                    len(report.replaced),
                    len(report.skipped),
                )
                self._set(job, status="done", report=report, detail=summary)
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
        # The client knows its file names, not the server's paths.
        names = {str(item.target): name for name, item in placed.items()}
        skipped = [
            SkippedFile(path=names.get(s.path, Path(s.path).name), reason=s.reason) for s in report.skipped
        ]
        return report.model_copy(update={"skipped": skipped})

    def _forget_old(self) -> None:
        finished = [k for k, j in self._jobs.items() if j.status.status in ("done", "failed")]
        for job_id in finished[: max(0, len(finished) - self._max_finished)]:
            del self._jobs[job_id]

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


def _restore(item: _Placed) -> None:
    """Put back the previous file of that name (or remove the new one if there was none)."""
    if item.backup is not None:
        os.replace(item.backup, item.target)
    else:
        item.target.unlink(missing_ok=True)
