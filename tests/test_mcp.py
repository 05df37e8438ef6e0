"""The MCP server end to end: `assistant mcp` as a subprocess, driven by the MCP SDK's own client."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from assistant.core import Assistant
from assistant.state.keys import KeyStore
from tests.conftest import CORPUS_DIR, EXAMPLE_QUESTION
from tests.helpers import (
    ACCESS_MARKER,
    ACCESS_QUESTION,
    SECRET_DOC,
    SURVEY_DOC,
    SURVEY_NAME,
    SURVEY_QUESTION,
    SURVEY_TEXT,
    index_with_sets,
)
from tests.mcp_client import McpClient, http_server, index_args, stdio_server

ZARIF = "zarif-how-iran-sees-the-path-to-peace"
PEZESHKIAN = "pezeshkian-foreign-policy-first-year"
READ_TOOLS = {"ask", "search", "get_document", "list_documents"}


@pytest.fixture(scope="module")
def mcp(sample_index_dir: Path) -> Iterator[McpClient]:
    with stdio_server(*index_args(sample_index_dir)) as client:
        yield client


def assert_quotes_are_slices(mcp: McpClient, citations: list[dict[str, Any]]) -> None:
    """Each quote is what get_document returns for its offsets (asked through the server)."""
    for citation in citations:
        piece = mcp.structured(
            "get_document", {"doc_id": citation["doc_id"], "start": citation["start"], "end": citation["end"]}
        )
        assert piece["text"] == citation["quote"]


def test_lists_the_read_only_tools_with_agent_descriptions(mcp: McpClient) -> None:
    tools = {tool.name: tool for tool in mcp.tools()}

    assert set(tools) == READ_TOOLS
    for tool in tools.values():
        assert tool.annotations is not None and tool.annotations.read_only_hint is True
        assert tool.description and len(tool.description) > 80
        assert tool.output_schema is not None
    assert "exact" in (tools["ask"].description or "")
    assert set(tools["ask"].input_schema["properties"]) == {"question", "doc_ids", "top_k", "history"}
    assert tools["ask"].input_schema["required"] == ["question"]


def test_ask_returns_the_answer_with_verifiable_citations(
    mcp: McpClient, sample_assistant: Assistant
) -> None:
    result = mcp.call("ask", {"question": EXAMPLE_QUESTION})

    assert not result.is_error
    data = result.structured_content
    assert data is not None
    assert "598" in data["answer"]
    assert data["abstained"] is False
    markers = {int(m) for m in re.findall(r"\[(\d+)\]", data["answer"])}
    assert markers == {c["marker"] for c in data["citations"]}
    assert ZARIF in {c["doc_id"] for c in data["citations"]}
    assert_quotes_are_slices(mcp, data["citations"])
    for citation in data["citations"]:
        stored = sample_assistant.get_document(citation["doc_id"]).text
        assert stored[citation["start"] : citation["end"]] == citation["quote"]
    text = result.content[0].text  # type: ignore[union-attr]
    assert text.startswith(data["answer"])
    assert f"[1] {data['citations'][0]['doc_id']} [" in text


def test_ask_with_a_document_filter_cites_only_that_document(mcp: McpClient) -> None:
    data = mcp.structured("ask", {"question": EXAMPLE_QUESTION, "doc_ids": [PEZESHKIAN], "top_k": 2})

    assert {c["doc_id"] for c in data["citations"]} <= {PEZESHKIAN}


def test_ask_reads_a_follow_up_against_the_history(mcp: McpClient) -> None:
    first_question = "Which UN resolution ended the war between Iran and Iraq?"
    first = mcp.structured("ask", {"question": first_question})
    history = [{"question": first_question, "answer": first["answer"]}]
    data = mcp.structured("ask", {"question": "When was that resolution adopted?", "history": history})

    assert data["standalone_question"] == "When was Resolution 598 adopted?"
    assert data["abstained"] is False and "1987" in data["answer"]


def test_unanswerable_question_abstains(mcp: McpClient) -> None:
    data = mcp.structured("ask", {"question": "Who won the 2022 FIFA World Cup?"})

    assert data["abstained"] is True
    assert data["citations"] == []


def test_search_ranks_passages_with_offsets_into_the_stored_text(mcp: McpClient) -> None:
    passages = mcp.structured("search", {"query": "Resolution 598", "top_k": 5})["passages"]

    assert [p["rank"] for p in passages] == list(range(1, len(passages) + 1))
    assert ZARIF in {p["doc_id"] for p in passages[:3]}
    for passage in passages:
        piece = mcp.structured(
            "get_document", {"doc_id": passage["doc_id"], "start": passage["start"], "end": passage["end"]}
        )
        assert piece["text"] == passage["text"]


def test_list_documents_matches_the_index(mcp: McpClient, sample_assistant: Assistant) -> None:
    documents = mcp.structured("list_documents")["documents"]

    assert {d["doc_id"] for d in documents} == {d.doc_id for d in sample_assistant.list_documents()}
    assert all(d["chars"] > 0 and d["chunks"] > 0 for d in documents)


def test_get_document_returns_the_whole_text_or_pages_it(mcp: McpClient, sample_assistant: Assistant) -> None:
    stored = sample_assistant.get_document(ZARIF).text
    whole = mcp.structured("get_document", {"doc_id": ZARIF})

    assert whole["length"] == len(stored)
    if len(stored) <= 20_000:
        assert whole["text"] == stored and whole["truncated"] is False
    else:
        assert whole["truncated"] is True and stored.startswith(whole["text"])
    tail = mcp.structured("get_document", {"doc_id": ZARIF, "start": len(stored) - 10})
    assert tail["text"] == stored[-10:]


def test_errors_are_tool_errors_and_the_server_keeps_serving(
    mcp: McpClient, sample_assistant: Assistant
) -> None:
    limit = sample_assistant.settings.max_question_chars
    unknown = mcp.call("get_document", {"doc_id": "no-such-document"})
    too_long = mcp.call("ask", {"question": "word " * limit})
    bad_range = mcp.call("get_document", {"doc_id": ZARIF, "start": 10, "end": 5})
    bad_top_k = mcp.call("search", {"query": "Resolution 598", "top_k": 0})

    for result, fragment in (
        (unknown, "no-such-document"),
        (too_long, "ASSISTANT_MAX_QUESTION_CHARS"),
        (bad_range, "start <= end"),
        (bad_top_k, "top_k"),
    ):
        assert result.is_error
        assert fragment in result.content[0].text  # type: ignore[union-attr]
        assert "Traceback" not in result.content[0].text  # type: ignore[union-attr]
    assert mcp.structured("list_documents")["documents"]


@pytest.fixture()
def writable_corpus(tmp_path: Path) -> Path:
    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS_DIR, corpus)
    return corpus


def test_indexing_needs_the_flag_and_stays_inside_the_corpus(
    mutable_index_dir: Path, writable_corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASSISTANT_PUBLIC_URL", "https://docs.example.org/")
    (writable_corpus / "new").mkdir()
    (writable_corpus / "new" / SURVEY_NAME).write_text(SURVEY_TEXT, encoding="utf-8")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("The vault code is 4711.", encoding="utf-8")
    (writable_corpus / "link.txt").symlink_to(outside / "secret.txt")
    args = [*index_args(mutable_index_dir), "--allow-indexing", "--corpus-dir", str(writable_corpus)]

    with stdio_server(*args) as mcp:
        tools = {tool.name: tool for tool in mcp.tools()}
        escape = mcp.call("index_documents", {"paths": [str(outside)]})
        dotdot = mcp.call("index_documents", {"paths": ["../outside/secret.txt"]})
        via_link = mcp.call("index_documents", {"paths": ["link.txt"]})
        indexed = mcp.structured("index_documents", {"paths": ["new"]})
        answer = mcp.structured("ask", {"question": SURVEY_QUESTION})
        documents = {d["doc_id"] for d in mcp.structured("list_documents")["documents"]}

    assert set(tools) == {*READ_TOOLS, "index_documents"}
    assert tools["index_documents"].annotations.read_only_hint is False  # type: ignore[union-attr]
    for refused in (escape, dotdot, via_link):
        assert refused.is_error
        assert "outside the corpus folders" in refused.content[0].text  # type: ignore[union-attr]
    assert indexed["added"] == [SURVEY_DOC]
    assert "412" in answer["answer"]
    citation = answer["citations"][0]
    assert citation["url"] == (
        f"https://docs.example.org/#/doc/{SURVEY_DOC}?start={citation['start']}&end={citation['end']}"
    )
    assert SURVEY_DOC in documents and "secret" not in documents and "link" not in documents


def test_streamable_http_transport_serves_the_same_tools(sample_index_dir: Path) -> None:
    with http_server(*index_args(sample_index_dir)) as mcp:
        names = {tool.name for tool in mcp.tools()}
        data = mcp.structured("ask", {"question": EXAMPLE_QUESTION})

    assert names == READ_TOOLS
    assert "598" in data["answer"]
    assert ZARIF in {c["doc_id"] for c in data["citations"]}


def test_without_an_index_the_command_says_how_to_build_one(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from assistant.cli import main

    result = CliRunner().invoke(main, ["mcp", "--index-dir", str(tmp_path / "missing")])

    assert result.exit_code == 1
    assert "assistant index build" in result.output
    assert "Traceback" not in result.output


# ---------------------------------------------------------------------------- document sets
@pytest.fixture(scope="module")
def sets_index(tmp_path_factory: pytest.TempPathFactory, sample_assistant: Assistant) -> Path:
    """ACCESS_DOCS indexed: the handbook in `default`, the marker's document in `hr` only."""
    return index_with_sets(tmp_path_factory.mktemp("mcp-sets"), sample_assistant).index_dir


