"""The back office's forms: origins as validated rows, business hours as a weekly table, one-step agent creation with
an emailed set-password link, live presence on the agent page, and the embed snippet's copy button."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.forms.models import model_to_dict
from django.utils import timezone

from chat.business_hours import is_open, parse_hours
from chat.models import AgentConnection, AgentProfile, Site
from chat.transports.task_runner import run_due_tasks
from tests.conftest import make_agent, make_site

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop():
    return make_site("Shop", business_hours={}, time_zone="UTC")


def site_data(site: Site, *, origins=(), hours=None, **fields) -> dict:
    """What the admin's site page posts: the model's fields, origin rows and the weekly table's time pickers."""
    data = {
        key: value
        for key, value in model_to_dict(site).items()
        if value is not None and key not in ("allowed_origins", "business_hours")
    }
    data.update(fields)
    data["allowed_origins"] = list(origins)
    for day, pairs in (hours or {}).items():
        for slot, (start, end) in enumerate(pairs):
            data[f"business_hours_{day}_{slot}_open"] = start
            data[f"business_hours_{day}_{slot}_close"] = end
    data.setdefault("business_hours_0_0_open", "")  # a browser always posts the table's (empty) inputs
    return data


def post_site(client, site: Site, **parts):
    return client.post(f"/admin/chat/site/{site.pk}/change/", site_data(site, **parts))


# ---- allowed origins --------------------------------------------------------------------


def test_site_page_shows_origins_as_url_rows_and_hours_as_a_table(admin_client, shop):
    content = admin_client.get(f"/admin/chat/site/{shop.pk}/change/").content.decode()
    assert 'type="url" name="allowed_origins" value="https://shop.example"' in content
    assert 'type="time" name="business_hours_6_0_open"' in content
    assert '<option value="Europe/Paris">' in content  # the time-zone picker


