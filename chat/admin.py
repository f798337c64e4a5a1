"""Django admin for the people who run the desk."""

import re

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.db import transaction
from django.db.models import Count, Q
from django.templatetags.static import static
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django_tasks_db.admin import DBTaskResultAdmin
from django_tasks_db.models import DBTaskResult

from chat.admin_forms import AgentInviteForm, SiteForm
from chat.models import (
    AgentProfile,
    Attachment,
    CannedResponse,
    Conversation,
    KnowledgeArticle,
    Label,
    Message,
    Site,
    Visitor,
)
from chat.security.file_links import file_link
from chat.selectors import search
from chat.services.conversations import publish_conversation
from chat.services.knowledge import knowledge_update
from chat.services.labels import conversation_label_add, conversation_label_remove, label_name_clean
from chat.services.presence import presence_of
from chat.tasks.invitations import email_invitation, invite_url, valid_days

admin.site.site_header = "Parley"
admin.site.site_title = "Parley admin"
admin.site.index_title = _("Back office")


def embed_snippet(request, site: Site) -> str:
    """The one script tag a site pastes into its pages."""
    src = request.build_absolute_uri(static("widget/loader.js"))
    return f'<script src="{src}" data-site="{site.key}" async></script>'


# The faces the widget offers for each score, so the admin reads like what the customer picked.
RATING_FACES = {1: "😞", 2: "🙁", 3: "😐", 4: "🙂", 5: "😄"}
HEX_COLOR = re.compile(r"#[0-9a-fA-F]{6}")


def rating_text(score: int | None) -> str:
    """ "4 🙂" for a score, "-" without one."""
    return "-" if score is None else f"{score} {RATING_FACES.get(score, '')}".strip()


def help_center_url(article: KnowledgeArticle) -> str:
    """The article's public page, the one the bot's answers link to."""
    return reverse("help-article", kwargs={"site_key": article.site.key, "article_id": article.pk})


