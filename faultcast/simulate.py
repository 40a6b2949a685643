"""A believable multi-service error stream, with the ground truth to test against.

What the stream holds, per service (deterministic per seed, written in time order, one minute
of event time at a time so any length streams in bounded memory):

- request traffic (info/debug) and background errors of every category at per-service base
  rates, with daily seasonality (busier by day, peaking about 14:00 UTC) and noise;
- **outages**: bursts of ``critical`` events with ``failure: true``, a few per service per day;
  about three in four are preceded 5-30 minutes earlier by a **precursor** episode that ramps up
  (rising timeouts, memory pressure, a retry storm, budget warnings or streaming lag), and there
  are precursor-like **false alarms** that end in nothing;
- **security incidents**: authentication-failure bursts from one source address against one
  service (ended by a lockout), and sporadic authorisation violations;
- **recoveries**: many errors carry ``recovery_action``, ``recovery_outcome``, ``retry_count``
  and ``recovery_ms``; the chance an action succeeds depends on (category, action) through a
  table a learner can discover, while actions are chosen by an exploring policy;
- a few **leaky** lines that log a secret by mistake (1 in about 20,000 events, at least one),
  so redaction can be checked end to end.

The ground truth (outage times and their precursors, false alarms, incidents, the success
table, the leaks) goes to ``<out>.truth.json``.

Examples
--------
>>> import io
>>> buf = io.BytesIO()
>>> summary = simulate(buf, services=2, hours=0.5, seed=1)
>>> summary.events == buf.getvalue().count(b"\\n")
True
"""

from __future__ import annotations

import gzip
import io
import json
import math
import os
import random
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import numpy as np
import orjson

from faultcast.ingest.schema import category_of

DEFAULT_START = datetime(2026, 1, 1, tzinfo=UTC)

SERVICE_NAMES = (
    "checkout", "payments", "inventory", "auth", "search", "notifications", "orders", "gateway",
    "shipping", "catalog", "recommendations", "billing",
)  # fmt: skip

PRECURSOR_KINDS = ("timeouts", "memory", "retry_storm", "budget", "streaming_lag")

#: (category, action) -> chance the action recovers the error, before the seed's jitter.
BASE_SUCCESS: dict[str, dict[str, float]] = {
    "communication": {
        "retry_with_backoff": 0.92,
        "failover": 0.85,
        "retry": 0.60,
        "circuit_break": 0.75,
        "restart": 0.40,
    },
    "memory": {"restart": 0.90, "scale_up": 0.80, "clear_cache": 0.55, "retry": 0.10},
    "streaming": {"buffer_replay": 0.93, "restart": 0.60, "scale_up": 0.70, "retry": 0.35},
    "budget": {"shed_load": 0.88, "fallback": 0.80, "retry_with_backoff": 0.30, "retry": 0.05},
    "security": {"lockout": 0.97, "rotate_credentials": 0.85, "retry": 0.02},
    "data": {"fallback": 0.75, "retry": 0.20, "clear_cache": 0.45},
    "unknown": {"retry": 0.50, "restart": 0.50},
}

#: Mean recovery time per action, ms (log-normal around it).
ACTION_MS = {
    "retry": 120.0, "retry_with_backoff": 450.0, "failover": 900.0, "circuit_break": 15.0, "restart": 8000.0,
    "scale_up": 30000.0, "clear_cache": 60.0, "buffer_replay": 1500.0, "shed_load": 25.0, "fallback": 40.0,
    "lockout": 10.0, "rotate_credentials": 5000.0,
}  # fmt: skip

_DEPS = (
    "db-1.internal:5432",
    "db-2.internal:5432",
    "cache-1:6379",
    "kafka-0:9092",
    "payments-api:443",
    "s3.eu-west-1:443",
)
_TOPICS = ("orders-events", "payments-events", "audit-log", "clickstream")
_USERS = tuple(f"user{i:03d}" for i in range(400))
_VERBS = ("GET", "POST", "PUT", "DELETE")
_PATHS = (
    "/api/v1/orders",
    "/api/v1/users",
    "/admin/users",
    "/api/v1/payments",
    "/internal/metrics",
    "/api/v2/cart",
)

