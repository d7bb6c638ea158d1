#!/usr/bin/env bash
# Measures how long redis-server takes to load Spring-like sessions, the
# figures behind src/sim/store/redis/loading.rs: 1,000,000 session hashes
# (7 fields and an expiry) written as AOF commands, loaded from the AOF;
# then rewritten (an RDB base), loaded from it; then 1,000,000 page
# refreshes (HSET of one field, PEXPIREAT) appended and the whole loaded.
# Prints the "DB loaded" lines of Redis's log. Takes about two minutes and
# 1 GB of disk in a temporary folder. Usage: scripts/calibrate-loading.sh [N]
set -euo pipefail
n=${1:-1000000}
dir=$(mktemp -d)
trap 'redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
gen() {
    python3 - "$n" "$1" <<'PY'
import sys
n, mode = int(sys.argv[1]), sys.argv[2]
out = sys.stdout.buffer
def cmd(*args):
    out.write(b"*%d\r\n" % len(args))
    for a in args:
        a = str(a).encode()
        out.write(b"$%d\r\n%s\r\n" % (len(a), a))
for i in range(n):
    key = "spring:session:sessions:%08x-0000-4000-8000-%012x" % (i, i)
    t = 1700000000000 + i
    if mode == "create":
        cmd("HSET", key, "creationTime", t, "lastAccessedTime", t, "maxInactiveInterval", 1800,
            "sessionAttr:userId", "user-%d" % i, "sessionAttr:roles", "ROLE_USER",
            "sessionAttr:loginTime", t, "sessionAttr:authenticated", "true")
        cmd("PEXPIREAT", key, 4000000000000)
    else:
        cmd("HSET", key, "lastAccessedTime", t + 1000)
        cmd("PEXPIREAT", key, 4000000000001)
PY
}
start() {
    redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" --appendonly yes --save "" \
        --auto-aof-rewrite-percentage 0 --daemonize yes --logfile "$dir/log" >/dev/null
    until redis-cli -p "$port" ping 2>/dev/null | grep -q PONG; do sleep 0.2; done
}
stop() { redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true; sleep 1; }
start
gen create | redis-cli -p "$port" --pipe | tail -1
stop; start
echo "logins as AOF commands:"; grep "DB loaded from append only file" "$dir/log" | tail -1
redis-cli -p "$port" bgrewriteaof >/dev/null
while redis-cli -p "$port" info persistence | grep -q "aof_rewrite_in_progress:1"; do sleep 0.5; done
stop; start
echo "the same sessions as an RDB base:"; grep "DB loaded from base file" "$dir/log" | tail -1
gen touch | redis-cli -p "$port" --pipe | tail -1
stop; start
echo "base plus page refreshes as AOF commands:"; grep -E "DB loaded from (base|incr) file" "$dir/log" | tail -2
du -sh "$dir"/appendonlydir/*
