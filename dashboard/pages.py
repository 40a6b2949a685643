"""The dashboard's pages: each reads its inputs, makes one cached data call, and draws.

The pages run inside the Streamlit app (:mod:`faultcast.dashboard.app`), which puts the
store paths and the chosen time range in ``st.session_state`` (see :func:`context`).  They
hold no SQL: their data comes from :mod:`faultcast.dashboard.data` through the cache of
:mod:`faultcast.dashboard._cache`.
"""

from __future__ import annotations

from typing import Any, Final

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st
from faultcast.analytics import printable, printable_frame
from faultcast.dashboard import _cache
from faultcast.dashboard.data import TIME_RANGES

#: Session-state keys the app sets for the pages.
PATHS_KEY: Final[str] = "faultcast_paths"
RANGE_KEY: Final[str] = "faultcast_range"
DEFAULT_RANGE: Final[str] = "last 24 hours"


def context() -> tuple[tuple[str, ...], str | None]:
    """The store paths and the ``since`` of the time range the sidebar chose."""
    paths: tuple[str, ...] = tuple(st.session_state.get(PATHS_KEY, ("faultcast.duckdb",)))
    label = st.session_state.get(RANGE_KEY, DEFAULT_RANGE)
    return paths, TIME_RANGES.get(label, TIME_RANGES[DEFAULT_RANGE])


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


#: Trace attributes that can carry stored text (unit names, templates, categories).
_TEXT_ATTRIBUTES: Final[tuple[str, ...]] = (
    "x", "y", "text", "hovertext", "customdata", "name", "legendgroup", "hovertemplate",
    "labels", "ids",
)  # fmt: skip


def _printable_values(value: Any) -> Any:
    """``value`` (text, or nested sequences of it) with :func:`printable` text."""
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, list | tuple) or bool(getattr(value, "ndim", 0)):
        return [_printable_values(v) for v in value]
    return value


def printable_figure(fig: go.Figure) -> go.Figure:
    """``fig`` with control and bidi characters in its traces' text shown escaped.

    >>> fig = px.bar(pd.DataFrame({"unit": ["api\\x1b[2J"], "n": [1]}), x="unit", y="n")
    >>> list(printable_figure(fig).data[0].x)
    ['api\\\\x1b[2J']
    """

    def escape(trace: Any) -> None:
        for attribute in _TEXT_ATTRIBUTES:
            if attribute in trace and trace[attribute] is not None:
                value = trace[attribute]
                if isinstance(value, str) or _holds_text(value):
                    trace[attribute] = _printable_values(value)

    fig.for_each_trace(escape)
    return fig


def _holds_text(value: Any) -> bool:
    if isinstance(value, str):
        return True
    if getattr(getattr(value, "dtype", None), "kind", "O") in "biufcmM":
        return False  # a numeric or time array: no text
    if isinstance(value, list | tuple) or bool(getattr(value, "ndim", 0)):
        return any(_holds_text(v) for v in value)
    return False


def _chart(fig: go.Figure, key: str) -> None:
    fig.update_layout(margin={"l": 10, "r": 10, "t": 40, "b": 10}, legend_title_text="")
    st.plotly_chart(printable_figure(fig), key=key)


def _table(df: pd.DataFrame, key: str, empty: str) -> None:
    if df.empty:
        st.info(empty)
    else:
        # Stored text with its control and bidi characters shown escaped, not acted on.
        st.dataframe(printable_frame(df), hide_index=True, key=key)


def _services(paths: tuple[str, ...], since: str | None, key: str) -> tuple[str, ...]:
    options = _cache.filter_options(paths, since)
    return tuple(
        st.multiselect(
            "Service", options.services, key=key, placeholder="all services", format_func=printable
        )
    )


# ---------------------------------------------------------------------------------- pages
def overview() -> None:
    """KPI tiles, the seed's scorecard, errors over time and the riskiest units now."""
    paths, since = context()
    d = _cache.overview(paths, since)
    st.header("Overview")
    tiles = st.columns(5)
    tiles[0].metric(
        "Error rate", _pct(d.error_rate), help=f"{d.errors:,} errors in {d.events:,} events"
    )
    tiles[1].metric("Recovery success", _pct(d.recovery_success))
    tiles[2].metric(
        "Mean recovery time",
        "–" if d.mean_recovery_ms is None else f"{d.mean_recovery_ms:,.0f} ms",
    )
    tiles[3].metric(
        "Units at risk now",
        f"{d.units_at_risk} of {d.units_predicted}" if d.units_predicted else "–",
        help="units whose latest failure prediction is over its alert threshold",
    )
    tiles[4].metric("New patterns", f"{d.new_patterns}", help="first seen in this time range")
    st.subheader("Success criteria")
    card = d.scorecard.assign(
        status=d.scorecard["passed"].map({True: "pass", False: "FAIL"}).fillna("n/a")
    )
    _table(
        card[["criterion", "description", "value", "comparison", "target", "status", "evidence"]],
        "scorecard",
        "Nothing to measure yet.",
    )
    left, right = st.columns([3, 2])
    with left:
        if d.errors_over_time.empty:
            st.info("No errors in this time range.")
        else:
            _chart(
                px.bar(
                    d.errors_over_time, x="bucket", y="errors", color="category",
                    title="Errors by category",
                ),
                "overview_errors",
            )  # fmt: skip
    with right:
        st.subheader("Failure risk now")
        _table(d.risk_now, "overview_risk", "No predictions yet: run `faultcast learn`.")


