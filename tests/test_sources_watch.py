"""Watched folders: an edit, an atomic save, a delete reach answers; a file caught mid-write waits."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from assistant.core import Assistant
from assistant.errors import ConfigError
from assistant.models import IndexReport, SkippedFile
from assistant.sources import FolderSource, ItemChangedError
from assistant.sources.watch import needs_retry, watch_folders
from tests.helpers import assistant_on

WAIT_SECONDS = 20.0
Watched = tuple[Path, Assistant, list[IndexReport]]


def _eventually(check: Callable[[], bool], what: str) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < WAIT_SECONDS:
        if check():
            return time.perf_counter() - started
        time.sleep(0.05)
    raise AssertionError(f"not within {WAIT_SECONDS} s: {what}")


@pytest.fixture()
def watched(
    tmp_path: Path, sample_assistant: Assistant
) -> Iterator[tuple[Path, Assistant, list[IndexReport]]]:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "alpha.txt").write_text("Alpha\n\nThe alpha reactor produces 40 megawatts of power.\n")
    (folder / "beta.txt").write_text("Beta\n\nThe beta bridge spans the river near the old mill.\n")
    assistant = assistant_on(tmp_path / "index", sample_assistant)
    reports: list[IndexReport] = []
    stop = threading.Event()
    thread = threading.Thread(
        target=watch_folders,
        args=([folder], lambda: assistant.index_paths([folder], prune=True), stop, reports.append),
        daemon=True,
    )
    thread.start()
    _eventually(lambda: bool(reports), "the first sync")
    yield folder, assistant, reports
    stop.set()
    thread.join(timeout=10)
    assert not thread.is_alive()


def test_atomic_save_and_delete_reach_answers(watched: Watched) -> None:
    folder, assistant, reports = watched
    assert sorted(reports[0].added) == ["alpha", "beta"]
    temp = folder / ".alpha.txt.swp"  # an editor's atomic save: write aside, rename over
    temp.write_text("Alpha\n\nThe alpha reactor now produces 75 megawatts of power.\n")
    os.replace(temp, folder / "alpha.txt")
    question = "How many megawatts does the alpha reactor produce?"
    _eventually(lambda: "75" in assistant.ask(question).answer, "the edit answers")
    assert "40" not in assistant.ask(question).answer
    (folder / "beta.txt").unlink()
    _eventually(lambda: [d.doc_id for d in assistant.list_documents()] == ["alpha"], "beta removed")
    assert all(p.doc_id == "alpha" for p in assistant.search("beta bridge river mill", top_k=5))


def test_a_file_changed_while_read_is_skipped_and_marked_for_retry(tmp_path: Path) -> None:
    path = tmp_path / "note.txt"
    path.write_text("The first draft of the note.\n")
    source = FolderSource.of([tmp_path])
    [item] = source.list_items(max_bytes=1000).items
    path.write_text("The second draft of the note, longer.\n")  # saved between list and fetch
    with pytest.raises(ItemChangedError, match="retried at the next sync"):
        source.fetch(item, max_bytes=1000)
    path.unlink()
    with pytest.raises(ItemChangedError, match="vanished"):
        source.fetch(item, max_bytes=1000)
    reason = str(ItemChangedError("file vanished while it was read"))
    assert needs_retry(IndexReport(skipped=[SkippedFile(path=str(path), reason=reason)]))
    assert not needs_retry(IndexReport(skipped=[SkippedFile(path=str(path), reason="empty file")]))


def test_watching_a_missing_folder_says_so(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file or folder"):
        watch_folders([tmp_path / "nowhere"], IndexReport)
