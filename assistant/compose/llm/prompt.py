"""The prompt: the retrieved passages numbered [1]..[k], and rules for citing them.

Passage n is `context.chunks[n - 1]`; the citation checker relies on that numbering. The reply
the model is told to give when the passages do not answer matches `NOT_IN_DOCUMENTS` below.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

from assistant.retrieval.hybrid import RetrievedChunk

NO_ANSWER_REPLY = "The answer is not in the documents."

SYSTEM_PROMPT = f"""You answer questions using only the numbered passages you are given.
Rules:
- Use only facts stated in the passages; never use outside knowledge.
- After each claim, write the number of the passage that supports it in square brackets, \
like [1], or [1][3] for two passages.
- Cite only passage numbers that appear in the list.
- If the passages do not contain the answer, reply exactly: {NO_ANSWER_REPLY}
- Be brief: answer in at most three sentences, without preamble."""

#: how a reply says the passages hold no answer ("not in the documents", "the passages do not say")
NOT_IN_DOCUMENTS = re.compile(
    r"\bnot\s+(?:found\s+|contained\s+|covered\s+|mentioned\s+|stated\s+|given\s+|provided\s+|"
    r"available\s+)?in\s+the\s+(?:provided\s+|given\s+|supplied\s+)?"
    r"(?:documents?|passages?|sources?|context)\b"
    r"|\bthe\s+(?:provided\s+|given\s+)?(?:documents?|passages?|sources?)\s+(?:do|does)\s+not\s+"
    r"(?:contain|say|mention|cover|provide|state|answer|include|specify)\b",
    re.IGNORECASE,
)


def says_not_in_documents(reply: str) -> bool:
    """Whether the model declared the question unanswerable from the passages."""
    return NOT_IN_DOCUMENTS.search(reply) is not None


def format_passages(chunks: Sequence[RetrievedChunk], titles: dict[str, str]) -> str:
    """Passages as `[n] (title)` blocks, numbered from 1 in retrieval order."""
    blocks = []
    for number, chunk in enumerate(chunks, start=1):
        title = titles.get(chunk.row.doc_id) or chunk.row.doc_id
        text = " ".join(chunk.row.text.split())
        blocks.append(f"[{number}] ({title})\n{text}")
    return "\n\n".join(blocks)


def build_messages(
    question: str, chunks: Sequence[RetrievedChunk], titles: dict[str, str]
) -> list[BaseMessage]:
    """System rules plus one user message holding the numbered passages and the question."""
    user = f"Passages:\n\n{format_passages(chunks, titles)}\n\nQuestion: {question}\nAnswer:"
    return [SystemMessage(content=SYSTEM_PROMPT), HumanMessage(content=user)]
