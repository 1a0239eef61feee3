#!/usr/bin/env bash
# Copies Mermaid's ESM build from the npm package into docs/assets/javascripts/vendor/mermaid/ (run it by
# hand to upgrade; nothing runs it at build or test time). Usage: scripts/vendor-mermaid.sh [version]
#
# Kept: dist/mermaid.esm.min.mjs and its chunks/mermaid.esm.min/*.mjs (the browser fetches only the chunks a
# page's diagrams need: a flowchart with the dagre layout is about 0.9 MB), LICENSE.
# Left out: source maps, the other builds, and the ELK layout chunk (1.6 MB, above the repository's 1 MB
# limit per file): docs/assets/javascripts/diagrams.js sets `layout: "dagre"`, so it is never requested.
set -euo pipefail
version=${1:-12.3.0}
root=$(cd "$(dirname "$0")/.." && pwd)
dest=$root/docs/assets/javascripts/vendor/mermaid
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

(cd "$tmp" && npm pack --silent "mermaid@$version" >/dev/null && tar xzf "mermaid-$version.tgz")
pkg=$tmp/package
rm -rf "$dest"
mkdir -p "$dest/chunks/mermaid.esm.min"
cp "$pkg/LICENSE" "$pkg/dist/mermaid.esm.min.mjs" "$dest/"
cp "$pkg"/dist/chunks/mermaid.esm.min/*.mjs "$dest/chunks/mermaid.esm.min/"
rm "$dest"/chunks/mermaid.esm.min/elk-*.mjs
cat >"$dest/README.txt" <<EOF
Mermaid $version (MIT, https://mermaid.js.org, https://github.com/mermaid-js/mermaid), from the npm package
'mermaid': dist/mermaid.esm.min.mjs and dist/chunks/mermaid.esm.min/*.mjs, without source maps and without
the ELK layout chunk (we draw with dagre). The licences of the libraries bundled into the chunks (d3, dagre,
DOMPurify, lodash, cytoscape, ...) are kept at the end of the chunks that contain them.
Loaded by docs/assets/javascripts/diagrams.js only on pages that contain a diagram.
Refresh with scripts/vendor-mermaid.sh [version].
EOF
du -sh "$dest"
