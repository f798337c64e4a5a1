"""URL routes; WebSocket routes live in chat/routing.py."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from chat.transports import sse
from chat.views import attachments, ops, widget_api, widget_session

urlpatterns = [
    path("healthz", ops.healthz, name="healthz"),
    path("readyz", ops.readyz, name="readyz"),
    path("metrics", ops.metrics_view, name="metrics"),
    path("selfcheck/", ops.selfcheck, name="selfcheck"),
    path("selfcheck/stream", ops.selfcheck_stream, name="selfcheck-stream"),
    path("api/widget/events", sse.event_stream, name="widget-events"),
    path("api/widget/ticket", sse.ticket, name="widget-ticket"),
    path("api/widget/messages", sse.send_message, name="widget-messages"),
    path("api/widget/replies/<int:reply_id>/stop", sse.stop_reply, name="widget-reply-stop"),
    path("api/widget/replies/<int:reply_id>/feedback", sse.reply_feedback, name="widget-reply-feedback"),
    path("api/widget/handoff", sse.request_handoff, name="widget-handoff"),
    path("api/widget/contact", sse.set_contact, name="widget-contact"),
    path("api/widget/attachments", attachments.widget_upload, name="widget-attachments"),
    path("api/widget/attachments/<int:attachment_id>", attachments.widget_discard, name="widget-attachment"),
    path("files/<str:value>/", attachments.attachment_file, name="attachment-file"),
    path(
        "api/widget/conversations/<int:conversation_id>/rating",
        sse.rate_conversation,
        name="widget-conversation-rating",
    ),
    path(
        "api/widget/conversations/<int:conversation_id>/transcript",
        sse.email_transcript,
        name="widget-conversation-transcript",
    ),
    path("api/v1/", include("chat.api.urls")),
    path("api/widget/<str:site_key>/session", widget_api.session_start, name="widget-session"),
    path("api/widget/<str:site_key>/session/revoke", widget_session.session_revoke, name="widget-session-revoke"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("agent/", include("chat.urls_agent")),
    path("email/", include("chat.urls_email")),
    path("", include("chat.urls_widget")),
]
