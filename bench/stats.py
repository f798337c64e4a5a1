"""Percentiles and summaries of latency samples."""

from __future__ import annotations

import math


def percentile(samples: list[float], fraction: float) -> float | None:
    """The nearest-rank percentile (0 < fraction <= 1) of the samples, or None without samples."""
    if not samples:
        return None
    ordered = sorted(samples)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def summary_ms(samples_seconds: list[float]) -> dict:
    """Count, p50, p99 and max of durations given in seconds, reported in milliseconds."""

    def ms(value):
        return None if value is None else round(value * 1000, 2)

    return {
        "n": len(samples_seconds),
        "p50_ms": ms(percentile(samples_seconds, 0.50)),
        "p99_ms": ms(percentile(samples_seconds, 0.99)),
        "max_ms": ms(max(samples_seconds) if samples_seconds else None),
    }


def ratio(parley: float | None, baseline: float | None) -> float | None:
    """Parley divided by the baseline, or None when either is missing or the baseline is zero."""
    if parley is None or baseline in (None, 0):
        return None
    return round(parley / baseline, 2)
