"""The Milvus backend's collections, their fields and indexes, and the row-visibility rule.

Every collection but `meta` holds rows of one document generation: `doc_key` ("doc_id@gen") names
it and `gen` is the version that added it. Rows are never updated. A version V sees the rows with
`gen <= V` whose doc_key has no tombstone at or below V, so a reader keeps one version while a
writer adds rows of V+1 and tombstones, and only the `live` row in `meta` (one upsert) makes the
next version visible.

Collections (names prefixed with settings.milvus_collection_prefix):

    meta        key -> JSON value: `live` (version and manifest), `lock` (the writer's lease)
    documents   one row per document generation: metadata, counts, source key and hash, sets
    texts       the document text in parts of TEXT_PART chars (VARCHAR holds at most 64 KiB)
    chunks      chunk text (analyzed, BM25 function -> `sparse`), offsets, dense vector, sets
    sentences   offsets and vector of every sentence (the composer's candidates)
    terms       Snowball-stemmed term -> sentences holding it, per document generation
    tombstones  doc_key -> the version that removed it

A document's sets are kept on its chunks (so a search filters on them inside the dense and the
BM25 request, keeping the top k exact) and on its documents row (listings, counts), as a JSON
field {"names": [...]}: pymilvus 2.5 fails to decode any empty query result of a collection with
an ARRAY field. Changing them writes a new generation of the document from its stored rows:
nothing is re-embedded.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pymilvus import DataType, Function, FunctionType, MilvusClient

#: characters per text part: 4 bytes per char at worst stays under VARCHAR's 65,535 bytes
TEXT_PART = 16_000
#: longest chunk text stored (bytes); chunks are about settings.chunk_size characters
CHUNK_TEXT_BYTES = 65_535
#: Milvus wants a vector field in every collection; rows without vectors carry this one
PLACEHOLDER = [0.0, 0.0]
#: the analyzer of the keyword index: standard tokens, lower-cased, English stop words and the
#: English Snowball stemmer (lexical.py tokenizes and picks stop words its own way)
ANALYZER: dict[str, Any] = {
    "tokenizer": "standard",
    "filter": [
        "lowercase",
        {"type": "stop", "stop_words": ["_english_"]},
        {"type": "stemmer", "language": "english"},
    ],
}
KINDS = ("meta", "documents", "texts", "chunks", "sentences", "terms", "tombstones")
#: the row collections readers filter by version (all but meta)
ROW_KINDS = ("documents", "texts", "chunks", "sentences", "terms")
MAX_KEY = 1024
#: the field that holds a row's document sets (collections made before sets lack it)
SETS_FIELD = "sets"


def _row_schema(extra: Iterable[tuple[str, DataType, dict[str, Any]]]) -> Any:
    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    for name, dtype, params in extra:
        schema.add_field(name, dtype, **params)
    return schema


def _generation_fields() -> list[tuple[str, DataType, dict[str, Any]]]:
    return [
        ("doc_id", DataType.VARCHAR, {"max_length": MAX_KEY}),
        ("doc_key", DataType.VARCHAR, {"max_length": MAX_KEY + 32}),
        ("gen", DataType.INT64, {}),
    ]


def _sets_field() -> tuple[str, DataType, dict[str, Any]]:
    return (SETS_FIELD, DataType.JSON, {})


def set_value(names: list[str]) -> dict[str, list[str]]:
    """The stored value of a row's sets field."""
    return {"names": names}


def set_list(value: dict[str, Any]) -> list[str]:
    """A row's sets, sorted, from its stored value."""
    return sorted(value["names"])


