#!/usr/bin/env bash
# SQS send and receive throughput and latency (p50/p99) of Flotilla (its default SQLite
# store, and PostgreSQL) side by side with moto_server, in one run on loopback, plus how
# long a long poll takes to return once a message is sent. What each phase measures is
# in bench/sqs_bench.py's docstring. Stdout: figures; stderr: progress. Every server
# gets its own queue; the run fails if Flotilla loses a message or delivers one twice
# (moto's missing and duplicates are reported only).
#
#   bench/sqs.sh                  # builds release, then about a minute
#
# Output: `sqs_bench server=S phase=send|receive|wake …` per server (msgs_per_s, p50_ms,
# p99_ms; receive adds delete_batch_*, missing and duplicates), then
# `sqs_bench_ratio server=S phase=P msgs_per_s_over_moto=X` (>1: Flotilla is faster) and
# `sqs_bench_status=ok|failed`. moto keeps messages in memory and checks no signature;
# Flotilla verifies SigV4 on every request and commits every send (fsync) before
# answering. All processes share the machine: figures are a comparison, not a capacity.
#
# Knobs (env): MESSAGES (2000), PROCS (4 client processes), BODY_BYTES (256),
# WAKE_SAMPLES (10), VENV (a virtualenv with moto[server] and boto3; default bench/.venv),
# SKIP_BUILD=1, FLOTILLA_BIN (default target/release/flotilla), NO_POSTGRES=1 to skip the
# PostgreSQL-backed run (otherwise scripts/ensure-postgres.sh provides a server).
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "$BENCH_DIR/.." && pwd)"
VENV="${VENV:-$BENCH_DIR/.venv}"
MESSAGES="${MESSAGES:-2000}"
PROCS="${PROCS:-4}"
BODY_BYTES="${BODY_BYTES:-256}"
WAKE_SAMPLES="${WAKE_SAMPLES:-10}"
SERVERS=(flotilla flotilla_pg moto)
[[ "${NO_POSTGRES:-0}" == 1 ]] && SERVERS=(flotilla moto)

log() { printf '# %s\n' "$*" >&2; }
die() { printf 'sqs.sh: %s\n' "$*" >&2; exit 1; }

command -v curl >/dev/null 2>&1 || die "curl is required"
if [[ ! -x "$VENV/bin/python" ]]; then
  log "creating virtualenv $VENV"
  python3 -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c 'import moto, boto3, botocore, flask' >/dev/null 2>&1 || [[ ! -x "$VENV/bin/moto_server" ]]; then
  log "installing moto[server], boto3, botocore into $VENV"
  "$VENV/bin/pip" install -q 'moto[server]' boto3 botocore >&2
fi
PY="$VENV/bin/python"
HELPER="$BENCH_DIR/sqs_bench.py"

if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
  log "building flotilla (release)"
  (cd "$REPO_DIR" && cargo build --release -p flotilla -j 1 >&2)
fi
FLOTILLA="${FLOTILLA_BIN:-$REPO_DIR/target/release/flotilla}"
[[ -x "$FLOTILLA" ]] || die "$FLOTILLA not found"

WORK="$(mktemp -d /tmp/flotilla-sqs-bench.XXXXXX)"
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
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

# wait_ready URL PID NAME: poll (bounded: 300 x 0.1 s) until URL answers HTTP.
wait_ready() {
  local url="$1" pid="$2" name="$3" i
  for ((i = 0; i < 300; i++)); do
    kill -0 "$pid" 2>/dev/null || die "$name exited during start-up: $(tail -5 "$WORK/$name.log" 2>/dev/null)"
    curl -fsS -o /dev/null --max-time 1 "$url" 2>/dev/null && return 0
    sleep 0.1
  done
  die "$name did not become ready at $url within 30 s"
}

declare -A URL
start_flotilla() { # start_flotilla NAME [--store URL]
  local name="$1" port
  shift
  port="$("$PY" "$HELPER" port)"
  "$FLOTILLA" server --data-dir "$WORK/$name-data" --listen "127.0.0.1:$port" --no-aws-profile \
    --dns-listen 127.0.0.1:0 "$@" >"$WORK/$name.log" 2>&1 &
  PIDS+=("$!")
  URL[$name]="http://127.0.0.1:$port"
  wait_ready "${URL[$name]}/healthz" "$!" "$name"
}

start_flotilla flotilla
if [[ " ${SERVERS[*]} " == *" flotilla_pg "* ]]; then
  pg_url="$(bash "$REPO_DIR/scripts/ensure-postgres.sh" | tail -n 1)"
  pg_db="sqs_bench_$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  psql "${pg_url%/*}/postgres" -qc "CREATE DATABASE $pg_db" >&2
  start_flotilla flotilla_pg --store "${pg_url%/*}/$pg_db"
fi
port="$("$PY" "$HELPER" port)"
"$VENV/bin/moto_server" -H 127.0.0.1 -p "$port" >"$WORK/moto.log" 2>&1 &
PIDS+=("$!")
URL[moto]="http://127.0.0.1:$port"
wait_ready "${URL[moto]}/moto-api/" "$!" moto

FAILED=0
for s in "${SERVERS[@]}"; do
  log "running against $s at ${URL[$s]}"
  peer=()
  [[ "$s" == moto ]] && peer=(--peer)
  timeout 900 "$PY" "$HELPER" run --endpoint "${URL[$s]}" --server "$s" --procs "$PROCS" \
    --messages "$MESSAGES" --body-bytes "$BODY_BYTES" --wake-samples "$WAKE_SAMPLES" "${peer[@]}" \
    | tee "$WORK/$s.out" || FAILED=1
done

field() { grep -o " $2=[0-9.na]*" <<<" $1" | head -1 | cut -d= -f2; }
for s in "${SERVERS[@]}"; do
  [[ "$s" == moto ]] && continue
  for phase in send receive; do
    mine="$(grep " phase=$phase " "$WORK/$s.out" || true)"
    theirs="$(grep " phase=$phase " "$WORK/moto.out" || true)"
    [[ -n "$mine" && -n "$theirs" ]] || continue
    ratio="$(awk -v a="$(field "$mine" msgs_per_s)" -v b="$(field "$theirs" msgs_per_s)" \
      'BEGIN { if (b > 0) printf "%.2f", a / b; else print "nan" }')"
    echo "sqs_bench_ratio server=$s phase=$phase msgs_per_s_over_moto=$ratio"
  done
done
if [[ "$FAILED" != 0 ]]; then
  echo "sqs_bench_status=failed"
  exit 1
fi
echo "sqs_bench_status=ok"
