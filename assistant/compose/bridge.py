"""Two-hop questions: when the best sentences name a bridge entity, search again with it.

"What government position was held by the woman who portrayed Corliss Archer in the film Kiss
and Tell?" The first search finds the film ("... starring Shirley Temple as Corliss Archer") but
not her career. A name that the best sentences introduce and the question lacks is a bridge: the
second search asks for that name with the part of the question the bridge sentence did not
cover ("Shirley Temple government position held woman"). When the second search's evidence is
more likely to answer than the first's, and the answer sentence's passage is about the bridge,
the answer cites both: the bridge sentence and the answer sentence.

A question takes the second hop when the first search answers it weakly (above the abstention
threshold, below BRIDGE_BELOW), or when it describes an entity by a relative clause instead of
naming it ("the woman who portrayed ..."): then the best first sentence usually names that
entity rather than answering, and even a refusal gets a second chance. Other questions pay
nothing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from assistant.compose.evidence import known_names, names
from assistant.store.lexical import content_terms, words

#: a first answer at least this likely is kept without a second search
BRIDGE_BELOW = 0.5
#: the second search's evidence must be this much more likely to answer than the first's: a
#: second chance must not turn an unanswerable question into a confident answer
HOP_GAIN = 0.1
#: names tried as bridges (each costs one search)
MAX_BRIDGES = 2
#: the best first-hop sentences whose names are bridge candidates
BRIDGE_SENTENCES = 3

#: an entity described by a relative clause rather than named: "the woman who portrayed",
#: "a conference that was formed", "the university whose main campus"
_DESCRIBED = re.compile(
    r"\b(?:the|a|an)\s+(?:[a-z][\w'-]*\s+){0,3}?[a-z][\w'-]*\s+(?:who|whom|whose|that|which|where)\b"
)
#: a capitalised word used as a modifier ("American comedy film", "English football manager")
_MODIFIER = re.compile(r"\s+[a-z][\w-]*")


def describes_entity(question: str) -> bool:
    """Whether the question refers to someone or something by a description (a bridge)."""
    return bool(_DESCRIBED.search(question))


@dataclass(frozen=True, slots=True)
class Bridge:
    """A name found in a first-hop sentence, and the query that searches for it."""

    name: str
    #: index of the first-hop candidate sentence that names it
    sentence: int
    query: str


def bridges(question: str, sentences: Sequence[str], scores: Sequence[float]) -> list[Bridge]:
    """Bridge candidates, best sentence first: names in the top sentences that share no word
    with the question, each with the question's words the sentence did not cover."""
    asked = set(content_terms(question))
    known = known_names(sentences)
    order = sorted(range(len(sentences)), key=lambda i: scores[i], reverse=True)[:BRIDGE_SENTENCES]
    found: list[Bridge] = []
    seen: set[str] = set()
    for i in order:
        covered = set(content_terms(sentences[i]))
        rest = [w for w in words(question) if (t := content_terms(w)) and t[0] in asked - covered]
        if not rest or not covered & asked:  # unrelated, or nothing left to ask of the bridge
            continue
        for start, end in names(sentences[i], known):
            name = sentences[i][start:end].strip(" ,;:")
            terms = set(content_terms(name))
            if not terms or terms & asked or name.lower() in seen or _modifies(sentences[i], start, end):
                continue
            seen.add(name.lower())
            found.append(Bridge(name, i, " ".join([name, *rest])))
            if len(found) >= MAX_BRIDGES:
                return found
    return found


def _modifies(sentence: str, start: int, end: int) -> bool:
    """A one-word name followed by a lowercase content word is an adjective, not an entity."""
    if " " in sentence[start:end].strip():
        return False
    following = _MODIFIER.match(sentence, end)
    return following is not None and bool(content_terms(following.group(0)))
