"""Request and response shapes of the OpenAI-compatible chat API (`/v1/...`).

Only the parts of the OpenAI chat-completions format that a cited answer can honour are
modelled; sampling knobs (temperature, max_tokens, ...) are accepted and ignored because the
answer is composed from the documents, not sampled. Our additions are marked "extension".
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from assistant.models import Citation, SearchFilters
from assistant.server.routes.ask import TopK

#: every model id starts with this; the rest names the composer (`assistant-extractive`)
MODEL_PREFIX = "assistant-"
#: a model id ending in this appends a "Sources" block to the reply text
SOURCES_SUFFIX = "-sources"


class ChatMessage(BaseModel):
    """One turn; only text content is understood (a list of `text` parts is joined)."""

    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[dict[str, Any]] | None = None


class ChatCompletionRequest(BaseModel):
    """`POST /v1/chat/completions`: the last user message is the question."""

    # Clients send many optional OpenAI fields; unknown ones are ignored, unsupported ones that
    # would change the meaning of the reply (tools, n > 1, images) are refused with a 400.
    model_config = ConfigDict(extra="allow")

    model: str = Field(description="A model id from `GET /v1/models`, e.g. `assistant-extractive`.")
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    n: int | None = None
    tools: list[Any] | None = None
    tool_choice: Any = None
    functions: list[Any] | None = None
    function_call: Any = None
    response_format: dict[str, Any] | None = None
    logprobs: bool | None = None
    modalities: list[str] | None = None
    audio: Any = None
    include_sources: bool = Field(
        False,
        description="Extension: append a Sources block (title, offsets, quote, link) to the text.",
    )
    top_k: TopK | None = Field(None, description="Extension: passages to retrieve.")
    filters: SearchFilters | None = Field(None, description="Extension: restrict to some doc_ids.")


class SourceCitation(Citation):
    """A citation plus a link that opens the web UI's source viewer on the quote."""

    url: str


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str
    refusal: None = None


class Choice(BaseModel):
    index: int = 0
    message: AssistantMessage
    finish_reason: Literal["stop"] = "stop"
    logprobs: None = None


def _citations_field() -> Any:
    return Field(None, description="Extension: the evidence of each `[n]` marker in the content.")


def _abstained_field() -> Any:
    return Field(None, description="Extension: true when the documents hold no good evidence.")


def _tentative_field() -> Any:
    return Field(None, description="Extension: true when the answer may not answer the question.")


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    citations: list[SourceCitation] | None = _citations_field()
    abstained: bool | None = _abstained_field()
    tentative: bool | None = _tentative_field()


class ChunkDelta(BaseModel):
    role: Literal["assistant"] | None = None
    content: str | None = None


class ChunkChoice(BaseModel):
    index: int = 0
    delta: ChunkDelta
    finish_reason: Literal["stop"] | None = None
    logprobs: None = None


class ChatCompletionChunk(BaseModel):
    """One streamed event; the last one carries finish_reason, citations and abstained."""

    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChunkChoice]
    citations: list[SourceCitation] | None = _citations_field()
    abstained: bool | None = _abstained_field()
    tentative: bool | None = _tentative_field()


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "assistant"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class OpenAIErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class OpenAIErrorResponse(BaseModel):
    """The body of every `/v1` error, as OpenAI clients expect it."""

    error: OpenAIErrorDetail
