#!/usr/bin/env bash
# Push/pull benchmark, side by side in one run: Flotilla's registry (release build of
# the stand-alone example server) against Debian's docker-registry (CNCF distribution
# 2.8), with skopeo (from an OCI layout) and the docker CLI, on one image of SIZE_MB
# random bytes. Prints one JSON object per measurement, then the ratios.
# Usage: bench/registry_vs_distribution.sh   (needs dockerd, skopeo, docker-registry)
set -euo pipefail

size_mb=${SIZE_MB:-200}
repo_root=$(cd "$(dirname "$0")/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$repo_root/target}
cargo build -q --release -p flotilla-registry --example registry_server -j "${JOBS:-1}"
flotilla_bin=$CARGO_TARGET_DIR/release/examples/registry_server

work=$(mktemp -d)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
fport=$(free_port)
dport=$(free_port)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    docker logout "127.0.0.1:$fport" >/dev/null 2>&1 || true
    docker rmi -f "127.0.0.1:$fport/bench/img:1" "127.0.0.1:$dport/bench/img:1" flotilla-bench:1 >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

wait_up() { for _ in $(seq 100); do curl -s -o /dev/null "$1" && return; sleep 0.1; done; echo "$1 did not come up"; exit 1; }

FLOTILLA_CREATE_ON_PUSH=1 "$flotilla_bin" "$work/flotilla" "127.0.0.1:$fport" >"$work/flotilla.log" 2>&1 &
fpid=$!
pids+=("$fpid")
cat >"$work/distribution.yml" <<YAML
version: 0.1
storage:
  filesystem:
    rootdirectory: $work/distribution
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$dport
YAML
docker-registry serve "$work/distribution.yml" >"$work/distribution.log" 2>&1 &
dpid=$!
pids+=("$dpid")
wait_up "http://127.0.0.1:$fport/v2/"
wait_up "http://127.0.0.1:$dport/v2/"

# A Flotilla password, made the way GetAuthorizationToken does, through the ECR API.
export AWS_ACCESS_KEY_ID=AKIDFLOTILLA AWS_SECRET_ACCESS_KEY=flotilla-secret AWS_DEFAULT_REGION=us-east-1
password=$(aws --endpoint-url "http://127.0.0.1:$fport" ecr get-login-password)
echo "$password" | docker login --username AWS --password-stdin "127.0.0.1:$fport" >/dev/null

mkdir -p "$work/rootfs"
head -c $((size_mb * 1000000)) /dev/urandom >"$work/rootfs/data"
tar -C "$work/rootfs" -c . | docker import - flotilla-bench:1 >/dev/null
skopeo copy -q docker-daemon:flotilla-bench:1 "oci:$work/layout:1"
bytes=$(du -sb "$work/layout/blobs" | cut -f1)

now() { date +%s.%N; }
# Largest resident set of $1 while the command after it runs, in MiB.
rss_peak_file=$work/rss
watch_rss() {
    local pid=$1 peak=0 rss
    while kill -0 "$pid" 2>/dev/null; do
        rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
        [ "${rss:-0}" -gt "$peak" ] && peak=$rss && echo "$peak" >"$rss_peak_file"
        sleep 0.05
    done
}
measure() { # peer tool op pid command...
    local peer=$1 tool=$2 op=$3 pid=$4; shift 4
    echo 0 >"$rss_peak_file"
    watch_rss "$pid" & local watcher=$!
    local t0 t1
    t0=$(now); "$@" >/dev/null 2>&1; t1=$(now)
    kill "$watcher" 2>/dev/null || true; wait "$watcher" 2>/dev/null || true
    python3 - "$peer" "$tool" "$op" "$t0" "$t1" "$bytes" "$(cat "$rss_peak_file")" <<'PY'
import json, sys
peer, tool, op, t0, t1, size, rss = sys.argv[1:]
secs = float(t1) - float(t0)
print(json.dumps({"peer": peer, "tool": tool, "op": op, "seconds": round(secs, 3),
                  "mb_per_s": round(int(size) / 1e6 / secs, 1), "server_rss_peak_mib": round(int(rss) / 1024, 1)}))
PY
}

results=$work/results.jsonl
for peer in flotilla distribution; do
    if [ $peer = flotilla ]; then port=$fport pid=$fpid creds=(--dest-creds "AWS:$password") screds=(--src-creds "AWS:$password")
    else port=$dport pid=$dpid creds=() screds=(); fi
    host=127.0.0.1:$port
    measure $peer skopeo push "$pid" skopeo copy -q --dest-tls-verify=false "${creds[@]}" "oci:$work/layout:1" "docker://$host/bench/sk:1" | tee -a "$results"
    measure $peer skopeo pull "$pid" skopeo copy -q --src-tls-verify=false "${screds[@]}" "docker://$host/bench/sk:1" "oci:$work/out-$peer:1" | tee -a "$results"
    docker tag flotilla-bench:1 "$host/bench/img:1"
    measure $peer docker push "$pid" docker push "$host/bench/img:1" | tee -a "$results"
    # Remove every local name of the image so the pull really downloads it.
    docker rmi "$host/bench/img:1" flotilla-bench:1 >/dev/null
    measure $peer docker pull "$pid" docker pull "$host/bench/img:1" | tee -a "$results"
    docker tag "$host/bench/img:1" flotilla-bench:1
    docker rmi "$host/bench/img:1" >/dev/null
done

python3 - "$results" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
by = {(r["peer"], r["tool"], r["op"]): r for r in rows}
for tool, op in sorted({(r["tool"], r["op"]) for r in rows}):
    f, d = by.get(("flotilla", tool, op)), by.get(("distribution", tool, op))
    if f and d:
        print(json.dumps({"tool": tool, "op": op, "flotilla_s": f["seconds"], "distribution_s": d["seconds"],
                          "speedup": round(d["seconds"] / f["seconds"], 2)}))
PY
