"""Unit tests: the logic around the model and the index, with deterministic fakes (no model)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.fakes import FakeDocument, FakeEmbedder, FakeSnapshot

UNIT_DIR = Path(__file__).resolve().parent

TALKS = FakeDocument(
    "regional-talks",
    "Regional Talks\n\n"
    "In 1987 the Security Council gave the secretary-general a mandate under Resolution 598. "
    "They can use this never-implemented mandate as the legal basis for regional talks. "
    "The weather in the capital was mild that spring.\n",
    "Regional Talks",
)
HARBOUR = FakeDocument(
    "harbour-survey",
    "Harbour Survey\n\n"
    "The Port of Valmora completed the survey in March 2024. "
    "The survey found that 412 lamp posts along the northern quay needed new fittings. "
    "Funding comes from a municipal bond.\n",
    "Harbour Survey",
)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Everything under tests/unit is a `unit` test (select with -m unit, skip with -m 'not unit')."""
    for item in items:
        if UNIT_DIR in item.path.parents:
            item.add_marker(pytest.mark.unit)


@pytest.fixture(scope="session")
def embedder() -> FakeEmbedder:
    return FakeEmbedder()


@pytest.fixture(scope="session")
def snapshot(embedder: FakeEmbedder) -> FakeSnapshot:
    """Two short documents, each a heading and three sentences."""
    return FakeSnapshot([TALKS, HARBOUR], embedder)
