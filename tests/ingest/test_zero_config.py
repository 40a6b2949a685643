"""Zero-config text ingest: ``--format text`` without ``--log-format`` or a time option —
the layout detected, the time inferred, levels and categories inferred from the message."""

from __future__ import annotations

import json
import os
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import structlog
from faultcast.ingest import IngestError
from faultcast.ingest.layouts import detect, learn, sample_lines
from typer.testing import CliRunner

import faultcast
from faultcast.cli import app
from tests.conftest import SHARED_DATA

DEV_SYSTEMS = ("HDFS", "Apache", "OpenSSH", "Zookeeper", "Spark", "Linux", "Android", "Windows")


@pytest.fixture(scope="module")
def con() -> duckdb.DuckDBPyConnection:
    c = duckdb.connect()
    c.execute("SET TimeZone = 'UTC'")
    return c


@pytest.mark.parametrize("system", DEV_SYSTEMS)
def test_every_dev_log_ingests_with_no_option(tmp_path: Path, system: str) -> None:
    path = SHARED_DATA / "loghub" / system / f"{system}_2k.log"
    if not path.exists():
        pytest.skip(f"{path} is absent: the loghub DEV data is not checked out beside this repo")
    fc = faultcast.connect(tmp_path / "s.duckdb")
    report = fc.ingest(path, format="text")
    n_lines = len(path.read_bytes().splitlines())
    assert (report.read, report.stored, report.quarantined) == (n_lines, n_lines, 0)
    assert report.duplicates == 0 and report.continuations == 0 and report.balanced
    (chosen,) = report.layouts.values()
    assert chosen["time"]["fields"]
    events = fc.events(limit=n_lines)
    assert len(events) == n_lines and events["ts"].notna().all()
    assert events["source_offset"].nunique() == n_lines  # every line stored once


#: Lines of common layouts (synthetic, one per layout) and the layout detect must name.
KNOWN = {
    "access-log": [
        f'10.0.0.{i} - - [30/Nov/2026:10:00:0{i} +0000] "GET /x/{i} HTTP/1.1" 200 {i}12 "-" "curl"'
        for i in range(6)
    ],
    "syslog-rfc5424": [
        f"<34>1 2026-11-30T10:00:0{i}.003Z host{i} su - ID47 - 'su root' failed for lonvick"
        for i in range(6)
    ],
    "klog": [
        f"{lv}1130 10:00:0{i}.123456    4242 main.go:{i}1] reconciling pod-{i}"
        for i, lv in enumerate("IIWEII")
    ],
    "python-logging": [
        f"2026-11-30 10:00:0{i},123 - app.db - {lv} - query {i} done"
        for i, lv in enumerate(["INFO", "WARNING", "ERROR", "INFO", "DEBUG", "INFO"])
    ],
    "nginx-error": [
        f"2026/11/30 10:00:0{i} [error] 12#0: *{i} open() failed (2: No such file)"
        for i in range(6)
    ],
    # The shapes of logparser's benchmark formats outside the DEV set (synthetic lines written
    # from the format strings and the time forms the issue names; no held-out log was read).
    "logparser:HealthApp": [
        f"2017122{i}-22:15:29:60{i}|Steps|4242|step count {i}" for i in range(6)
    ],
    "logparser:Hadoop": [
        f"2015-10-18 18:01:4{i},978 INFO [main] org.example.App: started worker {i}"
        for i in range(6)
    ],
    "logparser:BGL": [
        f"- 111783857{i} 2005.06.03 R01-M0-N{i} 2005-06-03-15.42.5{i}.363779 R01-M0-N{i} RAS "
        f"KERNEL INFO cache parity corrected {i}"
        for i in range(6)
    ],
    "logparser:HPC": [
        f"10{i} node-{i} unix.hw state_change 107780474{i} 1 Component state changed to {i}"
        for i in range(6)
    ],
    "logparser:Thunderbird": [
        f"- 113156646{i} 2005.11.09 host{i} Nov 9 12:01:0{i} host{i}/host{i} crond[29{i}]: job {i} ran"
        for i in range(6)
    ],
    "logparser:Proxifier": [
        f"[10.30 16:49:0{i}] browser.exe - proxy.example:80{i}0 open through proxy"
        for i in range(6)
    ],
    "logparser:OpenStack": [
        f"api.log.1 2017-05-16 00:00:0{i}.008 2574{i} INFO svc.wsgi [req-{i} - -] GET /v2 200"
        for i in range(6)
    ],
    "logparser:Mac": [
        f"Jul  1 09:0{i}:55 host-{i} kernel[0]: device {i} unplugged" for i in range(6)
    ],
}


@pytest.mark.parametrize("name", sorted(KNOWN))
def test_known_layouts_are_detected(con: duckdb.DuckDBPyConnection, name: str) -> None:
    found = detect(con, KNOWN[name])
    assert found is not None and found.name == name, found and found.describe()
    assert found.matched == 1.0


