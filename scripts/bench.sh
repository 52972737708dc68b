#!/usr/bin/env bash
# Run bench/run.py on SQLite and on a private PostgreSQL cluster (started here, stopped afterwards).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
export DISPATCH_ENV=development  # the benchmarks serve the inbox transports and generated keys
if [ -z "${DISPATCH_BENCH_POSTGRES_URL:-}" ]; then
  source scripts/pg-cluster.sh
  pg_cluster_start
  trap pg_cluster_stop EXIT
  export DISPATCH_BENCH_POSTGRES_URL="$PG_URL"
fi
"$PY" bench/run.py "$@"
