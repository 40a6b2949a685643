"""Numbered schema migrations, each applied in its own transaction and recorded in ``schema_version``.

Never edit a migration that has shipped: add a new one.
"""

from __future__ import annotations

from typing import Final, NamedTuple

from faultcast.ingest.issues import index_sql
from faultcast.ingest.schema import EVENT_COLUMNS, PROMOTED_ATTRS


class Migration(NamedTuple):
    version: int
    name: str
    statements: tuple[str, ...]
    #: Statements over the events stored before the migration (after ``statements``, in its
    #: transaction); skipped when there are none, as in a new store: planning them there cost
    #: more than creating all the tables.
    backfill: tuple[str, ...] = ()


#: The columns of ``events`` as migration 1 created them (later migrations add the others).
_EVENT_COLUMNS_V1 = EVENT_COLUMNS[: [name for name, _ in EVENT_COLUMNS].index("ingested_at") + 1]
_EVENT_COLUMNS_SQL = ",\n    ".join(f"{name} {dtype}" for name, dtype in _EVENT_COLUMNS_V1)

_MIGRATIONS_1_3: Final[tuple[Migration, ...]] = (
    Migration(
        1,
        "events and quarantine",
        (
            f"CREATE TABLE events (\n    {_EVENT_COLUMNS_SQL}\n)",
            """CREATE TABLE quarantine (
    source VARCHAR,
    source_offset BIGINT,
    raw VARCHAR,
    reason VARCHAR,
    ingested_at TIMESTAMPTZ
)""",
        ),
    ),
    Migration(
        2,
        "ingest checkpoints and run history",
        (
            """CREATE TABLE ingest_checkpoints (
    source VARCHAR PRIMARY KEY,
    file_id VARCHAR,
    prefix_len BIGINT,
    prefix_md5 VARCHAR,
    byte_offset BIGINT,
    line_no BIGINT,
    updated_at TIMESTAMPTZ
)""",
            """CREATE TABLE ingest_runs (
    run_id VARCHAR,
    source VARCHAR,
    started_at TIMESTAMPTZ,
    finished_at TIMESTAMPTZ,
    read BIGINT,
    stored BIGINT,
    duplicates BIGINT,
    quarantined BIGINT,
    redactions JSON
)""",
        ),
    ),
    Migration(
        3,
        "patterns, their changes and the template miner's state",
        (
            """CREATE TABLE patterns (
    template_id VARCHAR PRIMARY KEY,
    template VARCHAR,
    count BIGINT,
    first_seen TIMESTAMPTZ,
    last_seen TIMESTAMPTZ,
    example VARCHAR,
    updated_at TIMESTAMPTZ
)""",
            """CREATE TABLE pattern_changes (
    template_id VARCHAR,
    old_template VARCHAR,
    new_template VARCHAR,
    changed_at TIMESTAMPTZ
)""",
            """CREATE TABLE miner_state (
    name VARCHAR PRIMARY KEY,
    state BLOB,
    clusters INTEGER,
    updated_at TIMESTAMPTZ
)""",
        ),
    ),
)

