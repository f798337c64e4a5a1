"""Bot replies: starting one for a customer message, and stopping the one in flight."""

from __future__ import annotations

from chat.models import Conversation, Message


def reply_begin(*, conversation: Conversation, trigger: Message) -> Message | None:
    """Start the bot's answer to `trigger` (inside the caller's transaction)."""
    return None


def reply_stop_active(*, conversation: Conversation) -> None:
    """Stop the bot's reply in flight in this conversation, if any (inside the caller's transaction)."""
    return None


def reply_stop(*, reply: Message) -> Message:
    """Stop a streaming reply; refuse one that already ended."""
    from chat.services.errors import ConversationError

    raise ConversationError("not_streaming", "That reply is not streaming.")
