"""Text logs with a log format: fields onto columns, continuation lines, time forms, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from faultcast.ingest import IngestError
from faultcast.ingest.text import LogFormat

import faultcast
from tests.conftest import SHARED_DATA

LOGHUB_FORMATS = {
    "HDFS": "<Date> <Time> <Pid> <Level> <Component>: <Content>",
    "Apache": r"\[<Time>\] \[<Level>\] <Content>",
    "OpenSSH": r"<Date> <Day> <Time> <Component> sshd\[<Pid>\]: <Content>",
    "Zookeeper": r"<Date> <Time> - <Level>  \[<Node>:<Component>@<Id>\] - <Content>",
    "Spark": "<Date> <Time> <Level> <Component>: <Content>",
    "Linux": r"<Month> <Date> <Time> <Level> <Component>(\[<PID>\])?: <Content>",
    "Android": "<Date> <Time>  <Pid>  <Tid> <Level> <Component>: <Content>",
    "Windows": "<Date> <Time>, <Level>                  <Component>    <Content>",
}
LOG4J = "<Date> <Time> <Level> <Component>: <Content>"


def _ingest(tmp_path: Path, text: str | bytes, fmt: str, **kwargs) -> faultcast.FaultCast:
    path = tmp_path / "app.log"
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    fc = faultcast.connect(tmp_path / "s.duckdb")
    fc.last_report = fc.ingest(path, format="text", log_format=fmt, **kwargs)  # type: ignore[attr-defined]
    return fc


def test_fields_map_onto_columns_and_the_rest_into_attrs(tmp_path: Path) -> None:
    fc = _ingest(
        tmp_path,
        "081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 for block blk_388 terminating\n"
        "081109 203807 222 WARN dfs.FSNamesystem: BLOCK* ask 10.250.19.102:50010 to delete blk_-697\n",
        "<Date> <Time> <Pid> <Level> <Component>: <Content>",
        session_key=r"blk_-?[0-9]+",
    )
    ev = fc.events()
    assert ev["ts"].tolist() == [
        pd.Timestamp("2008-11-09 20:36:15Z"),
        pd.Timestamp("2008-11-09 20:38:07Z"),
    ]
    assert ev["level"].tolist() == ["info", "warning"]
    assert ev["component"][0] == "dfs.DataNode$PacketResponder"
    assert ev["message"][1] == "BLOCK* ask 10.250.19.102:50010 to delete blk_-697"
    assert ev["session_key"].tolist() == ["blk_388", "blk_-697"]
    assert json.loads(ev["attrs"][0]) == {"Pid": "148"}
    assert ev["source_offset"].tolist() == [1, 2]


def test_continuation_lines_join_the_event_before_them(tmp_path: Path) -> None:
    log = (
        "2026-01-01 00:00:00,001 ERROR app.db: query failed\r\n"
        "Traceback (most recent call last):\r\n"
        '  File "db.py", line 3, in run\r\n'
        "TimeoutError: timed out\r\n"
        "2026-01-01 00:00:01,500 INFO app.web: served\r\n"
        "2026-01-01 00:00:02,000 CRITICAL app.web: down\n"
        "   detail"
    )
    fc = _ingest(tmp_path, log, LOG4J)
    ev = fc.events()
    assert fc.last_report.read == 7 and fc.last_report.stored == 3  # type: ignore[attr-defined]
    assert ev["message"][0] == (
        'query failed\nTraceback (most recent call last):\n  File "db.py", line 3, in run\nTimeoutError: timed out'
    )
    assert ev["source_offset"].tolist() == [1, 5, 6]
    assert ev["message"][2] == "down\n   detail"
    assert bool(ev["failure"][2]) and ev["level"][2] == "critical"
    assert ev["ts"][1] == pd.Timestamp("2026-01-01 00:00:01.500Z")


def test_continuations_stay_with_their_event_across_chunks(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("FAULTCAST_CHUNK_BYTES", "512")
    lines = []
    for i in range(200):
        lines.append(f"2026-01-01 00:{i // 60:02d}:{i % 60:02d},000 ERROR app: failure {i}")
        lines += [f"  at frame {j} of failure {i}" for j in range(i % 4)]
    fc = _ingest(tmp_path, "\n".join(lines) + "\n", LOG4J)
    ev = fc.events()
    assert len(ev) == 200 and fc.last_report.read == len(lines)  # type: ignore[attr-defined]
    for i, message in enumerate(ev["message"]):
        assert message.count("\n") == i % 4, message


@pytest.mark.parametrize(
    ("fmt", "line", "expected"),
    [
        ("<Date> <Time> <Level> <Content>", "081109 203530 INFO x", "2008-11-09 20:35:30"),
        ("<Timestamp> <Level> <Content>", "2026-03-04T05:06:07Z INFO x", "2026-03-04 05:06:07"),
        (
            "<Timestamp> <Level> <Content>",
            "2026-03-04T05:06:07.250+01:00 INFO x",
            "2026-03-04 04:06:07.250",
        ),
        ("<Month> <Day> <Time> <Content>", "Jun 14 15:16:01 x", "2024-06-14 15:16:01"),
        ("<Timestamp> <Level> <Content>", "1700000000 INFO x", "2023-11-14 22:13:20"),
        (
            "<Date> <Time> <Level> <Content>",
            "2015-10-18 18:01:47,978 INFO x",
            "2015-10-18 18:01:47.978",
        ),
        ("<Date> <Time> <Level> <Content>", "17/06/09 20:10:40 INFO x", "2017-06-09 20:10:40"),
        (r"\[<Time>\] <Content>", "[Sun Dec 04 04:47:44 2005] x", "2005-12-04 04:47:44"),
        ("<Date> <Time> <Content>", "03-17 16:13:38.811 x", "2024-03-17 16:13:38.811"),
    ],
)
def test_time_forms_are_recognised(tmp_path: Path, fmt: str, line: str, expected: str) -> None:
    fc = _ingest(tmp_path, line + "\n", fmt, year=2024)
    assert fc.last_report.stored == 1, fc.quarantine()  # type: ignore[attr-defined]
    assert fc.events()["ts"][0] == pd.Timestamp(expected, tz="UTC")


def test_time_format_option_and_unreadable_times(tmp_path: Path) -> None:
    fc = _ingest(
        tmp_path,
        "04.03.2026|05:06 INFO x\n",
        r"<Date>\|<Time> <Level> <Content>",
        time_format="%d.%m.%Y %H:%M",
    )
    assert fc.events()["ts"][0] == pd.Timestamp("2026-03-04 05:06Z")
    other = tmp_path / "other"
    other.mkdir()
    # No time in the file: refused before anything is stored, quoting a value.
    with pytest.raises(IngestError, match=r"no time I can read .*'someday later.*--time-format"):
        _ingest(other, "someday later INFO x\n", "<Date> <Time> <Level> <Content>")
    assert len(faultcast.connect(other / "s.duckdb").quarantine()) == 0


def test_lines_before_the_first_event_are_quarantined(tmp_path: Path) -> None:
    fc = _ingest(tmp_path, "orphan line\n2026-01-01 00:00:00,000 INFO app: ok\n", LOG4J)
    assert fc.last_report.stored == 1 and fc.last_report.quarantined == 1  # type: ignore[attr-defined]
    assert fc.quarantine()["reason"][0].startswith("line does not match the log format")


def test_a_file_with_no_matching_line_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "app.log"
    path.write_text("this is not\nthat format\n")
    fc = faultcast.connect(tmp_path / "s.duckdb")
    with pytest.raises(
        IngestError, match="match the log format '<Date> <Time> <Level> <Component>: <Content>'"
    ):
        fc.ingest(path, format="text", log_format=LOG4J)
    with pytest.raises(IngestError, match="cannot tell the layout .*'this is not'.*--log-format"):
        fc.ingest(path, format="text")
    with pytest.raises(IngestError, match="no <Field>"):
        fc.ingest(path, format="text", log_format="just text")


def test_log_format_regex() -> None:
    fmt = LogFormat.parse(r"<Month> <Date> <Time> <Level> <Component>(\[<PID>\])?: <Content>")
    assert fmt.fields == ("Month", "Date", "Time", "Level", "Component", "PID", "Content")
    # As logparser builds it: lazy named groups; the format's own group keeps its place.
    assert fmt.regex.startswith(r"^(?P<Month>.*?)\s+(?P<Date>.*?)")
    assert fmt.groups[5] == "_6" and fmt.groups[6] == "PID"
    with pytest.raises(ValueError, match="twice"):
        LogFormat.parse("<A> <A>")


def test_reingest_of_a_text_log_is_a_no_op(tmp_path: Path) -> None:
    fc = _ingest(
        tmp_path,
        "2026-01-01 00:00:00,000 INFO app: a\n  more\n2026-01-01 00:00:01,000 INFO app: b\n",
        LOG4J,
    )
    again = fc.ingest(tmp_path / "app.log", format="text", log_format=LOG4J, from_start=True)
    # The continuation line counts as such, never as a duplicate.
    assert (again.read, again.stored, again.duplicates, again.continuations) == (3, 0, 2, 1)
    assert again.balanced


@pytest.mark.data
@pytest.mark.parametrize("system", sorted(LOGHUB_FORMATS))
def test_every_loghub_dev_system_ingests_without_quarantine(tmp_path: Path, system: str) -> None:
    path = SHARED_DATA / "loghub" / system / f"{system}_2k.log"
    if not path.exists():
        pytest.skip(
            f"{path} is absent: the labelled loghub data lives in ../shared/data, not in this repo"
        )
    fc = faultcast.connect(tmp_path / "s.duckdb")
    report = fc.ingest(path, format="text", log_format=LOGHUB_FORMATS[system])
    assert (report.read, report.stored, report.quarantined) == (2000, 2000, 0)
    assert fc.events()["ts"].notna().all()


@pytest.mark.data
def test_hdfs_sessions_fill_the_session_key_on_every_line(tmp_path: Path) -> None:
    path = SHARED_DATA / "loghub" / "HDFS_sessions" / "HDFS_dev.log"
    if not path.exists():
        pytest.skip(
            f"{path} is absent: the labelled loghub data lives in ../shared/data, not in this repo"
        )
    fc = faultcast.connect(tmp_path / "s.duckdb")
    report = fc.ingest(
        path, format="text", log_format=LOGHUB_FORMATS["HDFS"], session_key=r"blk_-?[0-9]+"
    )
    assert report.stored == 108_933 and report.quarantined == 0
    counts = fc.store.query_df(
        "SELECT count(*) - count(session_key) AS missing, count(DISTINCT session_key) AS blocks FROM store.events"
    )
    assert int(counts["missing"][0]) == 0 and int(counts["blocks"][0]) == 5648
