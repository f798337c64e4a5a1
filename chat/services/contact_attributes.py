"""Custom attributes of a customer, kept for the site's own systems and shown to agents."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from chat.models import ContactAttributes, Visitor

MAX_ATTRIBUTES = 50


def contact_attributes_merge(*, visitor: Visitor, attributes: dict) -> dict:
    """Merge attributes into the customer's (a null value removes the key); return them all."""
    with transaction.atomic():
        row, _ = ContactAttributes.objects.select_for_update().get_or_create(visitor=visitor)
        data = dict(row.data)
        for key, value in attributes.items():
            if value is None:
                data.pop(key, None)
            else:
                data[key] = value
        if len(data) > MAX_ATTRIBUTES:
            raise ValueError(f"A contact keeps at most {MAX_ATTRIBUTES} attributes.")
        row.data, row.updated_at = data, timezone.now()
        row.save(update_fields=["data", "updated_at"])
    return data
