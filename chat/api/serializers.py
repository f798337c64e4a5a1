"""Shapes of the API's objects and of the bodies it takes; conversations and messages as the webhooks send them."""

from __future__ import annotations

from datetime import date

from django.conf import settings
from rest_framework import serializers

from chat.models import Conversation, KnowledgeArticle, Message, Site, Visitor
from chat.protocol.frames import is_clean_text
from chat.security.file_links import attachment_payload
from chat.services.labels import LABEL_MAX_LENGTH
from chat.services.webhooks import conversation_data, message_data


def clean_line(value: str) -> str:
    """One line of text without control characters."""
    if not is_clean_text(value):
        raise serializers.ValidationError("Must not contain control characters.")
    return value.strip()


class SiteSerializer(serializers.ModelSerializer):
    """A site the agent serves."""

    class Meta:
        model = Site
        fields = ["id", "name", "key", "time_zone", "language", "bot_enabled", "assignment", "created_at"]
        read_only_fields = fields


class AgentRef(serializers.Serializer):
    """An agent, by id and name."""

    id = serializers.IntegerField()
    name = serializers.CharField()


class ContactRef(serializers.Serializer):
    """The customer of a conversation."""

    id = serializers.IntegerField()
    name = serializers.CharField(allow_blank=True)
    email = serializers.CharField(allow_blank=True)


class ConversationSerializer(serializers.Serializer):
    """A conversation, as the webhooks send it too."""

    id = serializers.IntegerField()
    site = serializers.IntegerField()
    status = serializers.ChoiceField(choices=Conversation.Status.choices)
    owner = serializers.ChoiceField(choices=Conversation.Owner.choices)
    assignee = AgentRef(allow_null=True)
    contact = ContactRef()
    labels = serializers.ListField(child=serializers.CharField())
    rating = serializers.IntegerField(allow_null=True, min_value=1, max_value=5)
    rating_comment = serializers.CharField(allow_blank=True)
    last_seq = serializers.IntegerField()
    unread_by_agent = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    last_message_at = serializers.DateTimeField(allow_null=True)
    resolved_at = serializers.DateTimeField(allow_null=True)

    def to_representation(self, instance: Conversation) -> dict:
        """The webhooks' shape, with the labels the list prefetched."""
        return conversation_data(instance, labels=[label.name for label in instance.labels.all()])


class ConversationFilters(serializers.Serializer):
    """The list's filters."""

    site = serializers.IntegerField(required=False, min_value=1, max_value=2**31 - 1)
    status = serializers.ChoiceField(choices=Conversation.Status.choices, required=False)
    owner = serializers.ChoiceField(choices=Conversation.Owner.choices, required=False)
    assignee = serializers.RegexField(
        r"^(me|none|[1-9][0-9]{0,9})$", required=False, help_text='An agent id, "me" or "none" (unassigned).'
    )
    label = serializers.CharField(required=False, max_length=LABEL_MAX_LENGTH)
    updated_since = serializers.DateTimeField(required=False, help_text="ISO 8601; changed at or after it.")


class AssignSerializer(serializers.Serializer):
    """Whom to assign to."""

    agent = serializers.IntegerField(
        allow_null=True, min_value=1, max_value=2**31 - 1, help_text="An agent of the site, or null for the queue."
    )


class LabelSerializer(serializers.Serializer):
    """A label to put on a conversation."""

    label = serializers.CharField(max_length=LABEL_MAX_LENGTH)


class AuthorSerializer(serializers.Serializer):
    """Who wrote a message."""

    kind = serializers.ChoiceField(choices=Message.AuthorKind.choices)
    agent = AgentRef(allow_null=True)


class AttachmentSerializer(serializers.Serializer):
    """A file on a message, with a link that works for a while."""

    id = serializers.IntegerField()
    name = serializers.CharField()
    content_type = serializers.CharField()
    size = serializers.IntegerField()
    url = serializers.CharField()


class MessageSerializer(serializers.Serializer):
    """A message of a conversation (notes included: `internal`)."""

    id = serializers.IntegerField()
    conversation = serializers.IntegerField()
    seq = serializers.IntegerField()
    author = AuthorSerializer()
    body = serializers.CharField(allow_blank=True)
    internal = serializers.BooleanField()
    status = serializers.ChoiceField(choices=Message.Status.choices)
    client_id = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()
    attachments = AttachmentSerializer(many=True)

    def to_representation(self, instance: Message) -> dict:
        """The webhooks' shape, plus the message's files."""
        data = message_data(instance)
        data["attachments"] = [_attachment(attachment) for attachment in instance.attachments.all()]
        return data


def _attachment(attachment) -> dict:
    payload = attachment_payload(attachment, visitor_id=None)
    return {
        "id": attachment.pk,
        "name": attachment.name,
        "content_type": attachment.content_type,
        "size": attachment.size,
        "url": payload["url"],
    }


class MessagePage(serializers.Serializer):
    """Messages after a seq."""

    results = MessageSerializer(many=True)
    next_after = serializers.IntegerField(
        allow_null=True, help_text="Pass as `after` for the next page; null at the end."
    )


class MessageQuery(serializers.Serializer):
    """Where a page of messages starts."""

    after = serializers.IntegerField(required=False, default=0, min_value=0, max_value=2**31 - 1)
    limit = serializers.IntegerField(required=False, default=50, min_value=1, max_value=100)


