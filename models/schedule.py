"""Scheduled retraining: on a cron schedule (APScheduler) and, debounced, on drift.

:class:`RetrainSchedule` holds the policy and is driven by a clock, so it can be tested on a
fake one: :meth:`RetrainSchedule.next_runs` lists the cron fire times after a moment, and
:meth:`RetrainSchedule.due` says whether a retrain is due now (the cron time has come, or drift
events arrived since the last retrain and the debounce interval has passed).  :func:`run` runs
it in the foreground with APScheduler's ``BlockingScheduler``.

Examples
--------
>>> from datetime import datetime, timezone
>>> s = RetrainSchedule("0 3 * * *")
>>> [t.isoformat() for t in s.next_runs(datetime(2026, 1, 1, 12, tzinfo=timezone.utc), 2)]
['2026-01-02T03:00:00+00:00', '2026-01-03T03:00:00+00:00']
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.triggers.cron import CronTrigger
from faultcast.ingest import Store
from faultcast.ingest._log import get_logger
from faultcast.ingest.store import StoreReader

log = get_logger(__name__)

UTC = UTC


class RetrainSchedule:
    """When to retrain: a cron expression (UTC) and drift events, debounced."""

    def __init__(
        self, cron: str = "0 3 * * *", drift_debounce: timedelta = timedelta(hours=1)
    ) -> None:
        try:
            self.trigger = CronTrigger.from_crontab(cron, timezone=UTC)
        except ValueError as e:
            raise ValueError(
                f"{cron!r} is not a cron expression (minute hour day month weekday): {e}"
            ) from e
        self.cron = cron
        self.drift_debounce = drift_debounce
        self.last_run: datetime | None = None
        self.next_cron: datetime | None = None

    def next_runs(self, after: datetime, count: int = 1) -> list[datetime]:
        """The next ``count`` cron fire times after ``after``."""
        out: list[datetime] = []
        previous = None
        now = after
        for _ in range(count):
            nxt = self.trigger.get_next_fire_time(previous, now)
            if nxt is None:
                break
            out.append(nxt)
            previous = nxt
            now = nxt + timedelta(microseconds=1)
        return out

    def due(self, now: datetime, drift_events_since_last: int = 0) -> str | None:
        """``"schedule"`` or ``"drift"`` when a retrain should start at ``now``, else None."""
        if self.next_cron is None:
            self.next_cron = self.next_runs(now - timedelta(microseconds=1))[0]
        if now >= self.next_cron:
            self.next_cron = self.next_runs(now + timedelta(microseconds=1))[0]
            return "schedule"
        if drift_events_since_last and (
            self.last_run is None or now - self.last_run >= self.drift_debounce
        ):
            return "drift"
        return None

    def ran(self, at: datetime) -> None:
        self.last_run = at


def drift_events_since(store: StoreReader, since: datetime | None) -> int:
    """Drift events recorded after ``since`` (all when None)."""
    if not store.exists() or store.schema_version() < 4:
        return 0
    df = store.query_df(
        "SELECT count(*) AS n FROM store.drift_events WHERE ?::TIMESTAMPTZ IS NULL OR detected_at > ?::TIMESTAMPTZ",
        [since, since],
    )
    return int(df["n"].iloc[0])


def run(
    store: Store,
    schedule: RetrainSchedule,
    job: Callable[[str], Any],
    poll_seconds: float = 60.0,
) -> None:
    """Run in the foreground until interrupted: every ``poll_seconds`` check :meth:`RetrainSchedule.due`
    and call ``job(trigger)``.  A failing job is logged and the schedule goes on."""
    from apscheduler.schedulers.blocking import BlockingScheduler

    scheduler = BlockingScheduler(timezone=UTC)
    state: dict[str, Any] = {"drift_seen_at": datetime.now(UTC)}

    def tick() -> None:
        now = datetime.now(UTC)
        drift = drift_events_since(store, schedule.last_run or state["drift_seen_at"])
        trigger = schedule.due(now, drift)
        if trigger is None:
            return
        log.info("schedule.retrain", trigger=trigger, drift_events=drift)
        try:
            job(trigger)
        except Exception as e:  # noqa: BLE001 - the schedule outlives a failed run
            log.error("schedule.retrain_failed", error=str(e), trigger=trigger)
        finally:
            schedule.ran(datetime.now(UTC))

    scheduler.add_job(tick, "interval", seconds=poll_seconds, next_run_time=datetime.now(UTC))
    log.info(
        "schedule.started", cron=schedule.cron, next=str(schedule.next_runs(datetime.now(UTC))[0])
    )
    scheduler.start()
