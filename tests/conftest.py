from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"

# One OpenMP thread per process (this one and the subprocesses the tests start: CLI, notebook
# kernels, serve), set before scikit-learn is imported.  `make test` runs two workers on two
# cores; scikit-learn's HistGradientBoosting (retrain, the batch baselines of backtest) would
# start a thread per core in each, and its spinning threads then wait on each other: one retrain
# of a 20-hour store took 42 s that way under load and 1.5 s with one thread.
os.environ.setdefault("OMP_NUM_THREADS", "1")


def copy_store(source: Path, target: Path) -> Path:
    """Copy a store file closed by another test, with its write-ahead log when DuckDB left one
    (the last commits may be there only, not yet checkpointed into the file)."""
    shutil.copy(source, target)
    wal = Path(f"{source}.wal")
    if wal.exists():
        shutil.copy(wal, f"{target}.wal")
    return target


@pytest.fixture(autouse=True, scope="session")
def _model_key(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """A model signing key for the whole run, never the user's: FAULTCAST_MODEL_KEY set to a
    fresh secret, and XDG_CONFIG_HOME to a temporary directory (for a test that unsets the
    key).  Session-scoped so module-scoped fixtures that learn see it too; subprocesses (CLI,
    serve, notebook kernels) inherit both."""
    import hashlib
    import secrets

    # One key per run, the same in every xdist worker (a store one makes, another may read).
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID") or secrets.token_hex(16)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(
            "FAULTCAST_MODEL_KEY", hashlib.sha256(f"faultcast-tests:{run}".encode()).hexdigest()
        )
        mp.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("config")))
        yield


@pytest.fixture(autouse=True)
def _structlog_restored() -> Iterator[None]:
    """Each test starts from structlog's defaults and leaves them: a command run in process
    (CliRunner) or a test that configures structlog must not change what later tests log."""
    import structlog

    structlog.reset_defaults()
    yield
    structlog.reset_defaults()


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "store.duckdb"


@pytest.fixture
def write_lines(tmp_path: Path) -> Callable[..., Path]:
    """Write lines (dicts become JSON, str/bytes are written as given) to a file."""

    def write(lines: list[Any], name: str = "events.jsonl", mode: str = "wb") -> Path:
        path = tmp_path / name
        with open(path, mode) as f:
            for line in lines:
                if isinstance(line, dict):
                    f.write(json.dumps(line).encode() + b"\n")
                elif isinstance(line, str):
                    f.write(line.encode() + b"\n")
                else:
                    f.write(line + b"\n")
        return path

    return write


def event(i: int, **extra: Any) -> dict[str, Any]:
    """A good structlog-style event, distinct per i."""
    d: dict[str, Any] = {
        "event": f"request {i} to db-{i % 3}:5432 timed out after {100 + i} ms",
        "level": "error",
        "timestamp": f"2026-01-01T00:{(i // 60) % 60:02d}:{i % 60:02d}.{i % 1000:03d}Z",
        "service": f"svc-{i % 4}",
        "error_type": "TimeoutError",
    }
    d.update(extra)
    return d


def run_cli(
    *args: str, input: bytes | None = None, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[bytes]:
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "faultcast", *args],
        input=input,
        capture_output=True,
        env=full_env,
        timeout=timeout,
    )


@pytest.fixture
def cli() -> Callable[..., subprocess.CompletedProcess[bytes]]:
    return run_cli


@pytest.fixture
def no_shared_data() -> Iterator[None]:
    if not SHARED_DATA.exists():
        pytest.skip(
            f"{SHARED_DATA} is absent: the labelled loghub data is not checked out beside this repo"
        )
    yield


# -- how `make test` (pytest -n 2) spreads the tests over its workers ---------------------------
#
# xdist's default (``--dist load``) deals tests out one by one, so both workers build the module-
# and session-scoped fixtures (simulated stores, a Kafka broker) that a module's tests share.
# Here ``-n`` without another ``--dist`` becomes ``--dist loadfile``: one worker runs a whole
# file.  (``loadgroup`` would be finer, but with pytest 9 xdist 3.8 cannot tag the test ids with
# their group.)  And files with a test marked ``slow`` go first, so a long test starts early
# instead of finishing last on one worker while the other idles.


def pytest_configure(config: pytest.Config) -> None:
    if not hasattr(config, "workerinput") and getattr(config.option, "dist", "no") == "load":
        config.option.dist = "loadfile"
        config.option.loadscopereorder = False  # keep the slow-first order below


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    slow_files = {i.nodeid.split("::")[0] for i in items if i.get_closest_marker("slow")}
    items.sort(key=lambda i: i.nodeid.split("::")[0] not in slow_files)  # stable
