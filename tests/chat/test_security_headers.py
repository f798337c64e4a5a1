"""Headers a browser acts on: the desk's Content-Security-Policy, the desk socket's Origin check (scheme, host and
port), and the self-check page showing request headers as data. Through the real ASGI application."""

import json
import re

import pytest
from channels.db import database_sync_to_async
from channels.testing import HttpCommunicator
from django.http import HttpResponse
from django.test import RequestFactory

from chat.security.headers import DeskContentSecurityPolicyMiddleware
from chat.security.origins import same_origin
from tests.conftest import (
    CheckedCommunicator,
    application,
    close_code,
    login_cookie,
    make_agent,
    receive_until,
)

pytestmark = pytest.mark.django_db(transaction=True)


async def get(path: str, *, user=None, headers: tuple = ()) -> tuple[int, dict[str, str], bytes]:
    """GET through the application, signed in as `user`; return (status, headers by lower-case name, body)."""
    sent = [(b"host", b"testserver"), *headers]
    if user is not None:
        sent.append((b"cookie", (await database_sync_to_async(login_cookie)(user)).encode()))
    communicator = HttpCommunicator(application(), "GET", path, headers=sent)
    response = await communicator.get_response(timeout=5)
    await communicator.wait(timeout=5)
    answer_headers = {name.decode().lower(): value.decode("latin-1") for name, value in response["headers"]}
    return response["status"], answer_headers, response["body"]


# --- finding 11: the desk's Content-Security-Policy ----------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "who"),
    [
        ("/agent/", "agent"),
        ("/agent/reports/", "agent"),
        ("/agent/api/counts", "agent"),
        ("/agent/", None),  # the redirect to the sign-in page, too
        ("/accounts/login/", None),
        ("/admin/login/", None),
        ("/admin/", "admin"),
        ("/admin/chat/site/", "admin"),
    ],
)
async def test_the_desk_the_sign_in_page_and_the_admin_carry_the_desk_csp(site, settings, path, who):
    user = {"agent": lambda: make_agent("sam", site), "admin": lambda: make_agent("root", staff=True)}.get(who)
    if user is not None:
        user = await database_sync_to_async(user)()
        if who == "admin":
            user.is_superuser = True
            await database_sync_to_async(user.save)()
    status, headers, _ = await get(path, user=user)
    assert status in (200, 302), (path, status)
    assert headers.get("content-security-policy") == settings.PARLEY_DESK_CSP


async def test_the_desk_csp_allows_no_inline_script(settings):
    policy = {
        directive.split()[0]: directive.split()[1:] for directive in settings.PARLEY_DESK_CSP.split(";") if directive
    }
    assert policy["script-src"] == ["'self'"] and policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]


async def test_pages_outside_the_desk_keep_their_own_policy_or_none(site, settings):
    _, frame, _ = await get(f"/widget/{site.key}/")
    assert "frame-ancestors https://shop.example 'self'" in frame["content-security-policy"]
    _, health, _ = await get("/healthz")
    assert "content-security-policy" not in health


async def test_an_empty_desk_csp_setting_sets_no_header(site, settings):
    settings.PARLEY_DESK_CSP = ""
    _, headers, _ = await get("/accounts/login/")
    assert "content-security-policy" not in headers


def test_a_desk_view_that_sets_its_own_policy_keeps_it(settings):
    def view(request):
        response = HttpResponse("ok")
        response["Content-Security-Policy"] = "default-src 'none'"
        return response

    middleware = DeskContentSecurityPolicyMiddleware(view)
    assert middleware(RequestFactory().get("/agent/special"))["Content-Security-Policy"] == "default-src 'none'"
    plain = DeskContentSecurityPolicyMiddleware(lambda request: HttpResponse("ok"))
    assert plain(RequestFactory().get("/agent/special"))["Content-Security-Policy"] == settings.PARLEY_DESK_CSP
    assert "Content-Security-Policy" not in plain(RequestFactory().get("/agentx/"))


# --- finding 9: the desk socket's Origin check compares scheme, host and port --------------------------------


