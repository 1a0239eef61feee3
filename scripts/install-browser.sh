#!/usr/bin/env bash
# Installs Debian's chromium and chromedriver (used by tests/test_browser.py) unless they are already there.
set -euo pipefail
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
