#!/usr/bin/env bash
# Durability soak (not run by CI): the kill-and-restart test of tests/durability.rs with
# 20 SIGKILL cycles per database instead of 3, on the release build. Each cycle starts
# `relata serve`, runs four writers (registrations, posts, comments) for 2.5 s, kills the
# server with SIGKILL mid-load and checks the database with `relata check`; at the end a
# fresh server must serve every write that was answered 2xx. Prints, per database, the
# writes acknowledged and the writes found.
#
#   bench/soak.sh                      # SQLite, and PostgreSQL at TEST_DATABASE_URL
#   CYCLES=50 bench/soak.sh            # more cycles
#   TEST_DATABASE_URL= bench/soak.sh   # SQLite only
set -euo pipefail
cd "$(dirname "$0")/.."
export RELATA_DURABILITY_CYCLES="${CYCLES:-20}"
export TEST_DATABASE_URL="${TEST_DATABASE_URL-postgres://postgres@127.0.0.1:5432/postgres}"
cargo test --release --test durability -- --nocapture --test-threads 1 2>&1 |
    tee /dev/stderr | grep -o 'durability on .*' || {
    echo "soak: no figure printed (see the output above)" >&2
    exit 1
}
