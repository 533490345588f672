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
#   - Schemathesis against the demo's OpenAPI document (see its section below).
#
# Usage: scripts/long-checks.sh
#        WAYBILL_HASH_CASES=5000000 WAYBILL_HASH_SEED=42 scripts/long-checks.sh
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -d ../shared/conformance ]; then
  echo "error: ../shared/conformance is missing; the checks read the GS1 examples from it" >&2
  exit 1
fi

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
echo "== backup under load, restored into a 4-node testnet"
WAYBILL_RESTORE_LOAD_BATCH="${WAYBILL_RESTORE_LOAD_BATCH:-500}" \
  WAYBILL_RESTORE_LOAD_BLOCKS="${WAYBILL_RESTORE_LOAD_BLOCKS:-100}" \
  cargo test --release -p waybill --test consortium \
  a_validator_restored_from_an_old_backup_catches_up_without_equivocating -- --nocapture
echo "== fuzzing, ${WAYBILL_FUZZ_SECS:-300} s per target"
scripts/fuzz.sh "${WAYBILL_FUZZ_SECS:-300}"
echo "== long checks passed"
