"""The schemas of the server's frames (chat/protocol/schemas.py): every builder's frame passes, bad frames are named."""

import copy
import inspect
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model

from chat.models import Conversation, Label, Message, Visitor
from chat.protocol import events
from chat.protocol.cursors import Cursor
from chat.protocol.schemas import AGENT, CUSTOMER, SCHEMAS, SSE, SchemaError, check_completion_chunk, check_event
from chat.selectors import conversations as selectors
from chat.selectors.replays import customer_replay

NOW = datetime(2026, 11, 22, 9, 30, 0, 123456, tzinfo=UTC)
DOC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"


def a_visitor(**fields) -> Visitor:
    return Visitor(**{"pk": 3, "site_id": 1, "name": "Cleo", "email": "cleo@example.com", **fields})


def an_agent():
    return get_user_model()(pk=9, username="sam", first_name="Sam")


def a_conversation(**fields) -> Conversation:
    defaults = {
        "pk": 7,
        "site_id": 1,
        "visitor": a_visitor(),
        "last_seq": 4,
        "last_public_seq": 3,
        "updated_at": NOW,
        "last_message_at": NOW,
    }
    conversation = Conversation(**{**defaults, **fields})
    # As the desk's list prefetches them: these frames are built without a database.
    conversation._prefetched_objects_cache = {"labels": [Label(name="vip"), Label(name="refund")]}
    return conversation


def a_message(**fields) -> Message:
    defaults = {
        "pk": 11,
        "conversation_id": 7,
        "seq": 3,
        "author_kind": "customer",
        "body": "Where is my parcel?",
        "created_at": NOW,
    }
    return Message(**{**defaults, **fields})


def a_bot_reply(**fields) -> Message:
    meta = {
        "language": "en",
        "sources": [{"id": 4, "title": "Shipping", "url": "/help/demo-shop/4/"}],
        "actions": ["rephrase", "human"],
        "options": ["Shipping", "Returns"],
        "handoff": True,
    }
    defaults = {
        "author_kind": "bot",
        "body": "It ships in **2 days**.",
        "stream_index": 2,
        "outcome": "answered",
        "meta": meta,
        "feedback": 1,
    }
    return a_message(**{**defaults, **fields})


def wire(frame: dict) -> dict:
    """The frame as a client gets it: through JSON."""
    return json.loads(json.dumps(frame))


def refusal(frame: dict, **kwargs) -> SchemaError:
    with pytest.raises(SchemaError) as caught:
        check_event(frame, **kwargs)
    return caught.value


# --- every builder of chat/protocol/events.py produces a frame that passes ----------------------

BUILT = {
    "message_new": [
        (events.message_new(a_message(), prev_seq=2), CUSTOMER),
        (events.message_new(a_message(author_kind="agent", author_agent=an_agent(), internal=True)), AGENT),
        (events.message_new(a_bot_reply(), prev_seq=2), CUSTOMER),
        (events.message_new(a_message(author_kind="system", body="Sam joined.")), AGENT),
    ],
    "message_ack": [
        (events.message_ack(a_message(), "1b4e28ba-2fa1-11d2-883f-0016d3cca427"), CUSTOMER),
        (events.message_ack(a_message(), "1b4e28ba-2fa1-11d2-883f-0016d3cca427"), AGENT),
    ],
    "reply_start": [
        (events.reply_start(a_bot_reply(status="streaming"), prev_seq=2), CUSTOMER),
        (events.reply_start(a_bot_reply(status="streaming")), AGENT),
    ],
    "reply_delta": [(events.reply_delta(reply_id=11, conversation_id=7, seq=3, index=0, text="It ships"), SSE)],
    "reply_snapshot": [
        (
            events.reply_snapshot(reply_id=11, conversation_id=7, seq=3, index=1, text="It ships in", ends=[8, 11]),
            CUSTOMER,
        ),
        (events.reply_snapshot(reply_id=11, conversation_id=7, seq=3, index=-1, text="", ends=[]), AGENT),
    ],
    "reply_end": [
        (events.reply_end(a_bot_reply()), CUSTOMER),
        (events.reply_end(a_bot_reply(status="stopped", outcome="", meta={}, feedback=None)), SSE),
        (
            events.reply_end(
                a_bot_reply(status="failed", outcome="", meta={}, stream_index=-1, error_reason="provider timed out"),
                for_agents=True,
            ),
            AGENT,
        ),
    ],
    "reply_feedback": [
        (events.reply_feedback(a_bot_reply(feedback=-1)), CUSTOMER),
        (events.reply_feedback(a_bot_reply(feedback=None)), AGENT),
    ],
    "conversation_updated": [
        (events.conversation_updated(a_conversation()), CUSTOMER),
        (events.conversation_updated(a_conversation(owner="agent", assignee=an_agent()), for_agents=True), AGENT),
        (
            events.conversation_updated(
                a_conversation(status="resolved", owner="queue", queued_at=NOW, visitor=a_visitor(external_id="u-1")),
                for_agents=True,
            ),
            AGENT,
        ),
        (
            events.conversation_updated(
                a_conversation(status="resolved", rating=4, rating_comment="Quick, thanks", rated_at=NOW)
            ),
            CUSTOMER,
        ),
    ],
    "contact_saved": [(events.contact_saved(a_visitor(email="ana@example.com")), CUSTOMER)],
    "transcript_queued": [(events.transcript_queued(conversation_id=7, email="ana@example.com"), CUSTOMER)],
    "typing": [
        (events.typing(conversation_id=7, author={"kind": "customer"}, active=True), AGENT),
        (events.typing(conversation_id=7, author={"kind": "agent", "name": "Sam", "id": 9}, active=False), CUSTOMER),
    ],
    "read": [
        (events.read(conversation_id=7, by="agent", seq=3), CUSTOMER),
        (events.read(conversation_id=7, by="customer", seq=0), AGENT),
    ],
    "presence": [
        (events.presence(agent_id=9, name="Sam", status=status), AGENT) for status in ("online", "away", "offline")
    ],
    "queue": [(events.queue(site_id=1, count=0), AGENT)],
    "error": [
        (events.error("not_found", "No such conversation."), SSE),
        (events.error("rate_limited", "Too many messages.", "1b4e28ba-2fa1-11d2-883f-0016d3cca427"), CUSTOMER),
    ],
}
BUILT_CASES = [
    pytest.param(frame, audience, id=f"{name}-{n}")
    for name, cases in BUILT.items()
    for n, (frame, audience) in enumerate(cases)
]


