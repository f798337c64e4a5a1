"""Parley's data model: sites, visitors, conversations, messages, agents and the knowledge base."""

from __future__ import annotations

import secrets
import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


def new_site_key() -> str:
    """Return a fresh public site key (safe to show in page source)."""
    return "site_" + secrets.token_urlsafe(12)


# Shown in the widget's language while a site keeps it; a greeting of the site's own is shown as written.
DEFAULT_GREETING = "Hi! How can we help?"


class Site(models.Model):
    """One website with one inbox."""

    class Assignment(models.TextChoices):
        MANUAL = "manual", _("Manual")
        AUTO = "auto", _("Round robin")

    name = models.CharField(max_length=120)
    key = models.CharField(max_length=40, unique=True, default=new_site_key, editable=False)
    allowed_origins = models.JSONField(
        default=list, blank=True, help_text=_('Origins allowed to embed the widget, e.g. ["https://shop.example"].')
    )
    identity_secret = models.CharField(
        max_length=128, blank=True, help_text=_("HMAC secret for verified identities; never sent to a browser.")
    )
    business_hours = models.JSONField(
        default=dict,
        blank=True,
        help_text=_('Opening hours per weekday (0 = Monday) in the site\'s time zone, e.g. {"0": ["09:00", "17:00"]}.'),
    )
    time_zone = models.CharField(max_length=64, default="UTC")
    greeting = models.CharField(max_length=300, blank=True, default=DEFAULT_GREETING)
    away_message = models.CharField(
        max_length=300, blank=True, default="We're away right now; leave a message and we'll reply by email."
    )
    language = models.CharField(max_length=10, blank=True, help_text=_("Widget language; empty follows the browser."))
    bot_enabled = models.BooleanField(default=True)
    ask_contact = models.BooleanField(default=False, help_text=_("Ask for name and email before the first message."))
    assignment = models.CharField(max_length=10, choices=Assignment.choices, default=Assignment.MANUAL)
    bot_handoff_after = models.PositiveSmallIntegerField(
        default=3,
        help_text=_(
            "Unanswered questions in a row after which the bot hands over to a person (0: only when the customer asks)."
        ),
    )
    bot_answers_in_queue = models.BooleanField(
        default=True, help_text=_("While a conversation waits for a person, the bot still answers what it can.")
    )
    kb_version = models.PositiveIntegerField(
        default=0,
        editable=False,
        help_text=_("Bumped whenever the site's articles change; the bot's index follows it."),
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Visitor(models.Model):
    """A customer of a site, anonymous or verified."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="visitors")
    external_id = models.CharField(max_length=255, blank=True, help_text=_("Verified user id from the site."))
    name = models.CharField(max_length=120, blank=True)
    email = models.EmailField(blank=True)
    first_seen = models.DateTimeField(default=timezone.now)
    last_seen = models.DateTimeField(default=timezone.now)
    last_page_url = models.URLField(max_length=1000, blank=True)
    user_agent = models.CharField(max_length=400, blank=True)
    token_version = models.PositiveIntegerField(
        default=0,
        editable=False,
        help_text=_("Signed into every token; bumped to revoke them all (Parley.reset() on the host page)."),
    )
    email_confirmed_at = models.DateTimeField(
        null=True, blank=True, help_text=_("When the customer confirmed the address; only then is it sent follow-ups.")
    )
    email_opt_out = models.BooleanField(default=False, help_text=_("Unsubscribed: no follow-up email is sent."))

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["site", "external_id"], condition=~Q(external_id=""), name="visitor_unique_external_id"
            )
        ]
        indexes = [models.Index(fields=["site", "email"])]

    def __str__(self) -> str:
        return self.name or self.email or f"Visitor #{self.pk}"

    @property
    def email_confirmed(self) -> bool:
        """True when the customer confirmed the current address by its signed link."""
        return bool(self.email and self.email_confirmed_at)

    @property
    def verified(self) -> bool:
        """True when the site vouched for this visitor with an identity hash."""
        return bool(self.external_id)


class Label(models.Model):
    """A tag agents put on conversations to sort them ("refund", "bug", "vip")."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="labels")
    name = models.CharField(max_length=40, help_text=_("Lower case, no spaces; agents type it to add it."))
    color = models.CharField(max_length=7, blank=True, help_text=_("#rrggbb, or empty for the default."))
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["site", "name"], name="label_unique_name_per_site")]

    def __str__(self) -> str:
        return self.name


