"""A regex sentence splitter that returns character spans, tuned for news and policy prose.

Why our own: NLTK's punkt and spaCy need model downloads, and citations need exact
offsets, not re-joined strings. The rules cover what broke simpler splitters on this
kind of text: abbreviations ("U.S.", "Mr.", "e.g."), initials, decimals, numbered list
markers, closing quotes after the period, headings without punctuation, and paragraphs
broken by a page break in mid-sentence. Every step is a bounded look around a regex
match, so the whole pass is linear in the text length.
"""

from __future__ import annotations

import re

from assistant.models import Span

# Longest sentence kept whole; longer runs (no punctuation at all) are cut at whitespace.
MAX_SENTENCE_CHARS = 1000
# A paragraph that is a single line at most this long and has no final punctuation is a heading.
HEADING_MAX_CHARS = 100

_TERMINAL = ".!?…"
_CLOSERS = "\"'”’»)]}"
_OPENERS = "\"'“‘«([{"

# Punctuation run, optional closing quotes/brackets, then whitespace: a candidate end.
_CANDIDATE = re.compile(r"[.!?…]+[\"'”’»)\]}]*(?=\s)")
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n\s*")
# A new line that starts a list item ("- x", "• x", "2. x", "3) x") starts a sentence.
_LIST_ITEM = re.compile(r"\n[ \t]*(?:[-*•+]|\d{1,3}[.)])[ \t]+(?=\S)")
_DOTTED_ACRONYM = re.compile(r"(?:[^\W\d_]\.)+[^\W\d_]")
_WORD = re.compile(r"[^\W\d_]+")


def _words(words: str) -> frozenset[str]:
    return frozenset(words.split())


# Never end a sentence: titles and Latin abbreviations that always precede more text.
_NEVER_FINAL = _words(
    "mr mrs ms dr prof st rev hon gen col lt sgt capt cmdr adm maj sen rep gov pres amb "
    "e.g i.e cf vs viz fig figs vol pp approx ca esp incl dept mt messrs mme mlle"
)
# Precede a number ("No. 5", "Art. 2", "Jan. 5"): no end when a digit follows.
_BEFORE_NUMBER = _words("no nos art arts sec ch para jan feb mar apr jun jul aug sep sept oct nov dec")
# Can end a sentence, but usually do not: end only before a typical sentence opener.
_RARELY_FINAL = _words("jr sr inc ltd co corp bros jan feb mar apr jun jul aug sep sept oct nov dec")
_SENTENCE_OPENERS = _words(
    "a an the this that these those it its he she they we i you his her their our my "
    "but and or so yet however meanwhile moreover furthermore therefore thus still also "
    "in on at as if when while after before since during for from by with to there here "
    "what who why how where which some many most all no not one two each every another "
    "such then now later today yesterday tomorrow according despite although though"
)


def split_sentences(text: str, start: int = 0, end: int | None = None) -> list[Span]:
    """Sentence spans of text[start:end], trimmed, in order, covering all non-whitespace.

    Paragraph breaks end a sentence unless the next paragraph starts in lowercase after
    an unfinished one (a page break mid-sentence). Sentences longer than
    MAX_SENTENCE_CHARS are cut at whitespace (hard cut when there is none).
    """
    stop = len(text) if end is None else min(end, len(text))
    start = max(0, start)
    if start >= stop:
        return []
    cuts = sorted(
        {*_paragraph_cuts(text, start, stop), *_list_cuts(text, start, stop),
         *_punctuation_cuts(text, start, stop)}
    )  # fmt: skip
    spans: list[Span] = []
    left = start
    for cut in [*cuts, stop]:
        span = _trim(text, left, cut)
        if span is not None:
            spans.extend(_limit_length(text, span))
        left = cut
    return spans


def _trim(text: str, start: int, end: int) -> Span | None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return Span(start, end) if start < end else None


def _limit_length(text: str, span: Span) -> list[Span]:
    """Cut a run longer than MAX_SENTENCE_CHARS at its last whitespace within the limit."""
    if span.end - span.start <= MAX_SENTENCE_CHARS:
        return [span]
    pieces: list[Span] = []
    left = span.start
    while span.end - left > MAX_SENTENCE_CHARS:
        limit = left + MAX_SENTENCE_CHARS
        cut = max(text.rfind(" ", left + 1, limit + 1), text.rfind("\n", left + 1, limit + 1))
        if cut <= left:
            cut = limit
        piece = _trim(text, left, cut)
        if piece is not None:
            pieces.append(piece)
        left = cut
        while left < span.end and text[left].isspace():
            left += 1
    if left < span.end:
        pieces.append(Span(left, span.end))
    return pieces


# --- paragraph and list boundaries ------------------------------------------------------


