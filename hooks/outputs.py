"""Show an output block as output: titled "输出" / "Output", styled apart from code, and, when the tests
compare it within a tolerance, say so, since the reader's own run will print slightly different numbers.

The pages mark outputs for the tests (`harness.markdown`); this hook only changes how they look.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root, for `harness`
from harness.markdown import OUTPUT_MARKER  # noqa: E402
from harness.outputs import Tolerance  # noqa: E402

_MARKED = re.compile(
    rf"^(?P<marker>[ \t]*<!--{re.escape(OUTPUT_MARKER)}(?P<spec>\([^)]*\))?-->[ \t]*\n)"
    r"(?P<blank>(?:[ \t]*\n)*)"
    r"(?P<indent>[ \t]*)(?P<ticks>`{3,})[^\n]*\n",
    re.MULTILINE,
)
_TITLES = {
    "zh": ("输出", "输出 · 训练结果，你的数字会略有不同（测试容差 {tol}）"),
    "en": ("Output", "Output · a trained result: yours will differ slightly (tested within {tol})"),
}


def _describe(tolerance: Tolerance) -> str:
    parts = [f"±{tolerance.abs:g}"] if tolerance.abs else []
    parts += [f"±{tolerance.rel:.0%}"] if tolerance.rel else []
    return " + ".join(parts)


def on_page_markdown(markdown: str, page, config, files) -> str:
    exact, approx = _TITLES["en" if page.file.src_uri.endswith(".en.md") else "zh"]

    def titled(m: re.Match) -> str:
        title = approx.format(tol=_describe(Tolerance.parse(m["spec"]))) if m["spec"] else exact
        css = "output output--approx" if m["spec"] else "output"
        classes = " ".join(f".{c}" for c in css.split())
        return f'{m["marker"]}{m["blank"]}{m["indent"]}{m["ticks"]}{{.text {classes} title="{title}"}}\n'

    return _MARKED.sub(titled, markdown)
