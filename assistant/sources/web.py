"""A website as a Source: pages found from the sitemap and same-host links, robots.txt obeyed.

Listing crawls: every page is requested once per sync, conditionally (If-None-Match /
If-Modified-Since from the last sync), so an unchanged page costs a 304 and keeps its version.
The main text of an HTML page is extracted with trafilatura (boilerplate such as menus and
footers is a web concern, so it is dropped here, at the source); the page URL is the location,
so citations, the viewer and Slack link to the page.
"""

from __future__ import annotations

import hashlib
import logging
import urllib.error
import urllib.request
import urllib.robotparser
import xml.etree.ElementTree as ET
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urldefrag, urljoin, urlsplit

from bs4 import BeautifulSoup

from assistant.errors import ConfigError, FileTooLargeError
from assistant.models import SkippedFile
from assistant.sources.protocol import Fetched, ItemChangedError, Listing, SourceItem

log = logging.getLogger(__name__)

USER_AGENT = "assistant-sync/1"
TIMEOUT_SECONDS = 10.0
#: the largest page read (bytes); a bigger one is skipped with the reason
MAX_PAGE_BYTES = 5_000_000
#: media types kept as they are (the loader reads them by this extension)
_PASS_THROUGH = {"text/plain": ".txt", "text/markdown": ".md", "application/pdf": ".pdf"}
_HTML = ("text/html", "application/xhtml+xml")


@dataclass(slots=True)
class PageState:
    """What the last sync learnt of a page: its validators, version and outgoing links."""

    version: str
    etag: str | None = None
    last_modified: str | None = None
    links: list[str] = field(default_factory=list)


class _Gone(Exception):
    """The page answered 404 or 410: it is not listed, so a sync removes it."""


@dataclass(slots=True)
class WebSource:
    """Pages of one website, starting at `url`; `pages` carries state from one sync to the next."""

    url: str
    max_pages: int = 100
    same_host: bool = True
    pages: dict[str, PageState] = field(default_factory=dict)
    _bodies: dict[str, Fetched] = field(default_factory=dict, repr=False)
    _previous: set[str] = field(default_factory=set, repr=False)

    def __post_init__(self) -> None:
        if urlsplit(self.url).scheme not in ("http", "https"):
            raise ConfigError(f"a web source needs an http(s) URL, not '{self.url}'")
        if self.max_pages < 1:
            raise ConfigError(f"--max-pages must be at least 1, not {self.max_pages}")

    @property
    def name(self) -> str:
        return f"web {self.url}"

    def owns(self, item_id: str) -> bool:
        return _host(item_id) == _host(self.url) or item_id in self._previous

    def _allowed(self, url: str) -> bool:
        if urlsplit(url).scheme not in ("http", "https"):
            return False
        return not self.same_host or _host(url) == _host(self.url)

    def list_items(self, max_bytes: int) -> Listing:
        del max_bytes  # a page's size is known once fetched, where it is checked
        listing = Listing()
        self._previous = set(self.pages)
        robots = _robots(self.url)
        queue: deque[str] = deque([_clean(self.url)])
        queue.extend(_clean(u) for u in _sitemap_urls(self.url, robots) if self._allowed(u))
        seen: set[str] = set()
        while queue and len(listing.items) < self.max_pages:
            url = queue.popleft()
            if url in seen:
                continue
            seen.add(url)
            if not robots.can_fetch(USER_AGENT, url):
                listing.skipped.append(SkippedFile(path=url, reason="excluded by robots.txt"))
                continue
            try:
                state = self._visit(url)
            except _Gone:
                self.pages.pop(url, None)
                continue
            except Exception as exc:  # one bad page is reported, the crawl goes on
                reason = str(exc) or type(exc).__name__
                listing.skipped.append(SkippedFile(path=url, reason=reason))
                old = self.pages.get(url)
                if old is not None:  # a page that failed for now keeps what was indexed
                    listing.items.append(SourceItem(url, old.version, url, url))
                continue
            listing.items.append(SourceItem(url, state.version, url, url))
            queue.extend(link for link in state.links if self._allowed(link) and link not in seen)
        return listing

    def _visit(self, url: str) -> PageState:
        old = self.pages.get(url)
        headers: dict[str, str] = {}
        if old is not None and old.etag:
            headers["If-None-Match"] = old.etag
        if old is not None and old.last_modified:
            headers["If-Modified-Since"] = old.last_modified
        try:
            with _open(url, headers) as r:
                body = _read_capped(r, MAX_PAGE_BYTES)
                media_type = r.headers.get_content_type()
                etag, modified = r.headers.get("ETag"), r.headers.get("Last-Modified")
                final_url = _clean(r.geturl())
        except urllib.error.HTTPError as exc:
            if exc.code == 304 and old is not None:
                return old
            if exc.code in (404, 410):
                raise _Gone from exc
            raise OSError(f"HTTP {exc.code} {exc.reason}") from exc
        except urllib.error.URLError as exc:
            raise OSError(f"cannot fetch: {exc.reason}") from exc
        fetched, links = _parse(body, media_type, url, final_url)
        version = etag or modified or hashlib.sha256(body).hexdigest()
        state = PageState(version, etag, modified, links)
        self.pages[url] = state
        self._bodies[url] = fetched
        return state

    def fetch(self, item: SourceItem, max_bytes: int) -> Fetched:
        fetched = self._bodies.get(item.id)
        if fetched is None:  # not fetched in this listing (e.g. a re-chunk): request it now
            self.pages.pop(item.id, None)
            try:
                self._visit(item.id)
            except _Gone as exc:
                raise ItemChangedError("page is gone") from exc
            fetched = self._bodies[item.id]
        if len(fetched.data) > max_bytes:
            raise FileTooLargeError(
                f"page too large: {len(fetched.data):,} bytes, the limit is {max_bytes:,}"
            )
        return fetched

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": "web",
            "url": self.url,
            "max_pages": self.max_pages,
            "same_host": self.same_host,
            "pages": {u: asdict(s) for u, s in self.pages.items()},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> WebSource:
        pages = {u: PageState(**s) for u, s in data.get("pages", {}).items()}
        return cls(data["url"], int(data["max_pages"]), bool(data["same_host"]), pages)


