#!/usr/bin/env bash
# Fargate and awsvpc figures: RunTask -> RUNNING and StopTask -> STOPPED p50/p90 of
# Fargate tasks, EC2 awsvpc tasks and EC2 bridge tasks on the same machine in the same
# run (interleaved), and the awsvpc network setup and teardown cost per task (awsvpc
# less bridge). Real containers, loopback. See bench/README.md.
#
# Knobs (env): SAMPLES (20), WARMUP (2), VENV (a virtualenv with boto3; default
# bench/.venv), SKIP_BUILD=1, FLOTILLA_BIN (default target/release/flotilla), IMAGE
# (default flotilla-bench/busybox:latest).
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "$BENCH_DIR/.." && pwd)"
VENV="${VENV:-$BENCH_DIR/.venv}"
IMAGE="${IMAGE:-flotilla-bench/busybox:latest}"
die() { printf 'fargate.sh: %s\n' "$*" >&2; exit 1; }

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
WORK="$(mktemp -d /tmp/flotilla-fargate-image.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
"$BENCH_DIR/busybox_image.sh" "$IMAGE" "$WORK" || die "could not build $IMAGE"
export AWS_ACCESS_KEY_ID="AKIDFLOTILLABENCH013"
export AWS_SECRET_ACCESS_KEY="bench-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export AWS_DEFAULT_REGION=us-east-1
"$VENV/bin/python" "$BENCH_DIR/fargate_bench.py" --flotilla "$FLOTILLA" --image "$IMAGE" \
  --samples "${SAMPLES:-20}" --warmup "${WARMUP:-2}"
