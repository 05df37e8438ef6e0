"""Sync is exact: after any adds, edits, renames and deletes in a folder, the index holds exactly
the current files, and no retired passage can be found (hypothesis state machine)."""

from __future__ import annotations

import itertools
import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from assistant.core import Assistant
from tests.helpers import assistant_on

NAMES = st.sampled_from(["alpha", "beta", "gamma", "delta", "epsilon"])
_WORDS = (f"zq{n}vex" for n in itertools.count())


def _fact(name: str, word: str) -> str:
    return f"Record {name}\n\nThe code word kept in the {name} record is {word}.\n"


def run_machine(shared: Assistant) -> None:
    class FolderSync(RuleBasedStateMachine):
        @initialize()
        def start(self) -> None:
            self.root = Path(tempfile.mkdtemp(prefix="sync-exact-"))
            self.folder = self.root / "docs"
            self.folder.mkdir()
            self.assistant = assistant_on(self.root / "index", shared)
            self.words: dict[str, str] = {}  # file name -> its current code word
            self.texts: dict[str, str] = {}  # file name -> its current text
            self.retired: set[str] = set()

        def _write(self, name: str) -> None:
            if name in self.words:
                self.retired.add(self.words[name])
            self.words[name] = next(_WORDS)
            self.texts[name] = _fact(name, self.words[name])
            (self.folder / f"{name}.txt").write_text(self.texts[name])

        @rule(name=NAMES)
        def add_or_edit(self, name: str) -> None:
            self._write(name)

        @precondition(lambda self: bool(self.words))
        @rule(data=st.data())
        def delete(self, data: st.DataObject) -> None:
            name = data.draw(st.sampled_from(sorted(self.words)))
            (self.folder / f"{name}.txt").unlink()
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
            (self.folder / f"{name}.txt").rename(self.folder / f"{new_name}.txt")
            self.words[new_name] = self.words.pop(name)
            self.texts[new_name] = self.texts.pop(name)

        @invariant()
        def index_is_exact(self) -> None:
            if not hasattr(self, "assistant"):
                return
            self.assistant.index_paths([self.folder], prune=True)
            docs = self.assistant.list_documents()
            assert sorted(Path(d.source).name for d in docs) == sorted(f"{n}.txt" for n in self.words)
            for doc in docs:
                name = Path(doc.source).stem
                assert self.assistant.get_document(doc.doc_id).text.strip() == self.texts[name].strip()
            for word in self.retired:
                assert all(word not in p.text for p in self.assistant.search(word, top_k=10))
            for name, word in self.words.items():
                assert any(word in p.text for p in self.assistant.search(word, top_k=10)), name

        def teardown(self) -> None:
            if hasattr(self, "root"):
                shutil.rmtree(self.root, ignore_errors=True)

    FolderSync.TestCase.settings = settings(
        max_examples=4,
        stateful_step_count=5,
        phases=[Phase.explicit, Phase.reuse, Phase.generate],  # a failure prints its steps
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    FolderSync.TestCase().runTest()


def test_folder_sync_is_exact(sample_assistant: Assistant) -> None:
    run_machine(sample_assistant)