def _open(url: str, headers: dict[str, str] | None = None) -> Any:
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, **(headers or {})})
    return urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS)


def _host(url: str) -> str:
    return urlsplit(url).netloc.lower()


def _clean(url: str) -> str:
    return urldefrag(url)[0]


def _read_capped(response: Any, limit: int) -> bytes:
    length = response.headers.get("Content-Length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise FileTooLargeError(f"page too large: {int(length):,} bytes, the limit is {limit:,}")
    body: bytes = response.read(limit + 1)
    if len(body) > limit:
        raise FileTooLargeError(f"page too large: over {limit:,} bytes")
    return body


def _parse(body: bytes, media_type: str, url: str, final_url: str) -> tuple[Fetched, list[str]]:
    """The page's main text (or the file as it is) and the links it holds."""
    stem = urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1].rsplit(".", 1)[0] or "index"
    if media_type in _PASS_THROUGH:
        return Fetched(body, media_type, stem + _PASS_THROUGH[media_type]), []
    if media_type not in _HTML:
        raise OSError(f"unsupported media type '{media_type}'")
    import trafilatura

    html = body.decode("utf-8", errors="replace")
    soup = BeautifulSoup(html, "html.parser")
    links = [_clean(urljoin(final_url, str(a["href"]))) for a in soup.find_all("a", href=True)]
    text = trafilatura.extract(html, url=final_url, include_comments=False, include_tables=True) or ""
    if not text.strip():
        raise OSError("no main text on the page")
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    data = f"{title}\n\n{text}\n" if title else f"{text}\n"
    return Fetched(data.encode("utf-8"), "text/plain", stem + ".txt"), links


def _robots(start: str) -> urllib.robotparser.RobotFileParser:
    """robots.txt of the site (a missing one allows everything)."""
    parser = urllib.robotparser.RobotFileParser()
    try:
        with _open(urljoin(start, "/robots.txt")) as r:
            parser.parse(r.read(MAX_PAGE_BYTES).decode("utf-8", errors="replace").splitlines())
    except (urllib.error.URLError, OSError):
        parser.parse([])
    return parser


def _sitemap_urls(start: str, robots: urllib.robotparser.RobotFileParser) -> list[str]:
    """Page URLs from the sitemaps robots.txt names, or /sitemap.xml."""
    sitemaps = robots.site_maps() or [urljoin(start, "/sitemap.xml")]
    urls: list[str] = []
    for sitemap in sitemaps:
        try:
            with _open(sitemap) as r:
                root = ET.fromstring(_read_capped(r, MAX_PAGE_BYTES))
        except (urllib.error.URLError, OSError, ET.ParseError):
            continue
        urls.extend((loc.text or "").strip() for loc in root.iter() if loc.tag.endswith("loc"))
    return [u for u in urls if u]
