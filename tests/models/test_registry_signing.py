"""Model blobs need proof of origin: a pickle put in the store by someone without the model key
(with its SHA-256 fixed) is never unpickled; the previous good version answers; resign works."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import pickle
import stat
import warnings
from pathlib import Path
from typing import Any

import duckdb
import pytest
from faultcast.ingest import Store
from faultcast.models import Registry, RegistryWarning, UntrustedModelError
from faultcast.models._signing import KEY_ENV, ModelKeyError, key_path, model_key, sign, verify
from faultcast.models.registry import _CACHE
from typer.testing import CliRunner

from faultcast.cli import app


class Payload:
    """Unpickling this creates ``marker``: proof that the blob ran code."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (str(self.marker), "w"))


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    _CACHE.clear()  # each test loads from its own store, never from a model cached before


@pytest.fixture
def two_versions(tmp_path: Path) -> tuple[Store, Registry]:
    store = Store(tmp_path / "store.duckdb")
    registry = Registry(store)
    assert registry.save("demo", {"weights": 1}) == 1
    assert registry.save("demo", {"weights": 2}) == 2
    return store, registry


def _put_blob(path: str, name: str, version: int, blob: bytes, signature: str | None) -> None:
    """What an attacker with write access to the file does: a new blob, its SHA-256 fixed."""
    with duckdb.connect(path) as con:
        con.execute(
            "UPDATE model_registry SET blob = ?, sha256 = ?, signature = ? WHERE name = ? AND version = ?",
            [blob, hashlib.sha256(blob).hexdigest(), signature, name, version],
        )


def _signature(path: str, name: str, version: int) -> str | None:
    with duckdb.connect(path, read_only=True) as con:
        rows = con.execute(
            "SELECT signature FROM model_registry WHERE name = ? AND version = ?", [name, version]
        ).fetchall()
    return rows[0][0]


def test_a_saved_version_is_signed_and_loads(two_versions: tuple[Store, Registry]) -> None:
    store, registry = two_versions
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no fallback, no warning
        loaded = registry.load("demo")
    assert (loaded.version, loaded.model) == (2, {"weights": 2})
    assert len(_signature(store.path, "demo", 2) or "") == 64


@pytest.mark.parametrize(
    "forge",
    ["unsigned", "signed_with_another_key", "signature_of_another_version"],
)
def test_a_forged_pickle_is_never_unpickled_and_the_previous_version_answers(
    two_versions: tuple[Store, Registry], tmp_path: Path, forge: str
) -> None:
    store, registry = two_versions
    marker = tmp_path / "pwned"
    evil = pickle.dumps(Payload(marker))
    signature = {
        "unsigned": None,
        "signed_with_another_key": sign("demo", 2, evil, b"attacker-key-" * 4),
        "signature_of_another_version": _signature(store.path, "demo", 1),
    }[forge]
    _put_blob(store.path, "demo", 2, evil, signature)
    with pytest.warns(RegistryWarning) as caught:
        loaded = registry.load("demo")
    assert not marker.exists(), "the forged pickle ran"
    assert (loaded.version, loaded.model) == (1, {"weights": 1})
    message = str(caught[0].message)
    assert "version 2" in message and "not signed" in message
    assert f"faultcast models resign --db {store.path} --name demo --version 2" in message


def test_a_blob_moved_from_another_version_with_its_signature_is_refused(
    two_versions: tuple[Store, Registry],
) -> None:
    store, registry = two_versions
    with duckdb.connect(store.path, read_only=True) as con:
        blob, digest, signature = con.execute(
            "SELECT blob, sha256, signature FROM model_registry WHERE version = 1"
        ).fetchall()[0]
    with duckdb.connect(store.path) as con:  # version 1's signed blob replayed as version 2
        con.execute(
            "UPDATE model_registry SET blob = ?, sha256 = ?, signature = ? WHERE version = 2",
            [blob, digest, signature],
        )
    with pytest.warns(RegistryWarning, match="version 2"):
        assert registry.load("demo").version == 1


def test_no_signed_version_at_all_raises_and_learning_does_not_start_over(
    two_versions: tuple[Store, Registry], tmp_path: Path
) -> None:
    store, registry = two_versions
    marker = tmp_path / "pwned"
    for version in (1, 2):
        _put_blob(store.path, "demo", version, pickle.dumps(Payload(marker)), None)
    with pytest.warns(RegistryWarning), pytest.raises(UntrustedModelError, match="resign"):
        registry.load("demo")
    assert not marker.exists()


def test_learn_refuses_to_overwrite_an_unsigned_state(tmp_path: Path) -> None:
    from faultcast.models import UNIT_MODEL, learn

    store = Store(tmp_path / "store.duckdb")
    Registry(store).save(UNIT_MODEL, {"not": "a state"})
    with duckdb.connect(store.path) as con:
        con.execute("UPDATE model_registry SET signature = NULL")
    with pytest.warns(RegistryWarning), pytest.raises(UntrustedModelError):
        learn(store)
    assert len(Registry(store).versions(UNIT_MODEL)) == 1  # nothing written over it


def test_resign_signs_what_the_user_trusts(two_versions: tuple[Store, Registry]) -> None:
    store, registry = two_versions
    with duckdb.connect(store.path) as con:  # a store from before signatures
        con.execute("UPDATE model_registry SET signature = NULL")
    assert registry.unsigned() == [("demo", 1), ("demo", 2)]
    assert registry.resign("demo", 1) == [("demo", 1)]
    assert registry.unsigned("demo") == [("demo", 2)]
    with pytest.warns(RegistryWarning, match="version 2"):
        assert registry.load("demo").version == 1
    assert registry.resign() == [("demo", 1), ("demo", 2)]
    _CACHE.clear()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert registry.load("demo").model == {"weights": 2}


