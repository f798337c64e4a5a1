"""Reads for the agent desk: the conversation lists, a customer's details, labels, canned responses and colleagues."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from chat.models import (
    AgentConnection,
    AgentProfile,
    Attachment,
    CannedResponse,
    Conversation,
    Label,
    Message,
    Site,
    Visitor,
)
from chat.protocol import events
from chat.selectors import search
from chat.selectors.access import NotFound, access_conversation_for_agent
from chat.selectors.agents import agent_site_ids, site_agents

VIEWS = ("queue", "mine", "open", "resolved")
PREVIEW_CHARS = 140
EARLIER_LIMIT = 10


def desk_sites(*, user: AbstractBaseUser) -> list[dict]:
    """The sites the agent serves, with what the desk needs to know about each."""
    return [
        {"id": site.pk, "name": site.name, "bot_enabled": site.bot_enabled, "assignment": site.assignment}
        for site in Site.objects.filter(pk__in=agent_site_ids(user)).order_by("name", "pk")
    ]


def desk_site_ids(*, user: AbstractBaseUser, site_id: int | None) -> list[int]:
    """The agent's sites, or just `site_id` when it is one of them; a foreign or unknown site is NotFound."""
    site_ids = agent_site_ids(user)
    if site_id is None:
        return site_ids
    if site_id not in site_ids:
        raise NotFound()
    return [site_id]


def _in_view(view: str, user: AbstractBaseUser) -> Q:
    open_ = Q(status=Conversation.Status.OPEN)
    return {
        "queue": open_ & Q(owner=Conversation.Owner.QUEUE),
        "mine": open_ & Q(assignee=user),
        "open": open_,
        "resolved": Q(status=Conversation.Status.RESOLVED),
    }[view]


def _ordering(view: str) -> list:
    """Queue: who waited longest first. Others: latest activity first (the desk sorts live updates the same way)."""
    if view == "queue":
        return [F("queued_at").asc(nulls_first=True), "pk"]
    if view == "resolved":
        return ["-updated_at", "-pk"]
    return [F("last_message_at").desc(nulls_last=True), "-pk"]


def _labelled(name: str) -> Q:
    """Conversations wearing a label of that name (an EXISTS, so a row never repeats)."""
    wearing = Conversation.labels.through.objects.filter(conversation_id=OuterRef("pk"), label__name=name)
    return Q(Exists(wearing))


def _for_rows(conversations: QuerySet) -> QuerySet:
    """What a list row reads besides the conversation: visitor, assignee and labels, without a query per row."""
    return conversations.select_related("visitor", "assignee").prefetch_related("labels")


def _with_preview(conversations: QuerySet) -> QuerySet:
    """Annotate the last message's text, author kind and privacy, in the same query."""
    # System lines ("Connecting you with…") say nothing about the conversation: the preview is what was said.
    last = (
        Message.objects.filter(conversation=OuterRef("pk"))
        .exclude(author_kind=Message.AuthorKind.SYSTEM)
        .order_by("-seq")
    )
    return conversations.annotate(
        preview_id=Subquery(last.values("pk")[:1]),
        preview_body=Subquery(last.values("body")[:1]),
        preview_author=Subquery(last.values("author_kind")[:1]),
        preview_internal=Subquery(last.values("internal")[:1]),
    ).annotate(
        # A message of files only is previewed by its first file's name.
        preview_file=Subquery(Attachment.objects.filter(message_id=OuterRef("preview_id")).values("name")[:1]),
    )


