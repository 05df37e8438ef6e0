"""Fuzz the HTTP API from its own OpenAPI schema (schemathesis) against the real app on loopback.

Every generated request (valid and invalid bodies, paths and headers) must get a response that
is not a 5xx and that conforms to the schema: status code documented, body matching its model,
content type declared. The CI run is bounded (FUZZ_EXAMPLES per operation); `-m slow` runs more.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from assistant.core import Assistant
from tests.helpers import app_on, running_server

FUZZ_EXAMPLES = 30
SLOW_FUZZ_EXAMPLES = 300
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def base_url(sample_index_dir: Path, sample_assistant: Assistant, tmp_path_factory: Any) -> Iterator[str]:
    # A private copy: the fuzzer may upload and delete documents.
    import shutil

    index_dir = tmp_path_factory.mktemp("fuzz") / "index"
    shutil.copytree(sample_index_dir, index_dir)
    with running_server(app_on(index_dir, sample_assistant, max_upload_bytes=200_000)) as url:
        yield url


def fuzz(base_url: str, examples: int) -> dict[str, int]:
    """Run `examples` generated cases against every operation; return the count per operation.

    Driven with hypothesis directly (schemathesis' pytest plugin does not load under this pytest).
    """
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    counts: dict[str, int] = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _fuzz_operation(operation, mode, base_url, examples, counts)
    return counts


def _fuzz_operation(
    operation: Any, mode: GenerationMode, base_url: str, examples: int, counts: dict[str, int]
) -> None:
    label = f"{operation.label} ({mode.value})"
    counts[label] = 0

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate],
    )
    def run(case: Any) -> None:
        counts[label] += 1
        case.call_and_validate(base_url=base_url, checks=CHECKS, timeout=120)

    try:
        run()
    except Unsatisfiable:
        # No invalid request exists for an operation without inputs (GET /health).
        assert mode is GenerationMode.NEGATIVE and counts[label] == 0, label
        del counts[label]


def _report(counts: dict[str, int]) -> None:
    print(f"\nschemathesis: {sum(counts.values())} cases over {len(counts)} operations")
    for label, count in sorted(counts.items()):
        print(f"  {count:5d}  {label}")
    assert len(counts) >= 15, counts  # every route of the API was found in the schema
    assert sum(counts.values()) > 200, counts


def test_api_conforms_to_its_schema(base_url: str) -> None:
    _report(fuzz(base_url, FUZZ_EXAMPLES))


@pytest.mark.slow
def test_api_conforms_to_its_schema_long(base_url: str) -> None:
    _report(fuzz(base_url, SLOW_FUZZ_EXAMPLES))
