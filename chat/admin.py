"""Django admin for the people who run the desk."""

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.templatetags.static import static
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from chat.models import AgentProfile, CannedResponse, Conversation, KnowledgeArticle, Message, Site, Visitor
from chat.services.knowledge import knowledge_update

admin.site.site_header = "Parley"
admin.site.site_title = "Parley admin"
admin.site.index_title = _("Back office")


def embed_snippet(request, site: Site) -> str:
    """The one script tag a site pastes into its pages."""
    src = request.build_absolute_uri(static("widget/loader.js"))
    return f'<script src="{src}" data-site="{site.key}" async></script>'


def help_center_url(article: KnowledgeArticle) -> str:
    """The article's public page, the one the bot's answers link to."""
    return reverse("help-article", kwargs={"site_key": article.site.key, "article_id": article.pk})


@admin.register(Site)
class SiteAdmin(admin.ModelAdmin):
    list_display = ["name", "key", "bot_enabled", "assignment", "created_at"]
    list_filter = ["bot_enabled", "assignment"]
    search_fields = ["name", "key"]
    readonly_fields = ["key", "help_center"]
    change_form_template = "admin/chat/site/change_form.html"
    fieldsets = [
        (None, {"fields": ["name", "key", "allowed_origins", "help_center"]}),
        (
            _("Widget"),
            {"fields": ["greeting", "away_message", "language", "ask_contact", "business_hours", "time_zone"]},
        ),
        (_("Routing"), {"fields": ["assignment"]}),
        (_("Bot"), {"fields": ["bot_enabled", "bot_handoff_after", "bot_answers_in_queue"]}),
        (_("Verified identity"), {"fields": ["identity_secret"], "classes": ["collapse"]}),
    ]

    @admin.display(description=_("Help center"))
    def help_center(self, site: Site) -> str:
        if not site.pk:
            return "-"
        url = reverse("help-index", kwargs={"site_key": site.key})
        return format_html('<a href="{}" target="_blank" rel="noopener">{}</a>', url, url)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        site = self.get_object(request, object_id)
        extra_context = {**(extra_context or {}), "embed_snippet": embed_snippet(request, site) if site else ""}
        return super().change_view(request, object_id, form_url, extra_context)


@admin.register(Visitor)
class VisitorAdmin(admin.ModelAdmin):
    list_display = ["__str__", "site", "email", "external_id", "last_seen"]
    list_filter = ["site"]
    search_fields = ["name", "email", "external_id"]
    readonly_fields = ["first_seen", "last_seen", "last_page_url", "user_agent"]


class TranscriptInline(admin.TabularInline):
    """The conversation's messages in order, read-only."""

    model = Message
    fields = ["seq", "created_at", "author_kind", "author_agent", "internal", "status", "body", "outcome", "feedback"]
    readonly_fields = fields
    ordering = ["seq"]
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = ["id", "site", "visitor", "status", "owner", "assignee", "last_seq", "updated_at"]
    list_filter = ["status", "owner", "site", "assignee"]
    search_fields = ["visitor__name", "visitor__email", "messages__body"]
    list_select_related = ["site", "visitor", "assignee"]
    date_hierarchy = "created_at"
    readonly_fields = [
        "site",
        "visitor",
        "last_seq",
        "last_public_seq",
        "customer_read_seq",
        "agent_read_seq",
        "unread_by_agent",
        "unread_by_customer",
        "created_at",
        "updated_at",
        "last_message_at",
        "queued_at",
        "first_human_reply_at",
        "resolved_at",
        "status",
        "owner",
        "assignee",
        "handed_off_at",
        "bot_misses",
        "bot_expects",
    ]
    inlines = [TranscriptInline]

    def has_add_permission(self, request):
        return False  # conversations start from the widget; changes go through the desk so events go out


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ["conversation", "seq", "author_kind", "status", "internal", "outcome", "feedback", "created_at"]
    list_filter = ["author_kind", "status", "internal", "outcome", "feedback"]
    search_fields = ["body"]
    readonly_fields = [field.name for field in Message._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(AgentProfile)
class AgentProfileAdmin(admin.ModelAdmin):
    list_display = ["__str__", "status", "max_concurrent"]
    list_filter = ["status", "sites"]
    search_fields = ["user__username", "user__first_name", "user__last_name", "user__email"]
    filter_horizontal = ["sites"]
    autocomplete_fields = ["user"]


@admin.register(CannedResponse)
class CannedResponseAdmin(admin.ModelAdmin):
    list_display = ["__str__", "site", "text"]
    list_filter = ["site"]
    search_fields = ["shortcut", "text"]


class KnowledgeArticleForm(forms.ModelForm):
    """The article form; the language is one the widget and the bot speak, not free text."""

    language = forms.ChoiceField(choices=settings.LANGUAGES, initial="en")

    class Meta:
        model = KnowledgeArticle
        fields = "__all__"


@admin.register(KnowledgeArticle)
class KnowledgeArticleAdmin(admin.ModelAdmin):
    """Articles; the add form takes `?site=<id>&title=...&language=...` (the bot report's unanswered questions)."""

    form = KnowledgeArticleForm
    list_display = ["title", "site", "language", "published", "updated_at", "help_page"]
    list_filter = ["published", "site", "language"]
    list_select_related = ["site"]
    search_fields = ["title", "body"]
    actions = ["publish", "unpublish"]

    def get_view_on_site_url(self, obj=None):
        # An unpublished article has no public page yet: no "View on site" button leading to a 404.
        return help_center_url(obj) if obj is not None and obj.published else None

    @admin.display(description=_("Help center"))
    def help_page(self, article: KnowledgeArticle) -> str:
        if not article.published:
            return "-"
        return format_html('<a href="{}" target="_blank" rel="noopener">{}</a>', help_center_url(article), _("View"))

    @admin.action(description=_("Publish selected articles"))
    def publish(self, request, queryset):
        count = knowledge_update(queryset, published=True)
        self.message_user(request, _("%(count)d articles published.") % {"count": count}, messages.SUCCESS)

    @admin.action(description=_("Unpublish selected articles"))
    def unpublish(self, request, queryset):
        count = knowledge_update(queryset, published=False)
        self.message_user(request, _("%(count)d articles unpublished.") % {"count": count}, messages.SUCCESS)
