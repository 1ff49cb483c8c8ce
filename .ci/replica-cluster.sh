#!/usr/bin/env bash
# A throw-away PostgreSQL primary and two streaming replicas of it (one applying 300 ms
# late), from the machine's PostgreSQL binaries, for running the PostgreSQL half of the API
# suite with its reads on replicas (docs/replicas.md, "Tests"):
#
#   eval "$(.ci/replica-cluster.sh start /tmp/relata-replicas)"   # exports the two URLs
#   cargo test --test api -- --include-ignored postgres
#   .ci/replica-cluster.sh stop /tmp/relata-replicas
#
# `start` prints `export TEST_DATABASE_URL=…` and `export TEST_READ_REPLICAS=…`. As root,
# the servers run as the `postgres` user (initdb refuses root).
set -euo pipefail

action=${1:?start DIR or stop DIR}
dir=${2:?a directory for the three data directories}
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
start() { # NAME PORT
  as_pg "$bin/pg_ctl" -D "$dir/$1" -w -l "$dir/$1.log" \
    -o "-p $2 -k $dir -c listen_addresses=127.0.0.1" start >/dev/null
}

case "$action" in
  start)
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown postgres:postgres "$dir"
    primary=$(free_port)
    as_pg "$bin/initdb" -D "$dir/primary" -U postgres -A trust --no-sync >/dev/null
    start primary "$primary"
    ports=()
    for name in replica1 replica2; do
      as_pg "$bin/pg_basebackup" -h 127.0.0.1 -p "$primary" -U postgres -D "$dir/$name" -R -X stream --no-sync
      if [ "$name" = replica2 ]; then
        echo "recovery_min_apply_delay = '300ms'" | as_pg tee -a "$dir/$name/postgresql.auto.conf" >/dev/null
      fi
      port=$(free_port)
      start "$name" "$port"
      ports+=("$port")
    done
    echo "export TEST_DATABASE_URL=postgres://postgres@127.0.0.1:$primary/postgres"
    echo "export TEST_READ_REPLICAS=postgres://postgres@127.0.0.1:${ports[0]}/postgres,postgres://postgres@127.0.0.1:${ports[1]}/postgres"
    ;;
  stop)
    for name in replica2 replica1 primary; do
      [ -d "$dir/$name" ] && as_pg "$bin/pg_ctl" -D "$dir/$name" -m immediate stop >/dev/null 2>&1 || true
    done
    rm -rf "$dir"
    ;;
  *)
    echo "usage: $0 start|stop DIR" >&2
    exit 2
    ;;
esac