def conversation_row(conversation: Conversation) -> dict:
    """One list entry: the inbox payload plus the last message, the site and timestamps."""
    row = events.conversation_agent_payload(conversation)
    body = getattr(conversation, "preview_body", None)
    if body == "" and getattr(conversation, "preview_file", None):
        body = f"📎 {conversation.preview_file}"
    row.update(
        created_at=events.iso(conversation.created_at),
        resolved_at=events.iso(conversation.resolved_at),
        preview=None
        if body is None
        else {
            "author": conversation.preview_author,
            "body": _squash(_plain(body) if conversation.preview_author == Message.AuthorKind.BOT else body)[
                :PREVIEW_CHARS
            ],
            "internal": bool(conversation.preview_internal),
        },
    )
    return row


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _plain(text: str) -> str:
    """The bot's Markdown as plain words for a one-line preview: links keep their text, markers go."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"(?m)^\s{0,3}(#{1,6}|[-*+]|\d+[.)])\s+", "", text)
    return re.sub(r"\*\*|__|`+|(?<!\w)[*_](?=\S)|(?<=\S)[*_](?!\w)", "", text)


@dataclass(frozen=True)
class ConversationPage:
    """A page of list rows, whether more follow, and the keyset of its last row (where the next page starts)."""

    rows: list[dict]
    more: bool
    last: tuple | None = None


@dataclass(frozen=True)
class _Keyset:
    """How a view is ordered: by one column (nullable, NULLs first or last, ascending or not), then by id."""

    column: str
    ascending: bool
    nulls_first: bool


KEYSETS = {
    "queue": _Keyset("queued_at", ascending=True, nulls_first=True),
    "mine": _Keyset("last_message_at", ascending=False, nulls_first=False),
    "open": _Keyset("last_message_at", ascending=False, nulls_first=False),
    "resolved": _Keyset("updated_at", ascending=False, nulls_first=False),
}


def list_key(*, view: str, raw: object, search: bool) -> tuple:
    """A page key as the client sent it back, checked and typed; ValueError when it is not one of ours."""
    if not isinstance(raw, list) or len(raw) != 2 or not isinstance(raw[1], int) or isinstance(raw[1], bool):
        raise ValueError("not a list key")
    value, pk = raw
    if search:
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise ValueError("not a rank")
        return (float(value), pk)
    if value is None:
        return (None, pk)
    if not isinstance(value, str):
        raise ValueError("not a time")
    return (datetime.fromisoformat(value), pk)


def _row_key(conversation: Conversation, view: str) -> tuple:
    value = getattr(conversation, KEYSETS[view].column)
    return (None if value is None else value.isoformat(), conversation.pk)


def _after(keyset: _Keyset, value, pk: int) -> tuple[Q, Q | None]:
    """Rows after (value, pk) in the view's order: a seekable part, then the NULL rows still to come (or None)."""
    column = keyset.column
    beyond = "gt" if keyset.ascending else "lt"
    if value is None:
        same_nulls = Q(**{f"{column}__isnull": True, f"pk__{beyond}": pk})
        # After the last NULL row come the non-NULL rows, when NULLs sort first.
        return same_nulls, Q(**{f"{column}__isnull": False}) if keyset.nulls_first else None
    # `column <= value` (or >=) lets the index seek; the tie on `value` is settled by the id.
    reach = "gte" if keyset.ascending else "lte"
    seek = Q(**{f"{column}__{reach}": value}) & (Q(**{f"{column}__{beyond}": value}) | Q(**{f"pk__{beyond}": pk}))
    return seek, None if keyset.nulls_first else Q(**{f"{column}__isnull": True})


def _keyset_rows(query: QuerySet, view: str, after: tuple | None, limit: int) -> list[Conversation]:
    """Up to `limit` + 1 rows after `after`, in two seeks at most (the NULL rows are a range of their own)."""
    if after is None:
        return list(query[: limit + 1])
    first, then = _after(KEYSETS[view], *after)
    rows = list(query.filter(first)[: limit + 1])
    if then is not None and len(rows) <= limit:
        rows += list(query.filter(then)[: limit + 1 - len(rows)])
    return rows


