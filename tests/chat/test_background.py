"""The reaper's election: one process of many runs each pass, another takes over; the sweep's bounded queries."""

import asyncio
import time
import uuid
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.core.cache import cache
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from chat.models import AgentConnection, Conversation
from chat.services import presence
from chat.transports.background import CacheLease, reap_forever, reaper_lease, reaper_lease_ttl
from tests.conftest import make_agent, make_site, make_visitor
from tests.services import redis_url

pytestmark = pytest.mark.django_db(transaction=True)

INTERVAL = 0.2  # seconds between a reaper's attempts in these tests: its lease lives reaper_lease_ttl(0.2) = 2 s
TTL = reaper_lease_ttl(INTERVAL)


@pytest.fixture(params=["locmem", "redis"])
def shared_cache(request):
    """The cache every simulated process shares: locmem (one process, as in the embedded trial) or real Redis."""
    if request.param == "locmem":
        yield LocMemCache(f"reaper-{uuid.uuid4().hex}", {})
    else:
        yield RedisCache(redis_url(), {"KEY_PREFIX": f"parley-test-reaper-{uuid.uuid4().hex}"})


@pytest.fixture
def lease_key(shared_cache):
    key = f"reaper-leader-{uuid.uuid4().hex}"
    yield key
    shared_cache.delete(key)


@pytest.fixture
def short_interval(settings):
    settings.PARLEY_REAPER_INTERVAL = INTERVAL


def lease(shared_cache, key: str, holder: str) -> CacheLease:
    """One process's candidacy for the reaper."""
    return CacheLease(key, ttl=TTL, holder=holder, cache=shared_cache)


async def stop(*tasks: asyncio.Task) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.wait(tasks, timeout=5)


def absent_agent_with_a_waiting_customer() -> int:
    """An agent whose dashboard is gone, holding a conversation whose customer waits; its id."""
    name = f"gone-{uuid.uuid4().hex[:8]}"
    site = make_site(name)
    agent = make_agent(name, site)
    return Conversation.objects.create(site=site, visitor=make_visitor(site), owner="agent", assignee=agent).pk


def test_a_lease_has_one_holder_and_passes_to_another_once_released(shared_cache, lease_key):
    first, second = lease(shared_cache, lease_key, "first"), lease(shared_cache, lease_key, "second")
    assert first.hold() and not second.hold()
    assert first.hold() and not second.hold()  # the holder renews; the other still cannot take it
    first.release()
    assert second.hold() and not first.hold()
    assert shared_cache.get(lease_key) == "second"


def test_a_holder_whose_key_was_lost_and_taken_does_not_renew_over_the_new_holder(shared_cache, lease_key):
    first, second = lease(shared_cache, lease_key, "first"), lease(shared_cache, lease_key, "second")
    assert first.hold()
    shared_cache.delete(lease_key)  # as a Redis restart would
    assert second.hold()
    assert not first.hold()
    first.release()  # not its key any more: left alone
    assert shared_cache.get(lease_key) == "second"


def test_the_default_lease_is_one_per_deployment_and_outlives_the_interval(settings):
    settings.PARLEY_REAPER_INTERVAL = 5.0
    default = reaper_lease()
    assert default.key == f"{settings.REDIS_PREFIX}:reaper-leader"
    assert 5 < default.ttl <= 10 and isinstance(default.ttl, int)  # Redis keeps whole seconds
    with pytest.raises(ValueError, match="whole seconds"):
        CacheLease("k", ttl=0)


async def test_two_processes_sharing_the_cache_run_the_reaper_in_one_of_them(shared_cache, lease_key, short_interval):
    passes: list[str] = []
    outlived_the_ttl = asyncio.Event()
    started = time.monotonic()

    def counted(name: str):
        def on_pass():
            passes.append(name)
            if time.monotonic() - started > 1.5 * TTL:  # so the holder has had to renew its lease
                outlived_the_ttl.set()

        return on_pass

    processes = [
        asyncio.create_task(reap_forever(lease=lease(shared_cache, lease_key, name), on_pass=counted(name)))
        for name in ("a", "b")
    ]
    try:
        await asyncio.wait_for(outlived_the_ttl.wait(), timeout=15)
        assert len(passes) > 5 and len(set(passes)) == 1, passes
        assert await asyncio.to_thread(shared_cache.get, lease_key) == passes[0]
    finally:
        await stop(*processes)
    assert await asyncio.to_thread(shared_cache.get, lease_key) is None  # released as the holder stopped


async def test_a_leader_that_stops_hands_the_reaper_to_another_process_at_once(shared_cache, lease_key, short_interval):
    led, took_over = asyncio.Event(), asyncio.Event()
    leader = asyncio.create_task(reap_forever(lease=lease(shared_cache, lease_key, "a"), on_pass=led.set))
    await asyncio.wait_for(led.wait(), timeout=5)
    other = asyncio.create_task(reap_forever(lease=lease(shared_cache, lease_key, "b"), on_pass=took_over.set))
    try:
        await stop(leader)
        stopped_at = time.monotonic()
        await asyncio.wait_for(took_over.wait(), timeout=TTL + 5)
        assert time.monotonic() - stopped_at < TTL  # it released the lease: no wait for it to lapse
    finally:
        await stop(other)


