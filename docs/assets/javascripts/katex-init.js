// Render the \( \) and \[ \] spans that pymdownx.arithmatex (generic mode) leaves in each page.
// document$ is Material's page observable, so instant navigation re-renders too.
document$.subscribe(({ body }) => {
  renderMathInElement(body, {
    delimiters: [
      { left: "$$", right: "$$", display: true },
      { left: "$", right: "$", display: false },
      { left: "\\(", right: "\\)", display: false },
      { left: "\\[", right: "\\]", display: true },
    ],
  });
  for (const box of body.querySelectorAll(".katex-display")) {
    wideFormulas.observe(box); // the box: the window's width
    wideFormulas.observe(box.firstElementChild); // the formula: KaTeX's fonts arriving
  }
});

// A formula wider than its box scrolls sideways (extra.css); make it reachable from the keyboard too. Its
// width and the formula's change when the window does and when KaTeX's fonts arrive: both are watched.
const wideFormulas = new ResizeObserver((entries) => {
  for (const { target } of entries) {
    const box = target.closest(".katex-display");
    if (box.scrollWidth > box.clientWidth + 1) box.tabIndex = 0;
    else box.removeAttribute("tabindex");
  }
});
