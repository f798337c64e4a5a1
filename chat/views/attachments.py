"""Uploading files from the widget and the desk, and serving them through signed links only."""

from __future__ import annotations

import os

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.http import FileResponse, HttpResponse, HttpResponseRedirect, JsonResponse
from django.utils.http import content_disposition_header
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from chat.models import Attachment, Visitor
from chat.security import tokens
from chat.security.file_links import BadLink, attachment_payload, file_link_read
from chat.security.file_types import FileRefused
from chat.security.ratelimit import Limit, rate_hit_sync, too_many_requests
from chat.selectors.access import NotFound, access_conversation_for_agent, visitor_from_claim
from chat.selectors.agents import agent_site_ids, is_agent
from chat.services.attachments import attachment_store
from chat.views.desk_api import agent_api
from chat.views.http import BadRequest, error_response

# Served files never run: no scripts, no plugins, no framing, and the browser must not guess another type.
FILE_CSP = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"


def _visitor(request) -> Visitor | None:
    """The visitor of the request's Bearer token (a ticket is not enough: it only reads events)."""
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return None
    try:
        claim = tokens.visitor_token_read(header[7:].strip())
    except tokens.BadToken:
        return None
    return visitor_from_claim(claim=claim)


def _upload(request) -> tuple[str, bytes]:
    """The request's one `file` part, read only when within the size limit."""
    upload = request.FILES.get("file")
    if upload is None or len(request.FILES) != 1:
        raise BadRequest("bad_request", "Send one file as the multipart field `file`.")
    if upload.size > settings.PARLEY_ATTACHMENT_MAX_BYTES:
        limit = settings.PARLEY_ATTACHMENT_MAX_BYTES // 1_000_000
        raise BadRequest("too_large", f"Files are limited to {limit} MB.", status=413)
    return upload.name or "", upload.read()


def _refused(exc: FileRefused) -> JsonResponse:
    return error_response(exc.code, exc.detail, 413 if exc.code == "too_large" else 400)


@csrf_exempt  # no cookie is involved: the Bearer token is the credential
@require_POST
def widget_upload(request):
    """POST /api/widget/attachments: a customer's file, kept until it is sent with a message (or deleted)."""
    visitor = _visitor(request)
    if visitor is None:
        return error_response("unauthorized", "A valid visitor token is required.", 401)
    refusal = rate_hit_sync([Limit.of("upload", f"visitor:{visitor.pk}", settings.PARLEY_UPLOAD_RATE)])
    if refusal is not None:
        return too_many_requests("Too many files; wait a moment.", refusal.retry_seconds)
    try:
        name, data = _upload(request)
        attachment = attachment_store(site=visitor.site, name=name, data=data, visitor=visitor)
    except BadRequest as exc:
        return error_response(exc.code, exc.detail, exc.status)
    except FileRefused as exc:
        return _refused(exc)
    return JsonResponse({"attachment": attachment_payload(attachment, visitor_id=visitor.pk)}, status=201)


@require_POST
@agent_api
def desk_upload(request):
    """POST /agent/api/attachments: an agent's file for a conversation of their sites (multipart `conversation`, `file`)."""
    raw = request.POST.get("conversation", "")
    if not raw.isdigit():
        raise BadRequest("bad_request", "`conversation` must be a conversation id.")
    conversation = access_conversation_for_agent(user=request.user, conversation_id=int(raw))
    name, data = _upload(request)
    try:
        attachment = attachment_store(site=conversation.site, name=name, data=data, agent=request.user)
    except FileRefused as exc:
        return _refused(exc)
    attachment.conversation = conversation
    attachment.save(update_fields=["conversation"])
    return JsonResponse({"attachment": attachment_payload(attachment, visitor_id=None)}, status=201)


@csrf_exempt  # the Bearer token is the credential
@require_http_methods(["DELETE"])
def widget_discard(request, attachment_id: int):
    """DELETE /api/widget/attachments/<id>: the customer took back an upload before sending it; its files go."""
    visitor = _visitor(request)
    if visitor is None:
        return error_response("unauthorized", "A valid visitor token is required.", 401)
    deleted, _ = Attachment.objects.filter(pk=attachment_id, visitor=visitor, message__isnull=True).delete()
    if not deleted:
        return error_response("not_found", "No such upload, or it was sent already.", 404)
    return HttpResponse(status=204)


@require_http_methods(["DELETE"])
@agent_api
def desk_discard(request, attachment_id: int):
    """DELETE /agent/api/attachments/<id>: the agent took back an upload before sending it; its files go."""
    unsent = Attachment.objects.filter(pk=attachment_id, agent=request.user, visitor__isnull=True, message__isnull=True)
    deleted, _ = unsent.delete()
    if not deleted:
        raise NotFound()
    return HttpResponse(status=204)


def _may_see(request, attachment: Attachment, visitor_id: int) -> bool:
    """A customer's link: their own upload, or a file sent to them (never a note's). An agents' link: an agent of its site."""
    if visitor_id:
        if attachment.message_id is None:
            return attachment.visitor_id == visitor_id
        return not attachment.message.internal and attachment.message.conversation.visitor_id == visitor_id
    user = request.user
    return user.is_authenticated and is_agent(user) and attachment.site_id in agent_site_ids(user)


@require_GET
def attachment_file(request, value: str):
    """GET /files/<signed>/: the file, once the link and the viewer are checked; nginx sends the bytes when it can."""
    try:
        link = file_link_read(value, max_age=settings.PARLEY_ATTACHMENT_LINK_MAX_AGE)
    except BadLink:
        return error_response("not_found", "This link is not valid or has expired.", 404)
    attachment = Attachment.objects.select_related("message__conversation").filter(pk=link.attachment_id).first()
    if attachment is None or not _may_see(request, attachment, link.visitor_id):
        return error_response("not_found", "This link is not valid or has expired.", 404)
    field = attachment.thumbnail if link.thumbnail else attachment.file
    if not isinstance(field.storage, FileSystemStorage):
        # A remote storage (S3 and the like) answers with its own short-lived signed URL: the bytes go from there.
        return HttpResponseRedirect(field.storage.url(field.name))
    if not os.path.isfile(field.path):
        return error_response("not_found", "This file is no longer kept.", 404)
    if settings.PARLEY_ATTACHMENT_ACCEL_PREFIX:
        response = HttpResponse()
        response["X-Accel-Redirect"] = settings.PARLEY_ATTACHMENT_ACCEL_PREFIX + field.name
    else:
        response = FileResponse(field.open("rb"))
    response["Content-Type"] = (
        "image/png" if link.thumbnail and attachment.content_type == "image/gif" else (attachment.content_type)
    )
    # Images show in the page; anything else is only ever downloaded.
    response["Content-Disposition"] = content_disposition_header(not attachment.is_image, attachment.name)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = FILE_CSP
    response["Cache-Control"] = f"private, max-age={settings.PARLEY_ATTACHMENT_LINK_MAX_AGE}"
    response["Cross-Origin-Resource-Policy"] = "same-origin"  # the widget frame is on this origin too
    return response
