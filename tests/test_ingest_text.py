"""decode_bytes and normalise_text: encodings, binary refusal, hyphen repair."""

from __future__ import annotations

import codecs

import pytest

from assistant.errors import LoadError
from assistant.ingest import decode_bytes, normalise_text
from tests.conftest import CORPUS_DIR


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ("Café “quoted”".encode(), "Café “quoted”"),
        (codecs.BOM_UTF8 + "Café".encode(), "Café"),
        ("Café\nline".encode("utf-16"), "Café\nline"),
        (codecs.BOM_UTF16_BE + "Zürich".encode("utf-16-be"), "Zürich"),
        ("“Smart” quotes – dash".encode("cp1252"), "“Smart” quotes – dash"),
        (b"caf\xe9 \x81", "caf\xe9 \x81"),  # 0x81 is undefined in cp1252: latin-1 fallback
    ],
)
def test_decode_bytes_detects_encoding(data: bytes, expected: str) -> None:
    assert decode_bytes(data) == expected


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"PK\x03\x04\x14\x00\x00\x00text", "NUL"),
        (bytes(range(1, 9)) * 100 + b"some words", "control"),
    ],
)
def test_decode_bytes_refuses_binary(data: bytes, reason: str) -> None:
    with pytest.raises(LoadError, match=f"binary file, not text .*{reason}"):
        decode_bytes(data)


def test_decode_bytes_allows_a_few_control_characters() -> None:
    text = "plain text\x1b[0m with one escape sequence " * 3
    assert decode_bytes(text.encode()) == text


def test_normalise_line_endings_and_controls() -> None:
    raw = "one\r\ntwo\rthree\x00 four\x07\tfive\x0csix\x7f"
    assert normalise_text(raw) == "one\ntwo\nthree four\tfive\nsix"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("build a re-\n\ngional alliance", "build a regional alliance"),
        ("a re-\ngional one", "a regional one"),
        ("a re- \n  gional one", "a regional one"),
        ("well-known", "well-known"),  # no line break: untouched
        ("the Iran-\nIraq War", "the Iran-\nIraq War"),  # capital after the break: a real hyphen
        ("list:\n-\nitem", "list:\n-\nitem"),  # no letter before the hyphen
        ("1990-\n2000", "1990-\n2000"),
    ],
)
def test_normalise_rejoins_only_hyphenated_words(raw: str, expected: str) -> None:
    assert normalise_text(raw) == expected


def test_normalise_is_idempotent() -> None:
    raw = "a-\nb-\nc\r\n\r\nx\x00y re-\n\ngional"
    once = normalise_text(raw)
    assert once == "abc\n\nxy regional"
    assert normalise_text(once) == once


def test_normalise_repairs_the_sample_corpus() -> None:
    raw = (CORPUS_DIR / "pezeshkian-foreign-policy-first-year.txt").read_text(encoding="utf-8")
    assert "re-\n\ngional alliance" in raw
    text = normalise_text(raw)
    assert "build a regional alliance" in text
    assert "re-\n" not in text
    # Nothing but the broken word changed: removing the break reproduces the output.
    assert text == raw.replace("re-\n\ngional", "regional")
