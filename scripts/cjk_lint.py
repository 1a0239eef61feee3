"""Check (or, with --fix, correct) spacing and punctuation between Chinese and Latin text in the Chinese
pages, with AutoCorrect and the rules in .autocorrectrc. Code blocks and inline code are left alone.

    python scripts/cjk_lint.py [--fix] [FILE ...]      (default: every Chinese page under docs/)
"""

from __future__ import annotations

import sys
from pathlib import Path

import autocorrect_py

ROOT = Path(__file__).resolve().parents[1]
autocorrect_py.load_config((ROOT / ".autocorrectrc").read_text(encoding="utf-8"))


def chinese_pages() -> list[Path]:
    return sorted(p for p in (ROOT / "docs").rglob("*.md") if not p.name.endswith(".en.md"))


def findings(path: Path) -> list[str]:
    """'file:line: old -> new' for each line AutoCorrect would change."""
    result = autocorrect_py.lint_for(path.read_text(encoding="utf-8"), str(path))
    return [
        f"{path.relative_to(ROOT)}:{x.line}: {x.old.strip()!r} -> {x.new.strip()!r}" for x in result.lines
    ]


def main(argv: list[str]) -> int:
    fix = "--fix" in argv
    paths = [Path(a).resolve() for a in argv if a != "--fix"] or chinese_pages()
    paths = [p for p in paths if p.suffix == ".md" and not p.name.endswith(".en.md")]
    problems = []
    for path in paths:
        if fix:
            text = path.read_text(encoding="utf-8")
            fixed = autocorrect_py.format_for(text, str(path))
            if fixed != text:
                path.write_text(fixed, encoding="utf-8")
        problems += findings(path)
    print("\n".join(problems) or f"cjk_lint: {len(paths)} Chinese pages clean")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
