"""Desk reports: volume per day, how the bot does, how fast humans answer and resolve, satisfaction and labels."""

from __future__ import annotations

import re
import statistics
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from django.contrib.auth import get_user_model
from django.db.models import Count, Exists, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy

from chat.ai.retrieval import analyze, contains_cjk
from chat.models import Conversation, Label, Message
from chat.selectors import rollups

# Longest period one report covers: a year of daily bars is still readable, and bounds the work.
MAX_DAYS = 366
# First-response buckets (upper bounds in seconds), for the distribution chart.
RESPONSE_BUCKETS = [
    (60, gettext_lazy("< 1 min")),
    (5 * 60, gettext_lazy("1–5 min")),
    (15 * 60, gettext_lazy("5–15 min")),
    (60 * 60, gettext_lazy("15–60 min")),
    (None, gettext_lazy("> 1 hour")),
]
# A conversation nobody resolved is over once it has been quiet this long: customers rarely come back later.
IDLE_CLOSES_AFTER = timedelta(hours=1)
# Bot replies that tried to answer a question (small talk, handoffs and contact requests do not make a conversation
# the bot's to resolve).
BOT_WORK = (Message.Outcome.ANSWERED, Message.Outcome.UNANSWERED, Message.Outcome.CLARIFY)
# The unanswered-questions list reads only this many of the latest misses: enough to see what is missing,
# and grouping stays quick on a busy site.
MAX_UNANSWERED = 2000
MAX_QUESTION_GROUPS = 20
# Two questions are alike when their term sets share at least this much (Jaccard): "opening hours?" and
# "What are your opening hours?" share all their terms; two questions sharing one term of three stay apart, since
# one shared word ("Berlin", "#ship") says little about what is missing.
SIMILARITY = 0.5
# Other phrasings shown under a group's question.
MAX_EXAMPLES = 3
# Satisfaction scores customers give, and the ones that count as satisfied (the usual CSAT definition).
SCORES = (1, 2, 3, 4, 5)
SATISFIED = (4, 5)
# Label rows the page lists, most used first: a desk with hundreds of labels still gets a readable table.
MAX_LABELS = 30


@dataclass(frozen=True)
class DayStats:
    """One day of the period."""

    day: date
    conversations: int = 0
    bot_alone: int = 0
    median_first_response: float | None = None  # seconds

    @property
    def with_humans(self) -> int:
        """Conversations a human took part in (or that wait for one)."""
        return self.conversations - self.bot_alone


@dataclass(frozen=True)
class BotStats:
    """How the bot did with the period's conversations, and what customers said of its answers."""

    conversations: int = 0  # with a bot reply that answered, could not answer or asked which topic
    closed: int = 0
    resolved: int = 0  # closed, and resolved by the bot
    helpful: int = 0  # 👍 on bot replies
    unhelpful: int = 0  # 👎 on bot replies

    @property
    def resolution_rate(self) -> float | None:
        """Share of closed bot conversations the bot resolved, 0..1 (None when none closed)."""
        return self.resolved / self.closed if self.closed else None

    @property
    def helpful_share(self) -> float | None:
        """Share of 👍 among the verdicts, 0..1 (None without any)."""
        verdicts = self.helpful + self.unhelpful
        return self.helpful / verdicts if verdicts else None


@dataclass(frozen=True)
class QuestionGroup:
    """Similar questions the bot could not answer: the most asked phrasing, how often, and a few others."""

    question: str
    count: int
    examples: tuple[str, ...] = ()
    language: str = "en"
    site_id: int | None = None


@dataclass(frozen=True)
class ScoreStats:
    """Ratings of a group of conversations: how many, the sum of their scores and how many gave each score."""

    count: int = 0
    total: int = 0
    distribution: tuple[int, ...] = (0, 0, 0, 0, 0)  # ratings of 1, 2, 3, 4 and 5

    @property
    def average(self) -> float | None:
        """Mean score, 1..5 (None without ratings)."""
        return self.total / self.count if self.count else None

    @property
    def satisfied(self) -> int:
        """Ratings of 4 or 5."""
        return sum(self.distribution[score - 1] for score in SATISFIED)

    @property
    def satisfied_share(self) -> float | None:
        """Share of ratings of 4 or 5, 0..1 (None without ratings)."""
        return self.satisfied / self.count if self.count else None


