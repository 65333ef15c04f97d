"""The worked notebooks: committed without outputs, and run top to bottom in a real kernel."""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import pytest
from _notebook_client import SLICE_SECONDS, execute_notebook

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
NAMES = ["01_text_corpus", "02_single_cell", "03_tables_missing_values"]
KERNEL = "cocluster-kit-tests"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


def read(name: str):
    import nbformat

    return nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)


def test_every_notebook_is_listed():
    assert sorted(path.stem for path in NOTEBOOKS.glob("*.ipynb")) == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_committed_notebooks_have_no_outputs(name):
    import nbformat

    notebook = read(name)
    nbformat.validate(notebook)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{name}: a cell has outputs; strip them before committing"
            assert cell.execution_count is None, f"{name}: execution counts must be None"
    assert "widgets" not in notebook.metadata
    sources = "\n".join(cell.source for cell in notebook.cells)
    assert "max_epochs" in sources and "**Speed.**" in sources
    assert "import widgets" not in sources and "from widgets" not in sources


@pytest.fixture(scope="module")
def kernel_path(tmp_path_factory) -> Path:
    """A kernelspec folder whose kernel is this interpreter (the venv's python)."""
    root = tmp_path_factory.mktemp("jupyter")
    spec = root / "kernels" / KERNEL
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "cocluster-kit tests",
                "language": "python",
            }
        )
    )
    return root


def widget_outputs(notebook) -> list[dict]:
    """Outputs captured into the notebook's Output widgets (kept in the widget state)."""
    state = notebook.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    return [
        output
        for model in state.values()
        if model.get("model_name") == "OutputModel"
        for output in model.get("state", {}).get("outputs", [])
    ]


@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs_top_to_bottom(name, kernel_path, monkeypatch):
    monkeypatch.setenv("JUPYTER_PATH", str(kernel_path))
    monkeypatch.delenv("MPLBACKEND", raising=False)  # the kernel draws inline
    # One torch thread: on these small matrices a second one only waits for the first, and
    # on a busy machine that waiting slowed the fits tenfold.
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    notebook = read(name)
    # every cell takes under 30 s on two cores; a cell that hangs fails in 5 minutes
    seconds, late_wakeups = execute_notebook(
        notebook, kernel_name=KERNEL, path=str(NOTEBOOKS), timeout=300
    )
    print(f"{name}: executed in {seconds:.1f} s")
    if late_wakeups:
        warnings.warn(
            f"{name}: {late_wakeups} kernel message(s) were read only when a "
            f"{SLICE_SECONDS} s wait ran out (missed zmq wake-ups; see tests/_notebook_client.py)",
            stacklevel=1,
        )
    outputs = [output for cell in notebook.cells for output in cell.get("outputs", [])]
    assert not [output for output in outputs if output.output_type == "error"]
    streams = "".join(output.get("text", "") for output in outputs if "text" in output)
    assert "Traceback" not in streams
    widgets = [output for output in outputs if WIDGET_VIEW in output.get("data", {})]
    assert widgets, f"{name} displays no widget"
    # the explorers' figures went into their Output widgets, as PNG pictures
    pictures = [output for output in widget_outputs(notebook) if "image/png" in output["data"]]
    assert pictures, f"{name}: no figure was shown inside a widget"
