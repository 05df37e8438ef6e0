"""Shared fixtures: an index of the sample corpus built once per session with the real model."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO_ROOT = Path(__file__).resolve().parent.parent
CORPUS_DIR = REPO_ROOT / "corpus"
EXAMPLE_QUESTION = "What legal basis is proposed for regional talks?"


def _cpu_model() -> str:
    """The CPU's model name (float results differ between CPU families, so logs must say which)."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or platform.machine()


def pytest_sessionstart(session: pytest.Session) -> None:
    """`pytest -q` (make test) hides report headers: write those lines anyway."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None and session.config.get_verbosity() < 0:
        for line in pytest_report_header():
            reporter.write_line(line)


def pytest_report_header() -> list[str]:
    """Name the CPU and the numeric libraries at the top of every test log."""
    from importlib.metadata import PackageNotFoundError, version

    found = []
    for package in ("numpy", "faiss-cpu", "onnxruntime", "torch", "sentence-transformers"):
        try:
            found.append(f"{package} {version(package)}")
        except PackageNotFoundError:
            found.append(f"{package} (not installed)")
    return [f"cpu: {_cpu_model()} ({os.cpu_count()} cores)", "numerics: " + ", ".join(found)]


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test reads the developer's .env or writes into the repo's index/."""
    for key in list(os.environ):
        if key.startswith("ASSISTANT_"):
            monkeypatch.delenv(key)
    # The shared sample index is read-only: no test records content gaps into it (or into the
    # copies made of it) unless it turns them on itself (tests/test_gaps.py).
    monkeypatch.setenv("ASSISTANT_GAPS_ENABLED", "false")
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="session")
def sample_index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A read-only index of corpus/ (copy it before mutating: use `mutable_index_dir`)."""
    from assistant.core import Assistant
    from assistant.settings import Settings

    index_dir = tmp_path_factory.mktemp("sample-index") / "index"
    assistant = Assistant.open_or_create(index_dir, settings=Settings(index_dir=index_dir))
    report = assistant.index_paths([CORPUS_DIR])
    assert report.documents == 2, report
    return index_dir


@pytest.fixture(scope="session")
def sample_assistant(sample_index_dir: Path):  # type: ignore[no-untyped-def]
    """One loaded Assistant over the sample index, shared by read-only tests."""
    from assistant.core import Assistant
    from assistant.settings import Settings

    return Assistant.load(sample_index_dir, settings=Settings(index_dir=sample_index_dir))


@pytest.fixture()
def mutable_index_dir(sample_index_dir: Path, tmp_path: Path) -> Iterator[Path]:
    """A private copy of the sample index that a test may change."""
    target = tmp_path / "index"
    shutil.copytree(sample_index_dir, target, symlinks=True)
    yield target
