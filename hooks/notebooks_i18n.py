"""Let mkdocs-jupyter render notebooks in every language, with a working language switcher.

mkdocs-static-i18n rebuilds the file list last (its `on_files` runs at priority -100), which undoes the
notebook wrapping that mkdocs-jupyter applied in its own `on_files`; it also pairs only Markdown pages
with their twins. So, after static-i18n: wrap the notebooks again inside its own file list, keeping the
destination it chose, and tell each notebook page where its twin lives. `projects/x.py` (中文) and
`projects/x.en.py` (English) then render as notebooks whose switcher lands on each other.
"""

from types import SimpleNamespace

from mkdocs.plugins import event_priority
from mkdocs_jupyter.plugin import NotebookFile


@event_priority(-110)
def on_files(files, config):
    jupyter = config.plugins["mkdocs-jupyter"]
    for file in list(files):
        if not isinstance(file, NotebookFile) and jupyter.should_include(file):
            notebook = NotebookFile(file, **config)
            notebook.dest_path, notebook.abs_dest_path, notebook.url = (
                file.dest_path,
                file.abs_dest_path,
                file.url,
            )
            files.remove(file)
            files.append(notebook)
    return files


@event_priority(60)  # before static-i18n's page context (priority 50), which reads `alternates`
def on_page_context(context, page, config, nav):
    if isinstance(page.file, NotebookFile):
        languages = config.plugins["i18n"].config.languages
        default = next(lang.locale for lang in languages if lang.default)
        prefixes = {lang.locale: "" if lang.locale == default else f"{lang.locale}/" for lang in languages}
        here = next(
            (loc for loc, prefix in prefixes.items() if prefix and page.url.startswith(prefix)), default
        )
        bare = page.url.removeprefix(prefixes[here])
        page.file.alternates = {loc: SimpleNamespace(url=prefix + bare) for loc, prefix in prefixes.items()}
    return context
