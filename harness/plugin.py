"""pytest plugin: every executable block of every page under docs/ is a test (``page.md::line N``).

* Each chain runs with fresh globals in a fresh ``__main__`` module, as a notebook or ``python file.py``
  would run it; each segment's stdout is compared with the output block under it (`harness.outputs`).
  A segment that prints with no output block under it fails: every output is shown to the reader.
* Twins hold identical code and outputs (tests/test_site.py proves it), so a chain whose key equals one
  already collected is deselected: each distinct chain runs once per session.
* ``--refresh`` runs the blocks and writes what they print into the pages (both twins), instead of failing
  on a difference. It is how outputs get onto a page: never by hand.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import tempfile
import traceback
import types
from pathlib import Path

import pytest

from harness import markdown

_RECORD_ENV = (
    "HARNESS_RECORD_DIR"  # where workers write what each chain printed (--refresh, --record-outputs)
)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("docs", "executable Markdown pages")
    group.addoption("--codeblocks", action="store_true", help="collect the code blocks of .md files")
    group.addoption(
        "--record-outputs",
        metavar="DIR",
        help="also write what each block printed to DIR/*.jsonl (scripts/spread.py compares such runs)",
    )
    group.addoption(
        "--refresh",
        action="store_true",
        help="write what each block prints into its page's output blocks (both twins) instead of comparing",
    )


def pytest_configure(config: pytest.Config) -> None:
    if hasattr(config, "workerinput") or _RECORD_ENV in os.environ:
        return
    if directory := config.getoption("record_outputs"):
        Path(directory).mkdir(parents=True, exist_ok=True)
        os.environ[_RECORD_ENV] = str(Path(directory).resolve())  # inherited by xdist workers
    elif config.getoption("refresh"):
        os.environ[_RECORD_ENV] = tempfile.mkdtemp(prefix="harness-record-")


def pytest_collect_file(file_path: Path, parent: pytest.Collector):
    if parent.config.getoption("codeblocks") and file_path.suffix == ".md":
        return MarkdownPage.from_parent(parent, path=file_path)
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    seen: set[tuple] = set()
    keep, twins = [], []
    for item in items:
        if isinstance(item, CodeChain):
            key = item.chain.key()
            if key in seen:
                twins.append(item)
                continue
            seen.add(key)
        keep.append(item)
    if twins:
        config.hook.pytest_deselected(items=twins)
        items[:] = keep


class MarkdownPage(pytest.File):
    def collect(self):
        for chain in markdown.parse(self.path):
            item = CodeChain.from_parent(self, name=f"line {chain.lineno}", chain=chain)
            for mark in chain.marks:
                item.add_marker(eval(mark, {"pytest": pytest, "sys": sys}))  # noqa: S307 (the page's own marker)
            yield item


class BlockFailed(Exception):
    """A block raised, or printed something other than its page shows."""


class CodeChain(pytest.Item):
    def __init__(self, *, chain: markdown.Chain, **kwargs) -> None:
        super().__init__(**kwargs)
        self.chain = chain

    def runtest(self) -> None:
        if self.chain.importorskip:
            pytest.importorskip(self.chain.importorskip)
        refresh = self.config.getoption("refresh")
        run = self._run_python if self.chain.language == "python" else self._run_shell
        printed = []
        try:
            with _fresh_main() as module:
                for segment in self.chain.segments:
                    printed.append(stdout := run(segment, module))
                    if not refresh:
                        _check(segment, stdout)
        finally:
            if _RECORD_ENV in os.environ and len(printed) == len(self.chain.segments):
                record = Path(os.environ[_RECORD_ENV]) / f"{os.getpid()}.jsonl"
                line = {"page": str(self.chain.path), "line": self.chain.lineno, "printed": printed}
                with record.open("a", encoding="utf-8") as f:
                    f.write(json.dumps(line) + "\n")

    def _run_python(self, segment: markdown.Segment, module: types.ModuleType) -> str:
        # Padded with blank lines so that a traceback names the page's own line numbers.
        source = "\n" * (segment.fence.start + 1) + segment.fence.code
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            try:
                exec(compile(source, str(self.chain.path), "exec"), module.__dict__)  # noqa: S102
            except Exception as error:
                raise BlockFailed(_explain(self.chain, segment, error, buffer.getvalue())) from error
        return buffer.getvalue()

    def _run_shell(self, segment: markdown.Segment, module: types.ModuleType) -> str:
        proc = subprocess.run(
            segment.fence.code, shell=True, capture_output=True, text=True, executable="/bin/bash"
        )
        if proc.returncode:
            raise BlockFailed(f"line {segment.fence.start + 1} exited with {proc.returncode}:\n{proc.stderr}")
        return proc.stdout

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, BlockFailed):
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def reportinfo(self):
        return self.path, self.chain.lineno - 1, f"code block at line {self.chain.lineno}"


@contextlib.contextmanager
def _fresh_main():
    """A new, empty ``__main__`` module for one chain: classes it defines pickle the way a notebook's do."""
    module, saved = types.ModuleType("__main__"), sys.modules["__main__"]
    sys.modules["__main__"] = module
    try:
        yield module
    finally:
        sys.modules["__main__"] = saved