@dataclass(frozen=True)
class AgentScore:
    """One assignee's ratings; `agent_id` None is the conversations nobody was assigned (the bot's, the queue's)."""

    agent_id: int | None
    name: str
    stats: ScoreStats


@dataclass(frozen=True)
class Satisfaction:
    """The period's satisfaction ratings: overall, per day and per assignee."""

    overall: ScoreStats = field(default_factory=ScoreStats)
    days: list[tuple[date, ScoreStats]] = field(default_factory=list)
    agents: list[AgentScore] = field(default_factory=list)


@dataclass(frozen=True)
class LabelCount:
    """How many of the period's conversations carry a label."""

    name: str
    color: str
    site_id: int
    count: int


@dataclass(frozen=True)
class Report:
    """Everything the reports page shows for one period."""

    start: date
    end: date
    days: list[DayStats]
    conversations: int
    bot_alone: int
    median_first_response: float | None  # seconds
    median_resolution: float | None  # seconds
    first_responses: int
    resolutions: int
    response_buckets: list[tuple[str, int]] = field(default_factory=list)
    bot: BotStats = field(default_factory=BotStats)
    unanswered: list[QuestionGroup] = field(default_factory=list)
    satisfaction: Satisfaction = field(default_factory=Satisfaction)
    labels: list[LabelCount] = field(default_factory=list)

    @property
    def bot_alone_share(self) -> float | None:
        """Share of conversations the bot answered alone, 0..1 (None without conversations)."""
        return self.bot_alone / self.conversations if self.conversations else None


def period_days(start: date, end: date) -> list[date]:
    """Every day from start to end, both included."""
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


# The per-conversation times live with the rollups that store them; the report's callers know them from here.
first_response_seconds = rollups.first_response_seconds
resolution_seconds = rollups.resolution_seconds


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _bucket(seconds: float) -> int:
    for position, (limit, _label) in enumerate(RESPONSE_BUCKETS):
        if limit is None or seconds < limit:
            return position
    return len(RESPONSE_BUCKETS) - 1


def bot_stats(*, site_ids: list[int], since: datetime, until: datetime, now: datetime) -> BotStats:
    """Bot resolution and answer feedback of the conversations created from `since` until `until`.

    Closed: resolved, or no message for IDLE_CLOSES_AFTER. Resolved by the bot: closed, and a 👍 on any bot
    reply, or no human involved (never handed off, no human reply) and no 👎.
    """
    in_period = Conversation.objects.filter(site_id__in=site_ids, created_at__gte=since, created_at__lt=until)
    replies = Message.objects.filter(conversation=OuterRef("pk"), author_kind=Message.AuthorKind.BOT)
    last_message = Message.objects.filter(conversation=OuterRef("pk")).order_by("-seq").values("created_at")[:1]
    conversations = in_period.filter(Exists(replies.filter(outcome__in=BOT_WORK))).annotate(
        last_activity=Coalesce(Subquery(last_message), "created_at"),
        helpful=Exists(replies.filter(feedback=1)),
        unhelpful=Exists(replies.filter(feedback=-1)),
    )
    closed = Q(status=Conversation.Status.RESOLVED) | Q(last_activity__lt=now - IDLE_CLOSES_AFTER)
    no_human = Q(handed_off_at__isnull=True, first_human_reply_at__isnull=True, unhelpful=False)
    totals = conversations.aggregate(
        conversations=Count("pk"),
        closed=Count("pk", filter=closed),
        resolved=Count("pk", filter=closed & (Q(helpful=True) | no_human)),
    )
    verdicts = Message.objects.filter(
        conversation__in=in_period,
        author_kind=Message.AuthorKind.BOT,
        feedback__isnull=False,
    ).aggregate(helpful=Count("pk", filter=Q(feedback=1)), unhelpful=Count("pk", filter=Q(feedback=-1)))
    return BotStats(**totals, **verdicts)


