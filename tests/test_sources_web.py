"""A website source against a real local HTTP server: sitemap, links, robots.txt, conditional
requests, pages that change or vanish, a redirect loop, a huge page, a non-HTML file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from assistant.cli import main
from assistant.core import Assistant
from assistant.errors import ConfigError
from assistant.sources.web import MAX_PAGE_BYTES, WebSource
from tests.helpers import assert_contract, assistant_on
from tests.site_server import Site, serve_site

LIGHTHOUSE = "When was the harbour lighthouse painted red?"


def _build(site: Site) -> None:
    site.routes["/robots.txt"] = (
        200,
        "text/plain",
        f"User-agent: *\nDisallow: /private/\nSitemap: {site.base}/sitemap.xml\n".encode(),
    )
    urls = ["/lighthouse.html", "/gone-404.html", "/ferry.html", "/huge.html", "/notes.txt", "/data.bin"]
    locs = "".join(f"<url><loc>{site.base}{u}</loc></url>" for u in urls)
    site.routes["/sitemap.xml"] = (200, "application/xml", f"<urlset>{locs}</urlset>".encode())
    site.page(
        "/",
        "Harbour Guide",
        "The harbour guide lists the sights of the old port town.",
        links=("/lighthouse.html", "/market.html", "/loop", "/private/secret.html", "mailto:x@y.z"),
    )
    site.page(
        "/lighthouse.html",
        "The Lighthouse",
        "The harbour lighthouse was painted red in 1921, after a storm damaged its white tower.",
        "Keepers lived in the lighthouse until the light was automated in 1968.",
    )
    site.page(
        "/market.html",
        "The Market",
        "The fish market opens at five in the morning on weekdays.",
        "Traders sell cod, herring and mackerel from the northern banks.",
    )
    site.page("/ferry.html", "The Ferry", "The ferry to the island leaves every forty minutes in summer.")
    site.page("/private/secret.html", "Secret", "The secret vault code is seven seven three.")
    site.redirects["/loop"] = "/loop"
    site.routes["/huge.html"] = (
        200,
        "text/html",
        b"<html><body>" + b"x" * (MAX_PAGE_BYTES + 10) + b"</body></html>",
    )
    site.routes["/notes.txt"] = (
        200,
        "text/plain",
        b"Tide notes\n\nHigh tide at the quay comes at noon today.\n",
    )
    site.routes["/data.bin"] = (200, "application/octet-stream", b"\x00\x01\x02")


@pytest.fixture()
def site() -> Iterator[Site]:
    with serve_site() as served:
        _build(served)
        yield served


def test_crawl_sync_and_resync(site: Site, tmp_path: Path, sample_assistant: Assistant) -> None:
    assistant = assistant_on(tmp_path / "index", sample_assistant)
    assistant.sources().add(WebSource(site.base + "/", max_pages=20))
    [status] = assistant.sync_registered()
    docs = {d.source: d.doc_id for d in assistant.list_documents()}
    pages = {site.base + p for p in ("/", "/lighthouse.html", "/market.html", "/ferry.html", "/notes.txt")}
    assert set(docs) == pages
    reasons = {e.path.removeprefix(site.base): e.reason for e in status.errors}
    assert reasons["/private/secret.html"] == "excluded by robots.txt"
    assert "/private/secret.html" not in site.requests
    assert "HTTP 302" in reasons["/loop"]
    assert "too large" in reasons["/huge.html"]
    assert "unsupported media type" in reasons["/data.bin"]
    assert "/gone-404.html" not in reasons  # a missing page is simply not there
    answer = assistant.ask(LIGHTHOUSE)
    assert "1921" in answer.answer
    assert answer.citations[0].source == site.base + "/lighthouse.html"
    assert_contract(answer, assistant)
    text = assistant.get_document(docs[site.base + "/lighthouse.html"]).text
    assert "Site footer" not in text  # main text only

    site.page(
        "/ferry.html", "The Ferry", "The ferry to the island now leaves every twenty minutes in summer."
    )
    site.routes["/market.html"] = (410, "text/plain", b"gone")
    before = site.not_modified
    [status] = assistant.sync_registered()
    assert status.counts["replaced"] == 1 and status.counts["removed"] == 1
    assert status.counts["unchanged"] == 3
    assert site.not_modified - before >= 3  # the unchanged pages answered 304
    assert site.base + "/market.html" not in {d.source for d in assistant.list_documents()}
    assert "twenty" in assistant.ask("How often does the ferry to the island leave?").answer
    assert all(
        p.doc_id != docs[site.base + "/market.html"] for p in assistant.search("fish market cod", top_k=5)
    )


def test_cli_add_list_and_bad_url(site: Site, tmp_path: Path) -> None:
    runner = CliRunner()
    index = str(tmp_path / "index")
    add = ["sources", "add", "web", site.base + "/", "--index-dir", index]
    added = runner.invoke(main, [*add, "--max-pages", "3"])
    assert added.exit_code == 0, added.output
    assert "web-1" in added.output
    listed = runner.invoke(main, ["sources", "list", "--index-dir", index])
    assert listed.exit_code == 0 and "never synced" in listed.output
    again = runner.invoke(main, add)
    assert again.exit_code == 1 and "registered already" in again.output
    with pytest.raises(ConfigError, match="http"):
        WebSource("ftp://example.org/")
