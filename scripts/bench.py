"""Benchmark of the project as a whole (``make bench``).

Measures, on this machine:

1. ``mkdocs build --strict`` into a temporary folder;
2. the full test suite serially (``-p no:xdist``);
3. the full test suite in parallel, with the pytest arguments of ``make test`` (``-n auto ...``);
4. the time of each page's code blocks (and of each unit/site test file), summed from pytest's JUnit XML
   report of the serial run (of the parallel run with ``--quick``, which skips the serial run). This file is
   also loaded into those runs as a pytest plugin (``-p bench``) that records each test's CPU time.

Each step reports its wall time and the CPU time (user + system) of the processes it started, since on a
shared or busy machine wall time alone says little. Results are printed as Markdown tables, ready to paste
into a note; ``--json FILE`` also writes them in machine-readable form.

Usage::

    .venv/bin/python scripts/bench.py                  # everything
    .venv/bin/python scripts/bench.py --quick          # no serial run
    .venv/bin/python scripts/bench.py --quick --no-build docs/phases/05-cnn/resnet*.md
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shlex
import subprocess
import sys
import tempfile
import time
import unicodedata
import xml.etree.ElementTree as ET
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BLOCK_BUDGET_S = 30.0  # CONTRIBUTING: no single code block over 30 s


@dataclass
class Step:
    """One timed command."""

    name: str
    command: list[str]
    wall_s: float
    cpu_s: float
    returncode: int
    result: str
    log: str = field(repr=False, default="")


@dataclass
class Case:
    """One test case from a JUnit XML report."""

    file: str
    name: str
    seconds: float  # wall: setup + call + teardown
    outcome: str  # passed | failed | error | skipped
    cpu_s: float | None = None  # CPU time of the process running it (all its threads), when recorded


# --- pytest plugin: loaded into the measured runs with ``-p bench`` (workers too), it records each test's CPU
# time (user + system of the process that runs it, all threads) as a JUnit property. Wall time alone says
# little on a busy machine.
_CPU_START: dict[str, float] = {}


def _own_and_children_cpu() -> float:
    """CPU time of this process (all threads) plus that of its finished children (a mkdocs build, a pytester
    subprocess); a long-lived child such as a browser shared by the session is not counted."""
    return time.process_time() + children_cpu_seconds()


def pytest_runtest_logstart(nodeid: str, location: object) -> None:
    _CPU_START[nodeid] = _own_and_children_cpu()


def pytest_runtest_logfinish(nodeid: str, location: object) -> None:
    _CPU_START.pop(nodeid, None)


try:
    import pytest

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
        outcome = yield
        if call.when == "teardown" and item.nodeid in _CPU_START:
            cpu = _own_and_children_cpu() - _CPU_START[item.nodeid]
            outcome.get_result().user_properties.append(("cpu_s", f"{cpu:.3f}"))

except ImportError:  # the plugin is only needed inside pytest
    pass


def children_cpu_seconds() -> float:
    """User + system CPU time of all finished, waited-for child processes (and their descendants)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_timed(name: str, command: list[str], env: dict[str, str] | None = None) -> Step:
    """Run `command` in the repository root, capturing its output, and time it."""
    print(f"[bench] {name}: {shlex.join(command)}", file=sys.stderr, flush=True)
    cpu0, t0 = children_cpu_seconds(), time.perf_counter()
    proc = subprocess.run(
        command,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    wall, cpu = time.perf_counter() - t0, children_cpu_seconds() - cpu0
    result = "ok" if proc.returncode == 0 else f"exit {proc.returncode}"
    print(f"[bench] {name}: {wall:.1f} s wall, {cpu:.1f} s CPU, {result}", file=sys.stderr, flush=True)
    return Step(name, command, wall, cpu, proc.returncode, result, proc.stdout)


def docs_path_by_classname() -> dict[str, str]:
    """Map JUnit classnames (``docs.phases.05-cnn.en.md``) back to paths, for reports without ``file``."""
    return {str(p.relative_to(ROOT)).replace("/", "."): str(p.relative_to(ROOT)) for p in ROOT.rglob("*.md")}


def read_junit(path: Path) -> list[Case]:
    """The test cases of a JUnit XML report (written with ``-o junit_family=xunit1`` so each has a file)."""
    by_classname = docs_path_by_classname()
    cases = []
    for tc in ET.parse(path).getroot().iter("testcase"):
        file = tc.get("file") or by_classname.get(tc.get("classname", ""), tc.get("classname", "?"))
        outcome = "passed"
        for child in tc:
            if child.tag in ("failure", "error", "skipped"):
                outcome = {"failure": "failed", "error": "error", "skipped": "skipped"}[child.tag]
        cpu = next((float(p.get("value", 0)) for p in tc.iter("property") if p.get("name") == "cpu_s"), None)
        cases.append(Case(file, tc.get("name", "?"), float(tc.get("time", 0) or 0), outcome, cpu))
    return cases


def summarize(cases: list[Case]) -> str:
    """Like pytest's last line: ``120 passed, 2 failed``."""
    counts: dict[str, int] = defaultdict(int)
    for case in cases:
        counts[case.outcome] += 1
    parts = [f"{counts[k]} {k}" for k in ("passed", "failed", "error", "skipped") if counts[k]]
    return ", ".join(parts) or "no tests"


def run_pytest(name: str, args: list[str], paths: list[str], workdir: Path) -> tuple[Step, list[Case]]:
    """Run pytest with `args` over `paths` and return the step and its per-test durations."""
    report = workdir / (re.sub(r"\W+", "-", name).strip("-") + ".xml")
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-o",
        "junit_family=xunit1",
        f"--junitxml={report}",
        "-p",
        "bench",
        *args,
        *paths,
    ]
    pythonpath = os.pathsep.join(filter(None, [str(Path(__file__).parent), os.environ.get("PYTHONPATH")]))
    step = run_timed(name, command, env={"PYTHONPATH": pythonpath})
    cases = read_junit(report) if report.is_file() else []
    if cases:
        step.result = summarize(cases) + ("" if step.returncode in (0, 5) else f" (exit {step.returncode})")
    return step, cases


