"""One error policy: domain errors from the core, one-line messages at the CLI and Slack, statuses in HTTP.

Real Settings validation, the real CLI (in-process and as a child process), the real app and a
real index whose writer hits a real "disk full" from SQLite and from the file system.
"""

from __future__ import annotations

import dataclasses
import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from pydantic import ValidationError
from pydantic_settings import SettingsError

from assistant.cli import main as cli_main
from assistant.core import Assistant
from assistant.errors import (
    ConfigError,
    FileTooLargeError,
    IndexWriteError,
    LoadError,
    UnsupportedFileTypeError,
    config_error,
    user_message,
)
from assistant.ingest.loaders import load_file
from assistant.server.errors import status_for
from assistant.settings import Settings
from assistant.store.snapshot.store import IndexStore
from assistant.store.snapshot.vector_index import VectorIndex
from tests.helpers import app_on, subprocess_env

# --- a bad environment value --------------------------------------------------------------


def _config_error_for(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> ConfigError:
    monkeypatch.setenv(name, value)
    with pytest.raises((ValidationError, SettingsError)) as caught:
        Settings()
    assert isinstance(caught.value, ValueError)
    return config_error(caught.value)


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("ASSISTANT_TOP_K", "abc", "ASSISTANT_TOP_K=abc: must be an integer"),
        ("ASSISTANT_TOP_K", "1000", "ASSISTANT_TOP_K=1000: must be less than or equal to 100"),
        ("ASSISTANT_LLM_TIMEOUT", "soon", "ASSISTANT_LLM_TIMEOUT=soon: must be a number"),
        (
            "ASSISTANT_REQUIRE_KEY_FOR_READ",
            "maybe",
            "ASSISTANT_REQUIRE_KEY_FOR_READ=maybe: must be true or false",
        ),
        (
            "ASSISTANT_QUERY_EMBEDDER",
            "gpu",
            "ASSISTANT_QUERY_EMBEDDER=gpu: must be 'auto', 'onnx' or 'torch'",
        ),
        (
            "ASSISTANT_CORS_ORIGINS",
            "https://a.example",
            'ASSISTANT_CORS_ORIGINS: must be a JSON list, for example ["a", "b"]',
        ),
    ],
)
def test_a_bad_setting_becomes_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, expected: str
) -> None:
    assert user_message(_config_error_for(monkeypatch, name, value)) == expected


def test_a_bad_secret_is_named_but_never_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    message = user_message(_config_error_for(monkeypatch, "ASSISTANT_API_KEY", "changeme"))
    assert message.startswith("ASSISTANT_API_KEY: ") and "placeholder" in message
    assert "changeme" not in message


COMMANDS = [
    ["ask", "What legal basis is proposed for regional talks?"],
    ["index", "build"],
    ["eval", "gold.jsonl"],
    ["serve", "--no-build"],
    ["slack"],
]


