"""GET /agent/reports/: the period's numbers and inline SVG charts, drawn on the server (no JS needed)."""

from __future__ import annotations

import math
import re
from datetime import date, timedelta
from urllib.parse import urlencode

from django.shortcuts import render
from django.urls import reverse
from django.utils import dateformat, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext, pgettext
from django.views.decorators.http import require_GET

from chat.selectors import desk as desk_selectors
from chat.selectors import reports, rollups
from chat.selectors.access import NotFound
from chat.tasks import rollups as rollup_tasks
from chat.views.desk import agent_required

DEFAULT_DAYS = 14

# Chart canvas (SVG user units; the SVG scales to its container).
WIDTH, HEIGHT = 760, 200
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 44, 12, 10, 28

# Satisfaction colours, one per score 1..5, and the score line: each has at least 3:1 contrast against the white
# card and the grey bar track (WCAG AA for graphics); the numbers are always written next to them as text too.
SCORE_COLORS = {1: "#b42318", 2: "#dc6803", 3: "#667085", 4: "#079455", 5: "#05603a"}
SCORE_WORDS = {
    1: gettext_lazy("bad"),
    2: gettext_lazy("poor"),
    3: gettext_lazy("okay"),
    4: gettext_lazy("good"),
    5: gettext_lazy("great"),
}
SCORE_LINE = "#2563eb"
# A label without a colour of its own, and the bars of the labels table.
LABEL_DEFAULT_COLOR = "#667085"
LABEL_BAR = "#2563eb"
HEX_COLOR = re.compile(r"#[0-9a-fA-F]{6}")


def human_duration(seconds: float | None) -> str:
    """45s, 3m 20s, 2h 5m, 3d 4h (in the active language): two units at most."""
    if seconds is None:
        return "—"
    seconds = int(round(seconds))
    if seconds < 60:
        return _("%(s)ds") % {"s": seconds}
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return _("%(m)dm %(s)ds") % {"m": minutes, "s": seconds} if seconds else _("%(m)dm") % {"m": minutes}
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return _("%(h)dh %(m)dm") % {"h": hours, "m": minutes} if minutes else _("%(h)dh") % {"h": hours}
    days, hours = divmod(hours, 24)
    return _("%(d)dd %(h)dh") % {"d": days, "h": hours} if hours else _("%(d)dd") % {"d": days}


def axis_day(day: date) -> str:
    """A day under a chart's bars, in the active language ("Nov 30", "11月30日")."""
    return dateformat.format(day, pgettext("date format of a day on a chart axis", "M j"))


def tooltip_day(day: date) -> str:
    """A day in a chart's tooltip, in the active language ("Mon Nov 30", "11月30日 周一")."""
    return dateformat.format(day, pgettext("date format of a day in a chart tooltip", "D M j"))


def nice_ticks(maximum: float, count: int = 4) -> list[float]:
    """Round axis ticks from 0 covering `maximum` (steps of 1, 2 or 5 times a power of ten)."""
    if maximum <= 0:
        return [0, 1]
    raw = maximum / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    return [step * n for n in range(int(math.ceil(maximum / step)) + 1)]


def _plot_box() -> tuple[float, float, float, float]:
    return PAD_LEFT, PAD_TOP, WIDTH - PAD_LEFT - PAD_RIGHT, HEIGHT - PAD_TOP - PAD_BOTTOM


def _x_labels(days: list[date], slot: float, left: float) -> list[dict]:
    """At most about ten day labels, evenly spaced."""
    every = max(1, math.ceil(len(days) / 10))
    return [
        {"x": round(left + slot * (i + 0.5), 1), "text": axis_day(day)} for i, day in enumerate(days) if i % every == 0
    ]


def _y_axis(ticks: list[float], top: float, height: float, fmt) -> list[dict]:
    scale = ticks[-1] or 1
    return [{"y": round(top + height - height * t / scale, 1), "text": fmt(t)} for t in ticks]


