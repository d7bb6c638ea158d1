#!/usr/bin/env bash
# Speed benchmarks; speed targets live here, never in timed tests.
#
#   scripts/bench.sh                      everything of issue 11, end to end,
#                                         one table (about 10 minutes here):
#                                         bench-1m at 1,000,000 users; the
#                                         same at 10,000 (cost per request at
#                                         both sizes); 1 thread against all
#                                         cores (200,000 users, same bytes);
#                                         the SimPy peer (pip-installed into
#                                         a private venv) next to lbsim at
#                                         10,000 users; the minimal event
#                                         loop (benches/minimal_loop.rs); the
#                                         live store against redis-benchmark
#                                         (benches/live_store.rs; skipped
#                                         without redis-server)
#   scripts/bench.sh 1m                   bench-1m alone
#   scripts/bench.sh throughput [USERS] [DURATION]
#                                         the core's throughput per strategy
#                                         on one thread (sticky-vs-redis,
#                                         default 100000 users, 20m)
#
# Figures and the machine they were measured on: BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
lbsim=target/release/lbsim
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

mode=${1:-all}
if [ "$mode" = throughput ]; then
    shift
    exec cargo bench --bench throughput -- "$@"
fi

cargo build --release --quiet

# Runs lbsim with its arguments under /usr/bin/time; appends a row
# "label users requests wall cpu rss_kb strategies" to $work/rows.
measure() {
    local label=$1 users=$2
    shift 2
    if ! /usr/bin/time -f "%U %S %e %M" -o "$work/time" \
        "$lbsim" run "$@" --no-plots --quiet --format csv > "$work/summary.csv" 2> "$work/stderr"; then
        cat "$work/stderr" >&2
        exit 1
    fi
    local user sys wall rss requests strategies
    read -r user sys wall rss < "$work/time"
    # Strategy names may hold commas (quoted in the CSV): read it as CSV.
    read -r requests strategies < <(python3 -c '
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
print(sum(int(r["requests"]) for r in rows), len(rows))' "$work/summary.csv")
    echo "$label $users $requests $wall $(awk -v a="$user" -v b="$sys" 'BEGIN { print a + b }') $rss $strategies" >> "$work/rows"
}

: > "$work/rows"
echo "bench-1m: 1,000,000 users, 15 min, 4 strategies (a few minutes)" >&2
measure "lbsim-bench-1m" 1000000 bench-1m --out "$work/r1m"
if [ "$mode" = 1m ]; then
    read -r _ users requests wall cpu rss strategies < "$work/rows"
    cores=$(nproc)
    at_once=$(( strategies < cores ? strategies : cores ))
    awk -v r="$requests" -v c="$cpu" -v w="$wall" -v m="$rss" -v k="$at_once" 'BEGIN {
        printf "%-28s %s\n", "scenario", "bench-1m (1,000,000 users, 15m, 4 strategies)"
        printf "%-28s %d\n", "simulated requests", r
        printf "%-28s %.1f\n", "wall s", w
        printf "%-28s %.1f\n", "CPU s", c
        printf "%-28s %.2f M\n", "requests per CPU-second", r / c / 1e6
        printf "%-28s %.0f MB\n", "peak RSS", m / 1024
        printf "%-28s %.0f\n", "bytes per user per strategy", m * 1024 / (1000000 * k)
    }'
    exit 0
fi

echo "bench-1m at 10,000 users" >&2
measure "lbsim-bench-1m" 10000 bench-1m --users 10000 --out "$work/r10k"

