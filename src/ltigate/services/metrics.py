"""Metrics in the Prometheus text format (exposition format 0.0.4), kept in process: counters and
histograms updated by the use cases, and readings taken when `/metrics` is scraped (caches, the outbox).

Each server or worker process keeps its own. The processes of one `serve --workers N` share theirs through
MetricsPeers (snapshots as plain data), so a scrape answered by any of them sums the counters and
histograms of all, including processes that have since been replaced; gauges are the answering process's
own (the only one, the outbox by status, is read from the database). Label values come from a bounded set
(outcomes, error codes, message types, paths, statuses); nothing personal, no tokens or keys.
"""

from __future__ import annotations

import builtins
import math
from bisect import bisect_left
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from ltigate.services.ports import LaunchLog
from ltigate.services.records import LaunchFilter, LaunchRecord

LATENCY_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
DELIVERY_BUCKETS: Final = (0.1, 0.5, 1.0, 5.0, 30.0, 60.0, 300.0, 1800.0, 3600.0, 6 * 3600.0, 24 * 3600.0)
MAX_SERIES: Final = 500  # per metric: a flood of distinct label values must not grow memory without bound
OVERFLOW: Final = "other"
INF: Final = 'le="+Inf"'


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(names: Sequence[str], values: Sequence[str], extra: str = "") -> str:
    pairs = [f'{name}="{_escape(value)}"' for name, value in zip(names, values, strict=True)]
    if extra:
        pairs.append(extra)
    return "{" + ",".join(pairs) + "}" if pairs else ""


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


@dataclass
class Counter:
    name: str
    help: str
    labels: tuple[str, ...] = ()
    values: dict[tuple[str, ...], float] = field(default_factory=dict)

    def inc(self, *labels: str, amount: float = 1.0) -> None:
        key = _bounded(self.values, tuple(labels))
        self.values[key] = self.values.get(key, 0.0) + amount

    def dump(self) -> dict[str, Any]:
        return {"name": self.name, "help": self.help, "labels": list(self.labels), "values": list(self.values.items())}

    def render(self) -> list[str]:
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} counter"]
        lines += [f"{self.name}{_labels(self.labels, k)} {_number(v)}" for k, v in sorted(self.values.items())]
        return lines


@dataclass
class Histogram:
    name: str
    help: str
    labels: tuple[str, ...] = ()
    buckets: tuple[float, ...] = LATENCY_BUCKETS
    # Per series: the count of each bucket alone (not cumulative; summed when rendered), then sum, count.
    series: dict[tuple[str, ...], list[float]] = field(default_factory=dict)

    def observe(self, seconds: float, *labels: str) -> None:
        key = _bounded(self.series, tuple(labels))
        counts = self.series.get(key)
        if counts is None:
            counts = self.series[key] = [0.0] * (len(self.buckets) + 2)
        index = bisect_left(self.buckets, seconds)  # the first bucket whose bound is >= seconds
        if index < len(self.buckets):
            counts[index] += 1
        counts[-2] += seconds
        counts[-1] += 1

    def dump(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "help": self.help,
            "labels": list(self.labels),
            "buckets": list(self.buckets),
            "series": list(self.series.items()),
        }

    def render(self) -> list[str]:
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} histogram"]
        for key, counts in sorted(self.series.items()):
            below = 0.0
            for index, bound in enumerate(self.buckets):
                below += counts[index]
                le = f'le="{_number(bound)}"'
                lines.append(f"{self.name}_bucket{_labels(self.labels, key, le)} {_number(below)}")
            lines.append(f"{self.name}_bucket{_labels(self.labels, key, INF)} {_number(counts[-1])}")
            lines.append(f"{self.name}_sum{_labels(self.labels, key)} {_number(counts[-2])}")
            lines.append(f"{self.name}_count{_labels(self.labels, key)} {_number(counts[-1])}")
        return lines


