"""The back office's forms: origins as rows, business hours as a weekly table, one-step agent creation.

The model keeps its JSON (Site.allowed_origins, Site.business_hours); these forms convert to and from it,
in the shapes chat/security/origins.py and chat/business_hours.py read.
"""

from __future__ import annotations

import json
import zoneinfo
from urllib.parse import urlsplit

from django import forms
from django.contrib.auth import get_user_model
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from chat.business_hours import BadHours, parse_hours
from chat.models import AgentProfile, Site

WEEKDAYS = [
    gettext_lazy("Monday"),
    gettext_lazy("Tuesday"),
    gettext_lazy("Wednesday"),
    gettext_lazy("Thursday"),
    gettext_lazy("Friday"),
    gettext_lazy("Saturday"),
    gettext_lazy("Sunday"),
]
EMPTY_ORIGIN_ROWS = 2  # blank rows under the saved ones, so an admin adds origins without a script
MINUTES_PER_DAY = 24 * 60
HOUR_PAIRS_PER_DAY = 2  # open–close pairs a day offers at least (a lunch break needs two); saved extra pairs show too
MAX_PAIRS_PER_DAY = 24  # pairs read back from a submitted day (JSON written by hand may have had more than 3)


# ---- allowed origins ------------------------------------------------------------------


class OriginRowsWidget(forms.Widget):
    """One text input per origin, all under the field's name, plus a few empty rows."""

    def format_value(self, value) -> list[str]:
        return [str(item) for item in value] if isinstance(value, list | tuple) else []

    def value_from_datadict(self, data, files, name) -> list[str]:
        rows = data.getlist(name) if hasattr(data, "getlist") else data.get(name, [])
        rows = rows if isinstance(rows, list) else [rows]
        return [item for row in rows for item in _json_rows(row)]

    def render(self, name, value, attrs=None, renderer=None) -> str:
        rows = [*self.format_value(value), *[""] * EMPTY_ORIGIN_ROWS]
        inputs = format_html_join(
            "",
            '<div><input type="url" name="{}" value="{}" class="vURLField" placeholder="https://shop.example"'
            ' aria-label="{} {}"></div>',
            ((name, row, _("Origin"), number) for number, row in enumerate(rows, 1)),
        )
        return format_html('<div class="parley-origin-rows">{}</div>', inputs)


def _json_rows(row: str) -> list[str]:
    """A row as typed; a JSON list (the old text box's format, still posted by scripts) counts as its items."""
    text = str(row).strip()
    if text.startswith("["):
        try:
            items = json.loads(text)
        except ValueError:
            return [text]
        if isinstance(items, list):
            return [str(item) for item in items]
    return [text] if text else []


def _port_error(parts) -> bool:
    """The origin names a port that is not one (not a number, out of range, or empty after its colon)."""
    try:
        port = parts.port
    except ValueError:
        return True
    return parts.netloc.endswith(":") or (port is not None and not 1 <= port <= 65535)


def origin_error(row: str) -> str | None:
    """Why a row is not an origin (scheme://host[:port]), or None when it is one."""
    parts = urlsplit(row)
    if parts.scheme not in ("http", "https"):
        return _("%(row)s: an origin starts with http:// or https://.") % {"row": row}
    if _port_error(parts):
        return _("%(row)s: the port is not a number from 1 to 65535.") % {"row": row}
    if not parts.hostname or "@" in parts.netloc or " " in parts.netloc:
        return _("%(row)s: write a host name after the scheme, e.g. https://shop.example.") % {"row": row}
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        return _("%(row)s: an origin has no path, query or fragment; write only scheme://host[:port].") % {"row": row}
    return None


def origin_normalized(row: str) -> str:
    """scheme://host[:port] in lower case, as origins.normalize_origin compares them."""
    parts = urlsplit(row.lower())
    return f"{parts.scheme}://{parts.netloc}"


class OriginListField(forms.Field):
    """A list of http(s) origins; each bad row gets its own message, duplicates are dropped."""

    widget = OriginRowsWidget

    def to_python(self, value) -> list[str]:
        return [str(row).strip() for row in (value or []) if str(row).strip()]

    def validate(self, value: list[str]) -> None:
        super().validate(value)
        errors = [error for error in map(origin_error, value) if error]
        if errors:
            raise forms.ValidationError(errors)

    def clean(self, value) -> list[str]:
        rows = super().clean(value)
        return list(dict.fromkeys(origin_normalized(row) for row in rows))

    def has_changed(self, initial, data) -> bool:
        return self.to_python(initial) != self.to_python(data)


# ---- business hours -------------------------------------------------------------------


def hours_rows(value, *, strict: bool = False) -> dict[int, list[list[str]]]:
    """Weekday → [[open, close], …] as text, from the stored JSON; unreadable days are empty (or raise, if strict)."""
    if not isinstance(value, dict):
        if strict:
            raise BadHours("business hours must be an object keyed by weekday")
        return {}
    rows: dict[int, list[list[str]]] = {}
    for key, day in value.items():
        try:
            parsed = parse_hours({str(key): day})
        except BadHours:
            if strict:
                raise
            continue
        # A time picker has no 24:00: the end of the day shows as 00:00, which the form reads back as midnight.
        rows[int(key)] = [[_clock(start), _clock(end % MINUTES_PER_DAY)] for start, end in parsed[int(key)]]
    return rows