def normalize_question(text: str) -> str:
    """The question as compared for sameness: folded width and case, single spaces, no surrounding punctuation."""
    text = " ".join(unicodedata.normalize("NFKC", text).casefold().split())
    return re.sub(r"^[\W_]+|[\W_]+$", "", text)


def _similarity(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b)


def question_groups(
    questions: Iterable[str], *, limit: int = MAX_QUESTION_GROUPS, similarity: float = SIMILARITY
) -> list[QuestionGroup]:
    """Group questions by similarity of their retrieval terms, most asked group first.

    Phrasings (the same normalised text) are taken most frequent first, then shortest; each joins the first group
    whose leading phrasing shares enough terms, or leads a new one, so a group's question is its most frequent
    phrasing. A question without terms ("hello") only meets its exact repeats; punctuation alone is dropped.
    """
    counts: Counter[str] = Counter()
    shown: dict[str, str] = {}
    for question in questions:
        key = normalize_question(question)
        if key:
            counts[key] += 1
            shown.setdefault(key, " ".join(question.split()))
    leaders: list[tuple[frozenset[str], list[str]]] = []
    for key in sorted(counts, key=lambda k: (-counts[k], len(k), k)):
        terms = frozenset(analyze(key))
        group = next(
            (members for lead, members in leaders if terms and lead and _similarity(terms, lead) >= similarity), None
        )
        if group is None:
            leaders.append((terms, [key]))
        else:
            group.append(key)
    groups = [
        QuestionGroup(
            question=shown[members[0]],
            count=sum(counts[k] for k in members),
            examples=tuple(shown[k] for k in members[1 : MAX_EXAMPLES + 1]),
            language="zh-hans" if contains_cjk(members[0]) else "en",
        )
        for _terms, members in leaders
    ]
    # sorted() is stable: equal counts keep the order of their leaders (more frequent, then shorter, first).
    return sorted(groups, key=lambda g: -g.count)[:limit]


def unanswered_questions(
    *, site_ids: list[int], since: datetime, until: datetime, limit: int = MAX_QUESTION_GROUPS
) -> list[QuestionGroup]:
    """The questions the bot could not answer in the period's conversations, grouped per site, most asked first."""
    rows = (
        Message.objects.filter(
            conversation__site_id__in=site_ids,
            conversation__created_at__gte=since,
            conversation__created_at__lt=until,
            author_kind=Message.AuthorKind.BOT,
            outcome=Message.Outcome.UNANSWERED,
            trigger__isnull=False,
        )
        .order_by("-created_at", "-pk")
        .values_list("conversation__site_id", "trigger__body")[:MAX_UNANSWERED]
    )
    per_site: dict[int, list[str]] = defaultdict(list)
    for site_id, body in rows:
        per_site[site_id].append(body)
    groups = [
        replace(group, site_id=site_id)
        for site_id, questions in per_site.items()
        for group in question_groups(questions, limit=limit)
    ]
    return sorted(groups, key=lambda g: -g.count)[:limit]


def satisfaction(*, numbers: dict[tuple[int, date], rollups.DayNumbers], start: date, end: date) -> Satisfaction:
    """Ratings of the period's conversations per day and per assignee, from the days' numbers.

    A rating belongs to the day its conversation started, as every other number of the page does.
    """
    days = []
    for day in period_days(start, end):
        merged = rollups.merged_ratings([n for (_site, d), n in numbers.items() if d == day])
        days.append((day, _score_stats_of(list(merged.values()))))
    overall = ScoreStats(
        count=sum(stats.count for _day, stats in days),
        total=sum(stats.total for _day, stats in days),
        distribution=tuple(sum(stats.distribution[i] for _day, stats in days) for i in range(len(SCORES))),
    )
    per_assignee = rollups.merged_ratings(list(numbers.values()))
    users = {
        user.pk: user
        for user in get_user_model()
        .objects.filter(pk__in=[int(key) for key in per_assignee if key != rollups.NO_ASSIGNEE])
        .only("first_name", "last_name", "username")
    }
    # An assignee deleted since the day was stored is nobody now, as the conversation's assignee is.
    regrouped: dict[int | None, list[list[int]]] = defaultdict(list)
    for key, counts in per_assignee.items():
        agent_id = int(key) if key != rollups.NO_ASSIGNEE and int(key) in users else None
        regrouped[agent_id].append(counts)
    agents = [
        AgentScore(
            agent_id=agent_id,
            name=_user_name(users[agent_id]) if agent_id is not None else "",
            stats=_score_stats_of(counts),
        )
        for agent_id, counts in regrouped.items()
        if sum(map(sum, counts))
    ]
    # Most rated first; the unassigned row (the bot's and the queue's conversations) last.
    agents.sort(key=lambda a: (a.agent_id is None, -a.stats.count, a.name.casefold(), a.agent_id or 0))
    return Satisfaction(overall=overall, days=days, agents=agents)