@pytest.mark.parametrize(("frame", "audience"), BUILT_CASES)
def test_each_builder_makes_a_frame_that_passes(frame, audience):
    check_event(frame, audience=audience)  # as built (enum values are strings)
    check_event(wire(frame), audience=audience)  # as the client gets it
    check_event(wire(frame))  # and without naming the audience


def test_every_frame_builder_is_checked_here():
    """A new builder in chat/protocol/events.py needs its cases above (and a schema)."""
    payload_helpers = {
        "iso",
        "author_of",
        "message_payload",
        "visitor_payload",
        "conversation_payload",
        "conversation_agent_payload",
    }
    builders = {
        name
        for name, function in inspect.getmembers(events, inspect.isfunction)
        if function.__module__ == events.__name__ and not name.startswith("_")
    } - payload_helpers
    assert builders == set(BUILT)


def test_every_server_frame_type_of_the_doc_has_a_schema():
    """The "Server → client" table of section 3, plus the frames of sections 3 and 4 named in prose."""
    section = DOC.read_text().split("### Server → client", 1)[1].split("\n## ", 1)[0].split("\n### ", 1)[0]
    in_table = set(re.findall(r"^\| `([a-z.]+)`", section, flags=re.MULTILINE))
    assert in_table >= {"message.ack", "reply.end", "pong"}  # the table was found
    assert in_table | {"welcome", "replay", "subscribed", "unsubscribed", "presence", "queue"} == set(SCHEMAS)


@pytest.mark.django_db
def test_replays_of_a_conversation_pass_for_customers_sse_and_agents(site):
    visitor = Visitor.objects.create(site=site, name="Cleo")
    agent = get_user_model().objects.create_user(username="sam", first_name="Sam")
    conversation = Conversation.objects.create(
        site=site, visitor=visitor, owner="agent", assignee=agent, last_seq=4, last_public_seq=4, last_message_at=NOW
    )
    rows = [
        dict(author_kind="customer", body="Hi"),
        dict(author_kind="agent", author_agent=agent, body="Refund them", internal=True),
        dict(
            author_kind="bot",
            body="Hello! How can I help?",
            stream_index=1,
            delta_ends=[6, 22],
            outcome="smalltalk",
            meta={"language": "en"},
        ),
        dict(author_kind="bot", body="It ships", status="streaming", stream_index=0, delta_ends=[8]),
    ]
    for seq, row in enumerate(rows, start=1):
        Message.objects.create(conversation=conversation, seq=seq, **row)

    result = customer_replay(visitor=visitor, cursor=Cursor(), conversation_id=None)
    welcome = wire({"type": "welcome", **result.fields})
    assert [event["type"] for event in welcome["events"]] == [
        "message.new",
        "message.new",
        "reply.start",
        "reply.snapshot",
    ]
    check_event(welcome, audience=CUSTOMER)
    check_event(wire({"type": "replay", **result.fields}), audience=CUSTOMER)
    check_event({k: v for k, v in welcome.items() if k != "events"}, audience=SSE)

    replay = selectors.conversation_replay(conversation=conversation, cursor=Cursor(), audience=selectors.AGENTS)
    subscribed = wire(
        {
            "type": "subscribed",
            "conversation": events.conversation_agent_payload(conversation),
            "events": replay.events,
            "cursor": str(replay.head),
            "more": replay.more,
        }
    )
    check_event(subscribed, audience=AGENT)
    assert any(event.get("message", {}).get("internal") for event in subscribed["events"])