class Conversation(models.Model):
    """A thread between one visitor and the desk."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        RESOLVED = "resolved", _("Resolved")

    class Owner(models.TextChoices):
        BOT = "bot", _("Bot")
        QUEUE = "queue", _("Waiting for a human")
        AGENT = "agent", _("Agent")

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="conversations")
    visitor = models.ForeignKey(Visitor, on_delete=models.CASCADE, related_name="conversations")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    owner = models.CharField(max_length=10, choices=Owner.choices, default=Owner.BOT)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_conversations",
    )
    last_seq = models.PositiveIntegerField(default=0, help_text=_("Highest seq allocated, internal notes included."))
    last_public_seq = models.PositiveIntegerField(default=0, help_text=_("Highest seq the customer can see."))
    customer_read_seq = models.PositiveIntegerField(default=0)
    agent_read_seq = models.PositiveIntegerField(default=0)
    unread_by_agent = models.PositiveIntegerField(default=0)
    unread_by_customer = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    last_message_at = models.DateTimeField(null=True, blank=True)
    queued_at = models.DateTimeField(null=True, blank=True, help_text=_("When it started waiting for a human."))
    first_human_reply_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    handed_off_at = models.DateTimeField(null=True, blank=True, help_text=_("When the bot first handed it to people."))
    bot_misses = models.PositiveSmallIntegerField(
        default=0, help_text=_("Questions in a row the bot could not answer.")
    )
    bot_expects = models.CharField(
        max_length=10,
        blank=True,
        choices=[("email", _("An email address"))],
        help_text=_("What the bot asked the customer for and waits to read."),
    )
    labels = models.ManyToManyField(Label, blank=True, related_name="conversations")
    rating = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text=_("The customer's satisfaction after it was resolved, 1 (bad) to 5 (great).")
    )
    rating_comment = models.TextField(blank=True)
    rated_at = models.DateTimeField(null=True, blank=True)
    emailed_seq = models.PositiveIntegerField(
        default=0, help_text=_("Highest seq sent to the customer by email, so a follow-up never repeats a message.")
    )

    class Meta:
        ordering = ["-updated_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(last_public_seq__lte=models.F("last_seq")), name="conv_public_seq_lte_seq"
            ),
            models.CheckConstraint(
                condition=~Q(owner="agent") | Q(assignee__isnull=False), name="conv_agent_owner_has_assignee"
            ),
            models.CheckConstraint(condition=Q(status__in=["open", "resolved"]), name="conv_status_valid"),
            models.CheckConstraint(condition=Q(owner__in=["bot", "queue", "agent"]), name="conv_owner_valid"),
            models.CheckConstraint(
                condition=Q(rating__isnull=True) | Q(rating__gte=1, rating__lte=5), name="conv_rating_1_to_5"
            ),
        ]
        indexes = [
            models.Index(fields=["site", "status", "owner"]),
            models.Index(fields=["visitor", "-created_at"]),
            models.Index(fields=["site", "created_at"], name="conv_site_created"),  # reports read by period
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.visitor}"


class Message(models.Model):
    """One entry of a conversation's transcript; a bot reply is one message that grows while it streams."""

    class AuthorKind(models.TextChoices):
        CUSTOMER = "customer", _("Customer")
        AGENT = "agent", _("Agent")
        BOT = "bot", _("Bot")
        SYSTEM = "system", _("System")

    class Status(models.TextChoices):
        COMPLETE = "complete", _("Complete")
        STREAMING = "streaming", _("Streaming")
        STOPPED = "stopped", _("Stopped")
        INTERRUPTED = "interrupted", _("Interrupted")
        FAILED = "failed", _("Failed")

    class Outcome(models.TextChoices):
        ANSWERED = "answered", _("Answered")
        UNANSWERED = "unanswered", _("Could not answer")
        CLARIFY = "clarify", _("Asked which topic")
        SMALLTALK = "smalltalk", _("Small talk")
        HANDOFF = "handoff", _("Handed to a person")
        CONTACT = "contact", _("Took contact details")

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    seq = models.PositiveIntegerField()
    author_kind = models.CharField(max_length=10, choices=AuthorKind.choices)
    author_agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    client_id = models.CharField(max_length=64, null=True, blank=True)
    body = models.TextField(blank=True)
    internal = models.BooleanField(default=False, help_text=_("A private note: never sent to the customer."))
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.COMPLETE)
    # Streaming bookkeeping: index of the last delta included in `body`, and the worker's lease.
    stream_index = models.IntegerField(default=-1)
    delta_ends = models.JSONField(default=list, blank=True, help_text=_("Text length after each delta index."))
    lease_until = models.DateTimeField(null=True, blank=True)
    worker = models.CharField(max_length=100, blank=True, help_text=_("The worker generating this reply."))
    trigger = models.OneToOneField(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="bot_reply",
        help_text=_("The customer message this bot reply answers (one trigger, one reply)."),
    )
    error_reason = models.CharField(max_length=300, blank=True, help_text=_("Why a reply failed; agents only."))
    outcome = models.CharField(
        max_length=12, blank=True, choices=Outcome.choices, help_text=_("What a bot reply did, for the bot's reports.")
    )
    meta = models.JSONField(default=dict, blank=True, help_text=_("A bot reply's sources, quick replies and language."))
    feedback = models.SmallIntegerField(
        null=True, blank=True, choices=[(1, "👍"), (-1, "👎")], help_text=_("The customer's verdict on a bot answer.")
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["conversation", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["conversation", "seq"], name="message_unique_seq"),
            models.UniqueConstraint(
                fields=["conversation", "client_id"],
                condition=Q(client_id__isnull=False),
                name="message_unique_client_id",
            ),
            models.CheckConstraint(condition=Q(seq__gte=1), name="message_seq_positive"),
            models.CheckConstraint(
                condition=Q(author_kind__in=["customer", "agent", "bot", "system"]), name="message_author_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(status__in=["complete", "streaming", "stopped", "interrupted", "failed"]),
                name="message_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(internal=False) | Q(author_kind="agent"), name="message_only_agents_write_notes"
            ),
        ]
        indexes = [models.Index(fields=["status", "lease_until"])]

    def __str__(self) -> str:
        return f"{self.conversation_id}:{self.seq} {self.author_kind}"


