"""Read the executable code of a Markdown page, and write outputs back into it.

The syntax is pytest-codeblocks' (so pages written for it keep working), read with line positions, so that
``make refresh`` can rewrite an output block in place. A page is a list of *chains*: a code block that
starts with fresh globals, and the ``<!--pytest-codeblocks:cont-->`` blocks that continue it. Each block of a
chain is a *segment*, and a segment may be followed by its output::

    <!--pytest.mark.slow-->                      marks: apply to the chain (any pytest mark)
    ```python                                    segment 1 of a chain
    print(2 + 2)
    ```

    <!--pytest-codeblocks:expected-output-->     the exact stdout of segment 1
    ```
    4
    ```

    <!--pytest-codeblocks:cont-->                segment 2: same globals as segment 1
    ```python
    print(f"accuracy {acc:.1%}")
    ```

    <!--pytest-codeblocks:expected-output(abs=0.6)-->   numbers within 0.6, the text exactly
    ```
    accuracy 97.8%
    ```

Unlike pytest-codeblocks, whose one output is the stdout of the whole chain, every segment here has its own
output, shown right under it. Fences whose info string is exactly ``python``, ``sh`` or ``bash`` run;
any other fence (``console``, ``text``, a diagram) is prose.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from harness.outputs import Tolerance

EXECUTABLE = ("python", "sh", "bash")
OUTPUT_MARKER = "pytest-codeblocks:expected-output"
_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<ticks>`{3,})(?P<info>[^`]*)$")
_COMMENT = re.compile(r"^\s*<!--[-\s]*(?P<body>.*?)[-\s]*-->\s*$")


class MarkdownError(ValueError):
    """A page whose test markers cannot be read (a marker with nothing to attach to, an unknown keyword)."""


@dataclass
class Fence:
    start: int  # 0-based index of the opening ``` line
    end: int  # index of the closing ``` line
    indent: str
    info: str
    code: str  # the body, dedented, every line ending in "\n"


@dataclass
class Output:
    fence: Fence
    marker_line: int
    tolerance: Tolerance | None  # None: exact

    def mismatch(self, printed: str) -> str | None:
        """Why `printed` is not what this block shows (exactly, or within its tolerance); None if it is."""
        return (self.tolerance or Tolerance()).mismatch(self.fence.code, printed)


@dataclass
class Segment:
    fence: Fence
    output: Output | None = None


@dataclass
class Chain:
    path: Path
    language: str
    segments: list[Segment]
    marks: list[str] = field(default_factory=list)
    importorskip: str | None = None

    @property
    def lineno(self) -> int:
        """1-based line of the first block's opening fence: the test id is ``page.md::line N``."""
        return self.segments[0].fence.start + 1

    def key(self) -> tuple:
        """What the chain runs and checks: twins with equal keys give equal results; one run serves both."""
        return (
            self.language,
            tuple(self.marks),
            self.importorskip,
            tuple(
                (s.fence.code, None if s.output is None else (s.output.fence.code, s.output.tolerance))
                for s in self.segments
            ),
        )


def _read_fence(lines: list[str], i: int) -> Fence:
    m = _FENCE.match(lines[i])
    ticks, indent = m["ticks"], m["indent"]
    body = []
    j = i + 1
    while j < len(lines) and not lines[j].lstrip().startswith(ticks):
        line = lines[j]
        body.append(line[min(len(indent), len(line) - len(line.lstrip())) :])
        j += 1
    if j == len(lines):
        raise MarkdownError(f"line {i + 1}: code block never closed")
    return Fence(i, j, indent, m["info"].strip(), "".join(f"{b}\n" for b in body))


