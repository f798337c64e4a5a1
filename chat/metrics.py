"""Parley's counters and latency histograms (prometheus_client), and their exposition across processes.

Each process counts in its own registry. AI workers run on other hosts, so prometheus_client's multiprocess
mode (files in one shared directory) cannot gather them: a worker publishes `snapshot()` through the cache
instead, and /metrics exports every process's snapshot with a `process` label through `ProcessSnapshots`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import prometheus_client
from prometheus_client.core import Metric

REGISTRY = prometheus_client.CollectorRegistry()

# A hosted model's first token takes 0.3-3 s, the offline bot's milliseconds; AI_TIMEOUT (20 s by default)
# ends the wait, so nothing is observed above it.
FIRST_TOKEN_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0)
# A customer's message is stored and acknowledged in milliseconds; the upper buckets show queueing under load.
ACK_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
# A stop cancels a task and stores the reply: milliseconds, unless the database or the provider hangs.
STOP_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Counter:
    """A prometheus_client counter with at most one label, bumped and read by that label's value."""

    def __init__(self, name: str, help_text: str, label: str | None = None):
        self.name = name
        self.label = label
        self._counter = prometheus_client.Counter(name, help_text, [label] if label else [], registry=REGISTRY)

    def inc(self, label_value: str = "", amount: float = 1) -> None:
        """Add `amount` to the series of `label_value`."""
        (self._counter.labels(label_value) if self.label else self._counter).inc(amount)

    def value(self, label_value: str = "") -> float:
        """This process's total of one series (0 before its first increment)."""
        labels = {self.label: str(label_value)} if self.label else {}
        return REGISTRY.get_sample_value(self.name, labels) or 0


LAYER_SEND_FAILURES = Counter("parley_layer_send_failures_total", "Channel-layer group sends that raised.")
MESSAGES_STORED = Counter("parley_messages_total", "Messages stored.")
REPLIES_ENDED = Counter("parley_replies_total", "Bot replies ended, by final status.", label="status")
BOT_OUTCOMES = Counter("parley_bot_outcomes_total", "Complete bot replies, by what they did.", label="outcome")
RATE_LIMITED = Counter(
    "parley_rate_limited_total", "Hits refused by a rate limit or connection cap, by limit.", label="limit"
)
STOP_LATENCY = prometheus_client.Histogram(
    "parley_stop_latency_seconds",
    "From a stop reaching the worker to its reply ending.",
    buckets=STOP_LATENCY_BUCKETS,
    registry=REGISTRY,
)
MESSAGE_ACK = prometheus_client.Histogram(
    "parley_message_ack_seconds",
    "From a customer's message.send reaching its socket to the ack leaving it.",
    buckets=ACK_LATENCY_BUCKETS,
    registry=REGISTRY,
)
FIRST_TOKEN = prometheus_client.Histogram(
    "parley_first_token_seconds",
    "From a worker claiming a reply to its first delta.",
    buckets=FIRST_TOKEN_BUCKETS,
    registry=REGISTRY,
)


def snapshot() -> dict[str, list[list]]:
    """This process's samples as plain data, by metric family: `{family: [[sample, {label: value}, number]]}`."""
    # Creation times are per process and read by no dashboard; left out, they do not double the output.
    return {
        family.name: [
            [sample.name, sample.labels, sample.value]
            for sample in family.samples
            if sample.name != f"{family.name}_created"
        ]
        for family in REGISTRY.collect()
    }


class ProcessSnapshots:
    """A collector exporting several processes' snapshots as one set of metric families, labelled by process."""

    def __init__(self, snapshots: Mapping[str, Mapping]):
        """`snapshots` maps a process name to what `snapshot()` returned in that process."""
        self.snapshots = snapshots

    def collect(self) -> Iterable[Metric]:
        """One family per Parley metric, holding every process's samples (as prometheus_client's own
        multiprocess collector merges processes)."""
        for family in REGISTRY.collect():
            merged = Metric(family.name, family.documentation, family.type, family.unit)
            for process, samples in self.snapshots.items():
                # A snapshot of another version may lack a family (or hold unknown ones): skip what is not here.
                for name, labels, value in samples.get(family.name, ()):
                    merged.add_sample(name, {"process": process, **labels}, value)
            yield merged
