"""Routes of the agent desk (mounted at /agent/)."""

from django.urls import path

from chat.views import attachments, desk, desk_api, desk_language, desk_reports, desk_settings

urlpatterns = [
    path("", desk.desk, name="desk"),
    path("reports/", desk_reports.reports_page, name="desk-reports"),
    path("settings/api-tokens", desk_settings.api_tokens, name="desk-settings-api-tokens"),
    path(
        "settings/api-tokens/<int:token_id>/revoke",
        desk_settings.api_token_revoke_view,
        name="desk-settings-api-token-revoke",
    ),
    path("language", desk_language.language_choose, name="desk-language"),
    path("api/conversations", desk_api.conversations, name="desk-api-conversations"),
    path("api/conversations/<int:conversation_id>/customer", desk_api.customer, name="desk-api-customer"),
    path("api/counts", desk_api.counts, name="desk-api-counts"),
    path("api/labels", desk_api.labels, name="desk-api-labels"),
    path("api/canned", desk_api.canned, name="desk-api-canned"),
    path("api/attachments", attachments.desk_upload, name="desk-api-attachments"),
    path("api/attachments/<int:attachment_id>", attachments.desk_discard, name="desk-api-attachment"),
    path("api/agents", desk_api.agents, name="desk-api-agents"),
]
