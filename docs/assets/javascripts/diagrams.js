// Draws the ```diagram fences of a page. pymdownx.superfences turns each into <div class="dl-diagram"> holding
// the Mermaid source (mkdocs.yml, custom_fences); this script imports the Mermaid copy in vendor/mermaid/
// only when a diagram of the page comes near the screen (Mermaid is megabytes: pages without a diagram never
// fetch it), and only the chunks the diagrams need. Not Material's "mermaid" class on purpose: Material would
// fetch Mermaid from unpkg.com. document$ is Material's page observable, so instant navigation draws the new page's diagrams.
// Colours are Material's --md-mermaid-* variables: the diagrams follow the light/dark palette switch
// without being drawn again.
(() => {
  const MERMAID = new URL("vendor/mermaid/mermaid.esm.min.mjs", document.currentScript.src).href;
  const THEME_CSS = `
    .node rect, .node circle, .node ellipse, .node polygon, .node path {
      fill: var(--md-mermaid-node-bg-color); stroke: var(--md-mermaid-node-fg-color); }
    .nodeLabel, .nodeLabel p, .label { color: var(--md-mermaid-label-fg-color); }
    .label foreignObject { overflow: visible; }
    sub, sup { line-height: 0; } /* x<sub>t</sub> keeps the line height Mermaid measured */
    .flowchart-link { stroke: var(--md-mermaid-edge-color); }
    marker path, .marker { fill: var(--md-mermaid-edge-color) !important; stroke: none !important; }
    .edgeLabel, .edgeLabel p { color: var(--md-mermaid-edge-color);
      background-color: var(--md-mermaid-label-bg-color); }
    .edgeLabel rect, .labelBkg { fill: var(--md-mermaid-label-bg-color);
      background-color: var(--md-mermaid-label-bg-color); }
    .cluster rect { fill: var(--md-default-fg-color--lightest); stroke: var(--md-default-fg-color--lighter); }
    .cluster-label .nodeLabel, .cluster-label span { color: var(--md-default-fg-color--light); }
  `;
  let mermaid = null; // the module, imported once per page load (instant navigation keeps it)

  function load() {
    mermaid ??= import(MERMAID).then(({ default: m }) => {
      m.initialize({
        startOnLoad: false,
        securityLevel: "strict",
        layout: "dagre", // Mermaid 12 would otherwise fetch the 1.6 MB ELK layout, which we do not ship
        theme: "default",
        look: "classic", // Mermaid 12 draws "neo" (drop shadows, its own stroke colours) otherwise
        flowchart: { wrappingWidth: 280, nodeSpacing: 30 }, // labels wrap beyond 280 px (Mermaid: 120)
        themeCSS: THEME_CSS,
        fontFamily: getComputedStyle(document.body).fontFamily, // Material's text font, CJK fallback included
      });
      return m;
    });
    return mermaid;
  }

  // Each drawing goes into the div's own (open) shadow root, as Material does with its Mermaid diagrams: the
  // page's typography (.md-typeset margins and line heights) stays out of the labels Mermaid has measured.
  // The source stays in the div, hidden by the shadow root.
  let count = 0;
  async function draw(nodes) {
    const m = await load();
    for (const node of nodes) {
      if (node.dataset.processed) continue;
      try {
        const { svg, bindFunctions } = await m.render(`dl-diagram-${count++}`, node.textContent);
        const shadow = node.shadowRoot ?? node.attachShadow({ mode: "open" });
        shadow.innerHTML = svg;
        bindFunctions?.(shadow);
        node.dataset.processed = "true";
      } catch (error) {
        console.error("diagram not drawn:", error); // the source stays on the page, as text
      }
    }
  }

  // A diagram is drawn when it comes within two screen heights of the window, not when the page loads:
  // laying one out takes Mermaid a second or more of a phone's main thread, and a reader who never scrolls
  // that far never pays for it. Drawings are queued, one after the other.
  let queue = Promise.resolve();
  const enqueue = (nodes) => {
    queue = queue.then(() => draw(nodes)).catch((error) => console.error("diagram not drawn:", error));
  };
  const near =
    "IntersectionObserver" in window
      ? new IntersectionObserver(
          (entries) => {
            const due = entries.filter((e) => e.isIntersecting).map((e) => e.target);
            for (const node of due) near.unobserve(node);
            if (due.length) enqueue(due);
          },
          { rootMargin: "200% 0px" },
        )
      : null;
  const start = (root) => {
    const nodes = [...root.querySelectorAll(".dl-diagram:not([data-processed])")];
    if (!near) return nodes.length && enqueue(nodes);
    for (const node of nodes) near.observe(node);
  };
  if (typeof document$ !== "undefined") {
    document$.subscribe(({ body }) => start(body));
  } else {
    start(document.body);
  }
})();