def addopts_use_xdist() -> bool:
    """Whether pytest's addopts carry xdist options, which ``-p no:xdist`` would turn into usage errors."""
    try:
        import tomllib
    except ImportError:  # Python 3.10
        return False
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    addopts = config.get("tool", {}).get("pytest", {}).get("ini_options", {}).get("addopts", "")
    if isinstance(addopts, list):
        addopts = " ".join(addopts)
    return bool(re.search(r"(^|\s)(-n|--numprocesses|--dist|--maxprocesses)\b", addopts))


def display_width(text: str) -> int:
    """Columns `text` takes in a terminal: CJK characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def make_test_pytest_args() -> str:
    """The pytest arguments of ``make test`` (read from the Makefile), so the parallel run is the real one."""
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8") if (ROOT / "Makefile").is_file() else ""
    m = re.search(r"^test:.*\n(?:\t.*\n)*?\t\$\(BIN\)/python -m pytest(?P<args>[^\n#|]*)", makefile, re.M)
    return m["args"].strip() if m and m["args"].strip() else "-n auto"


def markdown_table(headers: list[str], rows: list[list[str]], right: set[int]) -> str:
    """A Markdown pipe table whose columns line up in a terminal too; columns in `right` right-aligned."""
    widths = [max(display_width(x) for x in col) for col in zip(headers, *rows, strict=True)]

    def cell(i: int, text: str) -> str:
        pad = " " * (widths[i] - display_width(text))
        return pad + text if i in right else text + pad

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(cell(i, c) for i, c in enumerate(cells)) + " |"

    rule = ["-" * (w - 1) + ":" if i in right else "-" * w for i, w in enumerate(widths)]
    return "\n".join([line(headers), "| " + " | ".join(rule) + " |", *(line(r) for r in rows)])


def twin_key(file: str) -> tuple[str, str]:
    """``docs/phases/05-cnn.en.md`` -> (``docs/phases/05-cnn``, ``en``); Chinese pages give ``zh``."""
    if file.endswith(".en.md"):
        return file.removesuffix(".en.md"), "en"
    return file.removesuffix(".md"), "zh"


def cpu_text(cases: list[Case]) -> str:
    """Summed CPU seconds of `cases`, or "?" when the runs recorded none."""
    values = [c.cpu_s for c in cases if c.cpu_s is not None]
    return f"{sum(values):.1f}" if values else "?"


def cost(case: Case) -> float:
    """What the budget is judged by: CPU time when recorded (wall time is inflated on a busy machine)."""
    return case.cpu_s if case.cpu_s is not None else case.seconds


def slowest_text(case: Case) -> tuple[str, str]:
    """(wall, CPU) of one test as text, the budget-breaker flagged."""
    flag = " (over 30 s)" if cost(case) > BLOCK_BUDGET_S else ""
    cpu = "?" if case.cpu_s is None else f"{case.cpu_s:.1f}"
    return f"{case.seconds:.1f}", cpu + flag


def pages_table(cases: list[Case]) -> str:
    """Code-block time per page, its two languages on one row, costliest page first."""
    pages: dict[str, dict[str, list[Case]]] = defaultdict(lambda: {"zh": [], "en": []})
    for case in cases:
        if case.file.endswith(".md"):
            stem, lang = twin_key(case.file)
            pages[stem][lang].append(case)
    if not pages:
        return "(no code blocks ran)"
    rows = []
    for stem in sorted(pages, key=lambda s: -sum(cost(c) for c in pages[s]["zh"] + pages[s]["en"])):
        zh, en = pages[stem]["zh"], pages[stem]["en"]
        both = zh + en
        slowest = max(both, key=cost)
        bad = sum(c.outcome in ("failed", "error") for c in both)
        rows.append(
            [
                stem + ".md",
                str(len(zh)) if len(zh) == len(en) else f"{len(zh)} / {len(en)}",
                str(bad) if bad else "",
                f"{sum(c.seconds for c in zh):.1f} + {sum(c.seconds for c in en):.1f}",
                f"{sum(c.seconds for c in both):.1f}",
                cpu_text(both),
                f"{Path(slowest.file).name}::{slowest.name}",
                *slowest_text(slowest),
            ]
        )
    every = [c for group in pages.values() for c in group["zh"] + group["en"]]
    n_zh = sum(len(g["zh"]) for g in pages.values())
    n_en = sum(len(g["en"]) for g in pages.values())
    rows.append(
        [
            "all pages",
            f"{n_zh} / {n_en}",
            "",
            "",
            f"{sum(c.seconds for c in every):.1f}",
            cpu_text(every),
            "",
            "",
            "",
        ]
    )
    headers = [
        "page (.md 中文 + .en.md English)",
        "blocks",
        "failed",
        "wall s 中文 + English",
        "wall s",
        "CPU s",
    ]
    headers += ["costliest block", "wall s", "CPU s"]
    return markdown_table(headers, rows, right={1, 2, 3, 4, 5, 7, 8})


def files_table(cases: list[Case]) -> str:
    """Time per unit/site test file, costliest first."""
    files: dict[str, list[Case]] = defaultdict(list)
    for case in cases:
        if not case.file.endswith(".md"):
            files[case.file].append(case)
    if not files:
        return "(no unit or site tests ran)"
    rows = []
    for file in sorted(files, key=lambda f: -sum(cost(c) for c in files[f])):
        group = files[file]
        slowest = max(group, key=cost)
        bad = sum(c.outcome in ("failed", "error") for c in group)
        rows.append(
            [
                file,
                str(len(group)),
                str(bad) if bad else "",
                f"{sum(c.seconds for c in group):.1f}",
                cpu_text(group),
                slowest.name if len(slowest.name) <= 60 else slowest.name[:57] + "...",
                *slowest_text(slowest),
            ]
        )
    headers = ["file", "tests", "failed", "wall s", "CPU s", "costliest test", "wall s", "CPU s"]
    return markdown_table(headers, rows, right={1, 2, 3, 4, 6, 7})


def environment() -> dict[str, str]:
    """What the numbers were measured on."""

    def version(dist: str) -> str:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return "absent"

    git = subprocess.run(
        ["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "commit": git or "unknown",
        "cpus": str(cpus),
        "python": platform.python_version(),
        "torch": version("torch"),
        "mkdocs": version("mkdocs"),
        "platform": platform.platform(terse=True),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="*", help="what pytest runs (default: testpaths of pyproject.toml)")
    parser.add_argument("--quick", action="store_true", help="skip the serial run of the full suite")
    parser.add_argument("--no-build", action="store_true", help="skip timing mkdocs build")
    parser.add_argument(
        "--xdist-args",
        default=make_test_pytest_args(),
        help="pytest arguments of the parallel run (default, from the Makefile's test target: %(default)r)",
    )
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    args = parser.parse_args(argv)

    env = environment()
    steps: list[Step] = []
    serial_cases: list[Case] = []
    parallel_cases: list[Case] = []
    with tempfile.TemporaryDirectory(prefix="dl-roadmap-bench-") as tmp:
        workdir = Path(tmp)
        if not args.no_build:
            steps.append(
                run_timed(
                    "mkdocs build --strict",
                    [
                        sys.executable,
                        "-m",
                        "mkdocs",
                        "build",
                        "--strict",
                        "--site-dir",
                        str(workdir / "site"),
                    ],
                    env={"NO_MKDOCS_2_WARNING": "1"},
                )
            )
        if not args.quick:
            serial_flags = ["-n", "0"] if addopts_use_xdist() else ["-p", "no:xdist"]
            step, serial_cases = run_pytest(
                f"pytest serial ({' '.join(serial_flags)})", serial_flags, args.paths, workdir
            )
            steps.append(step)
        xdist = shlex.split(args.xdist_args)
        step, parallel_cases = run_pytest(f"pytest {args.xdist_args}", xdist, args.paths, workdir)
        steps.append(step)

    print()
    print(f"# DL Roadmap benchmark ({time.strftime('%Y-%m-%d %H:%M')})")
    print()
    print(", ".join(f"{k}: {v}" for k, v in env.items()))
    print()
    rows = [[s.name, f"{s.wall_s:.1f}", f"{s.cpu_s:.1f}", s.result] for s in steps]
    print(markdown_table(["step", "wall s", "CPU s", "result"], rows, right={1, 2}))
    if not args.quick and len(steps) >= 2 and steps[-1].wall_s > 0:
        serial, parallel = steps[-2], steps[-1]
        print()
        print(f"Parallel speed-up: {serial.wall_s / parallel.wall_s:.2f}x on {env['cpus']} CPUs.")
        if len(serial_cases) != len(parallel_cases):
            print(
                f"(Not comparable: the serial run ran {len(serial_cases)} tests, the parallel run "
                f"{len(parallel_cases)}. Did the tree change between them?)"
            )

    cases, source = (serial_cases, "serial run") if serial_cases else (parallel_cases, "parallel run")
    print()
    print(f"## Code blocks per page ({source}; a block's time is its setup + call + teardown)")
    print()
    print(pages_table(cases))
    print()
    print(
        "wall s: setup + call + teardown as pytest timed it; CPU s: CPU time of the process running the test"
        " (all threads) and of the subprocesses it waited for. On a busy machine judge cost by CPU s;"
        " the block budget is 30 s."
    )
    print()
    print(f"## Unit and site tests ({source})")
    print()
    print(files_table(cases))

    failed = [s for s in steps if s.returncode not in (0, 5)]
    for s in failed:
        print(f"\n## {s.name} failed (exit {s.returncode}); last lines of its output:\n", file=sys.stderr)
        print("\n".join(s.log.splitlines()[-40:]), file=sys.stderr)

    if args.json:
        payload = {
            "environment": env,
            "steps": [{k: v for k, v in asdict(s).items() if k != "log"} for s in steps],
            "cases_source": source,
            "cases": [asdict(c) for c in cases],
        }
        args.json.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
