"""River's common checks over every estimator of ours, and what each must learn."""

from __future__ import annotations

import pickle
import random
from collections.abc import Iterator

import pytest
from faultcast.models import (
    FailureRiskClassifier,
    RareTemplateDetector,
    SessionClassifier,
    ThresholdSelector,
)
from river import checks

ESTIMATORS = [FailureRiskClassifier(seed=1), SessionClassifier(), RareTemplateDetector()]


def _offline_sessions(model: object, scale: int = 1) -> Iterator[list[tuple[dict[str, int], bool]]]:
    """River's anomaly checks download CreditCard; labelled sessions of template counts stand in
    offline (2% of them hold a pattern of their own)."""
    rng = random.Random(0)
    rows = []
    for _ in range(1000 * scale):
        anomalous = rng.random() < 0.02
        x = {"T0": 1, f"T{rng.randint(1, 5)}": rng.randint(1, 3)}
        if anomalous:
            x[f"E{rng.randint(1, 3)}"] = 1
        rows.append((x, anomalous))
    yield rows


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda e: type(e).__name__)
def test_river_checks(estimator: object, monkeypatch: pytest.MonkeyPatch) -> None:
    if isinstance(estimator, RareTemplateDetector):
        monkeypatch.setattr(checks, "_yield_datasets", _offline_sessions)
    checks.check_estimator(estimator)  # type: ignore[arg-type]


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda e: type(e).__name__)
def test_pickles_and_clones_with_its_parameters(estimator: object) -> None:
    clone = estimator.clone()  # type: ignore[attr-defined]
    assert clone._get_params() == estimator._get_params()  # type: ignore[attr-defined]
    assert type(pickle.loads(pickle.dumps(estimator))) is type(estimator)


def test_failure_risk_separates_and_explains() -> None:
    model = FailureRiskClassifier()
    for i in range(3000):
        surge = float(i % 20)
        model.learn_one({"cat_memory_surge": surge, "hour_sin": (i % 7) / 7}, surge >= 17)
    high = model.predict_proba_one({"cat_memory_surge": 19.0, "hour_sin": 0.5})[True]
    low = model.predict_proba_one({"cat_memory_surge": 1.0, "hour_sin": 0.5})[True]
    assert high > 0.5 > low
    assert (
        model.explain_one({"cat_memory_surge": 19.0, "hour_sin": 0.5})[0][0] == "cat_memory_surge"
    )


def test_rare_template_detector_flags_only_rare_patterns() -> None:
    det = RareTemplateDetector(rare_share=0.02, warm_up=50)
    assert det.score_one({"T1": 1}) == 0.0  # nothing is rare before the warm-up
    for i in range(1000):
        det.learn_one({"T1": 1, "T2": 3, **({"T3": 1} if i % 10 == 0 else {})})
    assert not det.is_anomalous({"T1": 1, "T2": 3})
    assert not det.is_anomalous({"T1": 1, "T2": 3, "T3": 1})  # 10% of sessions: not rare
    assert det.is_anomalous({"T1": 1, "T2": 3, "T99": 1})  # never seen
    assert det.score_one({"T99": 1}) == 1.0


def test_session_classifier_generalises_rarity_to_a_new_failure_kind() -> None:
    clf = SessionClassifier()
    for i in range(2000):
        bad = i % 25 == 0
        kind = f"E{(i // 25) % 3}"  # three kinds of failure pattern, learned in turn
        clf.learn_one({"T1": 1, "T2": 3, **({kind: 1} if bad else {"T3": 3})}, bad)
    # A kind of failure never seen: rare patterns still mean trouble.
    assert clf.predict_proba_one({"T1": 1, "T2": 3, "E7": 1})[True] > 0.5
    assert clf.predict_proba_one({"T1": 1, "T2": 3, "T3": 3})[True] < 0.1


def test_threshold_selector_maximises_f1_and_waits_for_positives() -> None:
    sel = ThresholdSelector(min_positives=3, default=0.5)
    for p, y in [(0.9, True), (0.8, True), (0.1, False)]:
        sel.update(p, y)
    assert sel.threshold() == 0.5  # too few positives yet
    for p, y in [(0.3, True), (0.35, False), (0.2, False), (0.6, False)]:
        sel.update(p, y)
    # Sorted: 0.9 T, 0.8 T, 0.6 F, 0.35 F, 0.3 T ...; F1 at 0.8 = 2*2/(2+3) = 0.8,
    # at 0.3 = 2*3/(5+3) = 0.75: the best cut keeps 0.9 and 0.8.
    assert sel.threshold() == 0.8
