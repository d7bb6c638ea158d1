#!/usr/bin/env bash
# The whole test suite, as CI runs it: formatting, lints, unit and
# integration tests. Installs redis-server, redis-sentinel, haproxy,
# nginx-light and chromium from Debian's packages when missing (and
# chromium-driver, which drives Chromium through the demo's pages).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

# Live-mode tests start real redis-server and Sentinel processes; stack
# tests start real HAProxy and nginx (Debian puts them in /usr/sbin); the report test
# opens report.html in a real headless Chromium.
missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v redis-sentinel >/dev/null 2>&1 || missing+=(redis-sentinel)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || missing+=(haproxy)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "not found: ${missing[*]}; installing from Debian's packages"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    else
        echo "not found: ${missing[*]}; install first: sudo apt-get install -y ${missing[*]}" >&2
        exit 1
    fi
fi
echo "using $(redis-server --version)"
haproxy_bin=$(command -v haproxy || echo /usr/sbin/haproxy)
echo "using $("$haproxy_bin" -v 2>/dev/null | sed -n 1p)"
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
echo "using $("$nginx_bin" -v 2>&1 | sed -n 1p)"

cargo fmt --all -- --check
cargo clippy --all-targets --release -- -D warnings
cargo test --release
