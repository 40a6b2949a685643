"""The world and the application of ``benchmarks/closed_loop.py``, in simulated time.

The generative story (each seed draws its own numbers within the ranges below):

- **Six services**, each a unit of faultcast (the guard's ``service``), each calling one
  dependency through :func:`faultcast.sdk.guard`:

  ============ ================ ===================================================== ==========================
  service      dependency       errors it raises                                      tools its guard is given
  ============ ================ ===================================================== ==========================
  checkout     payments API     TimeoutError, ConnectionResetError (transient);       retry, failover (second
                                ConnectionRefusedError or hangs (outage)              provider), breaker
  catalog      search           TimeoutError, UpstreamUnavailable (503)               retry, fallback (cached
                                                                                      listing), breaker
  profile      cache-backed DB  MemoryPressureError (cache bloat; a leak in an        clear_cache, restart
                                outage)                                               (handlers), fallback
  events       stream broker    StreamingError (no partition leader)                  retry, buffer (replayed),
                                                                                      dead_letter
  recommend    paid model API   RateLimited (429, retryable), BudgetExhausted         retry, fallback (popular
                                (the hour's budget spent)                             items)
  imports      partner files    DataError (a bad record; a bad file in an outage)     dead_letter
  ============ ================ ===================================================== ==========================

  Requests arrive as a Poisson process (its rate per service drawn per seed, busier by day);
  checkout and profile also see rare brute-force bursts (SecurityViolationError, with a
  lockout by source address).
- **A hidden health process per dependency**: healthy most of the time, with a transient error
  probability per attempt drawn per seed (0.4-2.5%).  **Outages** arrive as a Poisson
  process (1.5-4 per service and day, 4-20 minutes each); in one the dependency fails almost
  every call (api and search: refusing fast or hanging until the call's timeout; the cache: a
  memory leak that clearing the cache seldom fixes and a restart does; the broker: down; the
  budget: spent until the outage ends; partner files: a bad file).  About three in four
  outages are preceded, 5-30 minutes earlier, by a **precursor**: the dependency's stress
  ramps from 0 to 1, raising its latency and transient errors and a gauge the service logs
  once a minute as a warning above its threshold (connection pool, search queue, heap,
  consumer lag, budget spent); partner files give no warning.  **False alarms** (a third as
  many as outages) ramp the same way and fade without an outage.
- **What each action does is mechanics, not a table**: a retry is a new attempt (it works when
  the error was transient, not in an outage), a failover calls the second provider (its own
  small error rate), a fallback serves a degraded answer (always works), clearing the cache
  works unless a leak is on, a restart takes 2.5 s and works, the buffer keeps the record and
  replays it when the broker is back, a dead letter parks the record.  Times: attempt
  latencies are log-normal around each dependency's median (multiplied by 1 + 3 x stress),
  a hang costs the call's timeout (1 s), backoff sleeps are the guard's own (full jitter).

Each service runs in its own worker thread on its own simulated clock: a request runs on its
own timeline from its arrival (the worker pool is taken as large enough that requests do not
queue); sleeps advance the clock and nothing really waits, so a day takes seconds.  The
uniforms that decide a request (its arrival, its errors, latencies and the outcome of each
action) are drawn per request from the seed, so the loop-off and loop-on runs of a seed meet
the same requests and the same outages (common random numbers); only what the app does
differs.

The guard times recovery with ``time.perf_counter`` (real time); the app's logger, which
stamps every event with the simulated time, also sets ``recovery_ms`` to the simulated time
from the error to the end of its handling (for pre-emption events: from the call's start).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import numpy as np

from faultcast.sdk import (
    BudgetError,
    CircuitBreaker,
    CommunicationError,
    DataError,
    Lockout,
    MemoryPressureError,
    SecurityViolationError,
    StreamBuffer,
    StreamingError,
    classify,
    guard,
)

#: Where simulated time starts (fixed: the output is deterministic per seed).
START: Final[datetime] = datetime(2026, 3, 2, tzinfo=UTC)
#: Uniforms drawn per request (see :class:`_Request`).
DRAWS: Final[int] = 16
#: A hung call costs this many seconds (the client's timeout).
CALL_TIMEOUT_S: Final[float] = 1.0
#: Seconds a restart takes.
RESTART_S: Final[float] = 2.5


class UpstreamUnavailable(CommunicationError):
    """The search cluster answered 503."""


class RateLimited(BudgetError):
    """429 from the paid model API: slow down (retryable)."""

    default_retryable = True


class BudgetExhausted(BudgetError):
    """The hour's spend on the paid model API is used up."""


