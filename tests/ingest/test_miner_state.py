"""The template miner's state in the store is data only: a jsonpickle payload put there by
someone who can write the file never runs when the next ingest loads the state."""

from __future__ import annotations

import base64
import json
import shutil
import zlib
from pathlib import Path
from typing import Any

import duckdb
import pytest
from faultcast.ingest import Store
from faultcast.ingest._miner_state import UnsafeStateError, check_miner_state
from faultcast.ingest.patterns import _MAGIC, PatternMiner

import faultcast
from tests.conftest import event


def _drain_part(state: bytes) -> bytes:
    """Drain3's snapshot inside the miner's stored state (its own splits are plain JSON)."""
    assert state.startswith(_MAGIC)
    return str(json.loads(zlib.decompress(state[len(_MAGIC) :]))["drain"]).encode("ascii")


def _pack(tree: Any, like: bytes) -> bytes:
    """``tree`` as Drain3's snapshot, wrapped as the stored state ``like`` is."""
    drain = base64.b64encode(zlib.compress(json.dumps(tree).encode())).decode("ascii")
    data = json.loads(zlib.decompress(like[len(_MAGIC) :]))
    data["drain"] = drain
    return _MAGIC + zlib.compress(json.dumps(data).encode())


def _unpack(state: bytes) -> Any:
    return json.loads(zlib.decompress(base64.b64decode(_drain_part(state))))


def _payload(marker: Path) -> dict[str, Any]:
    """jsonpickle for ``open(marker, "w")``: loading it creates the file."""
    return {"py/reduce": [{"py/function": "builtins.open"}, {"py/tuple": [str(marker), "w"]}]}


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store after one ingest (tests copy it)."""
    folder = tmp_path_factory.mktemp("miner")
    source = folder / "events.jsonl"
    source.write_text("".join(json.dumps(event(i)) + "\n" for i in range(20)))
    db = folder / "store.duckdb"
    with faultcast.connect(db) as fc:
        assert fc.ingest(source).stored == 20
    Store(db).checkpoint()
    return db


@pytest.fixture
def mined(ingested: Path, tmp_path: Path) -> tuple[Path, bytes]:
    """A copy of the store, and its miner's state."""
    db = tmp_path / "store.duckdb"
    shutil.copy(ingested, db)
    with duckdb.connect(str(db), read_only=True) as con:
        state = bytes(con.execute("SELECT state FROM miner_state").fetchall()[0][0])
    return db, state


def test_a_real_state_passes_and_loads(mined: tuple[Path, bytes]) -> None:
    _, state = mined
    check_miner_state(_drain_part(state))
    assert PatternMiner(state).clusters >= 1


def _forgeries(tree: dict[str, Any], marker: Path) -> dict[str, Any]:
    clusters = tree["py/state"]["id_to_cluster"]
    first = next(iter(clusters))
    top = _payload(marker)
    nested = json.loads(json.dumps(tree))
    nested["py/state"]["id_to_cluster"][first] = _payload(marker)
    in_key = json.loads(json.dumps(tree))
    in_key["py/state"]["id_to_cluster"]["json://" + json.dumps(_payload(marker))] = 1
    other_class = json.loads(json.dumps(tree))
    other_class["py/state"]["profiler"] = {"py/object": "subprocess.Popen", "py/state": {}}
    return {"top": top, "nested": nested, "in_key": in_key, "other_class": other_class}


@pytest.mark.parametrize("where", ["top", "nested", "in_key", "other_class"])
def test_a_forged_state_is_refused_before_it_runs(
    mined: tuple[Path, bytes], tmp_path: Path, write_lines, where: str
) -> None:
    db, state = mined
    marker = tmp_path / "pwned"
    forged = _pack(_forgeries(_unpack(state), marker)[where], like=state)
    with duckdb.connect(str(db)) as con:
        con.execute("UPDATE miner_state SET state = ?, updated_at = now()", [forged])
    more = write_lines([event(i) for i in range(20, 30)], name="more.jsonl")
    with faultcast.connect(db) as fc, pytest.raises(UnsafeStateError, match="miner_state"):
        fc.ingest(more)
    assert not marker.exists(), "the forged miner state ran"
    with pytest.raises(UnsafeStateError):
        PatternMiner(forged)
    assert not marker.exists()


def test_a_state_that_is_not_a_snapshot_is_refused() -> None:
    with pytest.raises(UnsafeStateError, match="not a Drain3 snapshot"):
        check_miner_state(b"not base64 at all!")


def test_a_forged_state_in_the_format_before_the_split_is_refused(
    mined: tuple[Path, bytes], tmp_path: Path
) -> None:
    """A bare Drain3 snapshot (how states were stored before 2026-11-30) is checked too."""
    _, state = mined
    marker = tmp_path / "pwned"
    legacy = base64.b64encode(zlib.compress(json.dumps(_payload(marker)).encode()))
    with pytest.raises(UnsafeStateError):
        PatternMiner(legacy)
    assert not marker.exists()
