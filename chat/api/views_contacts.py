"""/api/v1/contacts: the customers of the agent's sites; name, email and custom attributes may be changed."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from chat.api.serializers import ContactQuery, ContactSerializer, ContactUpdateSerializer
from chat.selectors.api import api_contact, api_contacts
from chat.services.contact_attributes import contact_attributes_merge
from chat.services.contacts import visitor_contact_set

TAGS = ["contacts"]


class ContactCursor(CursorPagination):
    """Newest first."""

    ordering = ("-id",)
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 100
    invalid_cursor_message = "The cursor is not valid; start again without one."


class ContactList(APIView):
    """The agent's customers."""

    pagination_class = ContactCursor

    @extend_schema(
        operation_id="contacts_list",
        parameters=[
            ContactQuery,
        ],
        responses=ContactSerializer(many=True),
        tags=TAGS,
    )
    def get(self, request):
        """Newest first; `email` finds a customer by address."""
        query = ContactQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        rows = api_contacts(
            user=request.user, site_id=query.validated_data.get("site"), email=query.validated_data.get("email", "")
        )
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(rows, request, view=self)
        return paginator.get_paginated_response(ContactSerializer(page, many=True).data)


class ContactDetail(APIView):
    """One customer."""

    @extend_schema(operation_id="contacts_read", responses=ContactSerializer, tags=TAGS)
    def get(self, request, contact_id: int):
        """A customer of the agent's sites."""
        return Response(ContactSerializer(api_contact(user=request.user, contact_id=contact_id)).data)

    @extend_schema(
        operation_id="contacts_update", request=ContactUpdateSerializer, responses=ContactSerializer, tags=TAGS
    )
    def patch(self, request, contact_id: int):
        """Change the name, the email (which must then be confirmed again) or custom attributes."""
        body = ContactUpdateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        given = body.validated_data
        contact = api_contact(user=request.user, contact_id=contact_id)
        if given.get("name") or given.get("email"):
            visitor_contact_set(visitor=contact, email=given.get("email", ""), name=given.get("name", ""))
        if "attributes" in given:
            contact_attributes_merge(visitor=contact, attributes=given["attributes"])
        return Response(ContactSerializer(api_contact(user=request.user, contact_id=contact_id)).data)
