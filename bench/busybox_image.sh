#!/usr/bin/env bash
# Usage: busybox_image.sh IMAGE WORKDIR — builds IMAGE (static busybox with applet
# symlinks, `docker import`) unless Docker already has it. Nothing can be pulled here.
set -euo pipefail
IMAGE="$1" WORK="$2"
docker image inspect "$IMAGE" >/dev/null 2>&1 && exit 0
BUSYBOX="$(command -v busybox || echo /usr/bin/busybox)"
[[ -x "$BUSYBOX" ]] || { echo "busybox not found (apt-get install busybox-static)" >&2; exit 1; }
file -L "$BUSYBOX" 2>/dev/null | grep -q 'statically linked' || echo "# warning: $BUSYBOX may not be static" >&2
echo "# building $IMAGE from $BUSYBOX" >&2
mkdir -p "$WORK/rootfs/bin" "$WORK/rootfs/tmp"
cp "$BUSYBOX" "$WORK/rootfs/bin/busybox"
for a in sh sleep httpd echo cat ls true false wget env; do ln -s busybox "$WORK/rootfs/bin/$a"; done
tar -C "$WORK/rootfs" -cf "$WORK/rootfs.tar" .
docker import "$WORK/rootfs.tar" "$IMAGE" >/dev/null
