"""An agent's own settings on their profile."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser

from chat.models import AgentProfile

# "" follows the browser's Accept-Language; the others are the languages the desk ships in.
DESK_LANGUAGES = frozenset({"", *(code for code, _name in settings.LANGUAGES)})


def agent_language_set(*, user: AbstractBaseUser, language: str) -> None:
    """The agent chose the desk's language ("" to follow the browser); raises ValueError for any other."""
    if language not in DESK_LANGUAGES:
        raise ValueError(f"unknown desk language {language!r}")
    AgentProfile.objects.filter(user=user).update(language=language)