def _clock(minutes: int) -> str:
    """ "HH:MM" of minutes since midnight."""
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _minutes(clock: str) -> int:
    """Minutes since midnight of a time input's "HH:MM" (or "HH:MM:SS")."""
    hours, minutes = (int(part) for part in clock.split(":")[:2])
    if not (0 <= hours <= 23 and 0 <= minutes <= 59):
        raise ValueError(clock)
    return hours * 60 + minutes


class WeeklyHoursWidget(forms.Widget):
    """A row per weekday with a few open–close pairs of time pickers; a day with no pair is closed."""

    def value_from_datadict(self, data, files, name) -> dict[str, list[list[str]]]:
        if not any(key.startswith(f"{name}_") for key in data) and data.get(name):
            return _json_week(data[name])  # the old JSON text box's format, still posted by scripts
        week = {}
        for day in range(7):
            pairs = []
            for slot in range(MAX_PAIRS_PER_DAY):
                start = (data.get(f"{name}_{day}_{slot}_open") or "").strip()
                end = (data.get(f"{name}_{day}_{slot}_close") or "").strip()
                if start or end:
                    pairs.append([start, end])
            if pairs:
                week[str(day)] = pairs
        return week

    def _submitted(self, value) -> dict[int, list[list[str]]]:
        """The table's rows from the stored JSON or what was just submitted; a day that does not parse stays as typed."""
        if not isinstance(value, dict):
            return {}
        week = {}
        for key, day in value.items():
            readable = hours_rows({key: day})
            if readable:
                week.update(readable)
            elif str(key).isdigit() and isinstance(day, list):
                week[int(key)] = [pair for pair in day if isinstance(pair, list) and len(pair) == 2]
        return week

    def render(self, name, value, attrs=None, renderer=None) -> str:
        week = self._submitted(value)
        rows = format_html_join("", "{}", ((self._day_row(name, day, week.get(day, [])),) for day in range(7)))
        head = format_html(
            "<thead><tr><th scope='col'>{}</th><th scope='col' colspan='{}'>{}</th></tr></thead>",
            _("Day"),
            HOUR_PAIRS_PER_DAY,
            _("Open – close (leave empty for closed)"),
        )
        return format_html(
            '<div class="parley-hours-wrap"><table class="parley-hours">{}<tbody>{}</tbody></table></div>', head, rows
        )

    def _day_row(self, name: str, day: int, pairs: list[list[str]]) -> str:
        # Never fewer slots than saved pairs: a pair left out of the table would be dropped on the next save.
        slots = [*pairs, *[["", ""]] * HOUR_PAIRS_PER_DAY][: max(HOUR_PAIRS_PER_DAY, len(pairs))]
        cells = format_html_join(
            "",
            '<td><input type="time" name="{0}_{1}_{2}_open" value="{3}" aria-label="{5} {6} {7}"> – '
            '<input type="time" name="{0}_{1}_{2}_close" value="{4}" aria-label="{5} {6} {8}"></td>',
            (
                (name, day, slot, start, end, WEEKDAYS[day], slot + 1, _("opens"), _("closes"))
                for slot, (start, end) in enumerate(slots)
            ),
        )
        return format_html("<tr><th scope='row'>{}</th>{}</tr>", WEEKDAYS[day], cells)


def _json_week(text: str) -> dict | str:
    """Posted JSON hours as the table's rows; text that is not hours is kept as text, for the field to refuse."""
    try:
        return {str(day): pairs for day, pairs in hours_rows(json.loads(text), strict=True).items()}
    except (ValueError, BadHours):
        return text


def day_ranges(day: int, pairs: list[list[str]]) -> tuple[list[tuple[int, int]], list[tuple[int, int]], list[str]]:
    """One day's pairs in minutes, the part of an overnight pair that falls on the next day, and what is wrong.

    "00:00" as a close is midnight (stored "24:00"); a close before the opening runs past midnight:
    22:00–02:00 on Friday is Friday 22:00–24:00 and Saturday 00:00–02:00.
    """
    errors, ranges, spill = [], [], []
    for start, end in pairs:
        if not start or not end:
            errors.append(_("%(day)s: give both an opening and a closing time.") % {"day": WEEKDAYS[day]})
            continue
        try:
            opens, closes = _minutes(start), _minutes(end)
        except ValueError:
            errors.append(
                _("%(day)s: %(start)s–%(end)s is not a time.") % {"day": WEEKDAYS[day], "start": start, "end": end}
            )
            continue
        closes = closes or MINUTES_PER_DAY  # a close at 00:00 is the end of the day
        if closes == opens:
            errors.append(
                _("%(day)s: %(start)s–%(end)s opens and closes at the same time.")
                % {"day": WEEKDAYS[day], "start": start, "end": end}
            )
            continue
        if closes < opens:
            ranges.append((opens, MINUTES_PER_DAY))
            spill.append((0, closes))
        else:
            ranges.append((opens, closes))
    return ranges, spill, errors


