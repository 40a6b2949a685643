"""A hostile corpus of secret forms through the whole ingest into a DuckDB file: no secret is
in any table nor in the file's bytes after a checkpoint; ordinary messages are stored as sent;
the bulk prefilter (RE2, as the ingest runs it) flags every line with a secret."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from faultcast.ingest.redact import Redactor

import faultcast
from faultcast import IngestError
from tests.fixtures.secret_corpus import ORDINARY, SECRET_JSON, SECRET_TEXTS, TS

LOG_FORMAT = "<Date> <Time> <Level> <Content>"
R = Redactor()


def _json_lines() -> list[str]:
    lines = [line for line, _ in SECRET_JSON]
    for i, (text, _) in enumerate(SECRET_TEXTS):
        lines.append(json.dumps({"timestamp": TS, "event": text, "level": "error", "n": i}))
        lines.append(json.dumps({"timestamp": TS, "event": "ctx", "detail": text, "n": i}))
        if "\n" not in text:
            lines.append(text + " <- not json")  # quarantined, raw kept
    lines += [json.dumps({"timestamp": TS, "event": m, "level": "info"}) for m in ORDINARY]
    return lines


def _text_lines() -> list[str]:
    # A private key's lines follow its event's first line, each redacted alone.
    secrets = [f"2026-03-01 10:00:{i % 60:02d} ERROR {t}" for i, (t, _) in enumerate(SECRET_TEXTS)]
    ordinary = [f"2026-03-01 11:00:{i % 60:02d} INFO {m}" for i, m in enumerate(ORDINARY)]
    return [line for text in secrets for line in text.split("\n")] + ordinary


def _all_secrets() -> list[str]:
    secrets = {s for _, ss in SECRET_TEXTS + SECRET_JSON for s in ss}
    return sorted(secrets)


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    work = tmp_path_factory.mktemp("secret-corpus")
    json_path, text_path = work / "app.jsonl", work / "app.log"
    json_lines, text_lines = _json_lines(), _text_lines()
    json_path.write_text("\n".join(json_lines) + "\n", encoding="utf-8")
    text_path.write_text("\n".join(text_lines) + "\n", encoding="utf-8")
    db = work / "store.duckdb"
    fc = faultcast.connect(db)
    reports = [
        fc.ingest(json_path, format="json"),
        fc.ingest(text_path, format="text", log_format=LOG_FORMAT),
    ]
    fc.close()
    con = duckdb.connect(str(db))
    con.execute("CHECKPOINT")
    tables = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()]
    dump = "\n".join(
        "\t".join(str(v) for v in row)
        for table in tables
        for row in con.execute(f'SELECT * FROM "{table}"').fetchall()
    )
    messages = {
        source: [
            r[0]
            for r in con.execute(
                "SELECT message FROM events WHERE source = ? ORDER BY source_offset", [source]
            ).fetchall()
        ]
        for source in (str(json_path), str(text_path))
    }
    con.close()
    return {
        "json": (json_path, json_lines, reports[0]),
        "text": (text_path, text_lines, reports[1]),
        "tables": tables,
        "dump": dump,
        "bytes": db.read_bytes(),
        "messages": messages,
    }


def test_the_corpus_is_large_enough() -> None:
    assert len(SECRET_TEXTS) + len(SECRET_JSON) >= 100
    assert len(ORDINARY) >= 50


def test_every_line_is_accounted_for(stored: dict[str, Any]) -> None:
    for kind in ("json", "text"):
        _, lines, report = stored[kind]
        assert (
            report.stored + report.duplicates + report.quarantined + report.continuations
            == report.read
        )
        # A text event is a line that matches the format with the lines that continue it.
        assert report.read == len(lines) if kind == "json" else report.read >= len(ORDINARY)
    _, lines, report = stored["json"]
    assert report.quarantined >= sum(1 for line in lines if line.endswith("<- not json"))
    assert sum(report.redactions.values()) >= len(SECRET_TEXTS) + len(SECRET_JSON)
    assert {"events", "quarantine", "ingest_runs"} <= set(stored["tables"])


@pytest.mark.parametrize("secret", _all_secrets())
def test_no_secret_in_any_table_or_in_the_file(stored: dict[str, Any], secret: str) -> None:
    forms = {secret, json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1]}
    forms.add(secret.replace("/", "\\/"))  # as encoders that escape slashes write it
    for form in forms:
        assert form not in stored["dump"]
        assert form.encode() not in stored["bytes"]


def test_ordinary_messages_are_stored_as_sent(stored: dict[str, Any]) -> None:
    json_path, _, _ = stored["json"]
    text_path, _, _ = stored["text"]
    for path in (json_path, text_path):
        messages = stored["messages"][str(path)]
        for message in ORDINARY:
            assert message in messages, (path.name, message)
    for message in ORDINARY:
        assert R.redact(message) == (message, {})


def test_the_bulk_prefilter_flags_every_secret_line(stored: dict[str, Any]) -> None:
    """The ingest runs the full redactor only on lines the RE2 prefilter flags."""
    json_lines = [
        line
        for line in stored["json"][1]
        if line
        not in {json.dumps({"timestamp": TS, "event": m, "level": "info"}) for m in ORDINARY}
    ]
    lines = json_lines + [t for t, _ in SECRET_TEXTS]
    flagged = pc.match_substring_regex(pa.array(lines, pa.large_string()), R.prefilter)
    assert [line for line, hit in zip(lines, flagged.to_pylist(), strict=True) if not hit] == []
    assert all(re.search(R.prefilter, line) for line in lines)


@pytest.mark.parametrize(("line", "secrets"), SECRET_JSON, ids=lambda v: str(v)[:50])
def test_redacted_json_stays_valid_with_the_same_keys(line: str, secrets: list[str]) -> None:
    out, counts = R.redact(line)
    assert counts
    try:
        before = json.loads(line, object_pairs_hook=lambda pairs: [k for k, _ in pairs])
    except json.JSONDecodeError:
        return  # a broken line stays broken (and is quarantined), redacted all the same
    after = json.loads(out, object_pairs_hook=lambda pairs: [k for k, _ in pairs])
    assert after == before


def test_a_refused_file_is_named_without_echoing_its_secrets(tmp_path: Path) -> None:
    path = tmp_path / "app.log"
    path.write_text(f"2026-03-01 10:00:00 password=Sniff-Pw-77 token {SECRET_TEXTS[55][0]}\n")
    lines = tmp_path / "app.jsonl"
    lines.write_text('{"message": "ok"}\n')
    fc = faultcast.connect(tmp_path / "s.duckdb")
    with pytest.raises(IngestError) as caught:
        fc.ingest([lines, path])  # format auto: one JSON-lines file and one that is not
    fc.close()
    message = str(caught.value)
    assert "does not look like JSON lines" in message and "app.log" in message
    assert "Sniff-Pw-77" not in message and "[REDACTED:" in message
