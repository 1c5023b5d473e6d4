"""The Prometheus text rendering of counters, histograms and scrape-time readings, and the sums over the
processes of one `serve --workers N`."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ltigate.services.metrics import LATENCY_BUCKETS, MAX_SERIES, Histogram, Metrics, Reading, Snapshot, _number

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_counters_histograms_and_readings_render_in_the_text_format() -> None:
    metrics = Metrics()
    metrics.launches.inc("failed", "kid_not_found", 'odd"type\n')
    metrics.launches.inc("failed", "kid_not_found", 'odd"type\n')
    metrics.request_seconds.observe(0.003, "/lti/launch")
    metrics.request_seconds.observe(0.2, "/lti/launch")
    metrics.delivery_seconds.observe(2.0)

    async def reading() -> list[Reading]:
        return [Reading("ltigate_score_jobs", "Jobs", "gauge", (((("status", "pending"),), 4.0),))]

    metrics.add_reader(reading)
    text = await metrics.render()
    lines = text.splitlines()

    assert "# TYPE ltigate_launches_total counter" in lines
    assert 'ltigate_launches_total{outcome="failed",error_code="kid_not_found",message_type="odd\\"type\\n"} 2' in lines
    assert 'ltigate_request_duration_seconds_bucket{path="/lti/launch",le="0.005"} 1' in lines
    assert 'ltigate_request_duration_seconds_bucket{path="/lti/launch",le="0.1"} 1' in lines
    assert 'ltigate_request_duration_seconds_bucket{path="/lti/launch",le="0.25"} 2' in lines
    assert 'ltigate_request_duration_seconds_bucket{path="/lti/launch",le="+Inf"} 2' in lines
    assert 'ltigate_request_duration_seconds_sum{path="/lti/launch"} 0.203' in lines
    assert 'ltigate_request_duration_seconds_count{path="/lti/launch"} 2' in lines
    assert 'ltigate_score_delivery_seconds_bucket{le="1"} 0' in lines
    assert 'ltigate_score_delivery_seconds_bucket{le="5"} 1' in lines
    assert "# TYPE ltigate_score_jobs gauge" in lines
    assert 'ltigate_score_jobs{status="pending"} 4' in lines
    assert text.endswith("\n")


async def test_label_values_beyond_the_bound_fold_into_one_series() -> None:
    metrics = Metrics()
    for n in range(MAX_SERIES + 50):
        metrics.launches.inc("failed", f"code-{n}", "")
    text = await metrics.render()
    assert len(metrics.launches.values) == MAX_SERIES + 1
    assert 'ltigate_launches_total{outcome="other",error_code="other",message_type="other"} 50' in text


@given(
    st.lists(st.one_of(st.sampled_from(LATENCY_BUCKETS), st.floats(0, 100, allow_nan=False)), min_size=1, max_size=40)
)
def test_a_histogram_bucket_counts_every_observation_at_or_below_its_bound(values: list[float]) -> None:
    histogram = Histogram("h", "test")
    for value in values:
        histogram.observe(value)
    lines = histogram.render()
    for bound in LATENCY_BUCKETS:
        expected = sum(1 for value in values if value <= bound)
        assert f'h_bucket{{le="{_number(bound)}"}} {expected}' in lines
    assert f'h_bucket{{le="+Inf"}} {len(values)}' in lines
    assert f"h_count {len(values)}" in lines


class Peers:
    """MetricsPeers in memory: what this process published, and the others' snapshots (as JSON carries them)."""

    def __init__(self, *others: object) -> None:
        self.published: list[object] = []
        self._others = [json.loads(json.dumps(other)) for other in others]

    def publish(self, snapshot: Snapshot) -> None:
        self.published.append(snapshot)

    def others(self) -> list[Snapshot]:
        return self._others


def _jobs_reader(pending: float) -> Callable[[], Awaitable[list[Reading]]]:
    async def reading() -> list[Reading]:
        return [
            Reading("ltigate_score_jobs", "Jobs", "gauge", (((("status", "pending"),), pending),)),
            Reading("ltigate_jwks_fetches_total", "Fetches", "counter", (((), 3.0),)),
        ]

    return reading


