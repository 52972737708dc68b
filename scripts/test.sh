#!/usr/bin/env bash
# Run the whole suite on SQLite, then on PostgreSQL (a private cluster started here when none is given).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

apt_updated=0
apt_install() {
  [ "$apt_updated" = 1 ] || { as_root apt-get update -q; apt_updated=1; }
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@"
}

# A real browser for the page tests.
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  echo "Installing Chromium and its driver from Debian's packages..."
  apt_install chromium chromium-driver
fi

# A real IMAP server for the receipts poller's tests (tests/peers/dovecot.py starts a private one per module;
# Debian's package would start a system one too where an init system runs: stop it, the tests need none).
if [ ! -x /usr/sbin/dovecot ] || [ ! -x /usr/lib/dovecot/dovecot-lda ]; then
  echo "Installing Dovecot (IMAP) from Debian's packages..."
  apt_install dovecot-imapd
fi

# PostgreSQL: the given server, or a private cluster in a temporary folder.
if [ -z "${DISPATCH_TEST_POSTGRES_URL:-}" ]; then
  source scripts/pg-cluster.sh
  pg_cluster_start
  trap pg_cluster_stop EXIT
  export DISPATCH_TEST_POSTGRES_URL="$PG_URL"
fi

echo "== Lint and format (ruff), types of dispatch, mobile_api and config (mypy)"
$BIN/ruff check .
$BIN/ruff format --check .
$BIN/mypy

status=0
echo "== Suite on SQLite"
$BIN/python -m pytest "$@" || status=$?
echo "== Suite on PostgreSQL"
# The fuzzing run serves its own SQLite database whatever the suite's: once is enough.
DISPATCH_TEST_DATABASE_URL="$DISPATCH_TEST_POSTGRES_URL" $BIN/python -m pytest \
  --deselect tests/security/test_schemathesis.py "$@" || status=$?
exit $status
