"""The public API against its own OpenAPI schema: generated requests never get a 5xx or an answer outside it."""

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from chat.models import KnowledgeArticle, Label
from tests.chat.api_support import Api, make_conversation, make_token

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture
def token(db, site, visitor, agent, settings):
    """A read-write token over a site with a conversation, a label and an article (ids 1 and up exist)."""
    settings.PARLEY_API_TOKEN_RATE = (0, 60)  # generated requests come fast; the limit has tests of its own
    conversation = make_conversation(visitor)
    conversation.labels.add(Label.objects.create(site=site, name="vip"))
    KnowledgeArticle.objects.create(site=site, title="Returns", body="Within 30 days.")
    return make_token(agent)


# Loaded from the running application (as a client would), when the tests are collected.
schema = schemathesis.openapi.from_wsgi("/api/v1/schema", get_wsgi_application())


@schema.parametrize()
@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
def test_generated_requests_get_answers_the_schema_allows(case, token):
    case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)


def test_the_schema_and_the_docs_are_served(db):
    client = Api().client
    schema_response = client.get("/api/v1/schema", headers={"accept": "application/json"})
    assert schema_response.status_code == 200
    assert "/api/v1/conversations/{conversation_id}/messages" in schema_response.json()["paths"]
    docs = client.get("/api/v1/docs")
    assert docs.status_code == 200
    # The UI's assets come from this server, not a CDN.
    assert b"cdn." not in docs.content and b"swagger-ui-bundle.js" in docs.content
