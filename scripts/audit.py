"""Lighthouse scores of the built site as a phone sees it (``make audit``).

Builds the site into a temporary folder, serves it on 127.0.0.1 with gzip (as GitHub Pages serves it), and
runs Lighthouse (mobile profile: a mid-range phone on a slow 4G network, CPU slowed 4x) on a few pages,
each ``--runs`` times, printing the median of each score as a Markdown table. Lighthouse is installed with
npm into ``.cache/lighthouse`` on first use; Chromium is the one the browser tests use.

The simulated phone runs on this machine's CPU: on a busy machine the performance score drops. Compare
pages and versions within one run, not across days.

Usage::

    .venv/bin/python scripts/audit.py [--runs 3] [PAGE ...]     (default: the heaviest chapter, the home page,
                                                                 the tracker, in Chinese and English)
"""

from __future__ import annotations

import argparse
import functools
import gzip
import http.server
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LIGHTHOUSE_VERSION = "12"
LIGHTHOUSE = ROOT / ".cache" / "lighthouse" / "node_modules" / ".bin" / "lighthouse"
CHROME = os.environ.get("CHROME_BIN", "/usr/bin/chromium")
PAGES = ["phases/05-cnn/efficient/", "", "plan/progress/", "en/phases/05-cnn/efficient/"]
METRICS = {
    "largest-contentful-paint": "LCP",
    "total-blocking-time": "TBT",
    "dom-size": "DOM",
    "total-byte-weight": "bytes",
}


class GzipHandler(http.server.SimpleHTTPRequestHandler):
    """Static files, gzipped when the browser asks for it."""

    def log_message(self, *args: object) -> None:
        pass

    def send_head(self):
        path = Path(self.translate_path(self.path))
        if path.is_dir():
            path = path / "index.html"
        if not path.is_file() or "gzip" not in self.headers.get("Accept-Encoding", ""):
            return super().send_head()
        body = gzip.compress(path.read_bytes())
        self.send_response(200)
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        return io.BytesIO(body)


def install_lighthouse() -> None:
    if LIGHTHOUSE.exists():
        return
    print(f"Installing Lighthouse {LIGHTHOUSE_VERSION} with npm into .cache/lighthouse (once)...", flush=True)
    prefix = LIGHTHOUSE.parents[2]
    prefix.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["npm", "install", "--silent", "--no-audit", "--no-fund", f"lighthouse@{LIGHTHOUSE_VERSION}"],
        cwd=prefix,
        check=True,
    )


def lighthouse(url: str) -> dict:
    with tempfile.NamedTemporaryFile(suffix=".json") as report:
        subprocess.run(
            [
                str(LIGHTHOUSE),
                url,
                "--quiet",
                "--only-categories=performance,accessibility",
                "--output=json",
                f"--output-path={report.name}",
                "--chrome-flags=--headless=new --no-sandbox --disable-gpu --disable-dev-shm-usage",
            ],
            check=True,
            env={**os.environ, "CHROME_PATH": CHROME},
        )
        return json.loads(Path(report.name).read_text(encoding="utf-8"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pages", nargs="*", default=PAGES, help="site paths, e.g. phases/05-cnn/")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    install_lighthouse()
    with tempfile.TemporaryDirectory() as site:
        env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
        subprocess.run(
            [sys.executable, "-m", "mkdocs", "build", "-q", "--site-dir", site], cwd=ROOT, env=env, check=True
        )
        handler = functools.partial(GzipHandler, directory=site)
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{server.server_port}/"
        print("| page | performance | accessibility | " + " | ".join(METRICS.values()) + " |")
        print("|---|--:|--:|" + "--:|" * len(METRICS))
        for page in args.pages:
            reports = [lighthouse(base + page) for _ in range(args.runs)]
            perf = statistics.median(r["categories"]["performance"]["score"] for r in reports)
            a11y = statistics.median(r["categories"]["accessibility"]["score"] for r in reports)
            middle = sorted(reports, key=lambda r: r["categories"]["performance"]["score"])[len(reports) // 2]
            values = [middle["audits"][key]["displayValue"] for key in METRICS]
            print(
                f"| /{page} | {perf * 100:.0f} | {a11y * 100:.0f} | " + " | ".join(values) + " |", flush=True
            )
        server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