def volume_chart(report: reports.Report) -> dict:
    """Stacked bars per day: handled by the bot only, and with humans."""
    left, top, width, height = _plot_box()
    days = report.days
    slot = width / max(1, len(days))
    bar = max(2.0, min(28.0, slot * 0.62))
    ticks = nice_ticks(max([d.conversations for d in days] + [1]))
    scale = ticks[-1]
    bars = []
    for i, day in enumerate(days):
        x = left + slot * i + (slot - bar) / 2
        bot_h = height * day.bot_alone / scale
        human_h = height * day.with_humans / scale
        base = top + height
        bars.append(
            {
                "x": round(x, 1),
                "w": round(bar, 1),
                "bot_y": round(base - bot_h, 1),
                "bot_h": round(bot_h, 1),
                "human_y": round(base - bot_h - human_h, 1),
                "human_h": round(human_h, 1),
                "title": ngettext(
                    "%(day)s: %(count)d conversation, %(bot)d by the bot only",
                    "%(day)s: %(count)d conversations, %(bot)d by the bot only",
                    day.conversations,
                )
                % {"day": tooltip_day(day.day), "count": day.conversations, "bot": day.bot_alone},
                "count": day.conversations,
            }
        )
    return {
        "bars": bars,
        "y_axis": _y_axis(ticks, top, height, lambda t: f"{t:g}"),
        "x_labels": _x_labels([d.day for d in days], slot, left),
        "left": left,
        "right": left + width,
        "baseline": top + height,
        "width": WIDTH,
        "height": HEIGHT,
    }


def response_chart(report: reports.Report) -> dict:
    """A line of the daily median first response (minutes); days without answers leave gaps."""
    left, top, width, height = _plot_box()
    days = report.days
    slot = width / max(1, len(days))
    values = [d.median_first_response for d in days]
    ticks = nice_ticks(max([v / 60 for v in values if v is not None] + [1]))
    scale = ticks[-1]
    points, segments, current = [], [], []
    for i, (day, value) in enumerate(zip(days, values)):
        if value is None:
            if current:
                segments.append(current)
            current = []
            continue
        x = round(left + slot * (i + 0.5), 1)
        y = round(top + height - height * (value / 60) / scale, 1)
        current.append(f"{x},{y}")
        title = _("%(day)s: median %(duration)s") % {"day": tooltip_day(day.day), "duration": human_duration(value)}
        points.append({"x": x, "y": y, "title": title})
    if current:
        segments.append(current)
    baseline = top + height
    areas = [
        f"M{s[0].split(',')[0]},{baseline} L" + " L".join(s) + f" L{s[-1].split(',')[0]},{baseline} Z" for s in segments
    ]
    return {
        "points": points,
        "paths": ["M" + " L".join(s) for s in segments],
        "areas": areas,
        "y_axis": _y_axis(ticks, top, height, lambda t: _("%(minutes)sm") % {"minutes": f"{t:g}"}),
        "x_labels": _x_labels([d.day for d in days], slot, left),
        "left": left,
        "right": left + width,
        "baseline": top + height,
        "width": WIDTH,
        "height": HEIGHT,
    }


def share_donut(report: reports.Report) -> dict:
    """A ring whose filled part is the share of conversations the bot handled alone."""
    radius = 52
    circumference = 2 * math.pi * radius
    share = report.bot_alone_share or 0.0
    return {
        "r": radius,
        "circumference": round(circumference, 2),
        "filled": round(circumference * share, 2),
        "percent": None if report.bot_alone_share is None else round(share * 100),
    }


def bucket_bars(report: reports.Report) -> list[dict]:
    """Horizontal bars of how many first responses fell in each time bucket (percent of the widest)."""
    top = max([count for _label, count in report.response_buckets] + [1])
    return [
        {"label": str(label), "count": count, "width": round(100 * count / top, 1)}
        for label, count in report.response_buckets
    ]


def _percent(share: float | None) -> int | None:
    return None if share is None else round(share * 100)


def add_article_url(*, site_id: int, question: str, language: str) -> str:
    """The admin's new-article form, with the question as title."""
    # The title field holds 200 characters; a longer question is cut rather than refused by the form.
    query = urlencode({"site": site_id, "title": question[:200], "language": language})
    return reverse("admin:chat_knowledgearticle_add") + "?" + query


