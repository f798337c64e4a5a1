"""POST /api/widget/messages with Accept: text/event-stream: the bot's answer as OpenAI chat.completion.chunks
(docs/protocol.md, section 5), through the real ASGI application."""

import json

import pytest
from channels.db import database_sync_to_async
from channels.testing import HttpCommunicator
from django.conf import settings

from chat.models import Message
from chat.transports import openai_chunks
from tests.conftest import application, new_client_id, token_for

pytestmark = pytest.mark.django_db(transaction=True)


async def post_for_chunks(token: str, body: dict, *, last_event_id: str | None = None) -> tuple[dict, list[str]]:
    """POST a message asking for the answer as a stream; return (response headers, SSE records as text)."""
    headers = [
        (b"host", b"testserver"),
        (b"content-type", b"application/json"),
        (b"accept", b"text/event-stream"),
        (b"authorization", f"Bearer {token}".encode()),
    ]
    if last_event_id is not None:
        headers.append((b"last-event-id", last_event_id.encode()))
    communicator = HttpCommunicator(application(), "POST", "/api/widget/messages", json.dumps(body).encode(), headers)
    await communicator.send_input({"type": "http.request", "body": communicator.body})
    start = await communicator.receive_output(timeout=5)
    assert start["type"] == "http.response.start" and start["status"] == 200
    text = ""
    while True:  # a streamed response: one body message per record, the last one empty
        part = await communicator.receive_output(timeout=15)
        text += part.get("body", b"").decode()
        if not part.get("more_body"):
            break
    await communicator.wait(timeout=5)
    assert text.endswith("\n\n")
    return {k.decode().lower(): v.decode() for k, v in start["headers"]}, text[:-2].split("\n\n")


def parse(record: str) -> tuple[str | None, str]:
    """(id, data) of one SSE record."""
    fields = dict(line.split(": ", 1) for line in record.split("\n"))
    return fields.get("id"), fields["data"]


def reply_to(client_id: str) -> Message:
    return Message.objects.get(trigger__client_id=client_id)


async def test_a_conversation_the_bot_does_not_answer_gets_one_no_reply_chunk_then_done(visitor):
    headers, records = await post_for_chunks(token_for(visitor), {"client_id": new_client_id(), "body": "hi"})
    assert headers["content-type"].startswith("text/event-stream")
    assert headers["cache-control"] == "no-cache" and headers["x-accel-buffering"] == "no"
    assert records[0] == "retry: 2000" and records[2] == "data: [DONE]" and len(records) == 3
    created = json.loads(records[1].removeprefix("data: "))["created"]
    expected = {
        "id": "reply-0",
        "object": "chat.completion.chunk",
        "created": created,
        "model": settings.AI_PROVIDER,
        "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
        "parley_status": "no_reply",
    }
    assert records[1] == "data: " + json.dumps(expected, ensure_ascii=False)
    assert await database_sync_to_async(Message.objects.filter(body="hi").count)() == 1


async def test_the_bots_answer_streams_as_chunks_that_add_up_to_the_stored_reply(bot_visitor, settings):
    settings.AI_TYPING_CPS = 2000  # live deltas, not one finished body
    client_id = new_client_id()
    _, records = await post_for_chunks(
        token_for(bot_visitor), {"client_id": client_id, "body": "How much does express shipping cost?"}
    )
    reply = await database_sync_to_async(reply_to)(client_id)
    assert records[0] == "retry: 2000" and records[-1] == "data: [DONE]"
    chunks = [(record_id, json.loads(data)) for record_id, data in map(parse, records[1:-1])]
    *content, (end_id, finish) = chunks
    assert "".join(chunk["choices"][0]["delta"]["content"] for _, chunk in content) == reply.body
    assert all(chunk["id"] == f"reply-{reply.pk}" for _, chunk in chunks)
    assert all(record_id.startswith(f"{reply.seq}.") for record_id, _ in content)
    assert end_id == f"{reply.seq}.{reply.stream_index + 1}"
    assert finish["choices"][0] == {"index": 0, "delta": {}, "finish_reason": "stop"} and "parley_status" not in finish
    assert finish["parley_outcome"] == "answered" and finish["parley_meta"] == reply.meta
    assert finish["parley_meta"]["sources"][0]["title"] == "Shipping costs"


