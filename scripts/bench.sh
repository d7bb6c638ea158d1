#!/usr/bin/env bash
# Throughput of the simulation core: simulated requests and events per
# second of wall time, one strategy per core. Speed targets live here, never
# in timed tests.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench --bench throughput -- "$@"
