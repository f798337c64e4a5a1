"""Uploading and serving files (chat/views/attachments.py): every bad input refused with nothing stored, and a file
reaches only its customer and the agents of its site, through a signed link that expires."""

import io
import time

import pytest
from django.core import signing
from django.core.files.storage import InMemoryStorage
from django.test import Client
from PIL import Image

from chat.models import Attachment, Conversation, Message
from chat.security.file_links import SALT, file_link
from tests.conftest import make_agent, make_site, make_visitor, token_for

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    return tmp_path


def png(size=(40, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (10, 120, 200)).save(out, format="PNG")
    return out.getvalue()


PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def upload(client: Client, token: str | None, name: str, data: bytes):
    file = io.BytesIO(data)
    file.name = name
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    return client.post("/api/widget/attachments", {"file": file}, **headers)


def post_file(client: Client, path: str, name: str, data: bytes, **fields):
    file = io.BytesIO(data)
    file.name = name
    return client.post(path, {"file": file, **fields})


def stored_files(media) -> list:
    return [path for path in media.rglob("*") if path.is_file()]


def sent(attachment_id: int, *, internal: bool = False) -> Attachment:
    """Attach an upload to a message of its visitor's conversation, as sending it will."""
    attachment = Attachment.objects.get(pk=attachment_id)
    visitor = attachment.visitor or make_visitor(attachment.site)
    conversation = attachment.conversation or Conversation.objects.create(site=attachment.site, visitor=visitor)
    seq = Message.objects.filter(conversation=conversation).count() + 1
    message = Message.objects.create(
        conversation=conversation, seq=seq, author_kind="agent", body="", internal=internal
    )
    attachment.conversation, attachment.message = conversation, message
    attachment.save()
    return attachment


def test_a_customer_uploads_an_image_and_gets_links_to_it_and_its_thumbnail(site, visitor, media):
    response = upload(Client(), token_for(visitor), "parcel.png", png((800, 600)))
    assert response.status_code == 201, response.content
    body = response.json()["attachment"]
    assert (body["name"], body["type"], body["image"], body["width"], body["height"]) == (
        "parcel.png",
        "image/png",
        True,
        800,
        600,
    )
    image = Client().get(body["url"])
    assert image.status_code == 200 and image["Content-Type"] == "image/png"
    assert image["Content-Disposition"].startswith("inline")
    assert image["X-Content-Type-Options"] == "nosniff" and "sandbox" in image["Content-Security-Policy"]
    thumb = Client().get(body["thumbnail_url"])
    with Image.open(io.BytesIO(b"".join(thumb.streaming_content))) as small:
        assert max(small.size) == 320
    assert len(stored_files(media)) == 2  # the image and its thumbnail, under paths nobody can guess
    assert all(len(path.parent.name) == 32 for path in stored_files(media))


def test_a_pdf_is_only_ever_downloaded(site, visitor):
    body = upload(Client(), token_for(visitor), "invoice.pdf", PDF).json()["attachment"]
    assert body["image"] is False and "thumbnail_url" not in body
    response = Client().get(body["url"])
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="invoice.pdf"'


@pytest.mark.parametrize(
    ("name", "data", "status", "code"),
    [
        ("empty.png", b"", 400, "empty_file"),
        ("big.pdf", PDF + b"0" * 2000, 413, "too_large"),
        ("invoice.pdf", png(), 400, "type_mismatch"),
        (
            "drawing.svg",
            b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
            400,
            "type_not_allowed",
        ),
        ("page.html", b"<!doctype html><script>alert(1)</script>", 400, "type_not_allowed"),
        ("setup.exe", b"MZ\x90\x00" + b"\x00" * 60, 400, "type_not_allowed"),
        ("report.pdf", PDF + b"PK\x03\x04evil.jar", 400, "type_mismatch"),
    ],
    ids=["empty", "too-large", "disguised", "svg-script", "html", "exe", "polyglot"],
)
def test_a_bad_upload_is_refused_and_nothing_is_stored(settings, visitor, media, name, data, status, code):
    settings.PARLEY_ATTACHMENT_MAX_BYTES = 1500
    response = upload(Client(), token_for(visitor), name, data)
    assert (response.status_code, response.json()["error"]["code"]) == (status, code)
    assert Attachment.objects.count() == 0 and stored_files(media) == []


def test_an_upload_needs_a_visitor_token_and_one_file(visitor):
    assert upload(Client(), None, "a.png", png()).status_code == 401
    assert upload(Client(), "forged.token", "a.png", png()).status_code == 401
    response = Client().post("/api/widget/attachments", {}, HTTP_AUTHORIZATION=f"Bearer {token_for(visitor)}")
    assert (response.status_code, response.json()["error"]["code"]) == (400, "bad_request")
    assert Attachment.objects.count() == 0


def test_uploads_are_rate_limited_per_visitor(settings, visitor):
    settings.PARLEY_UPLOAD_RATE = (2, 3600)
    token = token_for(visitor)
    assert [upload(Client(), token, "a.png", png()).status_code for _ in range(3)] == [201, 201, 429]


def test_another_visitor_cannot_open_a_customers_file_even_with_a_link_made_for_them(site, visitor):
    body = upload(Client(), token_for(visitor), "parcel.png", png()).json()["attachment"]
    stranger = make_visitor(site)
    forged = file_link(body["id"], visitor_id=stranger.pk)  # a valid signature, for the wrong customer
    assert Client().get(forged).status_code == 404
    tampered = body["url"].replace(body["url"].split("/")[-2], body["url"].split("/")[-2][:-2] + "xx")
    assert Client().get(tampered).status_code == 404


def test_a_link_expires(settings, visitor, monkeypatch):
    body = upload(Client(), token_for(visitor), "parcel.png", png()).json()["attachment"]
    settings.PARLEY_ATTACHMENT_LINK_MAX_AGE = 60
    later = time.time() + 61
    monkeypatch.setattr(signing.time, "time", lambda: later)
    response = Client().get(body["url"])
    assert (response.status_code, response.json()["error"]["code"]) == (404, "not_found")


def test_agents_links_need_a_desk_session_of_the_files_site(site, visitor):
    body = upload(Client(), token_for(visitor), "parcel.png", png()).json()["attachment"]
    agents_link = file_link(body["id"], visitor_id=None)
    assert Client().get(agents_link).status_code == 404  # no session: a leaked agents' link is worth nothing
    outsider = Client()
    outsider.force_login(make_agent("outsider", make_site("Elsewhere")))
    assert outsider.get(agents_link).status_code == 404
    insider = Client()
    insider.force_login(make_agent("insider", site))
    assert insider.get(agents_link).status_code == 200


def test_an_agent_uploads_for_a_conversation_of_their_site_only(site, visitor, media):
    conversation = Conversation.objects.create(site=site, visitor=visitor)
    agent = Client(enforce_csrf_checks=False)
    agent.force_login(make_agent("sam", site))
    response = post_file(agent, "/agent/api/attachments", "label.pdf", PDF, conversation=conversation.pk)
    assert response.status_code == 201, response.content
    attachment = Attachment.objects.get(pk=response.json()["attachment"]["id"])
    assert (attachment.conversation_id, attachment.agent.username, attachment.visitor) == (conversation.pk, "sam", None)
    other_site = Conversation.objects.create(site=make_site("Elsewhere"), visitor=make_visitor(make_site("Third")))
    refused = post_file(agent, "/agent/api/attachments", "label.pdf", PDF, conversation=other_site.pk)
    assert refused.status_code == 404
    assert Attachment.objects.count() == 1


def test_a_notes_file_never_reaches_the_customer(site, visitor):
    agent = Client()
    agent.force_login(make_agent("sam", site))
    conversation = Conversation.objects.create(site=site, visitor=visitor)
    body = post_file(agent, "/agent/api/attachments", "internal.pdf", PDF, conversation=conversation.pk).json()
    sent(body["attachment"]["id"], internal=True)
    customers_link = file_link(body["attachment"]["id"], visitor_id=visitor.pk)
    assert Client().get(customers_link).status_code == 404
    sent_publicly = post_file(agent, "/agent/api/attachments", "label.pdf", PDF, conversation=conversation.pk).json()
    sent(sent_publicly["attachment"]["id"])
    assert Client().get(file_link(sent_publicly["attachment"]["id"], visitor_id=visitor.pk)).status_code == 200


def test_deleting_a_conversation_or_a_visitor_deletes_its_files(site, visitor, media):
    first = upload(Client(), token_for(visitor), "a.png", png()).json()["attachment"]
    second = upload(Client(), token_for(visitor), "b.pdf", PDF).json()["attachment"]
    sent(first["id"]).conversation.delete()
    assert Attachment.objects.filter(pk=first["id"]).count() == 0
    assert len(stored_files(media)) == 1  # the PDF, still unsent
    visitor.delete()
    assert Attachment.objects.count() == 0 and stored_files(media) == []
    assert second["id"]


def test_behind_nginx_the_bytes_are_sent_by_an_internal_redirect_after_the_check(settings, visitor):
    settings.PARLEY_ATTACHMENT_ACCEL_PREFIX = "/protected-files/"
    body = upload(Client(), token_for(visitor), "invoice.pdf", PDF).json()["attachment"]
    response = Client().get(body["url"])
    attachment = Attachment.objects.get(pk=body["id"])
    assert response["X-Accel-Redirect"] == "/protected-files/" + attachment.file.name
    assert response.content == b""
    stranger_link = file_link(body["id"], visitor_id=visitor.pk + 1)
    assert "X-Accel-Redirect" not in Client().get(stranger_link)


def test_a_link_signed_with_another_salt_is_refused(visitor):
    body = upload(Client(), token_for(visitor), "a.png", png()).json()["attachment"]
    other = signing.dumps([body["id"], visitor.pk, 0], salt=SALT + "-other")
    assert Client().get(f"/files/{other}/").status_code == 404


def test_the_admin_lists_a_conversations_files_behind_agents_links(site, visitor, admin_client):
    body = upload(Client(), token_for(visitor), "parcel.png", png()).json()["attachment"]
    attachment = sent(body["id"])
    page = admin_client.get(f"/admin/chat/conversation/{attachment.conversation_id}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "parcel.png" in html and attachment.file.name not in html  # a signed link, never the storage path
    link = html.split('href="/files/', 1)[1].split('"', 1)[0]
    assert admin_client.get(f"/files/{link}").status_code == 200


class RemoteStorage(InMemoryStorage):
    """A storage without local paths, like django-storages' S3Storage, whose URLs are its own signed ones."""

    def url(self, name):
        return f"https://files.example.com/{name}?X-Amz-Signature=abc&X-Amz-Expires=60"


def test_a_remote_storage_serves_through_its_own_short_lived_url_after_the_check(settings, visitor, media):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "tests.chat.test_attachments.RemoteStorage"},
    }
    body = upload(Client(), token_for(visitor), "invoice.pdf", PDF).json()["attachment"]
    response = Client().get(body["url"])
    assert response.status_code == 302
    assert response["Location"].startswith("https://files.example.com/attachments/")
    stranger = Client().get(file_link(body["id"], visitor_id=visitor.pk + 1))
    assert stranger.status_code == 404