def _every_tool(mcp: McpClient) -> str:
    """What all four read tools return for the planted question, as one lowercase text."""
    results = [
        mcp.call("ask", {"question": ACCESS_QUESTION}),
        mcp.call("search", {"query": ACCESS_QUESTION}),
        mcp.call("search", {"query": ACCESS_QUESTION, "doc_ids": [SECRET_DOC]}),
        mcp.call("list_documents"),
        mcp.call("get_document", {"doc_id": SECRET_DOC}),
    ]
    return "\n".join(str(r.structured_content) + str(r.content) for r in results).lower()


def test_without_a_key_the_tools_see_only_the_public_sets(sets_index: Path) -> None:
    with stdio_server(*index_args(sets_index)) as mcp:
        seen = _every_tool(mcp)
        missing = mcp.call("get_document", {"doc_id": SECRET_DOC})
        listed = {d["doc_id"] for d in mcp.structured("list_documents")["documents"]}

    assert ACCESS_MARKER not in seen.replace(f"'{SECRET_DOC}'", "")  # the error names the id asked for
    assert missing.is_error and "no document" in missing.content[0].text  # type: ignore[union-attr]
    assert listed == {"handbook"}


def test_the_mcp_key_decides_the_sets_and_a_revoked_key_stops_the_tools(sets_index: Path) -> None:
    keys = KeyStore.for_index(sets_index)
    key = keys.create("mcp-hr", ["hr"])
    with stdio_server(*index_args(sets_index), env={"ASSISTANT_MCP_KEY": key}) as mcp:
        listed = {d["doc_id"] for d in mcp.structured("list_documents")["documents"]}
        seen = _every_tool(mcp)
        assert keys.revoke("mcp-hr")
        refused = mcp.call("search", {"query": ACCESS_QUESTION})

    assert listed == {SECRET_DOC}
    assert f"{ACCESS_MARKER} grade seven" in seen
    assert refused.is_error and "revoked" in refused.content[0].text  # type: ignore[union-attr]


