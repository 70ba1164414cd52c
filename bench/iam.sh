#!/usr/bin/env bash
# ECS API throughput and latency of a restricted IAM user beside the root principal, in
# the same run, against one `flotilla server` (no agent) on loopback: what evaluating a
# realistic set of policies on every call costs. The user has 10 customer managed
# policies of 10 statements each (7 attached to the user, 3 to a group it is in) and a
# small inline policy; what they hold, and how the load is driven and measured, is in
# bench/iam_bench.py's docstring. Stdout: figures; stderr: progress.
#
#   FLOTILLA_BIN=target/release/flotilla VENV=/tmp/venv-main bash bench/iam.sh
#
# Output: `bench=iam_api_setup …` (the policies' shape), then per principal (root,
# restricted) and operation (DescribeClusters, ListTasks, and RunTask_refused for the
# restricted user: AccessDeniedException expected) `bench=iam_api principal=P op=O
# requests= errors= unfinished= req_per_s= p50_ms= p99_ms= server_cpu_us_per_req=
# client_cpu_us_per_req= seconds=`, then `bench=iam_api_ratio op=O
# restricted_over_root_req_per_s=…`, `bench=iam_api_summary status=ok|failed
# ratio_DescribeClusters=… ratio_ListTasks=…` (restricted req/s over root's) and the
# server's RSS after the load.
# The load generator (Python, boto3) shares the 2 cores with the server and is the
# bottleneck: compare server_cpu_us_per_req for the server's own cost of IAM.
#
# Knobs (env): REQUESTS (5000 calls per principal and operation), THREADS (8), ROUNDS
# (10 alternating rounds the calls are split into), DEADLINE (900 s for the run,
# setup included: calls not made by then count as failures),
# VENV (a virtualenv with boto3; default bench/.venv), FLOTILLA_BIN (default
# target/release/flotilla, built with `cargo build --release -p flotilla` when missing),
# SKIP_BUILD=1 never to build.
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "$BENCH_DIR/.." && pwd)"
VENV="${VENV:-$BENCH_DIR/.venv}"
REQUESTS="${REQUESTS:-5000}"
THREADS="${THREADS:-8}"
ROUNDS="${ROUNDS:-10}"
DEADLINE="${DEADLINE:-900}"

log() { printf '# %s\n' "$*" >&2; }
die() { printf 'iam.sh: %s\n' "$*" >&2; exit 1; }

command -v curl >/dev/null 2>&1 || die "curl is required"
if [[ ! -x "$VENV/bin/python" ]]; then
  log "creating virtualenv $VENV"
  python3 -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c 'import boto3, botocore' >/dev/null 2>&1; then
  log "installing boto3, botocore into $VENV"
  "$VENV/bin/pip" install -q boto3 botocore >&2
fi
PY="$VENV/bin/python"
HELPER="$BENCH_DIR/iam_bench.py"

FLOTILLA="${FLOTILLA_BIN:-$REPO_DIR/target/release/flotilla}"
if [[ ! -x "$FLOTILLA" && -z "${FLOTILLA_BIN:-}" && "${SKIP_BUILD:-0}" != 1 ]]; then
  log "building flotilla (release)"
  (cd "$REPO_DIR" && cargo build --release -p flotilla -j 1 >&2)
fi
[[ -x "$FLOTILLA" ]] || die "$FLOTILLA not found"

WORK="$(mktemp -d /tmp/flotilla-iam-bench.XXXXXX)"
SERVER_PID=""
cleanup() {
  if [[ -n "$SERVER_PID" ]]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

export AWS_ACCESS_KEY_ID="AKIDFLOTILLABENCH001"
export AWS_SECRET_ACCESS_KEY="bench-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export AWS_DEFAULT_REGION=us-east-1
export FLOTILLA_ROOT_ACCESS_KEY_ID="$AWS_ACCESS_KEY_ID"
export FLOTILLA_ROOT_SECRET_ACCESS_KEY="$AWS_SECRET_ACCESS_KEY"
export RUST_LOG="${RUST_LOG:-warn}"

port="$("$PY" "$HELPER" port)"
URL="http://127.0.0.1:$port"
"$FLOTILLA" server --data-dir "$WORK/data" --listen "127.0.0.1:$port" --no-aws-profile \
  --dns-listen 127.0.0.1:0 >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
# Wait (bounded: 300 x 0.1 s) until /healthz answers.
for ((i = 0; ; i++)); do
  kill -0 "$SERVER_PID" 2>/dev/null || die "the server exited during start-up: $(tail -5 "$WORK/server.log")"
  curl -fsS -o /dev/null --max-time 1 "$URL/healthz" 2>/dev/null && break
  ((i < 300)) || die "the server did not become ready at $URL within 30 s"
  sleep 0.1
done
log "flotilla server $FLOTILLA at $URL (pid $SERVER_PID)"

status=0
timeout "$((DEADLINE + 300))" "$PY" "$HELPER" run --endpoint "$URL" --server-pid "$SERVER_PID" \
  --requests "$REQUESTS" --threads "$THREADS" --rounds "$ROUNDS" --deadline "$DEADLINE" || status=$?
if [[ "$status" != 0 ]]; then
  log "the benchmark failed ($status); the server's log ends with:"
  tail -20 "$WORK/server.log" >&2 || true
fi
echo "bench=iam_api_server loaded_rss_kib=$(awk '/^VmRSS:/ {print $2}' "/proc/$SERVER_PID/status" 2>/dev/null || echo nan)"
exit "$status"