def attachment_path(instance: Attachment, filename: str) -> str:
    """A storage path nobody can guess: files are only ever served through signed URLs."""
    return f"attachments/{uuid.uuid4().hex}/{filename}"


class Attachment(models.Model):
    """A file a customer or an agent uploaded, kept until its conversation (or visitor) is deleted."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="attachments")
    conversation = models.ForeignKey(
        "Conversation", null=True, blank=True, on_delete=models.CASCADE, related_name="attachments"
    )
    message = models.ForeignKey(Message, null=True, blank=True, on_delete=models.CASCADE, related_name="attachments")
    visitor = models.ForeignKey(
        Visitor,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="attachments",
        help_text=_("The customer who uploaded it."),
    )
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="attachments",
        help_text=_("The agent who uploaded it."),
    )
    file = models.FileField(upload_to=attachment_path, max_length=300)
    thumbnail = models.FileField(upload_to=attachment_path, max_length=300, blank=True)
    name = models.CharField(max_length=200, help_text=_("The file's name as uploaded, cleaned."))
    content_type = models.CharField(max_length=100, help_text=_("Decided from the content, not the name."))
    size = models.PositiveIntegerField()
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["message"]), models.Index(fields=["visitor", "message"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(visitor__isnull=True) | Q(agent__isnull=True), name="attachment_one_uploader"
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_image(self) -> bool:
        return bool(self.thumbnail)


class AgentProfile(models.Model):
    """A user who answers conversations, and the sites they serve."""

    class Status(models.TextChoices):
        ONLINE = "online", _("Online")
        AWAY = "away", _("Away")

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="agent_profile")
    sites = models.ManyToManyField(Site, blank=True, related_name="agents")
    status = models.CharField(
        max_length=10,
        choices=Status.choices,
        default=Status.ONLINE,
        help_text=_("Chosen status; the agent counts as offline while no dashboard is open."),
    )
    max_concurrent = models.PositiveSmallIntegerField(default=5)
    last_assigned_at = models.DateTimeField(null=True, blank=True)
    email_when_offline = models.BooleanField(
        default=True, help_text=_("Email this agent about a conversation assigned while no dashboard is open.")
    )
    language = models.CharField(
        max_length=10,
        blank=True,
        choices=settings.LANGUAGES,
        help_text=_("Language of the desk for this agent; empty follows the browser."),
    )

    def __str__(self) -> str:
        return self.user.get_full_name() or self.user.get_username()


class AgentConnection(models.Model):
    """One open dashboard socket; presence is derived from these, across tabs and processes."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="agent_connections")
    channel_name = models.CharField(max_length=200, unique=True)
    connected_at = models.DateTimeField(default=timezone.now)
    last_seen = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["user", "last_seen"])]


