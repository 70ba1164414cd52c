#!/usr/bin/env bash
# Requests/s and latency through a Flotilla application load balancer's HTTP listener,
# side by side in the same run with nginx (Debian) as a reverse proxy to the same
# target, and with the target reached directly. wrk with keep-alive; loopback only.
# See bench/README.md. Stdout: figures; stderr: progress.
#
# Knobs (env): DURATION (seconds per run, 10), CONNECTIONS (32), THREADS (2),
# SKIP_BUILD=1, FLOTILLA_BIN (default target/release/flotilla), VENV (a virtualenv
# with boto3; default bench/.venv).
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "$BENCH_DIR/.." && pwd)"
VENV="${VENV:-$BENCH_DIR/.venv}"
DURATION="${DURATION:-10}"
CONNECTIONS="${CONNECTIONS:-32}"
THREADS="${THREADS:-2}"
log() { printf '# %s\n' "$*" >&2; }
die() { printf 'alb_vs_nginx.sh: %s\n' "$*" >&2; exit 1; }

need=()
command -v wrk >/dev/null 2>&1 || need+=(wrk)
command -v nginx >/dev/null 2>&1 || need+=(nginx-light)
if ((${#need[@]})); then
  log "installing ${need[*]} from Debian"
  apt-get install -y -qq "${need[@]}" >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null; }
  # Debian starts a system nginx on port 80; this benchmark runs its own.
  service nginx stop >/dev/null 2>&1 || true
fi
[[ -x "$VENV/bin/python" ]] || python3 -m venv "$VENV"
"$VENV/bin/python" -c 'import boto3' >/dev/null 2>&1 || "$VENV/bin/pip" install -q boto3 botocore >&2
if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
  (cd "$REPO_DIR" && cargo build --release -p flotilla -j 1 >&2)
fi
FLOTILLA="${FLOTILLA_BIN:-$REPO_DIR/target/release/flotilla}"
[[ -x "$FLOTILLA" ]] || die "$FLOTILLA not found"

WORK="$(mktemp -d /tmp/flotilla-alb-bench.XXXXXX)"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  [[ -f "$WORK/target.pid" ]] && kill "$(cat "$WORK/target.pid")" 2>/dev/null || true
  [[ -f "$WORK/proxy.pid" ]] && kill "$(cat "$WORK/proxy.pid")" 2>/dev/null || true
  sleep 1
  rm -rf "$WORK"
}
trap cleanup EXIT

port() { "$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
TARGET_PORT="$(port)" PROXY_PORT="$(port)" API_PORT="$(port)" LISTENER_PORT="$(port)"

# The target: nginx serving a small static page (fast enough not to be the bottleneck).
mkdir -p "$WORK/www" "$WORK/logs"
chmod 0755 "$WORK" "$WORK/www"  # nginx workers run as www-data
printf 'hello from the target\n' >"$WORK/www/index.html"
nginx_conf() { # name port body
  cat >"$WORK/$1.conf" <<EOF
worker_processes 1;
pid $WORK/$1.pid;
error_log $WORK/logs/$1-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $WORK/$1-body; proxy_temp_path $WORK/$1-proxy;
  fastcgi_temp_path $WORK/$1-fcgi; uwsgi_temp_path $WORK/$1-uwsgi; scgi_temp_path $WORK/$1-scgi;
  upstream target { server 127.0.0.1:$TARGET_PORT; keepalive 64; }
  server { listen 127.0.0.1:$2; $3 }
}
EOF
  nginx -c "$WORK/$1.conf" -p "$WORK" >&2
}
nginx_conf target "$TARGET_PORT" "root $WORK/www; location / { }"
nginx_conf proxy "$PROXY_PORT" "location / { proxy_pass http://target; proxy_http_version 1.1; proxy_set_header Connection \"\"; proxy_set_header X-Forwarded-For \$remote_addr; }"

export FLOTILLA_ROOT_ACCESS_KEY_ID=AKIDFLOTILLABENCH004 FLOTILLA_ROOT_SECRET_ACCESS_KEY=bench-alb-secret-0123456789abcdef
"$FLOTILLA" server --data-dir "$WORK/data" --listen "127.0.0.1:$API_PORT" --no-aws-profile --dns-listen off \
  >"$WORK/server.log" 2>&1 &
PIDS+=($!)
SERVER_PID=$!
ADDRESS="$("$VENV/bin/python" - "$API_PORT" "$TARGET_PORT" "$LISTENER_PORT" <<'EOF'
import sys, time, boto3
api, target, listener = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
url = f"http://127.0.0.1:{api}"
for _ in range(300):
    try:
        import urllib.request; urllib.request.urlopen(url + "/healthz", timeout=1); break
    except Exception: time.sleep(0.1)
elb = boto3.client("elbv2", endpoint_url=url, region_name="us-east-1",
                   aws_access_key_id="AKIDFLOTILLABENCH004", aws_secret_access_key="bench-alb-secret-0123456789abcdef")
lb = elb.create_load_balancer(Name="bench")["LoadBalancers"][0]["LoadBalancerArn"]
tg = elb.create_target_group(Name="bench", Protocol="HTTP", Port=target, TargetType="ip", HealthCheckIntervalSeconds=5,
                             HealthCheckTimeoutSeconds=2, HealthyThresholdCount=2)["TargetGroups"][0]["TargetGroupArn"]
elb.register_targets(TargetGroupArn=tg, Targets=[{"Id": "127.0.0.1", "Port": target}])
elb.create_listener(LoadBalancerArn=lb, Protocol="HTTP", Port=listener, DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}])
for _ in range(600):
    d = elb.describe_load_balancers(LoadBalancerArns=[lb])["LoadBalancers"][0]["AvailabilityZones"][0]
    h = elb.describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"][0]["TargetHealth"]["State"]
    if d.get("LoadBalancerAddresses") and h == "healthy":
        print(d["LoadBalancerAddresses"][0]["IpAddress"]); break
    time.sleep(0.1)
else:
    sys.exit(f"the load balancer did not become ready: zones {d}, target {h}")
EOF
)"
log "target 127.0.0.1:$TARGET_PORT, nginx proxy 127.0.0.1:$PROXY_PORT, flotilla ALB $ADDRESS:$LISTENER_PORT"

run() { # name url
  local out rps p50 p99
  out="$(wrk -t "$THREADS" -c "$CONNECTIONS" -d "${DURATION}s" --latency "$2")"
  printf '%s\n' "$out" >&2
  grep -q 'Non-2xx' <<<"$out" && die "$1: non-2xx answers"
  rps="$(awk '/^Requests\/sec/ {print $2}' <<<"$out")"
  p50="$(awk '$1=="50%" {print $2}' <<<"$out")"
  p99="$(awk '$1=="99%" {print $2}' <<<"$out")"
  echo "alb_bench path=$1 rps=$rps p50=$p50 p99=$p99 connections=$CONNECTIONS threads=$THREADS seconds=$DURATION"
  eval "RPS_$1=$rps"
}
run direct "http://127.0.0.1:$TARGET_PORT/"
run nginx "http://127.0.0.1:$PROXY_PORT/"
run flotilla "http://$ADDRESS:$LISTENER_PORT/"
RSS="$(awk '/^VmRSS:/ {print $2}' "/proc/$SERVER_PID/status")"
echo "alb_bench_rss server=flotilla kib=$RSS"
awk -v f="$RPS_flotilla" -v n="$RPS_nginx" 'BEGIN { printf "alb_bench_ratio rps_flotilla_over_nginx=%.2f\n", f / n }'
