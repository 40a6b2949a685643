"""Pre-emptive measures: what a guard does differently while faultcast says its unit is at risk."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

__all__ = ["PREEMPT_ACTIONS", "Preempt"]

#: The ``recovery_action`` of each measure's event.
PREEMPT_ACTIONS: Final[tuple[str, ...]] = (
    "preempt_shed",
    "preempt_buffer",
    "preempt_fallback",
    "preempt_probe",
    "preempt_deadline",
)


@dataclass(frozen=True, slots=True)
class Preempt:
    """Measures a :func:`~faultcast.sdk.guard` with an ``advisor=`` applies *before* a call
    while the Advisor says its unit is at risk (and never otherwise).  Each preempted call is
    logged as one info event with ``recovery_action="preempt_<measure>"``, its
    ``recovery_outcome`` (did the measure serve the call), ``automated=True``,
    ``recovery_decision="preempt"`` and the ``risk`` that triggered it, so that faultcast learns
    whether prevention worked.  Checked in this order:

    shed
        Optional work: True, or a predicate of the call's arguments; a shed call is not made
        and returns ``shed_value``.
    buffer
        Writes: keep the record (the guard's ``record(*args)``) in the guard's ``buffer`` to
        be replayed in order, instead of calling now.
    fallback
        Serve the guard's ``fallback`` instead of calling (the call is made only if the
        fallback itself fails).
    probe
        Let at most this many calls at a time through to the dependency (as a breaker's
        half-open trial calls); the others get the fallback.
    deadline
        Retries stop this many seconds after the first attempt (instead of the guard's own
        ``deadline``); with ``timeout_arg`` the call also gets it as that keyword argument
        (``timeout=``), so a slow dependency cannot hold the caller.

    Examples
    --------
    >>> Preempt(fallback=True, deadline=0.5, timeout_arg="timeout").measures
    ('fallback', 'deadline')
    >>> Preempt().measures
    ()
    """

    shed: bool | Callable[..., bool] = False
    shed_value: Any = None
    buffer: bool = False
    fallback: bool = False
    probe: int | None = None
    deadline: float | None = None
    timeout_arg: str | None = None

    def __post_init__(self) -> None:
        if self.probe is not None and self.probe < 1:
            raise ValueError(f"probe lets at least 1 call through at a time, not {self.probe!r}")
        if self.deadline is not None and not self.deadline > 0:
            raise ValueError(
                f"a pre-emptive deadline must be positive seconds, not {self.deadline!r}"
            )
        if self.timeout_arg is not None and self.deadline is None:
            raise ValueError("timeout_arg passes the pre-emptive deadline: give deadline= too")

    @property
    def measures(self) -> tuple[str, ...]:
        """The measures set, in the order they are checked."""
        chosen = (
            ("shed", self.shed is not False),
            ("buffer", self.buffer),
            ("fallback", self.fallback),
            ("probe", self.probe is not None),
            ("deadline", self.deadline is not None),
        )
        return tuple(name for name, on in chosen if on)
