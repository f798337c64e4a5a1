"""Channel-layer group and channel names, always built from primary keys, never from user text."""

# The channel the AI-reply consumer listens on (runworker ai-reply, or embedded in Daphne).
REPLY_CHANNEL = "ai-reply"


def conversation_group(conversation_id: int) -> str:
    """Every event of a conversation, internal notes included: agents who subscribed."""
    return f"conv.{int(conversation_id)}"


def visitor_group(visitor_id: int) -> str:
    """Customer-visible events of the visitor's conversation: every tab of that visitor."""
    return f"visitor.{int(visitor_id)}"


def site_group(site_id: int) -> str:
    """Inbox events of a site: every dashboard of an agent who serves it."""
    return f"site.{int(site_id)}"


def reply_group(reply_id: int) -> str:
    """The worker generating a reply, so a stop reaches it wherever it runs."""
    return f"reply.{int(reply_id)}"
