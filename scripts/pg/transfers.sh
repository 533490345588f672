#!/usr/bin/env bash
# `waybill bench --workload transfers` and the same double-entry transfer in
# PostgreSQL, in one run (docs/BENCHMARKS.md "Transfers"): PostgreSQL with row-locked
# balances (SELECT … FOR UPDATE on both accounts in id order, the overdraft check, both
# updates, the transfer row), one transaction per transfer, 16 clients, default
# durability (fsync, synchronous_commit on); three 20 s pgbench runs after three
# Waybill runs. Needs a local cluster (Debian: `pg_ctlcluster 15 main start`), pgbench
# and a release build (`cargo build --release`); run as root (it switches to the
# postgres user). Prints both medians and their ratio.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bin="${WAYBILL:-$here/../../target/release/waybill}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"; su postgres -c "dropdb --if-exists wb_transfers" || true' EXIT
cp "$here"/transfers-schema.sql "$here"/transfer.sql "$tmp"/
chmod 755 "$tmp"; chmod 644 "$tmp"/*.sql
echo "== waybill bench --workload transfers --runs 3 --json"
"$bin" bench --workload transfers --runs 3 --json 2>/dev/null | tee "$tmp/waybill.json"
su postgres -c "dropdb --if-exists wb_transfers && createdb wb_transfers"
su postgres -c "psql -q -d wb_transfers -f $tmp/transfers-schema.sql"
su postgres -c "psql -At -d wb_transfers -c 'select version()'"
: > "$tmp/pg.txt"
for run in 1 2 3; do
    echo "== PostgreSQL, 16 clients, one transfer per transaction, run $run"
    su postgres -c "pgbench -n -c 16 -j 2 -T 20 -f $tmp/transfer.sql wb_transfers" |
        grep -E '^(tps|latency average|number of transactions actually processed)' |
        tee -a "$tmp/pg.txt"
done
# The money still balances in PostgreSQL: Σ debits = Σ credits − the initial funding.
su postgres -c "psql -At -d wb_transfers -c \"select sum(credits_posted) - 500 * 1000000000000 - sum(debits_posted) from accounts\""
python3 - "$tmp/waybill.json" "$tmp/pg.txt" <<'PY'
import json, re, statistics, sys
w = json.load(open(sys.argv[1]))
tps = [float(m) for m in re.findall(r"^tps = ([0-9.]+)", open(sys.argv[2]).read(), re.M)]
pg = statistics.median(tps)
wt = w["transfers_per_s_median"]
print(f"waybill {wt:.0f} transfers/s (median of {w['runs']}), PostgreSQL {pg:.0f} transfers/s "
      f"(median of {len(tps)}: {', '.join(f'{t:.0f}' for t in tps)}); ratio {wt / pg:.2f}")
PY
