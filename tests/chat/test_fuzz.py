"""Random frames at both consumers: never a crash, always an answer, and the sockets keep working."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import open_agent, open_customer, receive_until, token_for

pytestmark = pytest.mark.django_db(transaction=True)

# Frames a server may legitimately answer any input with; anything else is a bug.
ALLOWED_REPLIES = {
    "error",
    "pong",
    "message.ack",
    "message.new",
    "conversation.updated",
    "queue",
    "typing",
    "read",
    "presence",
    "reply.start",
    "reply.delta",
    "reply.end",
    "reply.snapshot",
    "subscribed",
    "unsubscribed",
    "replay",
}
LISTED_CLOSE_CODES = {4009, 4401, 4403, 4408}
TYPES = [
    "hello",
    "resume",
    "message.send",
    "reply.stop",
    "handoff.request",
    "typing",
    "read",
    "ping",
    "subscribe",
    "unsubscribe",
    "conversation.assign",
    "conversation.resolve",
    "conversation.reopen",
    "bot.pause",
    "bot.resume",
    "presence",
]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    st.text(max_size=40),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=20,
)
field_names = st.sampled_from(
    ["conversation", "cursor", "client_id", "body", "seq", "active", "agent", "status", "reply_id", "internal", "token"]
)
typed_frames = st.builds(
    lambda kind, fields: json.dumps({"type": kind, **fields}),
    st.sampled_from(TYPES),
    st.dictionaries(field_names, json_values, max_size=4),
)
raw_text = st.one_of(st.text(max_size=200), json_values.map(json.dumps))
deep_json = st.integers(min_value=100, max_value=20000).map(lambda depth: "[" * depth + "]" * depth)
frames = st.one_of(typed_frames, raw_text, deep_json, st.binary(max_size=100))

FUZZ_SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)


async def throw(communicator, frame) -> int | None:
    """Send one frame, then a ping; return the close code if the server closed, else None."""
    # send_input, not send_to: empty text and empty binary frames are fair game too.
    key = "bytes" if isinstance(frame, bytes) else "text"
    await communicator.send_input({"type": "websocket.receive", key: frame})
    await communicator.send_json_to({"type": "ping"})
    while True:
        output = await communicator.receive_output(timeout=5)
        if output["type"] == "websocket.close":
            return output.get("code")
        reply = json.loads(output["text"])
        assert reply["type"] in ALLOWED_REPLIES, reply
        if reply["type"] == "pong":
            return None


@FUZZ_SETTINGS
@given(frame=frames)
async def test_customer_consumer_survives_random_frames(visitor, frame):
    communicator, _ = await open_customer(token_for(visitor))
    code = await throw(communicator, frame)
    assert code is None or code in LISTED_CLOSE_CODES
    await communicator.disconnect()
    other, _ = await open_customer(token_for(visitor))
    await other.send_json_to({"type": "ping"})
    await receive_until(other, "pong")
    await other.disconnect()


@FUZZ_SETTINGS
@given(frame=frames)
async def test_agent_consumer_survives_random_frames(agent, frame):
    desk, _ = await open_agent(agent)
    code = await throw(desk, frame)
    assert code is None or code in LISTED_CLOSE_CODES
    await desk.disconnect()
    other, _ = await open_agent(agent)
    await other.send_json_to({"type": "ping"})
    await receive_until(other, "pong")
    await other.disconnect()
