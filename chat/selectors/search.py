"""Search of conversations by what was said in them and who the customer is, ranked, with a marked snippet.

PostgreSQL answers from indexes (migration 0009): English words and CJK unigrams and bigrams of each message
(`parley_search_vector`), trigrams of visitors' names and emails. Other databases scan with icontains, which is
fine at the sizes they hold. Callers pass a queryset already limited to what the agent may see.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.core.paginator import Paginator
from django.db import connection
from django.db.models import BooleanField, Case, Exists, FloatField, OuterRef, Q, QuerySet, Value, When
from django.db.models.expressions import RawSQL
from django.utils.functional import cached_property

from chat.models import Conversation, Message, Visitor

SNIPPET_CHARS = 120
# Everything before the first match that a snippet keeps, so the reader sees what led to it.
SNIPPET_LEAD = 30
# Ranking reads each matching message's words again, so only the newest matches are ranked: a word said in
# tens of thousands of messages still answers quickly, and a rarer word is found in every message that has it.
MAX_MESSAGE_MATCHES = 500
# The latest messages looked in first (then four times as many, and so on, until enough matched or all were seen).
FIRST_WINDOW = 20_000
# Up to this many conversations in scope, search reads their messages rather than the latest of all sites.
SMALL_SCOPE = 300
# The admin's searches read at most this much of a query and list at most this many matches.
ADMIN_QUERY_CHARS = 200
ADMIN_HITS = 1000
# Name and email hits rank above message hits: finding the customer is what a name search is for.
PERSON_RANK = 1.0
CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]+")


@dataclass(frozen=True)
class Hit:
    """One matching conversation: how well it matched and where (a message id, or the visitor's name/email)."""

    conversation_id: int
    rank: float
    message_id: int | None = None


def search_terms(q: str) -> list[str]:
    """The pieces of a query that a snippet marks: its words, longest first so a longer match wins."""
    words = {word.strip(".,;:!?\"'()[]{}") for word in q.split()}
    return sorted((w for w in words if w), key=lambda w: (-len(w), w))


def _utf16(text: str, index: int) -> int:
    """A Python index as a JavaScript one: strings there count UTF-16 code units."""
    return len(text[:index].encode("utf-16-le")) // 2


def snippet(*, text: str, q: str, width: int = SNIPPET_CHARS) -> dict:
    """A window of `text` around the first match of the query, and where the matches are in it.

    `{"text": str, "marks": [[start, end], ...]}`: offsets in UTF-16 code units (as JavaScript counts them),
    end exclusive, sorted and not overlapping. Plain text: the client builds text nodes, never HTML.
    """
    text = " ".join(text.split())
    spans: list[tuple[int, int]] = []
    for term in search_terms(q):
        # The index matches other forms of a word ("refunds" finds "refunded"): mark what they share.
        stem = re.sub(r"(?i)(ing|ed|es|s)$", "", term) if len(term) > 4 and term.isascii() else term
        for found in re.finditer(re.escape(stem), text, re.IGNORECASE):
            if not any(found.start() < end and start < found.end() for start, end in spans):
                spans.append(found.span())
    spans.sort()
    start = max(0, spans[0][0] - SNIPPET_LEAD) if spans else 0
    if start:
        # Begin at a word boundary when there is one near.
        space = text.rfind(" ", 0, start + 1)
        start = space + 1 if space >= 0 and start - space < 15 else start
    end = min(len(text), start + width)
    prefix = "…" if start else ""
    suffix = "…" if end < len(text) else ""
    window = prefix + text[start:end] + suffix
    shift = len(prefix) - start
    marks = [
        [_utf16(window, a + shift), _utf16(window, b + shift)]
        for a, b in ((max(a, start), min(b, end)) for a, b in spans)
        if a < b
    ]
    return {"text": window, "marks": marks}


def _like(q: str) -> str:
    """A LIKE pattern finding `q` anywhere, its own wildcards taken literally."""
    return "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _tsquery(q: str) -> tuple[str, list[str]]:
    """SQL for the query's tsquery and its parameters: English words, and each CJK run as its bigrams (or char)."""
    parts, params = [], []
    words = CJK.sub(" ", q).strip()
    if words:
        parts.append("plainto_tsquery('english'::regconfig, %s)")
        params.append(words)
    for run in CJK.findall(q):
        grams = [run] if len(run) == 1 else [run[i : i + 2] for i in range(len(run) - 1)]
        parts.append("to_tsquery('simple'::regconfig, %s)")
        params.append(" & ".join(f"'{gram}'" for gram in dict.fromkeys(grams)))
    return " && ".join(parts) or "''::tsquery", params


def _newest_matches(*, scope: tuple[str, tuple], q: str, via: str = "conversation_id", limit: int = 0) -> list[int]:
    """Ids of the newest `limit` (MAX_MESSAGE_MATCHES) matching messages whose `via` is an id `scope` selects.

    Looked for in the latest messages first, then in windows four times larger: when a window holds enough, the
    newest matches are all in it, so a common word never visits its older matches.
    """
    scope_sql, scope_params = scope
    limit = limit or MAX_MESSAGE_MATCHES
    tsquery, tsquery_params = _tsquery(q)
    runs = CJK.findall(q)
    # Bigrams may match apart from each other; the run itself must appear as written.
    adjacent = "".join(" AND strpos(lower(m.body), lower(%s)) > 0" for _run in runs)
    table = Message._meta.db_table
    # MATERIALIZED: matched first through the index, then sorted; otherwise the planner may walk the primary key
    # backwards and compute every message's words until enough matched.
    sql = f"""
        WITH found AS MATERIALIZED (
            SELECT m.id FROM {table} m
             WHERE parley_search_vector(m.body) @@ ({tsquery}){adjacent}
               AND m.id > %s
               -- OFFSET 0 keeps this a check per match (by primary key), never a scan of every conversation.
               AND EXISTS (SELECT 1 FROM ({scope_sql}) AS scope (id) WHERE scope.id = m.{via} OFFSET 0)
        )
        SELECT id FROM found ORDER BY id DESC LIMIT {limit}
    """
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT coalesce(max(id), 0) FROM {table}")
        newest = cursor.fetchone()[0]
        window = FIRST_WINDOW
        while True:
            floor = max(0, newest - window)
            cursor.execute(sql, [*tsquery_params, *runs, floor, *scope_params])
            ids = [row[0] for row in cursor.fetchall()]
            if len(ids) >= limit or floor == 0:
                return ids
            window *= 4


def _matches_in(*, conversation_ids: list[int], q: str) -> list[int]:
    """Ids of the newest MAX_MESSAGE_MATCHES matching messages of a few conversations, read through their own."""
    tsquery, tsquery_params = _tsquery(q)
    runs = CJK.findall(q)
    adjacent = "".join(" AND strpos(lower(m.body), lower(%s)) > 0" for _run in runs)
    # The ids written out, not a subquery: with the real count the planner crosses both indexes.
    ids = ", ".join(str(int(pk)) for pk in conversation_ids) or "NULL"
    sql = f"""
        SELECT m.id FROM {Message._meta.db_table} m
         WHERE m.conversation_id IN ({ids}) AND parley_search_vector(m.body) @@ ({tsquery}){adjacent}
         ORDER BY m.id DESC LIMIT {MAX_MESSAGE_MATCHES}
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [*tsquery_params, *runs])
        return [row[0] for row in cursor.fetchall()]


def _postgres_hits(*, conversations: QuerySet, q: str, after: tuple[float, int] | None, limit: int) -> list[Hit]:
    scope, scope_params = conversations.order_by().values("pk").query.sql_with_params()
    # A small scope (a small site among big ones) is searched through its conversations: the windows of the
    # latest messages would mostly hold other sites' matches.
    few = list(conversations.order_by().values_list("pk", flat=True)[: SMALL_SCOPE + 1])
    if len(few) <= SMALL_SCOPE:
        matched = _matches_in(conversation_ids=few, q=q)
    else:
        matched = _newest_matches(scope=(scope, scope_params), q=q)
    tsquery, tsquery_params = _tsquery(q)
    keyset = "WHERE rank < %s OR (rank = %s AND id < %s)" if after else ""
    # A pattern under three characters has no trigram for the index to look up, so LIKE would read all of it;
    # such a query ("小明") finds names by their words and CJK characters instead.
    short = len(q) < 3
    person_match = (
        f"parley_search_vector(v.name::text) @@ ({tsquery})"
        if short
        else "(upper(v.name::text) LIKE upper(%s) OR upper(v.email::text) LIKE upper(%s))"
    )
    sql = f"""
        WITH message_hits AS (
            SELECT DISTINCT ON (m.conversation_id) m.conversation_id AS id, m.id AS message_id,
                   ts_rank(parley_search_vector(m.body), ({tsquery}), 32)::float8 AS rank
              FROM {Message._meta.db_table} m
             WHERE m.id = ANY(%s)
             ORDER BY m.conversation_id, rank DESC, m.id
        ),
        person_hits AS (
            SELECT c.id, NULL::bigint AS message_id,
                   ({PERSON_RANK} + greatest(similarity(v.name, %s), similarity(v.email, %s)))::float8 AS rank
              FROM {Visitor._meta.db_table} v JOIN {Conversation._meta.db_table} c ON c.visitor_id = v.id
             WHERE {person_match}
               AND c.id IN ({scope})
        ),
        hits AS (
            SELECT DISTINCT ON (id) id, message_id, rank
              FROM (SELECT * FROM person_hits UNION ALL SELECT * FROM message_hits) AS both_hits
             ORDER BY id, rank DESC
        )
        SELECT id, message_id, rank FROM hits {keyset} ORDER BY rank DESC, id DESC LIMIT %s
    """
    params = [
        *tsquery_params,
        matched,
        q,
        q,
        *(tsquery_params if short else [_like(q), _like(q)]),
        *scope_params,
        *([after[0], after[0], after[1]] if after else []),
        limit,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [Hit(conversation_id=row[0], message_id=row[1], rank=row[2]) for row in cursor.fetchall()]


def _scan_hits(*, conversations: QuerySet, q: str, after: tuple[float, int] | None, limit: int) -> list[Hit]:
    """The fallback: icontains over names, emails and messages; a person match ranks above a message match."""
    said = Message.objects.filter(conversation=OuterRef("pk"), body__icontains=q)
    person = Q(visitor__name__icontains=q) | Q(visitor__email__icontains=q)
    query = (
        conversations.filter(person | Q(Exists(said)))
        .annotate(rank=Case(When(person, then=Value(1 + PERSON_RANK)), default=Value(0.5), output_field=FloatField()))
        .order_by("-rank", "-pk")
    )
    if after:
        query = query.filter(Q(rank__lt=after[0]) | Q(rank=after[0], pk__lt=after[1]))
    rows = list(query.values_list("pk", "rank")[:limit])
    firsts: dict[int, int] = {}
    for conversation_id, message_id in (
        Message.objects.filter(conversation_id__in=[pk for pk, rank in rows if rank < 1], body__icontains=q)
        .order_by("conversation_id", "seq")
        .values_list("conversation_id", "pk")
    ):
        firsts.setdefault(conversation_id, message_id)
    return [Hit(conversation_id=pk, rank=rank, message_id=firsts.get(pk)) for pk, rank in rows]


def conversation_hits(
    *, conversations: QuerySet, q: str, after: tuple[float, int] | None = None, limit: int = 50
) -> list[Hit]:
    """Conversations of `conversations` matching `q`, best first (then newest), after the keyset `after`."""
    find = _postgres_hits if connection.vendor == "postgresql" else _scan_hits
    return find(conversations=conversations, q=q, after=after, limit=limit)


def hit_snippets(*, hits: list[Hit], q: str) -> dict[int, dict]:
    """Each hit's snippet, by conversation id: the matching message's text, else the visitor's name or email."""
    bodies = dict(
        Message.objects.filter(pk__in=[hit.message_id for hit in hits if hit.message_id]).values_list("pk", "body")
    )
    people = {
        pk: (name, email)
        for pk, name, email in Visitor.objects.filter(
            conversations__pk__in=[hit.conversation_id for hit in hits if not hit.message_id]
        ).values_list("conversations__pk", "name", "email")
    }
    snippets = {}
    for hit in hits:
        if hit.message_id in bodies:
            snippets[hit.conversation_id] = snippet(text=bodies[hit.message_id], q=q)
        elif hit.conversation_id in people:
            name, email = people[hit.conversation_id]
            matched = name if q.casefold() in name.casefold() else email
            snippets[hit.conversation_id] = snippet(text=matched or name or email, q=q)
    return snippets


def _message_match_sql(q: str) -> tuple[str, list[str], str, list[str]]:
    """SQL that a message matches `q` (and its parameters), and SQL for how well (and its parameters)."""
    table = Message._meta.db_table
    tsquery, params = _tsquery(q)
    runs = CJK.findall(q)
    matches = " AND ".join(
        [f"parley_search_vector({table}.body) @@ ({tsquery})"]
        + [f"strpos(lower({table}.body), lower(%s)) > 0" for _run in runs]
    )
    rank = f"ts_rank(parley_search_vector({table}.body), ({tsquery}), 32)"
    return matches, [*params, *runs], rank, params


def message_matches(*, messages: QuerySet, q: str, limit: int | None = None) -> QuerySet:
    """Messages of `messages` matching `q` (with `limit`, only the newest that many), in no particular order."""
    if connection.vendor != "postgresql":
        found = messages.filter(body__icontains=q)
        return (
            found
            if limit is None
            else messages.filter(pk__in=list(found.order_by("-pk").values_list("pk", flat=True)[:limit]))
        )
    if limit is not None:
        scope = messages.order_by().values("pk").query.sql_with_params()
        return messages.filter(pk__in=_newest_matches(scope=scope, q=q, via="id", limit=limit))
    matches, params, _rank, _rank_params = _message_match_sql(q)
    return messages.filter(RawSQL(matches, params, output_field=BooleanField()))


def message_hits(*, messages: QuerySet, q: str) -> QuerySet:
    """Messages of `messages` matching `q`, best first on PostgreSQL (newest first elsewhere)."""
    found = message_matches(messages=messages, q=q)
    if connection.vendor != "postgresql":
        return found.order_by("-created_at", "-pk")
    _matches, _params, rank, rank_params = _message_match_sql(q)
    return found.annotate(rank=RawSQL(rank, rank_params, output_field=FloatField())).order_by("-rank", "-pk")


def table_estimate(*, queryset: QuerySet) -> int | None:
    """The planner's row estimate of an unfiltered queryset's table on PostgreSQL; None when it cannot say."""
    if connection.vendor != "postgresql" or queryset.query.where or queryset.query.distinct:
        return None
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass", [queryset.model._meta.db_table]
        )
        row = cursor.fetchone()
    # -1: never vacuumed nor analyzed, so no estimate yet.
    return row[0] if row and row[0] >= 0 else None


class EstimatedCountPaginator(Paginator):
    """A paginator that takes a big unfiltered table's size from PostgreSQL's statistics instead of COUNT(*)."""

    # Below this an exact count is cheap, and a small table's estimate may be far off.
    ESTIMATE_ABOVE = 10_000

    @cached_property
    def count(self) -> int:
        """The estimate for a big unfiltered table, else the exact count."""
        estimate = table_estimate(queryset=self.object_list) if isinstance(self.object_list, QuerySet) else None
        return estimate if estimate is not None and estimate > self.ESTIMATE_ABOVE else super().count
