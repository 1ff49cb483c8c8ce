#!/usr/bin/env bash
# Fuzzes a live `relata serve` against its own OpenAPI document with schemathesis (issue 8):
# no answer may be a 5xx, and every answer must match the schema documented for it.
#
# For each database (a temporary SQLite file; PostgreSQL too when TEST_DATABASE_URL is
# set, in a database created here and dropped after), it starts the server on a free
# loopback port with the strict query budget on, makes an admin and passes their bearer
# token, and runs a bounded number of cases per operation. It installs schemathesis into a
# venv of its own the first time. Exits non-zero when schemathesis finds anything.
#
# Knobs: RELATA_BIN (default: the release build, built when missing), FUZZ_MAX_EXAMPLES
# (cases per operation, default 100), FUZZ_SEED (default 1, so a run can be repeated),
# FUZZ_VENV (default ~/.cache/relata-fuzz-venv), FUZZ_BACKENDS ("sqlite postgres").
set -euo pipefail
cd "$(dirname "$0")/.."

SCHEMATHESIS_VERSION=4.32.5
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/relata-target}"
BIN="${RELATA_BIN:-$CARGO_TARGET_DIR/release/relata}"
VENV="${FUZZ_VENV:-$HOME/.cache/relata-fuzz-venv}"
MAX_EXAMPLES="${FUZZ_MAX_EXAMPLES:-100}"
SEED="${FUZZ_SEED:-1}"
BACKENDS="${FUZZ_BACKENDS:-sqlite postgres}"
# Everything here is loopback: never through a proxy.
export NO_PROXY="127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}" no_proxy="127.0.0.1,localhost${no_proxy:+,$no_proxy}"

if [ -z "${RELATA_BIN:-}" ]; then
  cargo build --release --locked   # a no-op when the build is fresh
fi

if ! "$VENV/bin/schemathesis" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
  echo "installing schemathesis $SCHEMATHESIS_VERSION into $VENV"
  python3 -m venv "$VENV" \
    || { python3 -m pip install --quiet --user virtualenv && python3 -m virtualenv "$VENV"; }
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi
"$VENV/bin/schemathesis" --version

work=$(mktemp -d)
server_pid=""
pg_db=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  if [ -n "$pg_db" ]; then psql -q "$TEST_DATABASE_URL" -c "DROP DATABASE IF EXISTS \"$pg_db\" WITH (FORCE)" >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# GET, or POST a JSON body, on loopback; prints the answer's body, fails on a non-2xx.
http() { # url [json]
  python3 - "$@" <<'EOF'
import sys, urllib.request
data = sys.argv[2].encode() if len(sys.argv) > 2 else None
req = urllib.request.Request(sys.argv[1], data=data, headers={"content-type": "application/json"})
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
print(opener.open(req, timeout=10).read().decode())
EOF
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Replaces the database name in a postgres:// URL.
with_database() { # url name
  python3 - "$1" "$2" <<'EOF'
import sys, urllib.parse as u
p = u.urlsplit(sys.argv[1])
print(u.urlunsplit((p.scheme, p.netloc, "/" + sys.argv[2], p.query, p.fragment)))
EOF
}

fuzz_one() { # label database_url
  local label=$1 url=$2 port base
  port=$(free_port)
  base="http://127.0.0.1:$port"
  echo
  echo "---- schemathesis on $label ($MAX_EXAMPLES cases per operation, seed $SEED)"
  printf '%s\n' 'fuzz-admin-password' | DATABASE_URL="$url" RUST_LOG=error "$BIN" admin create \
    --username fuzzadmin --email fuzzadmin@example.com --password-stdin >/dev/null
  DATABASE_URL="$url" RELATA_STRICT_BUDGET=1 RUST_LOG=error RELATA_LOG=json \
    "$BIN" serve --bind "127.0.0.1:$port" 2>"$work/$label.log" &
  server_pid=$!
  for _ in $(seq 1 100); do
    http "$base/api/v1/health" >/dev/null 2>&1 && break
    sleep 0.2
  done
  local token
  token=$(http "$base/api/v1/auth/login" '{"login":"fuzzadmin","password":"fuzz-admin-password"}' \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])') || token=""
  if [ -z "$token" ]; then
    echo "FAIL: the server on $label did not start or did not log the admin in" >&2
    cat "$work/$label.log" >&2
    return 1
  fi

  # Logout is left out: it would revoke the token every other case runs with.
  local status=0
  # Run from the scratch directory: schemathesis leaves caches in its working directory.
  (cd "$work" && timeout 1200 "$VENV/bin/schemathesis" run "$base/api/v1/openapi.json" \
    --url "$base" \
    --checks not_a_server_error,response_schema_conformance \
    --header "Authorization: Bearer $token" \
    --exclude-path /api/v1/auth/logout \
    --max-examples "$MAX_EXAMPLES" \
    --seed "$SEED" \
    --workers 1 \
    --request-timeout 30 \
    --suppress-health-check all \
    --generation-database none \
    --no-color) \
    || status=$?

  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
  if grep -q '"level":"ERROR"' "$work/$label.log"; then
    echo "server errors logged on $label:"
    grep '"level":"ERROR"' "$work/$label.log" | head -20
    status=1
  fi
  return $status
}

failed=0
for backend in $BACKENDS; do
  case $backend in
    sqlite)
      fuzz_one sqlite "sqlite://$work/fuzz.db" || failed=1
      ;;
    postgres)
      if [ -z "${TEST_DATABASE_URL:-}" ]; then
        echo "WARNING: TEST_DATABASE_URL is unset: schemathesis did NOT run on PostgreSQL"
        continue
      fi
      if ! command -v psql >/dev/null 2>&1; then
        echo "FAIL: TEST_DATABASE_URL is set but psql, needed to create the fuzz database, is missing" >&2
        failed=1
        continue
      fi
      pg_db="relata_fuzz_$$"
      psql -q "$TEST_DATABASE_URL" -c "CREATE DATABASE \"$pg_db\"" >/dev/null
      fuzz_one postgres "$(with_database "$TEST_DATABASE_URL" "$pg_db")" || failed=1
      psql -q "$TEST_DATABASE_URL" -c "DROP DATABASE IF EXISTS \"$pg_db\" WITH (FORCE)" >/dev/null
      pg_db=""
      ;;
  esac
done

if [ "$failed" != 0 ]; then
  echo "schemathesis: FAILED (see above)"
  exit 1
fi
echo "schemathesis: no 5xx and no schema mismatch"
