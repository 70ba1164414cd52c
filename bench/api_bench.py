#!/usr/bin/env python3
"""Helper for bench/api_vs_moto.sh: everything that needs botocore.

Subcommands:
  port                       print a free loopback TCP port
  create-cluster             create the `bench` cluster through boto3
  prepare                    sign one request (SigV4, botocore), send it once to check
                             the answer (HTTP 200 + expected JSON), write a wrk Lua script
  latest-revision            latest revision of the `bench` family (0 when none)
  check-revisions            after the RegisterTaskDefinition run: revisions contiguous,
                             unique, and matching the number of 200 responses

Credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY in the environment.
"""

import argparse
import http.client
import json
import os
import socket
import sys
import urllib.parse

import boto3
import botocore.config
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

REGION = "us-east-1"
TARGET_PREFIX = "AmazonEC2ContainerServiceV20141113"
CLUSTER = "bench"
FAMILY = "bench"

BODIES = {
    "DescribeClusters": {"clusters": [CLUSTER]},
    "RegisterTaskDefinition": {
        "family": FAMILY,
        "containerDefinitions": [
            {
                "name": "web",
                "image": "busybox",
                "memory": 128,
                "essential": True,
                "command": ["httpd", "-f", "-p", "8080"],
                "portMappings": [{"containerPort": 8080, "hostPort": 8080, "protocol": "tcp"}],
                "environment": [
                    {"name": "APP_ENV", "value": "bench"},
                    {"name": "LOG_LEVEL", "value": "info"},
                    {"name": "WORKERS", "value": "4"},
                ],
            }
        ],
    },
}


def fail(msg):
    print(f"api_bench.py: {msg}", file=sys.stderr)
    sys.exit(1)


def client(endpoint):
    cfg = botocore.config.Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=5, read_timeout=30)
    return boto3.client("ecs", region_name=REGION, endpoint_url=endpoint, config=cfg)


def cmd_port(_args):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        print(s.getsockname()[1])


def cmd_create_cluster(args):
    out = client(args.endpoint).create_cluster(clusterName=CLUSTER)
    name = out.get("cluster", {}).get("clusterName")
    if name != CLUSTER:
        fail(f"CreateCluster on {args.endpoint} answered {out!r}")
    print(f"# created cluster {CLUSTER} on {args.endpoint}: {out['cluster'].get('clusterArn')}", file=sys.stderr)


