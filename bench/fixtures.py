"""Bulk test data inside a server's database: sites with an agent each, conversations, visitor tokens.

Run as `python -m bench.fixtures '<json spec>'` with the server's environment; prints one JSON line:
{"sites": [{"id", "cookie"}], "conversations": [{"id", "site", "token"}], "visitors": [token], "demo": [token]}.
Agents get a database session directly: logging in through the form hashes a password per agent.
"""

from __future__ import annotations

import json
import sys


def build(spec: dict) -> dict:
    """Create what `spec` asks for in one transaction."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
    from django.contrib.sessions.backends.db import SessionStore
    from django.db import transaction

    from bench.databases import BENCH_ORIGIN
    from chat.models import AgentProfile, Conversation, Site, Visitor
    from chat.security import tokens

    count, per_site = spec.get("conversations", 0), max(1, spec.get("per_site", 10))
    owner = spec.get("owner", "agent")
    out = {"sites": [], "conversations": [], "visitors": [], "demo": []}
    with transaction.atomic():
        site_count = -(-count // per_site) if count else (1 if spec.get("visitors") else 0)
        sites = Site.objects.bulk_create(
            [
                Site(name=f"Bench {i}", key=f"bench-{i}", allowed_origins=[BENCH_ORIGIN], bot_enabled=owner == "bot")
                for i in range(site_count)
            ]
        )
        users = get_user_model().objects.bulk_create(
            [
                get_user_model()(username=f"bench-agent-{i}", first_name=f"Agent {i}", password="!")
                for i in range(site_count)
            ]
        )
        profiles = AgentProfile.objects.bulk_create([AgentProfile(user=user) for user in users])
        for profile, site in zip(profiles, sites):
            profile.sites.add(site)
        for user, site in zip(users, sites):
            session = SessionStore()
            session[SESSION_KEY] = str(user.pk)
            session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
            session[HASH_SESSION_KEY] = user.get_session_auth_hash()
            session.create()
            out["sites"].append({"id": site.pk, "cookie": f"sessionid={session.session_key}"})

        visitors = Visitor.objects.bulk_create([Visitor(site=sites[i // per_site]) for i in range(count)])
        conversations = Conversation.objects.bulk_create(
            [
                Conversation(
                    site_id=v.site_id,
                    visitor=v,
                    owner=owner,
                    assignee=users[i // per_site] if owner == "agent" else None,
                )
                for i, v in enumerate(visitors)
            ]
        )
        for i, (visitor, conversation) in enumerate(zip(visitors, conversations)):
            out["conversations"].append(
                {
                    "id": conversation.pk,
                    "site": i // per_site,
                    "token": tokens.visitor_token_issue(visitor_id=visitor.pk, site_id=visitor.site_id),
                }
            )

        if spec.get("visitors"):
            lone = Visitor.objects.bulk_create([Visitor(site=sites[0]) for _ in range(spec["visitors"])])
            out["visitors"] = [tokens.visitor_token_issue(visitor_id=v.pk, site_id=v.site_id) for v in lone]
        if spec.get("demo"):
            demo = Site.objects.get(key="demo-shop")
            guests = Visitor.objects.bulk_create([Visitor(site=demo) for _ in range(spec["demo"])])
            out["demo"] = [tokens.visitor_token_issue(visitor_id=v.pk, site_id=v.site_id) for v in guests]
    return out


def main() -> None:
    """Entry point: set Django up, build, print the JSON."""
    import django

    django.setup()
    print(json.dumps(build(json.loads(sys.argv[1]))))


if __name__ == "__main__":
    main()
