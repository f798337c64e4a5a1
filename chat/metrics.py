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


class Summary:
    """Observed durations: count, sum, and quantiles over the most recent observations."""

    def __init__(self, name: str, help_text: str, keep: int = 1000):
        self.name = name
        self.help_text = help_text
        self.keep = keep
        self.count = 0
        self.total = 0.0
        self._recent: list[float] = []
        self._lock = threading.Lock()

    def observe(self, seconds: float) -> None:
        """Record one duration."""
        with self._lock:
            self.count += 1
            self.total += seconds
            self._recent.append(seconds)
            if len(self._recent) > self.keep:
                del self._recent[: len(self._recent) - self.keep]

    def quantile(self, q: float) -> float | None:
        """The q-quantile of the recent observations (nearest rank), or None without any."""
        with self._lock:
            ordered = sorted(self._recent)
        if not ordered:
            return None
        return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


LAYER_SEND_FAILURES = Counter("parley_layer_send_failures_total", "Channel-layer group sends that raised.")
MESSAGES_STORED = Counter("parley_messages_total", "Messages stored.")
REPLIES_ENDED = Counter("parley_replies_total", "Bot replies ended, by final status.", label="status")
BOT_OUTCOMES = Counter("parley_bot_outcomes_total", "Complete bot replies, by what they did.", label="outcome")
STOP_LATENCY = Summary("parley_stop_latency_seconds", "From a stop reaching the worker to its reply ending.")
FIRST_TOKEN = Summary("parley_first_token_seconds", "From a worker claiming a reply to its first delta.")

COUNTERS = [MESSAGES_STORED, REPLIES_ENDED, BOT_OUTCOMES, LAYER_SEND_FAILURES]
SUMMARIES = [STOP_LATENCY, FIRST_TOKEN]


def snapshot() -> dict:
    """This process's numbers, as plain data (workers share theirs through the cache)."""
    return {
        "counters": {c.name: c.samples() for c in COUNTERS},
        "summaries": {s.name: {"count": s.count, "sum": s.total, "0.5": s.quantile(0.5), "0.99": s.quantile(0.99)}
                      for s in SUMMARIES},
    }
