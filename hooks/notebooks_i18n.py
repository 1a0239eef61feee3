"""Let mkdocs-jupyter render notebooks in every language, with a working language switcher.

mkdocs-static-i18n rebuilds the file list last (its `on_files` runs at priority -100), which undoes the
notebook wrapping that mkdocs-jupyter applied in its own `on_files`; it also pairs only Markdown pages
with their twins. So, after static-i18n: wrap the notebooks again inside its own file list, keeping the
destination it chose, and tell each notebook page where its twin lives. `projects/x.ipynb` (中文) and
`projects/x.en.ipynb` (English), recorded from `x.py` / `x.en.py` by `make refresh` (harness/notebooks.py),
then render as notebooks whose switcher lands on each other.

nbconvert gives every figure of a notebook the same alt text ("No description has been provided for this
image"); a code cell that draws declares its own, in its language, as `# %% alt="..."`, and it replaces
that placeholder for the figures of that cell.
"""

import html
import json
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


_NO_ALT = 'alt="No description has been provided for this image"'
_IMAGES = {"image/png", "image/jpeg", "image/svg+xml"}  # each such output is one <img> without alt


def on_page_content(html_text, page, config, files):
    if not isinstance(page.file, NotebookFile):
        return html_text
    with open(page.file.abs_src_path, encoding="utf-8") as f:
        notebook = json.load(f)
    alts = iter(
        cell.get("metadata", {}).get("alt")
        for cell in notebook["cells"]
        for output in cell.get("outputs", [])
        if output.get("output_type") == "display_data" and _IMAGES & set(output.get("data", {}))
    )
    # The placeholder marks exactly the images nbconvert rendered from outputs, in notebook order.
    parts = html_text.split(_NO_ALT)
    out = [parts[0]]
    for part in parts[1:]:
        alt = next(alts, None)
        out.append(f'alt="{html.escape(alt)}"' if alt else _NO_ALT)
        out.append(part)
    return "".join(out)
