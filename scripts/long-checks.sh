#!/usr/bin/env bash
# Checks too slow for every CI run, run before a release or after touching what they
# cover. Each is a test that CI runs in a small, seeded form; here it runs long.
#
#   - Event Hash ID property (crates/epcis/tests/hash_vectors.rs,
#     the_id_changes_exactly_when_the_canonical_pre_hash_changes): mutations of the
#     events of the 47 GS1 example documents; the ID must change exactly when the
#     canonical pre-hash string does, every change of a hashed value must change it,
#     and the algorithm's equivalences must keep it. CI runs 10,000 cases with a fixed
#     seed; here WAYBILL_HASH_CASES cases (default 1,000,000) with WAYBILL_HASH_SEED
#     (default: a new seed each run, printed, so that a failure can be replayed).
#   - The hash-ID code's JSON reader against serde_json (crates/epcis/tests/exact_json.rs):
#     byte-level mutations of the GS1 examples must be accepted or refused alike and
#     read alike. CI runs 3,000; here WAYBILL_JSON_CASES (default 1,000,000).
#   - Backup under load restored into a 4-node testnet
#     (crates/waybill/tests/consortium.rs,
#     a_validator_restored_from_an_old_backup_catches_up_without_equivocating): CI runs it
#     with a light load; here batches of WAYBILL_RESTORE_LOAD_BATCH (default 500)
#     registrations saturate the four nodes for WAYBILL_RESTORE_LOAD_BLOCKS (default
#     100) blocks before node 3 backs itself up through its operator channel; the backup
#     is restored into a new directory, which must serve its height with the same block
#     hash, catch up, and sign again only past its mark.
#   - Coverage-guided fuzzing of every decoder and verifier a stranger can reach
#     (scripts/fuzz.sh, docs/FUZZING.md): WAYBILL_FUZZ_SECS (default 300) per target.
#   - The API against its OpenAPI document (crates/api/tests/openapi.rs in CI drives
#     every operation once over a fixture): schemathesis (pinned, in a venv under
#     target/long-checks) generates requests from /openapi.json against `waybill demo`
#     (127.0.0.1, a free port, a temporary directory) for WAYBILL_API_SECS seconds
#     (default 300), signing every read as the demo's regulator (guo-hua) through
#     scripts/schemathesis/waybill_auth.py. Checks: no 5xx (not_a_server_error) and
#     every answer as its schema says (response_schema_conformance, and its content
#     type). Any failure fails the script; the report is in target/long-checks.
#     Needs python3 with venv, and PyPI the first time.
#   - Money (issue 16): the property test over random transfer sequences (deposits,
#     single and pending transfers, partial posts, voids, closes, expiry) with
#     WAYBILL_MONEY_CASES (default 1,000,000) cases: after every block, per currency
#     Σ debits = Σ credits over all account rows, and no balance flag broken.
#   - Orders (issue 16): the property test over random order sequences (placements on
#     two platforms, cancellations, shipping and receiving events, counts, EPCIS
#     receiving and loose shipping that move the stock, time passing so deadlines
#     fire) with WAYBILL_ORDERS_CASES (default 100,000) cases: after
#     every block money balances, each escrow is pending/posted/voided as its order's
#     state says, final states stay final, stock reserved and on hand match the model,
#     each wallet holds exactly its open orders' totals and paid its settled ones'.
#   - A long single-node run (`waybill bench --txs 1000000`, issue 14): the throughput
#     of the last 100,000 committed transactions must be within 20 % of the first
#     100,000's (commit cost must not grow with the store). WAYBILL_BENCH_TXS (default
#     1,000,000) transactions; the figures are printed (docs/BENCHMARKS.md records them).
#
# Usage: scripts/long-checks.sh
#        WAYBILL_HASH_CASES=5000000 WAYBILL_HASH_SEED=42 scripts/long-checks.sh
#        WAYBILL_LONG_CHECKS=api scripts/long-checks.sh    (only one check: api,
#                                                           restore, fuzz, orders
#                                                           or bench)
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -d ../shared/conformance ]; then
  echo "error: ../shared/conformance is missing; the checks read the GS1 examples from it" >&2
  exit 1
fi

only="${WAYBILL_LONG_CHECKS:-all}"

# A backup taken under a saturating load, restored into a 4-node testnet.
restore_check() {
  echo "== backup under load, restored into a 4-node testnet"
  WAYBILL_RESTORE_LOAD_BATCH="${WAYBILL_RESTORE_LOAD_BATCH:-500}" \
    WAYBILL_RESTORE_LOAD_BLOCKS="${WAYBILL_RESTORE_LOAD_BLOCKS:-100}" \
    cargo test --release -p waybill --test consortium \
    a_validator_restored_from_an_old_backup_catches_up_without_equivocating -- --nocapture
}

# libFuzzer over every decoder and verifier, $WAYBILL_FUZZ_SECS seconds per target.
fuzz_check() {
  echo "== fuzzing, ${WAYBILL_FUZZ_SECS:-300} s per target"
  scripts/fuzz.sh "${WAYBILL_FUZZ_SECS:-300}"
}