def test_resign_leaves_a_corrupt_blob_unsigned(two_versions: tuple[Store, Registry]) -> None:
    store, registry = two_versions
    with duckdb.connect(store.path) as con:
        con.execute("UPDATE model_registry SET signature = NULL, sha256 = 'x' WHERE version = 2")
    assert registry.resign("demo") == [("demo", 1)]


def test_models_resign_command_asks_first(two_versions: tuple[Store, Registry]) -> None:
    store, registry = two_versions
    with duckdb.connect(store.path) as con:
        con.execute("UPDATE model_registry SET signature = NULL")
    runner = CliRunner()
    refused = runner.invoke(app, ["models", "resign", "--db", store.path], input="n\n")
    assert refused.exit_code == 1 and "trust" in refused.stderr
    assert registry.unsigned() == [("demo", 1), ("demo", 2)]
    agreed = runner.invoke(
        app, ["models", "resign", "--db", store.path, "--version", "2"], input="y\n"
    )
    assert agreed.exit_code == 0, agreed.stderr
    assert "signed 1 version" in agreed.stdout
    assert registry.unsigned() == [("demo", 1)]
    forced = runner.invoke(app, ["models", "resign", "--db", store.path, "--yes"])
    assert forced.exit_code == 0 and registry.unsigned() == []
    again = runner.invoke(app, ["models", "resign", "--db", store.path, "--yes"])
    assert again.exit_code == 0 and "nothing to re-sign" in again.stdout


def test_a_store_from_before_migration_7_reads_as_unsigned(tmp_path: Path) -> None:
    store = Store(tmp_path / "store.duckdb")
    registry = Registry(store)
    registry.save("demo", {"weights": 1})
    with duckdb.connect(store.path) as con:  # schema 6: no signature column
        con.execute("ALTER TABLE model_registry DROP COLUMN signature")
        con.execute("DELETE FROM schema_version WHERE version >= 7")
    with pytest.warns(RegistryWarning), pytest.raises(UntrustedModelError):
        registry.load("demo")
    assert registry.resign() == [("demo", 1)]  # migrates, then signs
    assert registry.load("demo").model == {"weights": 1}


# ---------------------------------------------------------------------------- the key
@pytest.fixture
def key_file_only(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No key in the environment: the key file under a temporary XDG_CONFIG_HOME."""
    monkeypatch.delenv(KEY_ENV, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    return tmp_path / "config" / "faultcast" / "model.key"


def test_the_key_file_is_made_once_with_mode_0600(key_file_only: Path) -> None:
    assert key_path() == key_file_only and not key_file_only.exists()
    key = model_key()
    assert key_file_only.exists() and stat.S_IMODE(key_file_only.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_file_only.parent.stat().st_mode) == 0o700
    assert model_key() == key and len(key) == 64
    assert [p.name for p in key_file_only.parent.iterdir()] == ["model.key"]  # no temp left


def test_without_xdg_the_key_is_under_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert key_path() == tmp_path / ".config" / "faultcast" / "model.key"


def test_a_key_file_others_can_read_is_refused(key_file_only: Path) -> None:
    model_key()
    os.chmod(key_file_only, 0o644)
    with pytest.raises(ModelKeyError, match="chmod 600"):
        model_key()


def test_the_environment_key_wins_and_must_be_long(
    key_file_only: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, "s" * 40)
    assert model_key() == b"s" * 40 and not key_file_only.exists()
    monkeypatch.setenv(KEY_ENV, "short")
    with pytest.raises(ModelKeyError, match="32 characters"):
        model_key()


def test_a_version_signed_under_another_key_is_refused(
    two_versions: tuple[Store, Registry], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store copied from another machine (another key) loads only after resign."""
    _store, registry = two_versions
    monkeypatch.setenv(KEY_ENV, "another machine's key, long enough to use")
    with pytest.warns(RegistryWarning), pytest.raises(UntrustedModelError):
        registry.load("demo")
    assert registry.resign() == [("demo", 1), ("demo", 2)]
    assert registry.load("demo").version == 2


def test_a_signature_covers_name_version_blob_and_key() -> None:
    key = b"k" * 32
    good = sign("m", 1, b"blob", key)
    assert hmac.compare_digest(good, sign("m", 1, b"blob", key))
    assert verify("m", 1, b"blob", good, key)
    for name, version, blob, other_key in (
        ("n", 1, b"blob", key),
        ("m", 2, b"blob", key),
        ("m", 1, b"blob!", key),
        ("m", 1, b"blob", b"j" * 32),
    ):
        assert not verify(name, version, blob, good, other_key)
    assert not verify("m", 1, b"blob", "", key) and not verify("m", 1, b"blob", good.upper(), key)


def test_models_lists_which_versions_are_signed(two_versions: tuple[Store, Registry]) -> None:
    store, _ = two_versions
    with duckdb.connect(store.path) as con:
        con.execute("UPDATE model_registry SET signature = NULL WHERE version = 1")
    result = CliRunner().invoke(app, ["models", "--db", store.path, "--json"])
    assert result.exit_code == 0, result.stderr
    signed = {row["version"]: row["signed"] for row in json.loads(result.stdout)["models"]}
    assert signed == {1: False, 2: True}
