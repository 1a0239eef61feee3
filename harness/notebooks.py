"""Project notebooks: a jupytext percent script is the reviewed source, an ``.ipynb`` shows its outputs.

``docs/projects/x.py`` (中文) and ``x.en.py`` (English) hold the same code cells. ``make refresh`` runs the
中文 script in a real Jupyter kernel and writes ``x.ipynb`` and ``x.en.ipynb``: each language's own cells,
with the outputs of that one run (so the twins show the same numbers and figures). mkdocs-jupyter renders
the ``.ipynb``; the ``.py`` is what people edit and review. ``tests/test_projects.py`` then proves that

* each ``.ipynb`` holds exactly the cells of its ``.py`` (the outputs come from the current code), and
* the ``.py``, run again cell by cell (`run_in_process`), prints what the ``.ipynb`` shows under each cell:
  exactly, or within the tolerance that cell declares on its ``# %%`` line (jupytext cell metadata)::

      # %% tolerance="abs=0.02"
      print(f"test accuracy {acc:.3f}")

  The value is what goes between the parentheses of a Markdown page's ``expected-output(...)``
  (`harness.outputs.Tolerance`), and both twins declare the same one.

Figures are not compared (their pixels differ per machine), but a cell that leaves figures open draws
them, and the ``.ipynb`` must show as many images under it. What the tests cannot check is refused
outright: a cell's bare last value (``execute_result``: end the cell with a ``print`` or an assignment),
anything written to stderr (a warning), an error.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import sys
import tempfile
import traceback
import types
from dataclasses import dataclass
from pathlib import Path

import nbformat

from harness.outputs import Tolerance

TOLERANCE_KEY = "tolerance"
ALT_KEY = "alt"  # `# %% alt="..."`: the alt text of the figures a cell draws (hooks/notebooks_i18n.py)
IMAGE_TYPES = ("image/png", "image/svg+xml", "image/jpeg")
KERNEL = {"name": "python3", "display_name": "Python 3", "language": "python"}
# What the recording kernel is told, beyond the environment it inherits (under pytest: conftest's fresh
# HOME, offline switches, PYTHONHASHSEED): draw inline, use as many torch threads as the tests do, and
# do not print tqdm's "IProgress not found" (ipywidgets is not installed; no progress bar is shown).
_KERNEL_ENV = {"MPLBACKEND": "module://matplotlib_inline.backend_inline"}
_KERNEL_WARNINGS = "ignore:IProgress not found"
_KERNEL_ARGS = ["--InlineBackend.figure_formats=retina"]  # sharp on high-density screens
_MARKER = re.compile(r"^# %%.*$", re.MULTILINE)


class NotebookError(ValueError):
    """A notebook that cannot be recorded or checked (a bad tolerance, an output the tests cannot check)."""


def ipynb_path(py: Path) -> Path:
    """``x.py`` → ``x.ipynb``, ``x.en.py`` → ``x.en.ipynb``."""
    return py.with_suffix(".ipynb")


def twin(py: Path) -> Path:
    """The other language's script: ``x.py`` ↔ ``x.en.py``."""
    if py.name.endswith(".en.py"):
        return py.with_name(py.name.removesuffix(".en.py") + ".py")
    return py.with_name(py.name.removesuffix(".py") + ".en.py")


def source(py: Path) -> nbformat.NotebookNode:
    """The notebook that the script `py` describes, without outputs, with stable cell ids."""
    import jupytext

    nb = jupytext.read(py)
    nb.metadata = nbformat.from_dict({"kernelspec": dict(nb.metadata.get("kernelspec") or KERNEL)})
    for i, cell in enumerate(nb.cells):
        cell.id = f"cell-{i}"
        cell.metadata = nbformat.from_dict(
            {k: cell.metadata[k] for k in (TOLERANCE_KEY, ALT_KEY) if k in cell.metadata}
        )
        tolerance(cell, py)  # refuse a bad one now, not when it is first needed
    return nb


def tolerance(cell: nbformat.NotebookNode, where: Path | str = "") -> Tolerance:
    """The tolerance `cell` declares (``# %% tolerance="abs=0.02"``), or the exact one."""
    spec = cell.metadata.get(TOLERANCE_KEY)
    if spec is None:
        return Tolerance()
    try:
        return Tolerance.parse(f"({spec})" if isinstance(spec, str) else "")
    except ValueError as error:
        raise NotebookError(
            f'{where}: write a cell\'s tolerance as # %% tolerance="abs=..., rel=..." ({error})'
        ) from None