Maker = Callable[[random.Random], tuple[str, str | None, dict[str, Any]]]


def _hex(r: random.Random, n: int = 16) -> str:
    return f"{r.getrandbits(4 * n):0{n}x}"


def _ip(r: random.Random) -> str:
    return f"10.{r.randrange(256)}.{r.randrange(256)}.{r.randrange(1, 255)}"


# Each maker returns (message, error_type, extra attrs).  Levels are chosen by the caller.
INFO_MAKERS: tuple[Maker, ...] = (
    lambda r: (
        f"{r.choice(_VERBS)} {r.choice(_PATHS)}/{r.randrange(1, 99999)} {200 if r.random() < 0.97 else 204} in {r.randrange(2, 400)} ms",
        None,
        {"status": 200, "duration_ms": r.randrange(2, 400)},
    ),
    lambda r: (
        f"processed batch {r.randrange(1, 10**6)} of {r.randrange(10, 5000)} records in {r.randrange(50, 9000)} ms",
        None,
        {},
    ),
    lambda r: (
        f"cache hit ratio {r.randrange(60, 100)}% over the last {r.choice((1, 5, 15))} min",
        None,
        {},
    ),
    lambda r: (
        f"user {r.choice(_USERS)} logged in from {_ip(r)}",
        None,
        {"user": r.choice(_USERS)},
    ),
    lambda r: (
        f"job {_hex(r, 8)} finished: {r.randrange(0, 500)} items, {r.randrange(0, 3)} skipped",
        None,
        {},
    ),
    lambda r: (f"connection pool size {r.randrange(5, 50)} (idle {r.randrange(0, 20)})", None, {}),
    lambda r: (f"published {r.randrange(1, 2000)} messages to {r.choice(_TOPICS)}", None, {}),
    lambda r: (f"health check ok in {r.randrange(1, 30)} ms", None, {}),
)

ERROR_MAKERS: dict[str, tuple[Maker, ...]] = {
    "communication": (
        lambda r: (
            f"connection to {r.choice(_DEPS)} timed out after {r.choice((1000, 3000, 5000, 30000))} ms",
            "TimeoutError",
            {},
        ),
        lambda r: (f"connection reset by peer {r.choice(_DEPS)}", "ConnectionResetError", {}),
        lambda r: (
            f"upstream {r.choice(_DEPS)} returned 503 after {r.randrange(10, 3000)} ms",
            "CommunicationError",
            {"status": 503},
        ),
        lambda r: (f"connection refused: {r.choice(_DEPS)}", "ConnectionRefusedError", {}),
    ),
    "memory": (
        lambda r: (
            f"heap usage at {r.randrange(80, 99)}% ({r.randrange(30, 40) / 10:.1f} GiB of 4 GiB)",
            "MemoryPressureError",
            {"heap_pct": r.randrange(80, 99)},
        ),
        lambda r: (f"allocation of {r.randrange(16, 512)} MiB failed", "MemoryError", {}),
        lambda r: (
            f"gc pause {r.randrange(200, 4000)} ms exceeded target",
            "MemoryPressureError",
            {},
        ),
    ),
    "streaming": (
        lambda r: (
            f"consumer lag on {r.choice(_TOPICS)} partition {r.randrange(12)} is {r.randrange(1000, 90000)} messages",
            "StreamingError",
            {"lag": r.randrange(1000, 90000)},
        ),
        lambda r: (
            f"offset commit failed for group {r.choice(('billing', 'audit', 'search'))}-consumers",
            "StreamingError",
            {},
        ),
        lambda r: (
            f"stream buffer at {r.randrange(70, 100)}% of {r.choice((1000, 10000))} records; applying backpressure",
            "StreamingError",
            {},
        ),
    ),
    "budget": (
        lambda r: (
            f"budget for tenant t{r.randrange(1, 60)} at {r.randrange(80, 100)}% of monthly limit",
            "BudgetError",
            {"budget_pct": r.randrange(80, 100)},
        ),
        lambda r: (
            f"rate limit exceeded for api key k{r.randrange(1, 300)}: {r.randrange(100, 5000)} req/min",
            "RateLimitError",
            {},
        ),
        lambda r: (
            f"quota of {r.choice((1000, 5000, 10000))} calls reached for {r.choice(('geocoding', 'sms', 'llm'))}",
            "QuotaExceededError",
            {},
        ),
    ),
    "security": (
        lambda r: (
            f"user {r.choice(_USERS)} is not authorised to {r.choice(_VERBS)} {r.choice(_PATHS)}/{r.randrange(1, 999)}",
            "SecurityViolationError",
            {"user": r.choice(_USERS)},
        ),
        lambda r: (f"invalid token signature from {_ip(r)}", "AuthenticationError", {}),
    ),
    "data": (
        lambda r: (
            f'invalid payload for order {r.randrange(10**5, 10**7)}: field "amount" must be positive',
            "ValueError",
            {},
        ),
        lambda r: (f"missing key 'customer_id' in record {_hex(r, 12)}", "KeyError", {}),
        lambda r: (f"schema validation failed at line {r.randrange(1, 900)}", "DataError", {}),
    ),
}

