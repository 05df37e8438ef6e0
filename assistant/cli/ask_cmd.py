"""`assistant ask`: one question, answered with its sources (or the Answer JSON)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import click

from assistant.cli.common import command_settings, friendly_errors, index_dir_option, load_assistant
from assistant.compose.outcome import TENTATIVE_NOTE
from assistant.models import Answer


@click.command("ask")
@click.argument("question")
@index_dir_option
@click.option("--top-k", type=click.IntRange(1, 100), default=None, help="Passages to retrieve.")
@click.option("--doc", "doc_ids", multiple=True, help="Only search this doc_id (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print the Answer JSON contract.")
@friendly_errors
def ask_command(
    question: str,
    index_dir: Path | None,
    top_k: int | None,
    doc_ids: tuple[str, ...],
    as_json: bool,
) -> None:
    """Answer QUESTION from the indexed documents, citing every sentence."""
    from assistant.models import SearchFilters

    assistant = load_assistant(command_settings(index_dir=index_dir))
    filters = SearchFilters(doc_ids=list(doc_ids)) if doc_ids else None
    answer = assistant.ask(question, top_k=top_k, filters=filters)
    click.echo(answer.model_dump_json(indent=2) if as_json else render(answer))


def render(answer: Answer) -> str:
    """The answer for a terminal: wrapped text, then numbered sources with their quotes."""
    lines = [textwrap.fill(answer.answer, width=88), ""]
    if answer.tentative:
        lines[1:1] = ["", f"! {TENTATIVE_NOTE}"]
    if answer.abstained:
        if answer.passages:
            lines.append("Closest passages:")
            for passage in answer.passages[:3]:
                snippet = textwrap.shorten(passage.text, 160)
                lines.append(f"  - {passage.title or passage.doc_id}: {snippet}")
        return "\n".join(lines)
    lines.append("Sources:")
    for citation in answer.citations:
        where = f"{citation.source}:{citation.start}-{citation.end}"
        lines.append(f"  [{citation.marker}] {citation.title} ({where})")
        quote = textwrap.fill(" ".join(citation.quote.split()), width=84)
        lines.append(textwrap.indent(f"“{quote}”", "      "))
    return "\n".join(lines)