class MessageSendSerializer(serializers.Serializer):
    """A message to send: an answer the customer sees, or a note (`internal`); idempotent by `client_id`."""

    client_id = serializers.UUIDField(
        help_text="Your id for this message: a retry with the same id stores nothing new."
    )
    body = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False, max_length=100_000)
    internal = serializers.BooleanField(required=False, default=False)
    attachments = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**53 - 1),
        required=False,
        default=list,
        help_text="Ids of files you uploaded for this conversation.",
    )

    def validate_attachments(self, value: list[int]) -> list[int]:
        """Distinct, within the per-message limit."""
        if len(set(value)) != len(value):
            raise serializers.ValidationError("Attachment ids must be distinct.")
        if len(value) > settings.PARLEY_ATTACHMENTS_PER_MESSAGE:
            raise serializers.ValidationError(
                f"A message carries at most {settings.PARLEY_ATTACHMENTS_PER_MESSAGE} files."
            )
        return value


class ContactSerializer(serializers.ModelSerializer):
    """A customer of a site."""

    attributes = serializers.SerializerMethodField()
    verified = serializers.BooleanField(read_only=True)
    email_confirmed = serializers.BooleanField(read_only=True)

    class Meta:
        model = Visitor
        fields = [
            "id",
            "site",
            "external_id",
            "name",
            "email",
            "email_confirmed",
            "verified",
            "first_seen",
            "last_seen",
            "attributes",
        ]
        read_only_fields = fields

    def get_attributes(self, visitor: Visitor) -> dict:
        """Custom attributes the site's systems keep."""
        row = getattr(visitor, "attributes", None)
        return dict(row.data) if row is not None else {}


class ContactQuery(serializers.Serializer):
    """The contact list's filters."""

    site = serializers.IntegerField(required=False, min_value=1, max_value=2**31 - 1)
    email = serializers.CharField(required=False, max_length=254)


class ContactUpdateSerializer(serializers.Serializer):
    """What the API may change about a customer."""

    name = serializers.CharField(required=False, max_length=120)
    email = serializers.EmailField(required=False, max_length=254)
    attributes = serializers.DictField(
        required=False,
        help_text="Merged into the contact's attributes; a null value removes a key.",
        child=serializers.JSONField(allow_null=True),
    )

    def validate_name(self, value: str) -> str:
        """One line."""
        return clean_line(value)

    def validate_attributes(self, value: dict) -> dict:
        """Short keys, small values."""
        for key, item in value.items():
            if not key or len(key) > 64 or not is_clean_text(key):
                raise serializers.ValidationError("Attribute names are 1 to 64 characters of plain text.")
            if item is not None and not isinstance(item, str | int | float | bool):
                raise serializers.ValidationError("Attribute values are strings, numbers, booleans or null.")
            if isinstance(item, str) and (len(item) > 1000 or not is_clean_text(item)):
                raise serializers.ValidationError("Attribute text is one line of up to 1000 characters.")
        return value


class ArticleSerializer(serializers.ModelSerializer):
    """A knowledge-base article the bot may quote."""

    class Meta:
        model = KnowledgeArticle
        fields = ["id", "site", "title", "body", "language", "published", "updated_at"]
        read_only_fields = ["id", "updated_at"]
        extra_kwargs = {"site": {"queryset": Site.objects.none()}}

    def __init__(self, *args, site_ids: list[int] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        # Only the agent's own sites are choices: another site's id is as unknown as a missing one.
        self.fields["site"].queryset = Site.objects.filter(pk__in=site_ids or [])
        if self.instance is not None:
            self.fields["site"].read_only = True

    def validate_title(self, value: str) -> str:
        """One line."""
        return clean_line(value)

    def validate_language(self, value: str) -> str:
        """A language code."""
        value = clean_line(value)
        if not value:
            raise serializers.ValidationError("A language code like en is needed.")
        return value

    def validate_body(self, value: str) -> str:
        """Text."""
        if not is_clean_text(value, multiline=True):
            raise serializers.ValidationError("Must not contain control characters other than tab and line breaks.")
        return value


# Reports are of days people chatted on: dates far outside these are a client's mistake (and overflow date sums).
EARLIEST_REPORT_DAY = date(2000, 1, 1)
LATEST_REPORT_DAY = date(2999, 12, 31)


class ReportQuery(serializers.Serializer):
    """The report's period and site."""

    start = serializers.DateField(required=False)
    end = serializers.DateField(required=False)
    site = serializers.IntegerField(required=False, min_value=1, max_value=2**31 - 1)

    def validate(self, attrs: dict) -> dict:
        """Both days within the years reports cover."""
        for name in ("start", "end"):
            day = attrs.get(name)
            if day is not None and not EARLIEST_REPORT_DAY <= day <= LATEST_REPORT_DAY:
                raise serializers.ValidationError({name: [f"A day from {EARLIEST_REPORT_DAY} to {LATEST_REPORT_DAY}."]})
        return attrs


class ArticleQuery(serializers.Serializer):
    """The article list's filter."""

    site = serializers.IntegerField(required=False, min_value=1, max_value=2**31 - 1)
