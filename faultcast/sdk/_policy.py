"""Which recovery to try for an error: the static policy, and the interface a learned one
(:class:`faultcast.models.RecoveryRecommender`) fills."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final, Protocol, runtime_checkable

__all__ = ["DEFAULT_PREFERENCES", "RecoveryPolicy", "StaticPolicy"]

#: Actions in order of preference per category; the first one the guard can carry out wins.
DEFAULT_PREFERENCES: Final[Mapping[str, tuple[str, ...]]] = {  # fmt: skip
    "communication": (
        "retry_with_backoff",
        "failover",
        "circuit_break",
        "fallback",
        "buffer_replay",
        "retry",
    ),
    "streaming": ("buffer_replay", "retry_with_backoff", "fallback", "dead_letter"),
    "budget": ("fallback", "shed_load"),
    "security": ("lockout",),
    "memory": ("clear_cache", "shed_load", "restart", "fallback"),
    "data": ("dead_letter", "fallback"),
    "unknown": ("retry_with_backoff", "failover", "fallback", "buffer_replay", "restart"),
}


@runtime_checkable
class RecoveryPolicy(Protocol):
    """Chooses a recovery action for an error among those the caller can carry out.

    ``context`` holds ``category``, ``error_type``, ``message``, ``service`` (the unit),
    ``component``, ``operation`` and ``recent_error_rate`` (errors per minute); return one of
    ``actions``, or None to leave the error unrecovered.  A policy that also has
    ``learn_one(context, action, succeeded)`` is told every outcome.
    """

    def choose(self, context: Mapping[str, Any], actions: Sequence[str]) -> str | None: ...


class StaticPolicy:
    """A fixed preference list per category (:data:`DEFAULT_PREFERENCES`, or yours).

    Examples
    --------
    >>> policy = StaticPolicy()
    >>> policy.choose({"category": "communication"}, ["retry", "retry_with_backoff"])
    'retry_with_backoff'
    >>> policy.choose({"category": "data"}, ["retry"]) is None
    True
    >>> StaticPolicy({"budget": ["retry"]}).choose({"category": "budget"}, ["retry", "fallback"])
    'retry'
    """

    def __init__(self, preferences: Mapping[str, Sequence[str]] | None = None) -> None:
        merged = dict(DEFAULT_PREFERENCES)
        merged.update({k: tuple(v) for k, v in (preferences or {}).items()})
        self.preferences: dict[str, tuple[str, ...]] = merged

    def choose(self, context: Mapping[str, Any], actions: Sequence[str]) -> str | None:
        category = str(context.get("category") or "unknown")
        wanted = self.preferences.get(category, self.preferences["unknown"])
        for action in wanted:
            if action in actions:
                return action
        return None

    def __repr__(self) -> str:
        return "StaticPolicy()"
