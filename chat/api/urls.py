"""Routes of the public API (mounted at /api/v1/)."""

from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from chat.api import (
    views_articles,
    views_contacts,
    views_conversations,
    views_messages,
    views_reports,
    views_sites,
    views_unknown,
)

urlpatterns = [
    path("schema", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("redoc", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
    path("sites", views_sites.SiteList.as_view(), name="api-sites"),
    path("sites/<int:site_id>", views_sites.SiteDetail.as_view(), name="api-site"),
    path("conversations", views_conversations.ConversationList.as_view(), name="api-conversations"),
    path(
        "conversations/<int:conversation_id>", views_conversations.ConversationDetail.as_view(), name="api-conversation"
    ),
    path(
        "conversations/<int:conversation_id>/assign",
        views_conversations.ConversationAssign.as_view(),
        name="api-conversation-assign",
    ),
    path(
        "conversations/<int:conversation_id>/resolve",
        views_conversations.ConversationResolve.as_view(),
        name="api-conversation-resolve",
    ),
    path(
        "conversations/<int:conversation_id>/reopen",
        views_conversations.ConversationReopen.as_view(),
        name="api-conversation-reopen",
    ),
    path(
        "conversations/<int:conversation_id>/labels",
        views_conversations.ConversationLabels.as_view(),
        name="api-conversation-labels",
    ),
    path(
        "conversations/<int:conversation_id>/labels/<str:label>",
        views_conversations.ConversationLabel.as_view(),
        name="api-conversation-label",
    ),
    path(
        "conversations/<int:conversation_id>/messages",
        views_messages.MessageList.as_view(),
        name="api-conversation-messages",
    ),
    path("contacts", views_contacts.ContactList.as_view(), name="api-contacts"),
    path("contacts/<int:contact_id>", views_contacts.ContactDetail.as_view(), name="api-contact"),
    path("articles", views_articles.ArticleList.as_view(), name="api-articles"),
    path("articles/<int:article_id>", views_articles.ArticleDetail.as_view(), name="api-article"),
    path("reports", views_reports.Report.as_view(), name="api-reports"),
]

# Anything else under /api/v1/ (an id that is not a number, a path that does not exist) answers in the API's shape.
urlpatterns.append(re_path(r"^[\s\S]*\Z", views_unknown.Unknown.as_view(), name="api-unknown"))