def _paragraph_cuts(text: str, start: int, stop: int) -> list[int]:
    cuts: list[int] = []
    paragraph_start = start
    for match in _PARAGRAPH_BREAK.finditer(text, start, stop):
        previous = _trim(text, paragraph_start, match.start())
        paragraph_start = match.end()
        if previous is None or match.end() >= stop:
            continue
        if _continues_previous(text, previous, text[match.end()]):
            continue
        cuts.append(match.start())
    return cuts


def _continues_previous(text: str, previous: Span, following: str) -> bool:
    """A lowercase paragraph after an unfinished one that is not a heading: a page break.

    Body paragraphs almost never start in lowercase, so one that does continues the
    previous paragraph's sentence, unless that paragraph is a heading.
    """
    if not following.islower() or _ends_with_terminal(text, previous):
        return False
    return not _is_heading(text, previous)


def _ends_with_terminal(text: str, span: Span) -> bool:
    position = span.end - 1
    while position > span.start and text[position] in _CLOSERS:
        position -= 1
    return text[position] in _TERMINAL


def looks_like_heading(sentence: str) -> bool:
    """A title or heading line: it answers nothing, and a paragraph after it starts a sentence.

    The one heading rule of the project (the splitter and the composer both use it): a short
    single line without closing punctuation, in title case or capitals ("POLITICS IS LOCAL",
    "Hitting Reset", "December 2, 2024").
    """
    span = Span(0, len(sentence))
    return bool(sentence.strip()) and not _ends_with_terminal(sentence, span) and _is_heading(sentence, span)


def _is_heading(text: str, span: Span) -> bool:
    """A short single line in title case or capitals (the caller checks the punctuation)."""
    if span.end - span.start > HEADING_MAX_CHARS or text.find("\n", span.start, span.end) >= 0:
        return False
    words = _WORD.findall(text, span.start, span.end)
    capitalised = sum(word[0].isupper() for word in words)
    return bool(words) and capitalised * 2 >= len(words)


def _list_cuts(text: str, start: int, stop: int) -> list[int]:
    return [match.start() for match in _LIST_ITEM.finditer(text, start, stop)]


# --- punctuation ------------------------------------------------------------------------


def _punctuation_cuts(text: str, start: int, stop: int) -> list[int]:
    cuts: list[int] = []
    for match in _CANDIDATE.finditer(text, start, stop):
        if _ends_sentence(text, match, start, stop):
            cuts.append(match.end())
    return cuts


def _ends_sentence(text: str, match: re.Match[str], start: int, stop: int) -> bool:
    punctuation = match.group(0).rstrip(_CLOSERS)
    following_at = _next_word_start(text, match.end(), stop)
    if following_at is None:
        return False  # only whitespace (or a blank line) follows: the paragraph rules decide
    following = text[following_at]
    if following.islower():
        return False
    if "…" in punctuation or ".." in punctuation:
        return False  # an ellipsis trails off inside a sentence
    if punctuation != ".":
        return True  # "!" and "?" (and "?!") end a sentence before anything but lowercase
    return not _is_abbreviation(text, match.start(), start, following_at)


def _next_word_start(text: str, position: int, stop: int) -> int | None:
    """Index of the first character after the whitespace and opening quotes, or None."""
    newlines = 0
    while position < stop and text[position].isspace():
        newlines += text[position] == "\n"
        position += 1
    if position >= stop or newlines >= 2:
        return None
    for _ in range(4):
        if position < stop - 1 and text[position] in _OPENERS:
            position += 1
    return position


def _is_abbreviation(text: str, period: int, start: int, following_at: int) -> bool:
    """Whether the period at `period` belongs to the word before it (no sentence end)."""
    token_start = period
    limit = max(start, period - 40)
    while token_start > limit and not text[token_start - 1].isspace():
        token_start -= 1
    token = text[token_start:period].lstrip(_OPENERS)
    if not token:
        return False
    word = token.lower()
    following = text[following_at]
    if word in _NEVER_FINAL:
        return True
    if word in _BEFORE_NUMBER and following.isdigit():
        return True
    if token.isdigit() and len(token) <= 3 and _starts_line(text, token_start, start):
        return True  # "1. Striking a balance": a list marker, not the end of a sentence
    if word in _RARELY_FINAL or _DOTTED_ACRONYM.fullmatch(token) or _is_initial(token):
        return not _opens_sentence(text, following_at)
    return False


def _is_initial(token: str) -> bool:
    return len(token) == 1 and token.isupper()


def _starts_line(text: str, position: int, start: int) -> bool:
    while position > start and text[position - 1] in " \t":
        position -= 1
    return position <= start or text[position - 1] == "\n"


def _opens_sentence(text: str, position: int) -> bool:
    match = _WORD.match(text, position, position + 30)
    return match is not None and match.group(0).lower() in _SENTENCE_OPENERS