MIGRATIONS: Final[tuple[Migration, ...]] = (
    *_MIGRATIONS_1_3,
    Migration(
        4,
        "model registry, predictions, learning state and drift events",
        (
            """CREATE TABLE model_registry (
    name VARCHAR,
    version INTEGER,
    created_at TIMESTAMPTZ,
    status VARCHAR,
    blob BLOB,
    sha256 VARCHAR,
    metrics JSON,
    params JSON,
    PRIMARY KEY (name, version)
)""",
            """CREATE TABLE predictions (
    mode VARCHAR,
    unit_column VARCHAR,
    unit VARCHAR,
    tick TIMESTAMPTZ,
    made_at TIMESTAMPTZ,
    horizon_s DOUBLE,
    probability DOUBLE,
    threshold DOUBLE,
    alert BOOLEAN,
    anomaly_score DOUBLE,
    model_name VARCHAR,
    model_version INTEGER,
    explanation JSON
)""",
            """CREATE TABLE drift_events (
    model_name VARCHAR,
    model_version INTEGER,
    detected_at TIMESTAMPTZ,
    detector VARCHAR,
    detail JSON
)""",
        ),
    ),
    Migration(
        5,
        "retraining runs",
        (
            """CREATE TABLE retrain_runs (
    run_id VARCHAR PRIMARY KEY,
    model_name VARCHAR,
    started_at TIMESTAMPTZ,
    finished_at TIMESTAMPTZ,
    trigger VARCHAR,
    train_from TIMESTAMPTZ,
    holdout_from TIMESTAMPTZ,
    holdout_to TIMESTAMPTZ,
    promoted BOOLEAN,
    promoted_version INTEGER,
    production_version INTEGER,
    decision VARCHAR,
    reason VARCHAR,
    candidates JSON
)""",
        ),
    ),
    Migration(
        6,
        "source_ip and user promoted from attrs to columns",
        (
            *(
                f"ALTER TABLE events ADD COLUMN IF NOT EXISTS {name} VARCHAR"
                for name in PROMOTED_ATTRS
            ),
            "UPDATE events SET "
            + ", ".join(f"{name} = attrs ->> '{name}'" for name in PROMOTED_ATTRS)
            + " WHERE attrs IS NOT NULL AND ("
            + " OR ".join(f"(attrs ->> '{name}') IS NOT NULL" for name in PROMOTED_ATTRS)
            + ")",
        ),
    ),
    Migration(
        7,
        "model blob signatures; one prediction per (mode, unit column, unit, tick, horizon)",
        (
            # NULL for every version stored before: unsigned blobs are never unpickled until
            # the user re-signs them (`faultcast models resign`).
            "ALTER TABLE model_registry ADD COLUMN IF NOT EXISTS signature VARCHAR",
            # Predictions are upserted from now on; keep the newest of rows stored twice.
            """DELETE FROM predictions WHERE rowid IN (
    SELECT rowid FROM (
        SELECT rowid, row_number() OVER (
            PARTITION BY mode, unit_column, unit, tick, horizon_s
            ORDER BY model_version DESC, made_at DESC) AS copy
        FROM predictions)
    WHERE copy > 1)""",
        ),
    ),
    Migration(
        8,
        "API keys of the HTTP API (hashed)",
        (
            """CREATE TABLE IF NOT EXISTS api_keys (
    name VARCHAR PRIMARY KEY,
    key_hash VARCHAR UNIQUE,
    key_prefix VARCHAR,
    scope VARCHAR,
    created_at TIMESTAMPTZ,
    last_used_at TIMESTAMPTZ,
    revoked_at TIMESTAMPTZ
)""",
        ),
    ),
    Migration(
        9,
        "issues (errors grouped by fingerprint), their status changes; events.issue_id",
        (
            "ALTER TABLE events ADD COLUMN IF NOT EXISTS issue_id VARCHAR",
            """CREATE TABLE IF NOT EXISTS issues (
    issue_id VARCHAR PRIMARY KEY,
    fingerprint VARCHAR,
    title VARCHAR,
    status VARCHAR,
    level VARCHAR,
    error_type VARCHAR,
    template_id VARCHAR,
    template VARCHAR,
    services VARCHAR[],
    count BIGINT,
    sessions BIGINT,
    users BIGINT,
    first_seen TIMESTAMPTZ,
    last_seen TIMESTAMPTZ,
    first_release VARCHAR,
    last_release VARCHAR,
    resolved_at TIMESTAMPTZ,
    resolved_in_release VARCHAR,
    resolved_next_release BOOLEAN,
    ignore_until TIMESTAMPTZ,
    ignore_until_count BIGINT,
    status_changed_at TIMESTAMPTZ
)""",
            """CREATE TABLE IF NOT EXISTS issue_changes (
    issue_id VARCHAR,
    "at" TIMESTAMPTZ,
    from_status VARCHAR,
    to_status VARCHAR,
    actor VARCHAR,
    reason VARCHAR
)""",
            # The distinct sessions and users of each issue (its counts stay exact and
            # incremental: a batch adds only the pairs not seen before).
            "CREATE TABLE IF NOT EXISTS issue_sessions (issue_id VARCHAR, session_key VARCHAR)",
            'CREATE TABLE IF NOT EXISTS issue_users (issue_id VARCHAR, "user" VARCHAR)',
        ),
        # Events stored before: their issue ids and the issues they make.
        backfill=index_sql(""),
    ),
    Migration(
        10,
        "alerts, their history and silences",
        (
            # One row per alert: a key (rule, unit, pattern; '' where a rule has no unit or
            # pattern) is pending or firing at most once at a time; a resolved alert stays as
            # history and a recurrence is a new alert.
            """CREATE TABLE IF NOT EXISTS alerts (
    id VARCHAR PRIMARY KEY,
    rule VARCHAR NOT NULL,
    unit VARCHAR NOT NULL,
    pattern VARCHAR NOT NULL,
    state VARCHAR NOT NULL,
    severity VARCHAR,
    summary VARCHAR,
    details JSON,
    value DOUBLE,
    threshold DOUBLE,
    active_since TIMESTAMPTZ,
    fired_at TIMESTAMPTZ,
    resolved_at TIMESTAMPTZ,
    evaluated_at TIMESTAMPTZ,
    notified_at TIMESTAMPTZ,
    notifications INTEGER DEFAULT 0,
    acknowledged_at TIMESTAMPTZ,
    acknowledged_by VARCHAR
)""",
            # Every change of state and every notification attempt (target: the masked URL).
            """CREATE TABLE IF NOT EXISTS alert_history (
    alert_id VARCHAR,
    ts TIMESTAMPTZ,
    event VARCHAR,
    target VARCHAR,
    target_id VARCHAR,
    ok BOOLEAN,
    detail JSON
)""",
            """CREATE TABLE IF NOT EXISTS alert_silences (
    id VARCHAR PRIMARY KEY,
    rule VARCHAR,
    unit VARCHAR,
    starts_at TIMESTAMPTZ,
    ends_at TIMESTAMPTZ,
    comment VARCHAR,
    created_by VARCHAR,
    created_at TIMESTAMPTZ
)""",
        ),
    ),
)

LATEST_VERSION: Final[int] = MIGRATIONS[-1].version
