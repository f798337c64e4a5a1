"""The back office of the public API: agents' tokens, sites' webhook endpoints, and the delivery log."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from chat.models import ApiToken, WebhookDelivery, WebhookEndpoint
from chat.security.webhook_urls import UnsafeURL, url_check
from chat.services.api_tokens import api_token_create, api_token_revoke
from chat.services.webhooks import EVENT_TYPES, webhook_delivery_resend


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("name", "user", "prefix", "scope", "created_at", "last_used_at", "revoked_at")
    list_filter = ("scope", ("revoked_at", admin.EmptyFieldListFilter))
    search_fields = ("name", "prefix", "user__username")
    fields = ("user", "name", "scope", "prefix", "created_at", "last_used_at", "revoked_at")
    readonly_fields = ("prefix", "created_at", "last_used_at", "revoked_at")
    raw_id_fields = ("user",)
    actions = ["revoke"]

    def get_readonly_fields(self, request, obj=None):
        # A token's agent and scope are what it was made with: a new token is made for another agent or scope.
        return self.readonly_fields + (("user", "scope") if obj is not None else ())

    def save_model(self, request, obj, form, change):
        if change:
            obj.save(update_fields=["name"])
            return
        token, raw = api_token_create(user=obj.user, name=obj.name, scope=obj.scope)
        obj.pk, obj.prefix, obj.secret_hash, obj.created_at = (
            token.pk,
            token.prefix,
            token.secret_hash,
            token.created_at,
        )
        obj._state.adding = False
        self.message_user(
            request,
            _("The token is %(token)s. Copy it now: it is not shown again.") % {"token": raw},
            messages.WARNING,
        )

    @admin.action(description=gettext_lazy("Revoke selected tokens"))
    def revoke(self, request, queryset):
        tokens = list(queryset.filter(revoked_at__isnull=True))
        for token in tokens:
            api_token_revoke(token=token)
        self.message_user(request, _("%(count)d tokens revoked.") % {"count": len(tokens)}, messages.SUCCESS)


class WebhookEndpointForm(forms.ModelForm):
    url = forms.URLField(max_length=500, assume_scheme="https")
    events = forms.MultipleChoiceField(
        choices=[(event, event) for event in EVENT_TYPES], widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = WebhookEndpoint
        fields = ("site", "url", "events", "active", "description")

    def clean_url(self) -> str:
        url = self.cleaned_data["url"]
        try:
            url_check(url)
        except UnsafeURL as exc:
            raise forms.ValidationError(str(exc)) from None
        return url


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    form = WebhookEndpointForm
    list_display = ("url", "site", "active", "created_at")
    list_filter = ("active", "site")
    search_fields = ("url", "description")
    readonly_fields = ("secret", "created_at")


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = (
        "event_type",
        "endpoint",
        "status",
        "attempts",
        "response_code",
        "duration_ms",
        "created_at",
        "last_attempt_at",
    )
    list_filter = ("status", "event_type", "endpoint__site")
    search_fields = ("event_id", "endpoint__url")
    readonly_fields = [field.name for field in WebhookDelivery._meta.fields]
    actions = ["resend"]

    def has_add_permission(self, request) -> bool:
        return False  # deliveries come from events

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.action(description=gettext_lazy("Resend selected deliveries"), permissions=["view"])
    def resend(self, request, queryset):
        deliveries = list(queryset)
        for delivery in deliveries:
            webhook_delivery_resend(delivery=delivery)
        self.message_user(
            request, _("%(count)d deliveries queued again.") % {"count": len(deliveries)}, messages.SUCCESS
        )
