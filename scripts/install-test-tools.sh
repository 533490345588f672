#!/usr/bin/env bash
# Installs what the tests need beyond Rust: Debian's Chromium and its WebDriver for
# the browser tests (the packages `chromium` and `chromium-driver`, which provide
# `chromium` and `chromedriver` on PATH), and `promtool` for the metrics test (the
# package `prometheus`; `promtool check metrics` checks a live node's /metrics).
# Does nothing when all are present. Fails, naming what is missing, when they cannot
# be installed.
set -euo pipefail

missing() {
  local m=()
  command -v chromium >/dev/null 2>&1 || m+=(chromium)
  command -v chromedriver >/dev/null 2>&1 || m+=(chromedriver)
  command -v promtool >/dev/null 2>&1 || m+=(promtool)
  echo "${m[@]+"${m[@]}"}"
}

if [ -n "$(missing)" ]; then
  echo "== installing chromium, chromium-driver and prometheus (missing: $(missing))"
  sudo=()
  if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then
    sudo=(sudo)
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "warning: apt-get not found; cannot install the Debian packages chromium, chromium-driver and prometheus" >&2
  elif ! { "${sudo[@]+"${sudo[@]}"}" env DEBIAN_FRONTEND=noninteractive apt-get update &&
           "${sudo[@]+"${sudo[@]}"}" env DEBIAN_FRONTEND=noninteractive \
             apt-get install -y --no-install-recommends chromium chromium-driver prometheus; }; then
    echo "warning: apt-get failed to install chromium, chromium-driver and prometheus" >&2
  fi
fi

still=$(missing)
if [ -n "$still" ]; then
  echo "error: missing after install: $still (the browser tests need the Debian packages chromium and chromium-driver, the metrics test promtool from the package prometheus; install them as root: apt-get install chromium chromium-driver prometheus)" >&2
  exit 1
fi

# The Debian launcher may print shell warnings on stderr; keep only the version line.
if ! chromium_version=$(chromium --version 2>/dev/null); then
  echo "error: $(command -v chromium) is installed but 'chromium --version' fails:" >&2
  chromium --version >&2 || true
  exit 1
fi
if ! driver_version=$(chromedriver --version 2>/dev/null); then
  echo "error: $(command -v chromedriver) is installed but 'chromedriver --version' fails:" >&2
  chromedriver --version >&2 || true
  exit 1
fi
if ! promtool_version=$(promtool --version 2>&1 | head -n 1); then
  echo "error: $(command -v promtool) is installed but 'promtool --version' fails" >&2
  exit 1
fi
echo "chromium: $(command -v chromium): $chromium_version"
echo "chromedriver: $(command -v chromedriver): $driver_version"
echo "promtool: $(command -v promtool): $promtool_version"
