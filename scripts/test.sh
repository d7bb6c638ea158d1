#!/usr/bin/env bash
# The whole test suite, as CI runs it: formatting, lints, unit and
# integration tests. Installs redis-server from Debian's packages when it is
# missing, because live-mode tests start real redis-server processes.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

if ! command -v redis-server >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "redis-server not found: installing it from Debian's packages"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
    else
        echo "redis-server not found; install it first: sudo apt-get install -y redis-server" >&2
        exit 1
    fi
fi
echo "using $(redis-server --version)"

cargo fmt --all -- --check
cargo clippy --all-targets --release -- -D warnings
cargo test --release