def bot_section(report: reports.Report, site_names: dict[int, str]) -> dict:
    """The bot's numbers as the page shows them: percentages, bar widths and the unanswered questions' links.

    `site_names` names each question's site; empty when the report covers one site.
    """
    bot = report.bot
    verdicts = bot.helpful + bot.unhelpful
    most = max([group.count for group in report.unanswered] + [1])
    return {
        "stats": bot,
        "resolution_rate": _percent(bot.resolution_rate),
        "resolved_width": round(100 * bot.resolved / bot.closed, 1) if bot.closed else 0,
        "not_resolved": bot.closed - bot.resolved,
        "still_open": bot.conversations - bot.closed,
        "helpful_share": _percent(bot.helpful_share),
        "helpful_width": round(100 * bot.helpful / verdicts, 1) if verdicts else 0,
        "verdicts": verdicts,
        "unanswered": [
            {
                "question": group.question,
                "count": group.count,
                "examples": group.examples,
                "language": group.language,
                "site": site_names.get(group.site_id, ""),
                "width": round(100 * group.count / most, 1),
                "add_url": add_article_url(site_id=group.site_id, question=group.question, language=group.language),
            }
            for group in report.unanswered
        ],
    }


def _score(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def _split(stats: reports.ScoreStats) -> list[dict]:
    """The parts of a bar split by score, 1 to 5 (empty parts left out)."""
    return [
        {
            "score": score,
            "count": count,
            "width": round(100 * count / stats.count, 1),
            "color": SCORE_COLORS[score],
        }
        for score, count in zip(reports.SCORES, stats.distribution)
        if count
    ]


def satisfaction_chart(report: reports.Report) -> dict:
    """A line of the daily average score on a 1–5 axis; days without ratings leave gaps."""
    left, top, width, height = _plot_box()
    days = report.satisfaction.days
    slot = width / max(1, len(days))
    low, high = reports.SCORES[0], reports.SCORES[-1]

    def y_of(score: float) -> float:
        return round(top + height - height * (score - low) / (high - low), 1)

    points, segments, current = [], [], []
    for i, (day, stats) in enumerate(days):
        if stats.average is None:
            if current:
                segments.append(current)
            current = []
            continue
        x = round(left + slot * (i + 0.5), 1)
        y = y_of(stats.average)
        current.append(f"{x},{y}")
        points.append(
            {
                "x": x,
                "y": y,
                "count": stats.count,
                "average": _score(stats.average),
                "title": ngettext(
                    "%(day)s: %(average)s average over %(count)d rating",
                    "%(day)s: %(average)s average over %(count)d ratings",
                    stats.count,
                )
                % {"day": tooltip_day(day), "average": _score(stats.average), "count": stats.count},
            }
        )
    if current:
        segments.append(current)
    overall = report.satisfaction.overall.average
    return {
        "points": points,
        "paths": ["M" + " L".join(s) for s in segments],
        "y_axis": [{"y": y_of(score), "text": f"{score}"} for score in reports.SCORES],
        "x_labels": _x_labels([day for day, _stats in days], slot, left),
        "average_y": None if overall is None else y_of(overall),
        "left": left,
        "right": left + width,
        "baseline": top + height,
        "width": WIDTH,
        "height": HEIGHT,
        "color": SCORE_LINE,
    }


def satisfaction_section(report: reports.Report) -> dict:
    """The satisfaction numbers as the page shows them: average, count, satisfied %, distribution and per agent."""
    overall = report.satisfaction.overall
    most = max(list(overall.distribution) + [1])
    return {
        "overall": overall,
        "average": _score(overall.average),
        "satisfied": _percent(overall.satisfied_share),
        "split": _split(overall),
        "distribution": [
            {
                "score": score,
                "word": SCORE_WORDS[score],
                "count": count,
                "percent": round(100 * count / overall.count) if overall.count else 0,
                "width": round(100 * count / most, 1),
                "color": SCORE_COLORS[score],
            }
            for score, count in zip(reversed(reports.SCORES), reversed(overall.distribution))
        ],
        "agents": [
            {
                "id": agent.agent_id,
                "name": agent.name,
                "count": agent.stats.count,
                "average": _score(agent.stats.average),
                "satisfied": _percent(agent.stats.satisfied_share),
                "split": _split(agent.stats),
            }
            for agent in report.satisfaction.agents
        ],
        "chart": satisfaction_chart(report),
        "colors": [{"score": score, "color": SCORE_COLORS[score]} for score in reports.SCORES],
    }


def label_list_url(*, name: str, site_id: int | None = None) -> str:
    """The desk's conversation list filtered by a label (and its site, when the report covers several)."""
    query = {"label": name, **({"site": site_id} if site_id is not None else {})}
    return reverse("desk") + "?" + urlencode(query)


def labels_section(report: reports.Report, site_names: dict[int, str]) -> list[dict]:
    """Rows of the labels table: count, share of the period's conversations, bar width and the desk link.

    `site_names` names each label's site; empty when the report covers one site.
    """
    most = max([label.count for label in report.labels] + [1])
    return [
        {
            "name": label.name,
            "color": label.color if HEX_COLOR.fullmatch(label.color or "") else LABEL_DEFAULT_COLOR,
            "count": label.count,
            "share": round(100 * label.count / report.conversations) if report.conversations else 0,
            "width": round(100 * label.count / most, 1),
            "site": site_names.get(label.site_id, ""),
            "url": label_list_url(name=label.name, site_id=label.site_id if site_names else None),
        }
        for label in report.labels
    ]


def _date(raw: str | None, default: date) -> date:
    try:
        return date.fromisoformat(raw) if raw else default
    except ValueError:
        return default


@require_GET
@agent_required
def reports_page(request):
    """GET /agent/reports/?start=YYYY-MM-DD&end=YYYY-MM-DD&site=: the desk's numbers for a period."""
    today = timezone.localdate()
    end = _date(request.GET.get("end"), today)
    start = _date(request.GET.get("start"), end - timedelta(days=DEFAULT_DAYS - 1))
    site_raw = request.GET.get("site", "")
    site_id = int(site_raw) if site_raw.isdigit() else None
    try:
        site_ids = desk_selectors.desk_site_ids(user=request.user, site_id=site_id)
    except NotFound:
        site_id, site_ids = None, desk_selectors.desk_site_ids(user=request.user, site_id=None)
    tz = timezone.get_current_timezone()
    report = reports.report_build(site_ids=site_ids, start=start, end=end, tz=tz)
    today = timezone.localdate(timezone=tz)
    pending = rollups.days_to_store(site_ids=site_ids, start=report.start, end=report.end, tz=tz, today=today)
    if pending:
        # Past days counted from rows this time: stored, the next visit reads one row per site and day.
        days = sorted(day for _site, day in pending)
        rollup_tasks.rollups_refresh.enqueue(site_ids, days[0].isoformat(), days[-1].isoformat(), rollups.tz_name(tz))
    sites = desk_selectors.desk_sites(user=request.user)
    # Rows of several sites say which site they are from.
    site_names = {s["id"]: s["name"] for s in sites} if len(site_ids) > 1 else {}
    context = {
        "active": "reports",
        "report": report,
        "start": report.start,
        "end": report.end,
        "site_id": site_id,
        "sites": sites,
        "agent_name": request.user.first_name or request.user.get_username(),
        "with_humans": report.conversations - report.bot_alone,
        "bot_share": None if report.bot_alone_share is None else round(report.bot_alone_share * 100),
        "median_first_response": human_duration(report.median_first_response),
        "median_resolution": human_duration(report.median_resolution),
        "volume": volume_chart(report),
        "response": response_chart(report),
        "donut": share_donut(report),
        "buckets": bucket_bars(report),
        "bot": bot_section(report, site_names),
        "csat": satisfaction_section(report),
        "labels": labels_section(report, site_names),
        "label_bar": LABEL_BAR,
    }
    return render(request, "desk/reports.html", context)
