"""hooks/render_data.py, imported once for the tests. It is an MkDocs hook, not a package: mkdocs loads it
by path, and so do we."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

HOOK = Path(__file__).resolve().parents[1] / "hooks" / "render_data.py"


def load() -> ModuleType:
    if "render_data" in sys.modules:
        return sys.modules["render_data"]
    spec = importlib.util.spec_from_file_location("render_data", HOOK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["render_data"] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module
