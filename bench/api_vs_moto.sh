#!/usr/bin/env bash
# ECS API throughput/latency of Flotilla (on its default SQLite store and on PostgreSQL)
# side by side with moto, on loopback.
# See bench/README.md. Stdout: machine-readable figures; stderr: progress and raw wrk output.
#
# Knobs (env): VENV (reuse a virtualenv with moto[server]+boto3), THREADS (wrk -t, 1),
# CONNECTIONS (wrk -c, 16), DURATION (seconds per wrk run, 10), EXACT_THREADS (16) and
# EXACT_PER_THREAD (25) for the bounded revision-consistency run, SKIP_BUILD=1 to use
# an already built binary, FLOTILLA_BIN (default target/release/flotilla), NO_POSTGRES=1 to
# skip the PostgreSQL-backed run (otherwise scripts/ensure-postgres.sh provides a server).
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "$BENCH_DIR/.." && pwd)"
VENV="${VENV:-$BENCH_DIR/.venv}"
THREADS="${THREADS:-1}"
CONNECTIONS="${CONNECTIONS:-16}"
DURATION="${DURATION:-10}"
EXACT_THREADS="${EXACT_THREADS:-16}"
EXACT_PER_THREAD="${EXACT_PER_THREAD:-25}"
OPS=(DescribeClusters RegisterTaskDefinition)
SERVERS=(flotilla flotilla_pg moto)
[[ "${NO_POSTGRES:-0}" == 1 ]] && SERVERS=(flotilla moto)