def _bounded(series: Mapping[tuple[str, ...], object], key: tuple[str, ...]) -> tuple[str, ...]:
    if key in series or len(series) < MAX_SERIES:
        return key
    return tuple(OVERFLOW for _ in key)


@dataclass(frozen=True, slots=True)
class Reading:
    """A value read at scrape time: a gauge, or a counter kept elsewhere (e.g. by a cache)."""

    name: str
    help: str
    kind: str  # "gauge" | "counter"
    samples: tuple[tuple[tuple[tuple[str, str], ...], float], ...]  # ((label, value)...), value


Reader = Callable[[], Awaitable[list[Reading]]]

# A process's metrics as plain data (what json can carry): {"counters": [...], "histograms": [...],
# "readings": [...]}, as Counter.dump, Histogram.dump and Reading's fields give them.
Snapshot = dict[str, Any]


class MetricsPeers(Protocol):
    """The other processes of one `serve --workers N`: where this one leaves its snapshot, and theirs."""

    def publish(self, snapshot: Snapshot) -> None: ...

    def others(self) -> list[Snapshot]: ...


class Metrics:
    def __init__(self, peers: MetricsPeers | None = None) -> None:
        self.launches = Counter(
            "ltigate_launches_total",
            "Launch attempts (logins that failed count as message_type login) by outcome and error code",
            ("outcome", "error_code", "message_type"),
        )
        self.request_seconds = Histogram(
            "ltigate_request_duration_seconds",
            "Time to answer the launch's two requests, by path",
            ("path",),
        )
        self.deliveries = Counter("ltigate_score_deliveries_total", "Score delivery attempts by result", ("result",))
        self.delivery_seconds = Histogram(
            "ltigate_score_delivery_seconds",
            "From queuing a score to its delivery to the LMS",
            buckets=DELIVERY_BUCKETS,
        )
        self._readers: list[tuple[Reader, bool]] = []
        self._peers = peers

    def add_reader(self, reader: Reader, *, scrape_only: bool = False) -> None:
        """`scrape_only`: gauges read elsewhere (the database), left out of the snapshots published for the
        other processes, which would not add them anyway."""
        self._readers.append((reader, scrape_only))

    async def snapshot(self, *, for_peers: bool = False) -> Snapshot:
        readings = [
            reading
            for reader, scrape_only in self._readers
            if not (for_peers and scrape_only)
            for reading in await reader()
        ]
        return {
            "counters": [self.launches.dump(), self.deliveries.dump()],
            "histograms": [self.request_seconds.dump(), self.delivery_seconds.dump()],
            "readings": [
                {"name": r.name, "help": r.help, "kind": r.kind, "samples": [list(sample) for sample in r.samples]}
                for r in readings
            ],
        }

    async def publish(self) -> None:
        """Leave this process's snapshot for the others (nothing without peers)."""
        if self._peers is not None:
            self._peers.publish(await self.snapshot(for_peers=True))

    async def render(self) -> str:
        """The exposition text: this process's metrics, summed with its peers' when it has any."""
        own = await self.snapshot()
        if self._peers is not None:
            self._peers.publish(own)
            own = merged(own, self._peers.others())
        return render_snapshot(own)


def merged(own: Snapshot, others: Sequence[Snapshot]) -> Snapshot:
    """`own` with the counters, histograms and counter readings of `others` added (by name and labels;
    a histogram only where its buckets are the same). Gauges stay `own`'s. A snapshot of another shape
    (another version's, or not one at all) is left out whole."""
    counters = {c["name"]: {tuple(k): v for k, v in c["values"]} for c in own["counters"]}
    histograms = {h["name"]: {tuple(k): list(v) for k, v in h["series"]} for h in own["histograms"]}
    buckets = {h["name"]: list(h["buckets"]) for h in own["histograms"]}
    readings = {
        r["name"]: {_pairs(labels): value for labels, value in r["samples"]}
        for r in own["readings"]
        if r["kind"] == "counter"
    }
    for other in others:
        try:
            _add(other, counters, histograms, buckets, readings)
        except (KeyError, TypeError, ValueError, IndexError):
            continue
    return {
        "counters": [{**c, "values": list(counters[c["name"]].items())} for c in own["counters"]],
        "histograms": [{**h, "series": list(histograms[h["name"]].items())} for h in own["histograms"]],
        "readings": [
            {**r, "samples": [list(sample) for sample in readings[r["name"]].items()]} if r["name"] in readings else r
            for r in own["readings"]
        ],
    }


