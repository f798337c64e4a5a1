"""/api/v1/conversations: list with filters, read, assign, resolve, reopen, labels; through the desk's services."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from chat.api.pagination import ConversationCursor
from chat.api.serializers import AssignSerializer, ConversationFilters, ConversationSerializer, LabelSerializer
from chat.selectors.access import access_assignee_for_site, access_conversation_for_agent
from chat.selectors.api import api_conversation, api_conversations
from chat.services import conversations, labels
from chat.services.labels import label_name_clean

TAGS = ["conversations"]


def _label(raw: str) -> str:
    try:
        return label_name_clean(raw)
    except ValueError as exc:
        raise ValidationError({"label": [str(exc)]}) from None


def _answer(request, conversation_id: int) -> Response:
    """The conversation as it is now."""
    return Response(ConversationSerializer(api_conversation(user=request.user, conversation_id=conversation_id)).data)


class ConversationList(APIView):
    """The agent's conversations."""

    pagination_class = ConversationCursor

    @extend_schema(
        operation_id="conversations_list",
        parameters=[
            ConversationFilters,
        ],
        responses=ConversationSerializer(many=True),
        tags=TAGS,
    )
    def get(self, request):
        """Most recently updated first, filtered, one page at a time."""
        filters = ConversationFilters(data=request.query_params)
        filters.is_valid(raise_exception=True)
        given = filters.validated_data
        assignee = given.get("assignee", "")
        rows = api_conversations(
            user=request.user,
            site_id=given.get("site"),
            status=given.get("status", ""),
            owner=given.get("owner", ""),
            assignee_id=request.user.pk if assignee == "me" else int(assignee) if assignee.isdigit() else None,
            unassigned=assignee == "none",
            label=_label(given["label"]) if given.get("label") else "",
            updated_since=given.get("updated_since"),
        )
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(rows, request, view=self)
        return paginator.get_paginated_response(ConversationSerializer(page, many=True).data)


class ConversationDetail(APIView):
    """One conversation."""

    @extend_schema(operation_id="conversations_read", responses=ConversationSerializer, tags=TAGS)
    def get(self, request, conversation_id: int):
        """A conversation of the agent's sites."""
        return _answer(request, conversation_id)


class ConversationAssign(APIView):
    """Assign a conversation."""

    @extend_schema(
        operation_id="conversations_assign", request=AssignSerializer, responses=ConversationSerializer, tags=TAGS
    )
    def post(self, request, conversation_id: int):
        """Give it to an agent of its site (who then owns it), or back to the queue with `agent: null`."""
        body = AssignSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        conversation = access_conversation_for_agent(user=request.user, conversation_id=conversation_id)
        agent_id = body.validated_data["agent"]
        assignee = (
            None if agent_id is None else access_assignee_for_site(site_id=conversation.site_id, agent_id=agent_id)
        )
        conversations.conversation_assign(conversation=conversation, assignee=assignee)
        return _answer(request, conversation_id)


class ConversationResolve(APIView):
    """Resolve a conversation."""

    @extend_schema(operation_id="conversations_resolve", request=None, responses=ConversationSerializer, tags=TAGS)
    def post(self, request, conversation_id: int):
        """Close it (a bot reply in flight stops); resolving a resolved one changes nothing."""
        conversation = access_conversation_for_agent(user=request.user, conversation_id=conversation_id)
        conversations.conversation_resolve(conversation=conversation)
        return _answer(request, conversation_id)


class ConversationReopen(APIView):
    """Reopen a conversation."""

    @extend_schema(operation_id="conversations_reopen", request=None, responses=ConversationSerializer, tags=TAGS)
    def post(self, request, conversation_id: int):
        """Open it again, back with its agent if it had one; an open one stays as it is."""
        conversation = access_conversation_for_agent(user=request.user, conversation_id=conversation_id)
        conversations.conversation_reopen(conversation=conversation)
        return _answer(request, conversation_id)


class ConversationLabels(APIView):
    """Put a label on a conversation."""

    @extend_schema(
        operation_id="conversations_labels_add", request=LabelSerializer, responses=ConversationSerializer, tags=TAGS
    )
    def post(self, request, conversation_id: int):
        """Add the label (the site's label is made on first use)."""
        body = LabelSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        name = _label(body.validated_data["label"])
        conversation = access_conversation_for_agent(user=request.user, conversation_id=conversation_id)
        labels.conversation_label_add(conversation=conversation, name=name)
        return _answer(request, conversation_id)


class ConversationLabel(APIView):
    """Take a label off a conversation."""

    @extend_schema(
        operation_id="conversations_labels_remove", request=None, responses=ConversationSerializer, tags=TAGS
    )
    def delete(self, request, conversation_id: int, label: str):
        """Remove the label; one the conversation does not carry changes nothing."""
        name = _label(label)
        conversation = access_conversation_for_agent(user=request.user, conversation_id=conversation_id)
        labels.conversation_label_remove(conversation=conversation, name=name)
        return _answer(request, conversation_id)
