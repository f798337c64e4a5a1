"""The one-process channel layer: expiry still works, swept at most once per interval; group sends skip full channels."""

from chat.realtime.memory_layer import SweptInMemoryChannelLayer


async def test_an_expired_message_drops_its_channel_from_groups_at_the_next_sweep():
    layer = SweptInMemoryChannelLayer(expiry=0, sweep_interval=0)
    await layer.group_add("room", "dead.channel")
    await layer.send("dead.channel", {"type": "old"})  # expires at once: nobody received it
    await layer.group_send("room", {"type": "new"})
    assert "dead.channel" not in layer.groups.get("room", {})


async def test_sweeps_wait_for_their_interval():
    layer = SweptInMemoryChannelLayer(expiry=0, sweep_interval=3600)
    await layer.group_add("room", "dead.channel")
    await layer.group_send("room", {"type": "first"})  # the first sweep runs (nothing expired yet)
    await layer.send("dead.channel", {"type": "old"})
    await layer.group_send("room", {"type": "second"})  # within the interval: no sweep
    assert "dead.channel" in layer.groups["room"]
    await layer.flush()
    await layer.group_add("room", "dead.channel")
    await layer.send("dead.channel", {"type": "old"})
    await layer.group_send("room", {"type": "third"})  # a flush starts the interval over
    assert "dead.channel" not in layer.groups.get("room", {})


async def test_group_send_reaches_every_member_and_skips_a_full_one():
    layer = SweptInMemoryChannelLayer(capacity=1)
    for channel in ("a.one", "a.two"):
        await layer.group_add("room", channel)
    await layer.send("a.one", {"type": "filler"})
    await layer.group_send("room", {"type": "news"})
    assert (await layer.receive("a.one"))["type"] == "filler"
    assert (await layer.receive("a.two"))["type"] == "news"
