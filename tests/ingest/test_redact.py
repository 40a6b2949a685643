"""Redaction: a corpus of secret forms never survives; ordinary text is untouched; the prefilter
flags every line redact() would change, in Python and in DuckDB's RE2 alike."""

from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb
import pytest
from faultcast.ingest.redact import TOKEN_RULE_IDS, Redactor, iban_valid, luhn_valid
from hypothesis import given, settings
from hypothesis import strategies as st

import faultcast
from tests.fixtures.secrets import CORPUS, JSON_CORPUS, NEGATIVES

R = Redactor()


@pytest.mark.parametrize(("text", "secrets"), CORPUS + JSON_CORPUS, ids=lambda v: str(v)[:40])
def test_no_secret_survives(text: str, secrets: list[str]) -> None:
    out, counts = R.redact(text)
    for secret in secrets:
        assert secret not in out
    assert "[REDACTED:" in out and sum(counts.values()) >= 1
    assert re.search(R.prefilter, text)
    assert duckdb.sql("SELECT regexp_matches(?, ?)", params=[text, R.prefilter]).fetchall()[0][0]


@pytest.mark.parametrize(("text", "secrets"), JSON_CORPUS, ids=lambda v: str(v)[:40])
def test_redacted_json_stays_valid_with_the_same_keys(text: str, secrets: list[str]) -> None:
    out, _ = R.redact(text)
    before, after = json.loads(text), json.loads(out)
    assert set(before) == set(after)
    assert after["timestamp"] == before["timestamp"]


@pytest.mark.parametrize("text", NEGATIVES)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert R.redact(text) == (text, {})


def test_keys_stay_readable_and_counts_are_per_rule() -> None:
    out, counts = R.redact("user=bob password=x1 api_key=y2 mail a@b.io")
    assert (
        out
        == "user=bob password=[REDACTED:key_value] api_key=[REDACTED:key_value] mail [REDACTED:email]"
    )
    assert counts == {"key_value": 2, "email": 1}


def test_extra_patterns_and_disabled_rules() -> None:
    r = Redactor([("employee_id", r"EMP-(?P<secret>\d{6})"), r"internal-\w+"], disable=["email"])
    out, counts = r.redact("EMP-123456 on internal-host mailed a@b.io")
    assert out == "EMP-[REDACTED:employee_id] on [REDACTED:custom] mailed a@b.io"
    assert counts == {"employee_id": 1, "custom": 1}
    with pytest.raises(ValueError, match="not a valid regular expression"):
        Redactor(["(unclosed"])
    with pytest.raises(ValueError, match="unknown redaction rules"):
        Redactor(disable=["nope"])


def test_luhn() -> None:
    assert luhn_valid("4111111111111111") and luhn_valid("378282246310005")
    assert not luhn_valid("4111111111111112")


@settings(max_examples=400, deadline=None)
@given(
    st.text(max_size=200)
    | st.sampled_from([t for t, _ in CORPUS]).flatmap(
        lambda t: st.just(t) | st.text(max_size=20).map(lambda p: p + t)
    )
)
def test_properties(text: str) -> None:
    out, _ = R.redact(text)
    assert R.redact(out)[0] == out  # idempotent
    if out != text:
        assert re.search(R.prefilter, text)  # the prefilter is a superset


def test_no_secret_reaches_the_store(tmp_path: Path) -> None:
    lines = [t for t, _ in JSON_CORPUS] + [
        json.dumps({"event": t, "timestamp": "2026-01-01T00:00:00Z"}) for t, _ in CORPUS
    ]
    lines += [t + " <- not json" for t, _ in CORPUS if "\n" not in t]  # into the quarantine
    path = tmp_path / "leaky.jsonl"
    path.write_text("\n".join(lines) + "\n")
    db = tmp_path / "s.duckdb"
    fc = faultcast.connect(db)
    report = fc.ingest(path, format="json")
    assert report.read == len(lines) and report.quarantined > 0
    assert sum(report.redactions.values()) >= len(CORPUS) + len(JSON_CORPUS)
    fc.close()
    con = duckdb.connect(str(db), read_only=True)
    tables = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()]
    dump = "\n".join(
        str(row) for table in tables for row in con.execute(f"SELECT * FROM {table}").fetchall()
    )
    con.close()
    raw_bytes = db.read_bytes()
    for _, secrets in CORPUS + JSON_CORPUS:
        for secret in secrets:
            assert secret not in dump, secret
            if len(secret) >= 8:
                assert secret.encode() not in raw_bytes, secret


# -- what the parser sees ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('{"\\u0070assword": "x1y2"}', '{"\\u0070assword": "[REDACTED:key_value]"}'),
        ('{"a": 1, "password": ["x", {"y": 2}]}', '{"a": 1, "password": "[REDACTED:key_value]"}'),
        ('{"token": {"k": "v"}, "n": 3}', '{"token": "[REDACTED:key_value]", "n": 3}'),
        ('{"password": "a\\"b c"}', '{"password": "[REDACTED:key_value]"}'),
        ('{"password": null, "token": true, "secret": ""}', None),
        ('{"m": "login password=hunter2"}', '{"m": "login password=[REDACTED:key_value]"}'),
        ('{"m":"x",  "cc" :4111111111111111 }', '{"m":"x",  "cc" :"[REDACTED:card]" }'),
        ('{"request_id": 4111111111111111}', None),
    ],
)
def test_json_lines_are_redacted_as_decoded(line: str, expected: str | None) -> None:
    out, _ = R.redact(line)
    assert out == (line if expected is None else expected)
    json.loads(out)


