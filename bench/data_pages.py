"""Inside Django, for the `data` scenario: seed a PostgreSQL database with years of conversations, time the pages.

`python bench/data_pages.py <messages> <repeats>` with DATABASE_URL set. Seeding is bulk SQL (generate_series),
done once per database: a database that already holds the bench site with `messages` messages is reused. Prints
one JSON object: seconds spent seeding (0 when reused) and each page's timings in milliseconds.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatsite.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core import signing  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402

from chat.models import AgentProfile, Conversation, DailyStats, Message, Site  # noqa: E402
from chat.selectors import rollups  # noqa: E402
from chat.tasks.rollups import rollups_store  # noqa: E402
from chat.views import desk_api  # noqa: E402

SITE = "Bench data"  # then the span in days: a database seeded with another shape is seeded again
OTHER = "Elsewhere"
PER_CONVERSATION = 10
# Conversations spread up to now at the same rate whatever the size: 1,000,000 messages are two years of history,
# a tenth of them about two months. A period's report then reads as many rows at either size, as it does when
# a real desk grows older.
DAYS_PER_MILLION = 730
DEEP = 9_000  # rows into the resolved list for the "deep page" timing
SENTENCES = [
    "Hi, where is my order? It has not arrived yet",
    "Can I get a refund for the shoes I returned last week",
    "The invoice shows the wrong billing address",
    "How long does express shipping take to Canada",
    "My discount code does not work at checkout",
    "Thanks, that solved it. Have a nice day",
    "I would like to change the size of my jacket",
    "The package was damaged when it arrived",
    "Do you ship to Norway and what does it cost",
    "Please cancel my subscription before the next payment",
    "我想退货，请问退货政策是什么？",
    "快递什么时候到？我已经等了一个星期",
    "可以开发票吗？公司抬头需要修改",
]
QUERIES = {
    "name": ["Customer 49999", "Customer 1234", "Customer 777", "Customer 31415", "Customer 8"],
    "text": ["refund", "invoice billing", "express shipping Canada", "退货政策", "发票"],
}


def _span_days(messages: int) -> int:
    return max(1, round(DAYS_PER_MILLION * messages / 1_000_000))


def _site_name(messages: int) -> str:
    return f"{SITE}, {_span_days(messages)} days"


def _seed(messages: int) -> float:
    """Fill the bench site with `messages` messages in PER_CONVERSATION-message conversations; seconds it took."""
    started = time.monotonic()
    conversations = max(1, messages // PER_CONVERSATION)
    span = _span_days(messages)
    with connection.cursor() as cursor:
        # The bench database holds nothing else: emptied in one statement, not row by row through the ORM.
        cursor.execute("TRUNCATE chat_site CASCADE")
    site = Site.objects.create(name=_site_name(messages), bot_enabled=True)
    other = Site.objects.create(name=OTHER)
    user, _ = get_user_model().objects.get_or_create(username="bench-agent", defaults={"first_name": "Bench"})
    profile, _ = AgentProfile.objects.get_or_create(user=user)
    profile.sites.add(site)
    admin, _ = get_user_model().objects.get_or_create(username="bench-admin", defaults={"is_staff": True})
    admin.is_superuser = admin.is_staff = True
    admin.save()
    sentences = "ARRAY[" + ", ".join("%s" for _ in SENTENCES) + "]"
    with connection.cursor() as cursor:
        # Indexes are built after the rows: building a GIN index once is much cheaper than a million updates.
        from importlib import import_module

        indexes = import_module("chat.migrations.0009_search").INDEXES
        for name, _target in indexes:
            cursor.execute(f"DROP INDEX IF EXISTS {name}")
        for target, count in ((site.pk, conversations), (other.pk, 100)):
            cursor.execute(
                """
                INSERT INTO chat_visitor (site_id, external_id, name, email, first_seen, last_seen, last_page_url,
                                          user_agent, token_version, email_opt_out)
                SELECT %s, '', 'Customer ' || i, 'customer' || i || '@example.com', now(), now(), '', '', 0, false
                  FROM generate_series(1, %s) AS i
                """,
                [target, count],
            )
            cursor.execute(
                f"""
                INSERT INTO chat_conversation (site_id, visitor_id, status, owner, assignee_id, last_seq,
                    last_public_seq, customer_read_seq, agent_read_seq, unread_by_agent, unread_by_customer,
                    created_at, updated_at, last_message_at, queued_at, first_human_reply_at, resolved_at,
                    handed_off_at, bot_misses, bot_expects, rating, rating_comment, rated_at, emailed_seq)
                SELECT v.site_id, v.id, s.status, s.owner, CASE WHEN s.owner = 'agent' THEN %s END,
                       {PER_CONVERSATION}, {PER_CONVERSATION}, 0, 0, 0, 0,
                       t, t + interval '1 hour', t + interval '{PER_CONVERSATION} minutes',
                       CASE WHEN s.owner <> 'bot' THEN t + interval '1 minute' END,
                       CASE WHEN s.owner = 'agent' THEN t + (60 + v.id %% 900) * interval '1 second' END,
                       CASE WHEN s.status = 'resolved' THEN t + interval '2 hours' END,
                       CASE WHEN s.owner <> 'bot' THEN t + interval '1 minute' END,
                       0, '', CASE WHEN v.id %% 7 = 0 THEN 1 + v.id %% 5 END, '',
                       CASE WHEN v.id %% 7 = 0 THEN t + interval '3 hours' END, 0
                  FROM (SELECT *, row_number() OVER (ORDER BY id) AS n FROM chat_visitor WHERE site_id = %s) AS v,
                       LATERAL (SELECT now() - (%s - v.n) * (interval '{span} days' / %s) AS t) AS at_,
                       LATERAL (SELECT CASE WHEN v.n > %s * 0.98 THEN 'open' ELSE 'resolved' END AS status,
                                       CASE WHEN v.n %% 3 = 0 THEN 'bot'
                                            WHEN v.n > %s * 0.98 AND v.n %% 3 = 1 THEN 'queue'
                                            ELSE 'agent' END AS owner) AS s
                """,
                [user.pk, target, count, count, count, count],
            )
        cursor.execute(
            f"""
            INSERT INTO chat_message (conversation_id, seq, author_kind, author_agent_id, body, internal, status,
                stream_index, delta_ends, worker, error_reason, outcome, meta, created_at, updated_at)
            SELECT c.id, s, CASE WHEN s %% 2 = 1 THEN 'customer' WHEN c.owner = 'bot' THEN 'bot' ELSE 'agent' END,
                   CASE WHEN s %% 2 = 0 AND c.owner <> 'bot' THEN c.assignee_id END,
                   ({sentences})[1 + (c.id * 7 + s * 13) %% {len(SENTENCES)}] || ' (order ' || c.id || ')',
                   false, 'complete', -1, '[]', '', '',
                   CASE WHEN s %% 2 = 0 AND c.owner = 'bot' THEN 'answered' ELSE '' END, '{{}}',
                   c.created_at + s * interval '1 minute', c.created_at + s * interval '1 minute'
              FROM chat_conversation c, generate_series(1, {PER_CONVERSATION}) AS s
            """,
            SENTENCES,
        )
        for name, target in indexes:
            cursor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {target}")
        cursor.execute("ANALYZE")
    return time.monotonic() - started


def _ready(messages: int) -> bool:
    site = Site.objects.filter(name=_site_name(messages)).first()
    return site is not None and Message.objects.filter(conversation__site=site).count() == messages


def _time(call, repeats: int) -> dict:
    """Warm once, then `repeats` timed calls: the median and the slowest, in ms."""
    call()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return {
        "p50_ms": round(statistics.median(times), 1),
        "min_ms": round(min(times), 1),
        "max_ms": round(max(times), 1),
    }


def _get(client: Client, path: str, params: dict | None = None):
    def call():
        response = client.get(path, params or {})
        assert response.status_code == 200, (path, params, response.status_code, response.content[:300])
        return response

    return call


def _deep_cursor(site: Site) -> str:
    """The cursor of the resolved list at row DEEP, as the desk would hold it after that many rows."""
    resolved = Conversation.objects.filter(site=site, status="resolved").order_by("-updated_at", "-pk")
    row = resolved[min(DEEP, resolved.count() - 1)]
    key = [row.updated_at.isoformat(), row.pk]
    return signing.dumps({"v": "resolved", "s": False, "k": key}, salt=desk_api.CURSOR_SALT, compress=True)


def main() -> None:
    messages, repeats = int(sys.argv[1]), int(sys.argv[2])
    call_command("migrate", verbosity=0)
    seeded = 0.0 if _ready(messages) else _seed(messages)
    site = Site.objects.get(name=_site_name(messages))
    agent = get_user_model().objects.get(username="bench-agent")
    admin = get_user_model().objects.get(username="bench-admin")
    desk, staff = Client(), Client()
    desk.force_login(agent)
    staff.force_login(admin)
    api = "/agent/api/conversations"
    pages = {
        "desk list, open, first page": _get(desk, api, {"view": "open"}),
        "desk list, resolved, first page": _get(desk, api, {"view": "resolved"}),
        f"desk list, resolved, after {DEEP:,} rows": _get(
            desk, api, {"view": "resolved", "cursor": _deep_cursor(site)}
        ),
        "admin conversation list": _get(staff, "/admin/chat/conversation/"),
        "admin conversation search": _get(staff, "/admin/chat/conversation/", {"q": "Customer 49999"}),
        "admin message list": _get(staff, "/admin/chat/message/"),
        "admin message search": _get(staff, "/admin/chat/message/", {"q": "damaged package"}),
    }
    results = {name: _time(call, repeats) for name, call in pages.items()}
    for kind, queries in QUERIES.items():
        timings = [_time(_get(desk, api, {"view": "resolved", "q": q}), max(1, repeats // 2)) for q in queries]
        results[f"desk search by {kind} (p50 of {len(queries)} queries)"] = {
            "p50_ms": round(statistics.median(t["p50_ms"] for t in timings), 1),
            "min_ms": round(statistics.median(t["min_ms"] for t in timings), 1),
            "max_ms": max(t["max_ms"] for t in timings),
        }
    today = timezone.localdate()
    period = {"start": (today - timedelta(days=30)).isoformat(), "end": (today - timedelta(days=1)).isoformat()}
    DailyStats.objects.filter(site=site).delete()
    results["reports, 30 days, counted from rows"] = _time(_get(desk, "/agent/reports/", period), repeats)
    zone = rollups.tz_name(timezone.get_current_timezone())
    rollups_store(site_ids=[site.pk], start=today - timedelta(days=30), end=today - timedelta(days=1), tz_name=zone)
    results["reports, 30 days, from rollups"] = _time(_get(desk, "/agent/reports/", period), repeats)
    print(json.dumps({"seed_s": round(seeded, 1), "pages": results}))


if __name__ == "__main__":
    main()