# ---------------------------------------------------------------------------- the world
@dataclass(frozen=True, slots=True)
class Kind:
    """What a dependency is like (fixed per service; the numbers are drawn per seed)."""

    service: str
    dependency: str
    latency_ms: float  # median of a healthy attempt
    rate: tuple[float, float]  # requests per minute, range drawn from
    base_error: tuple[float, float]  # transient error probability per attempt, range
    gauge: str | None  # the precursor's gauge, None: no warning before an outage
    outage_rate: tuple[float, float] = (1.5, 4.0)  # outages per day, range


KINDS: Final[tuple[Kind, ...]] = (
    Kind("checkout", "payments", 45.0, (15.0, 30.0), (0.005, 0.02), "pool"),
    Kind("catalog", "search", 30.0, (30.0, 60.0), (0.004, 0.015), "queue"),
    Kind("profile", "profile-db", 8.0, (20.0, 40.0), (0.004, 0.012), "heap"),
    Kind("events", "broker", 5.0, (20.0, 45.0), (0.005, 0.02), "lag"),
    Kind("recommend", "model-api", 120.0, (10.0, 25.0), (0.01, 0.025), "budget"),
    Kind("imports", "partner-files", 3.0, (10.0, 20.0), (0.004, 0.012), None),
)


@dataclass(slots=True)
class Episode:
    """One outage (with or without a precursor) or false alarm of a dependency, in minutes."""

    service: str
    kind: str  # "outage" or "false_alarm"
    ramp_start: float | None  # precursor (or false alarm) start
    onset: float  # outage start (false alarm: its peak)
    end: float
    mode: str = "down"  # outages of api/search: "down" (refused / 503) or "hang"


@dataclass(slots=True)
class ServiceWorld:
    """A dependency's hidden health, minute by minute, and the service's traffic."""

    kind: Kind
    rate: float
    base_error: float
    stress: np.ndarray  # per minute, 0..1
    down: np.ndarray  # per minute: 0 healthy, 1 down, 2 hangs
    episodes: list[Episode]
    attacks: list[tuple[float, float, str]]  # (start minute, end minute, source address)


@dataclass(slots=True)
class World:
    seed: int
    minutes: int
    services: list[ServiceWorld]

    def truth(self) -> dict[str, Any]:
        """The ground truth: outages, precursors and false alarms per service."""
        return {
            "seed": self.seed,
            "minutes": self.minutes,
            "episodes": [
                {
                    "service": e.service,
                    "kind": e.kind,
                    "precursor": e.ramp_start is not None,
                    "ramp_start_min": e.ramp_start,
                    "onset_min": e.onset,
                    "end_min": e.end,
                    "mode": e.mode,
                }
                for s in self.services
                for e in s.episodes
            ],
        }


def _season(minute: np.ndarray) -> np.ndarray:
    """Traffic by time of day: about 0.6 at night, 1.4 at 14:00 UTC."""
    hours = (minute / 60.0) % 24.0
    return 1.0 + 0.4 * np.cos((hours - 14.0) / 24.0 * 2.0 * math.pi)