def cell_key(cell: nbformat.NotebookNode) -> tuple[str, str, str | None, str | None]:
    """What a recorded cell must copy from its script: its type, source, tolerance and figures' alt text."""
    return cell.cell_type, cell.source, cell.metadata.get(TOLERANCE_KEY), cell.metadata.get(ALT_KEY)


def cells(nb: nbformat.NotebookNode) -> list[tuple]:
    """`cell_key` of every cell, in order."""
    return [cell_key(c) for c in nb.cells]


def code_cells(nb: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [c for c in nb.cells if c.cell_type == "code"]


def stdout(cell: nbformat.NotebookNode) -> str:
    """Everything the cell printed, as the tests compare it."""
    return "".join(
        o.text for o in cell.get("outputs", []) if o.output_type == "stream" and o.name == "stdout"
    )


def images(cell: nbformat.NotebookNode) -> int:
    """How many figures the notebook shows under the cell."""
    return sum(
        1
        for o in cell.get("outputs", [])
        if o.output_type == "display_data" and any(t in o.get("data", {}) for t in IMAGE_TYPES)
    )


def unchecked(cell: nbformat.NotebookNode) -> list[str]:
    """Outputs of `cell` that the tests could not compare, described for an error message."""
    found = []
    for o in cell.get("outputs", []):
        if o.output_type == "stream" and o.name != "stdout":
            found.append(f"{o.name}: {o.text.strip()[:300]}")
        elif o.output_type == "execute_result":
            value = o.get("data", {}).get("text/plain", "")[:80]
            found.append(f"its last value, {value!r} (end the cell with a print or an assignment)")
        elif o.output_type == "error":
            found.append(f"an error: {o.ename}: {o.evalue}")
        elif o.output_type == "display_data" and not any(t in o.get("data", {}) for t in IMAGE_TYPES):
            found.append(f"a displayed {sorted(o.get('data', {}))} (print it instead)")
    return found


# --- running: in this process (the tests) or in a kernel (make refresh) --------------------------------


@dataclass(frozen=True)
class CellRun:
    stdout: str
    figures: int  # figures left open at the end of the cell: the ones a Jupyter kernel shows under it


class CellFailed(Exception):
    """A cell raised while the script ran in this process."""


def _first_lines(py: Path, nb: nbformat.NotebookNode) -> list[int] | None:
    """0-based line of each cell's ``# %%`` marker, so that tracebacks name the script's own lines."""
    text = py.read_text(encoding="utf-8")
    starts = [text.count("\n", 0, m.start()) for m in _MARKER.finditer(text)]
    return starts if len(starts) == len(nb.cells) else None


def run_in_process(py: Path) -> list[CellRun]:
    """Run the script's code cells in order, in a fresh ``__main__`` module, as a kernel would.

    Each cell's stdout is captured on its own; figures it leaves open are counted, then closed (the inline
    backend shows and closes them the same way).

    Raises:
        CellFailed: a cell raised; the message names the script's line and what the cell printed first.
    """
    import matplotlib.pyplot as plt

    nb = source(py)
    lines = _first_lines(py, nb)
    runs = []
    module, saved = types.ModuleType("__main__"), sys.modules["__main__"]
    module.__file__ = str(py)
    sys.modules["__main__"] = module
    try:
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            code = "\n" * (lines[index] + 1 if lines else 0) + cell.source + "\n"
            buffer = io.StringIO()
            with contextlib.redirect_stdout(buffer):
                try:
                    exec(compile(code, str(py), "exec"), module.__dict__)  # noqa: S102 (our own notebook)
                except Exception as error:
                    frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename == str(py)]
                    message = f"{py.name}, cell {index}, raised:\n" + "".join(traceback.format_list(frames))
                    message += "".join(traceback.format_exception_only(error))
                    if buffer.getvalue():
                        message += f"It printed before that:\n{buffer.getvalue()}"
                    raise CellFailed(message) from error
            runs.append(CellRun(buffer.getvalue(), len(plt.get_fignums())))
            plt.close("all")
    finally:
        sys.modules["__main__"] = saved
    return runs


