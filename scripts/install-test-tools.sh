#!/usr/bin/env bash
# Installs what the tests need beyond Rust: Debian's Chromium and its WebDriver
# for the browser tests (the packages `chromium` and `chromium-driver`, which
# provide `chromium` and `chromedriver` on PATH), and cargo-machete, which finds
# unused dependencies (from crates.io with `cargo install`: about 2 minutes of
# compiling, once). Does nothing for what is present. Fails, naming what is
# missing, when something cannot be installed.
set -euo pipefail

# The version scripts/test.sh runs; bump it here when a newer one is wanted.
MACHETE_VERSION=0.9.2
if ! cargo machete --version 2>/dev/null | grep -qF "$MACHETE_VERSION"; then
  echo "== installing cargo-machete $MACHETE_VERSION (unused dependencies check)"
  if ! cargo install cargo-machete --locked --version "$MACHETE_VERSION"; then
    echo "error: cannot install cargo-machete $MACHETE_VERSION from crates.io (cargo install cargo-machete --locked --version $MACHETE_VERSION); scripts/test.sh needs it" >&2
    exit 1
  fi
fi

missing() {
  local m=()
  command -v chromium >/dev/null 2>&1 || m+=(chromium)
  command -v chromedriver >/dev/null 2>&1 || m+=(chromedriver)
  echo "${m[@]+"${m[@]}"}"
}

if [ -n "$(missing)" ]; then
  echo "== installing chromium and chromium-driver (missing: $(missing))"
  sudo=()
  if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then
    sudo=(sudo)
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "warning: apt-get not found; cannot install the Debian packages chromium and chromium-driver" >&2
  elif ! { "${sudo[@]+"${sudo[@]}"}" env DEBIAN_FRONTEND=noninteractive apt-get update &&
           "${sudo[@]+"${sudo[@]}"}" env DEBIAN_FRONTEND=noninteractive \
             apt-get install -y --no-install-recommends chromium chromium-driver; }; then
    echo "warning: apt-get failed to install chromium and chromium-driver" >&2
  fi
fi

still=$(missing)
if [ -n "$still" ]; then
  echo "error: missing after install: $still (the browser tests need the Debian packages chromium and chromium-driver; install them as root: apt-get install chromium chromium-driver)" >&2
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
echo "chromium: $(command -v chromium): $chromium_version"
echo "chromedriver: $(command -v chromedriver): $driver_version"
echo "cargo-machete: $(cargo machete --version 2>/dev/null)"
