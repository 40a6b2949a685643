"""faultcast.models: features, online models (River), the model registry and the backtest.

Layer: imports only :mod:`faultcast.ingest`.
"""

from __future__ import annotations

from faultcast.models.backtest import backtest, read_labels
from faultcast.models.estimators import (
    FailureRiskClassifier,
    RareTemplateDetector,
    SessionClassifier,
    ThresholdSelector,
)
from faultcast.models.features import UnitFeatureSpec
from faultcast.models.learn import (
    SESSION_MODEL,
    UNIT_MODEL,
    latest_predictions,
    learn,
    learn_sessions,
)
from faultcast.models.recommend import (
    Alternative,
    NotFittedError,
    Recommendation,
    RecoveryRecommender,
)
from faultcast.models.registry import (
    ModelNotFoundError,
    Registry,
    RegistryWarning,
    UntrustedModelError,
)
from faultcast.models.retrain import BatchClassifier, retrain, retrain_runs
from faultcast.models.views import drift_events

__all__ = [
    "SESSION_MODEL",
    "UNIT_MODEL",
    "Alternative",
    "BatchClassifier",
    "NotFittedError",
    "Recommendation",
    "RecoveryRecommender",
    "retrain",
    "retrain_runs",
    "FailureRiskClassifier",
    "ModelNotFoundError",
    "RareTemplateDetector",
    "Registry",
    "RegistryWarning",
    "SessionClassifier",
    "ThresholdSelector",
    "UnitFeatureSpec",
    "UntrustedModelError",
    "backtest",
    "drift_events",
    "latest_predictions",
    "learn",
    "learn_sessions",
    "read_labels",
]