def make_world(seed: int, hours: float) -> World:
    """Draw a world: per service its rates, outages, precursors, false alarms and attacks."""
    rng = random.Random(f"closed-loop-world-{seed}")
    minutes = int(round(hours * 60))
    services = []
    for kind in KINDS:
        stress = np.zeros(minutes)
        down = np.zeros(minutes, dtype=np.int8)
        episodes: list[Episode] = []
        per_minute = rng.uniform(*kind.outage_rate) / 1440.0
        t = rng.expovariate(per_minute) + 30.0
        while t < minutes:
            length = rng.uniform(4.0, 20.0)
            mode = "hang" if kind.gauge in ("pool", "queue") and rng.random() < 0.4 else "down"
            lead = rng.uniform(5.0, 30.0) if kind.gauge and rng.random() < 0.75 else None
            ramp = None if lead is None else max(0.0, t - lead)
            episodes.append(Episode(kind.service, "outage", ramp, t, t + length, mode))
            t += length + rng.expovariate(per_minute) + 20.0
        if kind.gauge:  # false alarms, a third as many as outages
            t = rng.expovariate(per_minute / 3.0)
            while t < minutes:
                lead = rng.uniform(5.0, 30.0)
                clash = any(e.ramp_start is not None and abs(e.onset - t) < 60 for e in episodes)
                clash |= any(abs(e.onset - t) < 45 for e in episodes)
                if not clash:
                    episodes.append(
                        Episode(kind.service, "false_alarm", max(0.0, t - lead), t, t + lead)
                    )
                t += rng.expovariate(per_minute / 3.0) + 60.0
        episodes.sort(key=lambda e: e.onset)
        grid = np.arange(minutes, dtype=float)
        for e in episodes:
            if e.ramp_start is not None:
                rising = (grid >= e.ramp_start) & (grid < e.onset)
                ramp = (grid[rising] - e.ramp_start + 1.0) / max(1.0, e.onset - e.ramp_start)
                peak = 1.0 if e.kind == "outage" else rng.uniform(0.6, 0.95)
                stress[rising] = np.maximum(stress[rising], np.minimum(1.0, ramp) * peak)
                if e.kind == "false_alarm":
                    fading = (grid >= e.onset) & (grid < e.end)
                    fade = 1.0 - (grid[fading] - e.onset + 1.0) / max(1.0, e.end - e.onset)
                    stress[fading] = np.maximum(stress[fading], np.maximum(0.0, fade) * peak)
            if e.kind == "outage":
                hit = (grid >= math.floor(e.onset)) & (grid < e.end)
                down[hit] = 2 if e.mode == "hang" else 1
                stress[hit] = 1.0
        attacks = []
        if kind.service in ("checkout", "profile"):
            t = rng.expovariate(1.0 / 480.0)
            while t < minutes:
                attacks.append((t, t + rng.uniform(2.0, 5.0), f"203.0.113.{rng.randrange(1, 255)}"))
                t += rng.expovariate(1.0 / 480.0) + 10.0
        services.append(
            ServiceWorld(
                kind,
                rng.uniform(*kind.rate),
                rng.uniform(*kind.base_error),
                stress,
                down,
                episodes,
                attacks,
            )
        )
    return World(seed, minutes, services)


# ---------------------------------------------------------------------------- clocks, logs
class SimClock:
    """One service's simulated clock (seconds since :data:`START`); sleeping advances it."""

    __slots__ = ("now",)

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)

    async def async_sleep(self, seconds: float) -> None:
        self.sleep(seconds)


def iso(seconds: float) -> str:
    """The wall time of a simulated instant, ISO 8601 with milliseconds."""
    return (START + timedelta(seconds=seconds)).isoformat(timespec="milliseconds")