async def test_a_retried_post_sends_only_the_text_after_its_last_event_id_and_stores_nothing_new(bot_visitor, settings):
    settings.AI_TYPING_CPS = 2000  # several deltas, so there is text after the first
    token, body = token_for(bot_visitor), {"client_id": new_client_id(), "body": "Do you take PayPal?"}
    await post_for_chunks(token, body)
    reply = await database_sync_to_async(reply_to)(body["client_id"])
    assert len(reply.delta_ends) > 1

    _, records = await post_for_chunks(token, body, last_event_id=f"{reply.seq}.0")
    [(rest_id, rest), (end_id, finish)] = [
        (record_id, json.loads(data)) for record_id, data in map(parse, records[1:-1])
    ]
    assert rest["choices"][0]["delta"]["content"] == reply.body[reply.delta_ends[0] :]
    assert (rest_id, end_id) == (f"{reply.seq}.0", f"{reply.seq}.{reply.stream_index + 1}")
    assert finish["choices"][0]["finish_reason"] == "stop"

    _, records = await post_for_chunks(token, body, last_event_id=f"{reply.seq}.{reply.stream_index + 1}")
    assert [json.loads(data)["choices"][0]["finish_reason"] for _, data in map(parse, records[1:-1])] == ["stop"]
    count = Message.objects.filter(conversation_id=reply.conversation_id).count
    assert await database_sync_to_async(count)() == 2  # the question and its one reply


# --- the chunk builder and what of a reply the stream has sent (no database) ------------------------------------


def delta(index: int, text: str) -> dict:
    return {"type": "reply.delta", "reply_id": 7, "seq": 3, "index": index, "text": text}


def snapshot(index: int, text: str, ends: list[int]) -> dict:
    return {"type": "reply.snapshot", "reply_id": 7, "seq": 3, "index": index, "text": text, "ends": ends}


def content_of(sse_record: str) -> tuple[str | None, str]:
    record_id, data = parse(sse_record.removesuffix("\n\n"))
    return record_id, json.loads(data)["choices"][0]["delta"]["content"]


def test_a_chunk_names_what_the_reply_did_only_when_it_ended():
    ended = Message(pk=7, outcome="answered", meta={"language": "en"})
    assert "parley_outcome" not in json.loads(openai_chunks.chunk(7, "Hi"))
    finish = json.loads(openai_chunks.chunk(7, None, "length", status="interrupted", ended=ended))
    assert finish["choices"] == [{"index": 0, "delta": {}, "finish_reason": "length"}]
    assert (finish["parley_status"], finish["parley_outcome"], finish["parley_meta"]) == (
        "interrupted",
        "answered",
        {"language": "en"},
    )


def test_a_fresh_stream_sends_each_delta_with_its_cursor():
    text = openai_chunks.ReplyText(seq=3, resume_index=-1)
    assert content_of(text.take(delta(0, "Orders "))) == ("3.0", "Orders ")
    assert content_of(text.take(delta(1, "ship"))) == ("3.1", "ship")


def test_a_resumed_stream_holds_deltas_back_until_a_snapshot_gives_their_offsets():
    text = openai_chunks.ReplyText(seq=3, resume_index=0)  # the client has "Orders "
    assert text.take(delta(1, "ship")) == ""
    assert content_of(text.take(snapshot(1, "Orders ship", [7, 11]))) == ("3.1", "ship")
    assert content_of(text.take(delta(2, " today"))) == ("3.2", " today")


def test_the_finish_sends_the_unsent_rest_then_the_finish_chunk_and_done():
    text = openai_chunks.ReplyText(seq=3, resume_index=0)
    reply = Message(pk=7, seq=3, body="Orders ship today", status="interrupted", stream_index=2, delta_ends=[7, 11, 17])
    rest, finish, done = text.finish(reply)
    assert content_of(rest) == ("3.0", "ship today")
    finish_id, finish_data = parse(finish.removesuffix("\n\n"))
    assert finish_id == "3.3" and json.loads(finish_data)["choices"][0]["finish_reason"] == "length"
    assert json.loads(finish_data)["parley_status"] == "interrupted"
    assert done == "data: [DONE]\n\n"
    assert openai_chunks.FINISH_REASONS == {
        "complete": "stop",
        "stopped": "stop",
        "interrupted": "length",
        "failed": "stop",
    }
