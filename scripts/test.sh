#!/usr/bin/env bash
# The whole test suite: formatting, lints, every crate's unit and integration
# tests (conformance vectors from ../shared/conformance, crash and tamper tests,
# the CLI end to end, browser tests; no unused dependencies and no module import cycles
# are tests too, crates/state/tests/{unused_dependencies,import_cycles}.rs).
# Installs what the tests need beyond Rust first: Chromium and chromedriver, zbarimg,
# ImageMagick and rsvg-convert, promtool, via scripts/install-test-tools.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -d ../shared/conformance ]; then
  echo "error: ../shared/conformance is missing; the conformance tests read their vectors from it" >&2
  exit 1
fi

echo "== test tools (chromium, chromedriver, zbarimg, imagemagick, rsvg-convert, promtool)"
./scripts/install-test-tools.sh

echo "== cargo fmt --check"
cargo fmt --all --check
echo "== cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --quiet -- -D warnings
echo "== cargo test"
cargo test --workspace --no-fail-fast 2>&1 | tee target/test-output.log | grep -E "^(test result|running|test .* (FAILED|ignored))|panicked|error(\[|:)" || true
# The pipeline above hides cargo's exit status; read the verdict from the log.
if grep -qE "^test result: FAILED|error: (test failed|could not compile)|^error\[|^error:" target/test-output.log; then
  echo "== FAILED (full log: target/test-output.log)" >&2
  grep -E "^---- |panicked at" target/test-output.log >&2 || true
  exit 1
fi
passed=$(grep -oE "[0-9]+ passed" target/test-output.log | awk '{s+=$1} END {print s+0}')
failed=$(grep -oE "[0-9]+ failed" target/test-output.log | awk '{s+=$1} END {print s+0}')
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
