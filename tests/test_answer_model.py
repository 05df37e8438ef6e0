"""The answer model end to end: train on a tiny SQuAD-shaped slice, load the artifact, answer with it.

The slice goes through the real converter, the real index and the real service path; it is far
too small for good figures, so the tests check contracts (the artifact loads, scores, and the
composer answers with a probability), never the figures themselves.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from assistant.compose.extractive import ExtractiveComposer
from assistant.compose.features import CANDIDATE_FEATURES, DECISION_FEATURES
from assistant.compose.scorer import AnswerModel, shipped_model
from assistant.core import Assistant
from assistant.evaluation.converters import convert_squad
from assistant.evaluation.training import train_answer_model
from assistant.settings import Settings

#: four small articles, two paragraphs each: (title, paragraphs, [(question, answer or None), ...])
ARTICLES = [
    (
        "Valmora_Harbour",
        [
            "The harbour of Valmora was dredged in 1893 by the engineer Lucia Ferrante. The work took "
            "four years and deepened the main channel to nine metres. Ships of the Adriatic line began "
            "calling at Valmora in 1898.",
            "A lighthouse was built on the northern mole in 1910. Its lamp was converted to electricity "
            "in 1936 and it can be seen from 22 nautical miles. The lighthouse keeper's house is now a "
            "small museum of the port.",
        ],
        [
            ("Who dredged the harbour of Valmora?", "Lucia Ferrante"),
            ("How deep is the main channel of Valmora?", "nine metres"),
            ("When was the lighthouse of Valmora converted to electricity?", "1936"),
            ("How far can the Valmora lighthouse be seen?", "22 nautical miles"),
            ("Who built the lighthouse of the southern mole in 1850?", None),
        ],
    ),
    (
        "Orlen_Glacier",
        [
            "The Orlen Glacier lies in the eastern Kessa range. It has retreated about 1.4 kilometres "
            "since measurements began in 1921. Meltwater from the glacier feeds the Tarn river.",
            "The first crossing of the glacier was made by a survey team led by Anders Holm in 1887. "
            "The team mapped three hidden crevasse fields and named the highest pass after its cook.",
        ],
        [
            ("Which river does the Orlen Glacier feed?", "Tarn"),
            ("How far has the Orlen Glacier retreated?", "1.4 kilometres"),
            ("Who led the first crossing of the Orlen Glacier?", "Anders Holm"),
            ("How many crevasse fields did the team map?", "three"),
            ("When did the Tarn river first freeze over?", None),
        ],
    ),
    (
        "Brasca_Cheese",
        [
            "Brasca is a hard cheese made in the valleys of the Kessa range from the milk of brown "
            "cows. It is aged for at least fourteen months in limestone caves.",
            "The Brasca guild was founded in 1702 in the town of Morel. The guild stamps every wheel "
            "with a red crown before it may be sold.",
        ],
        [
            ("How long is Brasca aged?", "fourteen months"),
            ("Where was the Brasca guild founded?", "Morel"),
            ("What does the guild stamp on every wheel?", "red crown"),
            ("Who was the first master of the Brasca guild?", None),
        ],
    ),
    (
        "Sefton_Observatory",
        [
            "The Sefton Observatory opened in 1958 on a hill above the city of Dunmore. Its main "
            "telescope has a mirror 2.1 metres across.",
            "The astronomer Ines Calder discovered the comet that bears her name at Sefton in 1974. "
            "The observatory closed to researchers in 2009 and became a public planetarium.",
        ],
        [
            ("When did the Sefton Observatory open?", "1958"),
            ("Who discovered a comet at Sefton in 1974?", "Ines Calder"),
            ("What did the observatory become after 2009?", "public planetarium"),
            ("How many comets did Ines Calder discover in 1990?", None),
        ],
    ),
]


def _write_squad_slice(root: Path) -> Path:
    """A datasets folder holding a SQuAD-2.0-shaped slice, in the converter's input format."""
    source = root / "squad-v2.0-dev"
    source.mkdir(parents=True)
    passages, questions = [], []
    for title, paragraphs, asked in ARTICLES:
        for index, text in enumerate(paragraphs):
            passages.append({"passage_id": f"{title}#{index}", "title": title, "text": text})
        for number, (question, answer) in enumerate(asked):
            home = next((i for i, p in enumerate(paragraphs) if answer and answer in p), 0)
            questions.append(
                {
                    "id": f"{title}-{number}",
                    "question": question,
                    "answers": [answer] if answer else [],
                    "is_impossible": answer is None,
                    "passage_id": f"{title}#{home}",
                }
            )
    for name, rows in (("passages.jsonl", passages), ("questions.jsonl", questions)):
        (source / name).write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, AnswerModel]:
    root = tmp_path_factory.mktemp("answer-model")
    conversion = convert_squad(_write_squad_slice(root / "datasets"), root / "squad")
    index_dir = root / "squad" / "index"
    Assistant.open_or_create(index_dir, Settings(index_dir=index_dir)).index_paths([conversion.corpus_dir])
    artifact = root / "answer_model.json"
    result = train_answer_model(index_dir, conversion.gold_path, None, artifact, seed=3, train_articles=2)
    assert artifact.stat().st_size == result.report["artifact_bytes"]
    return index_dir, artifact, AnswerModel.load(artifact)


def test_a_tiny_slice_trains_an_artifact_that_loads(trained: tuple[Path, Path, AnswerModel]) -> None:
    _, artifact, model = trained
    assert model.selector.names == CANDIDATE_FEATURES
    assert model.abstention.names == DECISION_FEATURES
    assert 0.0 <= model.threshold <= 1.0
    assert 0.0 < model.runner_up_share <= 1.0
    card = json.loads(artifact.read_text(encoding="utf-8"))["card"]
    assert card["seed"] == 3
    assert not set(card["train_articles"]) & set(card["heldout_articles"])
    assert "reliability" in card["figures"]["heldout"]


def test_the_trained_model_scores_candidates_and_answers(trained: tuple[Path, Path, AnswerModel]) -> None:
    index_dir, _, model = trained
    logits = model.candidate_logits(np.zeros((3, len(CANDIDATE_FEATURES))))
    assert logits.shape == (3,) and np.isfinite(logits).all()
    settings = Settings(index_dir=index_dir, abstain_threshold=0.0)
    assistant = Assistant(index_dir, settings, composer=ExtractiveComposer(model=model))
    assistant.refresh()
    answer = assistant.ask("Which river does the Orlen Glacier feed?")
    assert answer.confidence is not None and 0.0 <= answer.confidence <= 1.0
    assert not answer.abstained and answer.citations
    for citation in answer.citations:
        assert assistant.get_document(citation.doc_id).text[citation.start : citation.end] == citation.quote


def test_the_shipped_artifact_loads_and_matches_the_features() -> None:
    model = shipped_model()
    assert model.selector.names == CANDIDATE_FEATURES
    assert model.abstention.names == DECISION_FEATURES
    assert model.threshold == pytest.approx(Settings().abstain_threshold)
    card = model.card
    assert card["heldout_articles"] and card["train_articles"]
    assert "ece" in card["figures"]["heldout"]["reliability"]