def errors() -> None:
    """Error frequency over time, filtered by service, category and level."""
    paths, since = context()
    st.header("Errors")
    options = _cache.filter_options(paths, since)
    cols = st.columns(4)
    by = cols[0].selectbox("Group by", ["category", "service", "level", "error_type"], key="e_by")
    service = cols[1].multiselect(
        "Service", options.services, key="e_service", placeholder="all", format_func=printable
    )
    category = cols[2].multiselect(
        "Category",
        options.categories,
        key="e_category",
        placeholder="all",
        format_func=printable,
    )
    level = cols[3].multiselect(
        "Level", options.levels, key="e_level", placeholder="all", format_func=printable
    )
    d = _cache.errors(paths, since, by, tuple(service), tuple(category), tuple(level))
    total = int(d.totals["errors"].sum()) if len(d.totals) else 0
    failures = int(d.totals["failures"].sum()) if len(d.totals) else 0
    tiles = st.columns(3)
    tiles[0].metric("Errors", f"{total:,}")
    tiles[1].metric("Failures", f"{failures:,}")
    tiles[2].metric("Bucket", d.bucket)
    if d.over_time.empty:
        st.info("No errors match these filters in this time range.")
        return
    _chart(
        px.bar(
            d.over_time, x="bucket", y="errors", color=by, title=f"Errors per {d.bucket} by {by}"
        ),
        "errors_over_time",
    )
    left, right = st.columns(2)
    with left:
        st.subheader(f"Errors by {by}")
        _table(d.totals, "errors_totals", "No errors.")
    with right:
        st.subheader("Error rate by service")
        _table(d.rates, "errors_rates", "No events.")


def patterns() -> None:
    """The top, new, surging and precursor patterns."""
    paths, since = context()
    st.header("Patterns")
    cols = st.columns(2)
    window = cols[0].selectbox(
        "New / surging within the last", ["15m", "1h", "6h", "24h"], index=1, key="p_window"
    )
    with cols[1]:
        service = _services(paths, since, "p_service")
    d = _cache.patterns(paths, since, window, service)
    top, new, surging, precursors = st.tabs(["Top", "New", "Surging", "Precursors"])
    with top:
        if not d.top.empty:
            _chart(
                px.bar(
                    d.top.head(15).iloc[::-1], x="count", y="template_id", orientation="h",
                    hover_data=["template"], title="Most frequent patterns",
                ),
                "patterns_top",
            )  # fmt: skip
        _table(d.top, "patterns_top_table", "No patterns in this time range.")
    with new:
        st.caption(f"First seen within the last {window} (of event time).")
        _table(d.new, "patterns_new", f"No pattern first seen in the last {window}.")
    with surging:
        st.caption(f"Well above their own baseline within the last {window}.")
        _table(d.surging, "patterns_surging", f"No pattern surging in the last {window}.")
    with precursors:
        st.caption("Patterns more frequent in the 15 minutes before failures than elsewhere.")
        _table(d.precursors, "patterns_precursors", "No precursor pattern with enough support.")


