"""Which questions are comparisons, what their sides and property are, and how values compare."""

from __future__ import annotations

import pytest

from assistant.compose.comparison import Comparison, Property, canonical_terms, recognise


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        (
            "Are Harrow Lane and The Velvet Finches both from Canada?",
            Comparison("both", ("Harrow Lane", "Velvet Finches"), "from Canada"),
        ),
        (
            "Did Iran and Iraq both sign the treaty?",
            Comparison("both", ("Iran", "Iraq"), "sign the treaty"),
        ),
        (
            "Are both Alder Press, and Birch Books based in Leeds?",
            Comparison("both", ("Alder Press", "Birch Books"), "based in Leeds"),
        ),
        (
            "Were Ottilie Brandt and Casimir Velde of the same nationality?",
            Comparison("same", ("Ottilie Brandt", "Casimir Velde"), "nationality"),
        ),
        (
            "Is the Old Mill and the Town Hall located in the same district?",
            Comparison("same", ("Old Mill", "Town Hall"), "district"),
        ),
        (
            "Is Ottilie Brandt older than Casimir Velde?",
            Comparison("than", ("Ottilie Brandt", "Casimir Velde"), "older"),
        ),
        (
            "Was the Rhine longer than the Elbe?",
            Comparison("than", ("Rhine", "Elbe"), "longer"),
        ),
        (
            "Which band was formed first, Harrow Lane or The Velvet Finches?",
            Comparison("which", ("Harrow Lane", "Velvet Finches"), "band was formed first"),
        ),
        (
            "Which city, Ghent or Bruges, has more inhabitants?",
            Comparison("which", ("Ghent", "Bruges"), "city has more inhabitants"),
        ),
        (
            "Who was born earlier: Ada Lovelace or Mary Shelley?",
            Comparison("which", ("Ada Lovelace", "Mary Shelley"), "was born earlier"),
        ),
    ],
)
def test_comparison_forms_are_recognised(question: str, expected: Comparison) -> None:
    # a leading article is not part of a side's name ("the Old Mill" -> "Old Mill")
    assert recognise(question) == expected


@pytest.mark.parametrize(
    "question",
    [
        "Is anyone other than the owner allowed in?",
        "Which countries signed the treaty?",
        "Are Iran and Iraq neighbours?",
        "Who wrote the report and when was it published?",
        "What did she study when she was in school?",
        "Is the survey older?",
        "Did Davies and Baran collaborate at any point after they both developed this concept?",
    ],
)
def test_other_questions_are_not_comparisons(question: str) -> None:
    assert recognise(question) is None


def test_a_country_and_its_people_are_one_value() -> None:
    assert canonical_terms("an American band") & canonical_terms("from the United States")
    assert canonical_terms("an Australian film") ^ canonical_terms("an American film") == {
        "nation:australia",
        "nation:usa",
    }
    assert "nation:usa" not in canonical_terms("an Australian film")


def test_a_property_needs_all_its_names_and_words() -> None:
    wanted = Property.of("American documentaries")
    assert wanted.stated_by(canonical_terms("a 2010 American documentary film"))
    assert not wanted.stated_by(canonical_terms("a 2003 Australian documentary"))
    assert not wanted.stated_by(canonical_terms("an American drama film"))
    assert not Property.of("jazz bands").stated_by(canonical_terms("a Canadian rock band"))
