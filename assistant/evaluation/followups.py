"""The follow-up benchmark: SQuAD question pairs where the second leans on the first.

Two answerable questions on one paragraph where the second names something the first's question
or gold answer names ("When did the Normans conquer England?" after "Who were the Normans?");
the second's name is replaced by "that <noun>" (a name written "the Scottish Parliament") or by
"it"/"its", and the first question goes in the record's `history`. The same second questions
with the name in place are the standalone control: a resolver that works scores the follow-ups
within a few points of the control. Pairs are drawn with a fixed seed from the articles given
(the answer model's held-out ones), so the set is reproducible.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass

from assistant.conversation import names
from assistant.evaluation.gold import GoldRecord, GoldTurn

DEFAULT_SEED = 7


@dataclass(frozen=True, slots=True)
class FollowUpPair:
    """A follow-up record (leaning on its history) and its standalone control."""

    follow_up: GoldRecord
    standalone: GoldRecord
    name: str


def lean_on(question: str, name: str) -> str | None:
    """`question` with `name` replaced by a pronoun or "that <noun>"; None where it reads wrong."""
    match = re.search(rf"(\bthe\s+)?{re.escape(name)}('s\b)?", question)
    if match is None:
        return None
    words = name.split()
    if match.group(1) and len(words) >= 2 and words[-1].isalpha():
        replacement = f"that {words[-1].lower()}"
        if match.group(2):
            replacement += "'s"
    elif match.group(2):
        replacement = "its"
    else:
        replacement = "it"
    start = match.start()
    if start == 0:
        replacement = replacement[0].upper() + replacement[1:]
    return question[:start] + replacement + question[match.end() :]


def _shared_name(first: GoldRecord, second: GoldRecord) -> str | None:
    """A name of the second question that the first's question or gold answer also names."""
    earlier = " ".join([first.question, *first.answers]).lower()
    for name in names(second.question):
        if name.lower() in earlier and len(name) > 2:
            return name
    return None


def build_pairs(
    records: Sequence[GoldRecord], articles: Sequence[str], limit: int, seed: int = DEFAULT_SEED
) -> list[FollowUpPair]:
    """At most `limit` pairs from answerable records of `articles`, one per second question."""
    chosen = set(articles)
    by_paragraph: dict[str, list[GoldRecord]] = {}
    for record in records:
        if record.answerable and record.answers and record.evidence_docs:
            paragraph = record.evidence_docs[0]
            if paragraph.rsplit("-", 1)[0] in chosen:
                by_paragraph.setdefault(paragraph, []).append(record)
    pairs: list[FollowUpPair] = []
    for paragraph in sorted(by_paragraph):
        group = by_paragraph[paragraph]
        for position, second in enumerate(group):
            for first in group[:position]:
                name = _shared_name(first, second)
                leaning = lean_on(second.question, name) if name else None
                if name is None or leaning is None:
                    continue
                follow = second.model_copy(
                    update={
                        "id": f"fu-{second.id}",
                        "question": leaning,
                        "history": [GoldTurn(question=first.question)],
                    }
                )
                pairs.append(FollowUpPair(follow, second, name))
                break
    random.Random(seed).shuffle(pairs)
    return sorted(pairs[:limit], key=lambda p: p.standalone.id)


def unrelated_history(
    records: Sequence[GoldRecord], seed: int = DEFAULT_SEED
) -> list[tuple[GoldRecord, GoldRecord]]:
    """Each record with an earlier question from another article: a new, unrelated question."""
    shuffled = list(records)
    random.Random(seed).shuffle(shuffled)
    pairs = []
    for index, record in enumerate(shuffled):
        article = record.evidence_docs[0].rsplit("-", 1)[0] if record.evidence_docs else record.id
        for other in shuffled[index + 1 :] + shuffled[:index]:
            if other.answerable and other.evidence_docs and not other.evidence_docs[0].startswith(article):
                pairs.append((other, record))
                break
    return pairs
