"""The model registry: every model version, its metrics and its status, stored in the store.

A version is a pickled blob with its SHA-256 and an HMAC-SHA256 signature made with a key
kept outside the store (:mod:`faultcast.models._signing`).  The SHA-256 detects a corrupt
blob; the signature proves the blob was written by someone holding the key, so a blob put in
the store by anyone else (with its SHA-256 fixed) is never unpickled.  A version that is
missing, corrupt, unsigned or wrongly signed is skipped by :meth:`Registry.load` with a
warning (which says how to re-sign: :meth:`Registry.resign`, ``faultcast models resign``),
and the previous good version answers.  One version per name is ``production``;
:meth:`promote` and :meth:`rollback` move it.  Loaded models are cached per process by
(store, name, version), so a process unpickles a model once.

Examples
--------
>>> from faultcast.ingest import Store
>>> registry = Registry(Store(":memory:"))
>>> registry.save("demo", {"weights": [1, 2]}, metrics={"f1": 0.5})
1
>>> registry.load("demo").model
{'weights': [1, 2]}
>>> list(registry.versions()["status"])
['production']
"""

from __future__ import annotations

import hashlib
import json
import pickle
import threading
import warnings
from dataclasses import dataclass
from typing import Any

import pandas as pd
from faultcast.ingest import Store
from faultcast.ingest._log import get_logger
from faultcast.ingest.errors import FaultcastError
from faultcast.ingest.opening import writable
from faultcast.ingest.store import StoreReader
from faultcast.models._signing import model_key, sign, verify

log = get_logger(__name__)


class ModelNotFoundError(FaultcastError, LookupError):  # type: ignore[misc,unused-ignore]
    """No usable version of a model is in the registry."""


class RegistryWarning(UserWarning):
    """A model version could not be loaded and an older one was used."""


class UntrustedModelError(ModelNotFoundError):
    """Versions of the model exist but none passes the signature check (none was unpickled).

    Raised rather than starting over, so a store from before signatures (or whose key was
    replaced) keeps its learned state until the user re-signs it or chooses to start anew.
    """


@dataclass(frozen=True)
class LoadedModel:
    name: str
    version: int
    model: Any
    metrics: dict[str, Any]
    params: dict[str, Any]


#: The schema version that added the registry (a store older than that has no models yet).
REGISTRY_SCHEMA = 4

_CACHE: dict[tuple[str, str, int], LoadedModel] = {}
_CACHE_LOCK = threading.Lock()


def column_exists(con: Any, table: str, column: str) -> bool:
    """Whether the attached store's table ``table`` has ``column`` (an older store may not)."""
    return bool(
        con.execute(
            """SELECT count(*) FROM duckdb_columns()
               WHERE database_name = 'store' AND table_name = ? AND column_name = ?""",
            [table, column],
        ).fetchall()[0][0]
    )


def resign_hint(path: str, name: str, version: int | None = None) -> str:
    """The command that re-signs a model's versions, for messages."""
    which = f" --version {version}" if version is not None else ""
    return f"faultcast models resign --db {path} --name {name}{which}"


def table_exists(con: Any, name: str) -> bool:
    """Whether the attached store has table ``name`` (an older store may not yet)."""
    return bool(
        con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE database_name = 'store' AND table_name = ?",
            [name],
        ).fetchall()[0][0]
    )


