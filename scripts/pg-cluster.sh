#!/usr/bin/env bash
# Start and stop a private PostgreSQL cluster in a temporary folder (sourced by test.sh and bench.sh).

pg_bin_dir() {
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  if [ -z "$dir" ] || [ ! -x "$dir/initdb" ]; then return 1; fi
  echo "$dir"
}

pg_cluster_start() {
  local bin
  if ! bin=$(pg_bin_dir); then
    echo "Installing PostgreSQL from Debian's packages..."
    if [ "$(id -u)" = 0 ]; then apt-get update -q; DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql;
    else sudo apt-get update -q; sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql; fi
    bin=$(pg_bin_dir)
  fi
  PG_DIR=$(mktemp -d /tmp/dispatch-pg.XXXXXX)
  PG_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  local run=()
  if [ "$(id -u)" = 0 ]; then
    chown postgres:postgres "$PG_DIR"
    run=(runuser -u postgres --)
  fi
  "${run[@]}" "$bin/initdb" -D "$PG_DIR/data" -U dispatch --auth=trust -E UTF8 --locale=C.UTF-8 >"$PG_DIR/initdb.log"
  "${run[@]}" "$bin/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w \
    -o "-h 127.0.0.1 -p $PG_PORT -k $PG_DIR -c fsync=off -c synchronous_commit=off -c max_connections=300" start >/dev/null
  "${run[@]}" "$bin/createdb" -h 127.0.0.1 -p "$PG_PORT" -U dispatch dispatch_test
  PG_URL="postgresql+psycopg://dispatch@127.0.0.1:$PG_PORT/dispatch_test"
  PG_RUN=("${run[@]}")
  PG_CTL="$bin/pg_ctl"
  export PG_URL PG_DIR PG_PORT
  echo "PostgreSQL cluster on 127.0.0.1:$PG_PORT ($PG_DIR)"
}

pg_cluster_stop() {
  if [ -n "${PG_DIR:-}" ] && [ -d "$PG_DIR/data" ]; then
    "${PG_RUN[@]}" "$PG_CTL" -D "$PG_DIR/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$PG_DIR"
  fi
}
