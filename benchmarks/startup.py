"""Startup cost: CPU seconds and peak memory of importing the SDK and of ``faultcast --version``
and ``--help``, against importing ``sentry_sdk`` (the SDK an application would otherwise add).

Each command runs as a child process, the commands interleaved round by round (so a busy
machine slows them alike); each child's own CPU time (user + system) and peak RSS come from
``os.wait4``.  Prints one JSON object: the median per command, and the ratios to
``sentry_sdk``'s import.

    python benchmarks/startup.py [--rounds 7]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

#: CPU targets as multiples of sentry_sdk's import CPU, and the SDK's memory target.
TARGETS = {"sdk_import_cpu_ratio": 1.0, "cli_cpu_ratio": 2.0, "sdk_import_peak_rss_mb": 40.0}


def _faultcast_script() -> list[str]:
    script = Path(sys.executable).with_name("faultcast")
    if script.exists():
        return [str(script)]
    found = shutil.which("faultcast")
    return [found] if found else [sys.executable, "-m", "faultcast"]


def commands() -> dict[str, list[str]]:
    python = sys.executable
    cli = _faultcast_script()
    return {
        "python_bare": [python, "-c", "pass"],
        "sentry_sdk_import": [python, "-c", "import sentry_sdk"],
        "faultcast_sdk_import": [python, "-c", "import faultcast.sdk"],
        "faultcast_guard_import": [python, "-c", "from faultcast import guard, retry"],
        "faultcast_version": [*cli, "--version"],
        "faultcast_help": [*cli, "--help"],
    }


def run_once(argv: list[str]) -> tuple[float, float]:
    """CPU seconds (user + system) and peak RSS in MB of one run of ``argv``."""
    process = subprocess.Popen(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=dict(os.environ, COLUMNS="100")
    )
    assert process.stderr is not None
    errors = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"{argv} exited {process.returncode}: {errors.decode()[-2000:]}")
    return usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024  # Linux: KiB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    todo = commands()
    cpu: dict[str, list[float]] = {name: [] for name in todo}
    rss: dict[str, list[float]] = {name: [] for name in todo}
    for argv in todo.values():  # warm the file cache and bytecode once
        run_once(argv)
    for _ in range(args.rounds):
        for name, argv in todo.items():
            seconds, peak = run_once(argv)
            cpu[name].append(seconds)
            rss[name].append(peak)
    results: dict[str, Any] = {
        name: {
            "cpu_s": round(statistics.median(cpu[name]), 4),
            "peak_rss_mb": round(statistics.median(rss[name]), 1),
        }
        for name in todo
    }
    sentry = results["sentry_sdk_import"]["cpu_s"]
    ratios = {
        f"{name}_cpu_vs_sentry_sdk": round(results[name]["cpu_s"] / sentry, 2)
        for name in todo
        if name not in ("sentry_sdk_import", "python_bare")
    }
    met = {
        "sdk_import_cpu": ratios["faultcast_sdk_import_cpu_vs_sentry_sdk"]
        <= TARGETS["sdk_import_cpu_ratio"],
        "sdk_import_peak_rss": results["faultcast_sdk_import"]["peak_rss_mb"]
        <= TARGETS["sdk_import_peak_rss_mb"],
        "version_cpu": ratios["faultcast_version_cpu_vs_sentry_sdk"] <= TARGETS["cli_cpu_ratio"],
        "help_cpu": ratios["faultcast_help_cpu_vs_sentry_sdk"] <= TARGETS["cli_cpu_ratio"],
    }
    print(
        json.dumps(
            {
                "benchmark": "startup",
                "python": sys.version.split()[0],
                "rounds": args.rounds,
                "commands": {name: " ".join(argv) for name, argv in todo.items()},
                "results": results,
                "ratios": ratios,
                "targets": TARGETS,
                "targets_met": met,
            }
        )
    )


if __name__ == "__main__":
    main()
