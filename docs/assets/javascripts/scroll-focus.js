// A code block, a formula or a diagram wider than its box scrolls sideways; make each such box reachable
// from the keyboard (tabindex 0), and only those: a box that fits needs no tab stop. Widths change with the
// window and when fonts arrive (KaTeX renders after load), so every box and its content are watched.
const scrollBoxes = ".md-typeset pre > code, .md-typeset .katex-display, .md-typeset .dl-diagram";
const watcher = new ResizeObserver((entries) => {
  for (const { target } of entries) {
    const box = target.closest(scrollBoxes);
    if (box.scrollWidth > box.clientWidth + 1) box.tabIndex = 0;
    else box.removeAttribute("tabindex");
  }
});
function watchScrollBoxes(root) {
  for (const box of root.querySelectorAll(scrollBoxes)) {
    if (box.dataset.watched) continue;
    box.dataset.watched = "1";
    watcher.observe(box);
    if (box.firstElementChild) watcher.observe(box.firstElementChild);
  }
}
// Material's page observable, then again after KaTeX has turned \[ \] into .katex-display boxes.
document$.subscribe(({ body }) => watchScrollBoxes(body));
document.addEventListener("katex-rendered", () => watchScrollBoxes(document.body));
