#!/usr/bin/env bash
# PostgreSQL beside `waybill bench` (docs/BENCHMARKS.md): the rows a lot registration
# writes, inserted by 16 clients one row per transaction, then 1,000 rows per
# transaction, with PostgreSQL's default durability (fsync, synchronous_commit on).
# Needs a running local cluster (Debian: `pg_ctlcluster 15 main start`) and pgbench;
# run as root (it switches to the postgres user). Three 20 s runs each, table emptied
# before each; prints pgbench's summary lines.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"; su postgres -c "dropdb --if-exists wb_bench" || true' EXIT
cp "$here"/*.sql "$tmp"/
chmod 755 "$tmp"; chmod 644 "$tmp"/*.sql
su postgres -c "dropdb --if-exists wb_bench && createdb wb_bench"
su postgres -c "psql -q -d wb_bench -f $tmp/schema.sql"
su postgres -c "psql -At -d wb_bench -c 'select version()'"
for script in one-row thousand-rows; do
    for run in 1 2 3; do
        su postgres -c "psql -q -d wb_bench -c 'truncate lots'"
        echo "== $script, run $run"
        su postgres -c "pgbench -n -c 16 -j 2 -T 20 -f $tmp/$script.sql wb_bench" |
            grep -E '^(tps|latency average|number of transactions actually processed)'
    done
done
