"""Follow-up resolution: rules that rewrite a question leaning on the last turn, and the core."""

from __future__ import annotations

from assistant.conversation import names, resolve
from assistant.conversation.prior import with_prior
from assistant.models import Citation, Turn

RESOLUTION = (
    "They can use the never-implemented mandate that the UN Security Council gave to the UN "
    "secretary-general in 1987, under Resolution 598."
)
HANIYEH = (
    "Mere hours after the ceremony, Ismail Haniyeh, the former prime minister of the Palestinian "
    "National Authority and chairman of the Hamas political bureau, was assassinated by Israel."
)


def _turn(question: str, quote: str, doc_id: str = "doc") -> Turn:
    cited = Citation(
        marker=1,
        doc_id=doc_id,
        source="",
        title="",
        chunk_id=f"{doc_id}:0",
        start=0,
        end=len(quote),
        quote=quote,
    )
    return Turn(question=question, answer=f"{quote} [1]", citations=[cited])


def test_names_are_capitalised_spans_that_do_not_cross_sentences() -> None:
    assert names(RESOLUTION) == ["UN Security Council", "UN", "Resolution 598"]
    assert "Mere" not in names(HANIYEH) and "Ismail Haniyeh" in names(HANIYEH)
    assert names("He met Mr. Smith. Then Iran signed.") == ["Mr. Smith", "Iran"]


def test_that_noun_takes_the_cited_name_holding_the_noun() -> None:
    turn = _turn("Which UN resolution ended the war between Iran and Iraq?", RESOLUTION, "zarif")
    resolved = resolve("When was that resolution adopted?", [turn])
    assert resolved.question == "When was Resolution 598 adopted?"
    assert resolved.rewritten and resolved.prior_docs == ("zarif",)


def test_a_pronoun_takes_the_previous_subject() -> None:
    turn = _turn("Who was Ismail Haniyeh?", HANIYEH)
    assert resolve("Which political bureau did he chair?", [turn]).question == (
        "Which political bureau did Ismail Haniyeh chair?"
    )
    assert resolve("What was his office?", [turn]).question == "What was Ismail Haniyeh's office?"
    # a "who" question that named nobody: the pronoun means the person the answer named
    found = _turn("Who was assassinated near the presidential complex?", HANIYEH)
    assert resolve("Where was he killed?", [found]).question == "Where was Ismail Haniyeh killed?"


def test_elliptical_follow_ups_swap_the_matching_slot() -> None:
    turn = _turn("What is the capital of Iran?", "Tehran is the capital of Iran.")
    assert resolve("And Iraq?", [turn]).question == "What is the capital of Iraq?"
    year = _turn("What did Iran propose in 2019?", "In 2019 Iran proposed the Hormuz Peace Endeavor.")
    assert resolve("What about 2020?", [year]).question == "What did Iran propose in 2020?"


def test_an_unrelated_or_self_contained_question_is_never_rewritten() -> None:
    turn = _turn("Who was Ismail Haniyeh?", HANIYEH)
    for question in (
        "What is the capital of France?",
        "When did Beyonce release her first album?",
        "Which party won the election that followed?",
    ):
        resolved = resolve(question, [turn])
        assert resolved.question == question and not resolved.rewritten and resolved.prior_docs == ()
    assert not resolve("When was he born?", []).rewritten


def test_the_prior_is_bounded(sample_assistant) -> None:  # type: ignore[no-untyped-def]
    snapshot = sample_assistant.snapshot()
    from assistant.retrieval.hybrid import retrieve

    vector = sample_assistant.embed_query("Resolution 598")
    own = retrieve(snapshot, [(vector, "Resolution 598")], 5)
    other = retrieve(snapshot, [(vector, "Haniyeh assassinated")], 8)
    merged = with_prior(own, other, 5)
    assert len(merged) <= 5 + 0 and merged[:3] == own[:3]
    assert [c.score for c in merged] == sorted((c.score for c in merged), reverse=True)


def test_the_assistant_answers_a_follow_up_from_the_last_answer(sample_assistant) -> None:  # type: ignore[no-untyped-def]
    first_question = "Which UN resolution ended the war between Iran and Iraq?"
    first = sample_assistant.ask(first_question)
    assert first.standalone_question == first_question
    turn = Turn(question=first_question, answer=first.answer, citations=first.citations)
    follow = sample_assistant.ask("When was that resolution adopted?", history=[turn])
    assert follow.question == "When was that resolution adopted?"
    assert follow.standalone_question == "When was Resolution 598 adopted?"
    assert not follow.abstained and "1987" in follow.answer
    # the old history, a list of earlier question strings, still works
    old = sample_assistant.ask("Which political bureau did he chair?", history=["Who was Ismail Haniyeh?"])
    assert old.standalone_question == "Which political bureau did Ismail Haniyeh chair?"
    assert not old.abstained and "Hamas" in old.answer
