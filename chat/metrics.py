"""Process-local counters, exposed in the Prometheus text format at /metrics."""

from __future__ import annotations

import threading


class Counter:
    """A monotonically increasing number per label value, safe to bump from any thread."""

    def __init__(self, name: str, help_text: str, label: str | None = None):
        self.name = name
        self.help_text = help_text
        self.label = label
        self._values: dict[str, float] = {}
        self._lock = threading.Lock()

    def inc(self, label_value: str = "", amount: float = 1) -> None:
        """Add `amount` to the series of `label_value`."""
        with self._lock:
            self._values[label_value] = self._values.get(label_value, 0) + amount

    def value(self, label_value: str = "") -> float:
        """The current total of one series."""
        return self._values.get(label_value, 0)

    def samples(self) -> list[tuple[str, float]]:
        """(label value, total) for every series."""
        with self._lock:
            return sorted(self._values.items())


LAYER_SEND_FAILURES = Counter("parley_layer_send_failures_total", "Channel-layer group sends that raised.")
MESSAGES_STORED = Counter("parley_messages_total", "Messages stored.")
REPLIES_ENDED = Counter("parley_replies_total", "Bot replies ended, by final status.", label="status")