class CannedResponse(models.Model):
    """A saved answer agents insert with /shortcut."""

    site = models.ForeignKey(Site, null=True, blank=True, on_delete=models.CASCADE, related_name="canned_responses")
    shortcut = models.SlugField(max_length=40)
    text = models.TextField()

    class Meta:
        ordering = ["shortcut"]
        constraints = [
            models.UniqueConstraint(fields=["site", "shortcut"], name="canned_unique_shortcut_per_site"),
            models.UniqueConstraint(
                fields=["shortcut"], condition=Q(site__isnull=True), name="canned_unique_global_shortcut"
            ),
        ]

    def __str__(self) -> str:
        return f"/{self.shortcut}"


class KnowledgeArticle(models.Model):
    """An answer the bot may quote."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="articles")
    title = models.CharField(max_length=200)
    body = models.TextField()
    language = models.CharField(max_length=10, default="en")
    published = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["site", "title"]
        constraints = [models.UniqueConstraint(fields=["site", "title"], name="article_unique_title_per_site")]

    def __str__(self) -> str:
        return self.title


# --- the public API and its webhooks ---------------------------------------------------------------


class ApiToken(models.Model):
    """A key to the public API that acts as one agent, on that agent's sites; only its hash is stored."""

    class Scope(models.TextChoices):
        READ = "read", _("Read only")
        WRITE = "write", _("Read and write")

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=80, help_text=_("What the token is for, e.g. “CRM sync”."))
    prefix = models.CharField(max_length=16, unique=True, editable=False, help_text=_("Shown to tell tokens apart."))
    secret_hash = models.CharField(max_length=64, editable=False)
    scope = models.CharField(max_length=10, choices=Scope.choices, default=Scope.READ)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def new_webhook_secret() -> str:
    """A fresh signing secret for a webhook endpoint."""
    return "whsec_" + secrets.token_urlsafe(32)


class WebhookEndpoint(models.Model):
    """A URL of the site's own systems that hears about conversations, messages and ratings."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.URLField(max_length=500)
    events = models.JSONField(default=list, help_text=_('The event types to send, e.g. ["message.created"].'))
    secret = models.CharField(max_length=80, default=new_webhook_secret, help_text=_("Signs every delivery."))
    active = models.BooleanField(default=True)
    description = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["site", "pk"]

    def __str__(self) -> str:
        return self.url


class WebhookDelivery(models.Model):
    """One event sent to one endpoint: its payload and how the latest attempt went."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        RETRYING = "retrying", _("Retrying")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event_id = models.UUIDField(help_text=_("Sent as Parley-Event-Id; the same for every attempt."))
    event_type = models.CharField(max_length=40)
    payload = models.JSONField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = _("webhook deliveries")
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "event_id"], name="webhook_delivery_once_per_endpoint")
        ]

    def __str__(self) -> str:
        return f"{self.event_type} → {self.endpoint_id}"


class ContactAttributes(models.Model):
    """Custom attributes of a customer that the site's own systems keep (plan, order count, ...)."""

    visitor = models.OneToOneField(Visitor, on_delete=models.CASCADE, related_name="attributes")
    data = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = _("contact attributes")

    def __str__(self) -> str:
        return f"attributes of {self.visitor_id}"


class DailyStats(models.Model):
    """One site's report numbers for one day (in one time zone), so a period's report reads days, not rows.

    Medians cannot be added up, so the day keeps its first-response and resolution times themselves; ratings are
    kept per assignee. A day is recomputed whenever one of its conversations changed after `computed_at`.
    """

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="daily_stats")
    day = models.DateField()
    time_zone = models.CharField(max_length=64)
    conversations = models.PositiveIntegerField(default=0)
    bot_alone = models.PositiveIntegerField(default=0)
    first_responses = models.JSONField(default=list, help_text=_("Seconds to the first human answer, one per answer."))
    resolutions = models.JSONField(default=list, help_text=_("Seconds from start to resolve, one per resolve."))
    ratings = models.JSONField(
        default=dict, help_text=_('Ratings per assignee id ("" for none): how many of each score 1 to 5.')
    )
    computed_at = models.DateTimeField()
    # The newest conversation when the day was counted: one created later with a date in this day (an import,
    # a backfill) makes the day be counted again.
    last_conversation_id = models.BigIntegerField(default=0)

    class Meta:
        verbose_name_plural = _("daily stats")
        constraints = [
            models.UniqueConstraint(fields=["site", "time_zone", "day"], name="daily_stats_unique_day"),
        ]

    def __str__(self) -> str:
        return f"{self.site_id} {self.day} ({self.time_zone})"