def desk_conversations(
    *,
    user: AbstractBaseUser,
    view: str,
    q: str = "",
    site_id: int | None = None,
    label: str = "",
    after: tuple | None = None,
    limit: int = 50,
    ids: list[int] | None = None,
) -> ConversationPage:
    """One view of the agent's conversations, filtered, after the keyset `after`; with `ids`, just those rows.

    With `q`, the matches best first (`after` is then a (rank, id) keyset) and each row carries a `snippet`.
    `label` is a clean label name (`labels.label_name_clean`); it matches that label on any of the agent's sites.
    """
    query = Conversation.objects.filter(site_id__in=desk_site_ids(user=user, site_id=site_id))
    if ids is not None:
        query = query.filter(pk__in=ids)
    else:
        query = query.filter(_in_view(view, user))
    if label:
        query = query.filter(_labelled(label))
    if q and ids is None:
        return _search_page(query=query, q=q, after=after, limit=limit)
    snippets = None
    if q:
        # A live refresh of search results: only the rows that still match, with their snippets.
        hits = search.conversation_hits(conversations=query, q=q, limit=len(ids or ()))
        query = query.filter(pk__in=[hit.conversation_id for hit in hits])
        snippets = search.hit_snippets(hits=hits, q=q)
    rows = _keyset_rows(_with_preview(_for_rows(query)).order_by(*_ordering(view)), view, after, limit)
    page = rows[:limit]
    return ConversationPage(
        rows=[_with_snippet(conversation_row(c), snippets) for c in page],
        more=len(rows) > limit,
        last=_row_key(page[-1], view) if page else None,
    )


def _with_snippet(row: dict, snippets: dict[int, dict] | None) -> dict:
    if snippets is not None:
        row["snippet"] = snippets.get(row["id"])
    return row


def _search_page(*, query: QuerySet, q: str, after: tuple | None, limit: int) -> ConversationPage:
    """A page of search results, best match first, each with its marked snippet."""
    hits = search.conversation_hits(conversations=query, q=q, after=after, limit=limit + 1)
    page = hits[:limit]
    by_id = {
        c.pk: c for c in _with_preview(_for_rows(Conversation.objects.filter(pk__in=[h.conversation_id for h in page])))
    }
    snippets = search.hit_snippets(hits=page, q=q)
    rows = []
    for hit in page:
        row = conversation_row(by_id[hit.conversation_id])
        row["snippet"] = snippets.get(hit.conversation_id)
        rows.append(row)
    last = page[-1] if page else None
    return ConversationPage(rows=rows, more=len(hits) > limit, last=(last.rank, last.conversation_id) if last else None)


def desk_counts(*, user: AbstractBaseUser, site_id: int | None = None, label: str = "") -> dict:
    """How many conversations each view holds (and how many of mine have unread messages), by site and label."""
    # Every count is of open conversations: leaving the resolved years out lets the index skip them.
    query = Conversation.objects.filter(
        site_id__in=desk_site_ids(user=user, site_id=site_id), status=Conversation.Status.OPEN
    )
    if label:
        query = query.filter(_labelled(label))
    open_ = Q(status=Conversation.Status.OPEN)
    return query.aggregate(
        queue=Count("pk", filter=open_ & Q(owner=Conversation.Owner.QUEUE)),
        mine=Count("pk", filter=open_ & Q(assignee=user)),
        open=Count("pk", filter=open_),
        mine_unread=Count("pk", filter=open_ & Q(assignee=user, unread_by_agent__gt=0)),
    )


def user_agent_summary(user_agent: str) -> str:
    """A short "Browser on OS" from a User-Agent header (enough for an agent, not a full parser)."""
    if not user_agent:
        return ""
    browsers = [
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("HeadlessChrome/", "Chrome"),
        ("Chrome/", "Chrome"),
        ("CriOS/", "Chrome"),
        ("Version/", "Safari"),
    ]
    systems = [
        ("iPhone", "iOS"),
        ("iPad", "iPadOS"),
        ("Android", "Android"),
        ("Windows", "Windows"),
        ("Mac OS X", "macOS"),
        ("CrOS", "ChromeOS"),
        ("Linux", "Linux"),
    ]
    browser = next(
        (f"{name} {_major(user_agent, token)}".strip() for token, name in browsers if token in user_agent), ""
    )
    system = next((name for token, name in systems if token in user_agent), "")
    if browser and system:
        return f"{browser} on {system}"
    return browser or system or user_agent[:60]


