#!/usr/bin/env bash
# The service scheduler's figures: a 100-task service on simulated agents reaching a
# steady state and completing a rolling update, and the time to replace a task whose
# container is killed with `docker kill` on the Docker runtime. Loopback only.
# See bench/README.md. Stdout: figures; stderr: progress.
#
# Knobs (env): AGENTS (10), TASKS (100), SAMPLES (5), NO_DOCKER=1 (skip the Docker part),
# VENV (a virtualenv with boto3; default bench/.venv), SKIP_BUILD=1, FLOTILLA_BIN
# (default target/release/flotilla), IMAGE (default flotilla-bench/busybox:latest).
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "$BENCH_DIR/.." && pwd)"
VENV="${VENV:-$BENCH_DIR/.venv}"
IMAGE="${IMAGE:-flotilla-bench/busybox:latest}"
die() { printf 'services.sh: %s\n' "$*" >&2; exit 1; }

if [[ ! -x "$VENV/bin/python" ]]; then
  python3 -m venv "$VENV"
fi
"$VENV/bin/python" -c 'import boto3' >/dev/null 2>&1 || "$VENV/bin/pip" install -q boto3 botocore >&2
if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
  (cd "$REPO_DIR" && cargo build --release -p flotilla -j 1 >&2)
fi
FLOTILLA="${FLOTILLA_BIN:-$REPO_DIR/target/release/flotilla}"
[[ -x "$FLOTILLA" ]] || die "$FLOTILLA not found"

"$VENV/bin/python" "$BENCH_DIR/services_bench.py" simulated --flotilla "$FLOTILLA" \
  --agents "${AGENTS:-10}" --tasks "${TASKS:-100}"
if [[ "${NO_DOCKER:-0}" != 1 ]]; then
  timeout 10 docker info >/dev/null 2>&1 || die "the Docker engine does not answer (NO_DOCKER=1 skips this part)"
  WORK="$(mktemp -d /tmp/flotilla-services-image.XXXXXX)"
  trap 'rm -rf "$WORK"' EXIT
  "$BENCH_DIR/busybox_image.sh" "$IMAGE" "$WORK" || die "could not build $IMAGE"
  "$VENV/bin/python" "$BENCH_DIR/services_bench.py" docker --flotilla "$FLOTILLA" \
    --samples "${SAMPLES:-5}" --image "$IMAGE"
fi
