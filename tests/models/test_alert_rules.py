"""Alert rules chosen on alert episodes: the fast episode scorer counts as the backtest does, and
the selector learns persistence when one-tick spikes are false alarms."""

from __future__ import annotations

import numpy as np
import pandas as pd
from faultcast.models.estimators import AlertRuleSelector
from faultcast.models.metrics import EpisodeScorer, episode_metrics, persistent_alerts

START = pd.Timestamp("2026-01-01", tz="UTC")
HORIZON_S = 900


def _world(seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Three units over two days: each failure follows a 10-tick ramp of high scores; between
    them, one-tick spikes higher still that end in nothing."""
    rng = np.random.default_rng(seed)
    ticks = pd.date_range(START, periods=2880, freq="min")
    rows, onsets = [], []
    for u in range(3):
        score = rng.uniform(0.0, 0.3, size=len(ticks))
        for at in rng.choice(np.arange(100, 2800, 60), size=12, replace=False):
            score[at - 10 : at] = rng.uniform(0.6, 0.9, size=10)
            onsets.append({"unit": f"u{u}", "ts": ticks[at] + pd.Timedelta(seconds=20)})
        quiet = np.flatnonzero(score < 0.3)
        score[rng.choice(quiet, size=40, replace=False)] = 0.95
        rows.append(
            pd.DataFrame({"unit": f"u{u}", "made_at": ticks, "score": score, "failing": False})
        )
    return pd.concat(rows, ignore_index=True), pd.DataFrame(onsets)


def _index(onsets: pd.DataFrame) -> dict[str, np.ndarray]:
    naive = onsets["ts"].dt.tz_convert("UTC").dt.tz_localize(None)
    return {u: np.sort(g.to_numpy("datetime64[ns]")) for u, g in naive.groupby(onsets["unit"])}


def test_episode_scorer_counts_as_the_backtest_does() -> None:
    rows, onsets = _world(1)
    made = rows["made_at"].dt.tz_localize(None).to_numpy("datetime64[ns]")
    scorer = EpisodeScorer(
        rows["unit"].to_numpy(),
        made,
        rows["score"].to_numpy(),
        rows["failing"].to_numpy(),
        _index(onsets),
        HORIZON_S,
    )
    for threshold in (0.2, 0.5, 0.85):
        expected = episode_metrics(rows.assign(alert=rows["score"] >= threshold), onsets, HORIZON_S)
        alerts, true, caught = scorer.counts(threshold)
        assert (alerts, true, caught) == (
            expected["alerts"],
            expected["true_alerts"],
            expected["caught"],
        )
        assert scorer.positives == expected["positives"]
    # two of the last three ticks, per unit (never across units)
    above = np.array([1, 0, 1, 1, 1, 0, 1], dtype=bool)
    starts = np.array([1, 0, 0, 1, 0, 0, 0], dtype=bool)
    assert persistent_alerts(above, starts, 2, 3).tolist() == [0, 0, 1, 0, 1, 1, 1]


def test_the_selector_learns_persistence_when_spikes_are_false_alarms() -> None:
    rows, onsets = _world(2)
    selector = AlertRuleSelector(horizon_s=HORIZON_S)
    made = rows["made_at"].dt.tz_localize(None).to_numpy("datetime64[ns]")
    selector.update(rows["unit"].to_numpy(), made, rows["score"].to_numpy(), rows["failing"])
    threshold, k, m = selector.choose(_index(onsets)) or (0.0, 0, 0)
    assert k >= 2 and threshold <= 0.6  # a ramp alerts, a single spike no longer does
    single = AlertRuleSelector(horizon_s=HORIZON_S, persistence=((1, 1),))
    single.update(rows["unit"].to_numpy(), made, rows["score"].to_numpy(), rows["failing"])
    assert single.choose(_index(onsets)) is not None
    assert (selector.last_f or 0) > (single.last_f or 0) + 0.2
    # too few failures in the window: no rule yet (the caller keeps its tick-level threshold)
    assert AlertRuleSelector(horizon_s=HORIZON_S, min_onsets=100).choose(_index(onsets)) is None


def test_the_replay_alerts_on_k_of_m_ticks_per_unit() -> None:
    from faultcast.models.backtest import UnitReplay
    from faultcast.models.features import UnitFeatureSpec

    replay = UnitReplay(UnitFeatureSpec(), episode_rule=True)
    assert replay.rule is not None and not UnitReplay(UnitFeatureSpec(), episode_rule=False).rule
    assert UnitReplay(UnitFeatureSpec()).rule.gates  # the default rule has surge gates
    replay.raw_threshold, replay.persistence = 0.5, (2, 3)
    units = np.array(["a", "b"])
    ticks = [[0.9, 0.9], [0.1, 0.9], [0.9, 0.1], [0.1, 0.1]]
    alerts = [replay._persistent(units, np.array(t)).tolist() for t in ticks]
    # a: above, below, above -> 2 of 3 at the third tick; b: above twice, 2 of 3 a tick longer
    assert alerts == [[False, False], [False, True], [True, True], [False, False]]


def test_a_surge_gate_vetoes_the_scores_that_come_with_no_surge() -> None:
    """Decoys score high but nothing surges; precursors surge: the gated rule is chosen, its
    gate lets the precursors through, and the replay applies it per row."""
    rows, onsets = _world(3)
    rng = np.random.default_rng(3)
    score = rows["score"].to_numpy()
    # a surge statistic: high during the ramps before failures, low at the one-tick spikes
    surge = np.where((score >= 0.6) & (score < 0.95), rng.uniform(3.5, 8.0, len(score)), 0.5)
    made = rows["made_at"].dt.tz_localize(None).to_numpy("datetime64[ns]")
    single = ((1, 1),)
    gated = AlertRuleSelector(horizon_s=HORIZON_S, persistence=single, gates=(1.0, 3.0))
    gated.update(rows["unit"].to_numpy(), made, score, rows["failing"], surge)
    threshold, k, m, gate = gated.choose_gated(_index(onsets)) or (0.0, 0, 0, 0.0)
    assert gate in (1.0, 3.0) and (k, m) == (1, 1)
    plain = AlertRuleSelector(horizon_s=HORIZON_S, persistence=single)
    plain.update(rows["unit"].to_numpy(), made, score, rows["failing"])
    assert plain.choose_gated(_index(onsets)) is not None
    assert (gated.last_f or 0) > (plain.last_f or 0) + 0.2
    assert gated.choose(_index(onsets)) == (threshold, k, m)  # the ungated interface stays

    from faultcast.models.backtest import gate_statistic

    # the strongest message pattern's surge (stored as a signed log) when the features hold it
    frame = pd.DataFrame({"max_surge": [0.5, 4.0], "tmpl_max_surge": [np.log1p(6.0), 0.0]})
    assert gate_statistic(frame).round(6).tolist() == [6.0, 0.0]
    assert gate_statistic(frame[["max_surge"]]).tolist() == [0.5, 4.0]
