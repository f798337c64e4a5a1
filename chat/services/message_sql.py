"""The two hottest writes in one PostgreSQL statement each: a customer's and an agent's message.

Each statement locks the conversation row, allocates the seq, inserts the message (and, for
a bot conversation, the bot's reply and the stop of an answer in flight) and returns what the
events need. It is one round trip, prepared by the server after a few runs, with no ORM query
building on the way. It only covers the common case; anything else (no open conversation, a
retried client_id, an agent taking over) returns None and the ORM path in `conversations`
handles it with the same guarantees. Other databases always take the ORM path.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, transaction

from chat.models import Conversation, Message, Site, Visitor

_CONVERSATION = Conversation._meta.db_table
_MESSAGE = Message._meta.db_table
_VISITOR = Visitor._meta.db_table
_SITE = Site._meta.db_table
_USER = get_user_model()._meta.db_table
_COLUMNS = [f.column for f in Conversation._meta.concrete_fields]
_ATTNAMES = [f.attname for f in Conversation._meta.concrete_fields]

# What the events need, read from the updated row: the conversation, its visitor and assignee.
_RESULT = f"""
SELECT {", ".join(f"conv.{c}" for c in _COLUMNS)}, conv.prev_public_seq,
       v.name, v.email, v.external_id, v.email_confirmed_at, v.email_opt_out, u.first_name, u.username,
       (SELECT id FROM msg) {{extra}}
  FROM conv
  JOIN {_VISITOR} v ON v.id = conv.visitor_id
  LEFT JOIN {_USER} u ON u.id = conv.assignee_id
