"""Keyword queries: every content word while that is cheap, the rarest ones when it is not."""

from __future__ import annotations

import sqlite3

from assistant.store.lexical import KEYWORD_POSTING_BUDGET, fts_match_query, index_terms, stem

NORMANS = [stem(w) for w in ("year", "normans", "conquer", "england")]


def _terms(match: str | None) -> list[str]:
    assert match is not None
    return [part.strip('"') for part in match.split(" OR ")]


def test_without_frequencies_every_content_word_is_searched() -> None:
    assert _terms(fts_match_query("What year did the Normans conquer England?")) == NORMANS


def test_every_word_is_kept_while_the_postings_fit_the_budget() -> None:
    small = {stem(w): 40 for w in ("year", "normans", "conquer", "england")}
    match = fts_match_query("What year did the Normans conquer England?", document_frequency=small)
    assert _terms(match) == NORMANS


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
    assert _terms(match) == NORMANS[1:]  # question order kept


def test_the_rarest_word_is_searched_even_when_it_alone_exceeds_the_budget() -> None:
    frequency = {stem("oxygen"): 10 * KEYWORD_POSTING_BUDGET, stem("power"): 20 * KEYWORD_POSTING_BUDGET}
    assert _terms(fts_match_query("power oxygen", document_frequency=frequency)) == [stem("oxygen")]


def test_quotes_in_words_cannot_break_the_fts_syntax() -> None:
    match = fts_match_query('the "NEAR" OR AND term*')
    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE t USING fts5(text)")
    db.execute("INSERT INTO t VALUES ('near term')")
    assert db.execute("SELECT count(*) FROM t WHERE t MATCH ?", (match,)).fetchone() == (1,)


def test_a_question_matches_other_forms_of_its_words_through_the_one_stemmer() -> None:
    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE t USING fts5(text, content='', tokenize='unicode61')")
    texts = ["The Normans conquered England in 1066.", "Vikings raided the coast of Francia."]
    for rowid, text in enumerate(texts):
        db.execute("INSERT INTO t(rowid, text) VALUES (?, ?)", (rowid, index_terms(text)))
    match = fts_match_query("When did the Norman conquest of England happen?")
    assert db.execute("SELECT rowid FROM t WHERE t MATCH ?", (match,)).fetchall() == [(0,)]
