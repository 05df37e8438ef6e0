"""Gold sets: load and validate `eval/*.jsonl` so a bad line fails loudly, with its line number."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from assistant.evaluation.errors import GoldSetError

if TYPE_CHECKING:
    from assistant.core import Assistant

MAX_REPORTED_PROBLEMS = 20


class GoldTurn(BaseModel):
    """An earlier turn of a conversation record: asked first (unless `answer` is given)."""

    question: str = Field(min_length=1)
    answer: str = ""


class GoldRecord(BaseModel):
    """One gold question (DESIGN.md §3); unknown fields are kept and copied into reports."""

    model_config = ConfigDict(extra="allow")

    id: str = Field(min_length=1)
    question: str = Field(min_length=1)
    answerable: bool
    answers: list[str] = Field(default_factory=list)
    evidence_docs: list[str] = Field(default_factory=list)
    evidence_quotes: list[str] = Field(default_factory=list)
    category: str = ""
    retrieval_only: bool = False
    #: earlier turns, oldest first: the record is asked as a follow-up in that conversation
    history: list[GoldTurn] = Field(default_factory=list)

    @field_validator("id", "question")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value

    @field_validator("answers", "evidence_docs", "evidence_quotes")
    @classmethod
    def _no_blank_items(cls, value: list[str]) -> list[str]:
        if any(not item.strip() for item in value):
            raise ValueError("must not contain blank strings")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> GoldRecord:
        if not self.answerable:
            if self.answers or self.evidence_docs or self.evidence_quotes:
                raise ValueError(
                    "an unanswerable question (answerable: false) must have no answers, "
                    "evidence_docs or evidence_quotes"
                )
            if self.retrieval_only:
                raise ValueError("retrieval_only needs answerable: true and evidence_docs")
            return self
        if not self.evidence_docs:
            raise ValueError("an answerable question needs at least one evidence_docs entry")
        if not self.answers and not self.retrieval_only:
            raise ValueError(
                "an answerable question needs answers (or retrieval_only: true for retrieval-only benchmarks)"
            )
        return self

    @property
    def scores_answers(self) -> bool:
        """Whether answer-level metrics (accuracy, citations) apply to this question."""
        return not self.retrieval_only

    def to_json(self) -> dict[str, Any]:
        """The record as written in the gold file (extra fields included, defaults dropped)."""
        return self.model_dump(exclude_defaults=True) | {
            "id": self.id,
            "question": self.question,
            "answerable": self.answerable,
        }


def parse_gold_lines(lines: Iterable[str], source: str = "<gold>") -> list[GoldRecord]:
    """Parse JSONL text into records; raise GoldSetError naming every bad line (up to 20)."""
    records: list[GoldRecord] = []
    problems: list[str] = []
    seen: dict[str, int] = {}
    for lineno, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line:
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(f"{source}:{lineno}: not valid JSON ({exc.msg})")
            continue
        if not isinstance(data, dict):
            problems.append(f"{source}:{lineno}: expected a JSON object, got {type(data).__name__}")
            continue
        try:
            record = GoldRecord.model_validate(data)
        except ValidationError as exc:
            problems.extend(f"{source}:{lineno}: {_describe(err)}" for err in exc.errors())
            continue
        if record.id in seen:
            problems.append(
                f"{source}:{lineno}: duplicate id {record.id!r} (first on line {seen[record.id]})"
            )
            continue
        seen[record.id] = lineno
        records.append(record)
    if problems:
        raise GoldSetError(_problem_message(f"gold set {source} has errors", problems))
    if not records:
        raise GoldSetError(f"gold set {source} holds no questions")
    return records


def load_gold(path: Path | str) -> list[GoldRecord]:
    """Read a gold `.jsonl` file; a missing file or any invalid line raises GoldSetError."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise GoldSetError(f"gold set {path} does not exist") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise GoldSetError(f"cannot read gold set {path}: {exc}") from exc
    return parse_gold_lines(text.splitlines(), source=str(path))


def check_against_index(records: Sequence[GoldRecord], assistant: Assistant) -> None:
    """Fail when evidence docs are missing from the index or a quote is not in their stored text.

    Without this a gold set run against the wrong index would report plausible-looking zeros.
    """
    known = {doc.doc_id for doc in assistant.list_documents()}
    problems: list[str] = []
    texts: dict[str, str] = {}
    for record in records:
        missing = [doc_id for doc_id in record.evidence_docs if doc_id not in known]
        if missing:
            problems.append(f"{record.id}: evidence doc(s) not in the index: {', '.join(missing)}")
            continue
        for quote in record.evidence_quotes:
            for doc_id in record.evidence_docs:
                if doc_id not in texts:
                    texts[doc_id] = assistant.get_document(doc_id).text
            if not any(quote in texts[doc_id] for doc_id in record.evidence_docs):
                problems.append(
                    f"{record.id}: evidence quote is not exact text of its evidence docs: {quote[:60]!r}"
                )
    if problems:
        raise GoldSetError(
            _problem_message(
                "the gold set does not match this index (was it built from the right corpus?)",
                problems,
            )
        )


def _describe(error: Any) -> str:
    location = ".".join(str(part) for part in error.get("loc", ()) if part != "__root__")
    message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
    return f"{location}: {message}" if location else message


def _problem_message(headline: str, problems: list[str]) -> str:
    shown = problems[:MAX_REPORTED_PROBLEMS]
    more = len(problems) - len(shown)
    tail = f"\n  ... and {more} more" if more else ""
    return headline + ":\n  " + "\n  ".join(shown) + tail