def test_an_upload_taken_back_before_sending_is_deleted_with_its_files(site, visitor, media):
    token = token_for(visitor)
    body = upload(Client(), token, "parcel.png", png()).json()["attachment"]
    stranger = make_visitor(site)
    path = f"/api/widget/attachments/{body['id']}"
    assert Client().delete(path, HTTP_AUTHORIZATION=f"Bearer {token_for(stranger)}").status_code == 404
    assert Client().delete(path).status_code == 401
    assert Client().delete(path, HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 204
    assert Attachment.objects.count() == 0 and stored_files(media) == []
    sent_one = upload(Client(), token, "kept.png", png()).json()["attachment"]
    sent(sent_one["id"])
    refused = Client().delete(f"/api/widget/attachments/{sent_one['id']}", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert refused.status_code == 404  # a file that was sent is part of the conversation
    assert Attachment.objects.count() == 1


def test_an_agent_takes_back_only_their_own_unsent_upload(site, visitor, media):
    conversation = Conversation.objects.create(site=site, visitor=visitor)
    sam, kim = Client(enforce_csrf_checks=True), Client()
    sam.force_login(make_agent("sam", site))
    kim.force_login(make_agent("kim", site))
    sam.get("/agent/")  # the desk page sets the CSRF cookie
    csrf = sam.cookies["csrftoken"].value
    body = post_file(kim, "/agent/api/attachments", "label.pdf", PDF, conversation=conversation.pk).json()
    path = f"/agent/api/attachments/{body['attachment']['id']}"
    assert sam.delete(path, HTTP_X_CSRFTOKEN=csrf).status_code == 404  # kim's, not sam's
    assert sam.delete(path).status_code == 403  # no CSRF token
    assert kim.delete(path).status_code == 204
    assert Attachment.objects.count() == 0 and stored_files(media) == []