def test_a_layout_not_in_the_catalogue_is_learned(con: duckdb.DuckDBPyConnection) -> None:
    lines = [
        f"30.11.2026 10:00:0{i} | {lv} | svc{i} did thing {i}"
        for i, lv in enumerate(["INFO", "WARN", "INFO", "ERROR", "INFO", "INFO"])
    ]
    assert learn(lines, con) == "<Date> <Time> <Field1> <Level> <Content>"
    found = detect(con, lines)
    assert found is not None and found.name == "learned"
    assert found.time.formats == ("%d.%m.%Y %H:%M:%S",)
    bracketed = [f"[{i}.11.2026 10:00:00] WARN svc: ok {i}" for i in range(10, 16)]
    assert learn(bracketed, con) == r"\[<Time>\] <Level> <Component>: <Content>"


def _write(tmp_path: Path, text: str, name: str = "app.log") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


SYSLOG = """\
Jun 14 15:16:01 combo sshd(pam_unix)[19939]: authentication failure; logname= uid=0 rhost=1.2.3.4
Jun 14 15:16:02 combo sshd(pam_unix)[19937]: check pass; user unknown
Jun 15 04:06:18 combo su(pam_unix)[21416]: session opened for user cyrus by (uid=0)
Jun 15 04:06:19 combo kernel: Kerberos authentication failed
Jun 15 04:06:20 combo gdm[2000]: ALERT exited abnormally with [1]
Jun 15 04:06:21 combo kernel: Out of memory: Killed process 4242 (java)
"""


def test_levels_and_categories_are_inferred_and_marked(tmp_path: Path) -> None:
    path = _write(tmp_path, SYSLOG)
    os.utime(path, (1781000000, 1781000000))  # 2026-06-09: June 14 is after it → 2025
    fc = faultcast.connect(tmp_path / "s.duckdb")
    report = fc.ingest(path, format="text")
    assert report.stored == 6
    ev = fc.events(limit=10).sort_values("source_offset").reset_index(drop=True)
    assert ev["level"].tolist() == ["error", "error", "info", "error", "error", "critical"]
    assert ev["category"].tolist()[:2] == ["security", "security"]
    assert ev["category"][3] == "security" and pd.isna(ev["category"][2])
    assert all(json.loads(a)["level_inferred"] is True for a in ev["attrs"])
    assert ev["ts"][0].year == 2025  # the year before the file's modification (New Year)
    # A given level is kept and not marked.
    log4j = _write(tmp_path, "2026-01-01 00:00:00,000 INFO app: connection refused\n", "b.log")
    fc.ingest(log4j, format="text")
    row = fc.events(limit=10).query("message == 'connection refused'").iloc[0]
    assert row["level"] == "info" and pd.isna(row["attrs"])  # nothing inferred, no attrs


def test_an_unreadable_time_is_refused_before_storing(tmp_path: Path) -> None:
    path = _write(tmp_path, "".join(f"step{i} token=s3cr3t-{i} INFO did {i}\n" for i in range(5)))
    fc = faultcast.connect(tmp_path / "s.duckdb")
    with pytest.raises(IngestError, match="cannot tell the layout") as info:
        fc.ingest(path, format="text")
    assert "--log-format" in str(info.value)
    with pytest.raises(IngestError, match=r"no time I can read.*'step0.*--time-format FIELD="):
        fc.ingest(path, format="text", log_format="<Step> <Token> <Level> <Content>")
    assert len(fc.quarantine()) == 0 and len(fc.events(limit=10)) == 0


def test_time_format_per_field_and_year(tmp_path: Path) -> None:
    path = _write(tmp_path, "03|17/16h13 ready\n03|18/01h02 done\n")
    fc = faultcast.connect(tmp_path / "s.duckdb")
    report = fc.ingest(
        path,
        format="text",
        log_format="<Day>/<Clock> <Content>",
        time_format=["Day=%m|%d", "Clock=%Hh%M"],
        year=2019,
    )
    assert report.stored == 2
    ts = sorted(fc.events(limit=5)["ts"])
    assert [t.isoformat() for t in ts] == ["2019-03-17T16:13:00+00:00", "2019-03-18T01:02:00+00:00"]


def test_the_cli_prints_the_layout_and_json_reports_it(tmp_path: Path) -> None:
    path = _write(tmp_path, "\n".join(KNOWN["nginx-error"]) + "\n")
    runner = CliRunner()
    saved = structlog.get_config()
    try:
        shown = runner.invoke(
            app, ["ingest", str(path), "--format", "text", "--db", str(tmp_path / "a.duckdb")]
        )
        as_json = runner.invoke(
            app,
            ["ingest", str(path), "--format", "text", "--db", str(tmp_path / "b.duckdb"), "--json"],
        )
    finally:
        structlog.configure(**saved)
    assert shown.exit_code == 0, shown.output
    assert "layout nginx-error" in shown.stdout
    assert r"--log-format '<Date> <Time> \[<Level>\] <Pid>#<Tid>: <Content>'" in shown.stdout
    payload = json.loads(as_json.stdout)
    (chosen,) = payload["layouts"].values()
    assert chosen["layout"] == "nginx-error" and chosen["time"]["fields"] == ["Date", "Time"]
    assert payload["continuations"] == 0


def test_a_sample_is_the_head_without_its_unfinished_line() -> None:
    assert sample_lines(b"a\n\n  b \nunfinished") == ["a", "b"]