#: Background error rate per category, errors per minute per service at the daily mean.
BASE_ERROR_RATE = {
    "communication": 0.30,
    "data": 0.15,
    "memory": 0.05,
    "streaming": 0.08,
    "budget": 0.06,
    "security": 0.05,
}

_PRECURSOR_CATEGORY = {
    "timeouts": "communication",
    "memory": "memory",
    "retry_storm": "communication",
    "budget": "budget",
    "streaming_lag": "streaming",
}

_OUTAGE_MAKERS: dict[str, Maker] = {
    "timeouts": lambda r: (
        f"service unavailable: all upstream connections to {r.choice(_DEPS)} failed",
        "ConnectionError",
        {},
    ),
    "memory": lambda r: (f"worker {r.randrange(1, 16)} killed: out of memory", "MemoryError", {}),
    "retry_storm": lambda r: (
        f"dependency {r.choice(_DEPS)} is down; requests failing",
        "CommunicationError",
        {},
    ),
    "budget": lambda r: (
        f"budget exhausted for tenant t{r.randrange(1, 60)}; requests rejected",
        "BudgetError",
        {},
    ),
    "streaming_lag": lambda r: (
        f"consumer group stalled on {r.choice(_TOPICS)}; processing halted",
        "StreamingError",
        {},
    ),
}


def _leak(kind: str, r: random.Random) -> str:
    if kind == "password":
        return f"login for {r.choice(_USERS)} failed with password=hunter{r.randrange(10, 99)}"
    if kind == "bearer":
        return f"forwarding header Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ{_hex(r, 8)}In0.{_hex(r, 20)}"
    if kind == "api_key":
        return f"calling partner api with api_key={_hex(r, 24)}"
    if kind == "aws_key":
        return f"uploading with key AKIA{''.join(r.choice('ABCDEFGHIJKLMNOPQRSTUVWXYZ234567') for _ in range(16))}"
    if kind == "card":
        return f"charge declined for card {_luhn_card(r)}"
    return f"password reset mail sent to {r.choice(_USERS)}@example.com"


LEAK_KINDS = ("password", "bearer", "api_key", "aws_key", "card", "email")


def _luhn_card(r: random.Random) -> str:
    digits = [4] + [r.randrange(10) for _ in range(14)]
    total = 0
    for i, d in enumerate(reversed(digits)):
        total += (d * 2 - 9 if d * 2 > 9 else d * 2) if i % 2 == 0 else d
    digits.append((10 - total % 10) % 10)
    return "".join(map(str, digits))


@dataclass(frozen=True)
class SimulationSummary:
    """What :func:`simulate` wrote."""

    events: int
    failures: int
    path: str | None
    truth_path: str | None
    by_level: dict[str, int] = field(default_factory=dict)
    by_category: dict[str, int] = field(default_factory=dict)
    start: str = ""
    end: str = ""


@dataclass
class _Episode:
    service: int
    kind: str
    start: float  # minutes from the start
    end: float


