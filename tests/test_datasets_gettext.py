"""lessons.datasets.text.load_gettext_pairs: cleaning rules on a catalog written here, the error where
catalogs are absent, argument checks, and (where Debian's catalogs are installed) the real git catalog."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from lessons.datasets.text import GETTEXT_DOMAINS, gettext_catalogs_missing, load_gettext_pairs

HEADER = "Content-Type: text/plain; charset=UTF-8\nPlural-Forms: nplurals=1; plural=0;\n"


def write_mo(path: Path, messages: dict[str, str]) -> Path:
    """A GNU .mo file (the format msgfmt writes: magic, two tables of (length, offset), NUL-ended strings)."""
    items = sorted({"": HEADER, **messages}.items())
    ids = [k.encode() for k, _ in items]
    strs = [v.encode() for _, v in items]
    n = len(items)
    start = 7 * 4 + 16 * n  # header, then the two tables
    blob, id_table, str_table = b"", [], []
    for table, strings in ((id_table, ids), (str_table, strs)):
        for s in strings:
            table.append((len(s), start + len(blob)))
            blob += s + b"\0"
    head = struct.pack("<7I", 0x950412DE, 0, n, 28, 28 + 8 * n, 0, 0)
    tables = b"".join(struct.pack("<2I", *e) for e in id_table + str_table)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(head + tables + blob)
    return path


@pytest.fixture
def locale(tmp_path: Path) -> Path:
    write_mo(
        tmp_path / "zh_CN" / "LC_MESSAGES" / "toy.mo",
        {
            "apply the patch in reverse": "反向应用补丁",
            "Delete": "删除",
            "delete.": "删除。",  # the same message as "Delete" up to case and the final dot
            "cannot open %s": "无法打开 %s",  # a format string
            "value {0} is bad": "值 {0} 不对",  # a Python-style placeholder
            "add <pattern> to ignore rules": "添加 <模式> 到忽略规则",  # a placeholder
            "_Open": "打开(_O)",  # a menu shortcut
            "Save &As": "另存为(&A)",
            "use --force to override": "用 --force 强制",  # an option name
            "two\nlines": "两\n行",
            "one two three four five six seven": "一二三四五六七",  # 7 words
            "GPG": "GPG",  # no Han character in the translation
            "Untranslated": "",
            "file\0files": "文件",  # a plural entry
        },
    )
    write_mo(tmp_path / "zh_CN" / "LC_MESSAGES" / "other.mo", {"Abort": "中止", "delete": "移除"})
    return tmp_path


def test_cleaning_keeps_plain_sentences_only(locale: Path) -> None:
    pairs = load_gettext_pairs("zh_CN", ["toy"], max_words=6, locale_dirs=[locale])
    assert pairs == [("Delete", "删除"), ("apply the patch in reverse", "反向应用补丁")]


def test_word_limits(locale: Path) -> None:
    long = load_gettext_pairs("zh_CN", ["toy"], min_words=7, max_words=7, locale_dirs=[locale])
    assert long == [("one two three four five six seven", "一二三四五六七")]


def test_first_domain_wins_a_duplicate_and_order_is_sorted(locale: Path) -> None:
    a = load_gettext_pairs("zh_CN", ["other", "toy"], locale_dirs=[locale])
    b = load_gettext_pairs("zh_CN", ["toy", "other"], locale_dirs=[locale])
    assert ("delete", "移除") in a and ("Delete", "删除") not in a
    assert ("Delete", "删除") in b and ("delete", "移除") not in b
    assert a == sorted(a) and b == sorted(b)


def test_later_folders_are_searched_too(locale: Path, tmp_path: Path) -> None:
    pairs = load_gettext_pairs("zh_CN", ["toy"], locale_dirs=[tmp_path / "empty", locale])
    assert ("Delete", "删除") in pairs


def test_missing_catalog_names_the_debian_package(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"apt-get install coreutils git") as info:
        load_gettext_pairs("zh_CN", ["git", "coreutils"], locale_dirs=[tmp_path])
    assert "language-pack-zh-hans-base" in str(info.value)
    assert gettext_catalogs_missing("zh_CN", ["git", "coreutils"], locale_dirs=[tmp_path]) == [
        "git",
        "coreutils",
    ]


def test_bad_arguments(locale: Path) -> None:
    with pytest.raises(TypeError, match="domains"):
        load_gettext_pairs("zh_CN", "toy", locale_dirs=[locale])
    with pytest.raises(ValueError, match="min_words"):
        load_gettext_pairs("zh_CN", ["toy"], min_words=0, locale_dirs=[locale])
    with pytest.raises(ValueError, match="max_words"):
        load_gettext_pairs("zh_CN", ["toy"], min_words=3, max_words=2, locale_dirs=[locale])
    with pytest.raises(TypeError, match="max_words"):
        load_gettext_pairs("zh_CN", ["toy"], max_words=2.5, locale_dirs=[locale])


def test_other_languages_keep_latin_translations(tmp_path: Path) -> None:
    write_mo(
        tmp_path / "fr" / "LC_MESSAGES" / "toy.mo",
        {"Delete": "Supprimer l’élément", "cannot open %s": "x %s", "_Open": "_Ouvrir"},
    )
    assert load_gettext_pairs("fr", ["toy"], locale_dirs=[tmp_path]) == [("Delete", "Supprimer l’élément")]


@pytest.mark.skipif(bool(gettext_catalogs_missing("zh_CN", ["git"])), reason="git's zh_CN catalog is absent")
def test_real_git_catalog() -> None:
    pairs = load_gettext_pairs("zh_CN", ["git"])
    assert len(pairs) > 1000
    assert dict(pairs)["apply the patch in reverse"] == "反向应用补丁"
    assert all("%" not in en and "%" not in zh for en, zh in pairs)
    assert set(GETTEXT_DOMAINS) >= {"git", "coreutils"}