class Registry:
    """Model versions in a store's ``model_registry`` table."""

    def __init__(self, store: StoreReader) -> None:
        self.store = store

    def _writer(self) -> Store:
        """The store to write versions into (shards read as one are never written)."""
        return writable(self.store, "keep models")

    def save(
        self,
        name: str,
        model: Any,
        metrics: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        status: str = "production",
        con: Any = None,
    ) -> int:
        """Store a new version (``production`` by default, demoting the previous one); its number.

        Pass ``con`` (a connection from ``store.writing()``) to save inside a caller's transaction.
        """
        blob = pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)
        digest = hashlib.sha256(blob).hexdigest()
        key = model_key()  # before the transaction: a missing key fails with nothing written

        def write(c: Any) -> int:
            version = int(
                c.execute(
                    "SELECT coalesce(max(version), 0) + 1 FROM store.model_registry WHERE name = ?",
                    [name],
                ).fetchall()[0][0]
            )
            if status == "production":
                c.execute(
                    "UPDATE store.model_registry SET status = 'archived' WHERE name = ? AND status = 'production'",
                    [name],
                )
            c.execute(
                """INSERT INTO store.model_registry
                   (name, version, created_at, status, blob, sha256, metrics, params, signature)
                   VALUES (?, ?, now(), ?, ?, ?, ?, ?, ?)""",
                [
                    name,
                    version,
                    status,
                    blob,
                    digest,
                    json.dumps(metrics or {}, default=str),
                    json.dumps(params or {}, default=str),
                    sign(name, version, blob, key),
                ],
            )
            return version

        if con is not None:
            version = write(con)
        else:
            with self._writer().writing() as c:
                version = write(c)
        log.debug("registry.saved", name=name, version=version, status=status, bytes=len(blob))
        return version

    def _has_table(self) -> bool:
        return self.store.exists() and self.store.schema_version() >= REGISTRY_SCHEMA

    def versions(self, name: str | None = None) -> pd.DataFrame:
        """Versions (newest first): name, version, created_at, status, bytes, metrics, params."""
        if not self._has_table():
            return pd.DataFrame(
                columns=["name", "version", "created_at", "status", "bytes", "metrics", "params"]
            )
        return self.store.query_df(
            """SELECT name, version, created_at, status, octet_length(blob) AS bytes, metrics, params
               FROM store.model_registry WHERE ? IS NULL OR name = ?
               ORDER BY name, version DESC""",
            [name, name],
        )

    def _rows(self, name: str) -> list[tuple[Any, ...]]:
        if not self.store.exists():
            return []
        with self.store.reading() as con:
            if not table_exists(con, "model_registry"):
                return []
            signature = "signature" if column_exists(con, "model_registry", "signature") else "NULL"
            return con.execute(
                f"""SELECT version, status, sha256, metrics, params, {signature}
                   FROM store.model_registry
                   WHERE name = ? ORDER BY (status = 'production') DESC, version DESC""",
                [name],
            ).fetchall()

    def _blob(self, name: str, version: int) -> bytes | None:
        with self.store.reading() as con:
            rows = con.execute(
                "SELECT blob FROM store.model_registry WHERE name = ? AND version = ?",
                [name, version],
            ).fetchall()
        return rows[0][0] if rows and rows[0][0] is not None else None

    def load(self, name: str, version: int | None = None) -> LoadedModel:
        """The production version (or ``version``), falling back to older good versions.

        A version whose blob is missing, does not match its SHA-256, is not signed with this
        machine's model key (:mod:`faultcast.models._signing`) or does not unpickle is skipped
        with a :class:`RegistryWarning` naming it; a blob that fails the signature check is
        never unpickled.  When versions exist but none is signed, :class:`UntrustedModelError`.
        """
        rows = self._rows(name)
        if version is not None:
            rows = [r for r in rows if r[0] == version] + [r for r in rows if r[0] < version]
        else:
            # production first, then every other version newest first
            rows = rows[:1] + sorted(rows[1:], key=lambda r: -int(r[0]))
        if not rows:
            raise ModelNotFoundError(
                f"no model {name!r} in the registry of {self.store.path}: run `faultcast learn` first"
            )
        problems = []
        unsigned = []
        signing_key: bytes | None = None
        for v, _status, digest, metrics, params, signature in rows:
            key = (self.store.path, name, int(v))
            with _CACHE_LOCK:
                cached = _CACHE.get(key)
            if cached is not None and not self.store.is_memory:
                return cached
            blob = self._blob(name, int(v))
            reason = None
            if blob is None:
                reason = "its blob is missing"
            elif hashlib.sha256(blob).hexdigest() != digest:
                reason = "its blob does not match its SHA-256 (corrupt)"
            else:
                signing_key = signing_key or model_key()
                if not verify(name, int(v), blob, signature, signing_key):
                    unsigned.append(int(v))
                    reason = (
                        "its blob is not signed with this machine's model key (written by "
                        "someone without the key, or before faultcast signed models), so it "
                        "was not loaded; if you trust everyone who can write this store, "
                        f"re-sign it: `{resign_hint(self.store.path, name, int(v))}`"
                    )
                else:
                    try:
                        model = pickle.loads(blob)  # noqa: S301 - signed by our key above
                    except Exception as e:  # noqa: BLE001 - any unpickling failure: unusable
                        reason = f"its blob does not load ({type(e).__name__}: {e})"
            if reason is not None:
                problems.append(f"version {v}: {reason}")
                warnings.warn(
                    f"model {name!r} version {v} is unusable: {reason}; trying an older version",
                    RegistryWarning,
                    stacklevel=2,
                )
                log.warning("registry.fallback", name=name, version=int(v), reason=reason)
                continue
            loaded = LoadedModel(
                name, int(v), model, json.loads(metrics or "{}"), json.loads(params or "{}")
            )
            with _CACHE_LOCK:
                _CACHE[key] = loaded
            return loaded
        if unsigned:
            raise UntrustedModelError(
                f"model {name!r} in {self.store.path} has no version signed with this machine's "
                f"model key (unsigned: {', '.join(map(str, unsigned))}); none was loaded.  If "
                f"you trust everyone who can write this store, re-sign them: "
                f"`{resign_hint(self.store.path, name)}`"
            )
        raise ModelNotFoundError(f"no usable version of model {name!r}: " + "; ".join(problems))

    def unsigned(self, name: str | None = None) -> list[tuple[str, int]]:
        """The (name, version) pairs whose blob is present, intact and not signed with this
        machine's model key, oldest first."""
        if not self._has_table():
            return []
        with self.store.reading() as con:
            signature = "signature" if column_exists(con, "model_registry", "signature") else "NULL"
            rows = con.execute(
                f"""SELECT name, version, blob, sha256, {signature} FROM store.model_registry
                   WHERE (? IS NULL OR name = ?) AND blob IS NOT NULL ORDER BY name, version""",
                [name, name],
            ).fetchall()
        key = model_key()
        return [
            (n, int(v))
            for n, v, blob, digest, sig in rows
            if hashlib.sha256(blob).hexdigest() == digest and not verify(n, int(v), blob, sig, key)
        ]

    def resign(self, name: str | None = None, version: int | None = None) -> list[tuple[str, int]]:
        """Sign the present, intact blobs (of ``name``, or every model; of ``version``, or every
        version) with this machine's model key; the (name, version) pairs signed.

        Only for a store whose writers you trust: a signed blob is unpickled, and unpickling
        runs code.  Blobs whose SHA-256 does not match (corrupt) are left unsigned.
        """
        key = model_key()
        signed: list[tuple[str, int]] = []
        with self._writer().writing() as con:  # migrates: adds the signature column
            rows = con.execute(
                """SELECT name, version, blob, sha256 FROM store.model_registry
                   WHERE (? IS NULL OR name = ?) AND (? IS NULL OR version = ?)
                     AND blob IS NOT NULL ORDER BY name, version""",
                [name, name, version, version],
            ).fetchall()
            for n, v, blob, digest in rows:
                if hashlib.sha256(blob).hexdigest() != digest:
                    log.warning("registry.resign_skipped_corrupt", name=n, version=int(v))
                    continue
                con.execute(
                    "UPDATE store.model_registry SET signature = ? WHERE name = ? AND version = ?",
                    [sign(n, int(v), blob, key), n, int(v)],
                )
                signed.append((n, int(v)))
        if not self.store.is_memory:
            self._writer().checkpoint()
        log.info("registry.resigned", versions=len(signed))
        return signed

    def prune(self, name: str, keep: int, con: Any) -> None:
        """Drop the blobs of archived versions older than the newest ``keep`` (metrics stay),
        inside the caller's write transaction ``con``."""
        con.execute(
            """UPDATE store.model_registry SET blob = NULL
               WHERE name = ? AND status = 'archived'
                 AND version <= (SELECT max(version) FROM store.model_registry WHERE name = ?) - ?""",
            [name, name, keep],
        )

    def promote(self, name: str, version: int) -> None:
        """Make ``version`` the production version of ``name``."""
        with self._writer().writing() as con:
            found = con.execute(
                "SELECT count(*) FROM store.model_registry WHERE name = ? AND version = ?",
                [name, version],
            ).fetchall()[0][0]
            if not found:
                raise ModelNotFoundError(f"model {name!r} has no version {version}")
            con.execute(
                "UPDATE store.model_registry SET status = 'archived' WHERE name = ? AND status = 'production'",
                [name],
            )
            con.execute(
                "UPDATE store.model_registry SET status = 'production' WHERE name = ? AND version = ?",
                [name, version],
            )

    def rollback(self, name: str) -> int:
        """Make the newest version older than the production one production; its number."""
        rows = self._rows(name)
        current = next((int(r[0]) for r in rows if r[1] == "production"), None)
        if current is None:
            raise ModelNotFoundError(f"model {name!r} has no production version to roll back from")
        older = sorted((int(r[0]) for r in rows if int(r[0]) < current), reverse=True)
        if not older:
            raise ModelNotFoundError(f"model {name!r} has no version older than {current}")
        self.promote(name, older[0])
        return older[0]