async def _process(launches: int, latencies: list[float], pending: float, peers: Peers | None = None) -> Metrics:
    metrics = Metrics(peers)
    for _ in range(launches):
        metrics.launches.inc("succeeded", "", "LtiResourceLinkRequest")
    metrics.launches.inc("failed", "kid_not_found", "LtiResourceLinkRequest")
    for seconds in latencies:
        metrics.request_seconds.observe(seconds, "/lti/launch")
    metrics.add_reader(_jobs_reader(pending))
    return metrics


async def test_a_scrape_sums_the_counters_and_histograms_of_every_process_and_keeps_its_own_gauges() -> None:
    other = await (await _process(5, [0.003, 0.3], pending=7)).snapshot()
    peers = Peers(other)
    lines = (await (await _process(2, [0.02], pending=4, peers=peers)).render()).splitlines()

    assert len(peers.published) == 1  # a scrape leaves this process's own figures for the others
    ok = 'ltigate_launches_total{outcome="succeeded",error_code="",message_type="LtiResourceLinkRequest"}'
    assert f"{ok} 7" in lines
    assert (
        'ltigate_launches_total{outcome="failed",error_code="kid_not_found",message_type="LtiResourceLinkRequest"} 2'
        in lines
    )
    assert 'ltigate_request_duration_seconds_bucket{path="/lti/launch",le="0.005"} 1' in lines
    assert 'ltigate_request_duration_seconds_bucket{path="/lti/launch",le="0.025"} 2' in lines
    assert 'ltigate_request_duration_seconds_bucket{path="/lti/launch",le="+Inf"} 3' in lines
    assert 'ltigate_request_duration_seconds_count{path="/lti/launch"} 3' in lines
    assert "ltigate_jwks_fetches_total 6" in lines  # a counter reading: summed
    assert 'ltigate_score_jobs{status="pending"} 4' in lines  # a gauge: the answering process's own


async def test_a_snapshot_of_another_shape_is_left_out_whole() -> None:
    good = await (await _process(5, [0.003], pending=0)).snapshot()
    half = json.loads(json.dumps(good))
    half["histograms"][0]["series"][0][1] = "not counts"  # its counters come first and must not be added
    other_buckets = json.loads(json.dumps(good))
    for histogram in other_buckets["histograms"]:
        histogram["buckets"] = [1, 2, 3]
    other_buckets["counters"] = []
    peers = Peers(half, {"counters": "nonsense"}, ["not", "a", "snapshot"], other_buckets)
    lines = (await (await _process(1, [0.003], pending=0, peers=peers)).render()).splitlines()

    ok = 'ltigate_launches_total{outcome="succeeded",error_code="",message_type="LtiResourceLinkRequest"}'
    assert f"{ok} 1" in lines
    assert 'ltigate_request_duration_seconds_count{path="/lti/launch"} 1' in lines  # other buckets: not added
    assert "ltigate_jwks_fetches_total 6" in lines  # other_buckets's readings are a snapshot's


async def test_the_snapshot_published_for_the_others_reads_no_database_gauge() -> None:
    """Published once a second by every process: a gauge read from the database would cost a query each
    time (and fail each time while the database is down), for a figure the others never add."""
    peers = Peers()
    metrics = await _process(1, [], pending=0, peers=peers)  # its reader gives a counter and a gauge
    gauge_reads = 0

    async def from_the_database() -> list[Reading]:
        nonlocal gauge_reads
        gauge_reads += 1
        return [Reading("ltigate_outbox_depth", "Jobs", "gauge", (((), 2.0),))]

    metrics.add_reader(from_the_database, scrape_only=True)
    await metrics.publish()

    assert gauge_reads == 0
    (published,) = peers.published
    assert [r["name"] for r in published["readings"]] == ["ltigate_score_jobs", "ltigate_jwks_fetches_total"]
    assert "ltigate_outbox_depth 2" in (await metrics.render()).splitlines()
    assert gauge_reads == 1