def test_a_secret_key_needs_a_value_that_looks_like_a_secret() -> None:
    for text in ("password: success", "token: expected", "pass: 3 of 5", "secret: ${SECRET}"):
        assert R.redact(text) == (text, {})
    for text, secret in (("password: letmein", "letmein"), ("pin pass=1234", "1234")):
        out, counts = R.redact(text)
        assert secret not in out and counts == {"key_value": 1}


def test_iban_and_cards_in_any_digits() -> None:
    assert iban_valid("GB82 WEST 1234 5698 7654 32") and not iban_valid(
        "GB82 WEST 1234 5698 7654 33"
    )
    assert R.redact("to DE89370400440532013000.")[0] == "to [REDACTED:iban]."
    assert R.redact("ref DE89370400440532013001")[1] == {}  # checksum fails
    assert R.redact("card ٤١١١١١١١١١١١١١١١")[0] == "card [REDACTED:card]"
    assert R.redact("n ٤١١١١١١١١١١١١١١٢")[1] == {}  # Luhn fails


def test_url_encoded_and_token_shapes() -> None:
    out, counts = R.redact("body=user%3Dbob%26password%3DUrl-Pw-9")
    assert "Url-Pw-9" not in out and counts == {"key_value": 1}
    assert R.redact("glpat-Xy7Zk2Qw9PmN4bVc8LtR")[1] == {"token": 1}
    assert set(TOKEN_RULE_IDS) >= {"github-token", "gitlab-token", "sendgrid-key", "slack-webhook"}


def test_new_rules_can_be_disabled() -> None:
    r = Redactor(disable=["iban", "aws_secret_key"])
    text = "DE89370400440532013000 kT9vQ2xR7mW4pZ8nB3cY6hJ1sL5dF0gA2eU7iO9w"
    assert r.redact(text) == (text, {})
    assert r.redact("Authorization: Token abcdef123456")[1] == {"auth_header": 1}


@pytest.mark.parametrize(
    "line",
    [
        '{"m": "\\ud800 password=x1y2"}',
        '{"m": "\\ud800 password=x1y2"',
        "x \\ud83d\\ude00 \\u0070assword=abc12 \\ud800",
    ],
)
def test_lone_surrogate_escapes_stay_escaped(line: str) -> None:
    """The output goes into Arrow as UTF-8: a lone surrogate must not be decoded into it."""
    out, counts = R.redact(line)
    assert counts == {"key_value": 1} and "x1y2" not in out and "abc12" not in out
    out.encode("utf-8")


# Keys without the letters of any secret word (p, s, t, k): only the planted key is secret.
_PLAIN_KEYS = st.text(alphabet="abcdefghijlmnoqruvwxyz0123456789_ éü", max_size=12)
_JSON_SCALARS = st.none() | st.booleans() | st.integers() | st.text(max_size=30)
_JSON_VALUES = st.recursive(
    _JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_PLAIN_KEYS, inner, max_size=4),
    max_leaves=12,
)
_SECRET_VALUES = (
    st.from_regex(r"[A-Za-z]{3}[0-9]{2}[A-Za-z0-9_-]{3,12}", fullmatch=True)
    | st.lists(st.text(min_size=1, max_size=8), min_size=1, max_size=3)
    | st.dictionaries(st.text(max_size=5), st.integers(), min_size=1, max_size=3)
)


def _keys(value: object) -> object:
    """The keys at every level (values left out): what redaction must keep."""
    if isinstance(value, list):
        pairs_or_items = value
        if all(isinstance(p, tuple) and len(p) == 2 for p in pairs_or_items) and value:
            return [(k, _keys(v)) for k, v in pairs_or_items]
        return [_keys(v) for v in value]
    return None


@settings(max_examples=150, deadline=None)
@given(
    doc=st.dictionaries(_PLAIN_KEYS, _JSON_VALUES, max_size=5),
    key=st.sampled_from(["password", "api_key", "Passwort", "db.password_2", "clientSecret"]),
    secret=_SECRET_VALUES,
    ascii_only=st.booleans(),
)
def test_json_property_valid_same_keys_no_secret(
    doc: dict[str, object], key: str, secret: object, ascii_only: bool
) -> None:
    """Any JSON object with a secret key: still valid JSON with the same keys at every level,
    the secret key's value replaced whole, and the prefilter flags the line."""
    line = json.dumps(
        {**doc, key: secret, "timestamp": "2026-01-01T00:00:00Z"}, ensure_ascii=ascii_only
    )
    out, counts = R.redact(line)
    pairs = lambda ps: [(k, v) for k, v in ps]  # noqa: E731 - keeps duplicate keys in order
    # The same document with the secret a plain string: its keys are what must remain.
    expected = json.dumps({**doc, key: "x", "timestamp": "2026-01-01T00:00:00Z"})
    after = json.loads(out, object_pairs_hook=pairs)
    assert _keys(after) == _keys(json.loads(expected, object_pairs_hook=pairs))
    assert json.loads(out)[key] == "[REDACTED:key_value]" and counts["key_value"] >= 1
    assert re.search(R.prefilter, line)
