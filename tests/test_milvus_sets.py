"""Document sets on the Milvus backend (Milvus Lite in this process): stored on every chunk and
filtered inside the dense and the BM25 request, changed without re-embedding, hidden from
listings and lookups outside the caller's sets.

The tests over the two-set index run on the snapshot store too: both backends must give the
same answer to "the top k inside a set equal those of an index of that set alone"."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from assistant.core import Assistant
from assistant.errors import ConfigError, DocumentNotFoundError
from assistant.models import SearchFilters
from assistant.settings import Settings
from assistant.store import ReadView

BACKENDS = ["snapshot", "milvus"]
QUERY = "reactor megawatts near the river"
#: the marker of a public document: a caller limited to `hr` must never see it
MARKER = "Zephyrine"
#: `hr`: three documents that match the query's words and two that match none of them
HR = {
    "hr-alpha": "Alpha\n\nThe alpha reactor produces 40 megawatts of power. It was built near the lake.\n",
    "hr-gamma": "Gamma\n\nThe gamma reactor beside the river was closed for repairs in 2019.\n",
    "hr-delta": "Delta\n\nStaff at the delta plant log the megawatts of each shift in a ledger.\n",
    "hr-menu": "Menu\n\nThe cafeteria menu changes every Monday and lists vegetarian dishes first.\n",
    "hr-leave": "Leave\n\nEmployees request annual leave through the staff portal two weeks ahead.\n",
}
#: `public`: documents that match the query better than any `hr` one, so a search that filtered
#: after ranking would find no `hr` chunk in its top k
PUBLIC = {
    f"pub-{name}": (
        f"{name.title()}\n\nThe {name} reactor near the river produces {mw} megawatts. The {name} "
        f"reactor near the river was named {MARKER} {name.title()}; its megawatts feed the river mill.\n"
    )
    for name, mw in [("north", 12), ("south", 18), ("east", 25), ("west", 31), ("upper", 44), ("lower", 52)]
}


def _folder(root: Path, docs: dict[str, str]) -> Path:
    root.mkdir(parents=True)
    for name, text in docs.items():
        (root / f"{name}.txt").write_text(text)
    return root


def _needs_milvus() -> None:
    pytest.importorskip("pymilvus", reason='the Milvus backend needs `pip install "assistant[milvus]"`')
    pytest.importorskip("milvus_lite")


def _index(root: Path, shared: Assistant, backend: str = "milvus") -> Assistant:
    """An Assistant over a new index at `root` on `backend` (Milvus Lite: a file of its own)."""
    index_dir = root / "index"
    settings = Settings(index_dir=index_dir, store=backend)
    if backend == "milvus":
        _needs_milvus()
        settings = Settings(index_dir=index_dir, store=backend, milvus_uri=str(root / "milvus.db"))
    return Assistant(index_dir, settings, shared.embedder)


def _view(assistant: Assistant) -> ReadView:
    view = assistant.snapshot()
    assert view is not None
    return view


def _keys(view: ReadView, hits: list[tuple[int, float]]) -> list[tuple[str, int]]:
    rows = view.chunks([i for i, _ in hits])
    return [(rows[i].doc_id, rows[i].ord) for i, _ in hits]


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def two_sets(
    sample_assistant: Assistant, tmp_path_factory: pytest.TempPathFactory, backend: str
) -> Assistant:
    """One index of `hr` and `public`, each indexed from its own folder with --set."""
    root = tmp_path_factory.mktemp(f"{backend}-sets")
    assistant = _index(root, sample_assistant, backend)
    hr = _folder(root / "hr", HR)
    assert sorted(assistant.index_paths([hr], sets=["hr"]).added) == sorted(HR)
    public = _folder(root / "public", PUBLIC)
    assert sorted(assistant.index_paths([public], sets=["public"]).added) == sorted(PUBLIC)
    return assistant


@pytest.fixture(scope="module")
def hr_alone(
    sample_assistant: Assistant, tmp_path_factory: pytest.TempPathFactory, backend: str
) -> Assistant:
    """An index of the `hr` documents only (the reference for search inside the set)."""
    root = tmp_path_factory.mktemp(f"{backend}-hr-alone")
    assistant = _index(root, sample_assistant, backend)
    assert sorted(assistant.index_paths([_folder(root / "hr", HR)]).added) == sorted(HR)
    return assistant


def test_sets_are_stored_listed_and_counted(two_sets: Assistant) -> None:
    assistant = two_sets
    view = _view(assistant)
    assert view.set_counts() == {"hr": len(HR), "public": len(PUBLIC)}
    assert view.doc_ids_in_sets(["hr"]) == sorted(HR)
    assert view.doc_ids_in_sets(["hr", "public"]) == sorted([*HR, *PUBLIC])
    assert view.doc_ids_in_sets(["nobody"]) == []
    assert view.doc_ids_in_sets([]) == []
    assert view.document_sets() == {**{d: ["hr"] for d in HR}, **{d: ["public"] for d in PUBLIC}}
    assert {d.doc_id: d.sets for d in assistant.list_documents()} == view.document_sets()
    assert [d.doc_id for d in assistant.list_documents(["hr"])] == sorted(HR)
    assert assistant.list_documents([]) == []
    assert assistant.get_document("hr-alpha", ["hr"]).sets == ["hr"]
    assert assistant.get_document("hr-alpha").doc_id == "hr-alpha"
    with pytest.raises(DocumentNotFoundError):
        assistant.get_document("hr-alpha", ["public"])  # outside the caller's sets: not there


def test_search_inside_a_set_equals_an_index_of_that_set_alone(
    two_sets: Assistant, hr_alone: Assistant
) -> None:
    assistant = two_sets
    view, alone = _view(assistant), _view(hr_alone)
    vector = assistant.embed_query(QUERY)
    request = [(vector, QUERY)]
    k = 3
    # unfiltered, the public documents take the whole top k: a filter applied after ranking
    # would leave nothing of `hr`
    assert {d for d, _ in _keys(view, view.search(request, k, k))} <= set(PUBLIC)

    # dense: the same chunks with the same inner products (the k-th is clear of the next)
    reference = alone.search(request, k + 1, k + 1, mode="dense")
    scores = [s for _, s in reference]
    assert scores[k - 1] - scores[k] > 0.02, scores
    inside = view.search(request, k, k, mode="dense", sets=["hr"])
    assert set(_keys(view, inside)) == set(_keys(alone, reference[:k]))
    assert np.allclose(sorted(s for _, s in inside), sorted(scores[:k]), atol=1e-5)

    # keyword and hybrid: exactly the three `hr` chunks holding the query's words, as alone
    matching = {("hr-alpha", 0), ("hr-gamma", 0), ("hr-delta", 0)}
    for mode in ("keyword", "hybrid"):
        inside = view.search(request, k, k, mode=mode, sets=["hr"])
        separate = alone.search(request, k, k, mode=mode)
        assert set(_keys(view, inside)) == set(_keys(alone, separate)) == matching, mode
        # the sets narrow a doc_ids filter, never widen it
        narrowed = view.search(request, k, k, doc_ids=["hr-gamma", "pub-north"], mode=mode, sets=["hr"])
        assert _keys(view, narrowed) == [("hr-gamma", 0)], mode
        assert view.search(request, k, k, mode=mode, sets=[]) == []
        assert view.search(request, k, k, mode=mode, sets=["nobody"]) == []


def test_search_and_ask_limited_to_a_set_never_see_another(two_sets: Assistant) -> None:
    assistant = two_sets
    hr = SearchFilters(sets=["hr"])
    questions = [QUERY, "What was the north reactor named?", "Which reactor feeds the river mill?"]
    for question in questions:
        passages = assistant.search(question, 8, hr)
        assert passages and {p.doc_id for p in passages} <= set(HR), question
        assert all(MARKER not in p.text for p in passages)
        answer = assistant.ask(question, 8, hr)
        assert MARKER not in answer.model_dump_json(), question
        assert {c.doc_id for c in answer.citations} <= set(HR)
    # the admin (no sets) and a caller of `public` do find the marker
    assert any(MARKER in p.text for p in assistant.search(questions[1], 3))
    assert {p.doc_id for p in assistant.search(questions[1], 3, SearchFilters(sets=["public"]))} <= set(
        PUBLIC
    )


def test_changing_sets_reembeds_nothing_and_old_readers_keep_theirs(
    sample_assistant: Assistant, tmp_path: Path
) -> None:
    assistant = _index(tmp_path, sample_assistant)
    hr = _folder(tmp_path / "hr", {name: HR[name] for name in ("hr-alpha", "hr-gamma")})
    first = assistant.index_paths([hr], sets=["hr"])
    assert first.embedded_texts > 0
    before = _view(assistant)
    texts_before = {c.doc_id: c.text for c in before.chunks(_all_chunk_ids(before)).values()}

    again = assistant.index_paths([hr], sets=["hr", "eu"])
    assert again.embedded_texts == 0  # sets changed, nothing re-embedded
    assert (again.added, again.replaced) == ([], [])
    after = _view(assistant)
    assert after.name != before.name
    assert after.set_counts() == {"eu": 2, "hr": 2}
    assert {c.doc_id: c.text for c in after.chunks(_all_chunk_ids(after)).values()} == texts_before
    request = [(assistant.embed_query(QUERY), QUERY)]
    # the copied chunks carry the stored vectors: the same inner products as before
    dense_before = before.search(request, 5, 5, mode="dense")
    dense_after = after.search(request, 5, 5, mode="dense")
    assert _keys(before, dense_before) == _keys(after, dense_after)
    assert np.allclose([s for _, s in dense_before], [s for _, s in dense_after], atol=1e-6)
    for mode in ("dense", "keyword", "hybrid"):
        found = after.search(request, 5, 5, mode=mode, sets=["eu"])
        assert {d for d, _ in _keys(after, found)} == {"hr-alpha", "hr-gamma"}, mode
    # a reader still on the earlier version sees the earlier sets and can still search
    assert before.set_counts() == {"hr": 2}
    assert before.search(request, 5, 5, sets=["eu"]) == []
    assert {d for d, _ in _keys(before, before.search(request, 5, 5, sets=["hr"]))} == {
        "hr-alpha",
        "hr-gamma",
    }

    # the same sets again write no new version; a changed file keeps its sets when none are named
    assert assistant.index_paths([hr], sets=["eu", "hr"]).embedded_texts == 0
    assert _view(assistant).name == after.name
    (hr / "hr-gamma.txt").write_text("Gamma\n\nThe gamma reactor beside the river reopened in 2021.\n")
    changed = assistant.index_paths([hr])
    assert changed.replaced == ["hr-gamma"]
    assert _view(assistant).document_sets() == {"hr-alpha": ["eu", "hr"], "hr-gamma": ["eu", "hr"]}

    # a document moved out of `hr` is gone for a caller of `hr`, in a listing and a lookup
    with assistant.store.writer(_view(assistant).manifest) as writer:
        assert writer.set_document_sets("hr-gamma", ["finance"])
        assert not writer.set_document_sets("no-such-doc", ["hr"])
    assert [d.doc_id for d in assistant.list_documents(["hr"])] == ["hr-alpha"]
    with pytest.raises(DocumentNotFoundError):
        assistant.get_document("hr-gamma", ["hr", "eu"])
    assert {p.doc_id for p in assistant.search(QUERY, 5, SearchFilters(sets=["finance"]))} == {"hr-gamma"}


def test_sets_of_a_document_added_by_the_same_writer(sample_assistant: Assistant, tmp_path: Path) -> None:
    """A document this writer added, then put in other sets, is rewritten before anyone reads it."""
    assistant = _index(tmp_path, sample_assistant)
    folder = _folder(tmp_path / "docs", {"hr-alpha": HR["hr-alpha"], "hr-menu": HR["hr-menu"]})
    assistant.index_paths([folder])
    view = _view(assistant)
    assert view.set_counts() == {"default": 2}
    with assistant.store.writer(view.manifest) as writer:
        assert writer.set_document_sets("hr-alpha", ["hr"])
        assert writer.set_document_sets("hr-alpha", ["hr", "ops"])  # twice in one writer
    view = _view(assistant)
    assert view.document_sets() == {"hr-alpha": ["hr", "ops"], "hr-menu": ["default"]}
    hits = view.search([(assistant.embed_query(QUERY), QUERY)], 5, 5, sets=["ops"])
    assert [d for d, _ in _keys(view, hits)] == ["hr-alpha"]
    assert assistant.get_document("hr-alpha", ["ops"]).text == HR["hr-alpha"]


def _all_chunk_ids(view: ReadView) -> list[int]:
    """Every chunk id of `view` (one search over all documents, deep enough for a small index)."""
    vector = np.zeros(view.manifest.dimension, dtype=np.float32)
    vector[0] = 1.0
    return [i for i, _ in view.search([(vector, "")], 100, 100, mode="dense")]


def test_a_milvus_index_made_before_sets_reads_as_default_and_asks_for_a_rebuild(
    sample_assistant: Assistant, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _needs_milvus()
    from assistant.store.milvus import store as milvus_store

    folder = _folder(tmp_path / "docs", {"hr-alpha": HR["hr-alpha"], "hr-menu": HR["hr-menu"]})
    _index(tmp_path, sample_assistant).index_paths([folder], sets=["hr"])
    # collections without the sets field, as an index written before them has
    monkeypatch.setattr(milvus_store, "has_sets", lambda client, prefix: False)
    old = _index(tmp_path, sample_assistant)
    view = _view(old)
    assert view.set_counts() == {"default": 2}
    assert view.document_sets() == {"hr-alpha": ["default"], "hr-menu": ["default"]}
    assert view.doc_ids_in_sets(["hr"]) == []
    request = [(old.embed_query(QUERY), QUERY)]
    assert view.search(request, 3, 3, sets=["hr"]) == []
    assert {d for d, _ in _keys(view, view.search(request, 3, 3, sets=["default"]))} <= {
        "hr-alpha",
        "hr-menu",
    }
    with pytest.raises(ConfigError, match="--rebuild"):
        old.index_paths([folder], sets=["hr"])
    assert sorted(old.index_paths([folder], rebuild=True, sets=["hr"]).added) == ["hr-alpha", "hr-menu"]
    monkeypatch.undo()
    assert _view(_index(tmp_path, sample_assistant)).set_counts() == {"hr": 2}
