"""The application SDK: an error hierarchy, recovery tools, and logging glue.

- errors: :class:`ServiceError` and its kinds (:class:`StreamingError`, :class:`BudgetError`,
  :class:`SecurityViolationError`, :class:`CommunicationError`,
  :class:`MemoryPressureError`, :class:`DataError`); :func:`classify` for any exception;
- recovery, sync and async alike: :func:`retry` / :class:`Retry` (backoff with full jitter,
  deadline), :class:`RetryBudget` (no retry storms), :class:`CircuitBreaker`,
  :class:`StreamBuffer` (keep and replay a failing sink's records), :class:`Budget`
  (pre-checks, warnings, fallback), :class:`Lockout` (security violations);
- :func:`guard`: all of it around a call, choosing the recovery by a policy
  (:class:`StaticPolicy`, or a learned :class:`faultcast.models.RecoveryRecommender`) and
  logging one faultcast event per failure;
- :class:`Advisor`: faultcast's risk and learned recovery policy for this service, fetched in
  the background and failing open; ``guard(advisor=..., preempt=Preempt(...))`` runs the
  learned action where the policy says automate, explores within a budget, and applies
  pre-emptive measures while the unit is at risk;
- :class:`FaultcastProcessor` (structlog) and :class:`FaultcastHandler` (stdlib logging)
  turn any logged exception into a faultcast event; :class:`KafkaSink` (structlog) and
  :class:`KafkaHandler` (stdlib logging) send the events to a Kafka topic instead of a file
  (for ``faultcast serve --kafka``); :class:`HttpSink` and :class:`HttpHandler` post them to
  ``faultcast serve --http`` (batched, retried, spilled and replayed); :data:`metrics` counts recoveries
  (exported to Prometheus with ``metrics.enable_prometheus()``).

Examples
--------
>>> from faultcast.sdk import guard, classify
>>> classify(TimeoutError()).category
'communication'
>>> @guard(fallback=lambda user: "guest")
... def name_of(user):
...     raise ConnectionRefusedError("profile service down")
>>> import structlog
>>> with structlog.testing.capture_logs():
...     name_of("u1")
'guest'
"""

from __future__ import annotations

from types import FunctionType as _FunctionType

from faultcast.sdk._advisor import Advisor, Decision, PolicyRule, RiskView
from faultcast.sdk._breaker import BreakerState, CircuitBreaker
from faultcast.sdk._budget import Budget
from faultcast.sdk._buffer import Serializer, StreamBuffer
from faultcast.sdk._errors import (
    BudgetError,
    BufferFullError,
    CircuitOpenError,
    CommunicationError,
    DataError,
    ErrorInfo,
    LockedOutError,
    MemoryPressureError,
    SecurityViolationError,
    ServiceError,
    Severity,
    StreamingError,
    classify,
)
from faultcast.sdk._guard import Guard, GuardScope, guard
from faultcast.sdk._http import HttpHandler, HttpSink
from faultcast.sdk._kafka import KafkaHandler, KafkaSink
from faultcast.sdk._logging import FaultcastHandler, FaultcastProcessor
from faultcast.sdk._metrics import RecoveryMetrics, metrics
from faultcast.sdk._policy import DEFAULT_PREFERENCES, RecoveryPolicy, StaticPolicy
from faultcast.sdk._preempt import Preempt
from faultcast.sdk._retry import Retry, RetryBudget, RetryState, retry
from faultcast.sdk._security import Lockout
from faultcast.sdk._types import FakeClock

__all__ = [
    "DEFAULT_PREFERENCES",
    "Advisor",
    "BreakerState",
    "Budget",
    "BudgetError",
    "BufferFullError",
    "CircuitBreaker",
    "CircuitOpenError",
    "CommunicationError",
    "DataError",
    "Decision",
    "ErrorInfo",
    "FakeClock",
    "FaultcastHandler",
    "FaultcastProcessor",
    "Guard",
    "GuardScope",
    "HttpHandler",
    "HttpSink",
    "KafkaHandler",
    "KafkaSink",
    "LockedOutError",
    "Lockout",
    "MemoryPressureError",
    "PolicyRule",
    "Preempt",
    "RecoveryMetrics",
    "RecoveryPolicy",
    "Retry",
    "RetryBudget",
    "RetryState",
    "RiskView",
    "SecurityViolationError",
    "Serializer",
    "ServiceError",
    "Severity",
    "StaticPolicy",
    "StreamBuffer",
    "StreamingError",
    "classify",
    "guard",
    "metrics",
    "retry",
]

# Public objects say they live here (tracebacks read ``faultcast.sdk.BudgetError``, pickles
# refer to the public path, and the package's doctests cover them).
for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, type | _FunctionType):
        _obj.__module__ = __name__
del _name, _obj