"""

_INSERT = (
    f"INSERT INTO {_MESSAGE} (conversation_id, seq, author_kind, author_agent_id, client_id, body, internal, "
    "status, stream_index, delta_ends, worker, error_reason, trigger_id, lease_until, created_at, updated_at, "
    "outcome, meta)"
)

# A customer writes to their open conversation. Where the bot answers (it owns the conversation, or helps
# while the queue waits: conversations.bot_answers), it also starts the bot's reply (seq + 2) and stops an answer
# still streaming: one not yet taken by a worker ends here, one being generated is listed for a stop signal.
CUSTOMER_SQL = f"""
WITH old AS (
    SELECT c.id, c.owner, c.last_seq, c.last_public_seq, c.unread_by_agent, c.unread_by_customer,
           (c.owner = 'bot' OR (c.owner = 'queue' AND c.first_human_reply_at IS NULL AND s.bot_enabled
                                AND (s.bot_answers_in_queue OR c.bot_expects <> ''))) AS bot
      FROM {_CONVERSATION} c JOIN {_SITE} s ON s.id = c.site_id
     WHERE c.id = %(conversation)s AND c.visitor_id = %(visitor)s AND c.status = 'open'
       AND NOT EXISTS (SELECT 1 FROM {_MESSAGE} m JOIN {_CONVERSATION} c2 ON c2.id = m.conversation_id
                        WHERE c2.visitor_id = %(visitor)s AND m.client_id = %(client_id)s
                          AND m.client_id IS NOT NULL)  -- lets the planner use the partial unique index
       FOR NO KEY UPDATE OF c
), conv AS (
    UPDATE {_CONVERSATION} c
       SET last_seq = old.last_seq + (CASE WHEN old.bot THEN 2 ELSE 1 END),
           last_public_seq = old.last_seq + (CASE WHEN old.bot THEN 2 ELSE 1 END),
           unread_by_agent = old.unread_by_agent + 1,
           unread_by_customer = old.unread_by_customer + (CASE WHEN old.bot THEN 1 ELSE 0 END),
           updated_at = %(now)s, last_message_at = %(now)s
      FROM old WHERE c.id = old.id
 RETURNING c.*, old.last_public_seq AS prev_public_seq
), msg AS (
    {_INSERT}
    SELECT id, last_seq + 1, 'customer', NULL, %(client_id)s::varchar, %(body)s::text, false, 'complete', -1,
           '[]'::jsonb, '', '', NULL, NULL, %(now)s, %(now)s, '', '{{}}'::jsonb FROM old
    RETURNING id
), reply AS (
    {_INSERT}
    SELECT old.id, old.last_seq + 2, 'bot', NULL, NULL, '', false, 'streaming', -1, '[]'::jsonb, '', '', msg.id,
           %(lease)s::timestamptz, %(now)s, %(now)s, '', '{{}}'::jsonb FROM old, msg WHERE old.bot
    RETURNING id
), stopped AS (
    UPDATE {_MESSAGE} m SET status = 'stopped', lease_until = NULL, error_reason = '', updated_at = %(now)s
      FROM old
     WHERE old.bot AND m.conversation_id = old.id AND m.author_kind = 'bot' AND m.status = 'streaming'
       AND m.worker = ''
 RETURNING m.id, m.seq, m.body, m.stream_index
)
""" + _RESULT.format(
    extra=f""",
       (SELECT id FROM reply),
       (SELECT json_agg(json_build_array(id, seq, body, stream_index)) FROM stopped),
       ARRAY(SELECT m.id FROM {_MESSAGE} m
              WHERE (SELECT bot FROM old) AND m.conversation_id = conv.id AND m.author_kind = 'bot'
                AND m.status = 'streaming' AND m.id NOT IN (SELECT id FROM stopped))"""
)

# An agent answers a conversation a human already owns, or leaves a private note on any.
AGENT_SQL = f"""
WITH old AS (
    SELECT id, last_seq, last_public_seq, unread_by_customer, first_human_reply_at FROM {_CONVERSATION}
     WHERE id = %(conversation)s AND site_id = ANY(%(sites)s) AND (%(internal)s OR owner = 'agent')
       AND NOT EXISTS (SELECT 1 FROM {_MESSAGE} WHERE conversation_id = %(conversation)s
                                                  AND client_id = %(client_id)s AND client_id IS NOT NULL)
       FOR NO KEY UPDATE
), conv AS (
    UPDATE {_CONVERSATION} c
       SET last_seq = old.last_seq + 1,
           last_public_seq = CASE WHEN %(internal)s THEN old.last_public_seq ELSE old.last_seq + 1 END,
           unread_by_customer = old.unread_by_customer + (CASE WHEN %(internal)s THEN 0 ELSE 1 END),
           first_human_reply_at = CASE WHEN %(internal)s THEN old.first_human_reply_at
                                       ELSE COALESCE(old.first_human_reply_at, %(now)s) END,
           updated_at = %(now)s, last_message_at = %(now)s
      FROM old WHERE c.id = old.id
 RETURNING c.*, old.last_public_seq AS prev_public_seq
), msg AS (
    {_INSERT}
    SELECT id, last_seq + 1, 'agent', %(agent)s, %(client_id)s::varchar, %(body)s::text, %(internal)s, 'complete',
           -1, '[]'::jsonb, '', '', NULL, NULL, %(now)s, %(now)s, '', '{{}}'::jsonb FROM old
    RETURNING id
)
""" + _RESULT.format(extra="")


# Every reply a worker runs, checkpointed at once: text so far, last delta index, the deltas' ends, a new lease.
CHECKPOINT_SQL = f"""
UPDATE {_MESSAGE} m
   SET body = u.body, stream_index = u.idx, delta_ends = u.ends::jsonb, lease_until = %(lease)s, updated_at = %(now)s
  FROM unnest(%(ids)s::bigint[], %(bodies)s::text[], %(indexes)s::integer[], %(ends)s::text[]) AS u(id, body, idx, ends)
 WHERE m.id = u.id AND m.status = 'streaming' AND m.worker = %(worker)s
RETURNING m.id
"""


@dataclass(frozen=True)
class Written:
    """What one hot-path statement stored: the conversation as updated, the message, and bot-reply changes."""

    conversation: Conversation
    prev_public_seq: int
    message_id: int
    reply_id: int | None = None
    #: replies not yet taken by a worker that this message stopped: (id, seq, body, stream_index).
    stopped: tuple[tuple[int, int, str, int], ...] = ()
    #: replies a worker is generating that must be told to stop.
    signalled: tuple[int, ...] = ()


def checkpoint_many(*, worker: str, lease_until: datetime, now: datetime, checkpoints) -> set[int]:
    """Checkpoint a worker's replies in one statement; the ids of those still streaming for it."""
    if not checkpoints:
        return set()
    import psycopg

    connection.ensure_connection()
    params = {
        "ids": [c.reply_id for c in checkpoints],
        "bodies": [c.text for c in checkpoints],
        "indexes": [c.index for c in checkpoints],
        "ends": [json.dumps(c.ends) for c in checkpoints],
        "lease": lease_until,
        "now": now,
        "worker": worker,
    }
    with psycopg.Cursor(connection.connection) as raw:
        _execute(raw, CHECKPOINT_SQL, params)
        return {row[0] for row in raw.fetchall()}