@dataclass
class _Plan:
    services: list[str]
    hosts: list[int]
    error_scale: np.ndarray  # services x categories
    outages: list[_Episode]
    outage_cause: list[str | None]
    precursors: list[_Episode]
    false_alarms: list[_Episode]
    brute_force: list[tuple[_Episode, str, str]]  # episode, source ip, user
    success: dict[str, dict[str, float]]
    leak_minutes: set[int]


def _parse_start(start: datetime | str | None) -> datetime:
    if start is None:
        return DEFAULT_START
    if isinstance(start, str):
        try:
            start = datetime.fromisoformat(start.replace("Z", "+00:00"))
        except ValueError as e:
            raise ValueError(
                f"--start {start!r} is not an ISO 8601 time (e.g. 2026-01-01T00:00:00Z)"
            ) from e
    return start if start.tzinfo else start.replace(tzinfo=UTC)


def _plan(services: int, minutes: int, seed: int, rate: float) -> _Plan:
    rng = np.random.default_rng(seed)
    names = [
        SERVICE_NAMES[i]
        if i < len(SERVICE_NAMES)
        else f"{SERVICE_NAMES[i % len(SERVICE_NAMES)]}-{i // len(SERVICE_NAMES) + 1}"
        for i in range(services)
    ]
    hosts = [int(rng.integers(2, 6)) for _ in range(services)]
    error_scale = rng.lognormal(0.0, 0.5, size=(services, len(BASE_ERROR_RATE))) * (rate / 20.0)
    outages: list[_Episode] = []
    causes: list[str | None] = []
    precursors: list[_Episode] = []
    false_alarms: list[_Episode] = []
    days = minutes / 1440
    for s in range(services):
        n = int(rng.poisson(3.0 * days))
        starts = np.sort(rng.uniform(40, max(41, minutes - 5), size=n))
        last_end = -1e9
        for t in starts:
            if t < last_end + 60:  # keep outages of one service apart
                continue
            duration = float(rng.uniform(3, 15))
            outage = _Episode(s, "outage", float(t), float(t) + duration)
            last_end = outage.end
            if rng.random() < 0.75:
                kind = str(rng.choice(PRECURSOR_KINDS))
                lead = float(rng.uniform(5, 30))
                precursors.append(_Episode(s, kind, float(t) - lead, float(t)))
                causes.append(kind)
            else:
                causes.append(None)
            outages.append(outage)
    n_false = max(1, round(len(precursors) / 3)) if minutes >= 120 else 0
    for _ in range(n_false):
        s = int(rng.integers(services))
        t = float(rng.uniform(0, max(1, minutes - 20)))
        false_alarms.append(
            _Episode(s, str(rng.choice(PRECURSOR_KINDS)), t, t + float(rng.uniform(5, 20)))
        )
    brute: list[tuple[_Episode, str, str]] = []
    for _ in range(int(rng.poisson(max(0.3, minutes / 360)))):
        s = int(rng.integers(services))
        t = float(rng.uniform(0, max(1, minutes - 10)))
        ip = f"203.0.113.{int(rng.integers(1, 255))}"
        user = _USERS[int(rng.integers(len(_USERS)))]
        brute.append((_Episode(s, "brute_force", t, t + float(rng.uniform(3, 10))), ip, user))
    success = {
        cat: {
            a: float(np.clip(p + rng.uniform(-0.04, 0.04), 0.01, 0.99)) for a, p in actions.items()
        }
        for cat, actions in BASE_SUCCESS.items()
    }
    leak_minutes = {1} if minutes > 1 else {0}
    return _Plan(
        names,
        hosts,
        error_scale,
        outages,
        causes,
        precursors,
        false_alarms,
        brute,
        success,
        leak_minutes,
    )


def _season(minute_of_day: float) -> float:
    """Traffic multiplier: about 0.4 at 02:00 UTC, 1.6 at 14:00 UTC."""
    return 1.0 + 0.6 * math.cos(2 * math.pi * (minute_of_day - 14 * 60) / 1440)


