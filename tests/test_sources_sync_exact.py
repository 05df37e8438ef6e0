"""Sync is exact: after any adds, edits, renames and deletes in a folder or on a website, the
index holds exactly the current items, and no retired passage can be found (hypothesis state
machine), on both store backends."""

from __future__ import annotations

import itertools
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from assistant.core import Assistant
from assistant.models import IndexReport
from assistant.sources.web import WebSource
from tests.helpers import assistant_on
from tests.site_server import Site, serve_site

NAMES = st.sampled_from(["alpha", "beta", "gamma", "delta", "epsilon"])
_WORDS = (f"zq{n}vex" for n in itertools.count())


def _fact(name: str, word: str) -> str:
    return f"Record {name}\n\nThe code word kept in the {name} record is {word}.\n"


class Medium(Protocol):
    """Where the items live: a folder or a website, changed by the machine's rules."""

    def write(self, name: str, text: str) -> None: ...
    def delete(self, name: str) -> None: ...
    def rename(self, name: str, new_name: str) -> None: ...
    def sync(self, assistant: Assistant) -> IndexReport: ...
    def name_of(self, source: str) -> str | None: ...


class FolderMedium:
    def __init__(self, root: Path, site: Site | None) -> None:
        self.folder = root / "docs"
        self.folder.mkdir()

    def write(self, name: str, text: str) -> None:
        (self.folder / f"{name}.txt").write_text(text)

    def delete(self, name: str) -> None:
        (self.folder / f"{name}.txt").unlink()

    def rename(self, name: str, new_name: str) -> None:
        (self.folder / f"{name}.txt").rename(self.folder / f"{new_name}.txt")

    def sync(self, assistant: Assistant) -> IndexReport:
        return assistant.index_paths([self.folder], prune=True)

    def name_of(self, source: str) -> str | None:
        return Path(source).stem


class SiteMedium:
    """Pages /NAME.html linked from the start page; a deleted page answers 404 or 410."""

    def __init__(self, root: Path, site: Site | None) -> None:
        assert site is not None
        self.site = site
        site.routes.clear()
        self.names: set[str] = set()
        self.gone = itertools.cycle((404, 410))
        self._index()
        self.source = WebSource(site.base + "/", max_pages=20)

    def _index(self) -> None:
        links = tuple(f"/{n}.html" for n in sorted(self.names))
        self.site.page("/", "Records", "The records of the archive are listed below.", links=links)

    def write(self, name: str, text: str) -> None:
        title, _, body = text.partition("\n\n")
        self.site.page(f"/{name}.html", title, body.strip())
        self.names.add(name)
        self._index()

    def delete(self, name: str) -> None:
        self.site.routes[f"/{name}.html"] = (next(self.gone), "text/plain", b"gone")
        self.names.discard(name)
        self._index()

    def rename(self, name: str, new_name: str) -> None:
        self.site.routes[f"/{new_name}.html"] = self.site.routes[f"/{name}.html"]
        self.delete(name)
        self.names.add(new_name)
        self._index()

    def sync(self, assistant: Assistant) -> IndexReport:
        return assistant.sync_source(self.source)

    def name_of(self, source: str) -> str | None:
        path = source.removeprefix(self.site.base)
        return None if path == "/" else path.removeprefix("/").removesuffix(".html")


def run_machine(
    shared: Assistant, medium_kind: type[FolderMedium | SiteMedium], site: Site | None, **store: Any
) -> None:
    class FolderSync(RuleBasedStateMachine):
        @initialize()
        def start(self) -> None:
            self.root = Path(tempfile.mkdtemp(prefix="sync-exact-"))
            self.medium: Medium = medium_kind(self.root, site)
            milvus = {"milvus_uri": str(self.root / "milvus.db")} if store.get("store") == "milvus" else {}
            self.assistant = assistant_on(self.root / "index", shared, **store, **milvus)
            self.words: dict[str, str] = {}  # file name -> its current code word
            self.texts: dict[str, str] = {}  # file name -> its current text
            self.retired: set[str] = set()

        def _write(self, name: str) -> None:
            if name in self.words:
                self.retired.add(self.words[name])
            self.words[name] = next(_WORDS)
            self.texts[name] = _fact(name, self.words[name])
            self.medium.write(name, self.texts[name])

        @rule(name=NAMES)
        def add_or_edit(self, name: str) -> None:
            self._write(name)

        @precondition(lambda self: bool(self.words))
        @rule(data=st.data())
        def delete(self, data: st.DataObject) -> None:
            name = data.draw(st.sampled_from(sorted(self.words)))
            self.medium.delete(name)
            self.retired.add(self.words.pop(name))
            del self.texts[name]

        @precondition(lambda self: bool(self.words))
        @rule(data=st.data(), new_name=NAMES)
        def rename(self, data: st.DataObject, new_name: str) -> None:
            name = data.draw(st.sampled_from(sorted(self.words)))
            if new_name == name:
                return
            if new_name in self.words:
                self.retired.add(self.words.pop(new_name))
            self.medium.rename(name, new_name)
            self.words[new_name] = self.words.pop(name)
            self.texts[new_name] = self.texts.pop(name)

        @invariant()
        def index_is_exact(self) -> None:
            if not hasattr(self, "assistant"):
                return
            self.medium.sync(self.assistant)
            named = {self.medium.name_of(d.source): d for d in self.assistant.list_documents()}
            named.pop(None, None)  # a website's start page
            assert sorted(named) == sorted(self.words)
            for name, doc in named.items():
                text = self.assistant.get_document(doc.doc_id).text
                title = self.texts[name].partition("\n")[0]  # renames keep the text
                assert self.words[name] in text and title in text
            for word in self.retired:
                assert all(word not in p.text for p in self.assistant.search(word, top_k=10))
            for name, word in self.words.items():
                assert any(word in p.text for p in self.assistant.search(word, top_k=10)), name

        def teardown(self) -> None:
            if hasattr(self, "root"):
                shutil.rmtree(self.root, ignore_errors=True)

    FolderSync.TestCase.settings = settings(
        max_examples=3 if store else 4,
        stateful_step_count=5,
        phases=[Phase.explicit, Phase.reuse, Phase.generate],  # a failure prints its steps
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    FolderSync.TestCase().runTest()


@pytest.fixture()
def site() -> Iterator[Site]:
    with serve_site() as served:
        yield served


def _milvus() -> dict[str, str]:
    pytest.importorskip("pymilvus", reason='the Milvus backend needs `pip install "assistant[milvus]"`')
    pytest.importorskip("milvus_lite")
    return {"store": "milvus"}


def test_folder_sync_is_exact(sample_assistant: Assistant) -> None:
    run_machine(sample_assistant, FolderMedium, None)


def test_website_sync_is_exact(sample_assistant: Assistant, site: Site) -> None:
    run_machine(sample_assistant, SiteMedium, site)


def test_folder_sync_is_exact_on_milvus(sample_assistant: Assistant) -> None:
    run_machine(sample_assistant, FolderMedium, None, **_milvus())


def test_website_sync_is_exact_on_milvus(sample_assistant: Assistant, site: Site) -> None:
    run_machine(sample_assistant, SiteMedium, site, **_milvus())
