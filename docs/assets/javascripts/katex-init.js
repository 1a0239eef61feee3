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
  document.dispatchEvent(new Event("katex-rendered")); // scroll-focus.js watches the new formula boxes
});
