"""The SDK as its own distribution, ``faultcast-sdk``: built from faultcast/sdk alone, installed
into a fresh virtual environment with nothing else, it imports and guards a call."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT

SDK = ROOT / "faultcast" / "sdk"

GUARDED_CALL = """
import sys
import faultcast.sdk
from faultcast.sdk import classify, guard

@guard(fallback=lambda: "guest")
def name_of():
    raise ConnectionRefusedError("profile service down")

assert name_of() == "guest"
policy = {"category": "communication", "error_type": "ConnectionRefusedError",
          "action": "fallback", "automate": True, "expected_success": 0.9, "trials": 50}
answers = {"/v1/risk": {"risk": []}, "/v1/policy": {"policy": [policy]}}
advisor = faultcast.sdk.Advisor("http://faultcast", fetch=answers.__getitem__, background=False)
assert advisor.refresh() and guard(advisor=advisor, fallback=lambda: "x")(name_of.__wrapped__)() == "x"
assert classify(TimeoutError()).category == "communication"
assert not hasattr(faultcast, "connect")  # a namespace package: the SDK and nothing else
print("ok", sorted(m for m in ("structlog", "orjson", "duckdb") if m in sys.modules))
"""


def test_the_sdk_distribution_has_the_projects_version() -> None:
    sdk = tomllib.loads((SDK / "pyproject.toml").read_text())["project"]
    full = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert sdk["version"] == full["version"] and sdk["dependencies"] == []


@pytest.mark.slow
def test_the_sdk_wheel_installs_and_works_alone(tmp_path: Path) -> None:
    source = tmp_path / "src"
    shutil.copytree(SDK, source, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    dist = tmp_path / "dist"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--no-index", "-w", str(dist), str(source)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert build.returncode == 0, build.stdout + build.stderr
    (wheel,) = dist.glob("faultcast_sdk-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    packages = {n.rsplit("/", 1)[0] for n in names if n.endswith(".py")}
    assert packages == {"faultcast/sdk"}, packages
    assert "faultcast/__init__.py" not in names and "faultcast/sdk/py.typed" in names

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
         "--no-index", str(wheel)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert install.returncode == 0, install.stdout + install.stderr
    run = subprocess.run(
        [str(python), "-I", "-c", GUARDED_CALL], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "ok []"
