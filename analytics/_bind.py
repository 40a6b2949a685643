"""Turn a metric function ``f(source, **options)`` into a method of :class:`Metrics`."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Concatenate, Generic, ParamSpec, TypeVar, overload

from faultcast.analytics._sql import Source

if TYPE_CHECKING:
    from faultcast.analytics import Metrics

P = ParamSpec("P")
R = TypeVar("R")


class metric(Generic[P, R]):  # noqa: N801 - used like a decorator
    """A method that calls ``fn`` with the instance's source first: ``Metrics(s).f(x) == fn(s, x)``.

    The bound method keeps ``fn``'s name, docstring and signature (without the source), so
    ``help(fc.metrics.error_frequency)`` shows the full documentation.
    """

    def __init__(self, fn: Callable[Concatenate[Source, P], R]) -> None:
        self.fn = fn
        self.__doc__ = fn.__doc__
        self.__name__ = fn.__name__
        signature = inspect.signature(fn)
        self.signature = signature.replace(parameters=list(signature.parameters.values())[1:])

    @overload
    def __get__(self, obj: None, owner: type[Any]) -> metric[P, R]: ...

    @overload
    def __get__(self, obj: Metrics, owner: type[Any]) -> Callable[P, R]: ...

    def __get__(self, obj: Metrics | None, owner: type[Any]) -> metric[P, R] | Callable[P, R]:
        if obj is None:
            return self
        fn = self.fn
        source = obj.store

        @functools.wraps(fn)
        def bound(*args: P.args, **kwargs: P.kwargs) -> R:
            return fn(source, *args, **kwargs)

        del bound.__wrapped__  # the signature below, not fn's (which takes the source)
        bound.__signature__ = self.signature  # type: ignore[attr-defined]
        return bound
