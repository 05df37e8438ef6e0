"""Keyword queries: every content word while that is cheap, the rarest ones when it is not."""

from __future__ import annotations

import sqlite3

from assistant.lexical import KEYWORD_POSTING_BUDGET, fts_match_query, stem


def _terms(match: str | None) -> list[str]:
    assert match is not None
    return [part.strip('"') for part in match.split(" OR ")]


def test_without_frequencies_every_content_word_is_searched() -> None:
    assert _terms(fts_match_query("What year did the Normans conquer England?")) == [
        "year",
        "normans",
        "conquer",
        "england",
    ]


def test_every_word_is_kept_while_the_postings_fit_the_budget() -> None:
    small = {stem(w): 40 for w in ("year", "normans", "conquer", "england")}
    match = fts_match_query("What year did the Normans conquer England?", document_frequency=small)
    assert _terms(match) == ["year", "normans", "conquer", "england"]


def test_common_words_are_dropped_when_the_postings_exceed_the_budget() -> None:
    frequency = {
        stem("year"): KEYWORD_POSTING_BUDGET,
        stem("first"): KEYWORD_POSTING_BUDGET - 1_000,
        stem("normans"): 120,
        stem("conquer"): 300,
        stem("england"): 900,
    }
    match = fts_match_query(
        "In what year did the Normans first conquer England?", document_frequency=frequency
    )
    assert _terms(match) == ["normans", "conquer", "england"]  # question order kept


def test_the_rarest_word_is_searched_even_when_it_alone_exceeds_the_budget() -> None:
    frequency = {stem("oxygen"): 10 * KEYWORD_POSTING_BUDGET, stem("power"): 20 * KEYWORD_POSTING_BUDGET}
    assert _terms(fts_match_query("power oxygen", document_frequency=frequency)) == ["oxygen"]


def test_quotes_in_words_cannot_break_the_fts_syntax() -> None:
    match = fts_match_query('the "NEAR" OR AND term*')
    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE t USING fts5(text)")
    db.execute("INSERT INTO t VALUES ('near term')")
    assert db.execute("SELECT count(*) FROM t WHERE t MATCH ?", (match,)).fetchone() == (1,)