def recovery() -> None:
    """Success by action x category, recovery times, retries and the recommender's advice."""
    paths, since = context()
    st.header("Recovery")
    service = _services(paths, since, "r_service")
    d = _cache.recovery(paths, since, service)
    if d.success.empty:
        st.info("No recovery attempts in this time range.")
    else:
        grid = d.success.pivot_table(
            index="recovery_action", columns="category", values="success_rate", aggfunc="first"
        )
        fig = px.imshow(
            grid, text_auto=".0%", zmin=0, zmax=1, color_continuous_scale="RdYlGn", aspect="auto",
            title="Recovery success by action and category",
        )  # fmt: skip
        _chart(fig, "recovery_heatmap")
    left, right = st.columns(2)
    with left:
        if not d.times_by_outcome.empty:
            times = d.times_by_outcome.assign(
                to_p95=d.times_by_outcome["p95_ms"] - d.times_by_outcome["p50_ms"]
            )
            _chart(
                px.bar(
                    times, x="recovery_action", y="p50_ms", color="recovery_outcome",
                    error_y="to_p95", barmode="group", log_y=True,
                    hover_data=["attempts", "mean_ms", "p95_ms", "max_ms"],
                    title="Recovery time: median, whisker to p95 (ms)",
                ),
                "recovery_times",
            )  # fmt: skip
        _table(d.times, "recovery_times_table", "No timed recoveries.")
    with right:
        if not d.retries.empty:
            _chart(
                px.bar(
                    d.retries, x="retry_count", y="events", color="success_rate",
                    color_continuous_scale="RdYlGn", range_color=(0, 1), title="Retries",
                ),
                "recovery_retries",
            )  # fmt: skip
        else:
            st.info("No retried errors in this time range.")
    st.subheader("What the recommender would do now")
    st.caption("For the most frequent kinds of error in this range, learned from every outcome.")
    _table(d.advice, "recovery_advice", d.advice_note or "No advice.")


def predictions() -> None:
    """Risk per unit now and why, the risk timeline with the failures, and past quality."""
    paths, since = context()
    st.header("Predictions")
    service = _services(paths, since, "f_service")
    d = _cache.predictions(paths, since, service)
    if d.risk_now.empty:
        st.info("No predictions yet: run `faultcast learn` (or `faultcast serve`).")
        return
    now = d.risk_now.iloc[0]
    st.caption(
        f"Risk now answered by production version {now['model_version']} of "
        f"{now['model_name']}"
        + ("" if now["status"] == "ready" else f"; {now['status']}: no alerts until then")
    )
    q = d.quality.iloc[0] if len(d.quality) else None
    tiles = st.columns(4)
    tiles[0].metric("Precision", "–" if q is None else _pct(_num(q["precision"])))
    tiles[1].metric("Recall", "–" if q is None else _pct(_num(q["recall"])))
    lead = None if q is None else _num(q["median_lead_s"])
    tiles[2].metric("Median lead time", "–" if lead is None else f"{lead / 60:.1f} min")
    tiles[3].metric(
        "Failures caught", "–" if q is None else f"{int(q['caught'])} of {int(q['onsets'])}"
    )
    left, right = st.columns([2, 3])
    with left:
        st.subheader("Risk now")
        fig = px.bar(d.risk_now, x="unit", y="probability", color="alert", range_y=(0, 1))
        if len(d.risk_now):
            fig.add_hline(y=float(d.risk_now["threshold"].iloc[0]), line_dash="dash")
        _chart(fig, "predictions_risk")
        unit = st.selectbox("Why", d.risk_now["unit"].tolist(), key="f_unit", format_func=printable)
        why = d.contributions[d.contributions["unit"] == unit]
        _table(
            why[["feature", "value", "contribution", "text"]],
            "predictions_why",
            "No explanation stored for this unit's latest prediction.",
        )
    with right:
        _chart(_timeline(d.timeline), "predictions_timeline")
    left, right = st.columns(2)
    with left:
        quality = d.quality_over_time.melt(
            id_vars=["bucket"], value_vars=["precision", "recall"], var_name="metric"
        )
        _chart(
            px.line(quality, x="bucket", y="value", color="metric", markers=True,
                    title="Precision and recall of past predictions"),
            "predictions_quality",
        )  # fmt: skip
    with right:
        fig = px.scatter(
            d.calibration, x="mean_probability", y="observed_rate", size="predictions",
            range_x=(0, 1), range_y=(0, 1), title="Calibration",
        )  # fmt: skip
        fig.add_shape(type="line", x0=0, y0=0, x1=1, y1=1, line={"dash": "dot"})
        _chart(fig, "predictions_calibration")


