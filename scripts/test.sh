#!/usr/bin/env bash
# Runs every test: the Rust unit and integration tests (the store suites on SQLite and
# PostgreSQL), then the end-to-end suite that drives the real binary with boto3 and the
# aws CLI, running real containers: once on the default SQLite store and once with
# `--store` on PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."

venv="${FLOTILLA_TEST_VENV:-$HOME/.cache/flotilla/test-venv}"
target_dir="${CARGO_TARGET_DIR:-$PWD/target}"

# The end-to-end suite runs real containers; every store runs on PostgreSQL too.
bash scripts/ensure-docker.sh
postgres_url="$(bash scripts/ensure-postgres.sh | tail -n 1)"
export FLOTILLA_TEST_POSTGRES_URL="$postgres_url"

echo "== rust tests"
cargo test --workspace --locked

echo "== rust tests of the stores' users, on PostgreSQL"
# The same binaries again (`cargo test -p …` would rebuild dependencies with other features).
FLOTILLA_TEST_STORE=postgres python3 scripts/rerun-tests.py flotilla-registry flotilla-secrets flotilla-ssm flotilla

echo "== end-to-end tests"
# `cargo test --workspace` built the binary for flotilla's own integration tests.
test -x "$target_dir/debug/flotilla" || cargo build --locked -p flotilla
if [[ ! -x "$venv/bin/python" ]]; then
    mkdir -p "$(dirname "$venv")"
    python3 -m venv "$venv" || {
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv
        python3 -m venv "$venv"
    }
fi
"$venv/bin/pip" install -q --disable-pip-version-check -r tests/requirements.txt
export PATH="$venv/bin:$PATH"
FLOTILLA_BIN="$target_dir/debug/flotilla" "$venv/bin/python" -m pytest tests/e2e -q --durations=15

echo "== end-to-end tests on PostgreSQL"
# Tests marked `once` (slow, nothing store-specific) ran in the SQLite pass.
FLOTILLA_E2E_POSTGRES_URL="${postgres_url%/*}" FLOTILLA_BIN="$target_dir/debug/flotilla" \
    "$venv/bin/python" -m pytest tests/e2e -q --durations=15 -m "not once"
