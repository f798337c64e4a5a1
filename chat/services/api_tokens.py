"""Public-API tokens: made (their secret shown once), revoked, and marked as used."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Q
from django.utils import timezone

from chat.models import ApiToken
from chat.security.api_tokens import token_new

# `last_used_at` is written at most this often per token: a busy integration must not write on every request.
LAST_USED_PRECISION = timedelta(minutes=1)


def api_token_create(*, user: AbstractBaseUser, name: str, scope: str) -> tuple[ApiToken, str]:
    """Make a token for the agent; return it and its string, which is never shown again."""
    if scope not in ApiToken.Scope.values:
        raise ValueError(f"A token's scope is one of {', '.join(ApiToken.Scope.values)}.")
    name = name.strip()
    if not name or len(name) > ApiToken._meta.get_field("name").max_length:
        raise ValueError("A token needs a name of 1 to 80 characters.")
    new = token_new()
    token = ApiToken.objects.create(user=user, name=name, scope=scope, prefix=new.prefix, secret_hash=new.secret_hash)
    return token, new.raw


def api_token_revoke(*, token: ApiToken) -> ApiToken:
    """Stop the token working, at once and for good (a revoked token stays listed)."""
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=token.revoked_at)
    return token


def api_token_used(*, token: ApiToken) -> None:
    """Note that the token was used now, unless that was noted less than a minute ago."""
    now = timezone.now()
    if token.last_used_at is not None and now - token.last_used_at < LAST_USED_PRECISION:
        return
    ApiToken.objects.filter(pk=token.pk).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_PRECISION)
    ).update(last_used_at=now)
    token.last_used_at = now
