"""Pages of the API: conversations by an opaque cursor; messages after a seq (the API's own cursor, see docs/api.md)."""

from __future__ import annotations

from rest_framework.pagination import CursorPagination


class ConversationCursor(CursorPagination):
    """Most recently updated first; `cursor` from the previous page's `next` link, `limit` up to 100."""

    ordering = ("-updated_at", "-id")
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 100
    invalid_cursor_message = "The cursor is not valid; start again without one."
