"""Project notebooks (docs/projects/): the jupytext ``.py`` is the source, the ``.ipynb`` beside it is what
the site renders, with the outputs `make refresh` recorded (harness/notebooks.py). These tests prove that
the record is of the current code and still holds: each ``.ipynb`` holds its ``.py``'s cells, and the code,
run again cell by cell, prints what the page shows (exactly, or within the cell's declared tolerance) and
draws as many figures. With ``--refresh`` (`make refresh`) the notebooks are recorded first."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from harness import notebooks

PROJECTS = Path(__file__).resolve().parents[1] / "docs" / "projects"
SCRIPTS = sorted(PROJECTS.glob("*.py"))
ZH_SCRIPTS = [p for p in SCRIPTS if not p.name.endswith(".en.py")]

pytestmark = pytest.mark.xdist_group("notebooks")  # one worker: a refresh writes each notebook once


@pytest.fixture(scope="module", autouse=True)
def _refresh(request: pytest.FixtureRequest) -> None:
    if request.config.getoption("refresh", False):
        plugins = request.config.pluginmanager
        reporter, capture = plugins.get_plugin("terminalreporter"), plugins.get_plugin("capturemanager")
        for zh in ZH_SCRIPTS:
            changed = notebooks.record(zh)
            if reporter and capture:
                with capture.global_and_fixture_disabled():
                    reporter.write_line(
                        f"refresh: {zh.name} run in a kernel, {len(changed)} notebooks rewritten"
                    )
                    for path in changed:
                        reporter.write_line(f"  {path}")


def read(py: Path) -> nbformat.NotebookNode:
    path = notebooks.ipynb_path(py)
    if not path.is_file():
        pytest.fail(f"{path.name} is missing: `make refresh` records it from {py.name}")
    return nbformat.reads(path.read_text(encoding="utf-8"), as_version=4)


def test_there_are_projects():
    assert ZH_SCRIPTS, "docs/projects/ holds no notebook"


@pytest.mark.parametrize("zh", ZH_SCRIPTS, ids=lambda p: p.name)
def test_twins_have_identical_code(zh: Path):
    en = notebooks.twin(zh)
    assert en.is_file(), f"{en.name} is missing"
    code = [
        [
            (c.source, c.metadata.get(notebooks.TOLERANCE_KEY))
            for c in notebooks.code_cells(notebooks.source(py))
        ]
        for py in (zh, en)
    ]
    assert code[0], "no code cell found"
    assert code[0] == code[1], "the twins' code cells (or their tolerances) differ"


@pytest.mark.parametrize("py", SCRIPTS, ids=lambda p: p.name)
def test_notebook_is_recorded_from_its_source(py: Path):
    """The .ipynb holds the .py's cells, in order: its outputs come from the current code."""
    want, got = notebooks.cells(notebooks.source(py)), notebooks.cells(read(py))
    for n, (a, b) in enumerate(zip(want, got, strict=False), 1):
        assert a == b, f"cell {n} of {py.stem}.ipynb is not the .py's: `make refresh` re-records it"
    assert len(want) == len(got), f"{py.name} has {len(want)} cells, its .ipynb {len(got)}: `make refresh`"


@pytest.mark.parametrize("zh", ZH_SCRIPTS, ids=lambda p: p.name)
def test_twins_show_the_same_outputs(zh: Path):
    """Both languages show the outputs of one run."""
    a, b = (notebooks.code_cells(read(p)) for p in (zh, notebooks.twin(zh)))
    differ = [n for n, (x, y) in enumerate(zip(a, b, strict=False), 1) if x.outputs != y.outputs]
    if differ or len(a) != len(b):
        pytest.fail(
            f"code cells {differ} of the two .ipynb show different outputs: `make refresh`", pytrace=False
        )


@pytest.mark.parametrize("zh", ZH_SCRIPTS, ids=lambda p: p.name)
def test_notebook_prints_what_it_shows(zh: Path, monkeypatch: pytest.MonkeyPatch):
    """Run the .py again, cell by cell, and compare with what both .ipynb show (text, and figure counts)."""
    monkeypatch.chdir(zh.parent)  # where the kernel ran it
    try:
        runs = notebooks.run_in_process(zh)
    except notebooks.CellFailed as error:
        pytest.fail(str(error), pytrace=False)
    problems = [
        p for py in (zh, notebooks.twin(zh)) for p in notebooks.mismatches(read(py), runs, f"{py.stem}.ipynb")
    ]
    assert not problems, "\n\n".join(problems) + "\n\n(`make refresh` records the notebooks again)"


# --- the machinery itself, on a small notebook ---------------------------------------------------------

SMALL = """\
# %% [markdown]
# # {title}

# %%
import matplotlib.pyplot as plt

print("rows:", 3)

# %% tolerance="abs=0.05" alt="{alt}"
fig, ax = plt.subplots()
_ = ax.plot([0, 1], [0, 1])
print(f"loss {{0.1234:.3f}}")
"""


def small(tmp_path: Path) -> Path:
    zh = tmp_path / "small.py"
    zh.write_text(SMALL.format(title="小例子", alt="一条直线"), encoding="utf-8")
    (tmp_path / "small.en.py").write_text(SMALL.format(title="A small one", alt="A line"), encoding="utf-8")
    return zh