@pytest.mark.parametrize("args", COMMANDS, ids=lambda args: args[0])
def test_a_bad_environment_value_is_one_line_in_every_command(
    args: list[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    gold = {
        "id": "q1",
        "question": "Why?",
        "answers": ["because"],
        "evidence_docs": ["d"],
        "answerable": True,
    }
    (tmp_path / "gold.jsonl").write_text(json.dumps(gold) + "\n", encoding="utf-8")
    monkeypatch.setenv("ASSISTANT_TOP_K", "abc")

    result = CliRunner().invoke(cli_main, args)

    assert result.exit_code in (1, 2), result.output
    assert isinstance(result.exception, SystemExit), result.exception  # handled, not a crash
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "ASSISTANT_TOP_K" in lines[0], result.output
    assert "Traceback" not in result.output


def test_a_bad_environment_value_in_a_real_process_prints_no_traceback(tmp_path: Path) -> None:
    env = {**subprocess_env(), "ASSISTANT_TOP_K": "abc"}
    done = subprocess.run(
        [sys.executable, "-c", "from assistant.cli import main; main()", "ask", "anything?"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.strip() == "Error: ASSISTANT_TOP_K=abc: must be an integer"


def test_user_message_is_one_line() -> None:
    assert user_message(LoadError("cannot read file:\n  permission denied ")) == (
        "cannot read file: permission denied"
    )


# --- ingest errors and their HTTP statuses ------------------------------------------------


def test_loaders_raise_typed_errors_that_map_to_their_statuses(tmp_path: Path) -> None:
    unsupported = tmp_path / "slides.key"
    unsupported.write_bytes(b"PK")
    large = tmp_path / "big.txt"
    large.write_text("word " * 100, encoding="utf-8")
    unreadable = tmp_path / "broken.pdf"
    unreadable.write_bytes(b"%PDF-1.4 not really")

    with pytest.raises(UnsupportedFileTypeError) as wrong_type:
        load_file(unsupported)
    with pytest.raises(FileTooLargeError) as too_large:
        load_file(large, max_bytes=100)
    with pytest.raises(LoadError) as broken:
        load_file(unreadable)

    assert status_for(wrong_type.value) == 415
    assert status_for(too_large.value) == 413
    assert type(broken.value) is LoadError and status_for(broken.value) == 422


# --- every limit from Settings ------------------------------------------------------------


def test_the_feedback_question_limit_is_the_asking_limit(
    mutable_index_dir: Path, sample_assistant: Assistant
) -> None:
    limit = sample_assistant.settings.max_question_chars
    body = {"answer_id": "a1", "rating": "up"}
    with TestClient(app_on(mutable_index_dir, sample_assistant)) as client:
        accepted = client.post("/feedback", json={**body, "question": "q" * limit})
        refused = client.post("/feedback", json={**body, "question": "q" * (limit + 1)})
        schema = client.get("/openapi.json").json()["components"]["schemas"]["FeedbackIn"]
    assert accepted.status_code == 201
    assert refused.status_code == 422 and "ASSISTANT_MAX_QUESTION_CHARS" in refused.json()["detail"]
    assert schema["properties"]["question"]["maxLength"] == limit

    with TestClient(app_on(mutable_index_dir, sample_assistant, max_question_chars=50)) as client:
        assert client.post("/feedback", json={**body, "question": "q" * 51}).status_code == 422


# --- the index writer classifies failures by type and code --------------------------------


def _writer_manifest(index_dir: Path):  # type: ignore[no-untyped-def]
    snapshot = IndexStore(index_dir).open()
    try:
        return dataclasses.replace(snapshot.manifest), snapshot.documents()[0]["doc_id"]
    finally:
        snapshot.close()


def test_sqlite_running_out_of_space_is_a_disk_full_write_error(mutable_index_dir: Path) -> None:
    store = IndexStore(mutable_index_dir)
    before = store.current_name()
    manifest, _ = _writer_manifest(mutable_index_dir)

    with pytest.raises(IndexWriteError, match="the disk is full") as caught, store.writer(manifest) as writer:
        (pages,) = writer.db.execute("PRAGMA page_count").fetchone()
        writer.db.execute(f"PRAGMA max_page_count = {pages}")  # a database that cannot grow
        writer.db.execute("INSERT INTO term_df (term, df) VALUES (?, 1)", ("x" * 200_000,))

    assert "index is unchanged" in str(caught.value)
    assert store.current_name() == before


def test_faiss_writing_to_a_full_device_is_a_disk_full_write_error(mutable_index_dir: Path) -> None:
    if not Path("/dev/full").exists():
        pytest.skip("needs /dev/full")
    store = IndexStore(mutable_index_dir)
    before = store.current_name()
    manifest, doc_id = _writer_manifest(mutable_index_dir)

    with pytest.raises(IndexWriteError, match="the disk is full"), store.writer(manifest) as writer:
        writer.remove_document(doc_id)
        # Every write to /dev/full fails with ENOSPC: the vector file lands on a "full disk".
        os.symlink("/dev/full", writer.tmp_path / "vectors.faiss")

    assert store.current_name() == before
    assert not list((mutable_index_dir / "snapshots").glob("*.tmp"))


def test_faiss_reports_the_file_systems_own_error(tmp_path: Path) -> None:
    if not Path("/dev/full").exists():
        pytest.skip("needs /dev/full")
    os.symlink("/dev/full", tmp_path / "vectors.faiss")
    with pytest.raises(OSError) as caught:
        VectorIndex.create("flat", 8).write(tmp_path)
    assert caught.value.errno == errno.ENOSPC


def test_an_error_that_only_mentions_writing_is_not_taken_for_a_write_failure(
    mutable_index_dir: Path,
) -> None:
    store = IndexStore(mutable_index_dir)
    manifest, _ = _writer_manifest(mutable_index_dir)
    with pytest.raises(RuntimeError, match="write"), store.writer(manifest):
        raise RuntimeError("could not write the summary")  # a bug, not a full disk
