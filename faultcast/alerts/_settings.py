"""The rules' thresholds and the lifecycle's timings, with their defaults; read from TOML.

Each rule has a section named after it; the lifecycle's settings sit at the top::

    renotify = "4h"
    [unit_at_risk]
    for = "0m"
    [surging_pattern]
    min_count = 10
    [scorecard_breach]
    enabled = false
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from faultcast.ingest.durations import parse_duration

#: The rules, in the order they are evaluated.
RULES: Final[tuple[str, ...]] = (
    "unit_at_risk",
    "new_pattern",
    "surging_pattern",
    "regression",
    "quarantine_spike",
    "scorecard_breach",
)
SEVERITIES: Final[tuple[str, ...]] = ("info", "warning", "error", "critical")


@dataclass(frozen=True)
class Rule:
    """What every rule has: on or off, how long its condition must hold before it fires
    (``for_``, seconds; 0 fires at once), and the severity it is sent with."""

    enabled: bool = True
    for_: float = 0.0
    severity: str = "warning"


@dataclass(frozen=True)
class UnitAtRisk(Rule):
    """The production failure model alerts for a unit (its probability reached the model's
    alert threshold at the latest learned tick, and the model is past its cold start).  A
    prediction counts for its horizon: once the data has moved past the tick + horizon
    without a newer prediction, the alert resolves."""

    severity: str = "critical"


@dataclass(frozen=True)
class NewPattern(Rule):
    """A message pattern first seen within ``window`` with events at warning level or above
    (an error: an event with a category).  One alert per service it appeared in; it resolves
    when the pattern is no longer new (the window has passed)."""

    window: float = 3600.0


@dataclass(frozen=True)
class SurgingPattern(Rule):
    """An error pattern surging by the one rule of :func:`faultcast.analytics.surging_patterns`
    (in ``window``, at least ``min_count`` and ``factor`` x its baseline + 3 sigma + 1, the
    baseline being its mean over ``baseline_windows`` windows before), with at least
    ``min_history`` of history before the window; one alert per service with at least
    ``min_count`` of the pattern's events in the window (an absolute floor, not a ratio)."""

    window: float = 3600.0
    baseline_windows: int = 24
    min_count: int = 10
    factor: float = 3.0
    min_history: float = 6 * 3600.0


@dataclass(frozen=True)
class Regression(Rule):
    """An issue marked resolved recurred (status ``regressed`` in the issues table; nothing
    while the store has no issues table)."""

    severity: str = "error"


@dataclass(frozen=True)
class QuarantineSpike(Rule):
    """More lines quarantined in ``window`` (by ingest time) than ``factor`` x the usual
    rate + 3 sigma + 1, and at least ``min_count``: input is being lost to bad formats."""

    window: float = 3600.0
    baseline_windows: int = 24
    min_count: int = 20
    factor: float = 3.0


@dataclass(frozen=True)
class ScorecardBreach(Rule):
    """A criterion of the seed's scorecard (:func:`faultcast.analytics.scorecard`) fails over
    the last ``window`` of data (a criterion with nothing to measure never fires); it must
    hold for 15 minutes (``for``) so a criterion crossing back and forth does not page."""

    for_: float = 900.0
    window: float = 24 * 3600.0


