"""Time inference: a corpus of time forms from common frameworks and public logs, each read to
the exact instant; field combinations; the year of year-less forms; refusal."""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb
import pytest
from faultcast.ingest.timeinfer import infer_time, parse_time_options

T = "T"

#: (where the form comes from, the header fields of one line, the instant, UTC).  Year-less
#: forms read in 2024 (the ``year`` given below); nanoseconds round to the microsecond.
CORPUS: list[tuple[str, dict[str, str], str]] = [
    # Java: log4j / logback / java.util.logging / Spring / Tomcat
    ("log4j ISO8601", {T: "2015-10-18 18:01:47,978"}, "2015-10-18T18:01:47.978"),
    ("logback default", {T: "2015-10-18 18:01:47.978"}, "2015-10-18T18:01:47.978"),
    ("logback ISO T comma", {T: "2015-10-18T18:01:47,978"}, "2015-10-18T18:01:47.978"),
    ("log4j DATE", {T: "18 Oct 2015 18:01:47,978"}, "2015-10-18T18:01:47.978"),
    ("log4j2 zoned", {T: "2015-10-18T18:01:47.978+0200"}, "2015-10-18T16:01:47.978"),
    ("log4j2 Z", {T: "2015-10-18T18:01:47.978Z"}, "2015-10-18T18:01:47.978"),
    ("java.util.logging", {T: "Oct 18, 2015 6:01:47 PM"}, "2015-10-18T18:01:47"),
    ("Spring Boot 3", {T: "2023-03-01T10:15:30.123+01:00"}, "2023-03-01T09:15:30.123"),
    ("java Instant", {T: "2023-03-01T10:15:30.123456789Z"}, "2023-03-01T10:15:30.123457"),
    ("Tomcat catalina", {T: "30-Nov-2026 10:00:00.123"}, "2026-11-30T10:00:00.123"),
    # Python
    ("python logging asctime", {T: "2026-11-30 10:00:00,123"}, "2026-11-30T10:00:00.123"),
    ("python isoformat", {T: "2026-11-30T10:00:00.123456"}, "2026-11-30T10:00:00.123456"),
    ("python isoformat tz", {T: "2026-11-30T10:00:00.123456+00:00"}, "2026-11-30T10:00:00.123456"),
    ("day first", {T: "30/11/2026 10:00:00"}, "2026-11-30T10:00:00"),
    ("US 12-hour", {T: "11/30/2026 10:00:00 PM"}, "2026-11-30T22:00:00"),
    # Go
    ("go log", {T: "2009/11/10 23:00:00"}, "2009-11-10T23:00:00"),
    ("go log micro", {T: "2009/11/10 23:00:00.123456"}, "2009-11-10T23:00:00.123456"),
    ("go RFC3339", {T: "2009-11-10T23:00:00Z"}, "2009-11-10T23:00:00"),
    ("go RFC3339Nano", {T: "2009-11-10T23:00:00.123456789Z"}, "2009-11-10T23:00:00.123457"),
    ("zap", {T: "2009-11-10T23:00:00.123-0700"}, "2009-11-11T06:00:00.123"),
    ("go time.String", {T: "2009-11-10 23:00:00 +0000 UTC"}, "2009-11-10T23:00:00"),
    # nginx / Apache
    ("nginx access", {T: "10/Oct/2000:13:55:36 -0700"}, "2000-10-10T20:55:36"),
    ("nginx error", {T: "2026/11/30 10:00:00"}, "2026-11-30T10:00:00"),
    ("apache 2.4 error", {T: "Wed Oct 11 14:32:52.123456 2000"}, "2000-10-11T14:32:52.123456"),
    ("apache 2.2 error", {T: "Sun Dec 04 04:47:44 2005"}, "2005-12-04T04:47:44"),
    ("HAProxy", {T: "30/Nov/2026:10:00:00.123"}, "2026-11-30T10:00:00.123"),
    # syslog
    ("RFC 3164", {"Month": "Dec", "Day": "10", T: "06:55:46"}, "2024-12-10T06:55:46"),
    ("RFC 3164 padded", {T: "Jul  1 09:00:55"}, "2024-07-01T09:00:55"),
    ("RFC 5424", {T: "2003-10-11T22:14:15.003Z"}, "2003-10-11T22:14:15.003"),
    ("RFC 5424 offset", {T: "2003-08-24T05:14:15.000003-07:00"}, "2003-08-24T12:14:15.000003"),
    ("rsyslog hi-res", {T: "2026-11-30T10:00:00.123456+01:00"}, "2026-11-30T09:00:00.123456"),
    # journald
    ("journald short-iso", {T: "2026-11-30T10:00:00+0100"}, "2026-11-30T09:00:00"),
    ("journald short-precise", {T: "Nov 30 10:00:00.123456"}, "2024-11-30T10:00:00.123456"),
    ("journald short-full", {T: "Mon 2026-11-30 10:00:00 UTC"}, "2026-11-30T10:00:00"),
    # Windows
    ("Windows CBS", {"Date": "2016-09-28", T: "04:30:30"}, "2016-09-28T04:30:30"),
    ("Windows CSI", {T: "2016/9/27:20:30:31.455"}, "2016-09-27T20:30:31.455"),
    ("Windows event", {T: "11/30/2026 10:00:00 AM"}, "2026-11-30T10:00:00"),
    (".NET round trip", {T: "2026-11-30T10:00:00.1234567+01:00"}, "2026-11-30T09:00:00.123457"),
    ("IIS", {"date": "2026-11-30", "time": "10:00:00"}, "2026-11-30T10:00:00"),
    # Android
    ("logcat threadtime", {"Date": "03-17", T: "16:13:38.811"}, "2024-03-17T16:13:38.811"),
    ("logcat year", {T: "2024-03-17 16:13:38.811"}, "2024-03-17T16:13:38.811"),
    ("logcat epoch", {T: "1700000000.123"}, "2023-11-14T22:13:20.123"),
    # Kubernetes
    ("klog", {"Date": "1130", T: "10:00:00.123456"}, "2024-11-30T10:00:00.123456"),
    ("CRI", {T: "2026-11-30T10:00:00.123456789Z"}, "2026-11-30T10:00:00.123457"),
    ("k8s audit", {T: "2026-11-30T10:00:00.123456Z"}, "2026-11-30T10:00:00.123456"),
    # epochs
    ("epoch s", {T: "1700000000"}, "2023-11-14T22:13:20"),
    ("epoch ms", {T: "1700000000123"}, "2023-11-14T22:13:20.123"),
    ("epoch us", {T: "1700000000123456"}, "2023-11-14T22:13:20.123456"),
    ("epoch ns", {T: "1700000000123456789"}, "2023-11-14T22:13:20.123457"),
    ("epoch s fraction", {T: "1700000000.5"}, "2023-11-14T22:13:20.5"),
    ("HPC epoch", {"LogId": "460", "Node": "node-246", T: "1077804742"}, "2004-02-26T14:12:22"),
    # compact and odd forms seen in public logs
    ("dash then colon ms", {T: "20171223-22:15:29:606"}, "2017-12-23T22:15:29.606"),
    ("HDFS", {"Date": "081109", T: "203615"}, "2008-11-09T20:36:15"),
    ("14 digits", {T: "20171223221529"}, "2017-12-23T22:15:29"),
    ("8 + 6 digits", {T: "20171223 221529"}, "2017-12-23T22:15:29"),
    ("bracketed month.day", {T: "[10.30 16:49:06]"}, "2024-10-30T16:49:06"),
    (
        "epoch next to dotted date and dash-dot time",
        {
            "Timestamp": "1117838570",
            "Date": "2005.06.03",
            "Node": "R02-M1-N0-C:J12-U11",
            "Time": "2005-06-03-15.42.50.363779",  # named as BGL's layout names it
        },
        "2005-06-03T15:42:50.363779",
    ),
    (
        "epoch next to date and month/day/time",
        {
            "Timestamp": "1131566461",
            "Date": "2005.11.09",
            "Month": "Nov",
            "Day": "9",
            T: "12:01:01",
        },
        "2005-11-09T20:01:01",
    ),
    ("Spark", {"Date": "17/06/09", T: "20:10:40"}, "2017-06-09T20:10:40"),
    ("Zookeeper", {"Date": "2015-07-29", T: "17:41:44,747"}, "2015-07-29T17:41:44.747"),
    ("OpenStack", {"Date": "2017-05-16", T: "00:00:00.008"}, "2017-05-16T00:00:00.008"),
    ("dotted European", {T: "30.11.2026 10:00:00"}, "2026-11-30T10:00:00"),
    ("dotted ISO", {T: "2026.11.30 10:00:00"}, "2026-11-30T10:00:00"),
    ("month name comma", {T: "Nov 30, 2026 10:00:00 AM"}, "2026-11-30T10:00:00"),
    ("long names", {T: "Monday, November 30, 2026 10:00:00 PM"}, "2026-11-30T22:00:00"),
    ("minutes only", {T: "2026-11-30 10:05"}, "2026-11-30T10:05:00"),
    ("zone name", {T: "2026-11-30 10:00:00 CET"}, "2026-11-30T09:00:00"),
    ("PostgreSQL", {T: "2026-11-30 10:00:00.123 UTC"}, "2026-11-30T10:00:00.123"),
    ("bracketed ISO", {T: "[2026-11-30 10:00:00]"}, "2026-11-30T10:00:00"),
    ("Elasticsearch", {T: "[2026-11-30T10:00:00,123]"}, "2026-11-30T10:00:00.123"),
    ("Erlang", {T: "2026-11-30 10:00:00.123456+01:00"}, "2026-11-30T09:00:00.123456"),
]


