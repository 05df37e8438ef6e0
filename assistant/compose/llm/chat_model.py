"""Build a LangChain chat model from Settings: `ollama:<model>`, `openai:<model>` or any provider.

Ollama and OpenAI-compatible servers (vLLM, llama.cpp's server, LM Studio, OpenAI itself) get
their provider class directly so the base URL, key, timeout and token limit are set the same
way for both; any other `provider:model` goes through `init_chat_model`. Retries are off: the
composer has one timeout for the whole answer and falls back to the extractive composer, so a
retry would only spend the user's wait on a server that is already failing.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from langchain_core.language_models import BaseChatModel

from assistant.errors import AssistantError
from assistant.settings import Settings

log = logging.getLogger(__name__)

INSTALL_HINT = "pip install -e '.[llm]'"
#: OpenAI-compatible servers that take no key still need the client to send one
KEYLESS_PLACEHOLDER = "no-key"


class LLMConfigError(AssistantError):
    """ASSISTANT_LLM names a model that cannot be set up (unknown provider, missing package...)."""


def split_spec(spec: str) -> tuple[str | None, str]:
    """`ollama:llama3.1:8b` -> ("ollama", "llama3.1:8b"); a bare name has no provider."""
    provider, sep, model = spec.strip().partition(":")
    if not sep:
        return None, spec.strip()
    if not provider or not model:
        raise LLMConfigError(
            f"ASSISTANT_LLM='{spec}' is not a model; use provider:model, e.g. ollama:llama3.1 "
            "or openai:gpt-4o-mini"
        )
    return provider.lower(), model


def build_chat_model(settings: Settings) -> BaseChatModel:
    """The chat model named by ASSISTANT_LLM, or LLMConfigError saying what to fix."""
    if not settings.llm:
        raise LLMConfigError("no LLM is configured: set ASSISTANT_LLM (e.g. ollama:llama3.1)")
    provider, model = split_spec(settings.llm)
    try:
        if provider == "ollama":
            return _ollama(model, settings)
        if provider == "openai":
            return _openai(model, settings)
        return _any_provider(settings.llm, settings)
    except ImportError as exc:
        raise LLMConfigError(
            f"the LLM '{settings.llm}' needs a LangChain provider package that is not installed "
            f"({exc}); install the extra with `{INSTALL_HINT}` (other providers: pip install "
            f"langchain-<provider>)"
        ) from exc
    except LLMConfigError:
        raise
    except Exception as exc:  # provider classes raise assorted errors for bad settings
        raise LLMConfigError(
            f"cannot set up the LLM '{settings.llm}': {exc}; check ASSISTANT_LLM, "
            "ASSISTANT_LLM_BASE_URL and ASSISTANT_LLM_API_KEY"
        ) from exc


def _api_key(settings: Settings) -> str | None:
    return settings.llm_api_key.get_secret_value() if settings.llm_api_key is not None else None


def _ollama(model: str, settings: Settings) -> BaseChatModel:
    from langchain_ollama import ChatOllama

    client_kwargs: dict[str, Any] = {"timeout": settings.llm_timeout}
    key = _api_key(settings)
    if key:  # an Ollama behind an authenticating proxy
        client_kwargs["headers"] = {"Authorization": f"Bearer {key}"}
    return ChatOllama(
        model=model,
        base_url=settings.llm_base_url,
        num_predict=settings.llm_max_tokens,
        client_kwargs=client_kwargs,
    )


def _openai(model: str, settings: Settings) -> BaseChatModel:
    from langchain_openai import ChatOpenAI

    key = _api_key(settings)
    if key is None and settings.llm_base_url and not os.environ.get("OPENAI_API_KEY"):
        key = KEYLESS_PLACEHOLDER
    kwargs: dict[str, Any] = {
        "model": model,
        "timeout": settings.llm_timeout,
        "max_tokens": settings.llm_max_tokens,
        "max_retries": 0,
    }
    if settings.llm_base_url:
        kwargs["base_url"] = settings.llm_base_url
    if key is not None:
        kwargs["api_key"] = key
    return ChatOpenAI(**kwargs)


def _any_provider(spec: str, settings: Settings) -> BaseChatModel:
    from langchain.chat_models import init_chat_model

    kwargs: dict[str, Any] = {
        "timeout": settings.llm_timeout,
        "max_tokens": settings.llm_max_tokens,
        "max_retries": 0,
    }
    if settings.llm_base_url:
        kwargs["base_url"] = settings.llm_base_url
    key = _api_key(settings)
    if key is not None:
        kwargs["api_key"] = key
    log.info("building chat model %s through init_chat_model", spec)
    return init_chat_model(spec, **kwargs)