log() { printf '# %s\n' "$*" >&2; }
die() { printf 'api_vs_moto.sh: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------- prerequisites
if ! command -v wrk >/dev/null 2>&1; then
  log "installing wrk from Debian"
  if ! apt-get install -y wrk >/dev/null 2>&1; then
    apt-get update >/dev/null 2>&1 || true
    apt-get install -y wrk >/dev/null || die "could not install wrk"
  fi
fi
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
HELPER="$BENCH_DIR/api_bench.py"

if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
  log "building flotilla (release)"
  (cd "$REPO_DIR" && cargo build --release -p flotilla -j 1 >&2)
fi
FLOTILLA="${FLOTILLA_BIN:-$REPO_DIR/target/release/flotilla}"
[[ -x "$FLOTILLA" ]] || die "$FLOTILLA not found"

# ---------------------------------------------------------------- processes
WORK="$(mktemp -d /tmp/flotilla-bench.XXXXXX)"
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
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

free_port() { "$PY" "$HELPER" port; }

# wait_ready URL PID NAME: poll (bounded: 300 x 0.1 s) until URL answers HTTP.
wait_ready() {
  local url="$1" pid="$2" name="$3" i
  for ((i = 0; i < 300; i++)); do
    kill -0 "$pid" 2>/dev/null || die "$name exited during start-up (log: $WORK/$name.log): $(tail -5 "$WORK/$name.log" 2>/dev/null)"
    if curl -fsS -o /dev/null --max-time 1 "$url" 2>/dev/null; then
      return 0
    fi
    sleep 0.1
  done
  die "$name did not become ready at $url within 30 s"
}

vmrss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

start_flotilla() { # start_flotilla MODE NAME [--store URL] -> sets STARTED_PID, STARTED_URL
  local mode="$1" name="$2" port
  shift 2
  port="$(free_port)"
  "$FLOTILLA" "$mode" --data-dir "$WORK/$name-data" --listen "127.0.0.1:$port" --no-aws-profile "$@" \
    >"$WORK/$name.log" 2>&1 &
  STARTED_PID=$!
  PIDS+=("$STARTED_PID")
  STARTED_URL="http://127.0.0.1:$port"
  wait_ready "$STARTED_URL/healthz" "$STARTED_PID" "$name"
  [[ "$(curl -fsS --max-time 2 "$STARTED_URL/healthz")" == ok ]] || die "$name /healthz did not answer ok"
}

start_moto() { # sets STARTED_PID, STARTED_URL
  local port
  port="$(free_port)"
  "$VENV/bin/moto_server" -H 127.0.0.1 -p "$port" >"$WORK/moto.log" 2>&1 &
  STARTED_PID=$!
  PIDS+=("$STARTED_PID")
  STARTED_URL="http://127.0.0.1:$port"
  wait_ready "$STARTED_URL/moto-api/" "$STARTED_PID" moto
}

# ---------------------------------------------------------------- idle memory
log "measuring idle RSS of 'flotilla up' (fresh data dir, 3 s after ready)"
start_flotilla up flotilla-up
UP_PID=$STARTED_PID
sleep 3
echo "idle_rss server=flotilla_up kib=$(vmrss_kib "$UP_PID")"
kill "$UP_PID" 2>/dev/null || true
wait "$UP_PID" 2>/dev/null || true
PIDS=()

start_flotilla server flotilla
FLOTILLA_PID=$STARTED_PID FLOTILLA_URL=$STARTED_URL
PG_PID="" PG_URL=""
if [[ " ${SERVERS[*]} " == *" flotilla_pg "* ]]; then
  pg_url="$(bash "$REPO_DIR/scripts/ensure-postgres.sh" | tail -n 1)"
  pg_db="bench_$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  psql "${pg_url%/*}/postgres" -qc "CREATE DATABASE $pg_db" >&2
  start_flotilla server flotilla_pg --store "${pg_url%/*}/$pg_db"
  PG_PID=$STARTED_PID PG_URL=$STARTED_URL
fi
start_moto
MOTO_PID=$STARTED_PID MOTO_URL=$STARTED_URL
sleep 3
echo "idle_rss server=flotilla_server kib=$(vmrss_kib "$FLOTILLA_PID")"
[[ -n "$PG_PID" ]] && echo "idle_rss server=flotilla_server_postgres kib=$(vmrss_kib "$PG_PID")"
echo "idle_rss server=moto_server kib=$(vmrss_kib "$MOTO_PID")"
log "flotilla server at $FLOTILLA_URL (pid $FLOTILLA_PID), moto_server at $MOTO_URL (pid $MOTO_PID)"

url_of() { case "$1" in flotilla) echo "$FLOTILLA_URL" ;; flotilla_pg) echo "$PG_URL" ;; *) echo "$MOTO_URL" ;; esac; }

for s in "${SERVERS[@]}"; do
  "$PY" "$HELPER" create-cluster --endpoint "$(url_of "$s")"
done

# ---------------------------------------------------------------- wrk runs
field() { # field LINE NAME
  local v
  v="$(grep -o " $2=[0-9.]*" <<<" $1" | head -1 | cut -d= -f2)"
  [[ -n "$v" ]] || die "no $2 in: $1"
  echo "$v"
}

FAILED=0
declare -A RPS P50 P99
for op in "${OPS[@]}"; do
  for s in "${SERVERS[@]}"; do
    url="$(url_of "$s")"
    lua="$WORK/$s-$op.lua"
    # Sign right before the run: the signature is valid for 5 minutes.
    "$PY" "$HELPER" prepare --endpoint "$url" --op "$op" --lua "$lua"
    before=0
    if [[ "$op" == RegisterTaskDefinition ]]; then
      before="$("$PY" "$HELPER" latest-revision --endpoint "$url")"
    fi
    log "wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s --latency: $s $op"
    out="$WORK/$s-$op.wrk"
    timeout $((DURATION + 60)) wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --timeout 10s --latency \
      -s "$lua" "$url/" >"$out" 2>&1 || die "wrk failed for $s $op: $(cat "$out")"
    sed 's/^/#   /' "$out" >&2
    line="$(grep '^wrk_result ' "$out" || true)"
    [[ -n "$line" ]] || die "wrk printed no result for $s $op (Lua script error?): $(cat "$out")"
    requests="$(field "$line" requests)"
    duration_us="$(field "$line" duration_us)"
    non2xx="$(field "$line" non2xx)"
    errors=$(($(field "$line" err_connect) + $(field "$line" err_read) + $(field "$line" err_write) + $(field "$line" err_timeout)))
    rps="$(awk -v n="$requests" -v d="$duration_us" 'BEGIN { printf "%.1f", n / (d / 1e6) }')"
    p50="$(awk -v v="$(field "$line" p50_us)" 'BEGIN { printf "%.3f", v / 1000 }')"
    p99="$(awk -v v="$(field "$line" p99_us)" 'BEGIN { printf "%.3f", v / 1000 }')"
    RPS[$s,$op]=$rps P50[$s,$op]=$p50 P99[$s,$op]=$p99
    echo "api_bench server=$s op=$op rps=$rps p50_ms=$p50 p99_ms=$p99 non2xx=$non2xx socket_errors=$errors requests=$requests connections=$CONNECTIONS threads=$THREADS seconds=$DURATION"
    if [[ "$non2xx" != 0 || "$errors" != 0 || "$requests" == 0 ]]; then
      log "FAILED: $s $op had $non2xx non-2xx responses, $errors socket errors, $requests requests"
      FAILED=1
    fi
    if [[ "$op" == RegisterTaskDefinition ]]; then
      "$PY" "$HELPER" check-revisions --endpoint "$url" --server "$s" --before "$before" \
        --ok "$(field "$line" ok200)" --acked-dups "$(field "$line" acked_dup_revisions)" \
        --acked-max "$(field "$line" acked_max_revision)" --connections "$CONNECTIONS" \
        --exact-threads "$EXACT_THREADS" --exact-per-thread "$EXACT_PER_THREAD" | tee "$WORK/$s-revisions"
      if [[ "$s" == flotilla* ]] && ! grep -qx 'revisions_consistent=true' "$WORK/$s-revisions"; then
        FAILED=1
      fi
    fi
  done
  for f in "${SERVERS[@]}"; do
    [[ "$f" == moto ]] && continue
    ratio="$(awk -v a="${RPS[$f,$op]}" -v b="${RPS[moto,$op]}" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "nan" }')"
    p50r="$(awk -v a="${P50[$f,$op]}" -v b="${P50[moto,$op]}" 'BEGIN { if (a > 0) printf "%.2f", b / a; else print "nan" }')"
    echo "api_bench_ratio server=$f op=$op rps_over_moto=$ratio p50_moto_over_server=$p50r"
  done
done

echo "loaded_rss server=flotilla_server kib=$(vmrss_kib "$FLOTILLA_PID")"
[[ -n "$PG_PID" ]] && echo "loaded_rss server=flotilla_server_postgres kib=$(vmrss_kib "$PG_PID")"
echo "loaded_rss server=moto_server kib=$(vmrss_kib "$MOTO_PID")"

if [[ "$FAILED" != 0 ]]; then
  echo "api_bench_status=failed"
  exit 1
fi
echo "api_bench_status=ok"