@pytest.fixture(scope="module")
def con() -> duckdb.DuckDBPyConnection:
    c = duckdb.connect()
    c.execute("SET TimeZone = 'UTC'")
    return c


def _read(con: duckdb.DuckDBPyConnection, fields: dict[str, str], **kw) -> datetime | None:
    reading = infer_time(con, list(fields), [fields], **kw)
    assert reading is not None, f"no reading for {fields}"
    sql = reading.sql(lambda f: "$" + f, 2024, None)
    got = con.execute(f"SELECT {sql}", {f: fields[f] for f in reading.fields}).fetchall()[0][0]
    return got


def test_the_corpus_is_large() -> None:
    assert len(CORPUS) >= 60
    assert len({name for name, _, _ in CORPUS}) == len(CORPUS)


@pytest.mark.parametrize(("name", "fields", "instant"), CORPUS, ids=[c[0] for c in CORPUS])
def test_each_form_reads_the_exact_instant(
    con: duckdb.DuckDBPyConnection, name: str, fields: dict[str, str], instant: str
) -> None:
    expected = datetime.fromisoformat(instant).replace(tzinfo=UTC)
    assert _read(con, fields) == expected, name


def test_a_sample_decides_the_order_of_day_and_month(con: duckdb.DuckDBPyConnection) -> None:
    # 03/04 alone could be either; the 13th on another line says day first.
    rows = [{T: "03/04/2026 10:00:00"}, {T: "13/04/2026 11:00:00"}]
    reading = infer_time(con, [T], rows)
    assert reading is not None and reading.formats[0].startswith("%d/%m/%Y")
    # Spark's yy/MM/dd: read as 2009-06-17 the sample would span years, not minutes.
    rows = [{"D": "17/06/09", T: "20:10:40"}, {"D": "17/06/10", T: "01:02:03"}]
    reading = infer_time(con, ["D", T], rows)
    assert reading is not None and reading.formats == ("%y/%m/%d %H:%M:%S",)