def create_collections(client: MilvusClient, prefix: str, dimension: int) -> None:
    """Create the collections that do not exist yet (idempotent)."""
    pk_str = {"is_primary": True, "max_length": MAX_KEY + 64}
    json_field = {"max_length": 65_535}
    placeholder = ("placeholder", DataType.FLOAT_VECTOR, {"dim": 2})
    specs: dict[str, tuple[list[tuple[str, DataType, dict[str, Any]]], dict[str, tuple[str, str]]]] = {
        "meta": (
            [("key", DataType.VARCHAR, pk_str), ("value", DataType.VARCHAR, json_field), placeholder],
            {"placeholder": ("FLAT", "L2")},
        ),
        "documents": (
            [
                ("pk", DataType.VARCHAR, pk_str),
                *_generation_fields(),
                ("source_key", DataType.VARCHAR, {"max_length": 4096}),
                ("content_hash", DataType.VARCHAR, {"max_length": 128}),
                ("info", DataType.VARCHAR, json_field),
                _sets_field(),
                placeholder,
            ],
            {"placeholder": ("FLAT", "L2")},
        ),
        "texts": (
            [
                ("pk", DataType.VARCHAR, pk_str),
                *_generation_fields(),
                ("part", DataType.INT64, {}),
                ("text", DataType.VARCHAR, {"max_length": 65_535}),
                placeholder,
            ],
            {"placeholder": ("FLAT", "L2")},
        ),
        "chunks": (
            [
                ("id", DataType.INT64, {"is_primary": True}),
                *_generation_fields(),
                ("ord", DataType.INT64, {}),
                ("start", DataType.INT64, {}),
                ("end", DataType.INT64, {}),
                ("page", DataType.INT64, {}),
                ("first_sentence", DataType.INT64, {}),
                ("last_sentence", DataType.INT64, {}),
                (
                    "text",
                    DataType.VARCHAR,
                    {"max_length": CHUNK_TEXT_BYTES, "enable_analyzer": True, "analyzer_params": ANALYZER},
                ),
                ("sparse", DataType.SPARSE_FLOAT_VECTOR, {}),
                ("vector", DataType.FLOAT_VECTOR, {"dim": dimension}),
                _sets_field(),
            ],
            {"vector": ("FLAT", "IP"), "sparse": ("SPARSE_INVERTED_INDEX", "BM25")},
        ),
        "sentences": (
            [
                ("pk", DataType.VARCHAR, pk_str),
                *_generation_fields(),
                ("ord", DataType.INT64, {}),
                ("start", DataType.INT64, {}),
                ("end", DataType.INT64, {}),
                ("vector", DataType.FLOAT_VECTOR, {"dim": dimension}),
            ],
            {"vector": ("FLAT", "IP")},
        ),
        "terms": (
            [
                ("pk", DataType.VARCHAR, pk_str),
                *_generation_fields(),
                ("term", DataType.VARCHAR, {"max_length": 256}),
                ("df", DataType.INT64, {}),
                placeholder,
            ],
            {"placeholder": ("FLAT", "L2")},
        ),
        "tombstones": (
            [
                ("doc_key", DataType.VARCHAR, pk_str),
                ("removed", DataType.INT64, {}),
                ("removed_at", DataType.DOUBLE, {}),
                placeholder,
            ],
            {"placeholder": ("FLAT", "L2")},
        ),
    }
    for kind, (fields, indexes) in specs.items():
        name = f"{prefix}{kind}"
        if client.has_collection(name):
            continue
        schema = _row_schema(fields)
        if kind == "chunks":
            schema.add_function(
                Function(
                    name="chunk_bm25",
                    function_type=FunctionType.BM25,
                    input_field_names=["text"],
                    output_field_names=["sparse"],
                )
            )
        params = client.prepare_index_params()
        for field, (index_type, metric) in indexes.items():
            params.add_index(field_name=field, index_type=index_type, metric_type=metric)
        client.create_collection(name, schema=schema, index_params=params, consistency_level="Strong")


def dimension_of(client: MilvusClient, prefix: str) -> int | None:
    """The chunk vectors' dimension of existing collections (None when there are none)."""
    name = f"{prefix}chunks"
    if not client.has_collection(name):
        return None
    for field in client.describe_collection(name)["fields"]:
        if field["name"] == "vector":
            return int(field["params"]["dim"])
    return None


def has_sets(client: MilvusClient, prefix: str) -> bool:
    """Whether the chunks collection keeps document sets (one made before them does not)."""
    name = f"{prefix}chunks"
    if not client.has_collection(name):
        return True
    return any(f["name"] == SETS_FIELD for f in client.describe_collection(name)["fields"])


def in_sets(sets: Iterable[str]) -> str:
    """The filter that keeps the rows of documents in any of `sets`; not empty (Milvus refuses
    an empty list: the caller answers "nothing" for no sets before asking)."""
    return f'json_contains_any({SETS_FIELD}["names"], {quoted(sorted(set(sets)))})'


def drop_collections(client: MilvusClient, prefix: str) -> None:
    for kind in KINDS:
        if client.has_collection(f"{prefix}{kind}"):
            client.drop_collection(f"{prefix}{kind}")


def quoted(values: Iterable[str]) -> str:
    """A Milvus list literal of strings, e.g. ["a", "b"] (JSON quoting is Milvus's quoting)."""
    import json

    return "[" + ", ".join(json.dumps(v) for v in values) + "]"


def visible(version: int, tombstoned: Iterable[str]) -> str:
    """The filter that keeps the rows version `version` sees."""
    dead = sorted(tombstoned)
    expr = f"gen <= {version}"
    if dead:
        expr += f" and doc_key not in {quoted(dead)}"
    return expr
