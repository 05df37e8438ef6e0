"""FeedbackStore: real SQLite files, migrations, concurrency across threads and instances."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from assistant.errors import StateVersionError
from assistant.state.feedback import FEEDBACK_FILENAME, MIGRATIONS, FeedbackStore


def test_add_then_list_returns_newest_first(tmp_path: Path) -> None:
    store = FeedbackStore.for_index(tmp_path / "index")
    first = store.add("a1", "up", comment="clear answer", question="q one")
    second = store.add("a2", "down", source="slack")

    rows = store.list()

    assert second > first
    assert [row["id"] for row in rows] == [second, first]
    assert rows[0]["answer_id"] == "a2"
    assert rows[0]["rating"] == "down"
    assert rows[0]["source"] == "slack"
    assert rows[0]["comment"] == ""
    assert rows[1]["comment"] == "clear answer"
    assert rows[1]["question"] == "q one"
    assert rows[1]["source"] == "web"
    assert rows[1]["created_at"].endswith("+00:00")
    assert (tmp_path / "index" / FEEDBACK_FILENAME).is_file()


def test_list_respects_limit(tmp_path: Path) -> None:
    store = FeedbackStore(tmp_path / "fb.sqlite")
    for n in range(5):
        store.add(f"a{n}", "up")

    assert [row["answer_id"] for row in store.list(limit=2)] == ["a4", "a3"]
    with pytest.raises(ValueError, match="limit"):
        store.list(limit=0)


def test_records_survive_a_new_instance(tmp_path: Path) -> None:
    FeedbackStore(tmp_path / "fb.sqlite").add("persisted", "down", comment="wrong doc")

    rows = FeedbackStore(tmp_path / "fb.sqlite").list()

    assert len(rows) == 1
    assert rows[0]["answer_id"] == "persisted"
    assert rows[0]["comment"] == "wrong doc"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"answer_id": "", "rating": "up"}, "answer_id"),
        ({"answer_id": "   ", "rating": "up"}, "answer_id"),
        ({"answer_id": "x" * 201, "rating": "up"}, "answer_id"),
        ({"answer_id": "a", "rating": "meh"}, "rating"),
        ({"answer_id": "a", "rating": "up", "comment": "c" * 5_001}, "comment"),
        ({"answer_id": "a", "rating": "up", "source": ""}, "source"),
    ],
)
def test_invalid_input_is_refused_and_nothing_is_stored(
    tmp_path: Path, kwargs: dict[str, str], message: str
) -> None:
    store = FeedbackStore(tmp_path / "fb.sqlite")
    with pytest.raises(ValueError, match=message):
        store.add(**kwargs)  # type: ignore[arg-type]
    assert store.list() == []


def test_schema_version_is_recorded(tmp_path: Path) -> None:
    path = tmp_path / "fb.sqlite"
    FeedbackStore(path).list()

    with sqlite3.connect(path) as conn:
        version = conn.execute("PRAGMA user_version").fetchone()[0]

    assert version == len(MIGRATIONS) >= 1


def test_database_from_a_newer_program_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "fb.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")

    with pytest.raises(StateVersionError, match="newer"):
        FeedbackStore(path).list()


def test_concurrent_writers_from_threads_and_instances_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "fb.sqlite"
    shared = FeedbackStore(path)
    errors: list[BaseException] = []

    def write(store: FeedbackStore, prefix: str) -> None:
        try:
            for n in range(25):
                store.add(f"{prefix}-{n}", "up" if n % 2 else "down")
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(shared, f"shared{i}")) for i in range(4)]
    # Fresh instances on a fresh file race to run the migrations as well.
    threads += [threading.Thread(target=write, args=(FeedbackStore(path), f"own{i}")) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    rows = shared.list(limit=1_000)
    assert errors == []
    assert len(rows) == 8 * 25
    assert len({row["id"] for row in rows}) == 8 * 25
    assert {row["answer_id"] for row in rows} == {
        f"{prefix}{i}-{n}" for prefix in ("shared", "own") for i in range(4) for n in range(25)
    }
