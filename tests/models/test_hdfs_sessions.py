"""Session mode on real HDFS logs (Loghub): the acceptance figures of the prediction issue."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import faultcast
from tests.conftest import SHARED_DATA

HDFS = SHARED_DATA / "loghub" / "HDFS_sessions"
pytestmark = [
    pytest.mark.data,
    pytest.mark.skipif(
        not (HDFS / "HDFS_dev.log").exists(),
        reason=f"Loghub HDFS_sessions not found at {HDFS} (../shared/data is not in this checkout)",
    ),
]


@pytest.fixture(scope="module")
def hdfs(tmp_path_factory: pytest.TempPathFactory) -> Any:
    fc = faultcast.connect(tmp_path_factory.mktemp("hdfs") / "hdfs.duckdb")
    report = fc.ingest(
        HDFS / "HDFS_dev.log",
        format="text",
        log_format="<Date> <Time> <Pid> <Level> <Component>: <Content>",
        session_key=r"blk_-?[0-9]+",
    )
    assert report.quarantined == 0 and report.stored == 108_933
    return fc


def test_supervised_online_f1(hdfs: Any) -> None:
    result = hdfs.backtest("session", labels=HDFS / "anomaly_label.csv")
    assert result["sessions"] == 5648 and result["positives"] == 170
    assert result["unlabelled_sessions"] == 0
    assert result["f1"] >= 0.95, result
    batch = result["baselines"]["batch_sklearn"]
    assert result["second_half"]["online"]["f1"] > batch["f1"]
    assert result["second_half"]["online"]["f1"] > result["baselines"]["static_threshold"]["f1"]


def test_unsupervised_online_f1(hdfs: Any) -> None:
    result = hdfs.backtest("session", labels=Path(HDFS / "anomaly_label.csv"), unsupervised=True)
    assert result["model"] == "RareTemplateDetector"
    assert result["f1"] >= 0.80, result
