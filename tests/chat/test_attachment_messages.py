"""Messages that carry files (docs/protocol.md, "attachments"): sent over both transports and by agents, each audience
getting its own links, replayed with fresh ones, and every bad reference refused with nothing stored."""

import io

import pytest
from channels.db import database_sync_to_async
from django.test import Client
from PIL import Image

from chat.models import Attachment, Conversation, Message
from tests.chat.test_commands import http_post, socket_refusal
from tests.conftest import (
    drain,
    make_agent,
    make_site,
    make_visitor,
    new_client_id,
    open_agent,
    open_customer,
    receive_until,
    send_message,
    token_for,
)

pytestmark = pytest.mark.django_db(transaction=True)

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (50, 40), (0, 90, 160)).save(out, format="PNG")
    return out.getvalue()


def customer_upload(visitor, name: str = "parcel.png", data: bytes | None = None) -> dict:
    file = io.BytesIO(png() if data is None else data)
    file.name = name
    response = Client().post(
        "/api/widget/attachments", {"file": file}, HTTP_AUTHORIZATION=f"Bearer {token_for(visitor)}"
    )
    assert response.status_code == 201, response.content
    return response.json()["attachment"]


def agent_upload(user, conversation_id: int, name: str = "label.pdf") -> dict:
    client = Client()
    client.force_login(user)
    file = io.BytesIO(PDF)
    file.name = name
    response = client.post("/agent/api/attachments", {"file": file, "conversation": conversation_id})
    assert response.status_code == 201, response.content
    return response.json()["attachment"]


def fetch(link: str, user=None) -> int:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client.get(link).status_code


async def test_a_customers_photo_reaches_the_agent_and_each_side_gets_links_of_its_own(visitor, agent):
    socket, _ = await open_customer(token_for(visitor))
    conversation_id = (await send_message(socket, "My parcel arrived broken"))["conversation"]
    desk, _ = await open_agent(agent)
    await desk.send_json_to({"type": "subscribe", "conversation": conversation_id, "cursor": "0.0"})
    await receive_until(desk, "subscribed")
    upload = await database_sync_to_async(customer_upload)(visitor)
    ack = await send_message(socket, "", attachments=[upload["id"]])
    assert ack["type"] == "message.ack"
    mine, _ = await receive_until(socket, lambda f: f["type"] == "message.new" and f["message"]["id"] == ack["id"])
    theirs, _ = await receive_until(desk, lambda f: f["type"] == "message.new" and f["message"]["id"] == ack["id"])
    [for_customer], [for_agents] = mine["message"]["attachments"], theirs["message"]["attachments"]
    assert for_customer["id"] == for_agents["id"] == upload["id"] and for_customer["image"] is True
    assert for_customer["url"] != for_agents["url"]
    assert await database_sync_to_async(fetch)(for_customer["thumbnail_url"]) == 200
    assert await database_sync_to_async(fetch)(for_agents["url"]) == 404  # agents' links need a desk session
    assert await database_sync_to_async(fetch)(for_agents["url"], agent) == 200
    stored = await database_sync_to_async(Attachment.objects.get)(pk=upload["id"])
    assert (stored.message_id, stored.conversation_id) == (ack["id"], conversation_id)
    for communicator in (socket, desk):
        await communicator.disconnect()


async def test_a_retried_message_with_files_is_stored_once_and_a_reconnect_replays_them_with_fresh_links(visitor):
    socket, _ = await open_customer(token_for(visitor))
    upload = await database_sync_to_async(customer_upload)(visitor, "invoice.pdf", PDF)
    client_id = new_client_id()
    first = await send_message(socket, "Here is the invoice", client_id=client_id, attachments=[upload["id"]])
    again = await send_message(socket, "Here is the invoice", client_id=client_id, attachments=[upload["id"]])
    assert first == again
    status, over_http = await http_post(
        "/api/widget/messages",
        token_for(visitor),
        {"client_id": client_id, "body": "Here is the invoice", "attachments": [upload["id"]]},
    )
    assert status == 200 and over_http == first
    assert await database_sync_to_async(Message.objects.filter(client_id=client_id).count)() == 1
    await socket.disconnect()
    later, welcome = await open_customer(token_for(visitor))
    [replayed] = [e for e in welcome["events"] if e["type"] == "message.new" and e["message"]["id"] == first["id"]]
    [file] = replayed["message"]["attachments"]
    assert file["name"] == "invoice.pdf" and file["type"] == "application/pdf" and "thumbnail_url" not in file
    assert await database_sync_to_async(fetch)(file["url"]) == 200
    await later.disconnect()


async def test_files_are_sent_over_http_too(visitor):
    upload = await database_sync_to_async(customer_upload)(visitor)
    status, ack = await http_post(
        "/api/widget/messages", token_for(visitor), {"client_id": new_client_id(), "attachments": [upload["id"]]}
    )
    assert status == 200 and ack["type"] == "message.ack"
    assert (await database_sync_to_async(Attachment.objects.get)(pk=upload["id"])).message_id == ack["id"]


