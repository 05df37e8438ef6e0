"""The indexed documents: list, read (with the text citations point into), upload, delete."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, BinaryIO, Literal

from fastapi import APIRouter, File, Form, HTTPException, UploadFile
from pydantic import BaseModel

from assistant.errors import ConfigError
from assistant.ingest.loaders import SUPPORTED_EXTENSIONS, check_supported
from assistant.models import DocumentInfo, DocumentRecord
from assistant.server.deps import (
    AssistantDep,
    CallerDep,
    JobsDep,
    RateLimited,
    ReadAccess,
    SettingsDep,
    WriteAccess,
)
from assistant.server.errors import RETRY_AFTER_SECONDS, error_responses
from assistant.server.jobs import JobStatus
from assistant.state.keys import parse_sets
from assistant.store.protocol import DEFAULT_SET

log = logging.getLogger(__name__)

router = APIRouter(tags=["documents"])

MAX_NAME_BYTES = 255
COPY_BLOCK = 1 << 20
DELETE_WAIT_SECONDS = 30.0


class DocumentList(BaseModel):
    documents: list[DocumentInfo]


class UploadAccepted(BaseModel):
    job_id: str
    status: Literal["queued"] = "queued"


class Deleted(BaseModel):
    deleted: str


@router.get(
    "/documents",
    response_model=DocumentList,
    responses=error_responses(401, 503),
    dependencies=[ReadAccess],
)
def list_documents(assistant: AssistantDep, caller: CallerDep) -> DocumentList:
    """List every indexed document the caller may see (without its text)."""
    assistant.refresh()
    return DocumentList(documents=assistant.list_documents(caller.sets))


@router.get(
    "/documents/{doc_id}",
    response_model=DocumentRecord,
    responses=error_responses(401, 404, 503),
    dependencies=[ReadAccess],
)
def get_document(doc_id: str, assistant: AssistantDep, caller: CallerDep) -> DocumentRecord:
    """One document with its stored text; citation offsets index into `text`. A document outside
    the caller's sets does not exist for it (404)."""
    assistant.refresh()
    return assistant.get_document(doc_id, caller.sets)


@router.post(
    "/documents",
    status_code=202,
    response_model=UploadAccepted,
    responses=error_responses(401, 413, 415, 422, 429),
    dependencies=[WriteAccess, RateLimited],
)
def upload_documents(
    files: Annotated[
        list[UploadFile],
        File(
            min_length=1,
            description="One or more files: " + ", ".join(sorted(SUPPORTED_EXTENSIONS)),
        ),
    ],
    settings: SettingsDep,
    jobs: JobsDep,
    sets: Annotated[
        str,
        Form(description="The document sets to put the files in, comma-separated (e.g. 'hr,handbook')."),
    ] = DEFAULT_SET,
) -> UploadAccepted:
    """Upload files to index in the background (only an admin key may); poll `GET /jobs/{job_id}`
    for the result."""
    try:
        set_names = parse_sets(sets)
    except ConfigError as exc:
        raise HTTPException(422, str(exc)) from exc
    if not set_names:
        raise HTTPException(422, "Name at least one document set (the form field 'sets', e.g. 'default')")
    names = [safe_filename(upload.filename) for upload in files]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise HTTPException(422, f"The same file name was sent twice: {', '.join(duplicates)}")
    for name in names:
        check_supported(Path(name))  # UnsupportedFileTypeError: a 415, as server/errors.py maps it
    job_id, staging = jobs.reserve()
    try:
        budget = settings.max_upload_bytes
        for upload, name in zip(files, names, strict=True):
            budget -= copy_limited(upload.file, staging / name, budget)
            if budget < 0:
                raise HTTPException(
                    413,
                    f"The upload is larger than the limit of {settings.max_upload_bytes:,} bytes"
                    " (ASSISTANT_MAX_UPLOAD_BYTES)",
                )
    except BaseException:
        jobs.discard(job_id)
        raise
    status = jobs.submit(job_id, names, set_names)
    log.info("upload job %s queued: %d files into %s", job_id, len(names), ",".join(set_names))
    return UploadAccepted(job_id=status.job_id)


@router.get(
    "/jobs/{job_id}",
    response_model=JobStatus,
    responses=error_responses(401, 404),
    dependencies=[WriteAccess],
)
def get_job(job_id: str, jobs: JobsDep) -> JobStatus:
    """The state of an upload's indexing job, with its report once finished."""
    status = jobs.get(job_id)
    if status is None:
        raise HTTPException(404, f"No upload job with id {job_id!r}")
    return status


@router.delete(
    "/documents/{doc_id}",
    response_model=Deleted,
    responses=error_responses(401, 404, 503),
    dependencies=[WriteAccess],
)
def delete_document(doc_id: str, assistant: AssistantDep, jobs: JobsDep) -> Deleted:
    """Remove a document from dense and keyword search (and its uploaded file, if any)."""
    if not jobs.write_lock.acquire(timeout=DELETE_WAIT_SECONDS):
        raise HTTPException(
            503,
            "The index is busy indexing an upload; try again shortly",
            headers={"Retry-After": RETRY_AFTER_SECONDS},
        )
    try:
        assistant.refresh()
        source = assistant.get_document(doc_id).source
        assistant.remove_document(doc_id)
        _remove_uploaded_file(Path(source), jobs.uploads_dir)
    finally:
        jobs.write_lock.release()
    log.info("document %s deleted", doc_id)
    return Deleted(deleted=doc_id)


def safe_filename(raw: str | None) -> str:
    """The client's file name if it is a plain, harmless base name; 422 otherwise."""
    name = (raw or "").strip()
    if not name:
        raise HTTPException(422, "Every uploaded file needs a file name")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
        raise HTTPException(422, "The file name contains control characters")
    if "/" in name or "\\" in name:
        raise HTTPException(422, f"Send a plain file name, not a path: {name!r}")
    if name.startswith("."):
        raise HTTPException(422, f"The file name must not start with a dot: {name!r}")
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        raise HTTPException(422, f"The file name is longer than {MAX_NAME_BYTES} bytes")
    return name


def copy_limited(source: BinaryIO, target: Path, budget: int) -> int:
    """Copy up to `budget` bytes and return the count; one byte more means it did not fit."""
    copied = 0
    with open(target, "wb") as out:
        while block := source.read(COPY_BLOCK):
            copied += len(block)
            if copied > budget:
                break
            out.write(block)
    return copied


def _remove_uploaded_file(source: Path, uploads_dir: Path) -> None:
    # Only files the service itself stored; a document indexed from corpus/ keeps its file.
    try:
        path = source.resolve()
        inside = path.is_relative_to(uploads_dir.resolve())
    except OSError:
        return
    if inside and path.is_file():
        path.unlink()
        log.info("removed uploaded file %s", path.name)
