"""Word-level text features shared by keyword search, sentence scoring and term statistics."""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache

import snowballstemmer

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*", re.UNICODE)
_STEMMER = snowballstemmer.stemmer("english")

STOPWORDS = frozenset(
    [
        "a",
        "about",
        "above",
        "after",
        "again",
        "against",
        "all",
        "am",
        "an",
        "and",
        "any",
        "are",
        "aren't",
        "as",
        "at",
        "be",
        "because",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "but",
        "by",
        "can",
        "can't",
        "cannot",
        "could",
        "couldn't",
        "did",
        "didn't",
        "do",
        "does",
        "doesn't",
        "doing",
        "don't",
        "down",
        "during",
        "each",
        "few",
        "for",
        "from",
        "further",
        "had",
        "hadn't",
        "has",
        "hasn't",
        "have",
        "haven't",
        "having",
        "he",
        "he'd",
        "he'll",
        "he's",
        "her",
        "here",
        "here's",
        "hers",
        "herself",
        "him",
        "himself",
        "his",
        "how",
        "how's",
        "i",
        "i'd",
        "i'll",
        "i'm",
        "i've",
        "if",
        "in",
        "into",
        "is",
        "isn't",
        "it",
        "it's",
        "its",
        "itself",
        "let's",
        "me",
        "more",
        "most",
        "mustn't",
        "my",
        "myself",
        "no",
        "nor",
        "not",
        "of",
        "off",
        "on",
        "once",
        "only",
        "or",
        "other",
        "ought",
        "our",
        "ours",
        "ourselves",
        "out",
        "over",
        "own",
        "same",
        "shan't",
        "she",
        "she'd",
        "she'll",
        "she's",
        "should",
        "shouldn't",
        "so",
        "some",
        "such",
        "than",
        "that",
        "that's",
        "the",
        "their",
        "theirs",
        "them",
        "themselves",
        "then",
        "there",
        "there's",
        "these",
        "they",
        "they'd",
        "they'll",
        "they're",
        "they've",
        "this",
        "those",
        "through",
        "to",
        "too",
        "under",
        "until",
        "up",
        "very",
        "was",
        "wasn't",
        "we",
        "we'd",
        "we'll",
        "we're",
        "we've",
        "were",
        "weren't",
        "what",
        "what's",
        "when",
        "when's",
        "where",
        "where's",
        "which",
        "while",
        "who",
        "who's",
        "whom",
        "why",
        "why's",
        "with",
        "won't",
        "would",
        "wouldn't",
        "you",
        "you'd",
        "you'll",
        "you're",
        "you've",
        "your",
        "yours",
        "yourself",
        "yourselves",
        "s",
        "t",
        "also",
        "did",
        "does",
        "according",
        "said",
        "says",
        "say",
        "tell",
        "told",
        "many",
        "much",
        "whose",
        "whether",
        "via",
        "per",
        "upon",
        "within",
        "without",
        "among",
        "amongst",
        "toward",
        "towards",
    ]
)


#: on large indexes keyword search leaves out question words found in more than this share of
#: sentences (see fts_match_query) ...
COMMON_TERM_SHARE = 0.02
#: ... except the question's this-many rarest words, which are always searched
MIN_KEPT_TERMS = 3


def words(text: str) -> list[str]:
    """Lower-cased word tokens (letters and digits, inner apostrophes kept)."""
    return [w.lower().replace("’", "'") for w in _WORD.findall(text)]


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    return str(_STEMMER.stemWord(word))


def content_terms(text: str) -> list[str]:
    """Stemmed words without stop words, in order (duplicates kept)."""
    return [stem(w) for w in words(text) if w not in STOPWORDS]


def fts_match_query(
    text: str, max_terms: int = 64, document_frequency: Mapping[str, float] | None = None
) -> str | None:
    """An FTS5 MATCH expression OR-ing the question's content words, each quoted (no syntax leaks).

    `document_frequency` (stem -> share of the index's sentences holding it) drops the words
    common enough to add little to BM25 but many postings to read: at a hundred thousand
    chunks OR-ing every word made keyword search the slowest part of a query. The rarest
    MIN_KEPT_TERMS words are always kept. Returns None when the text has no searchable word.
    """
    seen: list[str] = []
    for word in words(text):
        if word in STOPWORDS or word in seen:
            continue
        seen.append(word)
        if len(seen) >= max_terms:
            break
    if document_frequency is not None and len(seen) > MIN_KEPT_TERMS:
        share = {w: document_frequency.get(stem(w), 0.0) for w in seen}
        rarest = set(sorted(seen, key=lambda w: share[w])[:MIN_KEPT_TERMS])
        seen = [w for w in seen if w in rarest or share[w] <= COMMON_TERM_SHARE]
    if not seen:
        return None
    return " OR ".join('"' + w.replace('"', '""') + '"' for w in seen)