async def test_someone_elses_file_or_one_already_sent_is_refused_and_nothing_is_stored(site, visitor):
    stranger = await database_sync_to_async(make_visitor)(site)
    theirs = await database_sync_to_async(customer_upload)(stranger)
    socket, _ = await open_customer(token_for(visitor))
    refused = await send_message(socket, "look", attachments=[theirs["id"]])
    assert (refused["type"], refused["code"]) == ("error", "not_found")
    mine = await database_sync_to_async(customer_upload)(visitor)
    await send_message(socket, "first", attachments=[mine["id"]])
    reused = await send_message(socket, "again", attachments=[mine["id"]])
    assert (reused["type"], reused["code"]) == ("error", "not_found")
    bodies = await database_sync_to_async(lambda: list(Message.objects.values_list("body", flat=True)))()
    assert bodies == ["first"]
    assert (await database_sync_to_async(Attachment.objects.get)(pk=theirs["id"])).message_id is None
    await socket.disconnect()


@pytest.mark.parametrize(
    ("attachments", "code"),
    [("1", "bad_request"), ([1, 1], "bad_request"), ([True], "bad_request"), ([0], "bad_request"), ([1] * 0, "empty")],
    ids=["not-a-list", "repeated", "bool", "zero", "nothing-at-all"],
)
async def test_a_bad_attachments_field_is_refused(visitor, attachments, code):
    socket, _ = await open_customer(token_for(visitor))
    frame = {"type": "message.send", "client_id": new_client_id(), "body": "", "attachments": attachments}
    assert await socket_refusal(socket, frame) == code
    assert await database_sync_to_async(Message.objects.count)() == 0
    await socket.disconnect()


async def test_too_many_files_or_too_many_bytes_in_one_message_are_refused(settings, visitor):
    settings.PARLEY_ATTACHMENTS_PER_MESSAGE = 2
    uploads = [await database_sync_to_async(customer_upload)(visitor) for _ in range(3)]
    socket, _ = await open_customer(token_for(visitor))
    too_many = await send_message(socket, "three", attachments=[u["id"] for u in uploads])
    assert (too_many["type"], too_many["code"]) == ("error", "too_long")
    settings.PARLEY_ATTACHMENT_MESSAGE_MAX_BYTES = uploads[0]["size"] + 1
    too_big = await send_message(socket, "two", attachments=[u["id"] for u in uploads[:2]])
    assert (too_big["type"], too_big["code"]) == ("error", "too_large")
    assert await database_sync_to_async(Message.objects.count)() == 0
    await socket.disconnect()


async def test_a_notes_file_reaches_agents_only_and_an_upload_for_one_conversation_stays_there(site, visitor, agent):
    socket, _ = await open_customer(token_for(visitor))
    conversation_id = (await send_message(socket, "Need a return label"))["conversation"]
    await drain(socket)
    desk, _ = await open_agent(agent)
    note_file = await database_sync_to_async(agent_upload)(agent, conversation_id, "internal.pdf")
    await desk.send_json_to(
        {
            "type": "message.send",
            "conversation": conversation_id,
            "client_id": new_client_id(),
            "body": "Warehouse photo",
            "internal": True,
            "attachments": [note_file["id"]],
        }
    )
    await receive_until(desk, "message.ack")
    label = await database_sync_to_async(agent_upload)(agent, conversation_id, "return-label.pdf")
    await desk.send_json_to(
        {
            "type": "message.send",
            "conversation": conversation_id,
            "client_id": new_client_id(),
            "attachments": [label["id"]],
        }
    )
    await receive_until(desk, "message.ack")
    seen, _ = await receive_until(socket, lambda f: f["type"] == "message.new" and f["message"].get("attachments"))
    assert [a["name"] for a in seen["message"]["attachments"]] == ["return-label.pdf"]
    assert all(f["type"] != "message.new" or f["message"]["body"] != "Warehouse photo" for f in await drain(socket))
    other = await database_sync_to_async(
        lambda: Conversation.objects.create(site=site, visitor=make_visitor(site)).pk
    )()
    stray = await database_sync_to_async(agent_upload)(agent, conversation_id, "misdirected.pdf")
    frame = {"type": "message.send", "conversation": other, "client_id": new_client_id(), "attachments": [stray["id"]]}
    assert await socket_refusal(desk, frame) == "not_found"
    outsider = await database_sync_to_async(lambda: make_agent("outsider", make_site("Elsewhere")))()
    assert await database_sync_to_async(fetch)(label["url"], outsider) == 404
    for communicator in (socket, desk):
        await communicator.disconnect()


async def test_a_message_of_files_only_is_previewed_in_the_desk_list_by_the_files_name(visitor, agent):
    socket, _ = await open_customer(token_for(visitor))
    await send_message(socket, "Photo coming")
    upload = await database_sync_to_async(customer_upload)(visitor, "broken-lid.png")
    await send_message(socket, "", attachments=[upload["id"]])

    def rows():
        client = Client()
        client.force_login(agent)
        return client.get("/agent/api/conversations?view=open").json()["conversations"]

    [row] = await database_sync_to_async(rows)()
    assert row["preview"]["body"] == "📎 broken-lid.png"
    await socket.disconnect()
