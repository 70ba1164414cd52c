#!/usr/bin/env bash
# Makes sure a Docker engine answers on this machine: installs Debian's docker.io
# (with busybox-static, which the tests build their images from, skopeo, which
# they copy images with, and iproute2, with which agents put the task role credentials
# address 169.254.170.2 on the node) when missing, and
# starts dockerd when it is not running. Needs root for the install and start.
set -euo pipefail

need=()
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
[[ -x /bin/busybox || -x /usr/bin/busybox ]] || need+=(busybox-static)
command -v skopeo >/dev/null 2>&1 || need+=(skopeo)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
if (( ${#need[@]} )); then
    echo "installing ${need[*]}..."
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

if docker info >/dev/null 2>&1; then
    exit 0
fi
echo "starting dockerd..."
# A pid file left by an earlier daemon (e.g. from a previous session) stops a new one.
if [[ -f /var/run/docker.pid ]] && ! kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
    rm -f /var/run/docker.pid
fi
nohup dockerd >/var/log/flotilla-dockerd.log 2>&1 &
for _ in $(seq 1 60); do
    if docker info >/dev/null 2>&1; then
        echo "dockerd is up"
        exit 0
    fi
    sleep 0.5
done
echo "dockerd did not start; the end of its log:" >&2
tail -n 20 /var/log/flotilla-dockerd.log >&2
exit 1
