"""Every notebook runs top to bottom without an error, leaves nothing behind, and is committed
without outputs."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MPLBACKEND", "Agg")  # no display; inline figures still render
    # The kernel's temporary folders (the notebook's work folder, 60-100 MB) go under tmp_path.
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    monkeypatch.setenv("TMPDIR", str(temporary))
    notebook = nbformat.read(path, as_version=4)
    # Last, a cell of the test's: the notebook worked in a folder of its own under TMPDIR.
    notebook.cells.append(
        nbformat.v4.new_code_cell(
            f"assert workdir.parent == Path({str(temporary)!r}) and (workdir / 'faultcast.duckdb').exists()"
        )
    )
    client = NotebookClient(
        notebook,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()  # raises CellExecutionError, naming the cell, on the first error
    errors = [
        output
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if output.get("output_type") == "error"
    ]
    assert not errors
    assert not list((ROOT / "notebooks").glob("*.duckdb")), "a notebook wrote into notebooks/"
    # The kernel has stopped (execute() shuts it down): its work folder went with it.
    assert not list(temporary.glob("faultcast-notebook-*")), "the notebook left its folder"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_is_committed_without_outputs(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, (
                f"{path.name} has outputs: strip them (jupyter nbconvert --clear-output)"
            )
