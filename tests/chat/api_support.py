"""Helpers of the public-API tests: tokens, and a client that sends one."""

from __future__ import annotations

import json

from django.test import Client

from chat.models import ApiToken, Conversation, Message
from chat.services.api_tokens import api_token_create


def make_token(user, *, scope: str = ApiToken.Scope.WRITE, name: str = "tests") -> str:
    """A token string for the agent."""
    _, raw = api_token_create(user=user, name=name, scope=scope)
    return raw


class Api:
    """Calls /api/v1/ with a bearer token (or none); answers are (status, JSON)."""

    def __init__(self, token: str | None = None):
        self.client = Client()
        self.headers = {"authorization": f"Bearer {token}"} if token else {}

    def call(self, method: str, path: str, body: dict | None = None, **params):
        """One request; the JSON body of the answer (None when empty)."""
        url = f"/api/v1/{path}"
        send = getattr(self.client, method)
        if method == "get":
            response = send(url, params, headers=self.headers)
        else:
            response = send(
                url, json.dumps(body) if body is not None else "", content_type="application/json", headers=self.headers
            )
        data = json.loads(response.content) if response.content else None
        return response.status_code, data, response

    def get(self, path: str, **params):
        status, data, _ = self.call("get", path, **params)
        return status, data

    def post(self, path: str, body: dict | None = None):
        status, data, _ = self.call("post", path, body)
        return status, data

    def patch(self, path: str, body: dict):
        status, data, _ = self.call("patch", path, body)
        return status, data

    def delete(self, path: str):
        status, data, _ = self.call("delete", path)
        return status, data


def make_conversation(visitor, **fields) -> Conversation:
    """A conversation of the visitor, with one customer message."""
    conversation = Conversation.objects.create(
        site=visitor.site, visitor=visitor, last_seq=1, last_public_seq=1, **fields
    )
    Message.objects.create(conversation=conversation, seq=1, author_kind=Message.AuthorKind.CUSTOMER, body="Hello?")
    return conversation
