"""The harness that runs the pages: reading chains and outputs, tolerant comparison, refresh, twins."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest
from harness import markdown
from harness.outputs import Tolerance

ROOT = Path(__file__).resolve().parents[1]

PAGE = textwrap.dedent(
    """\
    # A page

    <!--pytest.mark.slow-->
    ```python
    x = 6 * 7
    print(x)
    ```

    <!--pytest-codeblocks:expected-output-->

    ```
    42
    ```

    Some prose.

    <!--pytest-codeblocks:cont-->

    ```python
    print(f"accuracy {x / 43:.1%}")
    ```

    <!--pytest-codeblocks:expected-output(abs=0.5)-->

    ```
    accuracy 97.9%
    ```

    ```console
    $ not run
    ```

    !!! note
        ```python
        import math
        ```
    """
)


def test_parse_reads_chains_segments_outputs_and_marks(tmp_path):
    chains = markdown.parse(tmp_path / "p.md", PAGE)
    assert [c.lineno for c in chains] == [4, 34]
    first, second = chains
    assert first.marks == ["pytest.mark.slow"] and second.marks == []
    assert [s.fence.code for s in first.segments] == [
        "x = 6 * 7\nprint(x)\n",
        'print(f"accuracy {x / 43:.1%}")\n',
    ]
    assert first.segments[0].output.fence.code == "42\n" and first.segments[0].output.tolerance is None
    assert first.segments[1].output.tolerance == Tolerance(abs=0.5)
    assert second.segments[0].fence.code == "import math\n" and second.segments[0].fence.indent == "    "


@pytest.mark.parametrize(
    "page, error",
    [
        ("<!--pytest-codeblocks:cont-->\n```python\nx = 1\n```\n", "needs an earlier block"),
        ("```console\n$ ls\n```\n<!--pytest-codeblocks:expected-output-->\n```\nx\n```\n", "must follow"),
        ("<!--pytest-codeblocks:nonsense-->\n", "unknown marker"),
        ("```python\nx = 1\n", "never closed"),
        ("```python\nx = 1\n```\n<!--pytest.mark.slow-->\n", "no block to attach to"),
    ],
)
def test_parse_rejects_markers_with_nothing_to_attach_to(tmp_path, page, error):
    with pytest.raises(markdown.MarkdownError, match=error):
        markdown.parse(tmp_path / "p.md", page)


@pytest.mark.parametrize(
    "spec, tolerance",
    [
        ("(abs=0.6)", Tolerance(abs=0.6)),
        ("(rel=0.05)", Tolerance(rel=0.05)),
        ("( abs=1, rel=2 )", Tolerance(1, 2)),
    ],
)
def test_tolerance_parses(spec, tolerance):
    assert Tolerance.parse(spec) == tolerance


@pytest.mark.parametrize(
    "spec", ["abs=1", "(tol=1)", "(abs=-1)", "(abs=x)", "()", "(abs=1, abs=2)", "(rel=inf)"]
)
def test_tolerance_rejects_bad_specs(spec):
    with pytest.raises(ValueError, match="tolerance"):
        Tolerance.parse(spec)


@pytest.mark.parametrize(
    "shown, got, tolerance, ok",
    [
        ("acc 97.8%\n", "acc 97.8%\n", Tolerance(), True),
        ("acc 97.8%\n", "acc 97.9%\n", Tolerance(), False),
        ("acc 97.8%\n", "acc 98.3%\n", Tolerance(abs=0.6), True),
        ("acc 97.8%\n", "acc 98.5%\n", Tolerance(abs=0.6), False),
        ("loss 0.100\n", "loss 0.104\n", Tolerance(rel=0.05), True),
        ("loss 0.100\n", "loss 0.106\n", Tolerance(rel=0.05), False),
        ("acc 97.8%\n", "accuracy 97.8%\n", Tolerance(abs=1), False),  # the words are compared exactly
        ("9.5 | 1\n", "10.1 | 1\n", Tolerance(abs=1), True),  # a wider number may shift the spacing
        ("conv2d 0.5\n", "conv3d 0.5\n", Tolerance(abs=1), False),  # digits of a name are text
        ("a 1 2\n", "a 1\n", Tolerance(abs=5), False),
    ],
)
def test_tolerance_compares_text_exactly_and_numbers_within_bounds(shown, got, tolerance, ok):
    assert (tolerance.mismatch(shown, got) is None) == ok


def test_with_outputs_inserts_rewrites_keeps_and_drops(tmp_path):
    path = tmp_path / "p.md"
    page = PAGE.replace("    import math\n", "    import math\n    print('hi')\n")
    chains = markdown.parse(path, page)
    printed = {
        chains[0].key(): ["43\n", "accuracy 97.6%\n"],  # 43: rewritten; 97.6 is within abs=0.5: kept
        chains[1].key(): ["hi\n"],  # new output block, indented like its code
    }
    new = markdown.with_outputs(page, path, printed)
    again = markdown.parse(path, new)
    assert again[0].segments[0].output.fence.code == "43\n"
    assert again[0].segments[1].output.fence.code == "accuracy 97.9%\n"
    assert again[1].segments[0].output.fence.code == "hi\n"
    assert "    <!--pytest-codeblocks:expected-output-->\n" in new

    dropped = markdown.with_outputs(page, path, {chains[0].key(): ["", "accuracy 97.9%\n"]})
    assert markdown.parse(path, dropped)[0].segments[0].output is None
    assert "\n\n\n" not in dropped


def _project(pytester: pytest.Pytester) -> None:
    """The real conftest, harness and pytest options, in pytester's folder."""
    pytester.copy_example("conftest.py")
    shutil.copytree(ROOT / "harness", pytester.path / "harness")
    pytester.makepyprojecttoml(
        '[tool.pytest.ini_options]\naddopts = "--codeblocks -p no:codeblocks -p no:cacheprovider"\n'
        'markers = ["slow: slow"]\n'
    )


