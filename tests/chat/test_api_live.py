"""An agent message sent through the public API reaches the customer's open widget socket live."""

import json
import uuid

import pytest
from channels.db import database_sync_to_async
from channels.testing import HttpCommunicator

from chat.models import Conversation
from tests.chat.api_support import make_token
from tests.conftest import application, open_customer, receive_until, send_message, token_for

pytestmark = pytest.mark.django_db(transaction=True)


async def api_post(path: str, token: str, body: dict) -> tuple[int, dict]:
    """POST to the API through the real ASGI application, as a client would over HTTP."""
    data = json.dumps(body).encode()
    communicator = HttpCommunicator(
        application(),
        "POST",
        f"/api/v1/{path}",
        body=data,
        headers=[
            (b"host", b"testserver"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(data)).encode()),
            (b"authorization", f"Bearer {token}".encode()),
        ],
    )
    response = await communicator.get_response(timeout=10)
    return response["status"], json.loads(response["body"])


async def test_api_answer_reaches_the_open_widget_as_message_new(visitor, agent):
    customer, _ = await open_customer(token_for(visitor))
    ack = await send_message(customer, "Is my order shipped?")
    conversation = await database_sync_to_async(Conversation.objects.get)(pk=ack["conversation"])
    token = await database_sync_to_async(make_token)(agent)

    client_id = str(uuid.uuid4())
    status, sent = await api_post(
        f"conversations/{conversation.pk}/messages", token, {"client_id": client_id, "body": "Yes, this morning."}
    )
    assert status == 201, sent

    new, _ = await receive_until(
        customer, lambda f: f["type"] == "message.new" and f["message"]["body"] == "Yes, this morning."
    )
    assert new["message"]["author"]["kind"] == "agent"
    assert new["message"]["seq"] == sent["seq"]
    await customer.disconnect()


async def test_api_note_never_reaches_the_widget(visitor, agent):
    customer, _ = await open_customer(token_for(visitor))
    ack = await send_message(customer, "Hello")
    token = await database_sync_to_async(make_token)(agent)
    status, _ = await api_post(
        f"conversations/{ack['conversation']}/messages",
        token,
        {"client_id": str(uuid.uuid4()), "body": "Private: VIP customer", "internal": True},
    )
    assert status == 201
    # A public answer sent after the note arrives; the note, sent before it, never did.
    status, _ = await api_post(
        f"conversations/{ack['conversation']}/messages", token, {"client_id": str(uuid.uuid4()), "body": "Hi!"}
    )
    assert status == 201
    _, before = await receive_until(customer, lambda f: f["type"] == "message.new" and f["message"]["body"] == "Hi!")
    assert all("VIP" not in json.dumps(frame) for frame in before)
    await customer.disconnect()