async def desk_socket(user, origin: str, *, scheme: str | None = None, headers: tuple = ()):
    """Open /ws/agent/ as `user` from a page of `origin`, the scope saying `scheme` (absent: Daphne's ws)."""
    cookie = await database_sync_to_async(login_cookie)(user)
    sent = [(b"origin", origin.encode()), (b"host", b"testserver"), (b"cookie", cookie.encode()), *headers]
    communicator = CheckedCommunicator(application(), "/ws/agent/", headers=sent)
    if scheme is not None:
        communicator.scope["scheme"] = scheme
    connected, _ = await communicator.connect()
    assert connected
    return communicator


async def assert_refused(communicator) -> None:
    assert await close_code(communicator) == 4403


async def assert_welcomed(communicator) -> None:
    await receive_until(communicator, "welcome")
    await communicator.disconnect()


async def test_the_desk_socket_refuses_an_https_origin_on_an_http_host(agent):
    await assert_refused(await desk_socket(agent, "https://testserver"))


async def test_the_desk_socket_refuses_an_http_origin_on_a_secure_socket(agent):
    await assert_refused(await desk_socket(agent, "http://testserver", scheme="wss"))
    await assert_welcomed(await desk_socket(agent, "https://testserver", scheme="wss"))


async def test_the_desk_socket_refuses_another_port(agent):
    await assert_refused(await desk_socket(agent, "http://testserver:8080"))


async def test_behind_a_tls_proxy_the_forwarded_scheme_decides(agent, settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    over_tls = ((b"x-forwarded-proto", b"https"),)
    await assert_welcomed(await desk_socket(agent, "https://testserver", headers=over_tls))
    await assert_refused(await desk_socket(agent, "http://testserver", headers=over_tls))
    plain = ((b"x-forwarded-proto", b"http"),)
    await assert_refused(await desk_socket(agent, "https://testserver", headers=plain))


async def test_a_forwarded_scheme_is_not_trusted_unless_configured(agent, settings):
    settings.SECURE_PROXY_SSL_HEADER = None
    await assert_refused(await desk_socket(agent, "https://testserver", headers=((b"x-forwarded-proto", b"https"),)))


@pytest.mark.parametrize(
    ("origin", "scheme", "host", "same"),
    [
        ("http://testserver", "http", "testserver", True),
        ("HTTP://TestServer", "http", "testserver", True),
        ("http://testserver:80", "http", "testserver", True),
        ("https://testserver", "https", "testserver:443", True),
        ("http://[::1]:8000", "http", "[::1]:8000", True),
        ("https://testserver", "http", "testserver", False),
        ("http://testserver", "https", "testserver", False),
        ("http://testserver:8000", "http", "testserver", False),
        ("http://testserver", "http", "testserver:8000", False),
        ("http://other", "http", "testserver", False),
        ("http://testserver/path", "http", "testserver", False),
        ("http://user@testserver", "http", "testserver", False),
        ("http://testserver:99999", "http", "testserver", False),
        ("null", "http", "testserver", False),
        ("", "http", "testserver", False),
        ("http://testserver", "http", "", False),
    ],
)
def test_same_origin_compares_scheme_host_and_port(origin, scheme, host, same):
    assert same_origin(origin, scheme=scheme, host=host) is same


# --- finding 8: /selfcheck/ shows request headers as data -------------------------------------------------


SCRIPT_IN_A_HEADER = '</script><script>document.title="owned"</script><!--'


async def test_selfcheck_shows_a_forwarded_header_as_data_not_markup(transactional_db):
    boss = await database_sync_to_async(make_agent)("boss", staff=True)
    status, headers, body = await get(
        "/selfcheck/", user=boss, headers=((b"x-forwarded-for", SCRIPT_IN_A_HEADER.encode()),)
    )
    page = body.decode()
    assert status == 200
    assert "<script>document.title" not in page and "</script><script>" not in page
    data = re.search(r'<script id="seen" type="application/json">(.*?)</script>', page, re.S)
    assert json.loads(data.group(1))["forwarded_for"] == SCRIPT_IN_A_HEADER


async def test_selfcheck_runs_only_its_own_script(transactional_db):
    boss = await database_sync_to_async(make_agent)("boss", staff=True)
    _, headers, body = await get("/selfcheck/", user=boss)
    nonce = re.search(r"script-src 'nonce-([^']+)'", headers["content-security-policy"]).group(1)
    executable = re.findall(r"<script(?![^>]*application/json)([^>]*)>", body.decode())
    assert executable == [f' type="module" nonce="{nonce}"']