class SimLogger:
    """What the app logs through: the guard's events and the service's own, as structlog's
    JSON renderer would write them, stamped with simulated time."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.events: list[dict[str, Any]] = []

    def _log(self, level: str, event: str, fields: dict[str, Any]) -> None:
        fields.pop("exc_info", None)
        svc = self.service
        now = svc.clock.now
        request = svc.request
        if request is not None:
            action = fields.get("recovery_action")
            if action is not None:
                since = request.error_at if request.error_at is not None else request.arrival
                fields["recovery_ms"] = round((now - since) * 1000.0, 3)
            if isinstance(action, str) and action.startswith("preempt_"):
                request.preempted = action
            elif "error_type" in fields:
                request.errored = True
        record = {"event": event, "level": level, "timestamp": iso(now), **fields}
        record.setdefault("service", svc.name)
        self.events.append(record)

    def debug(self, event: str, **fields: Any) -> None:
        self._log("debug", event, fields)

    def info(self, event: str, **fields: Any) -> None:
        self._log("info", event, fields)

    def warning(self, event: str, **fields: Any) -> None:
        self._log("warning", event, fields)

    def error(self, event: str, **fields: Any) -> None:
        self._log("error", event, fields)

    def critical(self, event: str, **fields: Any) -> None:
        self._log("critical", event, fields)


# ---------------------------------------------------------------------------- the app
@dataclass(slots=True)
class _Request:
    """One request: when it came, its uniforms, and what happened to it.

    Uniforms: 0-5 error draws of attempts 0-5, 6-11 their latencies, 12 the failover's
    error, 13 a handler's outcome, 14 the error's kind, 15 its record id."""

    number: int
    arrival: float  # seconds
    u: np.ndarray
    principal: str | None = None
    attempts: int = 0
    error_at: float | None = None
    served: str = "ok"
    #: The guard logged an error for it; the pre-emptive measure it logged, if any.
    errored: bool = False
    preempted: str | None = None


@dataclass
class RequestStats:
    """What the users of one service saw, by minute (for the ground-truth figures)."""

    served: dict[str, int] = field(default_factory=dict)
    #: Per request: (minute, served, its dependency was down), for degraded minutes and
    #: pre-emption while down.
    log: list[tuple[int, str, bool]] = field(default_factory=list)


class Service:
    """One service of the app: its dependency (the world), its guard, its logger, its clock.

    ``advisor`` and ``preempt`` close the loop (both None: the SDK's static policy only)."""

    def __init__(
        self,
        world: ServiceWorld,
        seed: int,
        index: int,
        *,
        advisor: Callable[[SimClock], Any] | None = None,
        preempt: Any = None,
    ) -> None:
        self.world = world
        self.name = world.kind.service
        self.gauge = world.kind.gauge
        self.clock = SimClock()
        self.logger = SimLogger(self)
        self.request: _Request | None = None
        self.advisor = advisor(self.clock) if advisor is not None else None
        self.stats = RequestStats()
        self._rng = np.random.default_rng([seed, index, 7])
        self._noise = random.Random(f"{seed}-{index}-gauge")
        self._counter = 0
        self._second_provider_down = False
        self._restarted_until = -1.0
        self._gauge_at = -1
        options: dict[str, Any] = {
            "service": self.name,
            "logger": self.logger,
            "clock": self.clock,
            "sleep": self.clock.sleep,
            "async_sleep": self.clock.async_sleep,
            "exc_info": False,
            "attempts": 3,
            "base_delay": 0.1,
            "seed": seed * 31 + index,
            "metrics": _NoMetrics(),
        }
        if self.advisor is not None:
            options["advisor"] = self.advisor
            if preempt is not None:
                options["preempt"] = preempt
        name = self.name
        if name == "checkout":
            options.update(
                failover=self._failover,
                breaker=CircuitBreaker(name, failure_threshold=8, cooldown=20.0, clock=self.clock),
                lockout=Lockout(threshold=5, window=60.0, cooldown=600.0, clock=self.clock),
                principal=lambda request, **_: request.principal,
            )
        elif name == "catalog":
            options.update(
                fallback=self._fallback,
                breaker=CircuitBreaker(name, failure_threshold=8, cooldown=20.0, clock=self.clock),
            )
        elif name == "profile":
            options.update(
                fallback=self._fallback,
                handlers={"clear_cache": self._clear_cache, "restart": self._restart},
                lockout=Lockout(threshold=5, window=60.0, cooldown=600.0, clock=self.clock),
                principal=lambda request, **_: request.principal,
            )
        elif name == "events":
            self.buffer: StreamBuffer[int] = StreamBuffer(
                self._publish_kept,
                capacity=5000,
                retry_interval=5.0,
                clock=self.clock,
                sleep=self.clock.sleep,
                name="events",
            )
            options.update(
                buffer=self.buffer,
                dead_letter=lambda record, exc: None,
                record=lambda request, **_: request.number,
            )
        elif name == "recommend":
            options.update(fallback=self._fallback)
        elif name == "imports":
            options.update(dead_letter=lambda record, exc: None, record=lambda r, **_: r.number)
        self.call = guard(name, **options)(self._call)

    # ------------------------------------------------------------------ the dependency
    def _minute(self) -> int:
        return min(int(self.clock.now // 60.0), self.world.stress.shape[0] - 1)

    def _latency(self, u: float, stress: float) -> float:
        median = self.world.kind.latency_ms / 1000.0 * (1.0 + 3.0 * stress)
        return median * math.exp(0.5 * _probit(u))

    def _call(self, request: _Request, timeout: float | None = None) -> str:
        """One attempt at the dependency, at the request's current simulated time."""
        k = min(request.attempts, 5)
        request.attempts += 1
        m = self._minute()
        stress = float(self.world.stress[m])
        down = int(self.world.down[m])
        limit = CALL_TIMEOUT_S if timeout is None else min(timeout, CALL_TIMEOUT_S)
        if request.principal is not None:
            self.clock.sleep(0.002)
            self._fail(request, SecurityViolationError(
                f"authentication failed for user u{int(request.u[15] * 9000) + 1000} from "
                f"{request.principal}", context={"principal": request.principal},
            ))  # fmt: skip
        latency = self._latency(float(request.u[6 + k]), stress)
        kind = self.name
        if kind == "profile" and self.clock.now < self._restarted_until:
            down = 0
        if down:
            if down == 2:  # hangs until the caller's timeout
                self.clock.sleep(limit)
                self._fail(
                    request,
                    TimeoutError(
                        f"{self.world.kind.dependency} timed out after {limit * 1000:.0f} ms"
                    ),
                )
            self.clock.sleep(min(latency, 0.005) if kind in ("checkout", "catalog") else latency)
            if request.u[k] < 0.97:
                self._fail(request, self._outage_error(request))
        p = self.world.base_error + 0.25 * stress
        if latency > limit:
            self.clock.sleep(limit)
            self._fail(
                request,
                TimeoutError(f"{self.world.kind.dependency} timed out after {limit * 1000:.0f} ms"),
            )
        self.clock.sleep(latency)
        if request.u[k] < p:
            self._fail(request, self._transient_error(request))
        return "ok"

    def _fail(self, request: _Request, exc: Exception) -> None:
        if request.error_at is None:
            request.error_at = self.clock.now
        raise exc

    def _outage_error(self, request: _Request) -> Exception:
        dep = self.world.kind.dependency
        n = int(request.u[15] * 100000)
        match self.name:
            case "checkout":
                return ConnectionRefusedError(f"{dep} refused the connection (port 443)")
            case "catalog":
                return UpstreamUnavailable(f"{dep} answered 503 for query {n}")
            case "profile":
                return MemoryPressureError(f"heap at {97 + n % 3}% of the limit in {dep}")
            case "events":
                return StreamingError(f"{dep}: partition {n % 12} has no leader")
            case "recommend":
                return BudgetExhausted(f"{dep}: the hour's budget is spent")
            case _:
                return DataError(f"record {n}: field 'amount' is not a number")

    def _transient_error(self, request: _Request) -> Exception:
        dep = self.world.kind.dependency
        n = int(request.u[15] * 100000)
        pick = request.u[14]
        match self.name:
            case "checkout":
                return (
                    TimeoutError(f"{dep} timed out after {CALL_TIMEOUT_S * 1000:.0f} ms")
                    if pick < 0.6
                    else ConnectionResetError(f"connection to {dep} reset by peer")
                )
            case "catalog":
                return (
                    TimeoutError(f"{dep} timed out after {CALL_TIMEOUT_S * 1000:.0f} ms")
                    if pick < 0.5
                    else UpstreamUnavailable(f"{dep} answered 503 for query {n}")
                )
            case "profile":
                return MemoryPressureError(f"heap at {90 + n % 7}% of the limit in {dep}")
            case "events":
                return StreamingError(f"{dep}: partition {n % 12} has no leader")
            case "recommend":
                return RateLimited(f"{dep} answered 429: slow down")
            case _:
                return DataError(f"record {n}: field 'amount' is not a number")

    # ------------------------------------------------------------------ recovery tools
    def _failover(self, request: _Request, timeout: float | None = None) -> str:
        self.clock.sleep(0.12)
        if request.u[12] < 0.02:
            raise ConnectionResetError("connection to the second payment provider reset by peer")
        request.served = "recovered"
        return "ok"

    def _fallback(self, request: _Request, timeout: float | None = None) -> str:
        self.clock.sleep(0.001)
        request.served = "fallback"
        return "fallback"

    def _clear_cache(self, exc: BaseException) -> None:
        self.clock.sleep(0.05)

    def _restart(self, exc: BaseException) -> None:
        self.clock.sleep(RESTART_S)
        m = self._minute()
        if self.world.down[m]:  # the leak is cleared until the episode ends
            end = next((e.end for e in self.world.episodes if e.onset <= m + 1 <= e.end + 1), m + 1)
            self._restarted_until = end * 60.0

    def _publish_kept(self, record: int) -> None:
        if self.world.down[self._minute()]:
            raise StreamingError("broker: partition has no leader")

    # ------------------------------------------------------------------ traffic
    def _gauge(self, minute: int) -> None:
        """The service's health gauge, logged once a minute as a warning above its threshold."""
        if self.gauge is None or minute == self._gauge_at:
            return
        self._gauge_at = minute
        s = float(self.world.stress[minute]) + self._noise.gauss(0.0, 0.05)
        dep = self.world.kind.dependency
        match self.gauge:
            case "pool":
                value, limit = 40 + 58 * s, 80
                text = f"{dep} connection pool at {value:.0f}% of its size"
            case "queue":
                value, limit = 20 + 80 * s, 70
                text = f"{dep} queue depth at {value * 10:.0f} requests"
            case "heap":
                value, limit = 55 + 42 * s, 85
                text = f"heap at {value:.0f}% of the limit"
            case "lag":
                value, limit = 5 + 95 * s, 50
                text = f"consumer lag at {value * 120:.0f} messages on {dep}"
            case _:
                value, limit = 30 + 70 * s, 85
                text = f"budget at {value:.0f}% of the hourly limit on {dep}"
        if value >= limit:
            self.clock.now = minute * 60.0
            self.logger.warning(text, component=dep, gauge=self.gauge, value=round(value, 1))

    def run(self, start_min: int, end_min: int) -> None:
        """Serve the requests arriving in [start_min, end_min) (simulated minutes)."""
        w = self.world
        grid = np.arange(start_min, end_min, dtype=float)
        counts = self._rng.poisson(w.rate * _season(grid))
        total = int(counts.sum())
        arrivals = np.repeat(grid, counts) + self._rng.random(total)
        arrivals.sort()
        draws = self._rng.random((total, DRAWS))
        served = self.stats.served
        attacks = [a for a in w.attacks if a[0] < end_min and a[1] > start_min]
        extra: list[tuple[float, str]] = []
        for a0, a1, who in attacks:
            n = int((min(a1, end_min) - max(a0, start_min)) * 12)
            lo = max(a0, start_min)
            extra += [(lo + (i + 0.5) * (min(a1, end_min) - lo) / max(n, 1), who) for i in range(n)]
        extra_at = iter(sorted(extra))
        nxt = next(extra_at, None)
        jobs: list[tuple[float, np.ndarray, str | None]] = []
        for i in range(total):
            t = float(arrivals[i])
            while nxt is not None and nxt[0] <= t:
                jobs.append((nxt[0], draws[i], nxt[1]))
                nxt = next(extra_at, None)
            jobs.append((t, draws[i], None))
        for t, u, who in jobs:
            minute = int(t)
            self.clock.now = minute * 60.0
            self._gauge(minute)
            if self.advisor is not None:
                self.advisor.poll()
            if self.name == "events" and self.buffer.pending:
                self.clock.now = t * 60.0
                self.buffer.flush()
            self._counter += 1
            request = _Request(self._counter, t * 60.0, u, who)
            self.request = request
            self.clock.now = request.arrival
            outcome = self._serve(request)
            served[outcome] = served.get(outcome, 0) + 1
            self.stats.log.append((minute, outcome, bool(w.down[min(minute, w.down.shape[0] - 1)])))
        self.request = None

    def _serve(self, request: _Request) -> str:
        """Serve one request; what its user got: ``ok``, ``recovered`` (an error, handled
        with the full answer), ``fallback`` (handled with a degraded answer), ``failed``,
        ``rejected`` (a security error), or ``preempted_<measure>`` (no error: a pre-emptive
        measure served it, or cut its deadline)."""
        try:
            value = self.call(request)
        except Exception as exc:
            return "rejected" if classify(exc).category == "security" else "failed"
        if request.preempted is not None and not request.errored:
            return request.preempted.replace("preempt_", "preempted_")
        if not request.errored:
            return "ok"
        if value == "fallback" or request.served == "fallback":
            return "fallback"
        return "recovered"


class _NoMetrics:
    """The guard's Prometheus counters are process-wide; the benchmark keeps its own."""

    def record(self, *args: Any) -> None:
        pass


def _probit(u: float) -> float:
    """About the standard normal quantile of ``u`` (the logistic one, scaled to unit
    variance): the spread of a log-normal latency."""
    u = min(max(u, 1e-9), 1.0 - 1e-9)
    return math.log(u / (1.0 - u)) * 0.5513


__all__ = ["KINDS", "START", "Service", "SimClock", "World", "iso", "make_world"]
