"""A second simulated world: services on a dependency graph, failing for reasons of their own.

This world is built independently of :mod:`faultcast.simulate` (it shares only the output: the
structlog JSON-lines event schema and the ground-truth file format the benchmark reads), so a
failure model tuned on one can be checked on the other.  Its generative story:

- **the graph**: ``services`` services in call order; each calls one to three services further
  down (a random DAG fixed by the seed; the last ones are leaves, stores and caches).  Calls to
  a peer that fail are logged by the caller with a ``peer`` attribute naming the service called;
- **traffic**: every service has its own rate, drawn log-uniformly from very quiet (a few
  events an hour) to busy (dozens a minute), with a daily cycle of its own phase, and its own
  vocabulary of a dozen or more message templates with Zipf-like weights, a few of them benign
  errors (client mistakes, cache misses) that are always there;
- **slow resource exhaustion**: a resource (heap, file descriptors, disk, a connection or
  thread pool) fills over 15-60 minutes; its pressure messages are *rare* templates of the
  service (seen a few times a day otherwise) whose rate climbs, then the service fails;
- **deploys**: a couple per service per day, each bringing one to three *new* templates that
  stay (benign novelty); about one deploy in three is a *regression*: a new error template whose
  rate grows over 10-40 minutes until the service fails;
- **cascades**: while a service is failing its callers log failed calls naming it; half the
  edges of the graph are hard dependencies (many failed calls; the caller fails in turn with
  probability 0.8, 3-12 minutes after the callee's onset), the others soft (a cache, a
  fallback: a few failed calls, the caller fails with probability 0.05);
- **failures without warning**: about a third of a failure per service per day starts with
  no precursor at all;
- **decoys**: ramps of the same pressure templates that rise and fade with no failure (one
  for every three real ones), regressions rolled back in time (a new error template grows,
  then stops, with no failure: about one deploy in ten), **flapping** health probes that fail and recover for half an
  hour, and **bursts** of a benign error template at ten to thirty times its rate for minutes.

Every failure is an outage of 4-15 minutes of ``critical`` events with ``failure: true``.
Output is deterministic per seed, in non-decreasing time order, made a minute at a time (memory
does not grow with ``hours``).  The ground truth (per service: outages with their precursor
kind and start, decoy ramps as ``false_alarms``, deploys; the graph; counts) goes to
``<out>.truth.json``.  Ceilings: an oracle that alerts during every precursor and every decoy
ramp (indistinguishable while they rise) reaches the precision and recall the truth's counts
give; flapping and bursts are distinguishable and are not counted as false alarms.

Examples
--------
>>> import io
>>> buf = io.BytesIO()
>>> s = simulate_graph(buf, services=4, hours=1, seed=1)
>>> s.events == buf.getvalue().count(b"\\n")
True
"""

from __future__ import annotations

import heapq
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Final

import numpy as np
import orjson

__all__ = ["GraphSimulationSummary", "iter_graph_events", "simulate_graph"]

#: Chance that a caller fails in turn when a service it depends on hard (soft) fails.
HARD_CASCADE: Final[float] = 0.8
SOFT_CASCADE: Final[float] = 0.05
_START: Final[datetime] = datetime(2026, 3, 2, tzinfo=UTC)
_MIN: Final[int] = 60_000

_NAMES: Final[tuple[str, ...]] = (
    "edge", "storefront", "accounts", "orders", "catalog", "pricing", "stock", "ledger",
    "mailer", "search", "media", "sessions", "ratings", "fraud", "kvstore", "blobstore",
)  # fmt: skip