def test_a_pid_is_not_a_year(con: duckdb.DuckDBPyConnection) -> None:
    rows = [
        {"Date": "03-17", T: "16:13:38.811", "Pid": str(pid)} for pid in (1702, 2227, 1999, 3011)
    ]
    reading = infer_time(con, ["Date", T, "Pid"], rows)
    assert reading is not None and reading.fields == ("Date", T)


def test_lines_with_and_without_a_fraction_read_together(con: duckdb.DuckDBPyConnection) -> None:
    rows = [{T: f"2026-11-30T10:00:0{i}.25"} for i in range(9)] + [{T: "2026-11-30T10:00:09"}]
    reading = infer_time(con, [T], rows)
    assert reading is not None and reading.parsed == 1.0 and len(reading.formats) == 2


def test_new_year_rolls_back_with_the_modification_time(con: duckdb.DuckDBPyConnection) -> None:
    reading = infer_time(con, [T], [{T: "Dec 31 23:59:59"}, {T: "Jan  1 00:00:01"}])
    assert reading is not None and not reading.has_year
    mtime = datetime(2026, 1, 1, 0, 5, tzinfo=UTC)
    sql = reading.sql(lambda f: "$t", None, mtime)
    got = [
        con.execute(f"SELECT {sql}", {"t": v}).fetchall()[0][0]
        for v in ("Dec 31 23:59:59", "Jan 1 00:00:01")
    ]
    assert got == [
        datetime(2025, 12, 31, 23, 59, 59, tzinfo=UTC),
        datetime(2026, 1, 1, 0, 0, 1, tzinfo=UTC),
    ]
    # --year wins over the modification time.
    sql = reading.sql(lambda f: "$t", 2019, mtime)
    assert con.execute(f"SELECT {sql}", {"t": "Dec 31 23:59:59"}).fetchall()[0][0].year == 2019


