"""Prometheus metrics of one app instance (its own registry) and the /metrics handler."""
from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.http_requests = Counter(
            "http_requests_total", "HTTP requests handled", ["route", "method", "status"], registry=self.registry
        )
        self.http_latency = Histogram(
            "http_request_duration_seconds",
            "HTTP request latency",
            ["route"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=self.registry,
        )
        self.health = Gauge("health_check_ok", "1 when a dependency answers", ["check"], registry=self.registry)
        self.state_recovered = Counter(
            "state_recovered_total", "Conversation states Redis lacked and the database gave back (a Redis "
            "restart, failover or eviction)", registry=self.registry)
        self.state_lost = Counter(
            "state_lost_total", "Conversation states that could not be rebuilt (the user got 未預期錯誤)",
            registry=self.registry)
        # The labelled children, looked up once per label set (a `labels()` call costs more than
        # the increment); the label sets are few (routes are templates).
        self._requests: dict[tuple[str, str, int], Any] = {}
        self._latency: dict[str, Any] = {}

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        """Count one HTTP request and its latency."""
        counter = self._requests.get((route, method, status))
        if counter is None:
            counter = self._requests[(route, method, status)] = self.http_requests.labels(route, method, str(status))
        counter.inc()
        latency = self._latency.get(route)
        if latency is None:
            latency = self._latency[route] = self.http_latency.labels(route)
        latency.observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)


def route_name(request: web.Request) -> str:
    """The route template (not the raw path) so labels stay few and carry no IDs."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


def middleware(metrics: Metrics) -> Callable[..., Awaitable[web.StreamResponse]]:
    @web.middleware
    async def record(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
        started = time.perf_counter()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        finally:
            metrics.observe_request(route_name(request), request.method, status, time.perf_counter() - started)

    return record


async def handle_metrics(request: web.Request) -> web.Response:
    from bot.appkeys import METRICS

    body = request.app[METRICS].render()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
