"""A believable multi-service error stream, with the ground truth to test against.

Every later feature (failure prediction, anomaly detection, pattern mining, recovery
recommendation) is tested against this stream, so it holds what those features must find:

- **traffic and errors**: request traffic (info/debug) and errors of every category
  (communication, data, streaming, budget, memory, security) at base rates that differ per
  category and per service, busier by day (peaking about 14:00 UTC) and noisy minute to minute;
- **outages**: a few per service per day (Poisson), each a burst of ``critical`` events with
  ``failure: true`` lasting minutes.  About three in four are preceded 5-30 minutes earlier by a
  **precursor** episode of one kind that ramps up: rising ``timeouts``, ``memory`` pressure
  (``heap_pct`` climbing), a ``retry_storm`` (``retry_count`` climbing), ``budget`` warnings
  (``budget_pct`` climbing to 100) or ``streaming_lag`` growth.  Precursor-like **false alarms**
  (about a third as many) rise and fade without an outage;
- **security incidents**: authentication-failure bursts from one source address against one
  service (dozens to hundreds of attempts in minutes), most ended by a ``lockout``; and sporadic
  authorisation violations;
- **recoveries**: 30-55% of errors carry ``recovery_action``, ``recovery_outcome``,
  ``recovery_ms`` (and ``retry_count`` for retries).  Whether an action works depends on
  (category, action) through a table fixed by the seed; actions are chosen by an exploring
  behaviour policy (mostly uniform, with a habit of plain ``retry``), so the best action per
  category is there to be learned;
- **leaks**: about 1 in 20,000 lines logs a secret by mistake (a password, a bearer token, an
  API key, an AWS key, a card number, an e-mail address, a password in a URL); every run has at
  least one, so redaction can be checked end to end.

Output is deterministic per seed (byte for byte), in non-decreasing time order, and made one
minute of event time at a time, so any length streams in bounded memory.  The ground truth
(outages and their precursors, false alarms, incidents, the success table, the leaks, counts)
goes to a JSON side file, ``<out>.truth.json`` by default.

Examples
--------
>>> import io
>>> buf = io.BytesIO()
>>> summary = simulate(buf, services=2, hours=0.5, seed=1)
>>> summary.events == buf.getvalue().count(b"\\n")
True
>>> first = next(iter_events(services=1, hours=0.1, seed=3))
>>> list(first)[:4]
['event', 'level', 'timestamp', 'service']
"""

from __future__ import annotations

import gzip
import math
import os
import random
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Final

import numpy as np
import orjson

from faultcast import _simulate_catalog as cat
from faultcast._simulate_catalog import Episode, Service, Template
from faultcast.ingest.schema import category_of

__all__ = [
    "DEFAULT_START",
    "PRECURSOR_KINDS",
    "SimulationSummary",
    "iter_events",
    "simulate",
]

#: Where event time starts unless told otherwise (fixed, so output is deterministic).
DEFAULT_START: Final[datetime] = datetime(2026, 1, 1, tzinfo=UTC)

#: The kinds of precursor episode that can announce an outage.
PRECURSOR_KINDS: Final[tuple[str, ...]] = tuple(cat.PRECURSOR_CATEGORY)

#: Outages per service per day, on average.
OUTAGES_PER_SERVICE_DAY: Final[float] = 3.0
#: Share of outages announced by a precursor episode.
PRECURSOR_SHARE: Final[float] = 0.75
#: False alarms per real precursor, on average.
FALSE_ALARMS_PER_PRECURSOR: Final[float] = 1 / 3
#: Authentication-failure bursts per service per day, on average.
SECURITY_INCIDENTS_PER_SERVICE_DAY: Final[float] = 0.5
#: About one line in this many leaks a secret.
LEAK_EVERY: Final[int] = 20_000
#: ``progress`` is called about every this many events.
PROGRESS_EVERY: Final[int] = 50_000

_MINUTE_MS: Final[int] = 60_000
_DAY_MS: Final[int] = 86_400_000
_PEAK_MS_OF_DAY: Final[int] = 14 * 3_600_000
_SEASON_AMPLITUDE: Final[float] = 0.6
_MS3: Final[tuple[str, ...]] = tuple(f"{i:03d}Z" for i in range(1000))
# Outage and precursor kinds whose events belong to a request (and so carry a request_id).
_REQUEST_KINDS: Final[frozenset[str | None]] = frozenset({"timeouts", "retry_storm", "budget", None})  # fmt: skip


