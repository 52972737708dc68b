#!/usr/bin/env bash
# A longer fuzzing run than CI's: schemathesis against a live server, once per role and once anonymous.
# Usage: scripts/schemathesis.sh [max-examples per operation, default 200]  (PYTHON=... to choose the interpreter)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
ST="$(dirname "$PYTHON")/st"
EXAMPLES=${1:-200}
WORK=$(mktemp -d)
"$PYTHON" tests/security/fuzz_server.py --database "$WORK/fuzz.sqlite3" >"$WORK/port" 2>"$WORK/server.log" &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null; echo "server log: $WORK/server.log"' EXIT
for _ in $(seq 100); do grep -q LISTENING "$WORK/port" 2>/dev/null && break; sleep 0.2; done
BASE="http://127.0.0.1:$(awk '{print $2}' "$WORK/port")"
token() {
  curl -fsS -X POST -H 'Content-Type: application/json' -d "{\"login\": \"$1\", \"password\": \"demo-snp-2026\"}" \
    "$BASE/api/v1/auth/token" | "$PYTHON" -c 'import json, sys; print(json.load(sys.stdin)["access_token"])'
}
declare -A LOGINS=([admin]=admin [coordinator]=coordination [operator]=operateur [physician]=dr.durand)
declare -A TOKENS
for role in "${!LOGINS[@]}"; do TOKENS[$role]=$(token "${LOGINS[$role]}"); done  # before the fuzzer locks sign-in
export SCHEMATHESIS_HOOKS=st_hooks PYTHONPATH="$PWD/tests/security"
status=0
for role in "${!LOGINS[@]}"; do
  echo "== schemathesis as $role"
  "$ST" run "$BASE/api/v1/openapi.json" --checks all --exclude-checks positive_data_acceptance \
    --max-examples "$EXAMPLES" --header "Authorization: Bearer ${TOKENS[$role]}" \
    --exclude-name "DELETE /api/v1/auth/token" --report junit --report-dir "$WORK/$role" || status=1
done
echo "== schemathesis anonymous"
"$ST" run "$BASE/api/v1/openapi.json" --checks all --exclude-checks positive_data_acceptance \
  --max-examples "$EXAMPLES" --report junit --report-dir "$WORK/anonymous" || status=1
echo "reports: $WORK"
exit $status