@dataclass(frozen=True)
class AlertSettings:
    """Every rule's settings and the lifecycle's: ``renotify`` (seconds between reminders of
    an alert that still fires and nobody acknowledged; default 4 h), ``alertmanager_ttl``
    (how long Alertmanager keeps a firing alert that is not sent again: each evaluation
    sends it again, so run ``alerts check`` more often than this), ``resolved_retry``
    (how long a resolution that could not be delivered is retried).

    Examples
    --------
    >>> settings = AlertSettings().with_values({"surging_pattern": {"min_count": 20}})
    >>> settings.surging_pattern.min_count, settings.scorecard_breach.for_
    (20, 900.0)
    """

    unit_at_risk: UnitAtRisk = field(default_factory=UnitAtRisk)
    new_pattern: NewPattern = field(default_factory=NewPattern)
    surging_pattern: SurgingPattern = field(default_factory=SurgingPattern)
    regression: Regression = field(default_factory=Regression)
    quarantine_spike: QuarantineSpike = field(default_factory=QuarantineSpike)
    scorecard_breach: ScorecardBreach = field(default_factory=ScorecardBreach)
    renotify: float = 4 * 3600.0
    alertmanager_ttl: float = 3600.0
    resolved_retry: float = 24 * 3600.0

    def rule(self, name: str) -> Rule:
        if name not in RULES:
            raise ValueError(f"no alert rule {name!r}; the rules: {', '.join(RULES)}")
        value: Rule = getattr(self, name)
        return value

    def with_values(self, values: dict[str, Any], where: str = "settings") -> AlertSettings:
        """These settings with ``values`` (the TOML's shape) applied; a clear error names an
        unknown key or a bad value and ``where`` it came from."""
        top: dict[str, Any] = {}
        for key, value in values.items():
            if key in RULES:
                if not isinstance(value, dict):
                    raise ValueError(f"{where}: [{key}] must be a table of settings")
                top[key] = _rule(getattr(self, key), value, f"{where}: [{key}]")
            elif key in ("renotify", "alertmanager_ttl", "resolved_retry"):
                top[key] = _seconds(value, f"{where}: {key}")
            else:
                raise ValueError(
                    f"{where}: unknown setting {key!r}; use renotify, alertmanager_ttl, "
                    f"resolved_retry or a rule's table ({', '.join(RULES)})"
                )
        return dataclasses.replace(self, **top)

    @classmethod
    def from_file(cls, path: str | Path) -> AlertSettings:
        """The defaults with a TOML file's settings applied (see the module docstring)."""
        try:
            with open(path, "rb") as f:
                values = tomllib.load(f)
        except tomllib.TOMLDecodeError as e:
            raise ValueError(f"{path} is not valid TOML: {e}") from e
        return cls().with_values(values, str(path))

    def to_dict(self) -> dict[str, Any]:
        """Every setting (durations in seconds), for ``alerts check --json`` and the docs."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Rule):
                out[f.name] = {k.rstrip("_"): v for k, v in dataclasses.asdict(value).items()}
            else:
                out[f.name] = value
        return out


def _seconds(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"{where} must be a duration such as 15m, not {value!r}")
    if value == 0 or (isinstance(value, str) and re.fullmatch(r"0+(\.0*)?\s*[a-z]*", value)):
        return 0.0  # "0m": at once (parse_duration takes positive durations only)
    return float(parse_duration(value, where))


def _rule(current: Rule, values: dict[str, Any], where: str) -> Rule:
    names = {f.name.rstrip("_"): f for f in dataclasses.fields(current)}
    changes: dict[str, Any] = {}
    for key, value in values.items():
        f = names.get(key)
        if f is None:
            raise ValueError(f"{where}: unknown setting {key!r}; it has {', '.join(names)}")
        default = getattr(current, f.name)
        if key == "severity":
            if value not in SEVERITIES:
                raise ValueError(f"{where}: severity must be one of {', '.join(SEVERITIES)}")
        elif isinstance(default, bool):
            if not isinstance(value, bool):
                raise ValueError(f"{where}: {key} must be true or false, not {value!r}")
        elif key in ("for", "window", "min_history"):
            value = _seconds(value, f"{where}: {key}")
            if key == "window" and value <= 0:
                raise ValueError(f"{where}: window must be longer than 0")
        elif isinstance(default, int):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{where}: {key} must be a whole number of at least 1")
        elif isinstance(default, float):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"{where}: {key} must be a number of at least 0")
            value = float(value)
        changes[f.name] = value
    return dataclasses.replace(current, **changes)
