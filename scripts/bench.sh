#!/usr/bin/env bash
# Speed benchmarks; speed targets live here, never in timed tests.
#
#   scripts/bench.sh [USERS] [DURATION]   the core's throughput per strategy
#                                         on one thread (sticky-vs-redis,
#                                         default 100000 users, 20m)
#   scripts/bench.sh 1m                   the million-user scenario of
#                                         issue 11 (scenarios/bench-1m.toml),
#                                         all strategies in parallel: requests
#                                         per CPU-second, peak RSS, bytes per
#                                         user per strategy running at once
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = 1m ]; then
    cargo build --release --quiet
    out=$(mktemp -d)
    trap 'rm -rf "$out"' EXIT
    /usr/bin/time -f "%U %S %e %M" -o "$out/time" \
        target/release/lbsim run bench-1m --no-plots --quiet --format csv --out "$out/r" > "$out/summary.csv"
    read -r user sys wall rss_kb < "$out/time"
    requests=$(awk -F, 'NR > 1 { s += $4 } END { print s }' "$out/summary.csv")
    strategies=$(awk 'END { print NR - 1 }' "$out/summary.csv")
    cores=$(nproc)
    at_once=$(( strategies < cores ? strategies : cores ))
    awk -v r="$requests" -v u="$user" -v s="$sys" -v w="$wall" -v m="$rss_kb" -v k="$at_once" 'BEGIN {
        cpu = u + s
        printf "%-28s %s\n", "scenario", "bench-1m (1,000,000 users, 15m, 4 strategies)"
        printf "%-28s %d\n", "simulated requests", r
        printf "%-28s %.1f\n", "wall s", w
        printf "%-28s %.1f\n", "CPU s", cpu
        printf "%-28s %.2f M\n", "requests per CPU-second", r / cpu / 1e6
        printf "%-28s %.0f MB\n", "peak RSS", m / 1024
        printf "%-28s %.0f\n", "bytes per user per strategy", m * 1024 / (1000000 * k)
    }'
    exit 0
fi
cargo bench --bench throughput -- "$@"