def _check(segment: markdown.Segment, stdout: str) -> None:
    """Fail unless the page shows, under `segment`, what it printed."""
    where, shown = f"line {segment.fence.start + 1}", segment.output
    if shown is None:
        if stdout:
            raise BlockFailed(
                f"{where} prints, but the page shows no output under it (`make refresh` adds it). "
                f"It printed:\n{stdout}"
            )
        return
    why = shown.mismatch(stdout)
    if why:
        raise BlockFailed(
            f"{where}: {why} (`make refresh` rewrites it).\n"
            f"The page shows:\n{shown.fence.code}\nThe code printed:\n{stdout}"
        )


def _explain(chain: markdown.Chain, segment: markdown.Segment, error: Exception, printed: str) -> str:
    """The page's own lines in the traceback (not the harness's), the error, and what was printed first."""
    frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename == str(chain.path)]
    text = f"line {segment.fence.start + 1} raised:\n" + "".join(traceback.format_list(frames))
    text += "".join(traceback.format_exception_only(error))
    return text + (f"It printed before that:\n{printed}" if printed else "")


def read_records(directory: Path) -> list[dict]:
    """What a --record-outputs (or --refresh) run wrote: one ``{"page", "line", "printed"}`` per chain."""
    return [json.loads(line) for f in directory.glob("*.jsonl") for line in f.read_text("utf-8").splitlines()]


def _twin(page: Path) -> Path:
    if page.name.endswith(".en.md"):
        return page.with_name(page.name.removesuffix(".en.md") + ".md")
    return page.with_name(page.name.removesuffix(".md") + ".en.md")


def pytest_sessionfinish(session: pytest.Session) -> None:
    """After a --refresh run (in the controlling process): write what was printed into every page."""
    config = session.config
    if not config.getoption("refresh") or hasattr(config, "workerinput"):
        return
    runs = read_records(Path(os.environ[_RECORD_ENV]))
    chains = {
        (str(page), chain.lineno): chain
        for page in {Path(run["page"]) for run in runs}
        for chain in markdown.parse(page)
    }
    by_key = {chains[run["page"], run["line"]].key(): run["printed"] for run in runs}
    pages = {Path(run["page"]) for run in runs}
    pages |= {_twin(p) for p in pages}  # a deselected twin holds the same chains
    changed = []
    for page in sorted(p for p in pages if p.is_file()):
        text = page.read_text(encoding="utf-8")
        new = markdown.with_outputs(text, page, by_key)
        if new != text:
            page.write_text(new, encoding="utf-8")
            changed.append(page)
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter:
        reporter.write_line(f"refresh: {len(runs)} blocks run, {len(changed)} pages rewritten")
        for page in changed:
            reporter.write_line(f"  {page}")
