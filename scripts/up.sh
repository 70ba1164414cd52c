#!/usr/bin/env bash
# Sets up and starts Flotilla on this machine: makes sure Docker runs, builds the
# `flotilla` binary, installs it to /usr/local/bin, and starts `flotilla up` (the
# control plane and a local agent) in the background. Idempotent: a
# second run rebuilds and restarts it on the same data directory.
#
#   bash scripts/up.sh            # listen on 127.0.0.1:7700, data in /var/lib/flotilla
#   FLOTILLA_LISTEN=0.0.0.0:7700 FLOTILLA_DATA_DIR=/srv/flotilla bash scripts/up.sh
set -euo pipefail
cd "$(dirname "$0")/.."

listen="${FLOTILLA_LISTEN:-127.0.0.1:7700}"
data_dir="${FLOTILLA_DATA_DIR:-/var/lib/flotilla}"
log="${FLOTILLA_LOG:-$data_dir/flotilla.log}"
bin_dir="${FLOTILLA_BIN_DIR:-/usr/local/bin}"

command -v cargo >/dev/null || { echo "cargo is needed: install the Rust toolchain (rustup) first" >&2; exit 1; }
command -v curl >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq curl; }

bash scripts/ensure-docker.sh

echo "building flotilla (release)..."
cargo build --release --locked -p flotilla
target_dir="${CARGO_TARGET_DIR:-target}"
install -m 0755 "$target_dir/release/flotilla" "$bin_dir/flotilla"

mkdir -p "$data_dir"
pid_file="$data_dir/flotilla.pid"
if [[ -f "$pid_file" ]] && kill -0 "$(cat "$pid_file")" 2>/dev/null; then
    echo "stopping the running flotilla (pid $(cat "$pid_file"))..."
    kill -TERM "$(cat "$pid_file")"
    for _ in $(seq 1 50); do kill -0 "$(cat "$pid_file")" 2>/dev/null || break; sleep 0.2; done
fi

nohup "$bin_dir/flotilla" up --data-dir "$data_dir" --listen "$listen" >>"$log" 2>&1 &
echo $! >"$pid_file"

for _ in $(seq 1 100); do
    if curl -fsS "http://${listen/0.0.0.0/127.0.0.1}/healthz" >/dev/null 2>&1; then
        echo "flotilla is up: http://${listen/0.0.0.0/127.0.0.1} (pid $(cat "$pid_file"), log $log)"
        echo "the AWS CLI profile 'flotilla' is written; try:"
        echo "  aws --profile flotilla ecs list-clusters"
        exit 0
    fi
    if ! kill -0 "$(cat "$pid_file")" 2>/dev/null; then break; fi
    sleep 0.2
done
echo "flotilla did not come up; the end of its log:" >&2
tail -n 30 "$log" >&2
exit 1