def test_an_unknown_mcp_key_fails_at_start_with_a_clear_message(sets_index: Path) -> None:
    from click.testing import CliRunner

    from assistant.cli import main

    result = CliRunner().invoke(
        main, ["mcp", *index_args(sets_index)], env={"ASSISTANT_MCP_KEY": "ak_nobody-issued-this"}
    )

    assert result.exit_code == 1
    assert "ASSISTANT_MCP_KEY is not a key of this index" in result.output
    assert "ak_nobody-issued-this" not in result.output


def test_a_scoped_mcp_key_may_not_index(mutable_index_dir: Path, writable_corpus: Path) -> None:
    key = KeyStore.for_index(mutable_index_dir).create("mcp-reader", ["default"])
    args = [*index_args(mutable_index_dir), "--allow-indexing", "--corpus-dir", str(writable_corpus)]
    with stdio_server(*args, env={"ASSISTANT_MCP_KEY": key}) as mcp:
        refused = mcp.call("index_documents", {"paths": None})
        listed = mcp.structured("list_documents")["documents"]

    assert refused.is_error and "indexing needs an admin key" in refused.content[0].text  # type: ignore[union-attr]
    assert len(listed) == 2  # the sample corpus, unchanged


def test_each_tool_call_leaves_an_audit_line_with_the_key_name_and_documents(
    sets_index: Path, sample_assistant: Assistant, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    import anyio
    from mcp import Client
    from pydantic import SecretStr

    from assistant.mcp import build_server
    from assistant.settings import Settings

    key = KeyStore.for_index(sets_index).create("mcp-audit", ["hr"])
    settings = Settings(index_dir=sets_index, mcp_key=SecretStr(key))
    server = build_server(Assistant(sets_index, settings, sample_assistant.embedder))

    async def run() -> None:
        async with Client(server) as client:
            await client.call_tool("search", {"query": ACCESS_QUESTION})
            await client.call_tool("get_document", {"doc_id": "handbook"})  # not in `hr`: an error

    with caplog.at_level(logging.INFO, logger="assistant.audit"):
        anyio.run(run)
    lines = [r.fields for r in caplog.records if r.name == "assistant.audit"]  # type: ignore[attr-defined]
    assert [(line["method"], line["route"], line["status"]) for line in lines] == [
        ("MCP", "search", "ok"),
        ("MCP", "get_document", "error"),
    ]
    assert all(line["key"] == "mcp-audit" for line in lines)
    assert lines[0]["doc_ids"] == [SECRET_DOC] and lines[1]["doc_ids"] == []
    assert all(key not in str(line) for line in lines)