async def test_when_the_leader_dies_another_process_takes_over_after_the_ttl(
    shared_cache, lease_key, short_interval, settings
):
    settings.PARLEY_RELEASE_GRACE = 0
    conversation_id = await database_sync_to_async(absent_agent_with_a_waiting_customer)()
    dead = lease(shared_cache, lease_key, "dead")
    assert await asyncio.to_thread(dead.hold)  # it took the lease, then was killed: it never renews nor releases
    died_at = time.monotonic()
    took_over = asyncio.Event()
    survivor = asyncio.create_task(reap_forever(lease=lease(shared_cache, lease_key, "b"), on_pass=took_over.set))
    try:
        await asyncio.wait_for(took_over.wait(), timeout=TTL + 5)
        assert time.monotonic() - died_at >= TTL - 0.1
        assert await asyncio.to_thread(shared_cache.get, lease_key) == "b"
    finally:
        await stop(survivor)
    # The pass did the dead leader's work: the absent agent's conversation is back in the queue.
    conversation = await database_sync_to_async(Conversation.objects.get)(pk=conversation_id)
    assert conversation.owner == "queue" and conversation.assignee_id is None


def agents_holding_conversations(count: int, *, settings) -> None:
    """`count` agents with an open conversation each: a third online, a third offline within the grace, a third
    whose process was killed (a stale socket row) within the grace too."""
    site = make_site(f"Busy shop {count}")
    stale = timezone.now() - timedelta(seconds=settings.PARLEY_PRESENCE_TTL + 1)
    for n in range(count):
        agent = make_agent(f"agent{count}-{n}", site)
        Conversation.objects.create(site=site, visitor=make_visitor(site), owner="agent", assignee=agent)
        if n % 3 == 0:
            AgentConnection.objects.create(user=agent, channel_name=f"online-{count}-{n}")
        elif n % 3 == 1:
            cache.set(presence._offline_key(agent.pk), time.time(), presence.OFFLINE_MEMORY)
        else:
            AgentConnection.objects.create(user=agent, channel_name=f"killed-{count}-{n}", last_seen=stale)


def test_the_presence_sweep_asks_a_fixed_number_of_queries_however_many_agents(settings):
    settings.PARLEY_RELEASE_GRACE = 3600
    counts = {}
    for agents in (3, 60):
        agents_holding_conversations(agents, settings=settings)
        with CaptureQueriesContext(connection) as captured:
            assert presence.presence_sweep() == 0  # nobody gone: online, or offline within the grace
        counts[agents] = len(captured)
    assert counts[3] == counts[60] == 1, counts


def test_gone_agents_are_those_offline_past_the_grace_however_they_left(settings):
    settings.PARLEY_RELEASE_GRACE = 60
    site = make_site()
    long_ago = timezone.now() - timedelta(seconds=settings.PARLEY_PRESENCE_TTL + 61)
    recently = timezone.now() - timedelta(seconds=settings.PARLEY_PRESENCE_TTL + 1)
    agents = {
        name: make_agent(name, site)
        for name in ("online", "closed", "closed_long_ago", "killed", "killed_long_ago", "never_connected", "idle")
    }
    for name, agent in agents.items():
        if name != "idle":  # an agent without open conversations is never gone
            Conversation.objects.create(site=site, visitor=make_visitor(site), owner="agent", assignee=agent)
    AgentConnection.objects.create(user=agents["online"], channel_name="online")
    AgentConnection.objects.create(user=agents["killed"], channel_name="killed", last_seen=recently)
    AgentConnection.objects.create(user=agents["killed_long_ago"], channel_name="killed-long-ago", last_seen=long_ago)
    AgentConnection.objects.create(user=agents["idle"], channel_name="idle", last_seen=long_ago)
    cache.set(presence._offline_key(agents["closed"].pk), time.time(), presence.OFFLINE_MEMORY)
    cache.set(presence._offline_key(agents["closed_long_ago"].pk), time.time() - 61, presence.OFFLINE_MEMORY)

    gone = presence.presence_gone_agents()

    names = {agent.pk: name for name, agent in agents.items()}
    assert sorted(names[user_id] for user_id in gone) == ["closed_long_ago", "killed_long_ago", "never_connected"]


async def test_the_sweep_releases_every_gone_agent(settings):
    settings.PARLEY_RELEASE_GRACE = 0
    conversations = [await database_sync_to_async(absent_agent_with_a_waiting_customer)() for _ in range(3)]
    assert await database_sync_to_async(presence.presence_sweep)() == 3
    owners = await database_sync_to_async(
        lambda: set(Conversation.objects.filter(pk__in=conversations).values_list("owner", flat=True))
    )()
    assert owners == {"queue"}