def _overlaps(day: int, ranges: list[tuple[int, int]]) -> list[str]:
    """A day's ranges (sorted) that overlap, as errors."""
    return [
        _("%(day)s: %(a)s and %(b)s overlap.")
        % {
            "day": WEEKDAYS[day],
            "a": f"{_clock(start_a)}–{_clock(end_a)}",
            "b": f"{_clock(start_b)}–{_clock(end_b)}",
        }
        for (start_a, end_a), (start_b, end_b) in zip(ranges, ranges[1:], strict=False)
        if start_b < end_a
    ]


class WeeklyHoursField(forms.Field):
    """Weekday → open–close pairs, stored as {"<weekday>": [["HH:MM", "HH:MM"], …]}; a closed day is left out."""

    widget = WeeklyHoursWidget

    def clean(self, value) -> dict[str, list[list[str]]]:
        if isinstance(value, str):
            raise forms.ValidationError(
                _('Business hours are a weekday table, or JSON like {"0": [["09:00", "17:00"]]}.')
            )
        days: dict[int, list[tuple[int, int]]] = {day: [] for day in range(7)}
        errors = []
        for key, pairs in sorted((value or {}).items()):
            ranges, spill, day_errors = day_ranges(int(key), pairs)
            errors += day_errors
            days[int(key)] += ranges
            days[(int(key) + 1) % 7] += spill  # after midnight is the next day's (Sunday's runs into Monday)
        week = {}
        for day, ranges in days.items():
            ranges.sort()
            errors += _overlaps(day, ranges)
            if ranges:
                week[str(day)] = [[_clock(start), _clock(end)] for start, end in ranges]
        if errors:
            raise forms.ValidationError(errors)
        return week

    def has_changed(self, initial, data) -> bool:
        return hours_rows(initial) != hours_rows(data)


def time_zone_choices() -> list[tuple[str, str]]:
    """Every IANA zone this server knows, sorted."""
    return [(zone, zone) for zone in sorted(zoneinfo.available_timezones())]


class SiteForm(forms.ModelForm):
    """The site, with origins as rows of URL fields and business hours as a weekly table."""

    allowed_origins = OriginListField(
        required=False,
        label=gettext_lazy("Allowed origins"),
        help_text=gettext_lazy(
            "Pages on these origins may embed the widget: scheme, host and port only, e.g. https://shop.example. "
            "Empty rows are ignored."
        ),
    )
    business_hours = WeeklyHoursField(
        required=False,
        label=gettext_lazy("Business hours"),
        help_text=gettext_lazy(
            "In the site's time zone. A day with no hours is closed; leave every day empty to be open around the "
            "clock. Hours past midnight may close before they open: 22:00–02:00 runs into the next day."
        ),
    )
    time_zone = forms.TypedChoiceField(choices=time_zone_choices, initial="UTC", label=gettext_lazy("Time zone"))

    class Meta:
        model = Site
        fields = "__all__"


# ---- one-step agent creation ----------------------------------------------------------


def _username_field() -> forms.Field:
    """The user model's own username field, with its validators and length."""
    User = get_user_model()
    return User._meta.get_field(User.USERNAME_FIELD).formfield()


class AgentInviteForm(forms.ModelForm):
    """A new agent: the user and the agent profile in one form; the user sets a password from an emailed link."""

    name = forms.CharField(max_length=150, label=gettext_lazy("Name"))
    email = forms.EmailField(label=gettext_lazy("Email"), help_text=gettext_lazy("The invitation is sent here."))
    username = _username_field()
    is_staff = forms.BooleanField(
        required=False,
        label=gettext_lazy("Staff"),
        help_text=gettext_lazy("Staff serve every site and may sign in to this back office."),
    )

    class Meta:
        model = AgentProfile
        fields = ["sites", "max_concurrent", "email_when_offline", "language"]

    def clean_username(self) -> str:
        username = self.cleaned_data["username"]
        User = get_user_model()
        if User.objects.filter(**{f"{User.USERNAME_FIELD}__iexact": username}).exists():
            raise forms.ValidationError(_("A user with that username already exists."))
        return username

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip()
        if get_user_model().objects.filter(email__iexact=email).exists():
            raise forms.ValidationError(_("A user with that email already exists."))
        return email

    def create_user(self):
        """The new user: no usable password until they follow the invitation."""
        first, _space, last = self.cleaned_data["name"].strip().partition(" ")
        user = get_user_model()(
            username=self.cleaned_data["username"],
            email=self.cleaned_data["email"],
            first_name=first,
            last_name=last.strip(),
            is_staff=self.cleaned_data["is_staff"],
        )
        user.set_unusable_password()
        user.save()
        return user