def recorded(py: Path, *stdouts: str, figures: tuple[int, ...] = (0, 1)) -> nbformat.NotebookNode:
    """The notebook of `py` as a kernel would record it, with the given stdout and figures per code cell."""
    nb = notebooks.source(py)
    for cell, text, count in zip(notebooks.code_cells(nb), stdouts, figures, strict=True):
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=text)] * bool(text) + [
            nbformat.v4.new_output(
                "display_data", data={"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"}
            )
        ] * count
    return nb


def test_a_cell_declares_its_tolerance_and_alt_text(tmp_path: Path):
    nb = notebooks.source(small(tmp_path))
    cell = notebooks.code_cells(nb)[1]
    assert notebooks.tolerance(cell).abs == 0.05
    assert cell.metadata[notebooks.ALT_KEY] == "一条直线"
    assert notebooks.tolerance(notebooks.code_cells(nb)[0]).exact


def test_a_bad_tolerance_is_refused(tmp_path: Path):
    py = tmp_path / "bad.py"
    py.write_text('# %% tolerance="abs=-1"\nprint(1)\n', encoding="utf-8")
    with pytest.raises(notebooks.NotebookError, match="tolerance"):
        notebooks.source(py)


def test_outputs_are_compared_within_the_tolerance_and_figures_are_counted(tmp_path: Path):
    py = small(tmp_path)
    runs = notebooks.run_in_process(py)
    assert runs == [notebooks.CellRun("rows: 3\n", 0), notebooks.CellRun("loss 0.123\n", 1)]
    assert notebooks.mismatches(recorded(py, "rows: 3\n", "loss 0.150\n"), runs) == []
    assert "not within (abs=0.05)" in notebooks.mismatches(recorded(py, "rows: 3\n", "loss 0.2\n"), runs)[0]
    assert "differs" in notebooks.mismatches(recorded(py, "rows: 4\n", "loss 0.123\n"), runs)[0]
    missing = notebooks.mismatches(recorded(py, "rows: 3\n", "loss 0.123\n", figures=(0, 0)), runs)
    assert "draws 1 figure(s), the notebook shows 0" in missing[0]


def test_outputs_the_tests_cannot_check_are_refused(tmp_path: Path):
    py = small(tmp_path)
    nb = recorded(py, "rows: 3\n", "loss 0.123\n")
    first = notebooks.code_cells(nb)[0]
    first.outputs += [
        nbformat.v4.new_output("stream", name="stderr", text="UserWarning: careful\n"),
        nbformat.v4.new_output(
            "execute_result", data={"text/plain": "<Generator at 0x7f>"}, execution_count=1
        ),
    ]
    problems = notebooks.mismatches(nb, notebooks.run_in_process(py))
    assert len(problems) == 2
    assert "stderr: UserWarning" in problems[0] and "end the cell with a print" in problems[1]


def test_a_failing_cell_names_its_line(tmp_path: Path):
    py = tmp_path / "fails.py"
    py.write_text("# %%\nx = 1\n\n# %%\nprint('before')\nraise ValueError('no')\n", encoding="utf-8")
    with pytest.raises(notebooks.CellFailed) as info:
        notebooks.run_in_process(py)
    assert "line 6" in str(info.value) and "ValueError: no" in str(info.value) and "before" in str(info.value)


@pytest.mark.slow
def test_record_writes_both_languages_from_one_kernel_run_and_keeps_what_still_holds(tmp_path: Path):
    zh = small(tmp_path)
    en = notebooks.twin(zh)
    assert notebooks.record(zh) == [tmp_path / "small.ipynb", tmp_path / "small.en.ipynb"]
    shown = {py: nbformat.read(notebooks.ipynb_path(py), as_version=4) for py in (zh, en)}
    assert notebooks.cells(shown[en]) == notebooks.cells(notebooks.source(en))
    for nb in shown.values():
        assert notebooks.mismatches(nb, notebooks.run_in_process(zh)) == []
        assert [notebooks.images(c) for c in notebooks.code_cells(nb)] == [0, 1]
    # A number that moved within its tolerance (another machine's record) stays; prose changes are taken.
    for py in (zh, en):
        path = notebooks.ipynb_path(py)
        path.write_text(
            path.read_text(encoding="utf-8").replace("loss 0.123", "loss 0.125"), encoding="utf-8"
        )
    en.write_text(en.read_text(encoding="utf-8").replace("A small one", "A tiny one"), encoding="utf-8")
    assert notebooks.record(zh) == [tmp_path / "small.en.ipynb"]
    assert notebooks.stdout(notebooks.code_cells(read(en))[1]) == "loss 0.125\n"
    assert not notebooks.record(zh)
    # Changed code: that cell's outputs are recorded anew.
    for py in (zh, en):
        py.write_text(py.read_text(encoding="utf-8").replace("0.1234", "0.1334"), encoding="utf-8")
    assert len(notebooks.record(zh)) == 2
    assert notebooks.stdout(notebooks.code_cells(read(zh))[1]) == "loss 0.133\n"