def execute(py: Path, *, timeout: int = 600) -> nbformat.NotebookNode:
    """The notebook of `py`, run from top to bottom in a fresh Jupyter kernel, with its outputs."""
    import nbclient

    nb = source(py)
    threads = os.environ.get("LESSONS_TORCH_THREADS", "1")
    warnings = ",".join(filter(None, [os.environ.get("PYTHONWARNINGS"), _KERNEL_WARNINGS]))
    env = {**os.environ, **_KERNEL_ENV, "OMP_NUM_THREADS": threads, "PYTHONWARNINGS": warnings}
    client = nbclient.NotebookClient(
        nb, timeout=timeout, record_timing=False, extra_arguments=_KERNEL_ARGS, kernel_name="python3"
    )
    with tempfile.TemporaryFile() as log:  # the kernel's own chatter ("running over TCP ...")
        try:
            client.execute(env=env, cwd=str(py.parent), stderr=log)
        except Exception as error:
            log.seek(0)
            raise NotebookError(
                f"{py}: {error}\nkernel log:\n{log.read().decode(errors='replace')}"
            ) from error
    for cell in code_cells(nb):
        cell.outputs = _coalesce(cell.outputs)
    info = nb.metadata.get("language_info", {})
    nb.metadata["language_info"] = {k: v for k, v in info.items() if k != "version"}  # no churn per patch
    return nb


def _coalesce(outputs: list) -> list:
    """Consecutive pieces of one stream as one output, as Jupyter shows them."""
    merged: list = []
    for o in outputs:
        if (
            o.output_type == "stream"
            and merged
            and merged[-1].output_type == "stream"
            and merged[-1].name == o.name
        ):
            merged[-1].text += o.text
        else:
            merged.append(o)
    return merged


# --- comparing and recording ----------------------------------------------------------------------------


def mismatches(recorded: nbformat.NotebookNode, runs: list[CellRun], where: str = "") -> list[str]:
    """Why the `recorded` notebook does not show what the code printed and drew in `runs` (empty: it does)."""
    shown = code_cells(recorded)
    if len(shown) != len(runs):
        return [f"{where}: {len(shown)} code cells recorded, {len(runs)} run"]
    problems = []
    for n, (cell, run) in enumerate(zip(shown, runs, strict=True), 1):
        at = f"{where}, code cell {n} ({cell.source.splitlines()[0] if cell.source else 'empty'!s})"
        for thing in unchecked(cell):
            problems.append(f"{at} shows {thing}")
        why = tolerance(cell, where).mismatch(stdout(cell), run.stdout)
        if why:
            problems.append(
                f"{at}: {why}.\nThe notebook shows:\n{stdout(cell)}The code printed:\n{run.stdout}"
            )
        if images(cell) != run.figures:
            problems.append(f"{at} draws {run.figures} figure(s), the notebook shows {images(cell)}")
    return problems


def dumps(nb: nbformat.NotebookNode) -> str:
    return nbformat.writes(nb, version=4) + "\n"


def record(py: Path) -> list[Path]:
    """Run `py` in a kernel; write its ``.ipynb`` and its twin's; return the files that changed.

    A cell whose recorded outputs still hold (its text within its tolerance, as many images) keeps them,
    so that refreshing on another machine does not rewrite what has not moved. Raises `NotebookError` if
    the run shows something the tests cannot check (see `unchecked`).
    """
    fresh = execute(py)
    problems = [
        f"{py}, code cell {n}: {thing}" for n, c in enumerate(code_cells(fresh), 1) for thing in unchecked(c)
    ]
    if problems:
        raise NotebookError("the notebook shows what the tests cannot check:\n" + "\n".join(problems))
    old_path = ipynb_path(py)
    old = nbformat.reads(old_path.read_text(encoding="utf-8"), as_version=4) if old_path.is_file() else None
    outputs = []
    before = code_cells(old) if old is not None else []
    same_code = len(before) == len(code_cells(fresh))
    for n, cell in enumerate(code_cells(fresh)):
        keep = before[n] if same_code else None
        still = (
            keep is not None
            and cell_key(keep)[:3] == cell_key(cell)[:3]  # same code and tolerance (alt text may change)
            and not unchecked(keep)
            and images(keep) == images(cell)
        )
        if still and tolerance(cell, py).mismatch(stdout(keep), stdout(cell)) is None:
            outputs.append((keep.outputs, keep.get("execution_count")))
        else:
            outputs.append((cell.outputs, cell.execution_count))
    changed = []
    for target in (py, twin(py)):
        if not target.is_file():
            continue
        nb = source(target)
        if [c.source for c in code_cells(nb)] != [c.source for c in code_cells(fresh)]:
            raise NotebookError(f"{target.name} and {py.name} do not hold the same code cells")
        nb.metadata["language_info"] = fresh.metadata.get("language_info", {})
        for cell, (cell_outputs, count) in zip(code_cells(nb), outputs, strict=True):
            cell.outputs, cell.execution_count = cell_outputs, count
        text, path = dumps(nb), ipynb_path(target)
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            changed.append(path)
    return changed
