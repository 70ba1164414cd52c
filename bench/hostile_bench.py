#!/usr/bin/env python3
"""Hostile-client figures for the listener limits (issue: hardening), on loopback:

  flood     open up to CONNECTIONS idle TCP connections to `flotilla server` (default
            limits: 4096 connections, 20 s header timeout); print how many the server
            holds, and /healthz and signed ListClusters latency during the flood
  uploads   UPLOADS PATCH requests to unknown registry upload ids (8 KiB bodies, on
            keep-alive connections); print the server's RSS before and after

Usage: hostile_bench.py flood|uploads --flotilla BIN [--connections N] [--uploads N]
Prints `key=value` figure lines on stdout; progress on stderr.
"""

import argparse
import resource
import socket
import statistics
import time
import urllib.request
import uuid

from services_bench import Plane, log


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


def timed_ms(call):
    started = time.monotonic()
    call()
    return (time.monotonic() - started) * 1000


def flood(args):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(max(soft, args.connections + 500), hard), hard))
    plane = Plane(args.flotilla).start()
    server_pid = plane.procs[0].pid
    socks = []
    try:
        healthz = lambda: urllib.request.urlopen(f"{plane.url}/healthz", timeout=30).read()  # noqa: E731
        before = [timed_ms(healthz) for _ in range(20)]
        for _ in range(args.connections):
            try:
                socks.append(socket.create_connection(("127.0.0.1", plane.port), timeout=5))
            except OSError as e:
                log(f"connect failed after {len(socks)}: {e}")
                break
        time.sleep(1)
        held = 0
        for s in socks:
            s.setblocking(False)
            try:
                held += s.recv(1) != b""
            except BlockingIOError:
                held += 1
            except OSError:
                pass
        during = [timed_ms(healthz) for _ in range(20)]
        signed = [timed_ms(lambda: plane.ecs.list_clusters()) for _ in range(20)]
        print(f"idle_flood opened={len(socks)} held_by_server={held} server_rss_kib={rss_kib(server_pid)}")
        print(f"idle_flood healthz_ms_before_p50={statistics.median(before):.2f} "
              f"healthz_ms_during_p50={statistics.median(during):.2f} healthz_ms_during_max={max(during):.2f} "
              f"list_clusters_ms_during_p50={statistics.median(signed):.2f}")
    finally:
        for s in socks:
            s.close()
        plane.stop()


def uploads(args):
    plane = Plane(args.flotilla).start()
    pid = plane.procs[0].pid
    try:
        import boto3
        ecr = boto3.client("ecr", endpoint_url=plane.url, region_name="us-east-1",
                           aws_access_key_id=plane.env["FLOTILLA_ROOT_ACCESS_KEY_ID"],
                           aws_secret_access_key=plane.env["FLOTILLA_ROOT_SECRET_ACCESS_KEY"])
        ecr.create_repository(repositoryName="hostile")
        token = ecr.get_authorization_token()["authorizationData"][0]["authorizationToken"]
        body = b"x" * 8192
        start = rss_kib(pid)
        t0 = time.monotonic()
        done = 0
        conn = socket.create_connection(("127.0.0.1", plane.port), timeout=10)
        f = conn.makefile("rb")
        while done < args.uploads:
            conn.sendall(f"PATCH /v2/hostile/blobs/uploads/{uuid.uuid4().hex * 4} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                         f"Authorization: Basic {token}\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
            status = f.readline()
            if b" 404 " not in status:
                raise SystemExit(f"unexpected answer {status!r}")
            length = 0
            while (line := f.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            f.read(length)
            done += 1
            if done % 20000 == 0:
                log(f"{done} requests, RSS {rss_kib(pid)} KiB")
        f.close()
        conn.close()
        seconds = time.monotonic() - t0
        print(f"unknown_uploads requests={done} seconds={seconds:.1f} rss_kib_before={start} "
              f"rss_kib_after={rss_kib(pid)}")
    finally:
        plane.stop()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("command", choices=["flood", "uploads"])
    p.add_argument("--flotilla", required=True)
    p.add_argument("--connections", type=int, default=10000)
    p.add_argument("--uploads", type=int, default=100000)
    args = p.parse_args()
    {"flood": flood, "uploads": uploads}[args.command](args)


if __name__ == "__main__":
    main()
