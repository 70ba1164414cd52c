#!/usr/bin/env bash
# Drives the registry with clients nobody on the team wrote: the aws CLI (ECR API and
# get-login-password), docker login/push/pull, and skopeo copy both ways.
# Usage: crates/flotilla-registry/scripts/real_clients.sh   (needs dockerd, skopeo, aws)
set -euo pipefail

repo_root=$(cd "$(dirname "$0")/../../.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$repo_root/target}
cargo build -q -p flotilla-registry --example registry_server -j "${JOBS:-1}"
bin=$CARGO_TARGET_DIR/debug/examples/registry_server

work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
host=127.0.0.1:$port
export AWS_ACCESS_KEY_ID=AKIDFLOTILLA AWS_SECRET_ACCESS_KEY=flotilla-secret AWS_DEFAULT_REGION=us-east-1
start_server() {
    FLOTILLA_MAINTENANCE_SECS=1 "$bin" "$work/data" "$host" >>"$work/server.log" 2>&1 &
    server=$!
    for _ in $(seq 100); do curl -s -o /dev/null "http://$host/v2/" && return; sleep 0.1; done
    echo "FAIL: the server did not start"; cat "$work/server.log"; exit 1
}
cleanup() {
    kill "$server" 2>/dev/null || true
    docker logout "$host" >/dev/null 2>&1 || true
    docker rmi -f "$host/smoke/app:v1" "$host/smoke/big:v1" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
start_server

ecr() { aws --endpoint-url "http://$host" ecr "$@"; }
step() { printf '== %s\n' "$*"; }

step "create repositories"
ecr create-repository --repository-name smoke/app --image-tag-mutability IMMUTABLE >/dev/null
ecr create-repository --repository-name smoke/copy >/dev/null

step "docker login with get-login-password"
ecr get-login-password | docker login --username AWS --password-stdin "$host"

step "build a tiny image"
mkdir -p "$work/rootfs/etc"
echo "hello from flotilla $RANDOM" >"$work/rootfs/etc/greeting"
head -c 3000000 /dev/urandom >"$work/rootfs/etc/noise"
tar -C "$work/rootfs" -c . | docker import - "$host/smoke/app:v1" >/dev/null

step "docker push"
docker push "$host/smoke/app:v1"
step "docker pull after removing the local image"
docker rmi "$host/smoke/app:v1" >/dev/null
docker pull "$host/smoke/app:v1"

step "immutable tag refuses a different image"
echo changed >"$work/rootfs/etc/greeting"
tar -C "$work/rootfs" -c . | docker import - "$host/smoke/app:v1" >/dev/null
if docker push "$host/smoke/app:v1" 2>"$work/push.err"; then echo "FAIL: immutable tag was overwritten"; exit 1; fi
grep -q "cannot be overwritten" "$work/push.err" && echo "refused as expected"

step "skopeo copy registry -> oci layout -> registry"
password=$(ecr get-login-password)
skopeo copy --src-tls-verify=false --src-creds "AWS:$password" "docker://$host/smoke/app:v1" "oci:$work/layout:v1"
skopeo copy --dest-tls-verify=false --dest-creds "AWS:$password" "oci:$work/layout:v1" "docker://$host/smoke/copy:v1"
skopeo inspect --tls-verify=false --creds "AWS:$password" "docker://$host/smoke/copy:v1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Digest"])'

step "ECR sees the images"
ecr describe-images --repository-name smoke/copy --query 'imageDetails[].[imageDigest,imageTags[0],imageSizeInBytes]' --output text
ecr list-images --repository-name smoke/app --output text
ecr batch-delete-image --repository-name smoke/copy --image-ids imageTag=v1 --output text
ecr delete-repository --repository-name smoke/app --force --query repository.repositoryName --output text

step "two docker clients push the same image at once"
ecr create-repository --repository-name smoke/race >/dev/null
docker tag "$host/smoke/app:v1" "$host/smoke/race:a"
docker tag "$host/smoke/app:v1" "$host/smoke/race:b"
docker push "$host/smoke/race:a" >"$work/race-a.log" 2>&1 & ra=$!
docker push "$host/smoke/race:b" >"$work/race-b.log" 2>&1 & rb=$!
wait $ra && wait $rb
ecr describe-images --repository-name smoke/race --query 'length(imageDetails)' --output text | grep -qx 1
echo "both pushes succeeded into one image"

step "a lifecycle policy really expires images"
ecr create-repository --repository-name smoke/life >/dev/null
for t in t1 t2; do
    echo "$t" >"$work/rootfs/etc/greeting"
    tar -C "$work/rootfs" -c . | docker import - "$host/smoke/life:$t" >/dev/null
    docker push "$host/smoke/life:$t" >/dev/null
    docker rmi "$host/smoke/life:$t" >/dev/null
done
cat >"$work/policy.json" <<'JSON'
{"rules":[{"rulePriority":1,"description":"keep the newest t*","selection":{"tagStatus":"tagged","tagPrefixList":["t"],"countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}}]}
JSON
ecr put-lifecycle-policy --repository-name smoke/life --lifecycle-policy-text "file://$work/policy.json" >/dev/null
ecr get-lifecycle-policy-preview --repository-name smoke/life --query 'previewResults[].imageTags[0]' --output text | grep -qx t1
for _ in $(seq 50); do
    [ "$(ecr list-images --repository-name smoke/life --query 'imageIds[].imageTag' --output text)" = t2 ] && break
    sleep 0.2
done
[ "$(ecr list-images --repository-name smoke/life --query 'imageIds[].imageTag' --output text)" = t2 ]
echo "t1 expired, t2 kept"

step "kill -9 in the middle of a push, restart, push again"
ecr create-repository --repository-name smoke/big >/dev/null
mkdir -p "$work/big"
head -c 150000000 /dev/urandom >"$work/big/blob"
tar -C "$work/big" -c . | docker import - "$host/smoke/big:v1" >/dev/null
docker push "$host/smoke/big:v1" >"$work/push1.log" 2>&1 &
pusher=$!
for _ in $(seq 200); do
    [ "$(du -sb "$work/data/registry/uploads" | cut -f1)" -gt 4096 ] && break
    sleep 0.05
done
kill -9 "$server"
wait "$server" 2>/dev/null || true
echo "server killed with $(du -sb "$work/data/registry/uploads" | cut -f1) bytes of uploads in flight"
wait "$pusher" || echo "the interrupted push failed, as it should"
start_server
docker push "$host/smoke/big:v1"
docker rmi "$host/smoke/big:v1" >/dev/null
docker pull "$host/smoke/big:v1" >/dev/null
echo "pulled back after the crash"

step "unauthenticated pull is refused"
docker logout "$host" >/dev/null
if docker pull "$host/smoke/copy:v1" 2>/dev/null; then echo "FAIL: pulled without credentials"; exit 1; fi
echo "ALL OK"