def _ramp(ep: _Episode, t: float) -> float:
    """0 at the episode's start, rising to 1 at its end."""
    return max(0.0, min(1.0, (t - ep.start) / max(1e-9, ep.end - ep.start)))


def iter_events(
    *,
    services: int = 8,
    hours: float = 24.0,
    seed: int = 0,
    start: datetime | str | None = None,
    rate: float = 20.0,
    event_ids: bool = False,
    _truth: dict[str, Any] | None = None,
) -> Iterator[dict[str, Any]]:
    """The simulated events, in time order, one dict each (bounded memory).

    >>> first = next(iter_events(services=1, hours=0.1, seed=3))
    >>> sorted(first)[:3]
    ['event', 'host', 'level']
    """
    if services < 1:
        raise ValueError("services must be at least 1")
    if hours <= 0:
        raise ValueError("hours must be positive")
    if rate <= 0:
        raise ValueError("rate must be positive")
    t0 = _parse_start(start)
    minutes = max(1, math.ceil(hours * 60))
    plan = _plan(services, minutes, seed, rate)
    if _truth is not None:
        _truth.update(_truth_of(plan, t0, minutes, seed, services, hours, rate))
    categories = list(BASE_ERROR_RATE)
    r = random.Random(seed)
    rng = np.random.default_rng(seed + 1)
    actions = {cat: list(acts) for cat, acts in plan.success.items()}
    leak_rng = random.Random(seed + 2)
    leak_count = 0
    events_so_far = 0
    t0_minute_of_day = t0.hour * 60 + t0.minute

    for m in range(minutes):
        minute_start = t0 + timedelta(minutes=m)
        prefix = minute_start.strftime("%Y-%m-%dT%H:%M:")
        season = _season((t0_minute_of_day + m) % 1440)
        batch: list[tuple[float, dict[str, Any]]] = []

        def add(
            sec: float, s: int, level: str, msg: str, etype: str | None, extra: dict[str, Any]
        ) -> None:
            ev: dict[str, Any] = {
                "event": msg,
                "level": level,
                "timestamp": "",
                "service": plan.services[s],
            }
            ev["host"] = f"{plan.services[s]}-{r.randrange(plan.hosts[s]) + 1}"
            if etype:
                ev["error_type"] = etype
            ev["request_id"] = _hex(r, 16)
            ev.update(extra)
            batch.append((sec, ev))  # noqa: B023 - used within this minute only

        def recovery(ev: dict[str, Any], category: str, force: str | None = None) -> None:
            acts = actions.get(category, actions["unknown"])
            action = force or acts[r.randrange(len(acts))]
            p = plan.success.get(category, plan.success["unknown"]).get(action, 0.5)
            ev["recovery_action"] = action
            ev["recovery_outcome"] = "succeeded" if r.random() < p else "failed"
            ev["retry_count"] = r.randrange(1, 6) if action.startswith("retry") else 0
            ev["recovery_ms"] = round(
                r.lognormvariate(math.log(ACTION_MS.get(action, 100.0)), 0.5), 1
            )

        info_counts = rng.poisson(rate * 0.93 * season, size=services)
        err_counts = rng.poisson(
            plan.error_scale * np.array([BASE_ERROR_RATE[c] for c in categories]) * season
        )
        for s in range(services):
            for _ in range(int(info_counts[s])):
                msg, etype, extra = INFO_MAKERS[r.randrange(len(INFO_MAKERS))](r)
                add(r.random() * 60, s, "info" if r.random() < 0.9 else "debug", msg, etype, extra)
            for ci, cat in enumerate(categories):
                makers = ERROR_MAKERS[cat]
                for _ in range(int(err_counts[s, ci])):
                    msg, etype, extra = makers[r.randrange(len(makers))](r)
                    add(
                        r.random() * 60,
                        s,
                        "error" if r.random() < 0.6 else "warning",
                        msg,
                        etype,
                        extra,
                    )
                    if r.random() < 0.45:
                        recovery(batch[-1][1], cat)
        # Precursor episodes and false alarms: the kind's errors ramp up.
        for ep in (*plan.precursors, *plan.false_alarms):
            if not (ep.start <= m + 1 and m <= ep.end):
                continue
            intensity = 1.0 + 10.0 * _ramp(ep, m + 0.5)
            cat = _PRECURSOR_CATEGORY[ep.kind]
            for _ in range(int(rng.poisson(intensity))):
                makers = ERROR_MAKERS[cat]
                msg, etype, extra = makers[r.randrange(len(makers))](r)
                if ep.kind == "retry_storm":
                    msg = f"retry {r.randrange(1, 6)}/5 calling {r.choice(_DEPS)} after {etype}"
                add(r.random() * 60, ep.service, "warning", msg, etype, extra)
                if ep.kind == "retry_storm":
                    batch[-1][1]["retry_count"] = r.randrange(1, 6)
                    recovery(batch[-1][1], cat, force="retry")
        # Outages.
        for ep, cause in zip(plan.outages, plan.outage_cause, strict=True):
            if not (ep.start <= m + 1 and m <= ep.end):
                continue
            maker = (
                _OUTAGE_MAKERS[cause]
                if cause
                else _OUTAGE_MAKERS[PRECURSOR_KINDS[int(ep.start) % 5]]
            )
            lo = max(0.0, (ep.start - m) * 60)
            hi = min(60.0, (ep.end - m) * 60)
            for _ in range(
                int(rng.poisson(6.0 * (hi - lo) / 60)) or (1 if lo < hi and lo < 1 else 0)
            ):
                msg, etype, extra = maker(r)
                add(
                    lo + r.random() * (hi - lo),
                    ep.service,
                    "critical",
                    msg,
                    etype,
                    {**extra, "failure": True},
                )
                if r.random() < 0.5:
                    cat = category_of(etype) or "unknown"
                    recovery(batch[-1][1], cat)
        # Security: brute force against one service from one address; then a lockout.
        for ep, ip, user in plan.brute_force:
            if not (ep.start <= m + 1 and m <= ep.end):
                continue
            lo = max(0.0, (ep.start - m) * 60)
            hi = min(60.0, (ep.end - m) * 60)
            for _ in range(int(rng.poisson(40 * (hi - lo) / 60))):
                target = user if r.random() < 0.5 else r.choice(_USERS)
                add(lo + r.random() * (hi - lo), ep.service, "warning",
                    f"authentication failed for user {target} from {ip}", "AuthenticationError",
                    {"source_ip": ip, "user": target})  # fmt: skip
            if ep.start <= m + 1 and ep.end < m + 1:
                add(hi, ep.service, "error", f"locking out {ip} after repeated authentication failures",
                    "SecurityViolationError", {"source_ip": ip})  # fmt: skip
                recovery(batch[-1][1], "security", force="lockout")
        # Leaks: a secret logged by mistake.
        expected_leaks = len(batch) / 20000
        n_leaks = int(leak_rng.random() < expected_leaks % 1) + int(expected_leaks)
        if m in plan.leak_minutes:
            n_leaks = max(n_leaks, 1)
        for _ in range(n_leaks):
            kind = LEAK_KINDS[leak_count % len(LEAK_KINDS)]
            leak_count += 1
            add(
                leak_rng.random() * 60,
                leak_rng.randrange(services),
                "warning",
                _leak(kind, leak_rng),
                None,
                {},
            )
            if _truth is not None:
                _truth["leaks"][kind] = _truth["leaks"].get(kind, 0) + 1
        batch.sort(key=lambda item: item[0])
        for sec, ev in batch:
            ev["timestamp"] = f"{prefix}{min(sec, 59.999):06.3f}Z"
            if event_ids:
                ev["event_id"] = f"{seed:x}-{events_so_far:012x}"
            events_so_far += 1
            yield ev