def test_bad_origins_are_refused_row_by_row_and_nothing_is_saved(admin_client, shop):
    response = post_site(
        admin_client,
        shop,
        origins=["https://ok.example", "ftp://files.example", "https://shop.example/cart", "https://x.example:99999"],
        name="Renamed",
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["allowed_origins"]
    assert any("ftp://files.example: an origin starts with http:// or https://" in error for error in errors)
    assert any("https://shop.example/cart: an origin has no path" in error for error in errors)
    assert any("https://x.example:99999: the port is not a number" in error for error in errors)
    assert not any("ok.example" in error for error in errors)
    shop.refresh_from_db()
    assert shop.name == "Shop" and shop.allowed_origins == ["https://shop.example"]


def test_good_origins_are_stored_as_the_same_json_list(admin_client, shop):
    rows = ["https://Shop.Example", "http://localhost:8000/", "https://shop.example", ""]
    response = post_site(admin_client, shop, origins=rows)
    assert response.status_code == 302
    shop.refresh_from_db()
    assert shop.allowed_origins == ["https://shop.example", "http://localhost:8000"]  # normalized, deduplicated


# ---- business hours ---------------------------------------------------------------------


def test_overlapping_hours_are_refused(admin_client, shop):
    response = post_site(admin_client, shop, hours={0: [("09:00", "12:00"), ("11:30", "17:00")]})
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["business_hours"]
    assert errors == ["Monday: 09:00–12:00 and 11:30–17:00 overlap."]
    shop.refresh_from_db()
    assert shop.business_hours == {}


def test_empty_and_half_filled_hours_are_refused(admin_client, shop):
    response = post_site(admin_client, shop, hours={2: [("09:00", "09:00")], 4: [("09:00", "")]})
    errors = response.context["adminform"].form.errors["business_hours"]
    assert "Wednesday: 09:00–09:00 opens and closes at the same time." in errors
    assert "Friday: give both an opening and a closing time." in errors
    shop.refresh_from_db()
    assert shop.business_hours == {}


def test_hours_past_midnight_run_into_the_next_day(admin_client, shop):
    # A bar's week: Friday night into Saturday, Saturday night into Sunday, Sunday night into Monday.
    week = {4: [("18:00", "02:00")], 5: [("18:00", "03:30")], 6: [("20:00", "01:00")], 0: [("09:00", "17:00")]}
    response = post_site(admin_client, shop, hours=week)
    assert response.status_code == 302, response.context["adminform"].form.errors
    shop.refresh_from_db()
    assert shop.business_hours == {
        "0": [["00:00", "01:00"], ["09:00", "17:00"]],
        "4": [["18:00", "24:00"]],
        "5": [["00:00", "02:00"], ["18:00", "24:00"]],
        "6": [["00:00", "03:30"], ["20:00", "24:00"]],
    }


def test_a_night_that_runs_into_the_next_days_hours_is_an_overlap(admin_client, shop):
    response = post_site(admin_client, shop, hours={1: [("20:00", "10:00")], 2: [("09:00", "17:00")]})
    errors = response.context["adminform"].form.errors["business_hours"]
    assert errors == ["Wednesday: 00:00–10:00 and 09:00–17:00 overlap."]


def test_a_weekly_table_round_trips_into_the_json_business_hours_reads(admin_client, shop):
    week = {0: [("09:00", "12:00"), ("13:00", "17:30")], 4: [("10:00", "00:00")]}
    response = post_site(admin_client, shop, hours=week, time_zone="Europe/Paris")
    assert response.status_code == 302, response.context["adminform"].form.errors
    shop.refresh_from_db()
    assert shop.time_zone == "Europe/Paris"
    assert parse_hours(shop.business_hours) == {0: [(540, 720), (780, 1050)], 4: [(600, 1440)]}

    def at(day: int, clock: str) -> datetime:  # Paris wall-clock time in the week of Monday 2026-11-30
        hours, minutes = map(int, clock.split(":"))
        return datetime(2026, 11, 30, tzinfo=ZoneInfo("Europe/Paris")) + timedelta(
            days=day, hours=hours, minutes=minutes
        )

    assert is_open(shop.business_hours, shop.time_zone, at(0, "09:30"))
    assert not is_open(shop.business_hours, shop.time_zone, at(0, "12:30"))  # the lunch break
    assert is_open(shop.business_hours, shop.time_zone, at(4, "23:59"))  # Friday closes at midnight
    assert not is_open(shop.business_hours, shop.time_zone, at(1, "10:00"))  # Tuesday is closed

    content = admin_client.get(f"/admin/chat/site/{shop.pk}/change/").content.decode()
    assert 'name="business_hours_0_1_close" value="17:30"' in content
    assert 'name="business_hours_4_0_close" value="00:00"' in content  # the stored 24:00, as a time picker shows it


def test_an_unknown_time_zone_is_refused(admin_client, shop):
    response = post_site(admin_client, shop, time_zone="Mars/Olympus")
    assert "time_zone" in response.context["adminform"].form.errors


# ---- the embed snippet ------------------------------------------------------------------


def test_the_embed_snippet_has_a_copy_button_from_a_static_script(admin_client, shop):
    content = admin_client.get(f"/admin/chat/site/{shop.pk}/change/").content.decode()
    assert 'data-copy-target="embed-snippet"' in content
    assert re.search(r'<script src="/static/admin-parley/site\.js[^"]*" defer>', content)
    assert "Paste this before &lt;/body&gt; on every page" in content


# ---- one-step agent creation ------------------------------------------------------------


@pytest.mark.django_db(transaction=True)  # the task worker runs in its own transactions, as in production
def test_add_agent_creates_user_profile_and_sites_and_emails_a_working_set_password_link(
    admin_client, client, shop, settings
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    other = make_site("Other")
    response = admin_client.post(
        "/admin/chat/agentprofile/add/",
        {
            "name": "Robin Lee",
            "email": "robin@example.com",
            "username": "robin",
            "sites": [shop.pk, other.pk],
            "max_concurrent": 4,
            "email_when_offline": "on",
        },
        follow=True,
    )
    assert response.status_code == 200
    user = get_user_model().objects.get(username="robin")
    assert (user.first_name, user.last_name, user.email, user.is_staff) == ("Robin", "Lee", "robin@example.com", False)
    assert not user.has_usable_password()
    profile = AgentProfile.objects.get(user=user)
    assert set(profile.sites.all()) == {shop, other} and profile.max_concurrent == 4
    shown = [str(message) for message in response.context["messages"]]
    assert any("robin@example.com" in text and "/email/invite/" in text for text in shown)  # for an admin to pass on

    assert mail.outbox == []  # queued, not sent in the request
    assert run_due_tasks() == 1
    (invitation,) = mail.outbox
    assert invitation.to == ["robin@example.com"] and "robin" in invitation.body
    link = re.search(r"https?://\S+/email/invite/\S+/", invitation.body)[0]
    assert link in invitation.alternatives[0][0]

    form_page = client.get(link, follow=True)
    assert form_page.status_code == 200 and form_page.context["validlink"]
    password = "A-long-new-passphrase-42"
    done = client.post(
        form_page.redirect_chain[-1][0], {"new_password1": password, "new_password2": password}, follow=True
    )
    assert done.status_code == 200 and "Your password is set" in done.content.decode()
    assert client.login(username="robin", password=password)
    assert not client.get(link, follow=True).context["validlink"]  # the link works once


def test_the_invitation_is_written_in_the_language_chosen_for_the_desk(shop, settings):
    from chat.tasks.invitations import email_invitation

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    user = make_agent("mei", shop)
    user.email = "mei@example.com"
    user.set_unusable_password()
    user.save()
    AgentProfile.objects.filter(user=user).update(language="zh-hans")
    assert email_invitation.call(user.pk) == {"sent": 1}
    (invitation,) = mail.outbox
    assert invitation.subject == "邀请您在 Parley 上回复聊天"
    assert "在这里设置您的密码" in invitation.body


def test_add_agent_refuses_a_taken_username_or_email(admin_client, shop):
    make_agent("sam", shop).__class__.objects.filter(username="sam").update(email="sam@example.com")
    response = admin_client.post(
        "/admin/chat/agentprofile/add/",
        {"name": "Sam Two", "email": "SAM@example.com", "username": "Sam", "max_concurrent": 5},
    )
    errors = response.context["adminform"].form.errors
    assert "username" in errors and "email" in errors
    assert get_user_model().objects.count() == 2  # the admin and the first sam


def test_a_staff_agent_is_created_staff(admin_client, settings, django_capture_on_commit_callbacks):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(
            "/admin/chat/agentprofile/add/",
            {"name": "Kim", "email": "kim@example.com", "username": "kim", "is_staff": "on", "max_concurrent": 5},
        )
    assert get_user_model().objects.get(username="kim").is_staff


# ---- live presence ----------------------------------------------------------------------


def test_the_agent_page_shows_offline_without_an_open_desk_whatever_the_chosen_status(admin_client, shop):
    sam = make_agent("sam", shop)
    profile = AgentProfile.objects.get(user=sam)
    assert profile.status == AgentProfile.Status.ONLINE  # chosen, but no desk is open
    content = admin_client.get(f"/admin/chat/agentprofile/{profile.pk}/change/").content.decode()
    assert re.search(r"Presence now:</label>\s*<div class=\"readonly\">Offline</div>", content)


def test_the_agent_page_shows_online_with_a_fresh_desk_socket(admin_client, shop):
    sam = make_agent("sam", shop)
    AgentConnection.objects.create(user=sam, channel_name="desk.1", last_seen=timezone.now())
    profile = AgentProfile.objects.get(user=sam)
    content = admin_client.get(f"/admin/chat/agentprofile/{profile.pk}/change/").content.decode()
    assert re.search(r"Presence now:</label>\s*<div class=\"readonly\">Online</div>", content)
    listing = admin_client.get("/admin/chat/agentprofile/").content.decode()
    assert "field-presence" in listing


def test_the_add_agent_page_asks_for_the_user_and_the_profile_at_once(admin_client, shop):
    content = admin_client.get("/admin/chat/agentprofile/add/").content.decode()
    for field in ("name", "email", "username", "is_staff", "sites"):
        assert f'name="{field}"' in content
    assert 'name="user"' not in content


def test_a_time_that_is_not_one_is_refused(admin_client, shop):
    response = post_site(admin_client, shop, hours={6: [("25:00", "26:00")]})
    assert "Sunday: 25:00–26:00 is not a time." in response.context["adminform"].form.errors["business_hours"]


def test_hours_posted_as_json_by_a_script_are_read_too(admin_client, shop):
    table = site_data(shop, origins=['["https://a.example", "https://b.example"]'])
    data = {key: value for key, value in table.items() if not key.startswith("business_hours_")}
    data["business_hours"] = "[1]"
    response = admin_client.post(f"/admin/chat/site/{shop.pk}/change/", data)
    assert "weekday table, or JSON" in response.context["adminform"].form.errors["business_hours"][0]
    data["business_hours"] = '{"2": ["08:00", "16:00"]}'
    assert admin_client.post(f"/admin/chat/site/{shop.pk}/change/", data).status_code == 302
    shop.refresh_from_db()
    assert shop.business_hours == {"2": [["08:00", "16:00"]]}
    assert shop.allowed_origins == ["https://a.example", "https://b.example"]
