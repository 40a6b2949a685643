"""Prediction accuracy: unit mode on two simulated worlds (several seeds each), session mode on HDFS.

Prints one JSON object:

- ``unit``: per world and seed, the online model's precision, recall, F1, median lead time and
  expected calibration error (ECE) on the second half of the history, next to the four
  baselines of the same run, all scored on the second half: a static error-rate threshold, a
  surge-count rule (alert when any message pattern's 5-min count is k sigma above its hourly
  rate, k chosen on the first half), batch logistic regression and batch gradient boosting
  (scikit-learn, trained on the first half); and the *ceilings* the seed's ground truth allows:
  an oracle that alerts exactly during every precursor and every decoy (they are
  indistinguishable while they rise) reaches precision with_precursor / (with_precursor +
  false_alarms) and recall with_precursor / outages.
- ``leave_one_world_out``: the candidate configurations (feature set x online model) are scored
  on both worlds; for each world, the configuration chosen on the *other* world (best mean
  second-half F1 there) is reported with its figures on this world, beside this world's own
  best (what choosing on the test world would have given).  The ``online`` figures under
  ``unit`` are those of the configuration chosen on the other world.
- ``session``: supervised and unsupervised online F1 on Loghub HDFS_sessions with the
  baselines (skipped with a reason when ../shared/data is absent, or with ``--no-sessions``).

Worlds: ``default`` is :mod:`faultcast.simulate` (categories of errors ramping before an
outage); ``graph`` is :mod:`faultcast.simulate_graph` (a service dependency graph with
cascades, resource exhaustion, deploy regressions, rare and new message patterns as
precursors), built independently.  Seeds 2 and 3 of both worlds were looked at while
developing; seeds 5 and 6 were first seen in the final run of the first version.

Seeds: 2 and 3 of both worlds were looked at while developing the first version, 5 and 6 in the
second round (the alert rule, negative sampling, the surge features); 11 and 12 are held out
(``--held-out``): never looked at until the final run, reported separately and never used to
choose.  Leave-one-world-out chooses on the other world's development seeds only.

Usage: ``python benchmarks/predict.py [--seeds 2 3 5 6 11 12] [--held-out 11 12] [--worlds ...]
[--configs ...] [--hours 48] [--no-sessions] [--cache DIR]``; worlds can be run side by side and reported
as one with ``--combine a.json b.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from faultcast.ingest import Store
from faultcast.models.backtest import (
    _session_dicts,
    _unit_baselines,
    read_labels,
    replay_units,
)
from faultcast.models.estimators import (
    FailureRiskClassifier,
    RareTemplateDetector,
    SessionClassifier,
    best_threshold,
)
from faultcast.models.features import (
    UnitFeatureSpec,
    event_time_range,
    failure_onsets,
    session_counts,
    unit_features,
)
from faultcast.models.metrics import count_metrics, episode_metrics
from river import tree
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import faultcast
from faultcast._logging import configure_logging
from faultcast.simulate import simulate
from faultcast.simulate_graph import simulate_graph

HDFS = Path(__file__).resolve().parents[2] / "shared" / "data" / "loghub" / "HDFS_sessions"
KEYS = ("precision", "recall", "f1", "pr_auc", "alerts", "positives", "median_lead_time_s", "ece")
WORLDS = {
    "default": lambda out, seed, hours: simulate(out, services=8, hours=hours, seed=seed),
    "graph": lambda out, seed, hours: simulate_graph(out, services=10, hours=hours, seed=seed),
}
MODELS = {
    "logistic": lambda: FailureRiskClassifier(seed=0),
    "hoeffding_adaptive_tree": lambda: tree.HoeffdingAdaptiveTreeClassifier(
        grace_period=200, seed=0
    ),
}
#: The candidate configurations: name -> (feature set, online model, negative sampling k,
#: alert rule: ``episodes`` (threshold and persistence chosen on alert episodes) or ``ticks``
#: (a threshold chosen on tick-level F0.5, one tick alerts)).
CONFIGS: dict[str, tuple[str, str, int, str]] = {
    "taxonomy+logistic/k1/ticks": ("taxonomy", "logistic", 1, "ticks"),
    "taxonomy+logistic/k4/ticks": ("taxonomy", "logistic", 4, "ticks"),
    "taxonomy+logistic/k4": ("taxonomy", "logistic", 4, "episodes"),
    "taxonomy_surge+logistic/k1/ticks": ("taxonomy_surge", "logistic", 1, "ticks"),
    "taxonomy_surge+logistic/k4/ticks": ("taxonomy_surge", "logistic", 4, "ticks"),
    "taxonomy_surge+logistic/k1": ("taxonomy_surge", "logistic", 1, "episodes"),
    "taxonomy+logistic/k1": ("taxonomy", "logistic", 1, "episodes"),
    "all+logistic/k1": ("all", "logistic", 1, "episodes"),
    "templates+logistic/k1": ("templates", "logistic", 1, "episodes"),
    "templates+hoeffding_adaptive_tree": ("templates", "hoeffding_adaptive_tree", 1, "episodes"),
    # h16-features: the ramp feature sets (see UnitFeatureSpec.feature_set)
    "taxonomy_ramp+logistic/k4/ticks": ("taxonomy_ramp", "logistic", 4, "ticks"),
    "ramp+logistic/k4/ticks": ("ramp", "logistic", 4, "ticks"),
}
#: The configurations a run scores unless ``--configs`` says otherwise: the previous default
#: (taxonomy features, every row learned, tick-level threshold), negative sampling k = 4, the
#: surge-rule statistics as features, and the alert rule chosen on episodes.  (The template-only
#: sets and the tree were not chosen by leave-one-world-out in earlier runs; they stay
#: selectable.)
DEFAULT_CONFIGS: list[str] = list(CONFIGS)[:5] + ["taxonomy_ramp+logistic/k4/ticks"]
#: What ``learn`` and ``backtest`` use (UnitFeatureSpec and UnitReplay defaults).
PRODUCTION = "taxonomy+logistic/k4/ticks"


def _pick(m: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if m is None else {k: m.get(k) for k in KEYS if k in m}


def _world_store(
    world: str, seed: int, hours: float, work: Path, cache: Path | None
) -> tuple[Path, dict[str, Any]]:
    """The ingested store of one world and seed, and its ground truth.  With ``cache`` they are
    kept there (keyed by world, seed and hours) and reused by later runs; a store is built
    under a temporary name and renamed, so a run that stops half way leaves nothing behind."""
    name = f"{world}_{seed}_{hours:g}h"
    where = cache if cache is not None else work
    db, truth_file = where / f"{name}.duckdb", where / f"{name}.truth.json"
    if not (db.exists() and truth_file.exists()):
        where.mkdir(parents=True, exist_ok=True)
        events = work / f"{name}.jsonl"
        sim = WORLDS[world](events, seed, hours)
        partial = where / f"{name}.{os.getpid()}.partial.duckdb"
        with faultcast.connect(partial) as fc:
            fc.ingest(events)
        Path(sim.truth_path).replace(truth_file)
        partial.replace(db)
        events.unlink(missing_ok=True)
    return db, json.loads(truth_file.read_text())


def _unit(
    world: str,
    seed: int,
    hours: float,
    work: Path,
    configs_run: list[str],
    cache: Path | None = None,
) -> dict[str, Any]:
    """Every candidate configuration on one world and seed, with baselines and ceilings."""
    db, truth = _world_store(world, seed, hours, work, cache)
    store = Store(db)
    base = UnitFeatureSpec(feature_set="ramp")  # computes every feature of every set
    t = time.perf_counter()
    with store.reading() as con:
        rng = event_time_range(con, base.unit)
        assert rng is not None
        tick = pd.Timedelta(seconds=base.tick_s)
        lo, hi = rng[0].floor(tick), rng[1].floor(tick)
        feats = unit_features(con, base, lo, hi)
        onsets = failure_onsets(con, base)
    features_s = time.perf_counter() - t
    announced = pd.DataFrame(
        [
            {"unit": name, "ts": pd.Timestamp(o["start"])}
            for name, s in truth["services"].items()
            for o in s["outages"]
            if o["precursor"] is not None
        ]
    )
    configs: dict[str, Any] = {}
    baselines: dict[str, Any] = {}  # per feature set: the batch baselines learn its features
    for name in configs_run:
        fs, model, k, rule = CONFIGS[name]
        spec = UnitFeatureSpec(feature_set=fs)
        t = time.perf_counter()
        r = replay_units(
            feats,
            onsets,
            spec,
            lo,
            hi,
            MODELS[model](),
            baselines=False,
            negative_sampling=k,
            episode_rule=rule == "episodes",
        )
        rows = r.pop("_rows")
        r.pop("_onsets")
        mid = pd.Timestamp(r["second_half"]["from"])
        if fs not in baselines:
            baselines[fs] = _unit_baselines(feats, spec, onsets, mid, spec.feature_names())
        second = r["second_half"]["online"]
        configs[name] = {
            "online_second_half": _pick(second),
            "alert_rule": {
                "threshold": r["final_threshold"],
                "k_of_m": r["final_persistence"],
            },
            "online_whole": _pick(r),
            "recall_announced_second_half": episode_metrics(
                rows[rows["made_at"] >= mid],
                announced,
                spec.horizon_s,
                since=mid + pd.Timedelta(seconds=spec.horizon_s),
            )["recall"],
            "baselines": {k: _pick(v) for k, v in baselines[fs].items() if isinstance(v, dict)},
            "seconds": round(time.perf_counter() - t, 2),
        }
    counts = truth["counts"]
    with_pre, outages, false_alarms = (
        counts["outages_with_precursor"],
        counts["outages"],
        counts["false_alarms"],
    )
    precision = with_pre / max(with_pre + false_alarms, 1)
    recall = with_pre / max(outages, 1)
    return {
        "world": world,
        "seed": seed,
        "events": counts["events"],
        "configs": configs,
        "ceiling": {
            "precision": round(precision, 4),
            "recall": round(recall, 4),
            "f1": round(2 * precision * recall / max(precision + recall, 1e-9), 4),
            "outages": outages,
            "outages_with_precursor": with_pre,
            "false_alarms": false_alarms,
        },
        "features_seconds": round(features_s, 2),
    }


def _mean(values: list[float | None]) -> float:
    return round(sum(v or 0.0 for v in values) / max(len(values), 1), 4)


def _lowo(runs: list[dict[str, Any]], held_out: list[int]) -> dict[str, Any]:
    """For each world: the configuration chosen on the other world's development seeds (best
    mean second-half F1 there), and how it does here, on development and on held-out seeds."""
    worlds = sorted({r["world"] for r in runs})
    names = [c for c in CONFIGS if all(c in r["configs"] for r in runs)]

    def f1(world: str, config: str, held: bool) -> float | None:
        values = [
            r["configs"][config]["online_second_half"]["f1"]
            for r in runs
            if r["world"] == world and (r["seed"] in held_out) == held
        ]
        return _mean(values) if values else None

    out: dict[str, Any] = {
        "mean_second_half_f1_development": {
            f"{w}/{c}": f1(w, c, False) for w in worlds for c in names
        },
        "mean_second_half_f1_held_out": {f"{w}/{c}": f1(w, c, True) for w in worlds for c in names},
    }
    for w in worlds:
        others = [o for o in worlds if o != w]
        if not others or not names:
            continue
        chosen = max(names, key=lambda c: sum(f1(o, c, False) or 0.0 for o in others))
        own = max(names, key=lambda c: f1(w, c, False) or 0.0)
        out[w] = {
            "chosen_on": others,
            "config": chosen,
            "f1_here_development": f1(w, chosen, False),
            "f1_here_held_out": f1(w, chosen, True),
            "best_here_development": own,
            "best_f1_here_development": f1(w, own, False),
        }
    return out


def _summary(
    runs: list[dict[str, Any]], lowo: dict[str, Any], held_out: list[int]
) -> list[dict[str, Any]]:
    """Per world and seed: the configuration chosen on the other world, its baselines, ceilings."""
    table = []
    for r in runs:
        config = lowo.get(r["world"], {}).get("config") or next(iter(r["configs"]))
        c = r["configs"][config]
        best_baseline = max(
            ((k, (v or {}).get("f1") or 0.0) for k, v in c["baselines"].items()),
            key=lambda kv: kv[1],
            default=(None, 0.0),
        )
        table.append(
            {
                "world": r["world"],
                "seed": r["seed"],
                "held_out": r["seed"] in held_out,
                "config": config,
                "online": c["online_second_half"],
                "production_default": {
                    "config": PRODUCTION,
                    **(r["configs"].get(PRODUCTION, {}).get("online_second_half") or {}),
                },
                "alert_rule": c["alert_rule"],
                "recall_announced": c["recall_announced_second_half"],
                "baselines": c["baselines"],
                "best_baseline": {"name": best_baseline[0], "f1": best_baseline[1]},
                "margin_over_best_baseline": round(
                    (c["online_second_half"]["f1"] or 0.0) - best_baseline[1], 4
                ),
                "ceiling": r["ceiling"],
            }
        )
    return table


def _pca_spe(
    train: np.ndarray, test: np.ndarray, variance: float = 0.95
) -> tuple[np.ndarray, float]:
    """PCA on pattern counts (Xu et al. 2009): the squared prediction error of each test row
    off the principal subspace of the training rows, and the Q-statistic cut at alpha = 0.001
    (Jackson & Mudholkar), which needs no label."""
    from sklearn.decomposition import PCA

    idf = np.log(len(train) / np.maximum((train > 0).sum(axis=0), 1))
    a, b = train * idf, test * idf
    mu = a.mean(axis=0)
    pca = PCA(n_components=variance, svd_solver="full").fit(a - mu)
    rest = np.sort(np.linalg.eigvalsh(np.cov((a - mu).T)))[::-1][pca.n_components_ :]
    rest = rest[rest > 0]
    theta = [float(np.sum(rest**i)) for i in (1, 2, 3)]
    h0 = 1 - 2 * theta[0] * theta[2] / (3 * theta[1] ** 2)
    c = 3.0902  # the normal quantile of 1 - 0.001
    q = theta[0] * (
        c * np.sqrt(2 * theta[1] * h0**2) / theta[0] + 1 + theta[1] * h0 * (h0 - 1) / theta[0] ** 2
    ) ** (1 / h0)
    centred = b - mu
    residual = centred - pca.inverse_transform(pca.transform(centred)) + pca.mean_
    return np.sum(residual**2, axis=1), float(q)


def _session_kfold(counts: pd.DataFrame, labels: dict[str, bool], k: int = 5) -> dict[str, Any]:
    """Session mode on unseen blocks: the blocks in ``k`` random folds; each fold is scored by
    models that learned only the other folds (the online model fed them once, in time order;
    its alert cut the best-F1 one on the training folds).  Unsupervised: the rarity
    score and PCA on pattern counts (its cut from the Q-statistic, no label used)."""
    keep = counts.index.isin(list(labels))
    counts = counts[keep]
    y = np.array([labels[key] for key in counts.index], dtype=bool)
    X = counts.to_numpy(dtype=float)
    xs = _session_dicts(counts)
    fold = np.random.default_rng(0).permutation(len(y)) % k
    flags = {name: np.zeros(len(y), dtype=bool) for name in ("online", "rarity", "pca", "batch_lr")}
    scores = {name: np.zeros(len(y)) for name in flags}
    for f in range(k):
        train, test = np.flatnonzero(fold != f), np.flatnonzero(fold == f)
        clf, det = SessionClassifier(), RareTemplateDetector()
        for i in train:
            clf.learn_one(xs[i], bool(y[i]))
            det.learn_one(xs[i])
        # the cut with the best F1 on the training folds, scored by the model they trained
        thr = best_threshold(
            np.array([clf.predict_proba_one(xs[i]).get(True, 0.0) for i in train]), y[train]
        )
        for i in test:
            scores["online"][i] = clf.predict_proba_one(xs[i]).get(True, 0.0)
            scores["rarity"][i] = det.score_one(xs[i])
        flags["online"][test] = scores["online"][test] >= thr
        flags["rarity"][test] = scores["rarity"][test] > 1.0 - det.rare_share
        spe, q = _pca_spe(X[train], X[test])
        scores["pca"][test], flags["pca"][test] = spe, spe > q
        lr = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
        lr.fit(np.log1p(X[train]), y[train])
        p = lr.predict_proba(np.log1p(X[test]))[:, 1]
        scores["batch_lr"][test], flags["batch_lr"][test] = p, p >= 0.5
    return {
        "folds": k,
        "sessions": len(y),
        "supervised_online": _pick(count_metrics(y, flags["online"], scores["online"])),
        "supervised_batch_lr": _pick(count_metrics(y, flags["batch_lr"], scores["batch_lr"])),
        "unsupervised_rarity": _pick(count_metrics(y, flags["rarity"], scores["rarity"])),
        "unsupervised_pca": _pick(count_metrics(y, flags["pca"], scores["pca"])),
    }


def _sessions(work: Path) -> dict[str, Any]:
    if not (HDFS / "HDFS_dev.log").exists():
        return {"skipped": f"{HDFS} not found (../shared/data is absent)"}
    fc = faultcast.connect(work / "hdfs.duckdb")
    t = time.perf_counter()
    fc.ingest(
        HDFS / "HDFS_dev.log",
        format="text",
        log_format="<Date> <Time> <Pid> <Level> <Component>: <Content>",
        session_key=r"blk_-?[0-9]+",
    )
    ingest_s = time.perf_counter() - t
    out: dict[str, Any] = {"ingest_seconds": round(ingest_s, 2)}
    for name, unsupervised in (("supervised", False), ("unsupervised", True)):
        r = fc.backtest("session", labels=HDFS / "anomaly_label.csv", unsupervised=unsupervised)
        out[name] = {
            **_pick(r),  # type: ignore[dict-item]
            "model": r["model"],
            "second_half": _pick(r["second_half"]["online"]),
            "baselines": {k: _pick(v) for k, v in r["baselines"].items()},
        }
    with fc.store.reading() as con:
        counts, facts = session_counts(con)
    out["kfold_unseen_blocks"] = _session_kfold(counts, read_labels(HDFS / "anomaly_label.csv"))
    out["published_unsupervised_f1"] = {
        "PCA": 0.77,
        "IsolationForest": 0.80,
        "InvariantsMining": 0.92,
    }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[2, 3, 5, 6, 11, 12])
    parser.add_argument(
        "--held-out",
        type=int,
        nargs="*",
        default=[11, 12],
        help="seeds never looked at while developing: reported, never used to choose",
    )
    parser.add_argument("--worlds", nargs="+", default=list(WORLDS), choices=list(WORLDS))
    parser.add_argument("--configs", nargs="+", default=DEFAULT_CONFIGS, choices=list(CONFIGS))
    parser.add_argument("--hours", type=float, default=48)
    parser.add_argument("--no-sessions", action="store_true")
    parser.add_argument(
        "--cache",
        type=Path,
        help="keep each world's ingested store here and reuse it in later runs "
        "(the simulation and ingest are most of a run's time)",
    )
    parser.add_argument(
        "--combine",
        nargs="+",
        type=Path,
        help="outputs of earlier runs (say one per world, run side by side) to report as one",
    )
    args = parser.parse_args()
    configure_logging("WARNING")  # stdout holds the one JSON object
    if args.combine:
        parts = [json.loads(p.read_text()) for p in args.combine]
        runs = [r for part in parts for r in part["runs"]]
        held_out = sorted({s for part in parts for s in part["seeds"]["held_out"]})
        args.seeds = sorted({r["seed"] for r in runs})
        sessions = next(
            (p["session"] for p in parts if "skipped" not in p["session"]),
            parts[0]["session"],
        )
    else:
        held_out = [s for s in args.seeds if s in set(args.held_out)]
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            runs = [
                _unit(w, s, args.hours, work, args.configs, args.cache)
                for w in args.worlds
                for s in args.seeds
            ]
            sessions = {"skipped": "--no-sessions"} if args.no_sessions else _sessions(work)
    lowo = _lowo(runs, held_out)
    print(
        json.dumps(
            {
                "seeds": {
                    "development": [s for s in args.seeds if s not in held_out],
                    "held_out": held_out,
                },
                "unit": _summary(runs, lowo, held_out),
                "leave_one_world_out": lowo,
                "targets": {
                    "online_f1_second_half": 0.75,
                    "margin_over_best_baseline": 0.05,
                    "median_lead_time_s": 300,
                    "ece": 0.05,
                    "session_supervised_f1": 0.97,
                    "session_unsupervised_f1": 0.85,
                },
                "runs": runs,
                "session": sessions,
            }
        )
    )


if __name__ == "__main__":
    main()