def _truth_of(
    plan: _Plan, t0: datetime, minutes: int, seed: int, services: int, hours: float, rate: float
) -> dict[str, Any]:
    def at(minute: float) -> str:
        return (t0 + timedelta(minutes=minute)).isoformat().replace("+00:00", "Z")

    per_service: dict[str, Any] = {
        name: {"outages": [], "false_alarms": [], "brute_force": []} for name in plan.services
    }
    for ep, cause in zip(plan.outages, plan.outage_cause, strict=True):
        per_service[plan.services[ep.service]]["outages"].append(
            {"start": at(ep.start), "end": at(ep.end), "precursor": cause}
        )
    for ep in plan.false_alarms:
        per_service[plan.services[ep.service]]["false_alarms"].append(
            {"start": at(ep.start), "end": at(ep.end), "kind": ep.kind}
        )
    for ep, ip, user in plan.brute_force:
        per_service[plan.services[ep.service]]["brute_force"].append(
            {"start": at(ep.start), "end": at(ep.end), "source_ip": ip, "user": user}
        )
    precursor_of = {(p.service, round(p.end, 6)): p for p in plan.precursors}
    for ep in plan.outages:
        p = precursor_of.get((ep.service, round(ep.start, 6)))
        if p is not None:
            for o in per_service[plan.services[ep.service]]["outages"]:
                if o["start"] == at(ep.start):
                    o["precursor_start"] = at(p.start)
    return {
        "seed": seed,
        "parameters": {"services": services, "hours": hours, "rate": rate},
        "start": at(0),
        "end": at(minutes),
        "services": per_service,
        "success_probability": plan.success,
        "leaks": {},
    }


