#!/usr/bin/env bash
# Relata's benchmark in one command; see bench/README.md. Options: bench/bench.py --help
# (--quick: one round of 2 s per point).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/relata-target}"
exec python3 bench/bench.py "$@"
