"""Public benchmarks to a corpus folder plus a gold set, so they run through `assistant eval`.

Each converter writes `<out>/corpus/<doc_id>.txt` (the file stem becomes the doc_id when
indexed) and `<out>/gold.jsonl`. SQuAD 2.0 gets one document per paragraph: its answers and
its unanswerable questions are written against one paragraph, so per-paragraph documents make
doc-level evidence exact. SciFact gets one document per abstract (title + abstract) and is
retrieval-only: claims have relevant abstracts but no answer strings. HotpotQA (distractor
setting) gets one document per Wikipedia paragraph of its questions' contexts, so a two-hop
question's two supporting paragraphs sit among the other questions' paragraphs and distractors.
"""

from __future__ import annotations

import json
import logging
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.evaluation.errors import EvalError

log = logging.getLogger(__name__)

DEFAULT_DATASETS_DIR = Path("../shared/datasets")
DEFAULT_OUTPUT_ROOT = Path("eval/generated")
DEFAULT_SEED = 13
SQUAD_DIR = "squad-v2.0-dev"
SCIFACT_DIR = "scifact"
HOTPOTQA_DIR = "hotpotqa"
HOTPOTQA_FILE = "hotpot_dev_distractor_v1.json"


@dataclass(slots=True)
class Conversion:
    """What a converter wrote, for the CLI summary and for tests."""

    name: str
    corpus_dir: Path
    gold_path: Path
    documents: int = 0
    questions: int = 0
    counts: dict[str, int] = field(default_factory=dict)


def slugify(text: str) -> str:
    """A filename-safe, lowercase doc_id stem: 'Sky_(United_Kingdom)' -> 'sky-united-kingdom'."""
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug or "doc"


def _read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    try:
        with path.open(encoding="utf-8") as handle:
            for lineno, line in enumerate(handle, start=1):
                if line.strip():
                    try:
                        yield json.loads(line)
                    except json.JSONDecodeError as exc:
                        raise EvalError(f"{path}:{lineno}: not valid JSON ({exc.msg})") from exc
    except FileNotFoundError as exc:
        raise EvalError(
            f"{path} not found; pass --datasets-dir pointing at the folder that holds "
            f"{SQUAD_DIR}/ and {SCIFACT_DIR}/"
        ) from exc


def _prepare_output(out_dir: Path) -> Path:
    """Create `<out>/corpus`, removing .txt files a previous conversion left there."""
    corpus = out_dir / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    for stale in corpus.glob("*.txt"):
        stale.unlink()
    return corpus


