#!/usr/bin/env bash
# Installs what the tests need beyond Rust, from Debian packages:
# - the browser tests: Chromium and its WebDriver (`chromium`, `chromium-driver`,
#   which provide `chromium` and `chromedriver` on PATH);
# - the QR scan test (crates/gs1/tests/qr_zbar.rs): `zbarimg` (zbar-tools),
#   ImageMagick (`imagemagick`) with its SVG coder, MSVG (`libmagickcore-*-extra`),
#   and `rsvg-convert` (librsvg2-bin).
# - the metrics test (crates/api/tests/ops.rs): `promtool` (package `prometheus`;
#   `promtool check metrics` checks a live node's /metrics).
# Does nothing when all are present. Fails, naming what is missing, when they cannot
# be installed.
set -euo pipefail

# ImageMagick itself: a `convert` on PATH may be something else standing in for it (a
# sandbox's PNG-only stand-in, say), so ask it what it is.
has_imagemagick() {
  local im
  im=$(command -v magick || command -v convert || true)
  [ -n "$im" ] && "$im" -version 2>/dev/null | grep ImageMagick >/dev/null
}

has_msvg() {
  local im
  im=$(command -v magick || command -v convert || true)
  # grep reads all of it (no -q): with pipefail, an early exit would fail the pipe.
  [ -n "$im" ] && "$im" -list format 2>/dev/null | grep -w MSVG >/dev/null
}

# The missing tools, each as "tool:package".
missing() {
  local m=()
  command -v chromium >/dev/null 2>&1 || m+=(chromium:chromium)
  command -v chromedriver >/dev/null 2>&1 || m+=(chromedriver:chromium-driver)
  command -v zbarimg >/dev/null 2>&1 || m+=(zbarimg:zbar-tools)
  command -v rsvg-convert >/dev/null 2>&1 || m+=(rsvg-convert:librsvg2-bin)
  has_imagemagick || m+=(convert:imagemagick)
  has_msvg || m+=(ImageMagick-MSVG:"$(magick_extra)")
  command -v promtool >/dev/null 2>&1 || m+=(promtool:prometheus)
  echo "${m[@]+"${m[@]}"}"
}

# ImageMagick's extra coders (SVG among them): libmagickcore-6.q16-6-extra on
# Debian 12, named after the library's version elsewhere.
magick_extra() {
  local name=""
  if command -v apt-cache >/dev/null 2>&1; then
    name=$(apt-cache pkgnames libmagickcore 2>/dev/null | grep -E '^libmagickcore-[0-9.]+q16-[0-9]+-extra$' | sort -V | tail -n 1 || true)
  fi
  echo "${name:-libmagickcore-6.q16-6-extra}"
}

if [ -n "$(missing)" ]; then
  packages=()
  for item in $(missing); do
    packages+=("${item#*:}")
  done
  echo "== installing ${packages[*]} (missing: $(missing))"
  sudo=()
  if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then
    sudo=(sudo)
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "warning: apt-get not found; cannot install the Debian packages ${packages[*]}" >&2
  elif ! { "${sudo[@]+"${sudo[@]}"}" env DEBIAN_FRONTEND=noninteractive apt-get update &&
           "${sudo[@]+"${sudo[@]}"}" env DEBIAN_FRONTEND=noninteractive \
             apt-get install -y --no-install-recommends "${packages[@]}"; }; then
    echo "warning: apt-get failed to install ${packages[*]}" >&2
  fi
fi

still=$(missing)
if [ -n "$still" ]; then
  echo "error: missing after install: $still (each as tool:Debian package; the browser tests need chromium and chromium-driver, the QR scan test zbar-tools, imagemagick, $(magick_extra) and librsvg2-bin, the metrics test prometheus (for promtool); install them as root with apt-get install)" >&2
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
echo "zbarimg: $(command -v zbarimg): $(zbarimg --version 2>/dev/null | head -n 1)"
echo "rsvg-convert: $(command -v rsvg-convert): $(rsvg-convert --version 2>/dev/null | head -n 1)"
im=$(command -v magick || command -v convert)
echo "imagemagick: $im: $("$im" -version 2>/dev/null | head -n 1) (MSVG coder present)"
echo "promtool: $(command -v promtool): $promtool_version"