# Normal templates: "{n}" a number, "{h}" a hex id, "{w}" a word drawn per event.
_NORMAL: Final[tuple[tuple[str, str], ...]] = (
    ("info", "handled {w} request for tenant {h} in {n} ms"),
    ("info", "served page {w} to client {h} status 200 bytes {n}"),
    ("debug", "cache lookup key {h} hit after {n} us"),
    ("info", "job {h} scheduled on worker {n}"),
    ("info", "job {h} completed in {n} ms with {n} items"),
    ("debug", "heartbeat from replica {n} lag {n} ms"),
    ("info", "user {h} session refreshed ttl {n} s"),
    ("info", "flushed {n} records to segment {h}"),
    ("debug", "config watcher saw revision {n} unchanged"),
    ("info", "batch {h} of {n} messages acknowledged"),
    ("info", "opened stream {h} window {n}"),
    ("debug", "gc young collection freed {n} kb in {n} ms"),
    ("info", "query plan {h} reused rows {n}"),
    ("info", "webhook {w} delivered to {h} in {n} ms"),
    ("info", "token issued for principal {h} scope {w}"),
    ("debug", "metrics snapshot exported {n} series"),
    ("info", "rebalanced {n} partitions in {n} ms"),
    ("info", "export {h} wrote {n} rows to {w}"),
    ("debug", "rate limiter bucket {h} has {n} tokens"),
    ("info", "search index {w} refreshed {n} docs"),
)
# Benign errors, always present at low rates (and the ones bursts inflate).
_BENIGN: Final[tuple[tuple[str, str], ...]] = (
    ("warning", "client {h} sent malformed {w} payload rejected"),
    ("warning", "cache miss storm avoided for key {h} served stale"),
    ("error", "request {h} rejected invalid signature for tenant {n}"),
    ("warning", "slow client {h} closed connection after {n} ms"),
    ("error", "validation failed for field {w} in request {h}"),
    ("warning", "retrying idempotent write {h} attempt {n}"),
)
# Pressure templates of each resource: rare in normal times, they climb before exhaustion.
_PRESSURE: Final[dict[str, tuple[tuple[str, str], ...]]] = {
    "heap": (
        ("warning", "old generation at {n} percent after full collection"),
        ("warning", "allocation stall of {n} ms in thread {h}"),
    ),
    "fds": (
        ("warning", "open descriptors {n} approaching ulimit"),
        ("error", "accept failed too many open files retry in {n} ms"),
    ),
    "disk": (
        ("warning", "volume {w} free space down to {n} mb"),
        ("error", "segment {h} write deferred no space left on device"),
    ),
    "conn_pool": (
        ("warning", "pool {w} waited {n} ms for a free connection"),
        ("error", "pool {w} exhausted {n} waiters queued"),
    ),
    "threads": (
        ("warning", "executor {w} queue depth {n} above soft limit"),
        ("error", "task {h} rejected executor saturated"),
    ),
}
_OUTAGE: Final[dict[str, str]] = {
    "heap": "fatal out of memory killing worker {n}",
    "fds": "listener crashed cannot allocate descriptor {n}",
    "disk": "storage engine halted write ahead log {h} unwritable",
    "conn_pool": "all requests failing no connection available after {n} ms",
    "threads": "watchdog restart executor deadlocked for {n} ms",
    "regression": "unhandled exception in handler {w} process exiting code {n}",
    "cascade": "serving errors to all callers dependency {w} unavailable",
    "sudden": "process terminated unexpectedly signal {n}",
}
# New templates a deploy brings (the words make each deploy's templates its own).
_NEW_BENIGN: Final[tuple[str, ...]] = (
    "feature flag {x} evaluated for tenant {h}",
    "migrated {x} record {h} to schema {n}",
    "new endpoint {x} served in {n} ms",
    "shadow traffic {x} compared {n} responses",
)
_NEW_ERROR: Final[tuple[str, ...]] = (
    "null reference in {x} while handling {h}",
    "serializer {x} failed on field {n}",
    "{x} invariant violated for entity {h}",
    "unexpected state {x} in workflow {h} step {n}",
)
_WORDS: Final[tuple[str, ...]] = (
    "alpha", "bravo", "cobalt", "delta", "ember", "fjord", "garnet", "harbor", "indigo",
    "juniper", "kepler", "lumen", "mosaic", "nimbus", "onyx", "prism", "quartz", "raven",
)  # fmt: skip


@dataclass(frozen=True)
class GraphSimulationSummary:
    """What :func:`simulate_graph` wrote."""

    events: int
    failures: int
    path: str | None
    truth_path: str | None
    start: str = ""
    end: str = ""
    outages: int = 0
    by_level: dict[str, int] = field(default_factory=dict)