def test_the_other_frames_of_the_sockets_pass():
    agent_welcome = {
        "type": "welcome",
        "agent": {"id": 9, "name": "Sam", "status": "online"},
        "sites": [1, 2],
        "presence": [events.presence(agent_id=9, name="Sam", status="online")],
        "queues": [events.queue(site_id=1, count=3), events.queue(site_id=2, count=0)],
    }
    check_event(wire(agent_welcome), audience=AGENT)
    check_event({"type": "pong"}, audience=CUSTOMER)
    check_event({"type": "pong", "conversation": 7, "cursor": "12.3"}, audience=CUSTOMER)
    check_event({"type": "pong"}, audience=AGENT)
    check_event({"type": "pong", "heads": {"7": "12.0", "8": "3.4"}}, audience=AGENT)
    check_event({"type": "unsubscribed", "conversation": 7}, audience=AGENT)


def a_chunk(**fields) -> dict:
    """A chunk of POST /api/widget/messages (section 5), as the server streams them."""
    choice = {"index": 0, "delta": fields.pop("delta", {}), "finish_reason": fields.pop("finish_reason", None)}
    return {
        "id": "reply-11",
        "object": "chat.completion.chunk",
        "created": 1795340000,
        "model": "kb",
        "choices": [choice],
        **fields,
    }


def test_the_chat_completion_chunks_of_sse_pass():
    check_completion_chunk(a_chunk(delta={"content": "It ships"}))
    meta = wire(events.reply_end(a_bot_reply()))["meta"]
    check_completion_chunk(a_chunk(finish_reason="stop", parley_outcome="answered", parley_meta=meta))
    check_completion_chunk(
        a_chunk(finish_reason="length", parley_status="interrupted", parley_outcome="", parley_meta={})
    )
    check_completion_chunk(a_chunk(id="reply-0", finish_reason="stop", parley_status="no_reply"))


# --- malformed frames are refused, naming the field ---------------------------------------------


def a_customer_message_new() -> dict:
    return wire(events.message_new(a_bot_reply(), prev_seq=2))


def test_a_missing_field_is_refused_by_name():
    frame = a_customer_message_new()
    del frame["message"]["seq"]
    error = refusal(frame, audience=CUSTOMER)
    assert error.field == "message.seq" and "missing" in str(error)
    assert "`message.new` frame" in str(error) and "`message.seq`" in str(error)


def test_a_field_of_the_wrong_type_is_refused_by_name():
    frame = wire(events.reply_delta(reply_id=11, conversation_id=7, seq=3, index=0, text="It"))
    assert refusal({**frame, "index": "0"}).field == "index"
    assert refusal({**frame, "seq": True}).field == "seq"  # true is not 1
    assert refusal({**frame, "text": None}).field == "text"
    nested = a_customer_message_new()
    nested["message"]["meta"]["sources"][0]["url"] = 4
    error = refusal(nested, audience=CUSTOMER)
    assert error.field == "message.meta.sources[0].url" and "must be a string" in str(error)


def test_an_unexpected_field_is_refused_by_name():
    frame = a_customer_message_new()
    frame["message"]["colour"] = "red"
    assert refusal(frame, audience=CUSTOMER).field == "message.colour"
    error = refusal({**wire(events.queue(site_id=1, count=2)), "waiting": []})
    assert error.field == "waiting" and "not a field" in str(error)


def test_an_unknown_type_is_refused():
    error = refusal({"type": "message.edit", "id": 4})
    assert error.field == "type" and "message.edit" in str(error)
    assert refusal({"conversation": 7}).field == "type"
    assert refusal({"type": ["pong"]}).field == "type"
    with pytest.raises(SchemaError):
        check_event([{"type": "pong"}])


def test_a_value_outside_its_choices_is_refused_by_name():
    frame = wire(events.reply_end(a_bot_reply()))
    assert refusal({**frame, "status": "streaming"}).field == "status"
    assert refusal({**frame, "outcome": "maybe"}).field == "outcome"
    assert refusal(wire(events.error("teapot", "No."))).field == "code"
    updated = wire(events.conversation_updated(a_conversation()))
    updated["conversation"]["updated_at"] = "2026-11-22T10:30:00+01:00"
    assert refusal(updated).field == "conversation.updated_at"


