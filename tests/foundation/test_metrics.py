"""Request metrics: each (route, method, status) counted on its own, latency per route."""
from __future__ import annotations

from bot.metrics import Metrics


def test_requests_are_counted_per_label_set_and_latency_per_route() -> None:
    metrics = Metrics()
    for status in (200, 200, 400, 200):
        metrics.observe_request("/callback", "POST", status, 0.003)
    metrics.observe_request("/healthz", "GET", 200, 0.2)
    text = metrics.render().decode()
    assert 'http_requests_total{method="POST",route="/callback",status="200"} 3.0' in text
    assert 'http_requests_total{method="POST",route="/callback",status="400"} 1.0' in text
    assert 'http_requests_total{method="GET",route="/healthz",status="200"} 1.0' in text
    assert 'http_request_duration_seconds_bucket{le="0.005",route="/callback"} 4.0' in text
    assert 'http_request_duration_seconds_bucket{le="0.1",route="/healthz"} 0.0' in text
