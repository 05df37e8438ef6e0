"""Keyword queries: every content word on small indexes, only the telling ones on large ones."""

from __future__ import annotations

import sqlite3

from assistant.lexical import MIN_KEPT_TERMS, fts_match_query, stem


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


def test_common_words_are_dropped_when_frequencies_are_given() -> None:
    shares = {stem("year"): 0.30, stem("first"): 0.12, stem("normans"): 0.001, stem("england"): 0.004}
    shares[stem("conquer")] = 0.0005
    match = fts_match_query("In what year did the Normans first conquer England?", document_frequency=shares)
    assert _terms(match) == ["normans", "conquer", "england"]


def test_the_rarest_words_survive_even_when_all_are_common() -> None:
    shares = {stem(w): 0.5 - i * 0.1 for i, w in enumerate(["year", "first", "people", "country"])}
    terms = _terms(fts_match_query("year first people country", document_frequency=shares))
    assert len(terms) == MIN_KEPT_TERMS
    assert "year" not in terms  # the most common one goes


def test_short_questions_are_never_pruned() -> None:
    shares = {stem("year"): 0.9, stem("war"): 0.8}
    assert _terms(fts_match_query("which year war", document_frequency=shares)) == ["year", "war"]


def test_quotes_in_words_cannot_break_the_fts_syntax() -> None:
    match = fts_match_query('the "NEAR" OR AND term*')
    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE t USING fts5(text)")
    db.execute("INSERT INTO t VALUES ('near term')")
    assert db.execute("SELECT count(*) FROM t WHERE t MATCH ?", (match,)).fetchone() == (1,)
