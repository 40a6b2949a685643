"""Recovery metrics in process: error frequency by type, recovery success, retry attempts and
recovery time; exported through prometheus-client when enabled."""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from typing import Any, Final

__all__ = ["RecoveryMetrics", "metrics"]

#: Histogram buckets: retries per recovery, and recovery time in seconds.
RETRY_BUCKETS: Final[tuple[float, ...]] = (0, 1, 2, 3, 5, 8, 13)
SECONDS_BUCKETS: Final[tuple[float, ...]] = (
    0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
)  # fmt: skip


class RecoveryMetrics:
    """Counts of errors and recoveries, kept in process by :func:`~faultcast.sdk.guard`.

    :meth:`enable_prometheus` also exports them as ``faultcast_errors_total{category,
    error_type}``, ``faultcast_recoveries_total{category, action, outcome}``,
    ``faultcast_retry_attempts{category}`` (histogram) and
    ``faultcast_recovery_seconds{action}`` (histogram); serve them with
    ``prometheus_client.start_http_server(port)`` or your framework's exporter.

    Examples
    --------
    >>> m = RecoveryMetrics()
    >>> m.record("communication", "TimeoutError", "retry_with_backoff", "succeeded", 2, 120.0)
    >>> m.record("communication", "TimeoutError", "retry_with_backoff", "failed", 3, 900.0)
    >>> snap = m.snapshot()
    >>> snap["errors"], snap["recovery_success_rate"]["retry_with_backoff"]
    ({'communication/TimeoutError': 2}, 0.5)
    >>> snap["retry_attempts"]["mean"], snap["recovery_ms"]["retry_with_backoff"]["mean"]
    (2.5, 510.0)
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.errors: Counter[tuple[str, str]] = Counter()
        self.recoveries: Counter[tuple[str, str, str]] = Counter()
        self.retry_counts: Counter[int] = Counter()
        self._ms_sum: dict[str, float] = defaultdict(float)
        self._ms_n: Counter[str] = Counter()
        self._prometheus: dict[str, Any] | None = None

    def record(
        self,
        category: str,
        error_type: str,
        action: str | None,
        outcome: str | None,
        retry_count: int,
        recovery_ms: float,
    ) -> None:
        """One error and what its recovery did."""
        with self._lock:
            self.errors[(category, error_type)] += 1
            if action is not None and outcome is not None:
                self.recoveries[(category, action, outcome)] += 1
                self.retry_counts[retry_count] += 1
                self._ms_sum[action] += recovery_ms
                self._ms_n[action] += 1
            prom = self._prometheus
        if prom is not None:
            prom["errors"].labels(category=category, error_type=error_type).inc()
            if action is not None and outcome is not None:
                prom["recoveries"].labels(category=category, action=action, outcome=outcome).inc()
                prom["retries"].labels(category=category).observe(retry_count)
                prom["seconds"].labels(action=action).observe(recovery_ms / 1000.0)

    def snapshot(self) -> dict[str, Any]:
        """Everything as plain data: errors per category/type, recoveries, success rate per
        action, retry attempts (mean and counts), recovery time per action (mean ms)."""
        with self._lock:
            by_action: dict[str, list[int]] = {}
            for (_, action, outcome), n in self.recoveries.items():
                ok_total = by_action.setdefault(action, [0, 0])
                ok_total[1] += n
                if outcome == "succeeded":
                    ok_total[0] += n
            n_rec = sum(self.retry_counts.values())
            return {
                "errors": {f"{c}/{t}": n for (c, t), n in sorted(self.errors.items())},
                "recoveries": {
                    f"{c}/{a}/{o}": n for (c, a, o), n in sorted(self.recoveries.items())
                },
                "recovery_success_rate": {
                    a: ok / total for a, (ok, total) in sorted(by_action.items()) if total
                },
                "retry_attempts": {
                    "mean": sum(k * v for k, v in self.retry_counts.items()) / n_rec
                    if n_rec
                    else 0.0,
                    "counts": dict(sorted(self.retry_counts.items())),
                },
                "recovery_ms": {
                    a: {"mean": self._ms_sum[a] / n, "count": n}
                    for a, n in sorted(self._ms_n.items())
                },
            }

    def reset(self) -> None:
        with self._lock:
            self.errors.clear()
            self.recoveries.clear()
            self.retry_counts.clear()
            self._ms_sum.clear()
            self._ms_n.clear()

    def enable_prometheus(self, registry: Any = None, namespace: str = "faultcast") -> None:
        """Export to prometheus-client (``registry`` defaults to its global REGISTRY).

        Counts recorded from now on are exported; calling it again is a no-op."""
        from prometheus_client import REGISTRY, Histogram
        from prometheus_client import Counter as PromCounter

        with self._lock:
            if self._prometheus is not None:
                return
            reg = REGISTRY if registry is None else registry
            self._prometheus = {
                "errors": PromCounter(
                    "errors", "Errors seen by faultcast guards.",
                    ["category", "error_type"], namespace=namespace, registry=reg,
                ),
                "recoveries": PromCounter(
                    "recoveries", "Recovery attempts by action and outcome.",
                    ["category", "action", "outcome"], namespace=namespace, registry=reg,
                ),
                "retries": Histogram(
                    "retry_attempts", "Retries per recovery.",
                    ["category"], namespace=namespace, registry=reg, buckets=RETRY_BUCKETS,
                ),
                "seconds": Histogram(
                    "recovery_seconds", "Time from failure to the end of its recovery.",
                    ["action"], namespace=namespace, registry=reg, buckets=SECONDS_BUCKETS,
                ),
            }  # fmt: skip


#: The metrics every guard records into unless given its own.
metrics = RecoveryMetrics()