def simulate(
    out: str | os.PathLike[str] | IO[bytes],
    *,
    services: int = 8,
    hours: float = 24.0,
    seed: int = 0,
    start: datetime | str | None = None,
    rate: float = 20.0,
    event_ids: bool = False,
    truth: str | os.PathLike[str] | None = None,
    progress: Callable[[int], None] | None = None,
) -> SimulationSummary:
    """Write the simulated stream as JSON lines to ``out`` (a path, ``.gz`` compresses; ``"-"`` or
    a binary file object) and the ground truth to ``truth`` (default ``<out>.truth.json``)."""
    path: str | None = None
    close = False
    stream: IO[bytes]
    if isinstance(out, (str, os.PathLike)) and str(out) != "-":
        path = str(Path(out).expanduser().resolve())
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        if path.endswith(".gz"):
            stream = gzip.open(path, "wb", compresslevel=5)  # type: ignore[assignment]  # noqa: SIM115
        else:
            stream = open(path, "wb")  # noqa: SIM115
        close = True
        if truth is None:
            truth = path + ".truth.json"
    elif str(out) == "-":
        import sys

        stream = sys.stdout.buffer
    else:
        stream = out  # type: ignore[assignment]
    truth_doc: dict[str, Any] = {}
    levels: Counter[str] = Counter()
    cats: Counter[str] = Counter()
    failures = 0
    n = 0
    buf = io.BytesIO()
    dumps = orjson.dumps
    try:
        for ev in iter_events(
            services=services,
            hours=hours,
            seed=seed,
            start=start,
            rate=rate,
            event_ids=event_ids,
            _truth=truth_doc,
        ):
            buf.write(dumps(ev))
            buf.write(b"\n")
            levels[ev["level"]] += 1
            if "error_type" in ev:
                cats[ev["error_type"]] += 1
            if ev.get("failure"):
                failures += 1
            n += 1
            if n % 50_000 == 0:
                stream.write(buf.getbuffer())
                buf = io.BytesIO()
                if progress is not None:
                    progress(n)
        stream.write(buf.getbuffer())
        if progress is not None:
            progress(n)
    finally:
        if close:
            stream.close()
        else:
            stream.flush()
    by_category: Counter[str] = Counter()
    for etype, count in cats.items():
        by_category[category_of(etype) or "unknown"] += count
    truth_doc["counts"] = {
        "events": n,
        "failures": failures,
        "by_level": dict(levels),
        "by_category": dict(by_category),
    }
    if truth is not None:
        Path(truth).write_text(json.dumps(truth_doc, indent=1))
    return SimulationSummary(
        events=n,
        failures=failures,
        path=path,
        truth_path=str(truth) if truth is not None else None,
        by_level=dict(levels),
        by_category=dict(by_category),
        start=truth_doc.get("start", ""),
        end=truth_doc.get("end", ""),
    )
