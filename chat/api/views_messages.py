"""/api/v1/conversations/<id>/messages: read from a seq; send an answer or a note, as the desk's socket does."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from chat.api.serializers import MessagePage, MessageQuery, MessageSendSerializer, MessageSerializer
from chat.protocol import frames
from chat.selectors.access import access_conversation_for_agent
from chat.selectors.agents import agent_site_ids
from chat.selectors.api import api_message, api_messages
from chat.services import conversations

TAGS = ["messages"]


class MessageList(APIView):
    """A conversation's messages."""

    @extend_schema(operation_id="messages_list", parameters=[MessageQuery], responses=MessagePage, tags=TAGS)
    def get(self, request, conversation_id: int):
        """Messages after seq `after` (0: from the start), notes included; `next_after` continues."""
        query = MessageQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        conversation = access_conversation_for_agent(user=request.user, conversation_id=conversation_id)
        rows, more = api_messages(conversation=conversation, **query.validated_data)
        return Response(
            {
                "results": MessageSerializer(rows, many=True).data,
                "next_after": rows[-1].seq if more else None,
            }
        )

    @extend_schema(
        operation_id="messages_send",
        request=MessageSendSerializer,
        responses={
            201: OpenApiResponse(MessageSerializer, description="Stored now."),
            200: OpenApiResponse(MessageSerializer, description="Stored before, by a send with this client_id."),
        },
        tags=TAGS,
    )
    def post(self, request, conversation_id: int):
        """Answer the customer (a human then owns the conversation), or leave a note with `internal: true`."""
        body = MessageSendSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        given = body.validated_data
        client_id = str(given["client_id"])
        attachment_ids = given["attachments"]
        # The socket's own checks of a body: the same text is accepted or refused either way.
        text = frames.body({"body": given.get("body")}, client_id, may_be_empty=bool(attachment_ids))
        site_ids = agent_site_ids(request.user)
        conversation = access_conversation_for_agent(
            user=request.user, conversation_id=conversation_id, site_ids=site_ids
        )
        result = None
        if not attachment_ids:
            result = conversations.agent_message_send_fast(
                agent=request.user,
                site_ids=site_ids,
                conversation_id=conversation.pk,
                client_id=client_id,
                body=text,
                internal=given["internal"],
            )
        result = result or conversations.agent_message_send(
            agent=request.user,
            conversation=conversation,
            client_id=client_id,
            body=text,
            internal=given["internal"],
            attachment_ids=attachment_ids,
        )
        message = api_message(conversation=conversation, message_id=result.message.pk)
        return Response(MessageSerializer(message).data, status=201 if result.created else 200)
