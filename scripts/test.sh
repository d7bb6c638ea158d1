#!/usr/bin/env bash
# The whole test suite, as CI runs it: formatting, lints, unit and
# integration tests. Installs redis-server and redis-sentinel from Debian's packages when
# missing, because live-mode tests start real redis-server and Sentinel processes.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-sentinel >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "redis-server or redis-sentinel not found: installing them from Debian's packages"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server redis-sentinel >/dev/null
    else
        echo "redis-server or redis-sentinel not found; install them first: sudo apt-get install -y redis-server redis-sentinel" >&2
        exit 1
    fi
fi
echo "using $(redis-server --version)"

cargo fmt --all -- --check
cargo clippy --all-targets --release -- -D warnings
cargo test --release
