"""Who calls the API: a bearer token that acts as one agent; what it may do (its scope); how often (its budget)."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.throttling import BaseThrottle

from chat.models import ApiToken
from chat.security.ratelimit import api_token_limits, rate_hit_sync
from chat.selectors.api import api_token_for
from chat.services.api_tokens import api_token_used

KEYWORD = b"bearer"


class ApiTokenAuthentication(BaseAuthentication):
    """`Authorization: Bearer prl_…`: a live token of an active agent."""

    def authenticate(self, request):
        """The token's agent and the token, None without an Authorization header; 401 for a bad token."""
        header = get_authorization_header(request).split()
        if not header:
            return None
        if header[0].lower() != KEYWORD or len(header) != 2:
            raise exceptions.AuthenticationFailed("Send the token as `Authorization: Bearer <token>`.")
        try:
            raw = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("The token is not valid.") from None
        token = api_token_for(raw)
        if token is None:
            # Unknown, revoked, or its agent gone: one answer, so a guesser learns nothing.
            raise exceptions.AuthenticationFailed("The token is not valid or was revoked.")
        api_token_used(token=token)
        return token.user, token

    def authenticate_header(self, request) -> str:
        """Makes a missing or bad token a 401 (with this challenge) rather than a 403."""
        return 'Bearer realm="api"'


class TokenScopePermission(BasePermission):
    """A token is needed; a read-only token may only read."""

    message = "This token is read-only."

    def has_permission(self, request, view) -> bool:
        """Authenticated, and a write only with a read-write token."""
        token = request.auth
        if not isinstance(token, ApiToken):
            raise exceptions.NotAuthenticated("Send an API token: `Authorization: Bearer <token>`.")
        return request.method in SAFE_METHODS or token.scope == ApiToken.Scope.WRITE


class ApiTokenThrottle(BaseThrottle):
    """PARLEY_API_TOKEN_RATE per token, counted like every other limit (chat/security/ratelimit.py)."""

    def __init__(self):
        self.retry_after: int | None = None

    def allow_request(self, request, view) -> bool:
        """Count the request against its token's budget; requests without a token are refused before this."""
        token = request.auth
        if not isinstance(token, ApiToken):
            return True
        refusal = rate_hit_sync(api_token_limits(token.pk))
        if refusal is None:
            return True
        self.retry_after = refusal.retry_seconds
        return False

    def wait(self) -> int | None:
        """Seconds until the token has room again."""
        return self.retry_after


class ApiTokenScheme(OpenApiAuthenticationExtension):
    """The token's security scheme in the OpenAPI schema."""

    target_class = ApiTokenAuthentication
    name = "apiToken"

    def get_security_definition(self, auto_schema):
        """An HTTP bearer token."""
        return {"type": "http", "scheme": "bearer", "description": "An API token made in the desk's settings."}
