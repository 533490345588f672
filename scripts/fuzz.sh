#!/usr/bin/env bash
# Coverage-guided fuzzing (libFuzzer, through cargo-fuzz) of every decoder and
# verifier a stranger can reach:
#
#   tx_decode       a transaction as POST /v1/tx(s) and peers send it
#   block_decode    a block and a commit certificate from a peer
#   epcis_capture   an EPCIS document as POST /epcis/capture reads it (JSON, schema
#                   and rules, event times, exact-text Event Hash IDs)
#   digital_link    a GS1 Digital Link URI (resolver, consumer page, `dl parse`)
#   proof_verify    a proof bundle from an untrusted node, verified offline
#   disclosure_verify  a disclosure of a sealed field, verified offline
#   sealed_field    sealed fields as a capture carries them, and an erasable
#                   field's private part as PUT /v1/sealed/private takes it
#   signed_request  the Authorization and capture signature headers
#
# Each target runs for a fixed time (default 300 s) from a corpus seeded with the
# conformance data (../shared/conformance), the committed seeds (fuzz/seeds/), the
# past crashes (fuzz/regressions/) and generated valid inputs. A crash, panic, hang
# (> 10 s for one input) or blow-up (> 2 GiB) stops the run; the input is copied to
# fuzz/regressions/<target>/, where crates/fuzz-targets/tests/regressions.rs (run in
# CI) replays it: fix the cause, keep the file.
#
# Not run in CI. Stable toolchain: cargo-fuzz needs nightly flags, which
# RUSTC_BOOTSTRAP=1 allows. No sanitizer: Waybill has no unsafe code (the workspace
# forbids it); libFuzzer still finds panics, hangs and memory blow-ups.
#
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#        scripts/fuzz.sh 60 epcis_capture digital_link
set -euo pipefail
cd "$(dirname "$0")/.."

secs="${1:-300}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(tx_decode block_decode epcis_capture digital_link proof_verify disclosure_verify sealed_field signed_request)
fi
if [ ! -d ../shared/conformance ]; then
  echo "error: ../shared/conformance is missing; the seed corpora come from it" >&2
  exit 1
fi
if ! command -v cargo-fuzz >/dev/null; then
  echo "== installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi
export RUSTC_BOOTSTRAP=1

echo "== seed corpora"
rm -rf fuzz/corpus
cargo run -q -p waybill-fuzz-targets --example write_seeds -- fuzz/corpus

echo "== building the fuzz targets"
(cd fuzz && cargo fuzz build --sanitizer none --release)

summary=()
status=0
for t in "${targets[@]}"; do
  echo "== fuzzing ${t} for ${secs} s"
  log="fuzz/${t}.log"
  mkdir -p "fuzz/artifacts/${t}"
  set +e
  (cd fuzz && cargo fuzz run --sanitizer none --release "${t}" "corpus/${t}" -- \
      -max_total_time="${secs}" -timeout=10 -rss_limit_mb=2048 -max_len=1048576 \
      -print_final_stats=1) >"${log}" 2>&1
  rc=$?
  set -e
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "${log}" | grep -o '[0-9]*$' || echo "?")
  cov=$(grep -o 'cov: [0-9]*' "${log}" | tail -1 | grep -o '[0-9]*' || echo "?")
  corp=$(ls "fuzz/corpus/${t}" | wc -l)
  if [ "${rc}" -ne 0 ]; then
    status=1
    mkdir -p "fuzz/regressions/${t}"
    for a in fuzz/artifacts/"${t}"/*; do
      [ -f "$a" ] || continue
      cp "$a" "fuzz/regressions/${t}/"
      echo "   !! ${t}: $(basename "$a") saved to fuzz/regressions/${t}/ (see ${log})"
    done
    summary+=("| ${t} | ${secs} s | ${runs} | ${cov} | ${corp} | FAILED (rc ${rc}) |")
  else
    summary+=("| ${t} | ${secs} s | ${runs} | ${cov} | ${corp} | 0 crashes, 0 hangs |")
  fi
done

echo
echo "| target | time | inputs run | coverage (edges) | corpus | result |"
echo "|---|---|---|---|---|---|"
printf '%s\n' "${summary[@]}"
exit "${status}"
