"""Render a follow-up email as Parley sends it and screenshot it: docs/img/email.png.

    DEBUG=1 .venv/bin/python docs/img/render_email.py

Builds the email with the code that sends it (chat.tasks.mail.build, templates/email/), from
unsaved demo objects (no database), and shows its HTML under its headers in headless Chromium.
"""

from __future__ import annotations

import html
import os
import shutil
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatsite.settings")
os.environ.setdefault("DEBUG", "1")
os.environ.setdefault("DEFAULT_FROM_EMAIL", "Demo Shop <support@demo-shop.example>")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402

from chat.models import Message, Site  # noqa: E402
from chat.tasks import links, mail  # noqa: E402

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
OUT = Path(__file__).resolve().parent / "email.png"


def demo_email():
    """The follow-up Cleo gets when she closed the tab before Sam answered."""
    site = Site(name="Demo Shop", language="en")
    sam = get_user_model()(username="sam", first_name="Sam")
    at = datetime(2026, 11, 30, 9, 42, tzinfo=UTC)
    answers = [
        Message(author_kind="agent", author_agent=sam, created_at=at, body="Hi Cleo, I checked your order #1042."),
        Message(
            author_kind="agent",
            author_agent=sam,
            created_at=at.replace(minute=43),
            body="It left our warehouse this morning; tracking number PX-88213-DE.\nIt should reach you on Tuesday.",
        ),
    ]
    return mail.build(
        kind="followup",
        to="cleo@example.com",
        language="en",
        unsubscribe_url=links.unsubscribe_url(visitor_id=1, email="cleo@example.com"),
        values={"site": site.name},
        context={
            "site": site,
            "messages": mail.message_rows(answers, "en"),
            "open_url": links.open_url(visitor_id=1, conversation_id=7, version=0),
        },
    )


def page(message) -> str:
    """The email's HTML under its From/To/Subject, as a mail client would show it."""
    body = next(content for content, kind in message.alternatives if kind == "text/html")
    rows = "".join(
        f"<tr><th>{name}</th><td>{html.escape(value)}</td></tr>"
        for name, value in (("From", message.from_email), ("To", message.to[0]), ("Subject", message.subject))
    )
    return f"""<!doctype html><meta charset="utf-8"><style>
      body {{ margin: 0; background: #e9ebf1; font: 13px -apple-system, 'Segoe UI', Roboto, sans-serif; }}
      table.head {{ width: 100%; background: #fff; border-bottom: 1px solid #dde0e8; padding: 10px 16px; }}
      th {{ text-align: left; color: #7a8091; font-weight: 500; width: 70px; padding: 2px 0; }}
      iframe {{ display: block; width: 100%; height: 720px; border: 0; }}
    </style><table class="head">{rows}</table><iframe srcdoc="{html.escape(body)}"></iframe>"""


def main() -> None:
    from playwright.sync_api import sync_playwright

    message = demo_email()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "email.html"
        path.write_text(page(message), encoding="utf-8")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
            view = browser.new_page(viewport={"width": 640, "height": 800}, device_scale_factor=1)
            view.goto(path.as_uri())
            view.wait_for_timeout(300)  # the iframe's srcdoc lays out after load
            height = view.evaluate(
                "() => { const f = document.querySelector('iframe');"
                " const h = f.contentDocument.body.scrollHeight; f.style.height = h + 'px';"
                " return document.querySelector('table.head').offsetHeight + h; }"
            )
            view.set_viewport_size({"width": 640, "height": height})
            view.screenshot(path=str(OUT))
            browser.close()
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
