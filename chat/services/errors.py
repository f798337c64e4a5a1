"""The error services raise when a change is not allowed in the current state."""


class ConversationError(Exception):
    """A change the conversation's state does not allow; `code` goes to the client."""

    def __init__(self, code: str, detail: str):
        super().__init__(detail)
        self.code = code
        self.detail = detail