def parse(path: Path, text: str | None = None) -> list[Chain]:
    """The chains of executable code in the page at `path` (or in `text`, read as that page)."""
    lines = (path.read_text(encoding="utf-8") if text is None else text).splitlines()
    if lines and lines[0].strip() == "<!--pytest-codeblocks:skipfile-->":
        return []
    chains: list[Chain] = []
    marks: list[str] = []
    importorskip: str | None = None
    pending: tuple[str, int, Tolerance | None] | None = None  # ("cont" | "output", marker line, tolerance)
    last_fence_executable = False
    i = 0
    while i < len(lines):
        line = lines[i]
        if comment := _COMMENT.match(line):
            body = comment["body"].strip()
            if body.startswith("pytest.mark."):
                marks.append(body)
            elif body.startswith("pytest-codeblocks:"):
                keyword = body.removeprefix("pytest-codeblocks:").strip()
                if keyword == "cont":
                    pending = ("cont", i, None)
                elif keyword.startswith("expected-output"):
                    spec = keyword.removeprefix("expected-output")
                    pending = ("output", i, Tolerance.parse(spec) if spec else None)
                elif m := re.fullmatch(r"importorskip\((.+)\)", keyword):
                    importorskip = m[1].strip()
                else:
                    raise MarkdownError(f"{path}:{i + 1}: unknown marker <!--{body}-->")
            i += 1
            continue
        if not _FENCE.match(line):
            i += 1
            continue
        fence = _read_fence(lines, i)
        i = fence.end + 1
        where = f"{path}:{fence.start + 1}"
        if pending and pending[0] == "output":
            if not chains or not last_fence_executable:
                raise MarkdownError(f"{where}: an expected output must follow a python/sh/bash block")
            segment = chains[-1].segments[-1]
            if segment.output is not None:
                raise MarkdownError(f"{where}: this block already has an expected output")
            segment.output = Output(fence, pending[1], pending[2])
            last_fence_executable = False
        elif pending and pending[0] == "cont":
            if not chains or fence.info != chains[-1].language:
                raise MarkdownError(
                    f"{where}: <!--pytest-codeblocks:cont--> needs an earlier block of its kind"
                )
            if marks:
                raise MarkdownError(
                    f"{where}: marks go before the first block of a chain, not a `cont` block"
                )
            chains[-1].segments.append(Segment(fence))
            last_fence_executable = True
        elif fence.info in EXECUTABLE:
            chains.append(Chain(path, fence.info, [Segment(fence)], marks, importorskip))
            marks, importorskip = [], None
            last_fence_executable = True
        else:
            last_fence_executable = False
        pending = None
    if pending or marks:
        raise MarkdownError(f"{path}: a test marker at the end of the page has no block to attach to")
    return chains


def with_outputs(text: str, path: Path, outputs: dict[tuple, list[str]]) -> str:
    """`text` (the page at `path`) with each segment's output block set to what it printed.

    `outputs` maps `Chain.key()` to the stdout of each segment of that chain. An output block that still
    matches (exactly, or within its tolerance) is left as it is, so refreshing on another machine does not
    churn the page; a segment that prints gets a new output block under it; one that no longer prints loses
    its block. Chains without a recorded run are untouched.
    """
    lines = text.splitlines(keepends=True)
    edits: list[tuple[int, int, list[str]]] = []  # replace lines[start:end] with the new lines
    for chain in parse(path, text):
        printed = outputs.get(chain.key())
        if printed is None:
            continue
        for segment, stdout in zip(chain.segments, printed, strict=True):
            out, indent = segment.output, segment.fence.indent
            if out is not None and out.mismatch(stdout) is None:
                continue
            block = [f"{indent}{line}\n" if line else "\n" for line in stdout.splitlines()]
            if out is not None and stdout:
                edits.append((out.fence.start + 1, out.fence.end, block))
            elif out is not None:  # nothing printed any more: drop the marker and the block
                edits.append((out.marker_line, out.fence.end + 1 + _blank_after(lines, out.fence.end), []))
            elif stdout:
                end = segment.fence.end + 1
                new = [
                    "\n",
                    f"{indent}<!--{OUTPUT_MARKER}-->\n",
                    "\n",
                    f"{indent}```\n",
                    *block,
                    f"{indent}```\n",
                ]
                edits.append((end, end, new))
    for start, end, new in sorted(edits, reverse=True):
        lines[start:end] = new
    return "".join(lines)


def _blank_after(lines: list[str], index: int) -> int:
    """1 if the line after `index` is blank (removed with a dropped block, so no double blank remains)."""
    return int(index + 1 < len(lines) and not lines[index + 1].strip())
