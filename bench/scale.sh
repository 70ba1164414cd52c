#!/usr/bin/env bash
# Scale and recovery: one `flotilla server` driven by AGENTS simulated agents, split over
# SWARMS `flotilla swarm` processes, and by real ECS API traffic (boto3), on loopback.
# Scenarios: burst, kill-control-plane, kill-agents, network-cut (see bench/README.md).
# Stdout: `key=value` figure lines; stderr: progress. Exit status non-zero if any
# scenario's checks failed or any wait timed out.
#
# Knobs (env): AGENTS (1000), TASKS (100000), SWARMS (10), STORE (sqlite|postgres),
# SCENARIOS (comma list, default all), THREADS (RunTask client threads, 24),
# SERVICE_TASKS (desired count of the service in the recovery scenarios, 200),
# CONVERGE_TIMEOUT (seconds, 300), RUN_TIMEOUT (seconds until all tasks RUNNING; default
# max(300, TASKS*0.06)), REGISTER_TIMEOUT (default max(120, AGENTS*0.3)),
# START_DELAY_MS (the swarm's --simulated-start-delay-ms; its default when unset),
# VENV (a virtualenv with boto3; default bench/.venv), SKIP_BUILD=1, FLOTILLA_BIN
# (default target/release/flotilla, or $CARGO_TARGET_DIR/release/flotilla), SWARM_BIN (the
# binary whose `swarm` subcommand runs the agents; default FLOTILLA_BIN), KEEP=1 (keep
# the work directory and PostgreSQL databases). For STORE=postgres: FLOTILLA_TEST_POSTGRES_URL,
# else scripts/ensure-postgres.sh provides a server; each scenario gets a fresh database.
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "$BENCH_DIR/.." && pwd)"
VENV="${VENV:-$BENCH_DIR/.venv}"
STORE="${STORE:-sqlite}"
die() { printf 'scale.sh: %s\n' "$*" >&2; exit 1; }

if [[ ! -x "$VENV/bin/python" ]]; then
  python3 -m venv "$VENV"
fi
"$VENV/bin/python" -c 'import boto3' >/dev/null 2>&1 || "$VENV/bin/pip" install -q boto3 botocore >&2
if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
  printf '# building flotilla (release)\n' >&2
  (cd "$REPO_DIR" && cargo build --release -p flotilla -j 1 >&2)
fi
FLOTILLA="${FLOTILLA_BIN:-${CARGO_TARGET_DIR:-$REPO_DIR/target}/release/flotilla}"
[[ -x "$FLOTILLA" ]] || die "$FLOTILLA not found"
SWARM_BIN="${SWARM_BIN:-$FLOTILLA}"
"$SWARM_BIN" swarm --help >/dev/null 2>&1 || die "$SWARM_BIN has no 'swarm' subcommand"

case "$STORE" in
  sqlite) store_arg=sqlite ;;
  postgres)
    if [[ -n "${FLOTILLA_TEST_POSTGRES_URL:-}" ]]; then
      store_arg="$FLOTILLA_TEST_POSTGRES_URL"
    else
      store_arg="$(bash "$REPO_DIR/scripts/ensure-postgres.sh" | tail -n 1)"
    fi
    command -v psql >/dev/null 2>&1 || die "psql is required for STORE=postgres"
    ;;
  *) die "STORE must be sqlite or postgres, not '$STORE'" ;;
esac

# Every agent holds a long poll open, and the client threads their own connections.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

args=(--flotilla "$FLOTILLA" --swarm-bin "$SWARM_BIN" --agents "${AGENTS:-1000}" --tasks "${TASKS:-100000}" --swarms "${SWARMS:-10}"
  --store "$store_arg" --threads "${THREADS:-24}" --service-tasks "${SERVICE_TASKS:-200}"
  --converge-timeout "${CONVERGE_TIMEOUT:-300}")
[[ -n "${SCENARIOS:-}" ]] && args+=(--scenarios "$SCENARIOS")
[[ -n "${RUN_TIMEOUT:-}" ]] && args+=(--run-timeout "$RUN_TIMEOUT")
[[ -n "${REGISTER_TIMEOUT:-}" ]] && args+=(--register-timeout "$REGISTER_TIMEOUT")
[[ -n "${START_DELAY_MS:-}" ]] && args+=(--start-delay-ms "$START_DELAY_MS")
[[ "${KEEP:-0}" == 1 ]] && args+=(--keep)
exec "$VENV/bin/python" "$BENCH_DIR/scale.py" "${args[@]}"