def test_a_page_runs_once_per_pair_of_twins_and_fails_on_unshown_output(pytester: pytest.Pytester):
    _project(pytester)
    body = "```python\nprint(1 + 1)\n```\n\n<!--pytest-codeblocks:expected-output-->\n\n```\n2\n```\n"
    (pytester.path / "page.md").write_text(body + "\n```python\nprint('no output shown')\n```\n")
    (pytester.path / "page.en.md").write_text(body)
    result = pytester.runpytest_subprocess("-p", "no:xdist", "-v")
    result.assert_outcomes(passed=1, failed=1, deselected=1)
    result.stdout.fnmatch_lines(["*prints, but the page shows no output under it*"])


def test_refresh_writes_outputs_into_both_twins(pytester: pytest.Pytester):
    _project(pytester)
    body = "```python\nprint(6 * 7)\n```\n"
    for name in ("page.md", "page.en.md"):
        (pytester.path / name).write_text(body)
    pytester.runpytest_subprocess("-p", "no:xdist", "--refresh").assert_outcomes(passed=1, deselected=1)
    for name in ("page.md", "page.en.md"):
        (chain,) = markdown.parse(pytester.path / name)
        assert chain.segments[0].output.fence.code == "42\n"
    pytester.runpytest_subprocess("-p", "no:xdist").assert_outcomes(passed=1, deselected=1)


def test_a_traceback_names_the_page_line(pytester: pytest.Pytester):
    _project(pytester)
    (pytester.path / "page.md").write_text("Text.\n\n```python\nx = 1\nraise ValueError('boom')\n```\n")
    result = pytester.runpytest_subprocess("-p", "no:xdist")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*page.md*line 5*", "*ValueError: boom*"])


def test_a_class_defined_in_a_block_pickles_as_in_a_notebook(pytester: pytest.Pytester):
    _project(pytester)
    code = "import pickle\nclass Point:\n    pass\np = Point()\n"
    code += "assert type(pickle.loads(pickle.dumps(p))) is Point\n"
    (pytester.path / "page.md").write_text(f"```python\n{code}```\n")
    pytester.runpytest_subprocess("-p", "no:xdist").assert_outcomes(passed=1)
