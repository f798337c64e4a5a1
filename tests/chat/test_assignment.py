"""Assignment: round robin to online agents under their limit, and the queue taking back what a leaving agent left."""

from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from chat.models import AgentProfile, Conversation, Message, Site
from chat.services import assignment, conversations, presence
from tests.conftest import (
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


@pytest.fixture
def auto_site(transactional_db):
    return make_site("Auto shop", assignment=Site.Assignment.AUTO)


def ask(site: Site, body: str = "Where is my parcel?", **visitor_fields) -> Conversation:
    """A customer writes on a site without bot: the conversation waits in the queue (and may be assigned)."""
    visitor = make_visitor(site, **visitor_fields)
    result = conversations.customer_message_send(visitor=visitor, client_id=new_client_id(), body=body)
    return Conversation.objects.get(pk=result.message.conversation_id)


def online(user, tab: str = "tab-1") -> str:
    return presence.presence_connect(user=user, channel_name=f"{user.username}-{tab}")


def offline(user, tab: str = "tab-1") -> str:
    return presence.presence_disconnect(user=user, channel_name=f"{user.username}-{tab}")


def set_limit(user, limit: int) -> None:
    AgentProfile.objects.filter(user=user).update(max_concurrent=limit)


def refreshed(conversation: Conversation) -> Conversation:
    return Conversation.objects.select_related("assignee").get(pk=conversation.pk)


def test_queued_conversation_goes_to_the_online_agent(auto_site):
    sam = make_agent("sam", auto_site)
    online(sam)
    conversation = refreshed(ask(auto_site))
    assert conversation.owner == "agent" and conversation.assignee == sam
    assert conversation.queued_at is not None  # still counts as having waited, for response times


def test_manual_site_leaves_the_queue_alone(site):
    sam = make_agent("sam", site)
    online(sam)
    conversation = refreshed(ask(site))
    assert conversation.owner == "queue" and conversation.assignee is None


def test_round_robin_takes_turns(auto_site):
    sam, kim = make_agent("sam", auto_site), make_agent("kim", auto_site)
    online(sam)
    online(kim)
    assignees = [refreshed(ask(auto_site)).assignee.username for _ in range(4)]
    assert assignees in (["sam", "kim", "sam", "kim"], ["kim", "sam", "kim", "sam"])


def test_agent_at_the_limit_gets_nothing_more_until_a_resolve_frees_room(auto_site):
    sam = make_agent("sam", auto_site)
    set_limit(sam, 2)
    online(sam)
    first, second, third = ask(auto_site), ask(auto_site), ask(auto_site)
    assert [refreshed(c).owner for c in (first, second, third)] == ["agent", "agent", "queue"]
    conversations.conversation_resolve(conversation=first)
    third = refreshed(third)
    assert third.owner == "agent" and third.assignee == sam


def test_limit_counts_open_conversations_of_every_site(auto_site):
    other = make_site("Other shop", assignment=Site.Assignment.AUTO)
    sam = make_agent("sam", auto_site, other)
    set_limit(sam, 1)
    online(sam)
    assert refreshed(ask(other)).assignee == sam
    assert refreshed(ask(auto_site)).owner == "queue"


def test_full_agent_is_skipped_for_one_with_room(auto_site):
    sam, kim = make_agent("sam", auto_site), make_agent("kim", auto_site)
    set_limit(sam, 1)
    online(sam)
    online(kim)
    assignees = sorted(refreshed(ask(auto_site)).assignee.username for _ in range(3))
    assert assignees == ["kim", "kim", "sam"]


def test_away_offline_and_unlimited_agents_get_nothing(auto_site):
    away, gone, zero = make_agent("away", auto_site), make_agent("gone", auto_site), make_agent("zero", auto_site)
    online(away)
    presence.presence_set(user=away, status="away")
    set_limit(zero, 0)
    online(zero)
    assert gone and refreshed(ask(auto_site)).owner == "queue"


def test_agent_coming_online_takes_the_waiting_queue_oldest_first(auto_site):
    sam = make_agent("sam", auto_site)
    set_limit(sam, 1)
    older, newer = ask(auto_site), ask(auto_site)
    Conversation.objects.filter(pk=older.pk).update(queued_at=timezone.now() - timedelta(minutes=5))
    online(sam)
    assert refreshed(older).assignee == sam
    assert refreshed(newer).owner == "queue"


def test_back_from_away_takes_the_queue(auto_site):
    sam = make_agent("sam", auto_site)
    online(sam)
    presence.presence_set(user=sam, status="away")
    waiting = ask(auto_site)
    assert refreshed(waiting).owner == "queue"
    presence.presence_set(user=sam, status="online")
    assert refreshed(waiting).assignee == sam


def test_handoff_from_the_bot_is_assigned(auto_site):
    Site.objects.filter(pk=auto_site.pk).update(bot_enabled=True)
    sam = make_agent("sam", auto_site)
    online(sam)
    visitor = make_visitor(auto_site)
    conversation = conversations.customer_handoff_request(visitor=visitor)
    assert refreshed(conversation).assignee == sam


def test_unassigning_to_the_queue_offers_it_to_the_next_agent(auto_site):
    sam, kim = make_agent("sam", auto_site), make_agent("kim", auto_site)
    online(sam)
    conversation = ask(auto_site)
    assert refreshed(conversation).assignee == sam
    online(kim)
    conversations.conversation_assign(conversation=conversation, assignee=None)
    assert refreshed(conversation).assignee == kim  # sam was given one last: kim's turn


def test_closing_one_of_two_tabs_keeps_the_conversations(auto_site):
    sam = make_agent("sam", auto_site)
    online(sam, "tab-1")
    online(sam, "tab-2")
    conversation = ask(auto_site)
    assert offline(sam, "tab-1") == "online"
    assert refreshed(conversation).assignee == sam


def test_closing_the_last_tab_returns_unattended_conversations_to_the_queue(auto_site):
    sam = make_agent("sam", auto_site)
    online(sam, "tab-1")
    online(sam, "tab-2")
    waiting, answered = ask(auto_site), ask(auto_site)
    conversations.agent_message_send(
        agent=sam, conversation=answered, client_id=new_client_id(), body="Sent it this morning.", internal=False
    )
    conversations.agent_message_send(
        agent=sam, conversation=waiting, client_id=new_client_id(), body="check the warehouse", internal=True
    )  # a note answers nobody
    offline(sam, "tab-1")
    assert offline(sam, "tab-2") == "offline"
    waiting, answered = refreshed(waiting), refreshed(answered)
    assert waiting.owner == "queue" and waiting.assignee is None
    assert answered.owner == "agent" and answered.assignee == sam


def test_a_released_conversation_keeps_its_place_in_the_queue(auto_site):
    sam = make_agent("sam", auto_site)
    online(sam)
    conversation = ask(auto_site)
    asked_at = Message.objects.get(conversation=conversation, seq=1).created_at
    offline(sam)
    assert refreshed(conversation).queued_at == asked_at


def test_a_released_conversation_goes_to_another_online_agent(auto_site):
    sam, kim = make_agent("sam", auto_site), make_agent("kim", auto_site)
    online(sam)
    conversation = ask(auto_site)
    online(kim)
    assert refreshed(conversation).assignee == sam
    offline(sam)
    assert refreshed(conversation).assignee == kim


def test_unattended_means_the_customer_spoke_last(auto_site):
    sam = make_agent("sam", auto_site)
    online(sam)
    conversation = ask(auto_site)
    assert list(assignment.unattended_conversations(user=sam)) == [conversation]
    conversations.agent_message_send(
        agent=sam, conversation=conversation, client_id=new_client_id(), body="On it!", internal=False
    )
    assert list(assignment.unattended_conversations(user=sam)) == []
    conversations.customer_message_send(visitor=conversation.visitor, client_id=new_client_id(), body="Thanks, and?")
    assert list(assignment.unattended_conversations(user=sam)) == [conversation]


def test_resolved_conversations_are_never_released(auto_site):
    sam = make_agent("sam", auto_site)
    online(sam)
    conversation = ask(auto_site)
    conversations.conversation_resolve(conversation=conversation)
    offline(sam)
    conversation = refreshed(conversation)
    assert conversation.status == "resolved" and conversation.assignee == sam


async def test_the_desk_socket_sees_auto_assignment_and_the_release_on_its_last_tab(auto_site):
    sam = await database_sync_to_async(make_agent)("sam", auto_site)
    lead = await database_sync_to_async(make_agent)("lead", auto_site)
    await database_sync_to_async(set_limit)(lead, 0)  # watches, never takes conversations
    watcher, _ = await open_agent(lead)
    tab1, _ = await open_agent(sam)
    tab2, _ = await open_agent(sam)
    visitor = await database_sync_to_async(make_visitor)(auto_site, name="Cleo")
    customer, _ = await open_customer(token_for(visitor))
    ack = await send_message(customer, "Hello?")
    assigned, _ = await receive_until(
        watcher, lambda f: f["type"] == "conversation.updated" and f["conversation"]["owner"] == "agent"
    )
    assert assigned["conversation"]["id"] == ack["conversation"]
    assert assigned["conversation"]["assignee"]["id"] == sam.pk
    await tab1.disconnect()
    await tab2.disconnect()
    released, _ = await receive_until(
        watcher, lambda f: f["type"] == "conversation.updated" and f["conversation"]["owner"] == "queue"
    )
    assert released["conversation"]["assignee"] is None
    queue, _ = await receive_until(watcher, "queue")
    assert queue["count"] == 1
    await customer.disconnect()
    await watcher.disconnect()


async def test_a_reload_within_the_grace_keeps_conversations_then_the_sweep_releases_them(settings):
    """Closing the last tab starts a grace period; only the sweep, after it, returns conversations to the queue."""
    from chat.models import Conversation
    from chat.services.presence import presence_sweep
    from tests.conftest import make_agent, make_site, make_visitor, open_agent, open_customer, send_message, token_for

    settings.PARLEY_RELEASE_GRACE = 3600
    site = await database_sync_to_async(make_site)("Grace shop")
    agent = await database_sync_to_async(make_agent)("grace", site)
    visitor = await database_sync_to_async(make_visitor)(site)
    customer, _ = await open_customer(token_for(visitor))
    ack = await send_message(customer, "help please")
    desk, _ = await open_agent(agent)
    await desk.send_json_to({"type": "conversation.assign", "conversation": ack["conversation"], "agent": agent.pk})
    await send_message(customer, "are you there?")  # after the assignment: the customer now waits on the agent
    await desk.disconnect()
    assert await database_sync_to_async(presence_sweep)() == 0  # within the grace: a reload, not leaving
    conversation = await database_sync_to_async(Conversation.objects.get)(pk=ack["conversation"])
    assert conversation.assignee_id == agent.pk
    settings.PARLEY_RELEASE_GRACE = 0
    assert await database_sync_to_async(presence_sweep)() == 1
    conversation = await database_sync_to_async(Conversation.objects.get)(pk=ack["conversation"])
    assert conversation.owner == "queue" and conversation.assignee_id is None
    await customer.disconnect()