@dataclass
class _Ramp:
    """A rising template rate on one service: a precursor (``fails``) or a decoy."""

    service: int
    start: int
    end: int
    templates: tuple[int, ...]  # indexes into the service's vocabulary
    peak: float  # events per minute at the top
    fails: bool
    kind: str


@dataclass
class _Outage:
    service: int
    start: int
    end: int
    cause: str
    precursor_start: int | None
    peer: int | None = None


def _iso(ms: int) -> str:
    dt = datetime.fromtimestamp(ms // 1000, UTC)
    return f"{dt:%Y-%m-%dT%H:%M:%S}.{ms % 1000:03d}Z"


class _World:
    def __init__(
        self, services: int, hours: float, seed: int, start: datetime | None, scale: float
    ):
        if not 2 <= services <= len(_NAMES):
            raise ValueError(f"services must be 2..{len(_NAMES)}, not {services}")
        if hours <= 0:
            raise ValueError(f"hours must be positive, not {hours}")
        if scale <= 0:
            raise ValueError(f"rate scale must be positive, not {scale}")
        self.seed, self.hours, self.n = seed, hours, services
        self.t0 = int((start or _START).timestamp() * 1000)
        self.t_end = self.t0 + int(hours * 3_600_000)
        plan = np.random.default_rng([seed, 1])
        self.rng = np.random.default_rng([seed, 2])
        self.names = list(_NAMES[:services])
        # The call graph: service i calls 1-3 of the services after it.
        self.callees: list[list[int]] = []
        for i in range(services):
            later = list(range(i + 1, services))
            k = min(len(later), int(plan.integers(1, 4)))
            self.callees.append(
                sorted(plan.choice(later, size=k, replace=False).tolist()) if k else []
            )
        self.callers = [
            [j for j in range(services) if i in self.callees[j]] for i in range(services)
        ]
        # A hard dependency takes the caller down with it; a soft one (a cache, a fallback) rarely.
        self.hard = {
            (j, i): bool(plan.random() < 0.5) for j in range(services) for i in self.callees[j]
        }
        # Rates from very quiet to busy, each with a daily phase.
        self.rate = np.exp(plan.uniform(np.log(0.08), np.log(40.0), size=services)) * scale
        self.phase = plan.uniform(0, 2 * np.pi, size=services)
        self.hosts = [[f"{nm}-{j}" for j in range(int(plan.integers(1, 4)))] for nm in self.names]
        # Vocabularies: (level, text, weight, error kind or None); pressure templates appended.
        self.vocab: list[list[tuple[str, str]]] = []
        self.weights: list[np.ndarray] = []
        self.pressure_idx: list[dict[str, tuple[int, ...]]] = []
        self.benign_idx: list[list[int]] = []
        for s in range(services):
            normal = plan.choice(len(_NORMAL), size=int(plan.integers(10, 17)), replace=False)
            benign = plan.choice(len(_BENIGN), size=int(plan.integers(2, 5)), replace=False)
            words = [f"{self.names[s]}-{_WORDS[int(plan.integers(len(_WORDS)))]}" for _ in range(2)]
            vocab = [_NORMAL[i] for i in normal] + [_BENIGN[i] for i in benign]
            w = (1.0 / np.arange(1, len(normal) + 1) ** 1.1).tolist()
            w += [0.03 * x for x in plan.uniform(0.3, 1.0, size=len(benign))]
            self.benign_idx.append(list(range(len(normal), len(normal) + len(benign))))
            pidx: dict[str, tuple[int, ...]] = {}
            for res, templates in _PRESSURE.items():
                ids = []
                for level, text in templates:
                    ids.append(len(vocab))
                    vocab.append((level, text.replace("{w}", words[0])))
                    w.append(0.0)  # rare: see _background's trickle
                pidx[res] = tuple(ids)
            self.vocab.append(vocab)
            self.weights.append(np.asarray(w) / sum(w[: len(normal) + len(benign)]))
            self.pressure_idx.append(pidx)
        self._plan(plan)

    # -- planning ---------------------------------------------------------------------------
    def _poisson_times(self, plan: np.random.Generator, per_day: float) -> list[int]:
        n = int(plan.poisson(per_day * self.hours / 24))
        return sorted(int(t) for t in plan.uniform(self.t0 + 30 * _MIN, self.t_end, size=n))

    def _plan(self, plan: np.random.Generator) -> None:
        self.ramps: list[_Ramp] = []
        self.outages: list[_Outage] = []
        self.flaps: list[tuple[int, int, int]] = []
        self.bursts: list[tuple[int, int, int, int, float]] = []
        self.deploys: list[dict[str, Any]] = []
        self.rollbacks: list[tuple[int, int, int]] = []
        self.new_templates: list[tuple[int, int, str, str, float, int, float]] = []
        own: list[_Outage] = []
        for s in range(self.n):
            resources = list(_PRESSURE)
            for t in self._poisson_times(plan, 0.9):  # exhaustion, announced by a ramp
                res = resources[int(plan.integers(len(resources)))]
                length = int(plan.uniform(15, 60)) * _MIN
                peak = float(plan.uniform(2.0, 8.0))
                self.ramps.append(
                    _Ramp(s, t - length, t, self.pressure_idx[s][res], peak, True, res)
                )
                own.append(_Outage(s, t, t + int(plan.uniform(4, 15)) * _MIN, res, t - length))
            for t in self._poisson_times(plan, 0.3):  # decoy ramps that end in nothing
                res = resources[int(plan.integers(len(resources)))]
                length = int(plan.uniform(10, 45)) * _MIN
                peak = float(plan.uniform(1.5, 7.0))
                self.ramps.append(
                    _Ramp(s, t - length, t, self.pressure_idx[s][res], peak, False, res)
                )
            for t in self._poisson_times(plan, 0.35):  # failures without warning
                own.append(_Outage(s, t, t + int(plan.uniform(4, 15)) * _MIN, "sudden", None))
            for t in self._poisson_times(plan, 2.0):  # deploys
                version = f"{int(plan.integers(1, 9))}.{int(plan.integers(0, 40))}.{int(plan.integers(0, 10))}"
                regression = bool(plan.random() < 0.33)
                self.deploys.append(
                    {"service": s, "at": t, "version": version, "regression": regression}
                )
                for _ in range(int(plan.integers(1, 4))):
                    text = _NEW_BENIGN[int(plan.integers(len(_NEW_BENIGN)))].replace(
                        "{x}",
                        f"{_WORDS[int(plan.integers(len(_WORDS)))]}_{version.replace('.', '_')}",
                    )
                    self.new_templates.append(
                        (s, t, "info", text, float(plan.uniform(0.02, 0.4)), self.t_end, 0.0)
                    )
                rollback = not regression and bool(plan.random() < 0.12)
                if rollback:  # a regression caught in time: its error grows, then the rollback
                    until = t + int(plan.uniform(8, 30)) * _MIN
                    text = _NEW_ERROR[int(plan.integers(len(_NEW_ERROR)))].replace(
                        "{x}",
                        f"{_WORDS[int(plan.integers(len(_WORDS)))]}_{version.replace('.', '_')}",
                    )
                    self.new_templates.append(
                        (s, t, "error", text, 0.2, until, float(plan.uniform(1.5, 6)))
                    )
                    self.rollbacks.append((s, t, until))
                if regression:
                    fail_at = t + int(plan.uniform(10, 40)) * _MIN
                    text = _NEW_ERROR[int(plan.integers(len(_NEW_ERROR)))].replace(
                        "{x}",
                        f"{_WORDS[int(plan.integers(len(_WORDS)))]}_{version.replace('.', '_')}",
                    )
                    # The rate grows from 0.2 to `peak` per minute until the failure.
                    self.new_templates.append(
                        (s, t, "error", text, 0.2, fail_at, float(plan.uniform(2, 7)))
                    )
                    own.append(
                        _Outage(
                            s, fail_at, fail_at + int(plan.uniform(4, 15)) * _MIN, "regression", t
                        )
                    )
            for t in self._poisson_times(plan, 1.0):  # flapping health probes
                self.flaps.append((s, t, t + int(plan.uniform(20, 45)) * _MIN))
            for t in self._poisson_times(plan, 3.0):  # bursts of a benign error template
                tpl = self.benign_idx[s][int(plan.integers(len(self.benign_idx[s])))]
                mult = float(plan.uniform(10, 30))
                self.bursts.append((s, t, t + int(plan.uniform(2, 8)) * _MIN, tpl, mult))
        # Drop own outages that overlap an earlier one of the same service, then cascade.
        own.sort(key=lambda o: (o.start, o.service))
        busy_until = [0] * self.n
        queue: list[tuple[int, int, _Outage]] = []
        for k, o in enumerate(own):
            heapq.heappush(queue, (o.start, k, o))
        k = len(own)
        while queue:
            _, _, o = heapq.heappop(queue)
            if o.start < busy_until[o.service] + 20 * _MIN or o.start >= self.t_end:
                if o.precursor_start is not None and o.cause in _PRESSURE:
                    # its ramp still happened: it is now a decoy
                    for r in self.ramps:
                        if r.service == o.service and r.end == o.start and r.fails:
                            r.fails = False
                continue
            self.outages.append(o)
            busy_until[o.service] = o.end
            for c in self.callers[o.service]:
                if plan.random() < (HARD_CASCADE if self.hard[(c, o.service)] else SOFT_CASCADE):
                    at = o.start + int(plan.uniform(3, 12) * _MIN)
                    k += 1
                    heapq.heappush(
                        queue,
                        (
                            at,
                            k,
                            _Outage(
                                c,
                                at,
                                at + int(plan.uniform(4, 12)) * _MIN,
                                "cascade",
                                o.start,
                                o.service,
                            ),
                        ),
                    )
        self.outages.sort(key=lambda o: (o.start, o.service))
        # Regressions whose failure was dropped stay as decoy novelty (their template stops).

    # -- generation -------------------------------------------------------------------------
    def _fmt(self, text: str, r: np.random.Generator) -> str:
        out = text
        while "{n}" in out:
            out = out.replace("{n}", str(int(r.integers(1, 5000))), 1)
        while "{h}" in out:
            out = out.replace("{h}", f"{int(r.integers(0, 1 << 32)):08x}", 1)
        while "{w}" in out:
            out = out.replace("{w}", _WORDS[int(r.integers(len(_WORDS)))], 1)
        return out

    def batches(self) -> Iterator[list[dict[str, Any]]]:
        r = self.rng
        self.written = 0
        self.failures = 0
        self.by_level: dict[str, int] = {}
        minute = self.t0
        while minute < self.t_end:
            hi = min(minute + _MIN, self.t_end)
            span = (hi - minute) / _MIN
            rows: list[tuple[int, dict[str, Any]]] = []

            def add(s: int, level: str, text: str, extra: dict[str, Any] | None = None,
                    lo: int = minute, top: int = hi, out: list[Any] = rows) -> None:  # fmt: skip
                at = int(r.integers(lo, max(lo + 1, top)))
                ev: dict[str, Any] = {
                    "event": self._fmt(text, r),
                    "level": level,
                    "timestamp": _iso(at),
                    "service": self.names[s],
                    "host": self.hosts[s][int(r.integers(len(self.hosts[s])))],
                }
                if extra:
                    ev.update(extra)
                out.append((at, ev))

            failing = {o.service: o for o in self.outages if o.start < hi and o.end > minute}
            for s in range(self.n):
                season = 1.0 + 0.5 * np.sin(
                    2 * np.pi * ((minute - self.t0) / 86_400_000) + self.phase[s]
                )
                lam = self.rate[s] * season * span * self.weights[s]
                if s in failing:
                    lam = lam * 0.4
                for b in self.bursts:
                    if b[0] == s and b[1] < hi and b[2] > minute:
                        lam[b[3]] *= b[4]
                # rare pressure templates: a trickle of about three a day each
                lam[np.asarray([i for ids in self.pressure_idx[s].values() for i in ids])] += (
                    3 * span / 1440
                )
                counts = r.poisson(lam)
                vocab = self.vocab[s]
                for i in np.flatnonzero(counts):
                    level, text = vocab[i]
                    for _ in range(int(counts[i])):
                        add(s, level, text)
            for ramp in self.ramps:
                if ramp.start < hi and ramp.end > minute:
                    x = min(
                        1.0, max(0.0, ((minute + hi) / 2 - ramp.start) / (ramp.end - ramp.start))
                    )
                    y = (
                        x**1.5
                        if ramp.fails
                        else (x / 0.7) ** 1.5
                        if x < 0.7
                        else max(0.0, 1 - (x - 0.7) / 0.3)
                    )
                    n = int(r.poisson(ramp.peak * (0.1 + 0.9 * y) * span))
                    for _ in range(n):
                        i = ramp.templates[int(r.integers(len(ramp.templates)))]
                        level, text = self.vocab[ramp.service][i]
                        add(ramp.service, level, text)
            for s, t, level, text, base, until, peak in self.new_templates:
                if t < hi and until > minute:
                    if peak:  # a regression's error: grows until the failure
                        x = ((minute + hi) / 2 - t) / max(until - t, 1)
                        per_min = base + (peak - base) * min(1.0, max(0.0, x)) ** 1.5
                    else:
                        per_min = base * self.rate[s] ** 0.5
                    for _ in range(int(r.poisson(per_min * span))):
                        add(s, level, text, lo=max(minute, t))
            for d in self.deploys:
                if minute <= d["at"] < hi:
                    add(d["service"], "info", f"deploy of version {d['version']} started",
                        {"version": d["version"]}, lo=d["at"], top=d["at"] + 1)  # fmt: skip
            for s, t, end in self.flaps:
                if t < hi and end > minute and r.random() < 0.5:
                    word = "failed" if r.random() < 0.5 else "passed again"
                    add(
                        s,
                        "warning" if word == "failed" else "info",
                        f"health probe readiness {word} after {{n}} ms",
                    )
            for s, o in failing.items():
                n = int(r.poisson(float(np.clip(self.rate[s], 3, 12)) * span))
                extra: dict[str, Any] = {"failure": True, "error_type": "ServiceFailure"}
                text = _OUTAGE[o.cause].replace(
                    "{w}", self.names[o.peer] if o.peer is not None else "{w}"
                )
                for _ in range(max(n, 1)):
                    add(s, "critical", text, extra, lo=max(minute, o.start), top=min(hi, o.end))
                    self.failures += 1
                for c in self.callers[s]:  # callers log failed calls naming the peer
                    per_min = max(2.0, 0.4 * self.rate[c]) if self.hard[(c, s)] else 0.3
                    n = int(r.poisson(per_min * span))
                    for _ in range(n):
                        add(c, "error", f"call to {self.names[s]} failed after {{n}} ms status 503",
                            {"peer": self.names[s], "error_type": "UpstreamError"})  # fmt: skip
            rows.sort(key=lambda p: p[0])
            batch = [ev for _, ev in rows]
            for ev in batch:
                self.by_level[ev["level"]] = self.by_level.get(ev["level"], 0) + 1
            self.written += len(batch)
            yield batch
            minute = hi

    def truth(self) -> dict[str, Any]:
        per: dict[str, dict[str, Any]] = {
            nm: {
                "calls": {
                    self.names[j]: "hard" if self.hard[(s, j)] else "soft" for j in self.callees[s]
                },
                "events_per_minute": round(float(self.rate[s]), 4),
                "outages": [],
                "false_alarms": [],
                "deploys": [],
            }
            for s, nm in enumerate(self.names)
        }
        for o in self.outages:
            per[self.names[o.service]]["outages"].append(
                {
                    "start": _iso(o.start),
                    "end": _iso(o.end),
                    "precursor": None if o.cause == "sudden" else o.cause,
                    "precursor_start": _iso(o.precursor_start) if o.precursor_start else None,
                    "peer": self.names[o.peer] if o.peer is not None else None,
                }
            )
        for ramp in self.ramps:
            if not ramp.fails and ramp.start < self.t_end:
                per[self.names[ramp.service]]["false_alarms"].append(
                    {
                        "start": _iso(max(ramp.start, self.t0)),
                        "end": _iso(ramp.end),
                        "kind": ramp.kind,
                    }
                )
        for s, t, until in self.rollbacks:
            per[self.names[s]]["false_alarms"].append(
                {"start": _iso(t), "end": _iso(until), "kind": "rolled_back_regression"}
            )
        for d in self.deploys:
            per[self.names[d["service"]]]["deploys"].append(
                {"at": _iso(d["at"]), "version": d["version"], "regression": d["regression"]}
            )
        return {
            "world": "graph",
            "seed": self.seed,
            "parameters": {"services": self.n, "hours": self.hours},
            "start": _iso(self.t0),
            "end": _iso(self.t_end),
            "services": per,
            "counts": {
                "events": self.written,
                "failures": self.failures,
                "outages": len(self.outages),
                "outages_with_precursor": sum(1 for o in self.outages if o.cause != "sudden"),
                "false_alarms": sum(len(v["false_alarms"]) for v in per.values()),
                "by_level": dict(sorted(self.by_level.items())),
            },
        }


def iter_graph_events(
    *, services: int = 10, hours: float = 24.0, seed: int = 0, start: datetime | None = None,
    rate: float = 1.0,
) -> Iterator[dict[str, Any]]:  # fmt: skip
    """The events of :func:`simulate_graph`, one dict each, in time order.

    >>> evs = list(iter_graph_events(services=3, hours=0.5, seed=4))
    >>> [e["timestamp"] for e in evs] == sorted(e["timestamp"] for e in evs)
    True
    """
    for batch in _World(services, hours, seed, start, rate).batches():
        yield from batch


def simulate_graph(
    out: str | os.PathLike[str] | IO[bytes],
    *,
    services: int = 10,
    hours: float = 24.0,
    seed: int = 0,
    start: datetime | str | None = None,
    rate: float = 1.0,
    truth: str | os.PathLike[str] | None = None,
    progress: Callable[[int], None] | None = None,
) -> GraphSimulationSummary:
    """Write the graph world as JSON lines and its ground truth beside it (``<out>.truth.json``).

    ``rate`` scales every service's own rate (1.0: from a few events an hour to dozens a
    minute).  ``start`` is ISO 8601 text or a datetime (default 2026-03-02T00:00:00Z).
    """
    if isinstance(start, str):
        try:
            start = datetime.fromisoformat(start.strip().replace("Z", "+00:00"))
        except ValueError as e:
            raise ValueError(f"start {start!r} is not an ISO 8601 time") from e
    if start is not None and start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    world = _World(services, hours, seed, start, rate)
    path: str | None = None
    if isinstance(out, (str, os.PathLike)) and os.fspath(out) != "-":
        target = Path(out).expanduser().resolve()
        target.parent.mkdir(parents=True, exist_ok=True)
        path = str(target)
        stream: IO[bytes] = open(target, "wb")  # noqa: SIM115 - closed below
        truth = truth if truth is not None else path + ".truth.json"
    elif isinstance(out, (str, os.PathLike)):
        stream = sys.stdout.buffer
    else:
        stream = out
    written = 0
    try:
        for batch in world.batches():
            if batch:
                stream.write(b"\n".join(orjson.dumps(ev) for ev in batch) + b"\n")
                written += len(batch)
                if progress is not None and written // 50_000 != (written - len(batch)) // 50_000:
                    progress(written)
        stream.flush()
    finally:
        if path is not None:
            stream.close()
    doc = world.truth()
    truth_path = None
    if truth is not None:
        Path(truth).write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n")
        truth_path = str(Path(truth).resolve())
    return GraphSimulationSummary(
        events=written,
        failures=world.failures,
        path=path,
        truth_path=truth_path,
        start=doc["start"],
        end=doc["end"],
        outages=doc["counts"]["outages"],
        by_level=doc["counts"]["by_level"],
    )
