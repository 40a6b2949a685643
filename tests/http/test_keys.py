"""``faultcast keys``: create (the key printed once, stored hashed), list, revoke."""

from __future__ import annotations

import json
from pathlib import Path

from faultcast.ingest import Store
from faultcast.ingest.keys import KeyStore, hash_key
from typer.testing import CliRunner

from faultcast.cli import app


def keys(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["keys", *args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_create_list_revoke(tmp_path: Path) -> None:
    db = str(tmp_path / "k.duckdb")
    code, out, _ = keys("create", "checkout", "--scope", "read", "--json", "--db", db)
    assert code == 0
    key = json.loads(out)["key"]
    code, _, err = keys("create", "checkout", "--db", db)
    assert code == 1 and "revoke it first" in err
    assert keys("create", "x", "--scope", "root", "--db", db)[0] == 1
    listed = json.loads(keys("list", "--json", "--db", db)[1])["keys"]
    assert [(k["name"], k["scope"], k["revoked_at"]) for k in listed] == [
        ("checkout", "read", None)
    ]
    assert key not in json.dumps(listed) and key[:10] == listed[0]["key_prefix"]
    with Store(db) as store:
        assert KeyStore(store).authenticate(key).scope == "read"  # type: ignore[union-attr]
        assert set(KeyStore(store).active()) == {hash_key(key)}  # stored as its hash
    wal = Path(db + ".wal")
    raw = Path(db).read_bytes() + (wal.read_bytes() if wal.exists() else b"")
    assert key.encode() not in raw
    assert keys("revoke", "checkout", "--db", db)[0] == 0
    assert keys("revoke", "checkout", "--db", db)[0] == 1
    with Store(db) as store:
        assert KeyStore(store).authenticate(key) is None
    # The name is free again once revoked.
    new = json.loads(keys("create", "checkout", "--json", "--db", db)[1])["key"]
    assert new != key
