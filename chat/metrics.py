"""Process-local counters, exposed in the Prometheus text format."""

import threading


class Counter:
    """A monotonically increasing number, safe to bump from any thread."""

    def __init__(self, name: str, help_text: str):
        self.name = name
        self.help_text = help_text
        self._value = 0
        self._lock = threading.Lock()

    def inc(self, amount: int = 1) -> None:
        """Add `amount`."""
        with self._lock:
            self._value += amount

    @property
    def value(self) -> int:
        """The current total."""
        return self._value


LAYER_SEND_FAILURES = Counter("parley_layer_send_failures_total", "Channel-layer group sends that raised.")
MESSAGES_STORED = Counter("parley_messages_total", "Messages stored.")