def test_time_format_per_field(con: duckdb.DuckDBPyConnection) -> None:
    given = parse_time_options(["Date=%Y.%m.%d", "Time=%H-%M-%S"])
    assert given == {"Date": "%Y.%m.%d", "Time": "%H-%M-%S"}
    fields = {"Date": "2005.06.03", "Node": "x", "Time": "15-42-50"}
    assert _read(con, fields, formats=given) == datetime(2005, 6, 3, 15, 42, 50, tzinfo=UTC)
    assert _read(con, {"Ts": "1700000000123"}, formats={"Ts": "epoch_ms"}) == datetime(
        2023, 11, 14, 22, 13, 20, 123000, tzinfo=UTC
    )
    with pytest.raises(ValueError, match="not both"):
        parse_time_options(["Date=%Y", "%H:%M"])
    with pytest.raises(ValueError, match="does not have"):
        infer_time(con, ["Date"], [{"Date": "x"}], formats={"Nope": "%Y"})


def test_nothing_time_like_reads_as_none(con: duckdb.DuckDBPyConnection) -> None:
    assert infer_time(con, ["A", "B"], [{"A": "someday", "B": "later"}]) is None
    assert infer_time(con, [T], [{T: "12:00:01"}]) is None  # no date at all
    assert infer_time(con, [T], [{T: "1234567890123456789012"}]) is None


def test_fields_named_as_time_beat_a_field_that_happens_to_parse() -> None:
    """An address (``10.0.0.3``) also reads as ``%H.%M.%S.%f``: more precise, but not time."""
    con = duckdb.connect()
    samples = [
        {"Date": "2026-01-01", "Time": f"00:00:{i:02d}", "source_ip": f"10.0.0.{i}"}
        for i in range(1, 9)
    ]
    reading = infer_time(con, ["Date", "Time", "source_ip"], samples)
    assert reading is not None and reading.fields == ("Date", "Time")