def _add(
    other: Snapshot,
    counters: dict[str, dict[tuple[str, ...], float]],
    histograms: dict[str, dict[tuple[str, ...], list[float]]],
    buckets: dict[str, list[float]],
    readings: dict[str, dict[tuple[tuple[str, str], ...], float]],
) -> None:
    """Add `other` into the tallies, or raise (leaving them unchanged) when it is not a snapshot."""
    counter_values = [
        (values, tuple(str(x) for x in key), float(value))
        for c in other["counters"]
        if (values := counters.get(c["name"])) is not None
        for key, value in c["values"]
    ]
    histogram_values = [
        (series, tuple(str(x) for x in key), [float(x) for x in counts])
        for h in other["histograms"]
        if (series := histograms.get(h["name"])) is not None and list(h["buckets"]) == buckets[h["name"]]
        for key, counts in h["series"]
    ]
    reading_values = [
        (samples, _pairs(labels), float(value))
        for r in other["readings"]
        if r["kind"] == "counter" and (samples := readings.get(r["name"])) is not None
        for labels, value in r["samples"]
    ]
    for values, key, value in counter_values:
        values[key] = values.get(key, 0.0) + value
    for series, key, counts in histogram_values:
        mine = series.setdefault(key, [0.0] * len(counts))
        if len(mine) == len(counts):
            series[key] = [a + b for a, b in zip(mine, counts, strict=True)]
    for samples, pairs, value in reading_values:
        samples[pairs] = samples.get(pairs, 0.0) + value


def _pairs(labels: Sequence[Sequence[str]]) -> tuple[tuple[str, str], ...]:
    return tuple((str(name), str(value)) for name, value in labels)


def render_snapshot(snapshot: Snapshot) -> str:
    lines: list[str] = []
    for c in snapshot["counters"]:
        lines += Counter(c["name"], c["help"], tuple(c["labels"]), {tuple(k): v for k, v in c["values"]}).render()
    for h in snapshot["histograms"]:
        series = {tuple(k): list(v) for k, v in h["series"]}
        lines += Histogram(h["name"], h["help"], tuple(h["labels"]), tuple(h["buckets"]), series).render()
    for r in snapshot["readings"]:
        lines += [f"# HELP {r['name']} {r['help']}", f"# TYPE {r['name']} {r['kind']}"]
        for labels, value in r["samples"]:
            names, values = tuple(n for n, _ in labels), tuple(v for _, v in labels)
            lines.append(f"{r['name']}{_labels(names, values)} {_number(value)}")
    return "\n".join(lines) + "\n"


class CountedLaunchLog:
    """The launch log, counting every attempt it records into `ltigate_launches_total`."""

    def __init__(self, inner: LaunchLog, metrics: Metrics) -> None:
        self._inner, self._metrics = inner, metrics

    async def record(self, launch: LaunchRecord) -> None:
        await self._inner.record(launch)
        self._metrics.launches.inc(launch.outcome.value, launch.error_code or "", launch.message_type or "")

    async def get(self, launch_id: str) -> LaunchRecord | None:
        return await self._inner.get(launch_id)

    async def list(self, query: LaunchFilter) -> builtins.list[LaunchRecord]:
        return await self._inner.list(query)

    async def redeem_ticket(self, launch_id: str, jti: str, now: float) -> bool:
        return await self._inner.redeem_ticket(launch_id, jti, now)
