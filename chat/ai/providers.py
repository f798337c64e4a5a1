"""Choosing the reply provider from settings."""

from __future__ import annotations

from django.conf import settings

from chat.ai.base import Provider


def get_provider() -> Provider:
    """The configured provider: `kb` (offline, default) or `openai` (any compatible endpoint)."""
    if settings.AI_PROVIDER == "openai":
        from chat.ai.openai_provider import OpenAIProvider

        return OpenAIProvider(
            base_url=settings.AI_BASE_URL,
            model=settings.AI_MODEL,
            api_key=settings.AI_API_KEY,
            system_prompt=settings.AI_SYSTEM_PROMPT,
            max_tokens=settings.AI_MAX_TOKENS,
            timeout=settings.AI_TIMEOUT,
        )
    from chat.ai.kb import KnowledgeBaseProvider

    return KnowledgeBaseProvider(chars_per_second=settings.AI_TYPING_CPS)
