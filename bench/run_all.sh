#!/usr/bin/env bash
# Runs every benchmark in bench/ one after the other (`make bench` calls this). Each one
# appends its own section to BENCHMARKS.md and stops every process it started, also
# when it fails or runs over its time limit; this script carries on with the next.
#
#   bench/run_all.sh                      all of them
#   BENCH_ONLY="fanout idle_memory" bench/run_all.sh
set -uo pipefail
cd "$(dirname "$0")/.."
PY="${PY:-.venv/bin/python}"
ONLY="${BENCH_ONLY:-fanout e2e kernel_floor post_endpoint hung_reflektor idle_memory flatdb collector screening}"

if [ ! -d bench/node/node_modules/ws ]; then
    (cd bench/node && npm ci --no-audit --no-fund) || { echo "npm ci in bench/node failed"; exit 1; }
fi

echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
failed=()
for name in $ONLY; do
    command=("$PY" -m "bench.$name")
    echo "== ${command[*]}"
    # Each benchmark keeps to its own limit (under 5 minutes); this is the backstop.
    if ! timeout -k 30 360 "${command[@]}"; then
        failed+=("$name")
    fi
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "failed: ${failed[*]}"
    exit 1
fi
echo "all benchmarks done; figures in BENCHMARKS.md"