def available() -> bool:
    """True on PostgreSQL, the one database these statements are written for."""
    return connection.vendor == "postgresql"


def _execute(raw, sql: str, params: dict) -> None:
    """Execute as a prepared statement; through Django's wrappers when something listens (query capture, tests)."""
    if connection.queries_logged or connection.execute_wrappers:
        cursor = connection.make_debug_cursor(raw) if connection.queries_logged else connection.make_cursor(raw)
        cursor.execute(sql, params)
    else:
        connection.validate_no_broken_transaction()
        with connection.wrap_database_errors:
            # Parsed and planned once per connection: planning these statements costs more than running them.
            raw.execute(sql, params, prepare=True)


def _run(sql: str, params: dict) -> tuple | None:
    """Run one statement with server-side binding; None if it stored nothing."""
    import psycopg

    connection.ensure_connection()
    with psycopg.Cursor(connection.connection) as raw:
        try:
            # Inside a caller's transaction a conflict must not spoil it: give the statement a savepoint.
            if connection.in_atomic_block:
                with transaction.atomic():
                    _execute(raw, sql, params)
                    return raw.fetchone()
            _execute(raw, sql, params)
            return raw.fetchone()
        except IntegrityError:
            return None  # a concurrent retry of the same client_id won: the ORM path finds its message


def _conversation(row: tuple) -> tuple[Conversation, int, tuple]:
    """Build the conversation (visitor and assignee attached) from a result row; the rest of the row after it."""
    width = len(_COLUMNS)
    conversation = Conversation.from_db(connection.alias, _ATTNAMES, row[:width])
    prev_public_seq, name, email, external_id, confirmed_at, opt_out, first_name, username = row[width : width + 8]
    conversation.visitor = Visitor(
        pk=conversation.visitor_id,
        site_id=conversation.site_id,
        name=name,
        email=email,
        external_id=external_id,
        email_confirmed_at=confirmed_at,
        email_opt_out=opt_out,
    )
    if conversation.assignee_id is not None:
        conversation.assignee = get_user_model()(pk=conversation.assignee_id, first_name=first_name, username=username)
    else:
        conversation.assignee = None
    return conversation, prev_public_seq, row[width + 8 :]


def customer_message(
    *, visitor_id: int, conversation_id: int, client_id: str, body: str, now: datetime, lease_until: datetime
) -> Written | None:
    """Store a customer's message in their open conversation in one statement; None when the ORM path must."""
    row = _run(
        CUSTOMER_SQL,
        {
            "conversation": conversation_id,
            "visitor": visitor_id,
            "client_id": client_id,
            "body": body,
            "now": now,
            "lease": lease_until,
        },
    )
    if row is None:
        return None
    conversation, prev_public_seq, (message_id, reply_id, stopped, signalled) = _conversation(row)
    return Written(
        conversation,
        prev_public_seq,
        message_id,
        reply_id,
        stopped=tuple(tuple(item) for item in stopped or ()),
        signalled=tuple(signalled or ()),
    )


def agent_message(
    *,
    agent_id: int,
    site_ids: list[int],
    conversation_id: int,
    client_id: str,
    body: str,
    internal: bool,
    now: datetime,
) -> Written | None:
    """Store an agent's answer (human-owned conversation) or note in one statement; None when the ORM path must."""
    row = _run(
        AGENT_SQL,
        {
            "conversation": conversation_id,
            "sites": list(site_ids),
            "internal": internal,
            "client_id": client_id,
            "body": body,
            "agent": agent_id,
            "now": now,
        },
    )
    if row is None:
        return None
    conversation, prev_public_seq, (message_id,) = _conversation(row)
    return Written(conversation, prev_public_seq, message_id)
