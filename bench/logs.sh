#!/usr/bin/env bash
# CloudWatch Logs figures: end-to-end ingest (container output to readable with
# GetLogEvents, lines/s) with the agent's CPU per 1,000 lines/s, and GetLogEvents
# latency on a stream of 1,000,000 events. Loopback only. See bench/README.md.
# Stdout: figures; stderr: progress.
#
# Knobs (env): LINES (300000), EVENTS (1000000), SAMPLES (50), VENV (a virtualenv
# with boto3; default bench/.venv), SKIP_BUILD=1, FLOTILLA_BIN (default
# target/release/flotilla), IMAGE (default flotilla-bench/busybox:latest).
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "$BENCH_DIR/.." && pwd)"
VENV="${VENV:-$BENCH_DIR/.venv}"
IMAGE="${IMAGE:-flotilla-bench/busybox:latest}"
die() { printf 'logs.sh: %s\n' "$*" >&2; exit 1; }

if [[ ! -x "$VENV/bin/python" ]]; then
  python3 -m venv "$VENV"
fi
"$VENV/bin/python" -c 'import boto3' >/dev/null 2>&1 || "$VENV/bin/pip" install -q boto3 botocore >&2
if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
  (cd "$REPO_DIR" && cargo build --release -p flotilla -j 1 >&2)
fi
FLOTILLA="${FLOTILLA_BIN:-$REPO_DIR/target/release/flotilla}"
[[ -x "$FLOTILLA" ]] || die "$FLOTILLA not found"

timeout 10 docker info >/dev/null 2>&1 || die "the Docker engine does not answer"
WORK="$(mktemp -d /tmp/flotilla-logs-image.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
"$BENCH_DIR/busybox_image.sh" "$IMAGE" "$WORK" || die "could not build $IMAGE"
"$VENV/bin/python" "$BENCH_DIR/logs_bench.py" ingest --flotilla "$FLOTILLA" --lines "${LINES:-300000}" --image "$IMAGE"
"$VENV/bin/python" "$BENCH_DIR/logs_bench.py" query --flotilla "$FLOTILLA" --events "${EVENTS:-1000000}" \
  --samples "${SAMPLES:-50}"
