"""The reconnect storm's count: a message is lost only if it is still missing once the server has answered."""

from __future__ import annotations

import asyncio
import json

import pytest

from bench.scenarios import reconnect


class Frames:
    """A socket that yields the given frames, then ends."""

    def __init__(self, frames: list[dict]):
        self.frames = [json.dumps(frame) for frame in frames]

    def __aiter__(self):
        return self._iterate()

    async def _iterate(self):
        for raw in self.frames:
            yield raw


class HeldFrames(Frames):
    """A socket whose frames arrive only once `gate` is set."""

    def __init__(self, frames: list[dict], gate: asyncio.Event):
        super().__init__(frames)
        self.gate = gate

    async def _iterate(self):
        await self.gate.wait()
        for raw in self.frames:
            yield raw


def ack(client_id: str, conversation: int, seq: int) -> dict:
    return {"type": "message.ack", "client_id": client_id, "id": seq, "seq": seq, "conversation": conversation}


def message_new(conversation: int, seq: int, prev_seq: int) -> dict:
    return {
        "type": "message.new",
        "conversation": conversation,
        "prev_seq": prev_seq,
        "message": {"id": seq, "seq": seq, "author": {"kind": "agent"}, "body": "hello"},
    }


async def test_an_unanswered_send_holds_the_count_back():
    ledger = reconnect.Ledger()
    ledger.unanswered.add("c1")
    assert not await reconnect._settle(ledger, [], answer_timeout=0, settle_s=0, answer_readers=[])

    await reconnect._acks(Frames([ack("c1", 7, 1)]), ledger)
    assert ledger.unanswered == set()
    assert ledger.expected == {7: {1}}


async def test_an_acknowledged_message_not_yet_at_its_customer_is_waited_for():
    ledger = reconnect.Ledger()
    customer = reconnect.Customer(7, None, ledger.progress)
    ledger.unanswered.add("c1")
    await reconnect._acks(Frames([ack("c1", 7, 1)]), ledger)
    # The ack comes first: the customer's copy is still on its way, so the count may not be taken yet.
    assert not await reconnect._settle(ledger, [customer], answer_timeout=0, settle_s=0, answer_readers=[])

    await reconnect._read(customer, Frames([message_new(7, 1, 0)]), parley=True)
    assert await reconnect._settle(ledger, [customer], answer_timeout=0, settle_s=0, answer_readers=[])
    assert customer.received == [1]
    assert customer.reader_error == ""


async def test_a_refused_send_is_answered_and_expected_nowhere():
    ledger = reconnect.Ledger()
    ledger.unanswered.add("c1")
    await reconnect._acks(Frames([{"type": "error", "code": "unavailable", "detail": "", "ref": "c1"}]), ledger)
    assert ledger.unanswered == set()
    assert ledger.refused == 1
    assert ledger.expected == {}


async def test_an_ack_later_than_the_answer_bound_is_not_counted():
    ledger = reconnect.Ledger()
    ledger.unanswered.add("c1")
    gate = asyncio.Event()
    reader = asyncio.create_task(reconnect._acks(HeldFrames([ack("c1", 7, 1)], gate), ledger))
    assert not await reconnect._settle(ledger, [], answer_timeout=0, settle_s=0, answer_readers=[reader])

    gate.set()
    with pytest.raises(asyncio.CancelledError):
        await reader
    assert ledger.expected == {}
