"""Metrics as plain values, and the Prometheus text exposition format (version 0.0.4) by hand.

Pure: no I/O and no third-party imports. Every metric of mqwire (the worker's, the publishers'
and the connections') is first a list of ``Family`` values: ``render`` writes them for
``mserve --http``'s ``/metrics``, and ``mqwire.runtime.prometheus`` hands the same values to
prometheus_client, so both expose the same names.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Sequence
from typing import NamedTuple

#: ``(label, value)`` pairs, in the order they are written.
Labels = tuple[tuple[str, str], ...]


class Sample(NamedTuple):
    """One line: the sample's full name (``_total``, ``_bucket``...), its labels and value."""

    name: str
    labels: Labels
    value: float


class Family(NamedTuple):
    """One metric: ``kind`` is ``counter``, ``gauge`` or ``histogram``; a counter's ``name``
    ends with ``_total``, as its samples' do."""

    name: str
    kind: str
    help: str
    samples: list[Sample]


def check_buckets(buckets: Sequence[float]) -> tuple[float, ...]:
    """Histogram bounds without ``+Inf`` (always added).

    Raises:
        ValueError: the bounds are not strictly increasing.
    """
    bounds = [float(b) for b in buckets]
    if any(math.isnan(b) for b in bounds) or bounds != sorted(set(bounds)):
        raise ValueError(f"histogram buckets must be strictly increasing, got {buckets!r}")
    return tuple(b for b in bounds if b != math.inf)


class Histogram:
    """Observations counted per bucket (not cumulative; the last one is +Inf) and summed."""

    __slots__ = ("bounds", "counts", "sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.sum = 0.0

    def observe(self, value: float) -> None:
        # The first bucket whose bound is >= value; past the last one, +Inf.
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.sum += value

    @property
    def count(self) -> int:
        return sum(self.counts)

    def samples(self, name: str, labels: Labels) -> list[Sample]:
        """``_bucket`` lines (cumulative, ``le`` last), then ``_sum`` and ``_count``."""
        out, cumulative = [], 0
        for bound, count in zip((*self.bounds, math.inf), self.counts, strict=True):
            cumulative += count
            out.append(Sample(f"{name}_bucket", (*labels, ("le", number(bound))), cumulative))
        out.append(Sample(f"{name}_sum", labels, self.sum))
        out.append(Sample(f"{name}_count", labels, cumulative))
        return out


def number(value: float) -> str:
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(value)


def _escape(value: str) -> str:
    return value.replace("\\", r"\\").replace('"', r"\"").replace("\n", r"\n")


def _labels(labels: Labels) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in labels) + "}"


def render(families: Iterable[Family]) -> str:
    """The families in the text exposition format, in the order given."""
    out: list[str] = []
    for family in families:
        out.append(f"# HELP {family.name} {family.help}")
        out.append(f"# TYPE {family.name} {family.kind}")
        out.extend(f"{s.name}{_labels(s.labels)} {number(s.value)}" for s in family.samples)
    return "\n".join(out) + "\n"
