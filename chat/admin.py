"""Django admin for the people who run the desk."""

from django.contrib import admin, messages
from django.templatetags.static import static
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


@admin.register(Site)
class SiteAdmin(admin.ModelAdmin):
    list_display = ["name", "key", "bot_enabled", "assignment", "created_at"]
    list_filter = ["bot_enabled", "assignment"]
    search_fields = ["name", "key"]
    readonly_fields = ["key"]
    change_form_template = "admin/chat/site/change_form.html"
    fieldsets = [
        (None, {"fields": ["name", "key", "allowed_origins"]}),
        (_("Widget"), {"fields": ["greeting", "away_message", "language", "ask_contact", "business_hours", "time_zone"]}),
        (_("Routing"), {"fields": ["bot_enabled", "assignment"]}),
        (_("Verified identity"), {"fields": ["identity_secret"], "classes": ["collapse"]}),
    ]

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
    fields = ["seq", "created_at", "author_kind", "author_agent", "internal", "status", "body"]
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
    readonly_fields = ["site", "visitor", "last_seq", "last_public_seq", "customer_read_seq", "agent_read_seq",
                       "unread_by_agent", "unread_by_customer", "created_at", "updated_at", "last_message_at",
                       "queued_at", "first_human_reply_at", "resolved_at", "status", "owner", "assignee"]
    inlines = [TranscriptInline]

    def has_add_permission(self, request):
        return False  # conversations start from the widget; changes go through the desk so events go out


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ["conversation", "seq", "author_kind", "status", "internal", "created_at"]
    list_filter = ["author_kind", "status", "internal"]
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


@admin.register(KnowledgeArticle)
class KnowledgeArticleAdmin(admin.ModelAdmin):
    list_display = ["title", "site", "language", "published", "updated_at"]
    list_filter = ["published", "site", "language"]
    search_fields = ["title", "body"]
    actions = ["publish", "unpublish"]

    @admin.action(description=_("Publish selected articles"))
    def publish(self, request, queryset):
        count = knowledge_update(queryset, published=True)
        self.message_user(request, _("%(count)d articles published.") % {"count": count}, messages.SUCCESS)

    @admin.action(description=_("Unpublish selected articles"))
    def unpublish(self, request, queryset):
        count = knowledge_update(queryset, published=False)
        self.message_user(request, _("%(count)d articles unpublished.") % {"count": count}, messages.SUCCESS)
