"""What the query endpoints serve, through the facade (the analytics/models read path).

The serve process is the store's one writer, and DuckDB must not see two attachments of one
file at once in one process; so reads go through their own :class:`~faultcast.ingest.Store`
of the file, which shares the writer's lock: a read and a commit take turns on the file, each
on its own in-memory connection.  Risk and the policy, which apps poll, are computed in the
background whenever the store changed (at most every ``refresh`` seconds) and served from
memory, so their latency does not depend on a commit or a learning run in progress.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pandas as pd

from faultcast._facade import FaultCast
from faultcast.ingest._log import get_logger
from faultcast.ingest.keys import ApiKey, KeyStore, lookup

log = get_logger(__name__)

__all__ = ["KeyCache", "Reads", "frame_json", "risk_for_apps"]


def frame_json(df: pd.DataFrame) -> str:
    """A frame as a JSON array of records (ISO times, null for missing)."""
    if df.empty:
        return "[]"
    return str(df.to_json(orient="records", date_format="iso", date_unit="ms"))


def risk_for_apps(risk: pd.DataFrame) -> pd.DataFrame:
    """The risk frame with the names the SDK's Advisor reads (``RiskView``): ``probability``
    (= ``risk``) and ``reasons`` (= ``top_features``), beside the old ones."""
    if risk.empty:
        return risk
    return risk.assign(probability=risk["risk"], reasons=risk["top_features"])


class _Refresher:
    """A daemon thread that calls :meth:`refresh` every ``interval`` seconds until stopped."""

    def __init__(self, interval: float, name: str) -> None:
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self.refresh()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.refresh()
            except Exception as e:  # keep serving what was read last
                log.warning("http.refresh_failed", what=self._thread.name, error=str(e))

    def refresh(self) -> None:
        raise NotImplementedError


class Reads(_Refresher):
    """Risk and policy kept fresh in memory; everything else read on request.

    Risk is read again every ``refresh`` seconds when the store changed (it changes when the
    serve loop learns); the recovery policy at most every ``policy_refresh`` seconds, since
    rebuilding it reads every recorded outcome and apps cache it anyway."""

    def __init__(self, fc: FaultCast, refresh: float = 2.0, policy_refresh: float = 30.0) -> None:
        super().__init__(refresh, "faultcast-http-reads")
        self.fc = fc
        self.policy_refresh = policy_refresh
        self._marker: object = object()
        self._policy_marker: object = object()
        self._policy_at = float("-inf")
        self._risk = pd.DataFrame()
        self._risk_json = '{"risk": []}'
        self._risk_body = self._risk_json.encode()
        self._policies: dict[str | None, str] = {}
        #: ``{"policy": ...}`` answers as bytes, made once per policy (see :meth:`policy_body`).
        self._policy_bodies: dict[str | None, bytes] = {}
        self._recommender: Any = None
        self._lock = threading.Lock()

    def refresh(self) -> None:
        marker = self.fc.store.change_marker()
        if marker is not None and marker == self._marker:
            return
        if not self.fc.store.exists():
            return
        risk = risk_for_apps(self.fc.predict_failure())
        answer = f'{{"risk": {frame_json(risk)}}}'
        with self._lock:
            self._risk, self._risk_json, self._marker = risk, answer, marker
            self._risk_body = answer.encode()
        now = time.monotonic()
        # No marker (an in-memory store cannot say whether it changed): rebuild on the clock.
        unchanged = marker is not None and marker == self._policy_marker
        if unchanged or now - self._policy_at < self.policy_refresh:
            return
        try:
            recommender: Any = self.fc.recommender(refresh=True)
        except ValueError:
            recommender = None
        services = list(self._policies) or [None]
        policies = {s: self._policy_json(recommender, s) for s in services}
        with self._lock:
            self._recommender, self._policies = recommender, policies
            self._policy_bodies = {}
            self._policy_marker, self._policy_at = marker, now

    @staticmethod
    def _policy_json(recommender: Any, service: str | None) -> str:
        if recommender is None or recommender.n_outcomes_ == 0:
            return "[]"
        return frame_json(recommender.policy(service))

    def risk(self, unit: str | None = None) -> pd.DataFrame:
        frame = self._risk
        if unit is not None and not frame.empty:
            frame = frame[frame["unit"].to_numpy() == unit]
        return frame

    def risk_json(self, unit: str | None = None) -> str:
        """``{"risk": [...]}``: the whole answer is kept; one unit's is made on request."""
        if unit is None:
            return self._risk_json
        return f'{{"risk": {frame_json(self.risk(unit))}}}'

    def risk_body(self) -> bytes:
        """The whole ``{"risk": [...]}`` answer as bytes, as kept."""
        return self._risk_body

    def has_policy(self, service: str | None) -> bool:
        return service in self._policies

    def policy(self, service: str | None = None) -> str:
        cached = self._policies.get(service)
        if cached is None:
            cached = self._policy_json(self._recommender, service)
            with self._lock:
                self._policies[service] = cached
        return cached

    def policy_body(self, service: str | None = None) -> bytes:
        """``{"policy": [...]}`` for ``service`` as bytes, kept until the policy is rebuilt."""
        bodies = self._policy_bodies
        body = bodies.get(service)
        if body is None:
            body = f'{{"policy": {self.policy(service)}}}'.encode()
            bodies[service] = body
        return body

    def recommend(self, error: dict[str, Any]) -> dict[str, Any] | None:
        recommender = self._recommender
        if recommender is None or recommender.n_outcomes_ == 0:
            return None
        advice: dict[str, Any] = recommender.recommend(error).to_dict()
        return advice


class KeyCache(_Refresher):
    """The keys in use, read again every ``refresh`` seconds (a key created or revoked with
    ``faultcast keys`` takes effect within that); records when each key was last used (every
    ``touch_every`` seconds at most: a write to the store)."""

    def __init__(self, keys: KeyStore, refresh: float = 2.0, touch_every: float = 60.0) -> None:
        super().__init__(refresh, "faultcast-http-keys")
        self.keys = keys
        self.touch_every = touch_every
        self._active: dict[str, ApiKey] = {}
        self._used: set[str] = set()
        self._touched_at = time.monotonic()
        self._marker: object = object()

    def refresh(self) -> None:
        if self._used and time.monotonic() - self._touched_at >= self.touch_every:
            self.flush_used()
        marker = self.keys.store.change_marker()
        if marker is not None and marker == self._marker:
            return  # the file has not changed: neither have the keys
        self._active = self.keys.active()
        self._marker = marker

    def flush_used(self) -> None:
        """Record the keys used since the last call."""
        used, self._used = self._used, set()
        self._touched_at = time.monotonic()
        if used:
            self.keys.touch(used)

    def stop(self) -> None:
        super().stop()
        self.flush_used()

    def check(self, key: str) -> ApiKey | None:
        who = lookup(self._active, key)
        if who is not None:
            self._used.add(who.name)
        return who
