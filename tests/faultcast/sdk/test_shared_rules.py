"""The SDK applies the store's own level, category and redaction rules: ``faultcast/sdk/_rules.py``
and ``_redact.py`` are symbolic links to ``ingest/schema.py`` and ``ingest/redact.py`` (standard
library only), so the SDK needs nothing but itself and the rules have one source.  The wheel of
``faultcast-sdk`` holds the files the links point at."""

from __future__ import annotations

import pytest
from faultcast.ingest import redact as ingest_redact
from faultcast.ingest import schema as ingest_schema

from faultcast.sdk import _redact as sdk_redact
from faultcast.sdk import _rules as sdk_rules

TEXTS = [
    "login failed password=hunter2 for bob@example.com",
    '{"user": "bob", "api_key": "s3cr3t", "n": 1}',
    "Authorization: Bearer abcdefghijklmnop",
    "postgres://app:pa55word@db:5432/x",
    "card 4111 1111 1111 1111 and request_id=4111111111111111",
    "AKIAABCDEFGHIJKLMNOP and ghp_abcdefghijklmnopqrstuvwxyz",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.sig",
    "-----BEGIN RSA PRIVATE KEY-----\nabc\n-----END RSA PRIVATE KEY-----",
    "nothing secret here",
]


def test_the_sdk_rule_modules_are_links_to_ingest() -> None:
    from pathlib import Path

    for module, target in ((sdk_rules, ingest_schema), (sdk_redact, ingest_redact)):
        assert Path(module.__file__).resolve() == Path(target.__file__).resolve()


def test_the_rule_tables_are_the_stores() -> None:
    for name in (
        "LEVELS",
        "LEVEL_SYNONYMS",
        "NUMERIC_LEVELS",
        "CATEGORIES",
        "ERROR_TYPE_RULES",
        "MESSAGE_RULES",
    ):
        assert getattr(sdk_rules, name) == getattr(ingest_schema, name), name


@pytest.mark.parametrize(
    ("error_type", "message", "level"),
    [
        ("TimeoutError", None, None),
        ("botocore.exceptions.ThrottlingException", None, None),
        (None, "consumer lag rising on partition 3", "warning"),
        (None, "user logged in", "info"),
        (None, "something odd", "error"),
        ("Weird", "out of memory", "critical"),
    ],
)
def test_categories_agree(error_type: str | None, message: str | None, level: str | None) -> None:
    assert sdk_rules.category_of(error_type, message, level) == ingest_schema.category_of(
        error_type, message, level
    )


@pytest.mark.parametrize("level", ["WARN", "Fatal", 40, "chatty", None, " info "])
def test_levels_agree(level: str | int | None) -> None:
    assert sdk_rules.normalise_level(level) == ingest_schema.normalise_level(level)


def test_redaction_agrees() -> None:
    assert sdk_redact.RULE_NAMES == ingest_redact.RULE_NAMES
    ours, theirs = sdk_redact.Redactor(), ingest_redact.Redactor()
    for text in TEXTS:
        assert ours.redact(text) == theirs.redact(text), text
    assert ours.prefilter == theirs.prefilter
