"""`make lint` as a test: ruff's rules and format on the project's Python, so CI catches what a pre-commit
hook that was never installed lets through."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PY_SRC = ["src", "tests", "scripts", "hooks", "harness", "conftest.py"]  # as in the Makefile


@pytest.mark.parametrize("command", [["check"], ["format", "--check"]], ids=["check", "format"])
def test_python_passes_ruff(command: list[str]) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "ruff", *command, *PY_SRC],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