def _write_gold(path: Path, records: list[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")


def _sample(items: list[dict[str, Any]], count: int, rng: random.Random) -> list[dict[str, Any]]:
    return items if count >= len(items) else rng.sample(items, count)


def _sampled_conversion(
    name: str,
    corpus: Path,
    out_dir: Path,
    documents: int,
    records: list[dict[str, Any]],
    limit: int | None,
    seed: int,
) -> Conversion:
    """Sample `limit` records with `seed`, write the gold set, count records per category."""
    if limit is not None:
        keep = {r["id"] for r in _sample(records, limit, random.Random(seed))}
        records = [r for r in records if r["id"] in keep]
    gold_path = out_dir / "gold.jsonl"
    _write_gold(gold_path, records)
    counts: dict[str, int] = {}
    for record in records:
        counts[record["category"]] = counts.get(record["category"], 0) + 1
    log.info("%s: %d documents, %d questions", name, documents, len(records))
    return Conversion(name, corpus, gold_path, documents, len(records), counts)


# ---- SQuAD 2.0 -----------------------------------------------------------------------------


def squad_doc_id(passage_id: str) -> str:
    """'Normans#3' -> 'normans-03': article slug plus the paragraph's index in the article."""
    title, _, index = passage_id.rpartition("#")
    if not title or not index.isdigit():
        raise EvalError(f"unexpected SQuAD passage_id {passage_id!r} (want 'Title#index')")
    return f"{slugify(title)}-{int(index):02d}"


def convert_squad(
    datasets_dir: Path, out_dir: Path, limit: int | None = None, seed: int = DEFAULT_SEED
) -> Conversion:
    """SQuAD 2.0 dev: every paragraph as a document, questions as gold (all, or a balanced sample).

    The corpus always holds all 1,204 paragraphs, so retrieval is as hard as on the full set;
    `limit` only samples questions: half answerable, half unanswerable, chosen by `seed`.
    """
    source = datasets_dir / SQUAD_DIR
    corpus = _prepare_output(out_dir)
    doc_ids: dict[str, str] = {}
    taken: set[str] = set()
    for passage in _read_jsonl(source / "passages.jsonl"):
        doc_id = squad_doc_id(passage["passage_id"])
        if doc_id in taken:
            raise EvalError(f"two SQuAD paragraphs map to the doc_id {doc_id!r}")
        title = str(passage["title"]).replace("_", " ")
        (corpus / f"{doc_id}.txt").write_text(f"{title}\n\n{passage['text']}\n", encoding="utf-8")
        doc_ids[passage["passage_id"]] = doc_id
        taken.add(doc_id)
    answerable: list[dict[str, Any]] = []
    unanswerable: list[dict[str, Any]] = []
    for question in _read_jsonl(source / "questions.jsonl"):
        paragraph = doc_ids.get(question["passage_id"])
        if paragraph is None:
            raise EvalError(f"question {question['id']} names an unknown passage")
        record: dict[str, Any] = {"id": question["id"], "question": question["question"]}
        if question["is_impossible"]:
            record |= {"answerable": False, "category": "unanswerable", "paragraph": paragraph}
            unanswerable.append(record)
        else:
            record |= {
                "answerable": True,
                "answers": list(question["answers"]),
                "evidence_docs": [paragraph],
                "category": "answerable",
            }
            answerable.append(record)
    if limit is not None:
        rng = random.Random(seed)
        half = limit // 2
        chosen = {r["id"] for r in _sample(answerable, half, rng) + _sample(unanswerable, limit - half, rng)}
        answerable = [r for r in answerable if r["id"] in chosen]
        unanswerable = [r for r in unanswerable if r["id"] in chosen]
    # Ids group questions by article; a seeded shuffle makes `eval --limit N` a fair sample too.
    records = sorted(answerable + unanswerable, key=lambda r: str(r["id"]))
    random.Random(seed).shuffle(records)
    for record in records:
        record["dataset"] = "squad-v2.0-dev"
    gold_path = out_dir / "gold.jsonl"
    _write_gold(gold_path, records)
    log.info("squad: %d documents, %d questions", len(doc_ids), len(records))
    return Conversion(
        name="squad",
        corpus_dir=corpus,
        gold_path=gold_path,
        documents=len(doc_ids),
        questions=len(records),
        counts={"answerable": len(answerable), "unanswerable": len(unanswerable)},
    )


# ---- SciFact -------------------------------------------------------------------------------


def _read_qrels(path: Path) -> dict[str, list[str]]:
    qrels: dict[str, list[str]] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError as exc:
        raise EvalError(f"{path} not found; pass --datasets-dir") from exc
    for line in lines[1:]:
        parts = line.split("\t")
        if len(parts) >= 3 and float(parts[2]) > 0:
            qrels.setdefault(parts[0], []).append(parts[1])
    return qrels


def _claim_category(evidence: dict[str, list[dict[str, Any]]]) -> str:
    labels = {item["label"] for items in evidence.values() for item in items}
    if not labels:
        return "no-rationale"
    if labels == {"SUPPORT"}:
        return "supported"
    if labels == {"CONTRADICT"}:
        return "contradicted"
    return "mixed"


def convert_scifact(
    datasets_dir: Path, out_dir: Path, limit: int | None = None, seed: int = DEFAULT_SEED
) -> Conversion:
    """SciFact as BEIR scores it: claims_dev as queries, qrels_cited_dev.tsv as relevance.

    Records are marked `retrieval_only`, so the runner only searches and scores rankings
    (accuracy and citation metrics do not apply). `limit` samples claims with `seed`.
    """
    source = datasets_dir / SCIFACT_DIR
    corpus = _prepare_output(out_dir)
    documents = 0
    for doc in _read_jsonl(source / "corpus.jsonl"):
        doc_id = str(doc["doc_id"])
        if not doc_id.isalnum():
            raise EvalError(f"unexpected SciFact doc_id {doc_id!r}")
        text = f"{doc['title'].strip()}\n\n{doc['text'].strip()}\n"
        (corpus / f"{doc_id}.txt").write_text(text, encoding="utf-8")
        documents += 1
    qrels = _read_qrels(source / "qrels_cited_dev.tsv")
    records: list[dict[str, Any]] = []
    for claim in _read_jsonl(source / "claims_dev.jsonl"):
        relevant = qrels.get(str(claim["id"]))
        if not relevant:
            continue
        records.append(
            {
                "id": str(claim["id"]),
                "question": claim["claim"],
                "answerable": True,
                "retrieval_only": True,
                "evidence_docs": relevant,
                "category": _claim_category(claim.get("evidence") or {}),
                "dataset": "scifact-dev",
            }
        )
    return _sampled_conversion("scifact", corpus, out_dir, documents, records, limit, seed)


# ---- HotpotQA ------------------------------------------------------------------------------


def _read_hotpotqa(path: Path) -> list[dict[str, Any]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise EvalError(
            f"{path} not found; pass --datasets-dir pointing at the folder that holds "
            f"{HOTPOTQA_DIR}/{HOTPOTQA_FILE} (the repository bundles a sample in eval/datasets)"
        ) from exc
    except json.JSONDecodeError as exc:
        raise EvalError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from exc
    if not isinstance(data, list):
        raise EvalError(f"{path}: expected a JSON array of HotpotQA questions")
    return data


def convert_hotpotqa(
    datasets_dir: Path, out_dir: Path, limit: int | None = None, seed: int = DEFAULT_SEED
) -> Conversion:
    """HotpotQA dev (distractor): every context paragraph once as a document, questions as gold.

    A question's evidence is its supporting-fact paragraphs and sentences; its category is
    HotpotQA's type ("bridge": the answer is about an entity the first paragraph names;
    "comparison": two entities compared, often a yes/no answer an extractive composer cannot
    say). `limit` samples questions with `seed`; the corpus keeps every paragraph.
    """
    questions = _read_hotpotqa(datasets_dir / HOTPOTQA_DIR / HOTPOTQA_FILE)
    corpus = _prepare_output(out_dir)
    paragraphs: dict[str, str] = {}
    doc_ids: dict[str, str] = {}
    records: list[dict[str, Any]] = []
    for question in questions:
        try:
            context = {str(title): "".join(sentences) for title, sentences in question["context"]}
            supporting = [(str(title), int(k)) for title, k in question["supporting_facts"]]
            record_id, text, answer = str(question["_id"]), question["question"], question["answer"]
        except (KeyError, TypeError, ValueError) as exc:
            raise EvalError(f"HotpotQA question {question.get('_id', '?')!r} is malformed ({exc})") from exc
        for title, body in context.items():
            if title in paragraphs:
                continue
            doc_id = slugify(title)
            while doc_id in doc_ids.values():  # two titles with one slug
                doc_id += "-x"
            paragraphs[title], doc_ids[title] = body, doc_id
            (corpus / f"{doc_id}.txt").write_text(f"{title}\n\n{body.strip()}\n", encoding="utf-8")
        # a supporting sentence is a quote when the stored paragraph (the first one with that
        # title) holds it
        by_title = {str(title): sentences for title, sentences in question["context"]}
        quotes: list[str] = []
        for title, k in supporting:
            sentence = by_title[title][k].strip() if title in by_title and k < len(by_title[title]) else ""
            if sentence and sentence in paragraphs.get(title, "") and sentence not in quotes:
                quotes.append(sentence)
        records.append(
            {
                "id": record_id,
                "question": text,
                "answerable": True,
                "answers": [str(answer)],
                "evidence_docs": sorted({doc_ids[t] for t, _ in supporting if t in doc_ids}),
                "evidence_quotes": quotes,
                "category": str(question.get("type", "bridge")),
                "dataset": "hotpotqa-dev-distractor",
            }
        )
    return _sampled_conversion("hotpotqa", corpus, out_dir, len(doc_ids), records, limit, seed)


CONVERTERS = {"squad": convert_squad, "scifact": convert_scifact, "hotpotqa": convert_hotpotqa}