def sign(endpoint, op):
    body = json.dumps(BODIES[op], separators=(",", ":"))
    url = endpoint.rstrip("/") + "/"
    headers = {
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": f"{TARGET_PREFIX}.{op}",
    }
    request = AWSRequest(method="POST", url=url, data=body, headers=headers)
    creds = Credentials(os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"])
    SigV4Auth(creds, "ecs", REGION).add_auth(request)
    # SigV4 signs the Host header as the URL's netloc; send exactly that.
    signed = {"Host": urllib.parse.urlsplit(url).netloc}
    signed.update({k: v for k, v in request.headers.items()})
    return body, signed


def send_once(endpoint, body, headers):
    parts = urllib.parse.urlsplit(endpoint)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.putrequest("POST", "/", skip_host=True, skip_accept_encoding=True)
        for k, v in headers.items():
            conn.putheader(k, v)
        conn.putheader("Content-Length", str(len(body.encode())))
        conn.endheaders(body.encode())
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def check_answer(op, status, raw):
    if status != 200:
        return f"HTTP {status}: {raw[:300]!r}"
    try:
        doc = json.loads(raw)
    except ValueError:
        return f"not JSON: {raw[:300]!r}"
    if op == "DescribeClusters":
        clusters = doc.get("clusters") or []
        if len(clusters) != 1 or clusters[0].get("clusterName") != CLUSTER or doc.get("failures"):
            return f"unexpected DescribeClusters answer: {doc!r}"
    elif op == "RegisterTaskDefinition":
        td = doc.get("taskDefinition") or {}
        c = (td.get("containerDefinitions") or [{}])[0]
        if td.get("family") != FAMILY or not isinstance(td.get("revision"), int) or c.get("image") != "busybox":
            return f"unexpected RegisterTaskDefinition answer: {doc!r}"
        if len(c.get("environment") or []) != 3 or not c.get("portMappings"):
            return f"RegisterTaskDefinition answer lost environment/portMappings: {doc!r}"
    return None


def lua_long_string(text):
    level = 0
    while ("]" + "=" * level + "]") in text:
        level += 1
    eq = "=" * level
    return f"[{eq}[{text}]{eq}]"


LUA_TAIL = r"""
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  ok200 = 0
  non2xx = 0
  dup_revisions = 0
  max_revision = 0
  seen = {}
end

function response(status, headers, body)
  if status == 200 then
    ok200 = ok200 + 1
    if TRACK_REVISIONS then
      local r = tonumber(string.match(body, '"revision":%s*(%d+)'))
      if r then
        if seen[r] then dup_revisions = dup_revisions + 1 end
        seen[r] = true
        if r > max_revision then max_revision = r end
      end
    end
  end
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
  end
end

function done(summary, latency, requests)
  local bad, good, dups, maxr = 0, 0, 0, 0
  for _, t in ipairs(threads) do
    bad = bad + t:get("non2xx")
    good = good + t:get("ok200")
    dups = dups + t:get("dup_revisions")
    if t:get("max_revision") > maxr then maxr = t:get("max_revision") end
  end
  local e = summary.errors
  io.write(string.format(
    "wrk_result requests=%d duration_us=%d p50_us=%d p99_us=%d mean_us=%.1f max_us=%d non2xx=%d ok200=%d " ..
    "err_connect=%d err_read=%d err_write=%d err_timeout=%d err_status=%d acked_dup_revisions=%d acked_max_revision=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.mean,
    latency.max, bad, good, e.connect, e.read, e.write, e.timeout, e.status, dups, maxr))
end
"""


def cmd_prepare(args):
    body, headers = sign(args.endpoint, args.op)
    status, raw = send_once(args.endpoint, body, headers)
    problem = check_answer(args.op, status, raw)
    if problem:
        fail(f"{args.op} on {args.endpoint}: the prepared request is not answered correctly: {problem}")
    print(f"# verified {args.op} on {args.endpoint}: HTTP 200, {len(raw)} bytes of expected JSON", file=sys.stderr)
    lines = ["-- generated by bench/api_bench.py; signed at prepare time, valid for 5 minutes", 'wrk.method = "POST"']
    lines.append(f"TRACK_REVISIONS = {'true' if args.op == 'RegisterTaskDefinition' else 'false'}")
    lines.append(f"wrk.body = {lua_long_string(body)}")
    for k, v in headers.items():
        lines.append(f"wrk.headers[ {lua_long_string(k)} ] = {lua_long_string(v)}")
    with open(args.lua, "w") as f:
        f.write("\n".join(lines) + "\n" + LUA_TAIL)


def latest_revision(endpoint):
    c = client(endpoint)
    try:
        out = c.describe_task_definition(taskDefinition=FAMILY)
    except c.exceptions.ClientException:
        return 0
    return int(out["taskDefinition"]["revision"])


def cmd_latest_revision(args):
    print(latest_revision(args.endpoint))


def list_revisions(endpoint):
    c = client(endpoint)
    arns, token = [], None
    for _page in range(100000):  # bounded
        kw = {"familyPrefix": FAMILY, "maxResults": 100}
        if token:
            kw["nextToken"] = token
        out = c.list_task_definitions(**kw)
        arns.extend(out.get("taskDefinitionArns", []))
        token = out.get("nextToken")
        if not token:
            break
    return sorted(int(a.rsplit(":", 1)[1]) for a in arns if a.rsplit(":", 1)[0].endswith("/" + FAMILY))


def exact_phase(endpoint, threads, per_thread):
    """A bounded concurrent run where every request is awaited: `threads` keep-alive
    connections, `per_thread` RegisterTaskDefinition calls each (freshly signed)."""
    import concurrent.futures

    body, headers = sign(endpoint, "RegisterTaskDefinition")
    parts = urllib.parse.urlsplit(endpoint)

    def worker(_i):
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
        ok, revs = 0, []
        try:
            for _ in range(per_thread):
                conn.putrequest("POST", "/", skip_host=True, skip_accept_encoding=True)
                for k, v in headers.items():
                    conn.putheader(k, v)
                conn.putheader("Content-Length", str(len(body.encode())))
                conn.endheaders(body.encode())
                resp = conn.getresponse()
                raw = resp.read()
                if resp.status == 200:
                    ok += 1
                    revs.append(json.loads(raw)["taskDefinition"]["revision"])
        finally:
            conn.close()
        return ok, revs

    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        results = list(pool.map(worker, range(threads)))
    ok = sum(r[0] for r in results)
    revs = [x for r in results for x in r[1]]
    return ok, revs


def cmd_check_revisions(args):
    # Phase 1: the wrk run. wrk stops at its deadline with up to one request in flight per
    # connection; the server may still complete those, so up to `connections` revisions
    # can exist that no counted response acknowledged.
    revisions = list_revisions(args.endpoint)
    last = latest_revision(args.endpoint)
    expected = args.before + args.ok
    unacked = last - expected
    unique = len(revisions) == len(set(revisions))
    contiguous = revisions == list(range(1, len(revisions) + 1))
    wrk_ok = (unique and contiguous and args.acked_dups == 0 and (not revisions or revisions[-1] == last)
              and 0 <= unacked <= args.connections and args.acked_max <= last)
    print(
        f"revisions_check server={args.server} phase=wrk revisions_before={args.before} ok200={args.ok} "
        f"last_revision={last} expected_last={expected} unacked_inflight_at_stop={unacked} "
        f"max_inflight={args.connections} listed={len(revisions)} unique={str(unique).lower()} "
        f"contiguous={str(contiguous).lower()} acked_dup_revisions={args.acked_dups} ok={str(wrk_ok).lower()}"
    )
    # Phase 2: exact. Every request awaited, so last revision must equal before + 200s.
    before2 = last
    ok2, revs2 = exact_phase(args.endpoint, args.exact_threads, args.exact_per_thread)
    last2 = latest_revision(args.endpoint)
    revisions2 = list_revisions(args.endpoint)
    dup2 = len(revs2) - len(set(revs2))
    exact_ok = (last2 == before2 + ok2 and dup2 == 0 and sorted(revs2) == list(range(before2 + 1, last2 + 1))
                and revisions2 == list(range(1, last2 + 1)))
    print(
        f"revisions_check server={args.server} phase=exact requests={args.exact_threads * args.exact_per_thread} "
        f"concurrency={args.exact_threads} ok200={ok2} revisions_before={before2} last_revision={last2} "
        f"expected_last={before2 + ok2} acked_dup_revisions={dup2} listed={len(revisions2)} ok={str(exact_ok).lower()}"
    )
    consistent = wrk_ok and exact_ok
    print(f"revisions_consistent={str(consistent).lower()}" + ("" if args.server.startswith("flotilla") else f" server={args.server}"))


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("port")
    s = sub.add_parser("create-cluster")
    s.add_argument("--endpoint", required=True)
    s = sub.add_parser("prepare")
    s.add_argument("--endpoint", required=True)
    s.add_argument("--op", required=True, choices=sorted(BODIES))
    s.add_argument("--lua", required=True)
    s = sub.add_parser("latest-revision")
    s.add_argument("--endpoint", required=True)
    s = sub.add_parser("check-revisions")
    s.add_argument("--endpoint", required=True)
    s.add_argument("--server", required=True)
    s.add_argument("--before", type=int, required=True)
    s.add_argument("--ok", type=int, required=True)
    s.add_argument("--acked-dups", type=int, required=True)
    s.add_argument("--acked-max", type=int, required=True)
    s.add_argument("--connections", type=int, required=True)
    s.add_argument("--exact-threads", type=int, default=16)
    s.add_argument("--exact-per-thread", type=int, default=25)
    args = p.parse_args()
    {
        "port": cmd_port,
        "create-cluster": cmd_create_cluster,
        "prepare": cmd_prepare,
        "latest-revision": cmd_latest_revision,
        "check-revisions": cmd_check_revisions,
    }[args.cmd](args)


if __name__ == "__main__":
    main()
