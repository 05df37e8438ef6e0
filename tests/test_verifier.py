"""The verifier's switch: off by default, and a clear error when switched on without its model."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.compose.verifier import load_verifier
from assistant.errors import ModelLoadError
from assistant.settings import Settings


def test_verifier_is_off_by_default() -> None:
    assert Settings().verifier == "off"


def test_switching_it_on_without_the_model_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="ASSISTANT_VERIFIER=off"):
        load_verifier(tmp_path)