@admin.register(Site)
class SiteAdmin(admin.ModelAdmin):
    form = SiteForm
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
    list_display = ["__str__", "site", "email", "email_confirmed", "email_opt_out", "external_id", "last_seen"]
    list_filter = ["site", "email_opt_out", ("email_confirmed_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "email", "external_id"]
    list_select_related = ["site"]
    paginator = search.EstimatedCountPaginator
    show_full_result_count = False  # a second COUNT(*) of the whole table on every search
    # Only the customer's signed link confirms an address; an admin may still unsubscribe them on request.
    readonly_fields = ["first_seen", "last_seen", "last_page_url", "user_agent", "email_confirmed_at"]

    @admin.display(description=_("Email confirmed"), boolean=True, ordering="email_confirmed_at")
    def email_confirmed(self, visitor: Visitor) -> bool:
        return visitor.email_confirmed

    def get_search_results(self, request, queryset, search_term):
        """Name and email through their trigram indexes, or the site's user id exactly."""
        term = search_term.strip()[: search.ADMIN_QUERY_CHARS]
        if not term:
            return queryset, False
        people = queryset.filter(Q(name__icontains=term) | Q(email__icontains=term)).values_list("pk", flat=True)
        known = queryset.filter(external_id=term).values_list("pk", flat=True)
        return queryset.filter(pk__in={*people[: search.ADMIN_HITS], *known[: search.ADMIN_HITS]}), False


class LabelForm(forms.ModelForm):
    """A label as agents type it (the desk's canonical form), and a colour that is "#rrggbb" or nothing."""

    class Meta:
        model = Label
        fields = ["site", "name", "color"]
        widgets = {"color": forms.TextInput(attrs={"placeholder": "#2563eb", "size": 8})}

    def clean_name(self) -> str:
        try:
            return label_name_clean(self.cleaned_data["name"])
        except ValueError as error:
            raise forms.ValidationError(str(error)) from None

    def clean_color(self) -> str:
        color = self.cleaned_data["color"].strip()
        if color and not HEX_COLOR.fullmatch(color):
            raise forms.ValidationError(_("A colour is written #rrggbb, or left empty."))
        return color.lower()

    def clean(self):
        cleaned = super().clean()
        # On a change the site is read-only, so the form's own unique check leaves the (site, name) pair out.
        name = cleaned.get("name")
        if "site" not in self.fields and name and self.instance.site_id:
            taken = Label.objects.filter(site_id=self.instance.site_id, name=name).exclude(pk=self.instance.pk)
            if taken.exists():
                self.add_error("name", _("The site already has a label of that name."))
        return cleaned


@admin.register(Label)
class LabelAdmin(admin.ModelAdmin):
    """The sites' labels; agents create them by typing in the desk, the admin renames, colours and removes them."""

    form = LabelForm
    list_display = ["name", "site", "swatch", "conversation_count", "created_at"]
    list_filter = ["site"]
    list_select_related = ["site"]
    search_fields = ["name"]
    ordering = ["site__name", "name"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(conversation_count=Count("conversations"))

    def get_readonly_fields(self, request, obj=None):
        # A label moved to another site would stay on the old site's conversations: the site is set once.
        return ["site", "created_at"] if obj is not None else ["created_at"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if change and "name" in form.changed_data:
            self._tell_desks(self._open_conversation_ids([obj.pk]))

    def delete_model(self, request, obj):
        affected = self._open_conversation_ids([obj.pk])
        super().delete_model(request, obj)
        self._tell_desks(affected)

    def delete_queryset(self, request, queryset):
        affected = self._open_conversation_ids(list(queryset.values_list("pk", flat=True)))
        super().delete_queryset(request, queryset)
        self._tell_desks(affected)

    @staticmethod
    def _open_conversation_ids(label_ids: list[int]) -> list[int]:
        # Only open conversations are live in the desks; a resolved one shows the change when next opened.
        return list(
            Conversation.objects.filter(labels__in=label_ids, status=Conversation.Status.OPEN)
            .values_list("pk", flat=True)
            .distinct()
        )

    @staticmethod
    def _tell_desks(conversation_ids: list[int]) -> None:
        """A renamed or deleted label changes its conversations' label lists: the desks showing them hear of it."""
        for conversation in Conversation.objects.filter(pk__in=conversation_ids):
            publish_conversation(conversation, customer=False)

    @admin.display(description=_("Colour"), ordering="color")
    def swatch(self, label: Label) -> str:
        if not HEX_COLOR.fullmatch(label.color or ""):
            return "-"
        return format_html(
            '<span style="display:inline-block;width:12px;height:12px;border-radius:50%;background:{};'
            'box-shadow:inset 0 0 0 1px rgba(0,0,0,.2);vertical-align:-2px"></span> {}',
            label.color,
            label.color,
        )

    @admin.display(description=_("Conversations"), ordering="conversation_count")
    def conversation_count(self, label: Label) -> str:
        url = reverse("admin:chat_conversation_changelist") + f"?label={label.pk}"
        return format_html('<a href="{}">{}</a>', url, label.conversation_count)


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


class AttachmentInline(admin.TabularInline):
    """The conversation's files, read-only, each opened through an agents' signed link (never a storage path)."""

    model = Attachment
    fields = ["created_at", "message", "open", "content_type", "size", "visitor", "agent"]
    readonly_fields = fields
    ordering = ["pk"]
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description=_("File"))
    def open(self, attachment: Attachment) -> str:
        link = file_link(attachment.pk, visitor_id=None)
        return format_html('<a href="{}" target="_blank" rel="noopener">{}</a>', link, attachment.name)


class RatingFilter(admin.SimpleListFilter):
    """By the customer's score, or whether they rated at all."""

    title = _("rating")
    parameter_name = "rating"

    def lookups(self, request, model_admin):
        return [
            *((str(score), rating_text(score)) for score in sorted(RATING_FACES, reverse=True)),
            ("satisfied", _("Satisfied (4–5)")),
            ("unsatisfied", _("Not satisfied (1–3)")),
            ("none", _("Not rated")),
        ]

    def queryset(self, request, queryset):
        value = self.value()
        if value is None:
            return queryset
        if value.isdigit() and int(value) in RATING_FACES:
            return queryset.filter(rating=int(value))
        return {
            "satisfied": queryset.filter(rating__gte=4),
            "unsatisfied": queryset.filter(rating__lte=3),
            "none": queryset.filter(rating__isnull=True),
        }.get(value, queryset)


class LabelFilter(admin.SimpleListFilter):
    """By label; names say their site when several sites have labels (the same name may exist on each)."""

    title = _("label")
    parameter_name = "label"

    def lookups(self, request, model_admin):
        labels = list(Label.objects.select_related("site").order_by("site__name", "name"))
        several_sites = len({label.site_id for label in labels}) > 1
        return [
            (str(label.pk), f"{label.name} · {label.site.name}" if several_sites else label.name) for label in labels
        ]

    def queryset(self, request, queryset):
        value = self.value()
        return queryset.filter(labels__id=int(value)) if value and value.isdigit() else queryset


class ConversationForm(forms.ModelForm):
    """Only the labels are edited here, and only the conversation's own site's labels are offered."""

    class Meta:
        model = Conversation
        fields = ["labels"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "labels" in self.fields:
            self.fields["labels"].queryset = Label.objects.filter(site_id=self.instance.site_id).order_by("name")


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    form = ConversationForm
    list_display = ["id", "site", "visitor", "status", "owner", "assignee", "rating_score", "label_list", "updated_at"]
    list_filter = ["status", "owner", RatingFilter, LabelFilter, "site", "assignee"]
    search_fields = ["visitor__name", "visitor__email", "messages__body", "labels__name"]
    list_select_related = ["site", "visitor", "assignee"]
    paginator = search.EstimatedCountPaginator
    show_full_result_count = False  # a second COUNT(*) of the whole table on every search
    # Newest first by id: the primary key serves the first page as it is, where sorting by `updated_at` across
    # every site would sort the whole table. (No date hierarchy either: it scans the table for its years.)
    ordering = ["-id"]
    filter_horizontal = ["labels"]
    fieldsets = [
        (None, {"fields": ["site", "visitor", "status", "owner", "assignee"]}),
        (_("Satisfaction"), {"fields": ["rating_score", "rating_comment", "rated_at"]}),
        (_("Labels"), {"fields": ["labels"]}),
        (
            _("Timeline"),
            {
                "fields": [
                    "created_at",
                    "updated_at",
                    "last_message_at",
                    "queued_at",
                    "handed_off_at",
                    "first_human_reply_at",
                    "resolved_at",
                ]
            },
        ),
        (
            _("Sequence numbers and bot state"),
            {
                "classes": ["collapse"],
                "fields": [
                    "last_seq",
                    "last_public_seq",
                    "customer_read_seq",
                    "agent_read_seq",
                    "unread_by_agent",
                    "unread_by_customer",
                    "emailed_seq",
                    "bot_misses",
                    "bot_expects",
                ],
            },
        ),
    ]
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
        "rating_score",
        "rating_comment",
        "rated_at",
        "emailed_seq",
    ]
    inlines = [TranscriptInline, AttachmentInline]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("labels")

    def get_search_results(self, request, queryset, search_term):
        """The desk's search (its indexes: names, emails, message text), or a label's exact name."""
        term = search_term.strip()[: search.ADMIN_QUERY_CHARS]
        if not term:
            return queryset, False
        hits = search.conversation_hits(conversations=queryset, q=term, limit=search.ADMIN_HITS)
        labelled = Conversation.labels.through.objects.filter(label__name=term).values_list(
            "conversation_id", flat=True
        )
        ids = {hit.conversation_id for hit in hits} | set(labelled[: search.ADMIN_HITS])
        return queryset.filter(pk__in=ids), False

    def has_add_permission(self, request):
        return False  # conversations start from the widget; changes go through the desk so events go out

    @admin.display(description=_("Rating"), ordering="rating")
    def rating_score(self, conversation: Conversation) -> str:
        return rating_text(conversation.rating)

    @admin.display(description=_("Labels"))
    def label_list(self, conversation: Conversation) -> str:
        return ", ".join(sorted(label.name for label in conversation.labels.all())) or "-"

    def save_model(self, request, obj, form, change):
        # Every column of the row is read-only here: writing the row back could undo a message or an assignment
        # that landed since the page was read. The labels are saved in save_related, through the service.
        pass

    def save_related(self, request, form, formsets, change):
        """Apply the label changes through the labels service, so every open desk hears of them."""
        conversation = form.instance
        wanted = {label.name for label in form.cleaned_data.get("labels", [])}
        current = set(conversation.labels.values_list("name", flat=True))
        for name in sorted(wanted - current):
            conversation_label_add(conversation=conversation, name=name)
        for name in sorted(current - wanted):
            conversation_label_remove(conversation=conversation, name=name)
        for formset in formsets:  # the transcript inline is read-only: this saves nothing, and records as much
            self.save_formset(request, form, formset, change=change)


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ["conversation", "seq", "author_kind", "status", "internal", "outcome", "feedback", "created_at"]
    list_filter = ["author_kind", "status", "internal", "outcome", "feedback"]
    search_fields = ["body"]
    list_select_related = ["conversation__visitor"]
    paginator = search.EstimatedCountPaginator
    show_full_result_count = False  # a second COUNT(*) of the whole table on every search
    readonly_fields = [field.name for field in Message._meta.fields]

    def get_search_results(self, request, queryset, search_term):
        """The newest matching messages, through the search index (a scan on SQLite)."""
        term = search_term.strip()[: search.ADMIN_QUERY_CHARS]
        if not term:
            return queryset, False
        return search.message_matches(messages=queryset, q=term, limit=search.ADMIN_HITS), False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


# What presence_of() answers, as the admin shows it.
PRESENCE_LABELS = {"online": _("Online"), "away": _("Away"), "offline": _("Offline")}


@admin.register(AgentProfile)
class AgentProfileAdmin(admin.ModelAdmin):
    """Agents; the add form creates the user too and emails them a link to choose their password."""

    list_display = ["__str__", "presence", "chosen_status", "max_concurrent", "email_when_offline"]
    list_filter = ["status", "sites", "email_when_offline"]
    search_fields = ["user__username", "user__first_name", "user__last_name", "user__email"]
    list_select_related = ["user"]
    filter_horizontal = ["sites"]
    autocomplete_fields = ["user"]
    add_fieldsets = [
        (None, {"fields": ["name", "email", "username", "is_staff"]}),
        (_("Desk"), {"fields": ["sites", "max_concurrent", "email_when_offline", "language"]}),
    ]
    fieldsets = [
        (None, {"fields": ["user", "presence", "status", "sites"]}),
        (_("Desk"), {"fields": ["max_concurrent", "email_when_offline", "language", "last_assigned_at"]}),
    ]
    readonly_fields = ["presence"]

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = AgentInviteForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fieldsets(self, request, obj=None):
        return self.add_fieldsets if obj is None else super().get_fieldsets(request, obj)

    @admin.display(description=_("Presence now"))
    def presence(self, profile: AgentProfile) -> str:
        # Live, from open desk sockets (as the desk and assignment see it); `status` is only what the agent chose.
        if not profile.pk:
            return "-"
        status = presence_of(profile.user)
        return str(PRESENCE_LABELS.get(status, status))

    @admin.display(description=_("Chosen status"), ordering="status")
    def chosen_status(self, profile: AgentProfile) -> str:
        return profile.get_status_display()

    def save_model(self, request, obj, form, change):
        if not change:
            obj.user = form.create_user()
        super().save_model(request, obj, form, change)
        if not change:
            self._invite(request, obj.user)

    def _invite(self, request, user) -> None:
        """Queue the invitation once the user is committed, and show its link for an admin to pass on."""
        user_id = user.pk
        transaction.on_commit(lambda: email_invitation.enqueue(user_id))
        self.message_user(
            request,
            format_html(
                _("An invitation is on its way to {}. Its set-password link works once, for {} days: {}"),
                user.email,
                valid_days(),
                format_html('<a href="{0}">{0}</a>', invite_url(user)),
            ),
            messages.SUCCESS,
        )


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


# Failed background tasks (an email the server refused) are found by what ran and what it raised.
admin.site.unregister(DBTaskResult)


@admin.register(DBTaskResult)
class TaskResultAdmin(DBTaskResultAdmin):
    search_fields = ("task_path", "exception_class_path")


from chat import admin_api  # noqa: E402, F401  the public API's tokens and webhooks
