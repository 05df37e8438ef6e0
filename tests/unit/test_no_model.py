"""The unit tests stay fast: nothing they import loads torch, the model or onnxruntime."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import REPO_ROOT
from tests.unit.conftest import UNIT_DIR

HEAVY = ("torch", "sentence_transformers", "transformers", "onnxruntime")


def test_importing_the_unit_tests_loads_no_model() -> None:
    modules = sorted(f"tests.unit.{p.stem}" for p in UNIT_DIR.glob("*.py") if p.stem != "__init__")
    script = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))))\n"
    )
    child = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120
    )
    assert child.returncode == 0, child.stderr
    assert json.loads(child.stdout.strip().splitlines()[-1]) == []
    assert "tests.unit.test_extractive_composer" in modules
