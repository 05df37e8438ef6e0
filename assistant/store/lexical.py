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


#: keyword search reads at most about this many postings per question (see fts_match_query):
#: FTS5 scores every row that matches (about 1.5 us each), so this bounds it to a few ms
#: (keyword search at 1M chunks: p95 81 ms with every word, 8 ms with this budget)
KEYWORD_POSTING_BUDGET = 2_500


def words(text: str) -> list[str]:
    """Lower-cased word tokens (letters and digits, inner apostrophes kept)."""
    return [w.lower().replace("’", "'") for w in _WORD.findall(text)]


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    return str(_STEMMER.stemWord(word))


def content_terms(text: str) -> list[str]:
    """Stemmed words without stop words, in order (duplicates kept)."""
    return [stem(w) for w in words(text) if w not in STOPWORDS]


def index_terms(text: str) -> str:
    """The text as keyword search indexes it: every word stemmed, space-separated.

    FTS5 gets these stems (and its plain unicode61 tokenizer) rather than stemming with its own
    porter tokenizer, so the index, sentence frequencies and the posting budget share one stemmer.
    """
    return " ".join(stem(word) for word in words(text))


def fts_match_query(
    text: str, max_terms: int = 64, document_frequency: Mapping[str, int] | None = None
) -> str | None:
    """An FTS5 MATCH expression OR-ing the stems of the question's content words, each quoted
    (no syntax leaks), to match what index_terms() indexed.

    With `document_frequency` (stem -> sentences holding it) the words are taken rarest first
    while their frequencies add up to at most KEYWORD_POSTING_BUDGET (the rarest one always):
    FTS5 has no early termination, and at a million chunks OR-ing every word made a query
    score 50,000 rows. The words left out are the common ones, which add little to BM25.
    Small indexes never reach the budget. Returns None when the text has no searchable word.
    """
    seen: list[str] = []
    for word in words(text):
        if word in STOPWORDS or word in seen:
            continue
        seen.append(word)
        if len(seen) >= max_terms:
            break
    if document_frequency is not None and len(seen) > 1:
        frequency = {w: document_frequency.get(stem(w), 0) for w in seen}
        kept: set[str] = set()
        spent = 0
        for word in sorted(seen, key=lambda w: frequency[w]):
            if kept and spent + frequency[word] > KEYWORD_POSTING_BUDGET:
                break
            kept.add(word)
            spent += frequency[word]
        seen = [w for w in seen if w in kept]
    if not seen:
        return None
    stems = dict.fromkeys(stem(w) for w in seen)
    return " OR ".join('"' + s.replace('"', '""') + '"' for s in stems)