echo "bench-1m at 200,000 users, 1 thread, then every core" >&2
RAYON_NUM_THREADS=1 measure "lbsim-1-thread" 200000 bench-1m --users 200000 --out "$work/t1"
measure "lbsim-$(nproc)-threads" 200000 bench-1m --users 200000 --out "$work/t2"
same_bytes=yes
for f in "$work"/t1/*.csv; do
    cmp -s "$f" "$work/t2/$(basename "$f")" || same_bytes=no
done

# The SimPy peer models bench-1m's two in-memory strategies and its server
# crash (the Redis restart touches neither); lbsim runs the same subset.
echo "SimPy peer and lbsim at 10,000 users" >&2
python3 - scenarios/bench-1m.toml "$work/peer.toml" <<'EOF'
import sys
text = open(sys.argv[1]).read()
head, rest = text.split("[[strategy]]", 1)
blocks = ["[[strategy]]" + b for b in rest.split("[[strategy]]")]
strategies = [b.split("[[fault]]")[0] for b in blocks]
faults = ["[[fault]]" + f for f in blocks[-1].split("[[fault]]")[1:]]
keep = [s for s in strategies if 'store = "local"' in s]
crash = [f for f in faults if 'kind = "server_crash"' in f]
open(sys.argv[2], "w").write(head + "".join(keep) + "".join(crash))
EOF
measure "lbsim-peer-workload" 10000 "$work/peer.toml" --users 10000 --out "$work/peer"
cp "$work/summary.csv" "$work/peer-lbsim.csv"
if [ ! -x "$work/venv/bin/python" ]; then
    python3 -m venv "$work/venv"
    "$work/venv/bin/pip" install --quiet --disable-pip-version-check -r scripts/peers/requirements.txt
fi
"$work/venv/bin/python" scripts/peers/simpy_model.py --users 10000 --duration 900 --seed 11 > "$work/simpy.txt"

echo "minimal event loop at 1,000,000 users" >&2
cargo bench --quiet --bench minimal_loop -- 1000000 900 > "$work/minimal.txt"

live="skipped (no redis-server on PATH)"
if command -v redis-server > /dev/null && command -v redis-benchmark > /dev/null; then
    echo "live store against redis-benchmark -c 50" >&2
    cargo bench --quiet --bench live_store > "$work/live.txt"
    live=$(awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^ratio=/) { sub("ratio=", "", $i); print $i } }' "$work/live.txt")
fi

echo
printf "%-22s %10s %12s %8s %12s %9s %8s\n" run users requests "wall s" "req/CPU-s" "peak RSS" "B/user"
cores=$(nproc)
while read -r label users requests wall cpu rss strategies; do
    at_once=$(( strategies < cores ? strategies : cores ))
    [ "$label" = lbsim-1-thread ] && at_once=1
    awk -v l="$label" -v u="$users" -v r="$requests" -v w="$wall" -v c="$cpu" -v m="$rss" -v k="$at_once" 'BEGIN {
        printf "%-22s %10d %12d %8.1f %10.2f M %6.0f MB %8.0f\n", l, u, r, w, r / c / 1e6, m / 1024, m * 1024 / (u * k)
    }'
done < "$work/rows"
# SimPy: one line per strategy, "key=value" fields.
awk '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } r += v["requests"]; c += v["cpu_s"]; u = v["users"] }
     END { printf "%-22s %10d %12d %8s %10.3f M %9s %8s\n", "simpy-peer-workload", u, r, "-", r / c / 1e6, "-", "-" }' "$work/simpy.txt"
awk '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } }
     END { printf "%-22s %10d %12d %8.1f %10.2f M %6.0f MB %8.0f\n", "minimal-loop", 1000000, v["requests"], v["wall_s"], v["requests_per_cpu_s"] / 1e6, v["peak_rss_bytes"] / 1048576, v["peak_rss_bytes"] / 1000000 }' "$work/minimal.txt"

echo
echo "lbsim and the SimPy peer, same workload (10,000 users; counts differ by the randomness only):"
printf "  %-32s %10s %10s %14s %7s\n" strategy requests logins "forced logouts" errors
python3 -c '
import csv, sys
for r in csv.DictReader(open(sys.argv[1])):
    print("  %-32s %10s %10s %14s %7s" % ("lbsim " + r["strategy"], r["requests"], r["logins"], r["forced_logouts"], r["errors"]))' "$work/peer-lbsim.csv"
awk '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
       printf "  %-32s %10d %10d %14d %7d\n", "simpy " v["strategy"], v["requests"], v["logins"], v["forced_logouts"], v["errors"] }' "$work/simpy.txt"

echo
awk -v rows="$work/rows" -v simpy="$work/simpy.txt" -v minimal="$work/minimal.txt" -v same="$same_bytes" -v live="$live" 'BEGIN {
    while ((getline line < rows) > 0) {
        split(line, f, " ")
        key = f[1] "@" f[2]; req[key] = f[3]; wall[key] = f[4]; cpu[key] = f[5]
    }
    while ((getline line < simpy) > 0) {
        n = split(line, f, " ")
        for (i = 1; i <= n; i++) { split(f[i], kv, "="); if (kv[1] == "requests") sr += kv[2]; if (kv[1] == "cpu_s") sc += kv[2] }
    }
    while ((getline line < minimal) > 0) {
        n = split(line, f, " ")
        for (i = 1; i <= n; i++) { split(f[i], kv, "="); if (kv[1] == "requests_per_cpu_s") mr = kv[2] }
    }
    big = cpu["lbsim-bench-1m@1000000"] / req["lbsim-bench-1m@1000000"]
    small = cpu["lbsim-bench-1m@10000"] / req["lbsim-bench-1m@10000"]
    peer = cpu["lbsim-peer-workload@10000"] / req["lbsim-peer-workload@10000"]
    for (k in wall) { if (k ~ /^lbsim-1-thread@/) one = wall[k]; if (k ~ /^lbsim-[0-9]+-threads@/) many = wall[k] }
    printf "%-52s %.1f x   (target >= 100 x)\n", "SimPy CPU per request / lbsim CPU per request:", (sc / sr) / peer
    printf "%-52s %.1f x   (target <= 1.5 x)\n", "lbsim CPU per request / minimal loop (1 M users):", big * mr
    printf "%-52s %.2f x  (target <= 1.5 x)\n", "lbsim cost per request, 1 M users / 10 k users:", big / small
    printf "%-52s %.2f x  (target >= 1.8 x; same bytes: %s)\n", "wall time, 1 thread / all cores (200 k users):", one / many, same
    printf "%-52s %s  (target >= 0.8)\n", "live store commands/s / redis-benchmark -c 50:", live
}'
