"""A schema for every server-to-client frame of docs/protocol.md, and `check_event` to hold a frame to it.

In the spirit of Zulip's `zerver/lib/event_schema.py`: the contract written once, as data, and every
frame the tests receive checked against it, so a field the server adds, drops or retypes fails a test
until the server and docs/protocol.md agree again. The values (statuses, outcomes, error codes) are
spelled out here rather than imported from the models on purpose: a new choice in a model is a change
of the wire contract, and it should be one here too.

A frame's shape can depend on who receives it (a customer never sees notes, agents get more of a
conversation), so schemas are kept per audience: the customer's socket, the agent's socket, and the
customer's event stream (SSE, section 5). `check_event(frame)` without an audience accepts a frame
that fits any of them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

CUSTOMER = "customer"  # /ws/widget/ (section 3)
AGENT = "agent"  # /ws/agent/ (section 4)
SSE = "sse"  # GET /api/widget/events (section 5): the customer's events, and a welcome without events
AUDIENCES = (CUSTOMER, AGENT, SSE)


class SchemaError(ValueError):
    """A frame that does not match the protocol; `field` is the dotted path of the offending field."""

    def __init__(self, field: str, problem: str, frame_type: str | None = None):
        self.field = field
        self.problem = problem
        self.frame_type = frame_type
        where = f"`{frame_type}` frame" if frame_type else "frame"
        super().__init__(f"{where}, field `{field}`: {problem}" if field else f"{where}: {problem}")


def _shown(value: object) -> str:
    text = repr(value)
    return f"{text[:60]}... ({type(value).__name__})" if len(text) > 60 else f"{text} ({type(value).__name__})"


def _join(path: str, name: str | int) -> str:
    if isinstance(name, int):
        return f"{path}[{name}]"
    return f"{path}.{name}" if path else name


# --- the checker: a few declarative pieces ------------------------------------------------------


class Check:
    """What a value must be; `check` raises SchemaError naming the field at `path`."""

    def check(self, value: object, path: str) -> None:
        raise NotImplementedError


@dataclass(frozen=True)
class Int(Check):
    """An integer (JSON has no separate booleans-as-numbers: true is not 1)."""

    minimum: int | None = None

    def check(self, value, path):
        if isinstance(value, bool) or not isinstance(value, int):
            raise SchemaError(path, f"must be an integer, got {_shown(value)}")
        if self.minimum is not None and value < self.minimum:
            raise SchemaError(path, f"must be at least {self.minimum}, got {value}")


@dataclass(frozen=True)
class Text(Check):
    """A string, optionally of a given form."""

    pattern: str | None = None
    meaning: str = "a string"

    def check(self, value, path):
        if not isinstance(value, str):
            raise SchemaError(path, f"must be {self.meaning}, got {_shown(value)}")
        if self.pattern is not None and not re.fullmatch(self.pattern, value):
            raise SchemaError(path, f"must be {self.meaning}, got {value[:60]!r}")


@dataclass(frozen=True)
class Bool(Check):
    """true or false."""

    def check(self, value, path):
        if not isinstance(value, bool):
            raise SchemaError(path, f"must be true or false, got {_shown(value)}")


class OneOf(Check):
    """One of a few literal values, of the same JSON kind: 1 is not true (str subclasses, such as enums, are strings)."""

    def __init__(self, *choices: object):
        self.choices = choices

    def check(self, value, path):
        if not any(_json_kind(value) == _json_kind(choice) and value == choice for choice in self.choices):
            allowed = ", ".join(repr(choice) for choice in self.choices)
            raise SchemaError(path, f"must be one of {allowed}; got {_shown(value)}")


def _json_kind(value: object) -> type:
    return next((kind for kind in (bool, int, str) if isinstance(value, kind)), type(value))


@dataclass(frozen=True)
class Nullable(Check):
    """null, or the inner check."""

    inner: Check

    def check(self, value, path):
        if value is not None:
            self.inner.check(value, path)


@dataclass(frozen=True)
class ListOf(Check):
    """A JSON array whose every item passes `item`."""

    item: Check

    def check(self, value, path):
        if not isinstance(value, list):
            raise SchemaError(path, f"must be a list, got {_shown(value)}")
        for position, item in enumerate(value):
            self.item.check(item, _join(path, position))


@dataclass(frozen=True)
class MapOf(Check):
    """A JSON object used as a map: free keys of one form, values of one kind."""

    key: Text
    value: Check

    def check(self, value, path):
        if not isinstance(value, dict):
            raise SchemaError(path, f"must be an object, got {_shown(value)}")
        for name, item in value.items():
            self.key.check(name, _join(path, f"<key {name!r}>"))
            self.value.check(item, _join(path, name))


#: A cross-field rule: given the object, None when it holds, else (field, problem).
Rule = Callable[[dict], "tuple[str, str] | None"]


@dataclass(frozen=True)
class Obj(Check):
    """A JSON object with required and optional fields and nothing else, plus rules across its fields."""

    required: Mapping[str, Check]
    optional: Mapping[str, Check] = field(default_factory=dict)
    rules: tuple[Rule, ...] = ()

    def check(self, value, path):
        if not isinstance(value, dict):
            raise SchemaError(path, f"must be an object, got {_shown(value)}")
        for name, check in self.required.items():
            if name not in value:
                raise SchemaError(_join(path, name), "is required but missing")
            check.check(value[name], _join(path, name))
        for name, item in value.items():
            if name in self.required:
                continue
            if name not in self.optional:
                raise SchemaError(_join(path, name), f"is not a field of this object, got {_shown(item)}")
            self.optional[name].check(item, _join(path, name))
        for rule in self.rules:
            broken = rule(value)
            if broken is not None:
                raise SchemaError(_join(path, broken[0]), broken[1])

    def extend(
        self,
        *,
        required: Mapping[str, Check] | None = None,
        optional: Mapping[str, Check] | None = None,
        rules: tuple[Rule, ...] = (),
        drop: tuple[str, ...] = (),
    ) -> Obj:
        """This object with more fields (or fewer: `drop`) and more rules."""
        return Obj(
            {**{k: v for k, v in self.required.items() if k not in drop}, **(required or {})},
            {**{k: v for k, v in self.optional.items() if k not in drop}, **(optional or {})},
            self.rules + rules,
        )


@dataclass(frozen=True)
class Event(Check):
    """A frame inside a frame (the replayed `events` of welcome, replay and subscribed)."""

    audience: str
    types: tuple[str, ...]

    def check(self, value, path):
        if not isinstance(value, dict):
            raise SchemaError(path, f"must be an event object, got {_shown(value)}")
        kind = value.get("type")
        if kind not in self.types:
            raise SchemaError(_join(path, "type"), f"a replay carries only {', '.join(self.types)}; got {_shown(kind)}")
        SCHEMAS[kind][self.audience].check(value, path)


# --- the pieces of the contract -----------------------------------------------------------------

ID = Int(minimum=1)
COUNT = Int(minimum=0)  # a seq that may be 0 ("nothing yet"), a counter
STRING = Text()
BOOL = Bool()
TIME = Text(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z", "an ISO 8601 UTC time like 2026-11-22T09:30:00.123456Z")
CURSOR = Text(r"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)", 'a cursor "S.I"')

AUTHOR_KINDS = ("customer", "agent", "bot", "system")
MESSAGE_STATUSES = ("complete", "streaming", "stopped", "interrupted", "failed")
ENDED_STATUSES = ("complete", "stopped", "interrupted", "failed")
OUTCOMES = ("answered", "unanswered", "clarify", "smalltalk", "handoff", "contact")
NOTICES = ("agent_joined", "bot_back", "handoff", "handoff_away", "handoff_away_ask")  # services/conversations.py
LANGUAGES = ("en", "zh-hans")
QUICK_ACTIONS = ("rephrase", "human")
ERROR_CODES = (
    "bad_request",
    "hello_required",
    "empty",
    "too_long",
    "too_large",
    "rate_limited",
    "not_found",
    "not_streaming",
    "bot_disabled",
    "not_resolved",
    "unavailable",
    "internal",
)
REPLAYED = ("message.new", "reply.start", "reply.snapshot", "reply.end")


def _id_only_for_agents(author: dict) -> tuple[str, str] | None:
    if "id" in author and author.get("kind") != "agent":
        return "id", "only an agent author carries an id"
    return None


def _bot_fields_only_for_bots(message: dict) -> tuple[str, str] | None:
    """Section 3.1: a bot message carries outcome, meta and feedback; no other message does."""
    is_bot = message.get("author", {}).get("kind") == "bot"
    for name in ("outcome", "meta", "feedback"):
        if is_bot and name not in message:
            return name, "is required on a bot message (section 3.1)"
        if not is_bot and name in message:
            return name, "only a bot message carries it (section 3.1)"
    return None


def _notice_only_on_system_lines(message: dict) -> tuple[str, str] | None:
    if "notice" in message and message.get("author", {}).get("kind") != "system":
        return "notice", "only a system line carries a notice"
    if "stopped_by" in message and message.get("status") != "stopped":
        return "stopped_by", "only a stopped reply says who stopped it"
    return None


def _ends_fit_the_text(snapshot: dict) -> tuple[str, str] | None:
    """`ends[i]` is the text length after delta i, so there is one per delta and the last is the whole text."""
    ends, index, text = snapshot["ends"], snapshot["index"], snapshot["text"]
    if len(ends) != index + 1:
        return "ends", f"must hold one length per delta 0..{index} ({index + 1}), holds {len(ends)}"
    if any(later < earlier for earlier, later in zip(ends, ends[1:])):
        return "ends", f"must never decrease, got {ends[:20]}"
    if ends and ends[-1] != len(text):
        return "ends", f"must end at the text's length {len(text)}, ends at {ends[-1]}"
    return None


def _what_an_end_carries(end: dict) -> tuple[str, str] | None:
    """Section 3: `reason` explains a failed or interrupted reply; section 3.1: only a complete one has an outcome."""
    if "reason" in end and end["status"] not in ("failed", "interrupted"):
        return "reason", f"only a failed or interrupted reply has a reason, this one ended {end['status']}"
    if end["status"] != "complete" and end["outcome"] != "":
        return "outcome", f'must be "" for a reply that ended {end["status"]} (section 3.1), got {end["outcome"]!r}'
    return None


def _head_names_its_conversation(pong: dict) -> tuple[str, str] | None:
    if ("conversation" in pong) != ("cursor" in pong):
        return ("cursor" if "conversation" in pong else "conversation"), "comes with `conversation` and `cursor` both"
    return None


def _score_at_most_5(rating: dict) -> tuple[str, str] | None:
    if rating["score"] > 5:
        return "score", f"is 1 to 5, got {rating['score']}"
    return None


def frame(
    kind: str, required: Mapping[str, Check], optional: Mapping[str, Check] | None = None, rules: tuple[Rule, ...] = ()
) -> Obj:
    """The schema of one frame type: its `type` and its fields."""
    return Obj({"type": OneOf(kind), **required}, optional or {}, rules)


VISITOR = Obj({"id": ID, "name": STRING, "email": STRING, "verified": BOOL, "email_confirmed": BOOL})
RATING = Obj({"score": Int(minimum=1), "comment": STRING, "rated_at": TIME}, rules=(_score_at_most_5,))
CONVERSATION = Obj(
    {
        "id": ID,
        "site": ID,
        "status": OneOf("open", "resolved"),
        "owner": OneOf("bot", "queue", "agent"),
        "assignee": Nullable(Obj({"id": ID, "name": STRING})),
        "last_seq": COUNT,
        "customer_read_seq": COUNT,
        "agent_read_seq": COUNT,
        "updated_at": TIME,
        "rating": Nullable(RATING),
    }
)
# Section 4: agents also get the counters, the times the inbox sorts by, the visitor, and `last_seq` counting notes.
CONVERSATION_FOR_AGENTS = CONVERSATION.extend(
    required={
        "unread": COUNT,
        "queued_at": Nullable(TIME),
        "last_message_at": Nullable(TIME),
        "visitor": VISITOR,
    },
    # Absent from the inbox update of a new message, which cannot change them: keep the labels already known.
    optional={"labels": ListOf(STRING)},
)

AUTHOR = Obj({"kind": OneOf(*AUTHOR_KINDS), "name": STRING}, {"id": ID}, (_id_only_for_agents,))
SOURCE = Obj({"id": ID, "title": STRING, "url": STRING})
META = Obj(
    {},
    {
        "language": OneOf(*LANGUAGES),
        "sources": ListOf(SOURCE),
        "actions": ListOf(OneOf(*QUICK_ACTIONS)),
        "options": ListOf(STRING),
        "handoff": OneOf(True),
    },
)
OUTCOME = OneOf(*OUTCOMES, "")
BOT_FIELDS = {"outcome": OUTCOME, "meta": META, "feedback": Nullable(BOOL)}

LINK = Text(r"/files/[A-Za-z0-9_\-:.]+/", "a signed link /files/<value>/")
ATTACHMENT = Obj(
    {"id": ID, "name": STRING, "type": STRING, "size": Int(minimum=1), "image": BOOL, "url": LINK},
    {"width": Int(minimum=1), "height": Int(minimum=1), "thumbnail_url": LINK},
)
# Section 3: a system line says what happened in `notice`, for a client to say it in its own language.
NOTICE = Obj({"kind": OneOf(*NOTICES)}, {"name": STRING, "email": STRING})
STOPPED_BY = {"stopped_by": OneOf("agent")}  # a bot reply a person cut short by taking the conversation over
MESSAGE = Obj(
    {"id": ID, "seq": ID, "author": AUTHOR, "body": STRING, "created_at": TIME, "status": OneOf(*MESSAGE_STATUSES)},
    {**BOT_FIELDS, **STOPPED_BY, "attachments": ListOf(ATTACHMENT), "notice": NOTICE},
    (_bot_fields_only_for_bots, _notice_only_on_system_lines),
)
MESSAGE_FOR_AGENTS = MESSAGE.extend(optional={"internal": OneOf(True)})  # customers never see notes

PREV_SEQ = {"prev_seq": COUNT}  # customers only: the previous seq they can see (section 2)

MESSAGE_NEW = frame("message.new", {"conversation": ID, "message": MESSAGE, **PREV_SEQ})
MESSAGE_NEW_FOR_AGENTS = frame("message.new", {"conversation": ID, "message": MESSAGE_FOR_AGENTS})
MESSAGE_ACK = frame("message.ack", {"client_id": STRING, "id": ID, "seq": ID, "conversation": ID})

_REPLY = {"conversation": ID, "reply_id": ID, "seq": ID}
REPLY_START_FOR_AGENTS = frame("reply.start", {**_REPLY, "author": AUTHOR, "created_at": TIME})
REPLY_START = REPLY_START_FOR_AGENTS.extend(required=PREV_SEQ)
REPLY_DELTA = frame("reply.delta", {**_REPLY, "index": COUNT, "text": STRING})
# index -1: a worker asked for its text before the first delta.
REPLY_SNAPSHOT = frame(
    "reply.snapshot",
    {**_REPLY, "index": Int(minimum=-1), "text": STRING, "ends": ListOf(COUNT)},
    rules=(_ends_fit_the_text,),
)
REPLY_END = frame(
    "reply.end",
    {**_REPLY, "status": OneOf(*ENDED_STATUSES), "body": STRING, "index": Int(minimum=-1), **BOT_FIELDS},
    STOPPED_BY,
    rules=(_what_an_end_carries,),
)
REPLY_END_FOR_AGENTS = REPLY_END.extend(optional={"reason": STRING})
REPLY_FEEDBACK = frame("reply.feedback", {"conversation": ID, "reply_id": ID, "helpful": Nullable(BOOL)})

CONVERSATION_UPDATED = frame("conversation.updated", {"conversation": CONVERSATION})
CONVERSATION_UPDATED_FOR_AGENTS = frame("conversation.updated", {"conversation": CONVERSATION_FOR_AGENTS})
TYPING = frame(
    "typing",
    {
        "conversation": ID,
        "author": Obj({"kind": OneOf("customer", "agent")}, {"name": STRING, "id": ID}, (_id_only_for_agents,)),
        "active": BOOL,
    },
)
READ = frame("read", {"conversation": ID, "by": OneOf("customer", "agent"), "seq": COUNT})
ERROR = frame(
    "error",
    {"code": OneOf(*ERROR_CODES), "detail": STRING},
    {"ref": STRING, "retry_after": Int(minimum=1)},  # only with rate_limited: seconds until there is room
)
PONG = frame("pong", {}, {"conversation": ID, "cursor": CURSOR}, (_head_names_its_conversation,))
PONG_FOR_AGENTS = frame("pong", {}, {"heads": MapOf(Text(r"[1-9][0-9]*", "a conversation id"), CURSOR)})

PRESENCE = frame("presence", {"agent": Obj({"id": ID, "name": STRING}), "status": OneOf("online", "away", "offline")})
QUEUE = frame("queue", {"site": ID, "count": COUNT})

WELCOME = frame(
    "welcome",
    {
        "visitor": VISITOR,
        "conversation": Nullable(CONVERSATION),
        "events": ListOf(Event(CUSTOMER, REPLAYED)),
        "cursor": CURSOR,
        "more": BOOL,
    },
)
REPLAY = frame("replay", {k: v for k, v in WELCOME.required.items() if k != "type"})
WELCOME_SSE = WELCOME.extend(drop=("events",))  # section 5: the welcome fields without events
WELCOME_FOR_AGENTS = frame(
    "welcome",
    {
        "agent": Obj({"id": ID, "name": STRING, "status": OneOf("online", "away")}),
        "sites": ListOf(ID),
        "presence": ListOf(PRESENCE),
        "queues": ListOf(QUEUE),
    },
)
SUBSCRIBED = frame(
    "subscribed",
    {"conversation": CONVERSATION_FOR_AGENTS, "events": ListOf(Event(AGENT, REPLAYED)), "cursor": CURSOR, "more": BOOL},
)
UNSUBSCRIBED = frame("unsubscribed", {"conversation": ID})
CONTACT_SAVED = frame("contact.saved", {"visitor": VISITOR})
TRANSCRIPT_QUEUED = frame("transcript.queued", {"conversation": ID, "email": STRING})


def _to(customer: Obj | None = None, agent: Obj | None = None, sse: Obj | None = None) -> dict[str, Obj]:
    return {audience: schema for audience, schema in ((CUSTOMER, customer), (AGENT, agent), (SSE, sse)) if schema}


#: frame type -> audience -> schema. A type missing for an audience is never sent to it.
SCHEMAS: dict[str, dict[str, Obj]] = {
    "welcome": _to(WELCOME, WELCOME_FOR_AGENTS, WELCOME_SSE),
    "replay": _to(REPLAY),
    "message.ack": _to(MESSAGE_ACK, MESSAGE_ACK),
    "message.new": _to(MESSAGE_NEW, MESSAGE_NEW_FOR_AGENTS, MESSAGE_NEW),
    "reply.start": _to(REPLY_START, REPLY_START_FOR_AGENTS, REPLY_START),
    "reply.delta": _to(REPLY_DELTA, REPLY_DELTA, REPLY_DELTA),
    "reply.snapshot": _to(REPLY_SNAPSHOT, REPLY_SNAPSHOT, REPLY_SNAPSHOT),
    "reply.end": _to(REPLY_END, REPLY_END_FOR_AGENTS, REPLY_END),
    "reply.feedback": _to(REPLY_FEEDBACK, REPLY_FEEDBACK, REPLY_FEEDBACK),
    "conversation.updated": _to(CONVERSATION_UPDATED, CONVERSATION_UPDATED_FOR_AGENTS, CONVERSATION_UPDATED),
    "typing": _to(TYPING, TYPING, TYPING),
    "read": _to(READ, READ, READ),
    "error": _to(ERROR, ERROR, ERROR),
    "pong": _to(PONG, PONG_FOR_AGENTS),
    "presence": _to(agent=PRESENCE),
    "queue": _to(agent=QUEUE),
    "subscribed": _to(agent=SUBSCRIBED),
    "unsubscribed": _to(agent=UNSUBSCRIBED),
    "contact.saved": _to(customer=CONTACT_SAVED),
    "transcript.queued": _to(customer=TRANSCRIPT_QUEUED),
}


def check_event(frame: object, *, audience: str | None = None) -> None:
    """Raise SchemaError, naming the field, unless `frame` is a server frame of docs/protocol.md.

    With an `audience` (CUSTOMER, AGENT or SSE) the frame must have that audience's shape, and its
    type must be one that audience receives; without one, any audience's shape will do.
    """
    if audience is not None and audience not in AUDIENCES:
        raise ValueError(f"audience must be one of {', '.join(AUDIENCES)}, not {audience!r}")
    if not isinstance(frame, dict):
        raise SchemaError("", f"must be a JSON object, got {_shown(frame)}")
    kind = frame.get("type")
    if "type" not in frame:
        raise SchemaError("type", "is required but missing")
    if not isinstance(kind, str) or kind not in SCHEMAS:
        raise SchemaError("type", f"unknown frame type {_shown(kind)}")
    shapes = SCHEMAS[kind]
    if audience is not None:
        if audience not in shapes:
            raise SchemaError("type", f"is never sent to the {audience} (only to {', '.join(shapes)})", kind)
        candidates = [(audience, shapes[audience])]
    else:  # one try per distinct shape
        candidates = list({id(schema): (name, schema) for name, schema in shapes.items()}.values())
    failures = []
    for name, schema in candidates:
        try:
            schema.check(frame, "")
            return
        except SchemaError as exc:
            failures.append((name, exc))
    if len(failures) == 1:
        exc = failures[0][1]
        raise SchemaError(exc.field, exc.problem, kind) from None
    first = failures[0][1]
    problems = "; ".join(f"as sent to the {name}, `{exc.field}` {exc.problem}" for name, exc in failures)
    raise SchemaError(first.field, f"fits no audience's shape ({problems})", kind) from None


# --- section 5: the chat-completion chunks of POST /api/widget/messages -------------------------

COMPLETION_CHUNK = Obj(
    {
        "id": Text(r"reply-[0-9]+", 'a reply id "reply-<id>"'),
        "object": OneOf("chat.completion.chunk"),
        "created": COUNT,
        "model": STRING,
        "choices": ListOf(
            Obj(
                {
                    "index": OneOf(0),
                    "delta": Obj({}, {"content": STRING}),
                    "finish_reason": Nullable(OneOf("stop", "length")),
                }
            )
        ),
    },
    {
        "parley_status": OneOf("stopped", "interrupted", "failed", "no_reply"),
        "parley_outcome": OUTCOME,
        "parley_meta": META,
    },
)


def check_completion_chunk(chunk: object) -> None:
    """Raise SchemaError, naming the field, unless `chunk` is a `chat.completion.chunk` of section 5."""
    try:
        COMPLETION_CHUNK.check(chunk, "")
    except SchemaError as exc:
        raise SchemaError(exc.field, exc.problem, "chat.completion.chunk") from None
