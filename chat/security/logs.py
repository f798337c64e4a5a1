"""Logging for requests a client got wrong: one line each, not a traceback."""

from __future__ import annotations

import logging


class ClientErrorsInOneLine(logging.Filter):
    """Drops the traceback of a record about a 4xx answer, naming its exception on the same line instead.

    Django logs some client errors with the exception attached: a Host header not in ALLOWED_HOSTS
    (django.security.DisallowedHost), a body over DATA_UPLOAD_MAX_MEMORY_SIZE, PermissionDenied,
    django.core.exceptions.BadRequest. Each is the client's mistake and says all there is to say in one line;
    a stack of Django's frames per scanner request buries the server errors that need reading. 5xx records keep
    their tracebacks. Attach it to the handlers (a filter on a logger misses its children's records).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Called with each record the handler is given; never drops a record, only its traceback."""
        status = getattr(record, "status_code", None)
        if record.exc_info and isinstance(status, int) and 400 <= status < 500:
            error = record.exc_info[1]
            try:
                message = record.getMessage()
            except (TypeError, ValueError):  # a record whose arguments do not fit: keep its text as it came
                message = str(record.msg)
            if error is not None:
                message = f"{message} ({type(error).__name__})"
            # Parts of the message are the client's (a Host header, a path): one line whatever they hold.
            record.msg = message.replace("\r", "\\r").replace("\n", "\\n")
            record.args = ()
            record.exc_info = None
            record.exc_text = None
        return True
