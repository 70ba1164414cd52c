#!/usr/bin/env bash
# Runs every test: the Rust unit and integration tests, then the end-to-end suite
# that drives the real binary with boto3 and the aws CLI, running real containers.
set -euo pipefail
cd "$(dirname "$0")/.."

venv="${FLOTILLA_TEST_VENV:-$HOME/.cache/flotilla/test-venv}"
target_dir="${CARGO_TARGET_DIR:-$PWD/target}"

# The end-to-end suite runs real containers.
bash scripts/ensure-docker.sh

echo "== rust tests"
cargo test --workspace --locked

echo "== end-to-end tests"
cargo build --locked -p flotilla
if [[ ! -x "$venv/bin/python" ]]; then
    mkdir -p "$(dirname "$venv")"
    python3 -m venv "$venv" || {
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv
        python3 -m venv "$venv"
    }
fi
"$venv/bin/pip" install -q --disable-pip-version-check -r tests/requirements.txt
export PATH="$venv/bin:$PATH"
FLOTILLA_BIN="$target_dir/debug/flotilla" "$venv/bin/python" -m pytest tests/e2e -q
