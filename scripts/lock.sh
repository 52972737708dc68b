#!/usr/bin/env bash
# Regenerate deploy/requirements.lock: every dependency of the service (setup.cfg's install_requires and the
# `prod` extra, gunicorn) pinned with the hashes of its files, for `pip install --require-hashes` in the image.
# pip-tools runs in a throwaway virtualenv: the project's own .venv is left as it is.
# Run it with the Python of the image (3.11): markers and wheels are resolved for the interpreter that runs it.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
tools="$(mktemp -d)"
left=""
[ -d snp_dispatch.egg-info ] || left=snp_dispatch.egg-info  # pip-compile builds the metadata here: not ours to keep
trap 'rm -rf "$tools" $left' EXIT
"$PYTHON" -m venv "$tools"
"$tools/bin/pip" install --quiet 'pip-tools>=7.4'
CUSTOM_COMPILE_COMMAND="make lock" "$tools/bin/pip-compile" --quiet --generate-hashes --extra prod --strip-extras \
    --allow-unsafe --no-emit-index-url --no-emit-trusted-host --no-emit-find-links \
    --output-file deploy/requirements.lock "$@" setup.cfg
