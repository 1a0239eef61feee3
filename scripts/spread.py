"""How much a page's outputs move between CPU kernel paths and thread counts (``make spread PAGES=...``).

PyTorch picks its kernels per CPU, so a number printed after training is a property of one machine. This
runs the given pages under three settings that take different paths on this one machine:

* ``native``:   the kernels this CPU supports, one torch thread (what ``make test`` uses);
* ``default``:  ``ATEN_CPU_CAPABILITY=default``, the plain kernels a CPU without AVX gets;
* ``threads2``: native kernels, two torch threads (reductions split differently);

and reports, for every output block whose text is not identical in all three, how far its numbers moved,
beside the tolerance the page declares. Blocks that fail in some setting are listed too. Use it before
choosing a tolerance or an assert's margin; add the spread over seeds, which only you can vary.

Usage::

    .venv/bin/python scripts/spread.py docs/phases/06-rnn/index.md
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness import markdown  # noqa: E402
from harness.outputs import NUMBER, Tolerance  # noqa: E402
from harness.plugin import read_records  # noqa: E402

SETTINGS = {
    "native": {},
    "default": {"ATEN_CPU_CAPABILITY": "default"},
    "threads2": {"LESSONS_TORCH_THREADS": "2"},
}


def run(pages: list[str], name: str, env: dict[str, str], out: Path, workers: str) -> set[str]:
    """Run `pages` in one setting, recording outputs into `out`; return the ids of the tests that failed."""
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-rf",
        "-n",
        workers,
        "--record-outputs",
        str(out),
        *pages,
    ]
    proc = subprocess.run(command, cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True)
    print(f"{name:9s} {proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr[-300:]}")
    return set(re.findall(r"^FAILED (\S+ line \d+|\S+)", proc.stdout.replace("::line ", " line "), re.M))


def load(out: Path) -> dict[tuple[str, int], list[str]]:
    return {(r["page"], r["line"]): r["printed"] for r in read_records(out)}


def numbers(text: str) -> list[float]:
    return [float(n) for n in NUMBER.findall(text)]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("pages", nargs="+")
    parser.add_argument("-n", "--workers", default="2", help="pytest-xdist workers per setting (default 2)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        results, failed = {}, {}
        for name, env in SETTINGS.items():
            # Two torch threads per worker on two cores: one worker, or the threads fight for the cores.
            workers = "1" if "LESSONS_TORCH_THREADS" in env else args.workers
            failed[name] = run(args.pages, name, env, Path(tmp) / name, workers)
            results[name] = load(Path(tmp) / name)
    for name, ids in failed.items():
        for test_id in sorted(ids):
            print(f"FAILED in {name}: {test_id}")
    print("\n| block | shown | " + " | ".join(SETTINGS) + " | max abs diff | max rel diff | tolerance |")
    print("|---|---|" + "---|" * len(SETTINGS) + "---|---|---|")
    for page in args.pages:
        path, _, block = page.partition("::")  # a page, or one block of it: "page.md::line N"
        for chain in markdown.parse(Path(path).resolve()):
            if block and block != f"line {chain.lineno}":
                continue
            key = (str(chain.path), chain.lineno)
            runs = [results[name].get(key) for name in SETTINGS]
            for i, segment in enumerate(chain.segments):
                printed = [r[i] if r else None for r in runs]
                if len({p for p in printed if p is not None}) <= 1:
                    continue
                shown = segment.output.fence.code if segment.output else ""
                base = numbers(shown) or numbers(printed[0] or "")
                diffs = [
                    (abs(a - b), abs(a - b) / abs(b) if b else 0.0)
                    for p in printed
                    if p is not None and len(numbers(p)) == len(base)
                    for a, b in zip(numbers(p), base, strict=True)
                ]
                tol = segment.output.tolerance if segment.output and segment.output.tolerance else Tolerance()
                cells = [" ".join(p.split())[:40] if p is not None else "(failed)" for p in printed]
                print(
                    f"| {path}:{segment.fence.start + 1} | {' '.join(shown.split())[:40]} | "
                    + " | ".join(cells)
                    + f" | {max((d[0] for d in diffs), default=float('nan')):.4g}"
                    f" | {max((d[1] for d in diffs), default=float('nan')):.3g} | {tol} |"
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