def _num(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def _timeline(timeline: pd.DataFrame) -> go.Figure:
    preds = timeline[timeline["kind"] == "prediction"]
    onsets = timeline[timeline["kind"] == "onset"]
    fig = px.line(preds, x="ts", y="probability", color="unit", title="Risk over time")
    if len(onsets):
        fig.add_trace(
            go.Scatter(
                x=onsets["ts"], y=[1.0] * len(onsets), mode="markers", name="failure",
                marker={"symbol": "x", "size": 10, "color": "crimson"}, text=onsets["unit"],
            )
        )  # fmt: skip
    fig.update_yaxes(range=(0, 1.05))
    return fig


def security() -> None:
    """Authentication failures, authorisation violations, incidents and lockouts."""
    paths, since = context()
    st.header("Security")
    service = _services(paths, since, "s_service")
    d = _cache.security(paths, since, service)
    tiles = st.columns(4)
    tiles[0].metric("Authentication failures", f"{int(d.auth_failures['auth_failures'].sum()):,}")
    tiles[1].metric("Authorisation violations", f"{int(d.violations['violations'].sum()):,}")
    tiles[2].metric("Incidents", f"{len(d.incidents):,}")
    tiles[3].metric("Lockouts", f"{len(d.lockouts):,}")
    if not d.auth_over_time.empty:
        _chart(
            px.bar(d.auth_over_time, x="bucket", y="auth_failures", color="service",
                   title="Authentication failures"),
            "security_auth",
        )  # fmt: skip
    left, right = st.columns(2)
    with left:
        st.subheader("Authentication failures by service")
        _table(d.auth_failures, "security_auth_table", "No authentication failures.")
        st.subheader("Authorisation violations")
        _table(d.violations, "security_violations", "No authorisation violations.")
    with right:
        st.subheader("Time to respond")
        _table(d.response, "security_response", "No incidents.")
        st.subheader("Lockouts")
        _table(d.lockouts, "security_lockouts", "No lockouts.")
    st.subheader("Incidents")
    _table(d.incidents, "security_incidents", "No security incidents in this time range.")


def models() -> None:
    """Registry versions, their metrics over time, drift events and the last retrain."""
    paths, since = context()
    st.header("Models")
    d = _cache.models(paths, since)
    if d.versions.empty:
        st.info("No model yet: run `faultcast learn`, then `faultcast retrain`.")
        return
    last = d.last_retrain
    tiles = st.columns(3)
    production = d.versions[d.versions["status"] == "production"]
    tiles[0].metric(
        "In production",
        ", ".join(f"{r.name} v{r.version}" for r in production.itertuples()) or "–",
    )
    tiles[1].metric("Drift events", f"{len(d.drift):,}")
    tiles[2].metric(
        "Last retrain",
        "never" if not last else str(last["decision"]),
        help=None if not last else f"{last['started_at']}: {last['reason']}",
    )
    st.subheader("Registry")
    _table(d.versions, "models_versions", "No versions.")
    left, right = st.columns(2)
    with left:
        if not d.version_metrics.empty:
            _chart(
                px.line(d.version_metrics, x="version", y="value", color="metric",
                        markers=True, hover_data=["status", "created_at"],
                        title="Holdout metrics per version"),
                "models_version_metrics",
            )  # fmt: skip
    with right:
        if not d.quality_over_time.empty:
            quality = d.quality_over_time.melt(
                id_vars=["bucket"], value_vars=["precision", "recall"], var_name="metric"
            )
            _chart(
                px.line(quality, x="bucket", y="value", color="metric", markers=True,
                        title="Live precision and recall over time"),
                "models_quality",
            )  # fmt: skip
    st.subheader("Drift events")
    _table(d.drift, "models_drift", "No drift detected.")
    st.subheader("Retraining runs")
    _table(d.retrains, "models_retrains", "No retraining run yet: `faultcast retrain`.")


def first_run() -> None:
    """What to do with an empty store: how to get events in."""
    paths, _ = context()
    db = paths[0]
    st.header("Welcome to faultcast")
    st.markdown(
        f"The store **{', '.join(paths)}** has no events yet. Ingest some, and this page turns "
        "into the dashboard (it checks again every few seconds)."
    )
    st.subheader("Try it with simulated events")
    st.code(
        f"faultcast simulate --services 4 --hours 6 --out events.jsonl\n"
        f"faultcast ingest events.jsonl --db {db}\n"
        f"faultcast learn --db {db}",
        language="console",
    )
    st.subheader("Or your own logs")
    st.code(
        f"faultcast ingest app.jsonl --db {db}            # structlog / JSON lines\n"
        f"faultcast ingest app.log --db {db} --log-format '<Date> <Time> <Level> <Content>'\n"
        f"faultcast ingest app.jsonl --db {db} --follow   # keep reading as it grows",
        language="console",
    )
    st.caption("Or run `make demo` for a day of 8 simulated services, learned and ready.")


#: Every page of the dashboard: (function, title, url path, icon).
PAGES: Final[tuple[tuple[Any, str, str, str], ...]] = (
    # The first page is the default one: Streamlit serves it at the root URL.
    (overview, "Overview", "overview", ":material/dashboard:"),
    (errors, "Errors", "errors", ":material/error:"),
    (patterns, "Patterns", "patterns", ":material/pattern:"),
    (recovery, "Recovery", "recovery", ":material/healing:"),
    (predictions, "Predictions", "predictions", ":material/online_prediction:"),
    (security, "Security", "security", ":material/shield:"),
    (models, "Models", "models", ":material/model_training:"),
)