@dataclass(frozen=True)
class SimulationSummary:
    """What :func:`simulate` wrote.

    Examples
    --------
    >>> import io
    >>> s = simulate(io.BytesIO(), services=1, hours=0.25, seed=2)
    >>> s.events == sum(s.by_level.values()) and s.path is None and s.truth_path is None
    True
    """

    #: Lines written.
    events: int
    #: Lines with ``failure: true`` (all ``critical``).
    failures: int
    #: The file written (absolute), or None for a stream.
    path: str | None
    #: The ground-truth side file, or None when none was written.
    truth_path: str | None
    by_level: dict[str, int] = field(default_factory=dict)
    #: Lines with an error type, per category (the store's taxonomy).
    by_category: dict[str, int] = field(default_factory=dict)
    #: Event time covered, ISO 8601 UTC.
    start: str = ""
    end: str = ""
    outages: int = 0
    security_incidents: int = 0
    #: Lines that log a secret by mistake.
    leaks: int = 0
    #: Lines that carry a recovery attempt.
    recoveries: int = 0


def iter_events(
    *,
    services: int = 8,
    hours: float = 24.0,
    seed: int = 0,
    start: datetime | str | None = None,
    rate: float = 20.0,
    event_ids: bool = False,
) -> Iterator[dict[str, Any]]:
    """The simulated events, one dict each, in time order, made a minute at a time.

    Arguments are checked at once (a ``ValueError`` says which is wrong); the events are made as
    they are consumed, so memory does not grow with ``hours``.  See :func:`simulate`.

    Examples
    --------
    >>> events = list(iter_events(services=2, hours=0.5, seed=7))
    >>> [e["timestamp"] for e in events] == sorted(e["timestamp"] for e in events)
    True
    >>> events[0]["timestamp"].startswith("2026-01-01T00:00:")
    True
    """
    sim = _Simulation(services, hours, seed, start, rate, event_ids)
    return _flatten(sim.batches())