# Schemathesis against the demo for $WAYBILL_API_SECS seconds.
api_check() {
  local secs="${WAYBILL_API_SECS:-300}" out
  out="$(pwd)/target/long-checks"
  mkdir -p "$out"
  echo "== API vs its OpenAPI document: schemathesis for ${secs} s against waybill demo"
  if [ ! -x "$out/venv/bin/st" ]; then
    python3 -m venv "$out/venv"
    "$out/venv/bin/pip" install --quiet "schemathesis==4.1.4" "hypothesis==6.136.9" \
      "cryptography==45.0.5"
  fi
  local bin="${WAYBILL_BIN:-}"
  if [ -z "$bin" ]; then
    cargo build --release -p waybill
    bin="$(pwd)/target/release/waybill"
  fi
  local dir port pid
  dir="$(mktemp -d)"
  port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
  "$bin" demo --dir "$dir" --listen "127.0.0.1:$port" > "$out/demo.log" 2>&1 &
  pid=$!
  # shellcheck disable=SC2064
  trap "kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf '$dir'" EXIT
  # A signal (Ctrl-C, timeout) exits through the EXIT trap: the demo is stopped.
  trap 'exit 1' INT TERM
  local ready=0
  for _ in $(seq 1 300); do
    if curl -fsS "http://127.0.0.1:$port/readyz" > /dev/null 2>&1; then ready=1; break; fi
    if ! kill -0 "$pid" 2>/dev/null; then break; fi
    sleep 1
  done
  if [ "$ready" != 1 ]; then
    echo "error: the demo did not become ready in 300 s; see $out/demo.log" >&2
    exit 1
  fi
  local start runs=0 status=0
  start=$(date +%s)
  # One pass covers every operation; passes with new seeds until the time is up.
  while [ $(( $(date +%s) - start )) -lt "$secs" ]; do
    runs=$((runs + 1))
    WAYBILL_API="http://127.0.0.1:$port" \
    WAYBILL_READ_KEY="$dir/keys/members/guo-hua.json" \
    SCHEMATHESIS_HOOKS=waybill_auth PYTHONPATH="scripts/schemathesis" \
      "$out/venv/bin/st" run --no-color "http://127.0.0.1:$port/openapi.json" \
        --checks not_a_server_error,response_schema_conformance,content_type_conformance \
        --phases examples,fuzzing --max-examples 25 --seed "$RANDOM$RANDOM" --workers 2 --request-timeout 65 \
        --generation-with-security-parameters false --generation-database none \
        --report junit --report-junit-path "$out/schemathesis-$runs.xml" \
        > "$out/schemathesis-$runs.log" 2>&1 || status=$?
    tail -n 25 "$out/schemathesis-$runs.log"
    if [ "$status" != 0 ]; then
      echo "error: schemathesis pass $runs failed; see $out/schemathesis-$runs.log" >&2
      exit 1
    fi
  done
  echo "== API: $runs schemathesis passes in $(( $(date +%s) - start )) s, no failures"
  kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true
  rm -rf "$dir"
  trap - EXIT INT TERM
}

# Random order sequences: money, escrow, states and stock against the model.
orders_check() {
  local cases="${WAYBILL_ORDERS_CASES:-100000}"
  echo "== orders property: ${cases} random order sequences (money, escrow, states, stock)"
  WAYBILL_ORDERS_CASES="$cases" \
    cargo test --release -p waybill-state --test orders \
    random_orders_keep_money_stock_and_states_consistent -- --nocapture
}

# A million lot registrations through one node: the last 100k as fast as the first.
bench_check() {
  local n="${WAYBILL_BENCH_TXS:-1000000}"
  echo "== long run: $n signed transactions through one validator"
  cargo build --release -p waybill
  target/release/waybill bench --txs "$n" --members 1000 --runs 1 --json \
    | tee target/long-checks-bench.json \
    | python3 -c '
import json, sys
run = json.load(sys.stdin)["per_run"][0]
first, last = run["first_100k_tx_per_s"], run["last_100k_tx_per_s"]
print(f"first 100k: {first:.0f} tx/s, last 100k: {last:.0f} tx/s, ratio {last / first:.2f}")
if last < 0.8 * first:
    sys.exit("the last 100k are more than 20 % slower than the first")
'
}

case "$only" in
  all) ;;
  api|restore|fuzz|orders|bench) "${only}_check"; echo "== long checks passed"; exit 0 ;;
  *) echo "error: WAYBILL_LONG_CHECKS=$only; use all, api, restore, fuzz, orders or bench" >&2; exit 1 ;;
esac

cases="${WAYBILL_HASH_CASES:-1000000}"
seed="${WAYBILL_HASH_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}"
echo "== Event Hash ID property: ${cases} mutations, seed ${seed}"
WAYBILL_HASH_CASES="$cases" WAYBILL_HASH_SEED="$seed" \
  cargo test --release -p waybill-epcis --test hash_vectors \
  the_id_changes_exactly_when_the_canonical_pre_hash_changes -- --nocapture
json_cases="${WAYBILL_JSON_CASES:-1000000}"
echo "== exact JSON reader vs serde_json: ${json_cases} mutations"
WAYBILL_JSON_CASES="$json_cases" \
  cargo test --release -p waybill-epcis --test exact_json -- --nocapture
money_cases="${WAYBILL_MONEY_CASES:-1000000}"
echo "== money property: ${money_cases} random transfer sequences (Σ debits = Σ credits, every flag)"
WAYBILL_MONEY_CASES="$money_cases" \
  cargo test --release -p waybill-state --test money \
  random_transfers_keep_debits_equal_to_credits_and_every_flag -- --nocapture
orders_check
restore_check
fuzz_check
api_check
bench_check
echo "== long checks passed"
