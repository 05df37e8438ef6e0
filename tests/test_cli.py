"""The `assistant` command's human output, through click's CliRunner with the real model and index."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner

from assistant.cli import main
from assistant.compose.extractive import ABSTAIN_TEXT
from assistant.compose.outcome import TENTATIVE_NOTE
from assistant.models import Answer
from tests.conftest import CORPUS_DIR, EXAMPLE_QUESTION

ZARIF = "zarif-how-iran-sees-the-path-to-peace"
#: `assistant ask` wraps the answer at this width (quotes are indented, so narrower)
ANSWER_WIDTH = 88
SOURCE_LINE = re.compile(r"^  \[(\d+)\] (.+) \((.+):(\d+)-(\d+)\)$")


def _squeeze(text: str) -> str:
    return "".join(text.split())


def _ask(index_dir: Path, question: str, *extra: str) -> str:
    result = CliRunner().invoke(main, ["ask", question, "--index-dir", str(index_dir), *extra])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_ask_prints_the_wrapped_answer_then_its_sources_with_quotes(sample_index_dir: Path) -> None:
    answer = Answer.model_validate_json(_ask(sample_index_dir, EXAMPLE_QUESTION, "--json"))
    assert not answer.abstained and answer.citations

    output = _ask(sample_index_dir, EXAMPLE_QUESTION)
    head, _, sources = output.partition("\nSources:\n")
    assert sources, output
    assert all(len(line) <= ANSWER_WIDTH for line in head.splitlines())
    # textwrap breaks lines at spaces and after hyphens ("Iran-|Iraq"): compare without whitespace
    note = f"! {TENTATIVE_NOTE}" if answer.tentative else ""  # the mark, when below the confident threshold
    assert _squeeze(head) == _squeeze(answer.answer + note)

    lines = sources.splitlines()
    found = [m for m in map(SOURCE_LINE.match, lines) if m]
    assert [int(m.group(1)) for m in found] == [c.marker for c in answer.citations]
    for match, citation in zip(found, answer.citations, strict=True):
        assert match.group(2) == citation.title
        assert (match.group(3), int(match.group(4)), int(match.group(5))) == (
            citation.source,
            citation.start,
            citation.end,
        )
    assert any(c.doc_id == ZARIF for c in answer.citations)
    # each quote follows its source line, indented, in quotation marks
    quotes = _squeeze("".join(line for line in lines if not SOURCE_LINE.match(line)))
    for citation in answer.citations:
        assert f"“{_squeeze(citation.quote)}”" in quotes


def test_ask_abstention_shows_the_closest_passages(sample_index_dir: Path) -> None:
    output = _ask(sample_index_dir, "What is the recipe for a chocolate cake?")
    assert output.startswith(ABSTAIN_TEXT)
    assert "Sources:" not in output
    _, _, closest = output.partition("\nClosest passages:\n")
    passages = [line for line in closest.splitlines() if line.startswith("  - ")]
    assert 1 <= len(passages) <= 3, output


def test_index_build_exits_3_and_names_each_skipped_file(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / f"{ZARIF}.txt").write_bytes((CORPUS_DIR / f"{ZARIF}.txt").read_bytes())
    (folder / "empty.txt").write_text("")
    (folder / "notes.xyz").write_text("an unsupported kind of file")

    result = CliRunner().invoke(main, ["index", "build", str(folder), "--index-dir", str(tmp_path / "index")])

    assert result.exit_code == 3, result.output
    assert re.search(r"\b1 documents\b", result.stdout), result.stdout
    assert "Skipped 2 file(s):" in result.stderr
    listed = [line.strip().split(": ", 1) for line in result.stderr.splitlines() if line.startswith("  ")]
    skipped = {path: reason for path, reason in listed}
    assert {Path(path).name for path in skipped} == {"empty.txt", "notes.xyz"}
    assert all(reason for reason in skipped.values())
    assert "unsupported" in next(r for p, r in skipped.items() if p.endswith("notes.xyz"))
    assert "Traceback" not in result.output
