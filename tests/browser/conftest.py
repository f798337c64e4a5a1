"""Real headless Chromium (Debian's package, driven by Playwright) against a live Daphne on loopback."""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import pytest

from tests.browser.desk_drivers import Customer, Desk
from tests.integration.processes import embedded_env, manage, start_daphne
from tests.services import need

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class LiveServer:
    """A running Daphne with the demo data, and how to reach it."""

    def __init__(self, process, port: int, env: dict):
        self.process = process
        self.port = port
        self.env = env
        self.url = f"http://127.0.0.1:{port}"

    def manage(self, *args: str) -> str:
        """Run a management command against the same database."""
        return manage(self.env, *args)


@pytest.fixture(scope="module")
def parley_server(tmp_path_factory, request):
    """Daphne serving the demo shop; AI settings may be overridden by a module's `parley_server_env` fixture."""
    # A module may define a module-scoped `parley_server_env` fixture returning extra environment.
    extra = request.getfixturevalue("parley_server_env") if hasattr(request.module, "parley_server_env") else {}
    tmp_dir = tmp_path_factory.mktemp(f"live-{uuid.uuid4().hex[:6]}")
    env = embedded_env(tmp_dir, **{"AI_TYPING_CPS": "80", **extra})
    manage(env, "migrate", "--noinput")
    process, port = start_daphne(env, "daphne-live")
    env["PORT"] = str(port)
    manage(
        env, "seed_demo", "--open-all-hours"
    )  # allows http://127.0.0.1:<port>, so the demo page may embed the widget
    yield LiveServer(process, port, env)
    process.stop()


@pytest.fixture(scope="module")
def browser():
    """Headless Debian Chromium; skipped without it (failed under REQUIRE_SERVICES=1)."""
    need(Path(CHROMIUM).exists(), f"Chromium not found at {CHROMIUM} (apt install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def artifacts() -> Path:
    """Where browser tests save screenshots."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="module")
def desk(parley_server, browser):
    """The demo agent signed in with the desk open, for the whole module; no uncaught script error meanwhile."""
    desk = Desk(browser, parley_server.url)
    yield desk
    assert desk.errors == []
    desk.close()


@pytest.fixture
def customer(parley_server, browser):
    """A customer on the demo shop with the widget open."""
    customer = Customer(browser, parley_server.url)
    yield customer
    customer.close()
