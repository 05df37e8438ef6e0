"""Benchmark converters on small hand-made datasets, and on the shared datasets when present."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.evaluation.converters import (
    convert_hotpotqa,
    convert_scifact,
    convert_squad,
    slugify,
    squad_doc_id,
)
from assistant.evaluation.errors import EvalError
from assistant.evaluation.gold import load_gold
from tests.conftest import REPO_ROOT

SHARED = REPO_ROOT.parent / "shared" / "datasets"


def _jsonl(path: Path, rows: list[dict]) -> None:  # type: ignore[type-arg]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


@pytest.fixture()
def squad_dir(tmp_path: Path) -> Path:
    root = tmp_path / "datasets"
    sky = "Sky_(United_Kingdom)"
    _jsonl(root / "squad-v2.0-dev" / "passages.jsonl", [
        {"passage_id": f"{sky}#0", "title": sky, "text": "Sky plc is a broadcaster."},
        {"passage_id": f"{sky}#1", "title": sky, "text": "It was founded in 1990."},
        {"passage_id": "Normans#0", "title": "Normans", "text": "Normandy is in France."},
    ])  # fmt: skip
    questions = [
        {"id": f"a{i}", "question": f"Q{i}?", "answers": ["France", "in France"], "is_impossible": False,
         "passage_id": "Normans#0"} for i in range(4)
    ] + [
        {"id": f"u{i}", "question": f"U{i}?", "answers": [], "is_impossible": True,
         "passage_id": "Sky_(United_Kingdom)#1"} for i in range(6)
    ]  # fmt: skip
    _jsonl(root / "squad-v2.0-dev" / "questions.jsonl", questions)
    return root


def test_slugs_and_squad_doc_ids() -> None:
    assert slugify("Sky_(United_Kingdom)") == "sky-united-kingdom"
    assert slugify("Fresno,_California") == "fresno-california"
    assert slugify("***") == "doc"
    assert squad_doc_id("Normans#3") == "normans-03"
    assert squad_doc_id("1973_oil_crisis#12") == "1973-oil-crisis-12"
    with pytest.raises(EvalError):
        squad_doc_id("no-index")


def test_squad_one_document_per_paragraph(squad_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / "corpus").mkdir(parents=True)
    (out / "corpus" / "stale.txt").write_text("left from an earlier run", encoding="utf-8")
    result = convert_squad(squad_dir, out)
    files = sorted(p.name for p in (out / "corpus").iterdir())
    assert files == ["normans-00.txt", "sky-united-kingdom-00.txt", "sky-united-kingdom-01.txt"]
    text = (out / "corpus" / "sky-united-kingdom-01.txt").read_text(encoding="utf-8")
    assert text == "Sky (United Kingdom)\n\nIt was founded in 1990.\n"
    records = load_gold(result.gold_path)  # the output is a valid gold set
    assert (result.documents, result.questions) == (3, 10)
    assert result.counts == {"answerable": 4, "unanswerable": 6}
    answerable = next(r for r in records if r.id == "a0")
    assert answerable.evidence_docs == ["normans-00"] and answerable.answers == ["France", "in France"]
    unanswerable = next(r for r in records if r.id == "u0")
    assert not unanswerable.answerable and unanswerable.evidence_docs == []
    assert unanswerable.to_json()["paragraph"] == "sky-united-kingdom-01"


def test_squad_limit_is_balanced_and_deterministic(squad_dir: Path, tmp_path: Path) -> None:
    first = convert_squad(squad_dir, tmp_path / "one", limit=4, seed=1)
    again = convert_squad(squad_dir, tmp_path / "two", limit=4, seed=1)
    assert first.counts == {"answerable": 2, "unanswerable": 2}
    assert first.gold_path.read_text() == again.gold_path.read_text()
    assert first.documents == 3  # the corpus stays whole
    other = {
        convert_squad(squad_dir, tmp_path / f"s{s}", limit=4, seed=s).gold_path.read_text()
        for s in range(2, 8)
    }
    assert len(other) > 1  # the seed matters


def test_missing_dataset_names_the_option(tmp_path: Path) -> None:
    with pytest.raises(EvalError, match="--datasets-dir"):
        convert_squad(tmp_path / "nowhere", tmp_path / "out")


@pytest.fixture()
def scifact_dir(tmp_path: Path) -> Path:
    root = tmp_path / "datasets" / "scifact"
    _jsonl(root / "corpus.jsonl", [
        {"doc_id": "11", "title": "Aspirin and pain.", "abstract": ["A.", "B."], "text": "A. B."},
        {"doc_id": "22", "title": "Sleep", "abstract": ["C."], "text": "C."},
        {"doc_id": "33", "title": "Diet", "abstract": ["D."], "text": "D."},
    ])  # fmt: skip

    def claim(cid: int, text: str, label: str | None, cited: list[str]) -> dict:  # type: ignore[type-arg]
        evidence = {cited[0]: [{"label": label, "sentences": [0]}]} if label else {}
        return {"id": cid, "claim": text, "evidence": evidence, "cited_doc_ids": cited}

    _jsonl(root / "claims_dev.jsonl", [
        claim(1, "Aspirin reduces pain.", "SUPPORT", ["11"]),
        claim(2, "Sleep is useless.", "CONTRADICT", ["22", "33"]),
        claim(3, "Diet matters.", None, ["33"]),
        claim(4, "No judgement.", None, []),
    ])  # fmt: skip
    (root / "qrels_cited_dev.tsv").write_text(
        "query-id\tcorpus-id\tscore\n1\t11\t1\n2\t22\t1\n2\t33\t1\n3\t33\t1\n", encoding="utf-8"
    )
    return root.parent


def test_scifact_is_retrieval_only_with_qrels_as_evidence(scifact_dir: Path, tmp_path: Path) -> None:
    result = convert_scifact(scifact_dir, tmp_path / "sf")
    text = (result.corpus_dir / "11.txt").read_text(encoding="utf-8")
    assert text == "Aspirin and pain.\n\nA. B.\n"
    records = {r.id: r for r in load_gold(result.gold_path)}
    assert set(records) == {"1", "2", "3"}  # a claim without judgements is not a question
    assert records["2"].evidence_docs == ["22", "33"]
    assert all(r.retrieval_only and not r.scores_answers and r.answers == [] for r in records.values())
    assert result.counts == {"supported": 1, "contradicted": 1, "no-rationale": 1}
    assert convert_scifact(scifact_dir, tmp_path / "sf2", limit=2).questions == 2


@pytest.mark.skipif(not SHARED.is_dir(), reason="shared datasets not present")
def test_real_squad_dev_has_1204_paragraph_documents(tmp_path: Path) -> None:
    result = convert_squad(SHARED, tmp_path / "squad", limit=40)
    assert result.documents == 1204
    assert result.counts == {"answerable": 20, "unanswerable": 20}
    records = load_gold(result.gold_path)
    for record in records:
        for doc_id in record.evidence_docs:
            text = (result.corpus_dir / f"{doc_id}.txt").read_text(encoding="utf-8")
            assert any(answer in text for answer in record.answers)


@pytest.mark.skipif(not SHARED.is_dir(), reason="shared datasets not present")
def test_real_scifact_has_300_judged_claims(tmp_path: Path) -> None:
    result = convert_scifact(SHARED, tmp_path / "scifact")
    assert result.documents == 5183
    assert result.questions == 300
    pairs = sum(len(r.evidence_docs) for r in load_gold(result.gold_path))
    assert pairs == 339


def test_hotpotqa_paragraphs_once_supporting_facts_as_evidence(tmp_path: Path) -> None:
    shared_paragraph = ["Tata Consultancy Services", [" TCS is headquartered in Mumbai.", " It is big."]]
    questions = [
        {"_id": "h1", "question": "Where is the employer of Sachin Warrier based?", "answer": "Mumbai",
         "type": "bridge", "supporting_facts": [["Sachin Warrier", 1], ["Tata Consultancy Services", 0]],
         "context": [["Sachin Warrier", ["Sachin Warrier is a singer.", " He worked at TCS."]],
                     shared_paragraph]},
        {"_id": "h2", "question": "Is TCS big?", "answer": "yes", "type": "comparison",
         "supporting_facts": [["Tata Consultancy Services", 1], ["Tata Consultancy Services", 9]],
         "context": [shared_paragraph, ["Kochi", ["Kochi is a city."]]]},
    ]  # fmt: skip
    folder = tmp_path / "datasets" / "hotpotqa"
    folder.mkdir(parents=True)
    (folder / "hotpot_dev_distractor_v1.json").write_text(json.dumps(questions), encoding="utf-8")
    result = convert_hotpotqa(tmp_path / "datasets", tmp_path / "hp")
    assert result.documents == 3  # the shared paragraph is one document
    text = (result.corpus_dir / "tata-consultancy-services.txt").read_text(encoding="utf-8")
    assert text == "Tata Consultancy Services\n\nTCS is headquartered in Mumbai. It is big.\n"
    records = {r.id: r for r in load_gold(result.gold_path)}
    assert records["h1"].evidence_docs == ["sachin-warrier", "tata-consultancy-services"]
    assert records["h1"].evidence_quotes == ["He worked at TCS.", "TCS is headquartered in Mumbai."]
    assert records["h2"].evidence_quotes == ["It is big."]  # index 9 does not exist
    assert result.counts == {"bridge": 1, "comparison": 1}


def test_hotpotqa_missing_file_names_the_folder(tmp_path: Path) -> None:
    with pytest.raises(EvalError, match=r"hotpotqa/hotpot_dev_distractor_v1\.json"):
        convert_hotpotqa(tmp_path, tmp_path / "out")


def test_bundled_hotpotqa_sample_converts_with_exact_quotes(tmp_path: Path) -> None:
    result = convert_hotpotqa(REPO_ROOT / "eval" / "datasets", tmp_path / "hp")
    assert result.questions >= 50 and result.counts["bridge"] > result.counts["comparison"]
    for record in load_gold(result.gold_path):
        texts = [(result.corpus_dir / f"{d}.txt").read_text(encoding="utf-8") for d in record.evidence_docs]
        assert len(record.evidence_docs) == 2, record.id
        assert all(any(q in t for t in texts) for q in record.evidence_quotes)
        if record.answers[0] not in ("yes", "no"):
            assert any(record.answers[0] in t for t in texts), record.id
