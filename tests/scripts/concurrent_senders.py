"""Many processes send into one conversation at once; print the seqs the database ends with.

Run with DATABASE_URL set: it migrates that database, forks the writers, and prints JSON.
Each writer also retries some of its own client_ids, the way a flaky network would.
"""

import json
import multiprocessing
import os
import sys
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatsite.settings")
os.environ.setdefault("SECRET_KEY", "concurrency-script-only")

import django

django.setup()

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connections

from chat.models import Conversation, Message, Site, Visitor
from chat.services import conversations


def writer(index: int, visitor_id: int, agent_id: int, conversation_id: int, count: int, out) -> None:
    """Send `count` messages, alternating customer and agent, retrying every third client_id."""
    visitor = Visitor.objects.get(pk=visitor_id)
    agent = get_user_model().objects.get(pk=agent_id)
    conversation = Conversation.objects.get(pk=conversation_id)
    client_ids = []
    for n in range(count):
        client_id = str(uuid.uuid4())
        client_ids.append(client_id)
        for _attempt in range(2 if n % 3 == 0 else 1):
            if (index + n) % 2:
                conversations.customer_message_send(visitor=visitor, client_id=client_id, body=f"w{index} m{n}")
            else:
                conversations.agent_message_send(
                    agent=agent,
                    conversation=conversation,
                    client_id=client_id,
                    body=f"w{index} m{n}",
                    internal=n % 5 == 0,
                )
    out.put(client_ids)


def main() -> None:
    writers, count = int(sys.argv[1]), int(sys.argv[2])
    call_command("migrate", verbosity=0)
    site = Site.objects.create(name="Concurrency", bot_enabled=False)
    visitor = Visitor.objects.create(site=site)
    agent = get_user_model().objects.create_user(username=f"agent-{uuid.uuid4().hex[:6]}")
    first = conversations.customer_message_send(visitor=visitor, client_id=str(uuid.uuid4()), body="start")
    conversation_id = first.message.conversation_id
    connections.close_all()  # each forked writer opens its own connection
    context = multiprocessing.get_context("fork")
    out = context.Queue()
    processes = [
        context.Process(target=writer, args=(i, visitor.pk, agent.pk, conversation_id, count, out))
        for i in range(writers)
    ]
    for process in processes:
        process.start()
    sent = [client_id for _ in processes for client_id in out.get(timeout=120)]
    for process in processes:
        process.join(timeout=120)
    rows = list(Message.objects.filter(conversation_id=conversation_id).order_by("seq").values_list("seq", "client_id"))
    conversation = Conversation.objects.get(pk=conversation_id)
    print(
        json.dumps(
            {
                "seqs": [seq for seq, _ in rows],
                "client_ids": [cid for _, cid in rows],
                "sent": sent,
                "last_seq": conversation.last_seq,
                "exit_codes": [process.exitcode for process in processes],
            }
        )
    )


if __name__ == "__main__":
    main()
