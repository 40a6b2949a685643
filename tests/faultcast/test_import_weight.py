"""Importing the application SDK, and asking the command line for help, load no data stack."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT

#: What an application importing the SDK, or a user asking for help, must not pay for.
HEAVY = (
    "duckdb",
    "pandas",
    "pyarrow",
    "numpy",
    "river",
    "scipy",
    "sklearn",
    "drain3",
    "streamlit",
    "plotly",
)

_REPORT = "import json, sys; print(json.dumps(sorted(m for m in {heavy} if m in sys.modules)))"


def _loaded(code: str) -> list[str]:
    script = code + "\n" + _REPORT.format(heavy=HEAVY)
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return list(json.loads(done.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize(
    "code",
    [
        "import faultcast.sdk",
        "from faultcast import guard, retry, CircuitBreaker, ServiceError, classify",
        "import faultcast; faultcast.Retry; faultcast.StreamBuffer; faultcast.FaultcastProcessor",
        "from faultcast.ingest import FaultcastError, IngestError",
    ],
)
def test_the_sdk_loads_no_data_stack(code: str) -> None:
    assert _loaded(code) == []


def test_the_sdk_imports_structlog_only_when_it_logs() -> None:
    assert _loaded("import faultcast.sdk; import sys; assert 'structlog' not in sys.modules") == []


@pytest.mark.parametrize(
    "args", [["--help"], ["--version"], ["ingest", "--help"], ["models", "--help"]]
)
def test_help_and_version_load_no_data_stack(args: list[str]) -> None:
    code = (
        "import sys\n"
        f"sys.argv = ['faultcast', *{args!r}]\n"
        "from faultcast.cli import main\n"
        "try:\n    main()\nexcept SystemExit as e:\n    assert e.code in (0, None), e.code\n"
    )
    assert _loaded(code) == []


def test_faultcast_names_still_resolve_to_their_definitions() -> None:
    import faultcast
    from faultcast._facade import connect
    from faultcast.sdk import guard

    assert faultcast.connect is connect and faultcast.guard is guard
    assert "connect" in dir(faultcast) and "guard" in dir(faultcast)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        faultcast.nope  # noqa: B018