def _flatten(batches: Iterator[list[dict[str, Any]]]) -> Iterator[dict[str, Any]]:
    for batch in batches:
        yield from batch


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
    """Write the simulated stream as JSON lines, and its ground truth as a JSON side file.

    Parameters
    ----------
    out
        A path (JSON lines; gzip when the name ends in ``.gz``), ``"-"`` for standard output,
        or a binary file object (left open).
    services
        Number of services: ``checkout``, ``payments``, … then ``checkout-2``, … past twelve.
    hours
        Event time to cover.
    seed
        Same seed and arguments, same bytes.
    start
        Event time of the first minute (ISO 8601 text or datetime; naive means UTC).
        Default ``2026-01-01T00:00:00Z``.
    rate
        Mean events per service per minute, all levels, averaged over the day
        (8 services x 24 h x 20/min is about 230,000 events).
    event_ids
        Give every line a deterministic ``event_id`` (a UUID drawn from the seed).
    truth
        Where to write the ground truth; default ``<out>.truth.json`` for a path, none for a
        stream.
    progress
        Called with the number of lines written so far, about every 50,000 lines and at the end.

    Examples
    --------
    >>> import io, json
    >>> buf = io.BytesIO()
    >>> s = simulate(buf, services=3, hours=1, seed=5)
    >>> lines = buf.getvalue().splitlines()
    >>> len(lines) == s.events and all(json.loads(x)["service"] for x in lines)
    True
    """
    sim = _Simulation(services, hours, seed, start, rate, event_ids)
    path: str | None = None
    owned: list[IO[bytes] | gzip.GzipFile] = []
    stream: IO[bytes] | gzip.GzipFile
    if isinstance(out, (str, os.PathLike)) and os.fspath(out) != "-":
        target = Path(out).expanduser().resolve()
        path = str(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        raw = open(target, "wb")  # noqa: SIM115 - closed below
        owned.append(raw)
        if path.endswith(".gz"):
            # mtime=0 and no file name in the header: the same run gives the same bytes.
            stream = gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=4, mtime=0)
            owned.insert(0, stream)
        else:
            stream = raw
        if truth is None:
            truth = path + ".truth.json"
    elif isinstance(out, (str, os.PathLike)):
        stream = sys.stdout.buffer
    else:
        stream = out
    dumps = orjson.dumps
    written = 0
    next_report = PROGRESS_EVERY
    try:
        for batch in sim.batches():
            if not batch:
                continue
            stream.write(b"\n".join([dumps(ev) for ev in batch]))
            stream.write(b"\n")
            written += len(batch)
            if progress is not None and written >= next_report:
                progress(written)
                next_report = (written // PROGRESS_EVERY + 1) * PROGRESS_EVERY
        if progress is not None:
            progress(written)
        stream.flush()
    finally:
        for f in owned:
            f.close()
    doc = sim.truth()
    truth_path: str | None = None
    if truth is not None:
        truth_file = Path(truth).expanduser()
        truth_file.parent.mkdir(parents=True, exist_ok=True)
        truth_file.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n")
        truth_path = str(truth_file.resolve())
    counts = doc["counts"]
    return SimulationSummary(
        events=written,
        failures=counts["failures"],
        path=path,
        truth_path=truth_path,
        by_level=counts["by_level"],
        by_category=counts["by_category"],
        start=doc["start"],
        end=doc["end"],
        outages=counts["outages"],
        security_incidents=counts["security_incidents"],
        leaks=doc["leaks"]["count"],
        recoveries=counts["recoveries"],
    )


# ---------------------------------------------------------------------------------------------
# The engine.


def _parse_start(start: datetime | str | None) -> datetime:
    if start is None:
        return DEFAULT_START
    if isinstance(start, str):
        try:
            parsed = datetime.fromisoformat(start.strip().replace("Z", "+00:00"))
        except ValueError as e:
            raise ValueError(
                f"start {start!r} is not an ISO 8601 time; write it like 2026-01-01T00:00:00Z"
            ) from e
    else:
        parsed = start
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _iso(ms: int) -> str:
    """Epoch milliseconds as ISO 8601 UTC with milliseconds and ``Z``."""
    dt = datetime.fromtimestamp(ms // 1000, UTC)
    return f"{dt:%Y-%m-%dT%H:%M:%S}.{ms % 1000:03d}Z"


def _seed_words(seed: int, stream: int) -> list[int]:
    """A numpy seed sequence for one of the run's random streams (any int seed, even negative)."""
    words = [stream, int(seed < 0)]
    magnitude = abs(seed)
    while True:
        words.append(magnitude & 0xFFFFFFFF)
        magnitude >>= 32
        if not magnitude:
            return words


def _season(ms: float) -> float:
    """Traffic multiplier over the day: 1.6 at 14:00 UTC, 0.4 at 02:00 UTC, mean 1."""
    phase = (ms % _DAY_MS - _PEAK_MS_OF_DAY) / _DAY_MS
    return 1.0 + _SEASON_AMPLITUDE * math.cos(2 * math.pi * phase)


def _weighted_table(templates: list[Template], weights: list[float], size: int) -> list[Template]:
    """Templates repeated in proportion to their weights (each at least once): index it with
    a uniform draw to pick one."""
    total = sum(weights)
    table: list[Template] = []
    for t, w in zip(templates, weights, strict=True):
        table.extend([t] * max(1, round(size * w / total)))
    return table


class _Slice:
    """The events of one wall-clock minute of event time, ``[lo, hi)`` in epoch ms."""

    __slots__ = ("events", "hi", "lo", "offsets", "prefixes", "start_ms")

    def __init__(self, start_ms: int, lo: int, hi: int) -> None:
        self.start_ms, self.lo, self.hi = start_ms, lo, hi
        head = f"{datetime.fromtimestamp(start_ms // 1000, UTC):%Y-%m-%dT%H:%M:}"
        #: "2026-01-01T00:03:12." for each second of the minute.
        self.prefixes = [f"{head}{s:02d}." for s in range(60)]
        self.events: list[dict[str, Any]] = []
        #: Milliseconds since ``start_ms``, one per event.
        self.offsets: list[int] = []

    def stamp(self, at_ms: int) -> str:
        rel = at_ms - self.start_ms
        return self.prefixes[rel // 1000] + _MS3[rel % 1000]

    def sorted_events(self) -> list[dict[str, Any]]:
        """The events in time order (ties keep the order they were made in)."""
        events = self.events
        return [events[i] for i in sorted(range(len(events)), key=self.offsets.__getitem__)]


class _Simulation:
    """One run: the plan (made up front, small) and the minute-by-minute event maker."""

    def __init__(
        self,
        services: int,
        hours: float,
        seed: int,
        start: datetime | str | None,
        rate: float,
        event_ids: bool,
    ) -> None:
        if isinstance(services, bool) or not isinstance(services, int) or services < 1:
            raise ValueError(f"services must be a whole number of at least 1, not {services!r}")
        if not (isinstance(hours, (int, float)) and math.isfinite(hours) and hours > 0):
            raise ValueError(f"hours must be a positive number, not {hours!r}")
        if not (isinstance(rate, (int, float)) and math.isfinite(rate) and rate > 0):
            raise ValueError(f"rate must be a positive number of events per minute, not {rate!r}")
        if not isinstance(seed, int):
            raise ValueError(f"seed must be a whole number, not {seed!r}")
        t0 = _parse_start(start)
        self.seed = seed
        self.n_services = services
        self.hours = float(hours)
        self.rate = float(rate)
        self.event_ids = event_ids
        self.t0_ms = int(round(t0.timestamp() * 1000))
        self.end_ms = self.t0_ms + int(round(hours * 3_600_000))
        # Independent, seeded streams: the plan, the minute counts, the per-event details.
        plan_r = random.Random(f"faultcast-sim-plan:{seed}")
        self.plan_rng = np.random.default_rng(_seed_words(seed, 1))
        self.count_rng = np.random.default_rng(_seed_words(seed, 2))
        self.r = random.Random(f"faultcast-sim-events:{seed}")
        params = f"{seed}:{services}:{hours!r}:{rate!r}:{self.t0_ms}"
        self.id_r = random.Random(f"faultcast-sim-ids:{params}")

        names = [cat.service_name(i) for i in range(services)]
        self.services: list[Service] = []
        for i, name in enumerate(names):
            others = [n for n in names if n != name]
            peers = tuple(plan_r.sample(others, min(len(others), plan_r.randint(1, 3))))
            self.services.append(cat.make_service(i, name, plan_r, peers))
        self._plan_rates()
        self._plan_tables(plan_r)
        self.success = {
            category: {
                action: round(float(np.clip(p + self.plan_rng.uniform(-0.05, 0.05), 0.01, 0.99)), 3)
                for action, p in actions.items()
            }
            for category, actions in cat.BASE_SUCCESS.items()
        }
        self.actions = {category: list(acts) for category, acts in self.success.items()}
        self._plan_episodes(plan_r)
        self.leak_kinds = list(cat.LEAKS)
        self.leak_next = seed % len(self.leak_kinds)
        self.leaks: list[dict[str, Any]] = []
        self.by_level: dict[str, int] = dict.fromkeys(
            ("debug", "info", "warning", "error", "critical"), 0
        )
        self.by_category: dict[str, int] = {}
        self.failures = 0
        self.recoveries = 0
        self.written = 0
        self._category_cache: dict[str, str] = {}

    # -- the plan ---------------------------------------------------------------------------

    def _plan_rates(self) -> None:
        n = self.n_services
        scale = self.rate / 20.0
        traffic_mult = self.plan_rng.lognormal(0.0, 0.3, size=n)
        traffic_mult /= traffic_mult.mean()
        categories = list(cat.BASE_ERROR_RATE)
        base = np.array([cat.BASE_ERROR_RATE[c] for c in categories])
        errors = (
            base[None, :] * self.plan_rng.lognormal(0.0, 0.6, size=(n, len(categories))) * scale
        )
        traffic = np.maximum(self.rate * traffic_mult - errors.sum(axis=1), 0.1 * self.rate)
        self.categories = categories
        #: services x (1 + categories): mean events per minute at the daily mean.
        self.base_rates = np.concatenate([traffic[:, None], errors], axis=1)

    def _plan_tables(self, plan_r: random.Random) -> None:
        self.traffic_tables: list[list[Template]] = []
        self.error_tables: list[list[list[Template]]] = []
        for svc in self.services:
            base_name = cat.SERVICE_NAMES[svc.index % len(cat.SERVICE_NAMES)]
            usable = [
                t
                for t in cat.TRAFFIC
                if t.name not in cat.DOMAIN_TRAFFIC or base_name in cat.DOMAIN_TRAFFIC[t.name]
            ]
            weights = [t.weight * plan_r.lognormvariate(0.0, 0.3) for t in usable]
            self.traffic_tables.append(_weighted_table(usable, weights, 2048))
            per_category = []
            for c in self.categories:
                ts = list(cat.ERRORS[c])
                per_category.append(
                    _weighted_table(
                        ts, [t.weight * plan_r.lognormvariate(0.0, 0.5) for t in ts], 256
                    )
                )
            self.error_tables.append(per_category)

    def _plan_episodes(self, plan_r: random.Random) -> None:
        rng = self.plan_rng
        t0, end = self.t0_ms, self.end_ms
        days = (end - t0) / _DAY_MS
        speed = math.sqrt(self.rate / 20.0)
        self.outages: list[Episode] = []
        self.precursors: list[Episode] = []
        self.false_alarms: list[Episode] = []
        self.incidents: list[Episode] = []
        for s in range(self.n_services):
            outages_s: list[Episode] = []
            n = int(rng.poisson(OUTAGES_PER_SERVICE_DAY * days))
            lo, hi = t0 + 35 * _MINUTE_MS, end - 3 * _MINUTE_MS
            starts = sorted(int(x) for x in rng.uniform(lo, hi, size=n)) if hi > lo else []
            last_end = -(10**15)
            for at in starts:
                if at < last_end + 45 * _MINUTE_MS:
                    continue  # one outage at a time per service, with room for a precursor
                duration = int(rng.uniform(3, 15) * _MINUTE_MS)
                cause: str | None = None
                if rng.random() < PRECURSOR_SHARE:
                    cause = PRECURSOR_KINDS[int(rng.integers(len(PRECURSOR_KINDS)))]
                outage = self._episode(s, "outage", "outage", at, min(end, at + duration), plan_r)
                outage.cause = cause
                outage.peak = float(rng.uniform(6, 20)) * speed
                last_end = outage.end_ms
                outages_s.append(outage)
                if cause is not None:
                    lead = int(rng.uniform(5, 30) * _MINUTE_MS)
                    pre = self._episode(s, "precursor", cause, at - lead, at, plan_r, like=outage)
                    pre.peak = self._precursor_peak(s, cause, speed)
                    self.precursors.append(pre)
            self.outages.extend(outages_s)
            # False alarms: the same ramps, away from this service's outages, ending in nothing.
            n_false = int(
                rng.poisson(FALSE_ALARMS_PER_PRECURSOR * sum(1 for o in outages_s if o.cause))
            )
            placed: list[tuple[int, int]] = [
                (o.start_ms - 45 * _MINUTE_MS, o.end_ms + 15 * _MINUTE_MS) for o in outages_s
            ]
            for _ in range(n_false):
                for _attempt in range(20):
                    length = int(rng.uniform(5, 20) * _MINUTE_MS)
                    if end - t0 <= length:
                        break
                    at = int(rng.uniform(t0, end - length))
                    if all(at + length <= a or at >= b for a, b in placed):
                        kind = PRECURSOR_KINDS[int(rng.integers(len(PRECURSOR_KINDS)))]
                        fa = self._episode(s, "false_alarm", kind, at, at + length, plan_r)
                        fa.peak = self._precursor_peak(s, kind, speed) * float(
                            rng.uniform(0.6, 1.0)
                        )
                        fa.peak_at = float(rng.uniform(0.5, 0.8))
                        self.false_alarms.append(fa)
                        placed.append((at - 15 * _MINUTE_MS, at + length + 15 * _MINUTE_MS))
                        break
        # Security incidents: authentication-failure bursts, mostly against auth and the gateway.
        n_incidents = int(rng.poisson(SECURITY_INCIDENTS_PER_SERVICE_DAY * days * self.n_services))
        if n_incidents == 0 and end - t0 >= 60 * _MINUTE_MS:
            n_incidents = 1
        weights = np.array(
            [
                {"auth": 4.0, "gateway": 3.0}.get(cat.SERVICE_NAMES[i % 12], 1.0)
                for i in range(self.n_services)
            ]
        )
        for _ in range(n_incidents):
            s = int(rng.choice(self.n_services, p=weights / weights.sum()))
            length = int(rng.uniform(2, 8) * _MINUTE_MS)
            at = int(rng.uniform(t0, max(t0 + 1, end - length)))
            kind = "brute_force" if rng.random() < 0.5 else "credential_stuffing"
            inc = self._episode(s, "security", kind, at, min(end, at + length), plan_r)
            inc.peak = float(rng.uniform(15, 80))
            inc.source_ip = cat.attacker_ip(plan_r)
            inc.user = cat.pick(plan_r, cat.USERS)
            inc.locked_out = bool(rng.random() < 0.7)
            self.incidents.append(inc)
        episodes = self.precursors + self.outages + self.false_alarms + self.incidents
        episodes.sort(key=lambda e: (e.start_ms, e.service, e.role))
        self.episodes = episodes

    def _episode(
        self,
        s: int,
        role: str,
        kind: str,
        start_ms: int,
        end_ms: int,
        plan_r: random.Random,
        like: Episode | None = None,
    ) -> Episode:
        if like is not None:  # a precursor shares its outage's host, dependency, topic, tenant
            return Episode(s, role, kind, start_ms, end_ms, like.host, like.dep, like.topic,
                           like.partition, like.tenant, like.group)  # fmt: skip
        svc = self.services[s]
        return Episode(
            s,
            role,
            kind,
            start_ms,
            end_ms,
            host=cat.pick(plan_r, svc.hosts),
            dep=cat.pick(plan_r, svc.deps + svc.peers),
            topic=cat.pick(plan_r, svc.topics),
            partition=plan_r.randrange(12),
            tenant=cat.pick(plan_r, cat.TENANTS),
            group=cat.pick(plan_r, svc.groups),
        )

    def _precursor_peak(self, s: int, kind: str, speed: float) -> float:
        """Events per minute at a precursor's peak: well above the category's own base rate."""
        c = self.categories.index(cat.PRECURSOR_CATEGORY[kind])
        peak = max(8.0 * speed, 12.0 * float(self.base_rates[s, 1 + c]))
        return peak * (1.5 if kind == "retry_storm" else 1.0)

    # -- making events ----------------------------------------------------------------------

    def _category(self, error_type: str) -> str:
        found = self._category_cache.get(error_type)
        if found is None:
            found = self._category_cache[error_type] = category_of(error_type) or "unknown"
        return found

    def _request_id(self, svc: Service) -> str:
        r = self.r.random()
        recent = svc.recent_requests
        if r < 0.6:
            return recent[int(r * 13.3)]
        rid = cat.hex_id(self.r)
        recent[int((r - 0.6) * 19.9)] = rid
        return rid

    def _event_id(self) -> str:
        x = self.id_r.getrandbits(128)
        x = (x & ~(0xF << 76)) | (0x4 << 76)  # version 4
        x = (x & ~(0x3 << 62)) | (0x2 << 62)  # RFC 4122 variant
        h = f"{x:032x}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def _recover(
        self,
        ev: dict[str, Any],
        category: str,
        action: str | None = None,
        retry_count: int | None = None,
    ) -> None:
        """Attach a recovery attempt whose outcome follows the success table."""
        r = self.r
        acts = self.actions[category]
        if action is None:
            if r.random() < cat.HABIT_SHARE:
                action = cat.HABIT_ACTION
            else:
                action = acts[int(r.random() * len(acts))]
        ok = r.random() < self.success[category][action]
        ev["recovery_action"] = action
        ev["recovery_outcome"] = "succeeded" if ok else "failed"
        factor = 1.0 if ok else 1.6
        if action.startswith("retry"):
            if retry_count is None:
                retry_count = 1 + int(r.random() * 3) if ok else 5
            ev["retry_count"] = retry_count
            factor *= retry_count
        ev["recovery_ms"] = round(
            cat.ACTION_MEDIAN_MS[action] * factor * math.exp(0.6 * r.gauss(0.0, 1.0)), 1
        )
        self.recoveries += 1

    def batches(self) -> Iterator[list[dict[str, Any]]]:
        """One list of events per wall-clock minute of event time, each sorted by time."""
        slice_ms = self.t0_ms - self.t0_ms % _MINUTE_MS
        pending = iter(self.episodes)
        upcoming = next(pending, None)
        active: list[Episode] = []
        leak_due = True  # every run leaks at least once, in its first minute
        while slice_ms < self.end_ms:
            sl = _Slice(
                slice_ms, max(self.t0_ms, slice_ms), min(self.end_ms, slice_ms + _MINUTE_MS)
            )
            while upcoming is not None and upcoming.start_ms < sl.hi:
                active.append(upcoming)
                upcoming = next(pending, None)
            self._background(sl, active)
            for ep in active:
                self._episode_events(sl, ep)
            self._leaks(sl, force=leak_due)
            leak_due = leak_due and not self.leaks
            active = [e for e in active if e.end_ms > sl.hi]
            batch = sl.sorted_events()
            self.written += len(batch)
            yield batch
            slice_ms += _MINUTE_MS

    def _add(
        self,
        sl: _Slice,
        at: int,
        svc: Service,
        host: str,
        message: str,
        level: str,
        error_type: str | None,
        component: str,
        extra: dict[str, Any] | None,
        request: bool,
    ) -> dict[str, Any]:
        """One event at epoch ms ``at`` (the rarer kinds; background traffic is made inline)."""
        ev: dict[str, Any] = {
            "event": message,
            "level": level,
            "timestamp": sl.stamp(at),
            "service": svc.name,
            "host": host,
            "component": component,
        }
        if error_type:
            ev["error_type"] = error_type
            category = self._category(error_type)
            self.by_category[category] = self.by_category.get(category, 0) + 1
        if request:
            ev["request_id"] = self._request_id(svc)
        if extra:
            ev.update(extra)
        self.by_level[level] += 1
        sl.events.append(ev)
        sl.offsets.append(at - sl.start_ms)
        return ev

    def _background(self, sl: _Slice, active: list[Episode]) -> None:
        """Traffic and errors of every service: seasonal, noisy Poisson counts, then the events.

        This is the hot path (most events), so it is written out inline.
        """
        r = self.r
        rand = r.random
        prefixes, ms3 = sl.prefixes, _MS3
        events, offsets = sl.events, sl.offsets
        lo_rel, span = sl.lo - sl.start_ms, sl.hi - sl.lo
        n_services = self.n_services
        season = _season((sl.lo + sl.hi) / 2) * span / _MINUTE_MS
        noise = np.empty_like(self.base_rates)
        noise[:, 0] = self.count_rng.gamma(30.0, 1 / 30.0, size=n_services)
        noise[:, 1:] = self.count_rng.gamma(4.0, 1 / 4.0, size=(n_services, len(self.categories)))
        lam = self.base_rates * noise * season
        for ep in active:
            if ep.role == "outage" and ep.start_ms < sl.hi and ep.end_ms > sl.lo:
                covered = (min(sl.hi, ep.end_ms) - max(sl.lo, ep.start_ms)) / span
                lam[ep.service, 0] *= 1.0 - 0.6 * covered  # requests fail instead of being served
        counts = self.count_rng.poisson(lam).tolist()
        by_level, by_category = self.by_level, self.by_category
        ids = self.event_ids
        for s in range(n_services):
            svc = self.services[s]
            name, hosts = svc.name, svc.hosts
            n_hosts = len(hosts)
            row = counts[s]
            table = self.traffic_tables[s]
            n_table = len(table)
            recent = svc.recent_requests
            for _ in range(row[0]):
                t = table[int(rand() * n_table)]
                message, extra = t.make(r, svc)
                rel = lo_rel + int(rand() * span)
                ev: dict[str, Any] = {
                    "event": message,
                    "level": t.level,
                    "timestamp": prefixes[rel // 1000] + ms3[rel % 1000],
                    "service": name,
                    "host": hosts[int(rand() * n_hosts)],
                    "component": t.component,
                }
                if t.request_scoped:  # _request_id, inline
                    u = rand()
                    if u < 0.6:
                        ev["request_id"] = recent[int(u * 13.3)]
                    else:
                        rid = ev["request_id"] = cat.hex_id(r)
                        recent[int((u - 0.6) * 19.9)] = rid
                if extra:
                    ev.update(extra)
                if ids:
                    ev["event_id"] = self._event_id()
                by_level[t.level] += 1
                events.append(ev)
                offsets.append(rel)
            for c, category in enumerate(self.categories):
                n = row[1 + c]
                if not n:
                    continue
                etable = self.error_tables[s][c]
                recovery_share = cat.RECOVERY_SHARE[category]
                by_category[category] = by_category.get(category, 0) + n
                for _ in range(n):
                    t = etable[int(rand() * len(etable))]
                    message, extra = t.make(r, svc)
                    rel = lo_rel + int(rand() * span)
                    level = t.alt_level if rand() < t.alt_share else t.level
                    ev = {
                        "event": message,
                        "level": level,
                        "timestamp": prefixes[rel // 1000] + ms3[rel % 1000],
                        "service": name,
                        "host": hosts[int(rand() * n_hosts)],
                        "component": t.component,
                        "error_type": t.error_type,
                    }
                    if t.request_scoped:
                        ev["request_id"] = self._request_id(svc)
                    if extra:
                        ev.update(extra)
                    if rand() < recovery_share:
                        self._recover(ev, category)
                    if ids:
                        ev["event_id"] = self._event_id()
                    by_level[level] += 1
                    events.append(ev)
                    offsets.append(rel)

    def _episode_events(self, sl: _Slice, ep: Episode) -> None:
        """The part of an episode inside this minute: precursors and false alarms ramp, outages
        burst, attackers hammer; an outage ends with a 'healthy again', an attack maybe with a
        lockout."""
        a, b = max(sl.lo, ep.start_ms), min(sl.hi, ep.end_ms)
        if b <= a:
            return
        r = self.r
        rand = r.random
        svc = self.services[ep.service]
        length = max(1, ep.end_ms - ep.start_ms)
        x_mid = ((a + b) / 2 - ep.start_ms) / length
        if ep.role == "precursor":
            per_minute = ep.peak * (0.15 + 0.85 * x_mid**1.5)
        elif ep.role == "false_alarm":
            if x_mid < ep.peak_at:
                y = x_mid / ep.peak_at
            else:
                y = max(0.0, 1 - (x_mid - ep.peak_at) / (1 - ep.peak_at))
            per_minute = ep.peak * (0.15 + 0.85 * y**1.5)
        else:
            per_minute = ep.peak
        n = int(self.count_rng.poisson(per_minute * (b - a) / _MINUTE_MS))
        for _ in range(n):
            at = a + int(rand() * (b - a))
            x = (at - ep.start_ms) / length
            host = ep.host if rand() < 0.8 else svc.hosts[int(rand() * len(svc.hosts))]
            if ep.role == "security":
                message, extra = cat.brute_force_attempt(r, ep)
                ev = self._add(sl, at, svc, host, message, "warning", "AuthenticationError", "auth",
                               extra, False)  # fmt: skip
                ep.attempts += 1
            elif ep.role == "outage":
                message, level, error_type, component, extra = cat.OUTAGES[ep.cause](r, svc, ep, x)
                ev = self._add(sl, at, svc, host, message, level, error_type, component, extra,
                               ep.cause in _REQUEST_KINDS)  # fmt: skip
                ev["failure"] = True
                self.failures += 1
                if rand() < 0.5:
                    self._recover(ev, self._category(error_type))
            else:
                message, level, error_type, component, extra = cat.PRECURSORS[ep.kind](
                    r, svc, ep, x
                )
                retry_count = extra.pop("retry_count", None) if extra else None
                ev = self._add(sl, at, svc, host, message, level, error_type, component, extra,
                               ep.kind in _REQUEST_KINDS)  # fmt: skip
                category = self._category(error_type)
                if retry_count is not None:
                    self._recover(ev, category, "retry", retry_count)
                elif rand() < cat.RECOVERY_SHARE[category]:
                    self._recover(ev, category)
            if self.event_ids:
                ev["event_id"] = self._event_id()
        last = ep.end_ms - 1
        if not sl.lo <= last < sl.hi:
            return
        if ep.role == "outage" and ep.end_ms < self.end_ms:
            ev = self._add(sl, last, svc, ep.host, cat.outage_resolved(r, ep), "info", None,
                           "health", None, False)  # fmt: skip
        elif ep.role == "security" and ep.locked_out and ep.attempts:
            ev = self._add(sl, last, svc, svc.hosts[0], cat.lockout_message(ep), "error",
                           "SecurityViolationError", "auth", {"source_ip": ep.source_ip}, False)  # fmt: skip
            self._recover(ev, "security", "lockout")
        else:
            return
        if self.event_ids:
            ev["event_id"] = self._event_id()

    def _leaks(self, sl: _Slice, force: bool) -> None:
        """About one line in LEAK_EVERY logs a secret by mistake (at least one when forced)."""
        rand = self.r.random
        expected = len(sl.events) / LEAK_EVERY
        n_leaks = int(expected) + int(rand() < expected - int(expected))
        if force:
            n_leaks = max(n_leaks, 1)
        for _ in range(n_leaks):
            kind = self.leak_kinds[self.leak_next % len(self.leak_kinds)]
            self.leak_next += 1
            svc = self.services[int(rand() * self.n_services)]
            message, level, error_type, component, extra, secret = cat.LEAKS[kind](self.r, svc)
            at = sl.lo + int(rand() * (sl.hi - sl.lo))
            host = svc.hosts[int(rand() * len(svc.hosts))]
            ev = self._add(sl, at, svc, host, message, level, error_type, component, extra, True)
            if self.event_ids:
                ev["event_id"] = self._event_id()
            self.leaks.append(
                {"kind": kind, "timestamp": ev["timestamp"], "service": svc.name, "secret": secret}
            )

    # -- the ground truth -------------------------------------------------------------------

    def truth(self) -> dict[str, Any]:
        """The plan and what was made of it, as plain JSON-ready data."""
        per_service: dict[str, dict[str, Any]] = {}
        for s, svc in enumerate(self.services):
            per_service[svc.name] = {
                "hosts": list(svc.hosts),
                "traffic_per_minute": round(float(self.base_rates[s, 0]), 3),
                "error_rate_per_minute": {
                    c: round(float(self.base_rates[s, 1 + i]), 4)
                    for i, c in enumerate(self.categories)
                },
                "outages": [],
                "false_alarms": [],
                "security_incidents": [],
            }
        precursor_of = {(p.service, p.end_ms): p for p in self.precursors}
        for o in self.outages:
            p = precursor_of.get((o.service, o.start_ms)) if o.cause else None
            per_service[self.services[o.service].name]["outages"].append(
                {
                    "start": _iso(o.start_ms),
                    "end": _iso(o.end_ms),
                    "host": o.host,
                    "precursor": o.cause,
                    "precursor_start": _iso(p.start_ms) if p else None,
                    "precursor_category": cat.PRECURSOR_CATEGORY[o.cause] if o.cause else None,
                }
            )
        for fa in self.false_alarms:
            per_service[self.services[fa.service].name]["false_alarms"].append(
                {
                    "start": _iso(fa.start_ms),
                    "end": _iso(fa.end_ms),
                    "kind": fa.kind,
                    "host": fa.host,
                }
            )
        for inc in self.incidents:
            per_service[self.services[inc.service].name]["security_incidents"].append(
                {
                    "kind": inc.kind,
                    "start": _iso(inc.start_ms),
                    "end": _iso(inc.end_ms),
                    "source_ip": inc.source_ip,
                    "user": inc.user if inc.kind == "brute_force" else None,
                    "attempts": inc.attempts,
                    "locked_out": inc.locked_out and inc.attempts > 0,
                }
            )
        leaks_by_kind: dict[str, int] = {}
        for leak in self.leaks:
            leaks_by_kind[leak["kind"]] = leaks_by_kind.get(leak["kind"], 0) + 1
        return {
            "seed": self.seed,
            "parameters": {
                "services": self.n_services,
                "hours": self.hours,
                "rate": self.rate,
                "start": _iso(self.t0_ms),
                "event_ids": self.event_ids,
            },
            "start": _iso(self.t0_ms),
            "end": _iso(self.end_ms),
            "precursor_kinds": dict(cat.PRECURSOR_CATEGORY),
            "services": per_service,
            "success_probability": self.success,
            "behaviour_policy": {
                "habit_action": cat.HABIT_ACTION,
                "habit_share": cat.HABIT_SHARE,
                "otherwise": "uniform over the category's actions",
                "recovery_share": dict(cat.RECOVERY_SHARE),
            },
            "counts": {
                "events": self.written,
                "failures": self.failures,
                "outages": len(self.outages),
                "outages_with_precursor": sum(1 for o in self.outages if o.cause),
                "false_alarms": len(self.false_alarms),
                "security_incidents": len(self.incidents),
                "recoveries": self.recoveries,
                "by_level": {k: v for k, v in self.by_level.items() if v},
                "by_category": dict(sorted(self.by_category.items())),
            },
            "leaks": {"count": len(self.leaks), "by_kind": leaks_by_kind, "items": self.leaks},
        }
