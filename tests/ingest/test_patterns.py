"""Template mining: stable ids across restarts, generalisation keeps the id, the patterns table."""

from __future__ import annotations

from pathlib import Path

import duckdb
from faultcast.ingest.patterns import PatternMiner

import faultcast
from tests.conftest import event


def test_template_ids_are_stable_across_restarts(write_lines, tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    fc = faultcast.connect(db)
    fc.ingest(write_lines([event(i) for i in range(20)], name="a.jsonl"))
    first = fc.events()[["message", "template_id"]]
    fc.close()
    again = faultcast.connect(db)  # a new process would do the same: the state is in the store
    again.ingest(
        write_lines(
            [event(i) for i in range(100, 110)] + [event(1, event="disk full")], name="b.jsonl"
        )
    )
    ev = again.events()
    ids_a = set(first["template_id"])
    assert len(ids_a) == 1
    later = ev[ev["source"].str.endswith("b.jsonl")]
    assert set(later[later["message"] != "disk full"]["template_id"]) == ids_a
    assert later[later["message"] == "disk full"]["template_id"].iloc[0] not in ids_a


def test_generalised_template_keeps_its_id_and_the_change_is_recorded() -> None:
    miner = PatternMiner()
    first, _ = miner.mine(["nightly job on host <*> finished ok"])
    second, changes = miner.mine(["nightly job on host <*> finished late"])
    ((tid, template),) = second.values()
    assert tid == next(iter(first.values()))[0]
    assert template == "nightly job on host <*> finished <*>"
    assert changes and changes[0].old_template == "nightly job on host <*> finished ok"
    restored = PatternMiner(miner.state())
    third, _ = restored.mine(["nightly job on host <*> finished early"])
    assert next(iter(third.values()))[0] == tid


def test_patterns_table_counts_first_and_last_seen(write_lines, tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    fc = faultcast.connect(db)
    path = write_lines([event(i) for i in range(30)] + [event(40, event="disk full")])
    fc.ingest(path)
    fc.ingest(path, from_start=True)  # duplicates do not count twice
    fc.close()
    con = duckdb.connect(str(db), read_only=True)
    rows = con.execute(
        "SELECT template, count, first_seen < last_seen, example FROM patterns ORDER BY count DESC"
    ).fetchall()
    state = con.execute("SELECT clusters FROM miner_state").fetchall()
    con.close()
    assert (
        rows[0][0] == "request <*> to db-<*>:<*> timed out after <*> ms"
        and rows[0][1] == 30
        and rows[0][2]
    )
    assert rows[1][:2] == ("disk full", 1) and rows[1][3] == "disk full"
    assert state == [(2,)]