def test_a_customer_never_gets_what_only_agents_may_see():
    note = wire(events.message_new(a_message(author_kind="agent", author_agent=an_agent(), internal=True), prev_seq=2))
    assert refusal(note, audience=CUSTOMER).field == "message.internal"
    failed = wire(
        events.reply_end(a_bot_reply(status="failed", outcome="", meta={}, error_reason="timeout"), for_agents=True)
    )
    assert refusal(failed, audience=CUSTOMER).field == "reason"
    inbox = wire(events.conversation_updated(a_conversation(), for_agents=True))
    assert refusal(inbox, audience=CUSTOMER).field == "conversation.unread"
    error = refusal(wire(events.presence(agent_id=9, name="Sam", status="online")), audience=CUSTOMER)
    assert error.field == "type" and "never sent to the customer" in str(error)


def test_customers_get_prev_seq_and_agents_do_not():
    assert refusal(wire(events.message_new(a_message())), audience=CUSTOMER).field == "prev_seq"
    assert refusal(wire(events.message_new(a_message(), prev_seq=2)), audience=AGENT).field == "prev_seq"


def test_a_replayed_event_is_checked_where_it_sits():
    welcome = {
        "type": "welcome",
        "visitor": events.visitor_payload(a_visitor()),
        "conversation": None,
        "events": [a_customer_message_new()],
        "cursor": "3.0",
        "more": False,
    }
    check_event(welcome, audience=CUSTOMER)
    welcome["events"][0]["message"]["seq"] = 0
    assert refusal(welcome, audience=CUSTOMER).field == "events[0].message.seq"
    welcome["events"][0] = {"type": "typing", "conversation": 7, "author": {"kind": "customer"}, "active": True}
    assert refusal(welcome, audience=CUSTOMER).field == "events[0].type"


def test_the_rules_across_fields_hold():
    snapshot = wire(events.reply_snapshot(reply_id=11, conversation_id=7, seq=3, index=1, text="It ships", ends=[3, 8]))
    assert refusal({**snapshot, "ends": [3]}).field == "ends"
    assert refusal({**snapshot, "ends": [5, 3]}).field == "ends"
    assert refusal({**snapshot, "text": "It ships in"}).field == "ends"
    stopped = wire(events.reply_end(a_bot_reply(status="stopped", outcome="", meta={})))
    assert refusal({**stopped, "outcome": "answered"}).field == "outcome"
    assert refusal({**stopped, "reason": "the customer stopped it"}, audience=AGENT).field == "reason"
    plain = wire(events.message_new(a_message(), prev_seq=2))
    assert refusal({**plain, "message": {**plain["message"], "outcome": ""}}, audience=CUSTOMER).field == (
        "message.outcome"
    )
    bot = a_customer_message_new()
    del bot["message"]["feedback"]
    assert refusal(bot, audience=CUSTOMER).field == "message.feedback"
    typing = wire(events.typing(conversation_id=7, author={"kind": "customer", "id": 3}, active=True))
    assert refusal(typing).field == "author.id"
    assert refusal({"type": "pong", "conversation": 7}, audience=CUSTOMER).field == "cursor"


def test_without_an_audience_a_frame_must_fit_one_and_every_misfit_is_named():
    customer_welcome = {
        "type": "welcome",
        "visitor": events.visitor_payload(a_visitor()),
        "conversation": None,
        "events": [],
        "cursor": "0.0",
        "more": False,
    }
    check_event(customer_welcome)
    check_event({k: v for k, v in customer_welcome.items() if k != "events"})  # the SSE welcome
    error = refusal({**customer_welcome, "cursor": "twelve"})
    assert error.field == "cursor"
    assert "as sent to the customer" in str(error) and "as sent to the agent" in str(error)


def test_a_malformed_completion_chunk_is_refused_by_name():
    chunk = a_chunk(finish_reason="stop", parley_outcome="answered", parley_meta={"language": "en"})
    broken = copy.deepcopy(chunk)
    broken["choices"][0]["finish_reason"] = "done"
    with pytest.raises(SchemaError) as caught:
        check_completion_chunk(broken)
    assert caught.value.field == "choices[0].finish_reason"
    with pytest.raises(SchemaError) as caught:
        check_completion_chunk({**chunk, "parley_status": "complete"})
    assert caught.value.field == "parley_status"


def test_an_unknown_audience_is_a_mistake_of_the_caller():
    with pytest.raises(ValueError, match="audience"):
        check_event({"type": "pong"}, audience="robot")
