"""How well alerts predicted failures: episode precision and recall, lead times, PR-AUC.

Unit mode
    An *alert* is one episode of a unit's risk staying at or above the threshold (ticks where
    the unit is already failing do not alert).  An alert is *true* when a failure onset of that
    unit follows while it lasts or within the horizon after its last tick.  A failure onset is
    *caught* when an alert of its unit was on at some tick within the horizon before it.  The
    lead time of a caught failure runs from the start of the earliest such alert to the onset.

Session mode
    Sessions are counted: an alert is a session flagged anomalous.

Examples
--------
>>> import pandas as pd
>>> ticks = pd.date_range("2026-01-01", periods=6, freq="min", tz="UTC")
>>> rows = pd.DataFrame({"unit": "a", "made_at": ticks, "alert": [0, 1, 1, 0, 0, 0]})
>>> onsets = pd.DataFrame({"unit": ["a"], "ts": [ticks[3] + pd.Timedelta("30s")]})
>>> m = episode_metrics(rows, onsets, horizon_s=120)
>>> m["precision"], m["recall"], m["median_lead_time_s"]
(1.0, 1.0, 150.0)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score


def _f1(precision: float, recall: float) -> float:
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def pr_auc(labels: Any, scores: Any) -> float | None:
    """Average precision of ``scores`` against boolean ``labels`` (None with no positive)."""
    y = np.asarray(labels, dtype=bool)
    if y.sum() == 0 or len(y) == 0:
        return None
    return round(float(average_precision_score(y, np.asarray(scores, dtype=float))), 4)


def alert_episodes(rows: pd.DataFrame, merge_gap_s: float = 300) -> pd.DataFrame:
    """Alert episodes from per-tick rows (``unit``, ``made_at``, ``alert``): ``unit``, ``start``, ``end``.

    An alert that clears and fires again within ``merge_gap_s`` is the same alert (alerting
    systems debounce a flapping signal the same way).
    """
    if rows.empty:
        return pd.DataFrame(
            {
                "unit": [],
                "start": pd.Series([], dtype="datetime64[ns, UTC]"),
                "end": pd.Series([], dtype="datetime64[ns, UTC]"),
            }
        )
    df = rows[["unit", "made_at", "alert"]].sort_values(["unit", "made_at"], kind="stable")
    alert = df["alert"].astype(bool).to_numpy()
    on = df[alert]
    times = on["made_at"].to_numpy()
    units = on["unit"].to_numpy()
    gap = np.r_[
        True,
        (units[1:] != units[:-1])
        | ((times[1:] - times[:-1]) > np.timedelta64(int(merge_gap_s * 1000), "ms")),
    ]
    on = on.assign(episode=np.cumsum(gap))
    if on.empty:
        return pd.DataFrame(
            {
                "unit": [],
                "start": pd.Series([], dtype=df["made_at"].dtype),
                "end": pd.Series([], dtype=df["made_at"].dtype),
            }
        )
    return (
        on.groupby("episode")
        .agg(unit=("unit", "first"), start=("made_at", "min"), end=("made_at", "max"))
        .reset_index(drop=True)
    )


def episode_metrics(
    rows: pd.DataFrame,
    onsets: pd.DataFrame,
    horizon_s: float,
    since: pd.Timestamp | None = None,
) -> dict[str, Any]:
    """Precision, recall, F1 and lead times of the alerts in ``rows`` against failure ``onsets``.

    ``rows``: one per (unit, tick) with ``unit``, ``made_at`` and a boolean ``alert``.
    ``onsets``: ``unit``, ``ts``.  Only onsets after ``since`` (default: the first tick plus the
    horizon, so every counted failure could have been predicted) and before the last tick count.
    """
    horizon = pd.Timedelta(seconds=horizon_s)
    if rows.empty:
        return {
            "precision": 0.0,
            "recall": 0.0,
            "f1": 0.0,
            "alerts": 0,
            "positives": 0,
            "caught": 0,
            "median_lead_time_s": None,
        }
    first, last = rows["made_at"].min(), rows["made_at"].max()
    lo = since if since is not None else first + horizon
    episodes = alert_episodes(rows)
    on = onsets[(onsets["ts"] >= lo) & (onsets["ts"] <= last)]
    # An alert is true when an onset of its unit falls in [start, end + horizon].
    true_alerts = 0
    if not episodes.empty:
        merged = episodes.reset_index().merge(onsets, on="unit", how="left")
        hit = (merged["ts"] >= merged["start"]) & (merged["ts"] <= merged["end"] + horizon)
        true_alerts = int(merged[hit]["index"].nunique())
    # A failure is caught when an alert of its unit was on within the horizon before it.
    leads: list[float] = []
    if not on.empty and not episodes.empty:
        m = on.reset_index().merge(episodes, on="unit", how="left")
        ok = (m["start"] <= m["ts"]) & (m["end"] >= m["ts"] - horizon)
        caught = m[ok].groupby("index")["start"].min()
        lead = (on.loc[caught.index, "ts"] - caught).dt.total_seconds()
        leads = [float(v) for v in lead]
    alerts = len(episodes)
    positives = len(on)
    precision = true_alerts / alerts if alerts else 0.0
    recall = len(leads) / positives if positives else 0.0
    return {
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(_f1(precision, recall), 4),
        "alerts": alerts,
        "true_alerts": true_alerts,
        "positives": positives,
        "caught": len(leads),
        "median_lead_time_s": round(float(np.median(leads)), 1) if leads else None,
    }


def count_metrics(labels: Any, flagged: Any, scores: Any = None) -> dict[str, Any]:
    """Session-mode metrics: precision, recall, F1 over sessions, with PR-AUC when ``scores`` given."""
    y = np.asarray(labels, dtype=bool)
    f = np.asarray(flagged, dtype=bool)
    tp = int((y & f).sum())
    alerts = int(f.sum())
    positives = int(y.sum())
    precision = tp / alerts if alerts else 0.0
    recall = tp / positives if positives else 0.0
    return {
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(_f1(precision, recall), 4),
        "pr_auc": pr_auc(y, scores) if scores is not None else None,
        "alerts": alerts,
        "true_alerts": tp,
        "positives": positives,
        "sessions": len(y),
        "median_lead_time_s": None,
    }


def expected_calibration_error(labels: Any, probabilities: Any, bins: int = 10) -> float | None:
    """Expected calibration error: the mean |observed rate - mean probability| over ``bins``
    equal-width probability bins, weighted by the rows in each (None without rows).

    >>> expected_calibration_error([True, False, False, False], [0.25, 0.25, 0.25, 0.25])
    0.0
    """
    y = np.asarray(labels, dtype=float)
    p = np.clip(np.asarray(probabilities, dtype=float), 0.0, 1.0)
    if len(y) == 0:
        return None
    idx = np.minimum((p * bins).astype(int), bins - 1)
    n = np.bincount(idx, minlength=bins)
    gap = np.abs(
        np.bincount(idx, weights=y, minlength=bins) - np.bincount(idx, weights=p, minlength=bins)
    )
    return round(float(gap.sum() / n.sum()), 4)


def persistent_alerts(above: np.ndarray, starts: np.ndarray, k: int, m: int) -> np.ndarray:
    """``k`` of the last ``m`` ticks above the threshold, per unit: ``above`` holds each unit's
    ticks consecutively (in time order), ``starts`` is True at the first row of each unit."""
    if k <= 1 and m <= 1:
        return above.copy()
    n = len(above)
    c = np.cumsum(above, dtype=np.int64)
    first = np.maximum.accumulate(np.where(starts, np.arange(n), 0))  # each row's unit start
    lo = np.maximum(np.arange(n) - m + 1, first)
    before = np.where(lo > 0, c[np.maximum(lo - 1, 0)], 0)
    return (c - before) >= k


class EpisodeScorer:
    """Episode precision and recall of many candidate alert rules over one window of scored
    ticks, exactly as :func:`episode_metrics` counts them, vectorised (no pandas per rule).

    ``units`` (codes or names), ``made_at`` (``datetime64[ns]``), ``scores`` and ``failing`` are
    the window's rows in any order; ``onsets`` maps unit -> sorted ``datetime64[ns]`` onsets
    (every onset up to the last row plus the horizon must be in it).  :meth:`f1` scores the rule
    "alert when ``k`` of the unit's last ``m`` ticks scored at or above ``threshold``".

    >>> t = np.arange("2026-01-01T00:00", "2026-01-01T00:05", dtype="datetime64[m]")
    >>> s = EpisodeScorer(np.array(["a"] * 5), t.astype("datetime64[ns]"),
    ...                   np.array([0.1, 0.9, 0.2, 0.1, 0.1]), np.zeros(5, bool),
    ...                   {"a": np.array(["2026-01-01T00:02:30"], "datetime64[ns]")}, horizon_s=120)
    >>> s.f1(0.5), s.f1(0.95)
    (1.0, 0.0)
    """

    def __init__(
        self,
        units: np.ndarray,
        made_at: np.ndarray,
        scores: np.ndarray,
        failing: np.ndarray,
        onsets: dict[Any, np.ndarray],
        horizon_s: float,
        merge_gap_s: float = 300,
    ) -> None:
        keys, codes = np.unique(np.asarray(units).astype(str), return_inverse=True)
        t = np.asarray(made_at, dtype="datetime64[ns]").astype(np.int64) // 1_000_000_000
        order = np.lexsort((t, codes))
        self.order = order  # the rows' order here (unit, then time), for other per-row arrays
        self.codes, self.t = codes[order], t[order]
        self.scores = np.asarray(scores, dtype=float)[order]
        self.failing = np.asarray(failing, dtype=bool)[order]
        self.horizon = int(horizon_s)
        self.merge_gap = int(merge_gap_s)
        self.starts = (
            np.r_[True, self.codes[1:] != self.codes[:-1]] if len(order) else np.zeros(0, bool)
        )
        if not len(order):
            self.t0 = self.span = 0
            self.onset_keys = self.counted = np.zeros(0, np.int64)
            return
        self.t0 = int(self.t.min()) - 2 * self.horizon
        self.span = int(self.t.max()) - self.t0 + 4 * self.horizon + 1
        first, last = int(self.t.min()), int(self.t.max())
        okeys, counted = [], []
        for c, key in enumerate(keys):
            times = onsets.get(key)
            if times is None or not len(times):
                continue
            ts = np.asarray(times, dtype="datetime64[ns]").astype(np.int64) // 1_000_000_000
            ts = ts[(ts >= self.t0) & (ts <= last + self.horizon)]
            okeys.append(c * self.span + ts - self.t0)
            counted.append(
                c * self.span + ts[(ts >= first + self.horizon) & (ts <= last)] - self.t0
            )
        self.onset_keys = np.sort(np.concatenate(okeys)) if okeys else np.zeros(0, np.int64)
        self.counted = np.sort(np.concatenate(counted)) if counted else np.zeros(0, np.int64)

    @property
    def positives(self) -> int:
        """The failure onsets the window counts (those a horizon after its first row)."""
        return len(self.counted)

    def counts(self, threshold: float, k: int = 1, m: int = 1) -> tuple[int, int, int]:
        """``(alerts, true alerts, caught onsets)`` of the rule."""
        above = self.scores >= threshold
        alert = persistent_alerts(above, self.starts, k, m) & ~self.failing
        idx = np.flatnonzero(alert)
        if not len(idx):
            return 0, 0, 0
        codes, t = self.codes[idx], self.t[idx]
        new = np.r_[True, (codes[1:] != codes[:-1]) | (np.diff(t) > self.merge_gap)]
        first = np.flatnonzero(new)
        last = np.r_[first[1:] - 1, len(idx) - 1]
        start = codes[first] * self.span + t[first] - self.t0
        end = codes[last] * self.span + t[last] - self.t0
        ok = self.onset_keys
        j = np.searchsorted(ok, start, side="left")
        true = (
            int(((j < len(ok)) & (ok[np.minimum(j, len(ok) - 1)] <= end + self.horizon)).sum())
            if len(ok)
            else 0
        )
        caught = 0
        if len(self.counted):
            i = np.searchsorted(start, self.counted, side="right") - 1
            valid = i >= 0
            ii = np.maximum(i, 0)
            same = (start[ii] // self.span) == (self.counted // self.span)
            caught = int((valid & same & (end[ii] >= self.counted - self.horizon)).sum())
        return len(first), true, caught

    def f1(self, threshold: float, k: int = 1, m: int = 1) -> float:
        alerts, true, caught = self.counts(threshold, k, m)
        precision = true / alerts if alerts else 0.0
        recall = caught / self.positives if self.positives else 0.0
        return round(_f1(precision, recall), 4)
