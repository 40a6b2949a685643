"""The template miner's stored state is checked before Drain3 decodes it: data only.

Drain3 saves its state with jsonpickle, and ``jsonpickle.loads`` runs code: a ``py/reduce``
calls any function, ``py/function`` and ``py/type`` import any module.  The state lives in the
store (``miner_state``), so whoever can write the DuckDB file could make the next ``ingest``
run their code.  :func:`check_miner_state` walks the decoded JSON first and refuses anything
but the few classes a miner's state is made of (with their attributes as plain data), tuples,
sets and back-references.

Examples
--------
>>> import base64, json, zlib
>>> def packed(obj):
...     return base64.b64encode(zlib.compress(json.dumps(obj).encode()))
>>> check_miner_state(packed({"py/object": "drain3.drain.Node", "py/state": {"py/tuple": [None, {}]}}))
>>> try:
...     check_miner_state(packed({"py/reduce": [{"py/function": "os.system"}, ["id"]]}))
... except UnsafeStateError as e:
...     print(str(e)[:72])
the template miner's state in the store holds 'py/reduce', which would r
"""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from typing import Any, Final

from faultcast.ingest.errors import StorageError

#: The classes a Drain3 miner's state is made of.
ALLOWED_CLASSES: Final[frozenset[str]] = frozenset(
    {
        "drain3.drain.Drain",
        "drain3.drain.LogCluster",
        "drain3.drain.Node",
        "drain3.simple_profiler.NullProfiler",
        "faultcast.ingest.patterns._WordAwareDrain",  # states saved before the miner of 2026-11-30
        "faultcast.ingest.patterns._Drain",
    }
)
#: jsonpickle tags that build data only (an object of an allowed class, its attributes,
#: tuples, sets and references to objects already built).
ALLOWED_TAGS: Final[frozenset[str]] = frozenset(
    {"py/object", "py/state", "py/tuple", "py/set", "py/id"}
)
_HINT: Final[str] = (
    "; it was not loaded. Restore the store from a backup you trust, or delete the row of "
    "table miner_state to start mining afresh (new templates then get new ids)"
)


class UnsafeStateError(StorageError):  # type: ignore[misc,unused-ignore]
    """The stored miner state holds something that would run code (or is not a state)."""


def _refuse(what: str) -> UnsafeStateError:
    return UnsafeStateError(
        f"the template miner's state in the store holds {what}, which would run code when "
        "loaded" + _HINT
    )


def _check_key(key: str) -> None:
    """jsonpickle (``keys=True``) decodes a ``json://`` key as JSON: only a plain value."""
    if not key.startswith("json://"):
        return
    try:
        value = json.loads(key[len("json://") :])
    except ValueError:
        raise _refuse(f"the key {key[:60]!r}") from None
    if not isinstance(value, int | float | str | bool) and value is not None:
        raise _refuse(f"the key {key[:60]!r}")


def check_miner_state(state: bytes) -> None:
    """Raise :class:`UnsafeStateError` unless ``state`` (Drain3's compressed snapshot) decodes
    to data only (see the module docstring)."""
    try:
        tree = json.loads(zlib.decompress(base64.b64decode(state, validate=True)))
    except (binascii.Error, zlib.error, ValueError, RecursionError):
        raise UnsafeStateError(
            "the template miner's state in the store is not a Drain3 snapshot" + _HINT
        ) from None
    stack: list[Any] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                if key.startswith("py/"):
                    if key not in ALLOWED_TAGS:
                        raise _refuse(repr(key))
                    if key == "py/object" and value not in ALLOWED_CLASSES:
                        raise _refuse(f"an object of class {str(value)[:80]!r}")
                    if key == "py/id" and not isinstance(value, int):
                        raise _refuse("a malformed reference")
                else:
                    _check_key(key)
                stack.append(value)
        elif isinstance(node, list):
            stack.extend(node)


__all__ = ["ALLOWED_CLASSES", "UnsafeStateError", "check_miner_state"]
