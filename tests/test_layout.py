"""Packaging and layering: every package folder ships, every __all__ name exists, layers hold."""

from __future__ import annotations

import ast
import importlib
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PACKAGE_DIR: dict[str, str] = PYPROJECT["tool"]["setuptools"]["package-dir"]

#: What each layer may import of faultcast (DESIGN.md, "Layout").
ALLOWED = {
    "ingest": {"faultcast.ingest"},
    "models": {"faultcast.ingest", "faultcast.models"},
    "analytics": {"faultcast.ingest", "faultcast.analytics"},
    "dashboard": {"faultcast.analytics", "faultcast.models", "faultcast.dashboard"},
}


def _package_folders() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for name, folder in PACKAGE_DIR.items():
        base = ROOT / folder
        for init in base.rglob("__init__.py"):
            rel = init.parent.relative_to(base)
            dotted = ".".join([name, *rel.parts]) if rel.parts else name
            found[dotted] = init.parent
    return found


def test_every_package_folder_is_listed_for_the_wheel() -> None:
    listed = set(PYPROJECT["tool"]["setuptools"]["packages"])
    assert set(_package_folders()) == listed


@pytest.mark.parametrize("package", sorted(PYPROJECT["tool"]["setuptools"]["packages"]))
def test_every_name_in_all_exists(package: str) -> None:
    module = importlib.import_module(package)
    for name in getattr(module, "__all__", []):
        assert hasattr(module, name), f"{package}.__all__ names {name!r}, which does not exist"


def _faultcast_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names if a.name.split(".")[0] == "faultcast")
        elif (
            isinstance(node, ast.ImportFrom)
            and node.module
            and node.level == 0
            and node.module.split(".")[0] == "faultcast"
        ):
            names.add(node.module)
    return names


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_layers_import_only_what_they_may(layer: str) -> None:
    allowed = ALLOWED[layer]
    for path in (ROOT / layer).rglob("*.py"):
        for name in _faultcast_imports(path):
            assert any(name == a or name.startswith(a + ".") for a in allowed), (
                f"{path.relative_to(ROOT)} imports {name}; {layer} may import only {sorted(allowed)}"
            )


def test_dashboard_holds_no_sql_driver() -> None:
    for path in (ROOT / "dashboard").rglob("*.py"):
        text = path.read_text()
        assert "import duckdb" not in text and "faultcast.ingest" not in text, path


def test_duckdb_is_pinned_to_one_minor_version() -> None:
    deps = [d for d in PYPROJECT["project"]["dependencies"] if d.startswith("duckdb")]
    assert deps == ["duckdb>=2.0,<2.1"]


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports (at any depth of its code), as written."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_the_facade_holds_no_sql_driver() -> None:
    imported = _imports(ROOT / "faultcast" / "_facade.py")
    assert not {n for n in imported if n.split(".")[0] == "duckdb"}, (
        "faultcast/_facade.py imports duckdb: it delegates to ingest and analytics"
    )
    source = (ROOT / "faultcast" / "_facade.py").read_text()
    for sql in ("SELECT ", "INSERT ", "query_df(", ".execute(", "reading()"):
        assert sql not in source, f"faultcast/_facade.py runs SQL ({sql!r}): put it in analytics"


def test_the_sdk_imports_nothing_but_itself() -> None:
    """DESIGN.md: the SDK is stdlib only (structlog, orjson, prometheus_client and
    confluent_kafka optional, imported where used) and installable alone."""
    optional = {"structlog", "orjson", "prometheus_client", "confluent_kafka"}
    for path in (ROOT / "faultcast" / "sdk").rglob("*.py"):
        for name in _imports(path):
            top = name.split(".")[0]
            if top == "faultcast":
                assert name == "faultcast.sdk" or name.startswith("faultcast.sdk."), (path, name)
            else:
                assert top in sys.stdlib_module_names or top in optional, (path, name)


def test_the_cli_modules_import_no_heavy_module_at_top_level() -> None:
    heavy = {"duckdb", "pandas", "pyarrow", "numpy", "river", "rich", "structlog", "streamlit"}
    for path in (ROOT / "faultcast" / "cli").rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in tree.body:
            if isinstance(node, ast.Import):
                names = {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = {node.module}
            else:
                continue
            for name in names:
                assert name.split(".")[0] not in heavy, (path, name)
                assert name != "faultcast._facade", (path, name)
