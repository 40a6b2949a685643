"""API keys of the HTTP API, stored hashed in the store (table ``api_keys``).

A key is ``fc_`` and 48 hex digits (192 random bits), shown once when it is created; the store
keeps its SHA-256 (a fast hash is right for random keys: nothing to guess), the first
characters (to tell keys apart in a listing), its scope and when it was created, last used and
revoked.  Scopes nest: ``admin`` may do everything, ``ingest`` only send events, ``read``
only query.  A key is also the public key of a Sentry DSN (``http://KEY@host:port/1``).

Examples
--------
>>> store = Store(":memory:")
>>> keys = KeyStore(store)
>>> key = keys.create("ci", scope="ingest")
>>> key.startswith("fc_"), len(key)
(True, 51)
>>> keys.authenticate(key)
ApiKey(name='ci', scope='ingest')
>>> keys.authenticate(key).allows("read"), keys.authenticate(key).allows("ingest")
(False, True)
>>> keys.revoke("ci"), keys.authenticate(key)
(True, None)
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Final, Literal

import pandas as pd
from faultcast.ingest.errors import FaultcastError
from faultcast.ingest.store import Store

__all__ = ["SCOPES", "ApiKey", "KeyStore", "hash_key", "lookup"]

Scope = Literal["ingest", "read", "admin"]
#: The scopes, and what each one allows.
SCOPES: Final[dict[str, frozenset[str]]] = {
    "ingest": frozenset({"ingest"}),
    "read": frozenset({"read"}),
    "admin": frozenset({"ingest", "read", "admin"}),
}
_PREFIX = "fc_"


def hash_key(key: str) -> str:
    """The stored form of a key (SHA-256, hex)."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class ApiKey:
    """Who a request's key says it is."""

    name: str
    scope: str

    def allows(self, needed: str) -> bool:
        """Whether this key's scope covers ``needed`` (``ingest``, ``read`` or ``admin``)."""
        return needed in SCOPES.get(self.scope, frozenset())


class KeyStore:
    """Create, list, revoke and check the API keys of one store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def create(self, name: str, scope: str = "ingest") -> str:
        """A new key named ``name`` with ``scope``; returned once, stored only hashed.

        A name in use by a key that is not revoked is refused (revoke it first)."""
        if scope not in SCOPES:
            raise ValueError(f"unknown scope {scope!r}: use one of {', '.join(SCOPES)}")
        if not name or not name.strip() or len(name) > 200:
            raise ValueError("a key needs a name (1 to 200 characters), e.g. checkout-prod")
        key = _PREFIX + secrets.token_hex(24)
        with self.store.writing() as w:
            row = w.execute(
                "SELECT revoked_at IS NULL FROM store.api_keys WHERE name = ?", [name]
            ).fetchall()
            if row and row[0][0]:
                raise FaultcastError(
                    f"a key named {name!r} exists: revoke it first (faultcast keys revoke {name})"
                )
            if row:
                w.execute(
                    "UPDATE store.api_keys SET key_hash = ?, key_prefix = ?, scope = ?, "
                    "created_at = now(), last_used_at = NULL, revoked_at = NULL WHERE name = ?",
                    [hash_key(key), key[:10], scope, name],
                )
            else:
                w.execute(
                    "INSERT INTO store.api_keys VALUES (?, ?, ?, ?, now(), NULL, NULL)",
                    [name, hash_key(key), key[:10], scope],
                )
        return key

    def revoke(self, name: str) -> bool:
        """Revoke the key ``name``; False when there is no such key in use."""
        with self.store.writing() as w:
            done = w.execute(
                "UPDATE store.api_keys SET revoked_at = now() "
                "WHERE name = ? AND revoked_at IS NULL RETURNING name",
                [name],
            ).fetchall()
        return bool(done)

    def list(self) -> pd.DataFrame:
        """Every key (never the key itself): name, scope, key_prefix, created_at,
        last_used_at, revoked_at; newest first."""
        if not self.store.exists() or self.store.schema_version() < 8:
            return pd.DataFrame(
                columns=["name", "scope", "key_prefix", "created_at", "last_used_at", "revoked_at"]
            )
        return self.store.query_df(
            "SELECT name, scope, key_prefix, created_at, last_used_at, revoked_at "
            "FROM store.api_keys ORDER BY created_at DESC, name"
        )

    def active(self) -> dict[str, ApiKey]:
        """The keys in use, by hash (what a server caches to check requests)."""
        if not self.store.exists() or self.store.schema_version() < 8:
            return {}
        rows = self.store.query_df(
            "SELECT key_hash, name, scope FROM store.api_keys WHERE revoked_at IS NULL"
        )
        return {
            h: ApiKey(n, s)
            for h, n, s in zip(rows["key_hash"], rows["name"], rows["scope"], strict=True)
        }

    def authenticate(self, key: str) -> ApiKey | None:
        """The key's name and scope when it is in use, else None."""
        return lookup(self.active(), key)

    def touch(self, names: set[str]) -> None:
        """Record that the keys ``names`` were used (now)."""
        if not names:
            return
        with self.store.writing() as w:
            w.execute(
                "UPDATE store.api_keys SET last_used_at = now() WHERE list_contains(?, name)",
                [sorted(names)],
            )


def lookup(active: dict[str, ApiKey], key: str) -> ApiKey | None:
    """``key``'s entry in ``active`` (from :meth:`KeyStore.active`).  Looked up by its hash,
    so the time taken tells nothing about the stored keys."""
    return active.get(hash_key(key))
