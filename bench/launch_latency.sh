#!/usr/bin/env bash
# Launch latency RunTask -> RUNNING of Flotilla side by side with `docker run -d`, and the
# node agent's resident memory idle and with 50 running tasks. Real containers, loopback.
# See bench/README.md. Stdout: machine-readable figures; stderr: progress.
#
# Knobs (env): SAMPLES (20), WARMUP (2, discarded), POLL_MS (20), FILL_TASKS (50),
# VENV (a virtualenv with boto3; default bench/.venv, created if missing),
# SKIP_BUILD=1, FLOTILLA_BIN (default target/release/flotilla), IMAGE
# (default flotilla-bench/busybox:latest, built locally from /usr/bin/busybox if absent).
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "$BENCH_DIR/.." && pwd)"
VENV="${VENV:-$BENCH_DIR/.venv}"
SAMPLES="${SAMPLES:-20}"
WARMUP="${WARMUP:-2}"
POLL_MS="${POLL_MS:-20}"
FILL_TASKS="${FILL_TASKS:-50}"
IMAGE="${IMAGE:-flotilla-bench/busybox:latest}"
FAMILY=flotilla-bench-launch      # must match launch_bench.py
PEER_LABEL=flotilla-bench=launch-latency

log() { printf '# %s\n' "$*" >&2; }
die() { printf 'launch_latency.sh: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------- prerequisites
command -v docker >/dev/null 2>&1 || die "docker is required"
command -v curl >/dev/null 2>&1 || die "curl is required"
timeout 10 docker info >/dev/null 2>&1 || die "the Docker engine does not answer (is dockerd running?)"

if [[ ! -x "$VENV/bin/python" ]]; then
  log "creating virtualenv $VENV"
  python3 -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c 'import boto3, botocore' >/dev/null 2>&1; then
  log "installing boto3 into $VENV"
  "$VENV/bin/pip" install -q boto3 botocore >&2
fi
PY="$VENV/bin/python"
HELPER="$BENCH_DIR/launch_bench.py"

if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
  log "building flotilla (release)"
  (cd "$REPO_DIR" && cargo build --release -p flotilla -j 1 >&2)
fi
FLOTILLA="${FLOTILLA_BIN:-$REPO_DIR/target/release/flotilla}"
[[ -x "$FLOTILLA" ]] || die "$FLOTILLA not found"

WORK="$(mktemp -d /tmp/flotilla-launch-bench.XXXXXX)"

# A local image (nothing can be pulled): static busybox with applet symlinks, docker import.
"$BENCH_DIR/busybox_image.sh" "$IMAGE" "$WORK" || die "could not build $IMAGE"

# ---------------------------------------------------------------- processes
SERVER_PID="" AGENT_PID="" URL=""
bench_containers() { # containers this benchmark created: Flotilla's (by family) and the peers
  {
    docker ps -aq --filter "label=com.amazonaws.ecs.task-arn" --filter "name=^/?ecs-$FAMILY-"
    docker ps -aq --filter "label=$PEER_LABEL"
  } 2>/dev/null | sort -u
}
cleanup() {
  set +e
  if [[ -n "$URL" && -n "$AGENT_PID" ]] && kill -0 "$AGENT_PID" 2>/dev/null; then
    timeout 90 "$PY" "$HELPER" stop-all --endpoint "$URL" --timeout 60 >/dev/null 2>&1
  fi
  for pid in "$AGENT_PID" "$SERVER_PID"; do
    [[ -n "$pid" ]] && kill "$pid" 2>/dev/null
  done
  for pid in "$AGENT_PID" "$SERVER_PID"; do
    [[ -n "$pid" ]] && timeout 15 tail --pid="$pid" -f /dev/null 2>/dev/null
    [[ -n "$pid" ]] && kill -9 "$pid" 2>/dev/null
  done
  local ids
  ids="$(bench_containers)"
  if [[ -n "$ids" ]]; then
    log "removing $(wc -l <<<"$ids") benchmark containers"
    # shellcheck disable=SC2086
    timeout 120 docker rm -f $ids >/dev/null 2>&1
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

export AWS_ACCESS_KEY_ID="AKIDFLOTILLABENCH002"
export AWS_SECRET_ACCESS_KEY="bench-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export AWS_DEFAULT_REGION=us-east-1
export FLOTILLA_ROOT_ACCESS_KEY_ID="$AWS_ACCESS_KEY_ID"
export FLOTILLA_ROOT_SECRET_ACCESS_KEY="$AWS_SECRET_ACCESS_KEY"
export RUST_LOG="${RUST_LOG:-warn}"

vmrss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

leftover="$(bench_containers)"
[[ -z "$leftover" ]] || die "containers of an earlier run are still there (docker rm -f them first): $(tr '\n' ' ' <<<"$leftover")"

PORT="$("$PY" "$HELPER" port)"
URL="http://127.0.0.1:$PORT"
"$FLOTILLA" server --data-dir "$WORK/data" --listen "127.0.0.1:$PORT" --no-aws-profile >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for ((i = 0; ; i++)); do
  kill -0 "$SERVER_PID" 2>/dev/null || die "flotilla server exited: $(tail -5 "$WORK/server.log")"
  [[ "$(curl -fsS --max-time 1 "$URL/healthz" 2>/dev/null)" == ok ]] && break
  ((i < 300)) || die "flotilla server not ready at $URL within 30 s"
  sleep 0.1
done
log "flotilla server at $URL (pid $SERVER_PID)"

# `server` does not create `default`; create it before the agent registers into it.
"$PY" - "$URL" <<'EOF'
import sys, boto3
c = boto3.client("ecs", endpoint_url=sys.argv[1], region_name="us-east-1")
if not any(x["status"] == "ACTIVE" for x in c.describe_clusters(clusters=["default"])["clusters"]):
    c.create_cluster(clusterName="default")
EOF

"$FLOTILLA" agent --endpoint "$URL" --cluster default --state-dir "$WORK/data/agent" --cleanup-after 30 \
  >"$WORK/agent.log" 2>&1 &
AGENT_PID=$!
log "flotilla agent pid $AGENT_PID"
"$PY" "$HELPER" setup --endpoint "$URL" --image "$IMAGE" --timeout 30 \
  || die "setup failed; agent log: $(tail -5 "$WORK/agent.log")"
kill -0 "$AGENT_PID" 2>/dev/null || die "flotilla agent exited: $(tail -5 "$WORK/agent.log")"

# ---------------------------------------------------------------- agent RSS, idle
sleep 3
echo "agent_rss state=idle tasks=0 kib=$(vmrss_kib "$AGENT_PID")"

# ---------------------------------------------------------------- launch latency
log "launch latency: $WARMUP warm-up + $SAMPLES samples, each Flotilla task then one docker run -d"
"$PY" "$HELPER" latency --endpoint "$URL" --image "$IMAGE" --samples "$SAMPLES" --warmup "$WARMUP" \
  --interval "$(awk -v m="$POLL_MS" 'BEGIN { print m / 1000 }')" --timeout 60 \
  || die "latency run failed; agent log: $(tail -5 "$WORK/agent.log")"
log "waiting for the sample tasks to stop (sleep ignores SIGTERM: ~30 s stop timeout)"
"$PY" "$HELPER" stop-all --endpoint "$URL" --timeout 120 \
  || die "sample tasks did not stop; agent log: $(tail -5 "$WORK/agent.log")"
echo "agent_rss state=after_latency_samples tasks=0 kib=$(vmrss_kib "$AGENT_PID")"

# ---------------------------------------------------------------- agent RSS, 50 tasks
log "running $FILL_TASKS tasks (RunTask count<=10 batches)"
n="$("$PY" "$HELPER" fill --endpoint "$URL" --tasks "$FILL_TASKS" --timeout 180)" \
  || die "fill failed; agent log: $(tail -5 "$WORK/agent.log")"
running="$(docker ps -q --filter "label=com.amazonaws.ecs.task-arn" --filter "name=^/?ecs-$FAMILY-" | wc -l)"
sleep 3
echo "agent_rss state=running_tasks tasks=$n docker_running=$running kib=$(vmrss_kib "$AGENT_PID")"
echo "server_rss state=running_tasks tasks=$n kib=$(vmrss_kib "$SERVER_PID")"
kill -0 "$AGENT_PID" 2>/dev/null || die "flotilla agent exited: $(tail -5 "$WORK/agent.log")"

t0=$(date +%s.%N)
"$PY" "$HELPER" stop-all --endpoint "$URL" --timeout 120
echo "stop_all tasks=$n seconds=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')"
if grep -qE 'ERROR|panicked' "$WORK/agent.log"; then
  log "agent log has errors:"; grep -E 'ERROR|panicked' "$WORK/agent.log" | tail -10 | sed 's/^/#   /' >&2
fi
echo "launch_bench_status=ok"