def _score_stats_of(counts: list[list[int]]) -> ScoreStats:
    """Score counts (one list of five per group) added up."""
    distribution = tuple(sum(group[i] for group in counts) for i in range(len(SCORES)))
    return ScoreStats(
        count=sum(distribution),
        total=sum(score * n for score, n in zip(SCORES, distribution)),
        distribution=distribution,
    )


def _user_name(user) -> str:
    full = f"{user.first_name} {user.last_name}".strip()
    return full or user.username


def label_counts(*, site_ids: list[int], since: datetime, until: datetime, limit: int = MAX_LABELS) -> list[LabelCount]:
    """Labels of the agent's sites on conversations created from `since` until `until`, most used first (one query)."""
    in_period = Q(
        conversations__site_id__in=site_ids,
        conversations__created_at__gte=since,
        conversations__created_at__lt=until,
    )
    rows = (
        Label.objects.filter(site_id__in=site_ids)
        .annotate(count=Count("conversations", filter=in_period))
        .filter(count__gt=0)
        .order_by("-count", "name", "site_id")
        .values_list("name", "color", "site_id", "count")[:limit]
    )
    return [LabelCount(name=name, color=color, site_id=site_id, count=count) for name, color, site_id, count in rows]


def report_build(
    *, site_ids: list[int], start: date, end: date, tz: tzinfo = UTC, now: datetime | None = None
) -> Report:
    """The report of conversations started from `start` to `end` (days in `tz`, both included).

    "Bot only": the bot still owns the conversation (resolved or not) and no human ever wrote to the
    customer. Handed-off conversations count as with humans, answered or not.
    """
    if end < start:
        start, end = end, start
    end = min(end, start + timedelta(days=MAX_DAYS - 1))
    since = datetime.combine(start, time.min, tzinfo=tz)
    until = datetime.combine(end + timedelta(days=1), time.min, tzinfo=tz)
    numbers = rollups.period_numbers(site_ids=site_ids, days=period_days(start, end), tz=tz)
    responses: list[float] = []
    resolutions: list[float] = []
    days = []
    for day in period_days(start, end):
        of_day = [n for (_site, d), n in numbers.items() if d == day]
        day_responses = [seconds for n in of_day for seconds in n.first_responses]
        responses += day_responses
        resolutions += [seconds for n in of_day for seconds in n.resolutions]
        days.append(
            DayStats(
                day=day,
                conversations=sum(n.conversations for n in of_day),
                bot_alone=sum(n.bot_alone for n in of_day),
                median_first_response=_median(day_responses),
            )
        )
    buckets = [0] * len(RESPONSE_BUCKETS)
    for response in responses:
        buckets[_bucket(response)] += 1
    return Report(
        start=start,
        end=end,
        days=days,
        conversations=sum(d.conversations for d in days),
        bot_alone=sum(d.bot_alone for d in days),
        median_first_response=_median(responses),
        median_resolution=_median(resolutions),
        first_responses=len(responses),
        resolutions=len(resolutions),
        response_buckets=[(label, count) for (_limit, label), count in zip(RESPONSE_BUCKETS, buckets)],
        bot=bot_stats(site_ids=site_ids, since=since, until=until, now=now or timezone.now()),
        unanswered=unanswered_questions(site_ids=site_ids, since=since, until=until),
        satisfaction=satisfaction(numbers=numbers, start=start, end=end),
        labels=label_counts(site_ids=site_ids, since=since, until=until),
    )
