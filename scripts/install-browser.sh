#!/usr/bin/env bash
# What the real-browser tests (tests/test_browser*.py) need, each installed once:
# Debian's chromium and chromedriver, and axe-core (the accessibility checker, MPL-2.0) from npm.
set -euo pipefail
cd "$(dirname "$0")/.."

AXE_VERSION=4.14.1
axe=.cache/axe-core-$AXE_VERSION/axe.min.js
if [[ ! -f $axe ]]; then
  if ! command -v npm >/dev/null; then
    echo "No npm: install Node.js, or put axe-core $AXE_VERSION's axe.min.js at $axe" >&2
    exit 1
  fi
  echo "Fetching axe-core $AXE_VERSION with npm (once)..."
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent "axe-core@$AXE_VERSION" >/dev/null && tar xzf "axe-core-$AXE_VERSION.tgz")
  mkdir -p "$(dirname "$axe")"
  mv "$tmp/package/axe.min.js" "$axe"
  rm -rf "$tmp"
fi

chrome=${CHROME_BIN:-/usr/bin/chromium}
driver=${CHROMEDRIVER:-/usr/bin/chromedriver}
if [[ -x $chrome && -x $driver ]]; then
  exit 0
fi
if ! command -v apt-get >/dev/null; then
  echo "No $chrome / $driver and no apt-get: install Chromium and its matching ChromeDriver, then set" >&2
  echo "CHROME_BIN and CHROMEDRIVER to their paths." >&2
  exit 1
fi
sudo=""
[[ $(id -u) -eq 0 ]] || sudo="sudo"
echo "Installing chromium and chromium-driver with apt-get (once)..."
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium chromium-driver fonts-noto-cjk >/dev/null
