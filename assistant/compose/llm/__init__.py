"""The optional LLM composer: answers written by a LangChain chat model, citations checked.

Needs the `llm` extra (`pip install -e '.[llm]'`) for Ollama and OpenAI-compatible servers.
"""

from __future__ import annotations

from assistant.compose.llm.chat_model import LLMConfigError, build_chat_model
from assistant.compose.llm.citations import Embed
from assistant.compose.llm.composer import LLMComposer
from assistant.compose.seam import Composer
from assistant.settings import Settings

__all__ = ["LLMComposer", "LLMConfigError", "make_llm_composer"]


def make_llm_composer(settings: Settings, fallback: Composer, embed: Embed | None = None) -> LLMComposer:
    """The composer for ASSISTANT_LLM; `embed` (the query embedder) lets citations match each claim.

    Raises LLMConfigError when the model cannot be set up (no network call is made here).
    """
    return LLMComposer(
        build_chat_model(settings),
        fallback,
        timeout=settings.llm_timeout,
        on_unsupported=settings.llm_fallback,
        embed=embed,
    )
