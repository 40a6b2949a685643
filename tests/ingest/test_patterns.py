"""Template mining: stable ids across restarts, generalisation keeps the id, the patterns table."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from faultcast.ingest.patterns import PatternMiner

import faultcast
from tests.conftest import event


def test_plain_words_never_become_variables() -> None:
    miner = PatternMiner()
    found, _ = miner.mine(
        ["Starting TrustedInstaller initialization.", "Starting TrustedInstaller finalization."]
    )
    assert len({tid for tid, _ in found.values()}) == 2


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
    first, _ = miner.mine(["nightly job on host <*> finished by worker-a1"])
    second, changes = miner.mine(["nightly job on host <*> finished by worker-b7"])
    ((tid, template),) = second.values()
    assert tid == next(iter(first.values()))[0]
    assert template == "nightly job on host <*> finished by <*>"
    assert changes and changes[0].old_template == "nightly job on host <*> finished by worker-a1"
    restored = PatternMiner(miner.state())
    third, _ = restored.mine(["nightly job on host <*> finished by worker-c3"])
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


def _at(minute: int, text: str, i: int) -> dict:
    return {
        "event": text,
        "level": "error",
        "timestamp": f"2026-01-01T{minute // 60:02d}:{minute % 60:02d}:{i % 60:02d}Z",
    }


def test_new_and_surging_patterns(write_lines, tmp_path: Path) -> None:
    lines = []
    for m in range(0, 600, 10):  # a steady pattern: one every 10 minutes for 10 hours
        lines.append(_at(m, f"cache miss for key k{m}", m))
    for m in range(0, 540, 30):  # a pattern with a low baseline that jumps in the last hour
        lines.append(_at(m, f"timeout calling payments after {m} ms", m))
    for i in range(40):
        lines.append(_at(545 + i, f"timeout calling payments after {i} ms", i))
    for i in range(6):  # a pattern never seen before the last hour
        lines.append(_at(590, f"disk /dev/sd{i} read-only", i))
    lines.sort(key=lambda d: d["timestamp"])
    fc = faultcast.connect(tmp_path / "s.duckdb")
    fc.ingest(write_lines(lines))
    surging = fc.patterns(surging=True, window="1h")
    assert surging["template"].tolist() == ["timeout calling payments after <*> ms"]
    assert surging["recent_count"][0] == 40 and surging["surge_ratio"][0] > 10
    new = fc.patterns(new=True, window="1h")
    assert new["template"].tolist() == ["disk <*> read-only"]
    everything = fc.patterns(window="1h").set_index("template")
    assert not everything.loc["cache miss for key <*>", "is_surging"]
    assert not everything.loc["cache miss for key <*>", "is_new"]


def test_extra_masks_make_more_parts_variable(write_lines, tmp_path: Path) -> None:
    lines = [
        {"event": f"order ORD-{c}{c} shipped", "timestamp": f"2026-01-01T00:00:0{i}Z"}
        for i, c in enumerate("ABC")
    ]
    plain = faultcast.connect(tmp_path / "a.duckdb")
    plain.ingest(write_lines(lines, name="a.jsonl"))
    masked = faultcast.connect(tmp_path / "b.duckdb", masks=[r"ORD-[A-Z]+"])
    masked.ingest(write_lines(lines, name="b.jsonl"))
    assert masked.events()["template"].nunique() == 1
    assert masked.events()["template"][0] == "order <*> shipped"
    assert plain.events()["template"].nunique() >= 1


def test_a_long_lived_writer_sees_templates_another_writer_stored(tmp_path: Path) -> None:
    """A follower keeps its miner for hours; meanwhile another ingest stores new templates."""
    import json

    from faultcast.ingest import Ingestor, Store

    def write(name: str, word: str, shapes: range) -> Path:
        path = tmp_path / name
        with open(path, "w") as f:
            for i, shape in enumerate(list(shapes) * 3):
                line = {
                    "event": f"{word} step{shape} finished",
                    "timestamp": f"2026-01-01T00:00:{i:02d}Z",
                }
                f.write(json.dumps(line) + "\n")
        return path

    store = Store(tmp_path / "s.duckdb")
    follower, other = Ingestor(store), Ingestor(store)
    follower.run([write("a1.jsonl", "alpha", range(0, 3))])
    other.run([write("b.jsonl", "beta", range(0, 3))])
    follower.run([write("g.jsonl", "gamma", range(0, 3))])
    mixed = store.query_df(
        "SELECT template_id FROM store.events GROUP BY template_id "
        "HAVING count(DISTINCT split_part(message, ' ', 1)) > 1"
    )
    assert mixed.empty, mixed
    assert store.query_df("SELECT count(DISTINCT template_id) AS n FROM store.events")["n"][0] == 3


@pytest.mark.slow
def test_writers_taking_turns_never_share_a_template_id(tmp_path: Path) -> None:
    import json
    import os
    import subprocess
    import sys

    db = tmp_path / "s.duckdb"
    paths = []
    for word in ("alpha", "beta"):
        path = tmp_path / f"{word}.jsonl"
        with open(path, "w") as f:
            for i in range(4000):
                shape = i % 7
                f.write(
                    json.dumps(
                        {
                            "event": f"{word} step{shape} took {i} ms on node {i % 5}",
                            "timestamp": f"2026-01-01T00:{(i // 60) % 60:02d}:{i % 60:02d}Z",
                        }
                    )
                    + "\n"
                )
        paths.append(path)
    env = dict(os.environ, FAULTCAST_CHUNK_BYTES="8192")  # many small commits, interleaved
    procs = [
        subprocess.Popen([sys.executable, "-m", "faultcast", "ingest", str(p), "--db", str(db), "--json"],
                         env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for p in paths
    ]  # fmt: skip
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err.decode()
    con = duckdb.connect(str(db), read_only=True)
    total = con.execute("SELECT count(*) FROM events").fetchall()[0][0]
    mixed = con.execute(
        "SELECT template_id FROM events GROUP BY template_id "
        "HAVING count(DISTINCT split_part(message, ' ', 1)) > 1"
    ).fetchall()
    con.close()
    assert total == 8000
    assert mixed == []  # no id stands for an alpha template and a beta template
