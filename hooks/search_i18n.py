"""One search index per language: Chinese pages search Chinese pages, English pages English pages.

Material's search plugin writes one ``search/search_index.json`` and its browser code fetches it from
``config.base`` (the site root); mkdocs-static-i18n fills that one index with the pages of every language
(https://github.com/ultrabug/mkdocs-static-i18n/issues/271), so a query on the English site also lists
Chinese pages and the other way round. This hook, after static-i18n has built every language:

1. splits the merged index by the language prefix of each entry: the default language (中文) keeps
   ``search/search_index.json``; each other language ``L`` gets ``L/search/search_index.json`` holding only
   the entries under ``L/``, their locations made relative to ``L/``. The index ``config`` (lang,
   separator, pipeline, fields) is copied unchanged, and the text is the one the search plugin wrote, so
   jieba's segmentation of Chinese (``jieba_dict_user``) is kept as it is;
2. points the ``base`` of Material's ``__config`` on every page under ``L/`` at ``L/``, so that the browser
   loads ``L/search/search_index.json`` and resolves result links against ``L/``.

Pages that are only a "being written" notice stay out of every index (they would rank first for the very
words their notice promises, 注意力 for one), until they have a section.

``base`` is also where Material would look for ``sitemap.xml`` for instant navigation
(``navigation.instant``, not enabled here) and for versions (``mike``, not used).

Needs ``reconfigure_search: false`` in the i18n plugin: with ``true`` static-i18n drops every English entry
whose title and text equal a Chinese one (most of the API reference), which is right for one shared index
and wrong for an English index. The hook warns (so ``mkdocs build --strict`` fails) if it is set.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from typing import Any

from mkdocs.plugins import event_priority

sys.path.insert(0, os.path.dirname(__file__))
from render_data import is_unwritten  # noqa: E402

log = logging.getLogger("mkdocs.hooks.search_i18n")

INDEX = os.path.join("search", "search_index.json")
_CONFIG_SCRIPT = re.compile(r'(<script id="__config" type="application/json">)(.*?)(</script>)', re.S)
_BASE = re.compile(r'("base":\s*)"((?:[^"\\]|\\.)*)"')


def _i18n(config) -> Any | None:
    plugin = config.plugins.get("i18n")
    return plugin if plugin is not None and hasattr(plugin, "config") else None


def language_prefixes(config) -> dict[str, str]:
    """``{locale: "L/"}`` for every built language but the default one (which lives at the site root)."""
    plugin = _i18n(config)
    if plugin is None:
        return {}
    return {
        lang.locale: f"{lang.locale}/" for lang in plugin.config.languages if not lang.default and lang.build
    }


def _prefix_of(url: str, prefixes: dict[str, str]) -> str:
    """The language prefix (``"en/"``) a site-relative URL starts with, or ``""`` for the default language."""
    return next((p for p in prefixes.values() if url.startswith(p)), "")


def split_index(index: dict[str, Any], prefixes: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Split a merged search index into one per language: ``{"": default, "en/": english, ...}``.

    An entry belongs to the language whose prefix its location starts with (``en/phases/04-mlp/#x``), or
    to the default language. Locations of the other languages are made relative to their prefix.
    """
    out = {p: {"config": index["config"], "docs": []} for p in ["", *prefixes.values()]}
    for doc in index["docs"]:
        prefix = _prefix_of(doc["location"], prefixes)
        out[prefix]["docs"].append({**doc, "location": doc["location"].removeprefix(prefix)})
    return out


def _rebase(html: str, prefix: str) -> str:
    """Append ``prefix`` to the ``base`` of Material's ``__config`` script in a rendered page."""

    def script(m: re.Match[str]) -> str:
        def base(b: re.Match[str]) -> str:
            value = b.group(2) if b.group(2).endswith("/") else b.group(2) + "/"
            return f'{b.group(1)}"{value}{prefix}"'

        body, n = _BASE.subn(base, m.group(2), count=1)
        if n != 1:
            log.warning("search_i18n: no base in Material's __config; the page searches the default index")
        return m.group(1) + body + m.group(3)

    return _CONFIG_SCRIPT.sub(script, html, count=1)


def on_config(config):
    plugin = _i18n(config)
    if plugin is not None and plugin.config.reconfigure_search:
        log.warning(
            "search_i18n: set `reconfigure_search: false` in the i18n plugin; with true, static-i18n removes "
            "English search entries that equal Chinese ones, and the English index would miss them"
        )
    return config


def on_page_markdown(markdown: str, page, config, files) -> str:
    if is_unwritten(markdown):
        page.meta["search"] = {**(page.meta.get("search") or {}), "exclude": True}
    return markdown


def on_post_page(output: str, page, config) -> str:
    prefix = _prefix_of(page.url, language_prefixes(config))
    return _rebase(output, prefix) if prefix else output


@event_priority(-110)  # after static-i18n's on_post_build (-100), which builds the other languages
def on_post_build(config) -> None:
    plugin = _i18n(config)
    if plugin is None or getattr(plugin, "building", False):
        return  # a language build inside static-i18n's loop: the merged index is not written yet
    path = os.path.join(config.site_dir, INDEX)
    if not os.path.isfile(path):
        return  # search disabled
    with open(path, encoding="utf-8") as fh:
        merged = json.load(fh)
    for prefix, index in split_index(merged, language_prefixes(config)).items():
        target = os.path.join(config.site_dir, prefix, INDEX)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "w", encoding="utf-8") as fh:
            json.dump(index, fh, separators=(",", ":"), ensure_ascii=False)
        log.info(f"search_i18n: {len(index['docs'])} entries in {prefix}{INDEX}")
