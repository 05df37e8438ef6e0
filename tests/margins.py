"""Print the margins the real-component tests rely on, to check them on a new machine.

    HF_HUB_OFFLINE=1 .venv/bin/python -m tests.margins

Float results differ between CPU families (Intel vs AMD) and library builds; a test whose
outcome rests on a margin smaller than that noise passes on one machine and fails on another.
For every answer, ranking and similarity decision the suite asserts, this prints the number
the decision rests on and its distance from the edge. A margin under about 0.02 (0.005 for
cosines of the same text) is a near-tie: change the test, not the threshold.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np

from assistant.compose import extractive as answering
from assistant.core import Assistant
from assistant.settings import Settings
from tests.conftest import CORPUS_DIR, EXAMPLE_QUESTION

ZARIF = "zarif-how-iran-sees-the-path-to-peace"
#: (tests, question, text the answer must hold or None for an abstention, earlier questions)
FOLLOW_UPS = [
    ("api: history", "Which resolution would it use?", "598", [EXAMPLE_QUESTION]),
    ("slack: thread follow-up", "Which war did it end?", "Iran-Iraq War", [EXAMPLE_QUESTION]),
]
#: (tests, question, text the answer must hold, or None for an abstention)
SAMPLE_QUESTIONS = [
    ("core/api/web/slack/llm/index_types: example", EXAMPLE_QUESTION, "598"),
    ("hardening_questions: repeated words", EXAMPLE_QUESTION + " " + "regional talks " * 100, "598"),
    ("core/llm: unanswerable", "Who won the 2022 FIFA World Cup?", None),
    ("core: unanswerable", "How many people live in Tehran?", None),
    ("core/cli: unanswerable", "What is the recipe for a chocolate cake?", None),
    ("web_ui: off topic", "What is the recommended oven temperature for baking sourdough bread?", None),
    ("slack: abstention", "What is the boiling point of tungsten?", None),
]
EXTRA_DOCUMENTS = {
    "api: upload, ask, cite": (
        "harbour-lighting-survey.txt",
        "Harbour Lighting Survey\n\nThe Harbour Lighting Survey was completed by the Port of Valmora "
        "in March 2024. The survey found that 412 lamp posts along the northern quay needed new "
        "fittings. The replacement work is funded by a municipal bond of 3.2 million euros.\n",
        "How many lamp posts along the northern quay needed new fittings?",
        "412",
    ),
    "core: replaced file": (
        "alpha.txt",
        "Alpha\n\nThe alpha reactor now produces 75 megawatts.\n",
        "How many megawatts does the alpha reactor produce?",
        "75",
    ),
    "web_ui: upload and ask": ("kestrel-point-ledger.txt", "LIGHTHOUSE_TEXT", "LIGHTHOUSE_QUESTION", "1872"),
    "web_ui: inert rendering": ("xss-probe.txt", "XSS_TEXT", "XSS_QUESTION", "1907"),
}


def answer_margins(
    assistant: Assistant, label: str, question: str, expected: str | None, history: list[str] | None = None
) -> None:
    """Confidence against the threshold; for an answer, the expected sentence against the cut."""
    answer = assistant.ask(question, history=history)
    threshold = assistant.settings.abstain_threshold
    confidence = answer.confidence if answer.confidence is not None else float("nan")
    ok = answer.abstained if expected is None else (not answer.abstained and expected in answer.answer)
    print(f"{label}: {'ok' if ok else 'WRONG'} confidence {confidence:.4f} threshold {threshold:.4f} "
          f"margin {abs(confidence - threshold):.4f}")  # fmt: skip
    if expected is None:
        return
    timings: dict[str, float] = {}
    context = assistant._context(question, None, None, history, timings)
    assert context is not None
    candidates = answering.collect_candidates(context)
    answering.confidence(candidates, context)  # the learned scorer sets each candidate's score here
    fitting = sorted((c for c in candidates if c.fits_type), key=lambda c: -c.score)
    # the answer is built from the best sentence (with those it refers back to) and close
    # runners-up: * holds the expected text, ^ refers back, [other] is an uncited document
    cited = {c.doc_id for c in answer.citations}
    ranked = ", ".join(
        f"{c.score:.4f}{'*' if expected in c.text else ''}{'^' if answering.refers_back(c.text) else ''}"
        f"{'' if c.row.doc_id in cited else '[other]'}"
        for c in fitting[:4]
    )
    print(f"    best sentences {ranked}")


def date_rule_margin(assistant: Assistant) -> None:
    """test_core: "When was Zarif born?" abstains because no likely sentence has a date."""
    question = "When was Mohammad Javad Zarif born?"
    context = assistant._context(question, None, None, None, {})
    assert context is not None
    candidates = answering.collect_candidates(context)
    answering.confidence(candidates, context)
    ranked = sorted(candidates, key=lambda c: -c.score)
    dated = [c for c in ranked if c.fits_type]
    floor = ranked[0].score + float(np.log(answering.shipped_model().runner_up_share))
    best_dated = dated[0].score if dated else float("-inf")
    print(f"date rule '{question}': best sentence dated {ranked[0].fits_type}, best dated logit "
          f"{best_dated:.4f} vs floor {floor:.4f}: margin {floor - best_dated:.4f}")  # fmt: skip


def two_hop_margins(shared: Assistant, work: Path) -> None:
    """test_two_hop: first confidence in [threshold, BRIDGE_BELOW), the bridge search's
    confidence above the first plus HOP_GAIN."""
    import json

    from assistant.compose.bridge import BRIDGE_BELOW, HOP_GAIN, bridges
    from tests.test_two_hop import QUESTION_ID, SAMPLE

    question = next(q for q in json.loads(SAMPLE.read_text(encoding="utf-8")) if q["_id"] == QUESTION_ID)
    folder = work / "hotpot"
    folder.mkdir()
    for k, (title, sentences) in enumerate(question["context"]):
        (folder / f"p{k:02d}.txt").write_text(f"{title}\n\n{''.join(sentences).strip()}\n", encoding="utf-8")
    assistant = Assistant(work / "hotpot-index", Settings(index_dir=work / "hotpot-index"), shared.embedder)
    assistant.index_paths([folder])
    context = assistant._context(question["question"], None, None, None, {})
    assert context is not None and context.search_again is not None
    candidates = answering.collect_candidates(context)
    first = answering.confidence(candidates, context)
    threshold = assistant.settings.abstain_threshold
    print(f"two hop: first confidence {first:.4f}, margins {first - threshold:.4f} above the threshold, "
          f"{BRIDGE_BELOW - first:.4f} below {BRIDGE_BELOW}")  # fmt: skip
    for bridge in bridges(question["question"], [c.text for c in candidates], [c.score for c in candidates]):
        hop = context.search_again(bridge.query)
        assert hop is not None
        second = answering.confidence(answering.collect_candidates(hop), hop)
        print(f"    bridge {bridge.name!r}: confidence {second:.4f}, margin {second - first - HOP_GAIN:.4f}")


def ranking_margins(assistant: Assistant) -> None:
    """'Resolution 598' search: the top passage must be the Zarif chunk holding 598."""
    snapshot = assistant.snapshot()
    assert snapshot is not None
    for mode in ("dense", "keyword", "hybrid"):
        passages = assistant.search("Resolution 598", top_k=5, mode=mode)  # type: ignore[arg-type]
        shown = ", ".join(f"{p.chunk_id} {p.score:.4f}{' 598' if '598' in p.text else ''}" for p in passages)
        print(f"search 'Resolution 598' {mode}: {shown}")


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="margins-"))
    try:
        index_dir = work / "sample"
        sample = Assistant.open_or_create(index_dir, settings=Settings(index_dir=index_dir))
        sample.index_paths([CORPUS_DIR])
        for label, question, expected in SAMPLE_QUESTIONS:
            answer_margins(sample, label, question, expected)
        for label, question, expected, history in FOLLOW_UPS:
            answer_margins(sample, label, question, expected, history)
        ranking_margins(sample)
        date_rule_margin(sample)
        two_hop_margins(sample, work)
        for label, (name, text, question, expected) in EXTRA_DOCUMENTS.items():
            if label.startswith("web_ui"):  # the browser tests' own documents and questions
                import tests.test_web_ui as web

                text, question = getattr(web, text), getattr(web, question)
            folder = work / name.removesuffix(".txt")
            folder.mkdir()
            (folder / name).write_text(text, encoding="utf-8")
            other_dir = work / f"{folder.name}-index"
            if name == "alpha.txt":  # its test indexes only its own file
                roots = [folder]
            else:
                shutil.copytree(index_dir, other_dir)
                roots = [CORPUS_DIR, folder]
            other = Assistant(other_dir, Settings(index_dir=other_dir), sample.embedder)
            other.index_paths(roots)
            answer_margins(other, label, question, expected)
        late_pooling_margins(sample)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def late_pooling_margins(assistant: Assistant) -> None:
    """test_late_pooling: own-sentence cosine > 0.6 and > 0.25 above any other sentence's."""
    from tests.test_late_pooling import SENTENCES, _spans

    embedder = assistant.embedder
    text = " ".join(SENTENCES)
    _, (pooled,) = embedder.embed_with_spans([text], [_spans(text, SENTENCES)])  # type: ignore[attr-defined]
    similarity = pooled @ embedder.embed(SENTENCES).T
    own = np.diag(similarity)
    others = np.where(np.eye(len(SENTENCES), dtype=bool), -1.0, similarity).max(axis=1)
    print(
        f"late pooling: own min {own.min():.4f} (> 0.6), own - others min {(own - others).min():.4f} (> 0.25)"
    )


if __name__ == "__main__":
    main()