def _major(user_agent: str, token: str) -> str:
    match = re.search(re.escape(token) + r"(\d+)", user_agent)
    return match.group(1) if match else ""


def desk_customer(*, user: AbstractBaseUser, conversation_id: int) -> dict:
    """The customer behind a conversation, and their other conversations (newest first)."""
    conversation = access_conversation_for_agent(user=user, conversation_id=conversation_id)
    visitor: Visitor = conversation.visitor
    earlier = _with_preview(
        _for_rows(Conversation.objects.filter(visitor=visitor).exclude(pk=conversation.pk))
    ).order_by("-created_at", "-pk")[:EARLIER_LIMIT]
    total = Conversation.objects.filter(visitor=visitor).count()
    return {
        "conversation": conversation.pk,
        "site": {"id": conversation.site_id, "name": conversation.site.name},
        "visitor": {
            **events.visitor_payload(visitor),
            "external_id": visitor.external_id,
            "page_url": visitor.last_page_url,
            "user_agent": visitor.user_agent,
            "browser": user_agent_summary(visitor.user_agent),
            "first_seen": events.iso(visitor.first_seen),
            "last_seen": events.iso(visitor.last_seen),
            "conversations": total,
        },
        "earlier": [conversation_row(c) for c in earlier],
    }


def desk_labels(*, user: AbstractBaseUser, site_id: int | None = None) -> list[dict]:
    """The labels of the agent's sites (or one of them), each with how many open conversations wear it."""
    site_ids = desk_site_ids(user=user, site_id=site_id)
    labels = (
        Label.objects.filter(site_id__in=site_ids)
        .annotate(
            open_count=Count(
                "conversations",
                filter=Q(conversations__status=Conversation.Status.OPEN),
                distinct=True,
            )
        )
        .order_by("name", "site_id")
    )
    return [
        {"site": label.site_id, "name": label.name, "color": label.color, "count": label.open_count} for label in labels
    ]


def desk_canned(*, user: AbstractBaseUser, site_id: int | None = None) -> list[dict]:
    """Canned responses usable in the agent's sites: each site's own, then the global ones."""
    site_ids = desk_site_ids(user=user, site_id=site_id)
    canned = CannedResponse.objects.filter(Q(site_id__in=site_ids) | Q(site__isnull=True)).order_by("shortcut", "pk")
    return [{"id": c.pk, "shortcut": c.shortcut, "text": c.text, "site": c.site_id} for c in canned]


def desk_agents(*, user: AbstractBaseUser, site_id: int | None = None) -> list[dict]:
    """Colleagues who may take conversations of the agent's sites, with presence and open load."""
    site_ids = desk_site_ids(user=user, site_id=site_id)
    users = site_agents(site_ids[0]) if len(site_ids) == 1 else _agents_of(site_ids)
    users = list(
        users.annotate(
            load=Count(
                "assigned_conversations",
                filter=Q(
                    assigned_conversations__status=Conversation.Status.OPEN,
                    assigned_conversations__owner=Conversation.Owner.AGENT,
                ),
                distinct=True,
            )
        ).order_by("first_name", "username")
    )
    cutoff = timezone.now() - timedelta(seconds=settings.PARLEY_PRESENCE_TTL)
    present = set(
        AgentConnection.objects.filter(user__in=users, last_seen__gte=cutoff).values_list("user_id", flat=True)
    )
    profiles = {p.user_id: p for p in AgentProfile.objects.filter(user__in=users)}
    result = []
    for agent in users:
        profile = profiles.get(agent.pk)
        chosen = profile.status if profile else AgentProfile.Status.ONLINE
        result.append(
            {
                "id": agent.pk,
                "name": agent.first_name or agent.get_username(),
                "status": chosen if agent.pk in present else "offline",
                "load": agent.load,
                "max_concurrent": profile.max_concurrent if profile else None,
                "me": agent.pk == user.pk,
            }
        )
    return result


def _agents_of(site_ids: list[int]):
    return (
        get_user_model()
        .objects.filter(Q(is_staff=True) | Q(agent_profile__sites__in=site_ids), is_active=True)
        .distinct()
    )
