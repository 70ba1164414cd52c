#!/usr/bin/env python3
"""Fargate and awsvpc launch figures, for bench/fargate.sh.

Starts `flotilla up` (control plane and its local Docker agent, which serves both
launch types) on a loopback port, then takes SAMPLES interleaved samples of three kinds
of the same one-container task:

  ec2-bridge   EC2 launch type, bridge network mode (no network setup of its own)
  ec2-awsvpc   EC2 launch type, awsvpc (a namespace and address of its own)
  fargate      FARGATE launch type (awsvpc, 0.25 vCPU / 512 MiB, on Fargate capacity)

For each: RunTask -> RUNNING as DescribeTasks shows it (wall clock), and StopTask ->
STOPPED. The awsvpc kinds less ec2-bridge is the cost of the network setup (launch)
and teardown (stop). Every wait is bounded; nothing leaves loopback.
"""

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

import boto3
import botocore.config

REGION = "us-east-1"
CLUSTER = "default"
NETWORK = {"awsvpcConfiguration": {"subnets": ["subnet-0bench000000000001"]}}
LOOP = ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]


def log(msg):
    print(f"# {msg}", file=sys.stderr, flush=True)


def fail(msg):
    print(f"fargate_bench.py: {msg}", file=sys.stderr)
    sys.exit(1)


def percentile(values, p):
    s = sorted(values)
    k = max(1, -(-len(s) * p // 100))
    return s[int(k) - 1]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_status(c, arn, want, timeout, interval):
    deadline = time.monotonic() + timeout
    while True:
        t = c.describe_tasks(cluster=CLUSTER, tasks=[arn])["tasks"][0]
        if t["lastStatus"] == want:
            return t
        if t["lastStatus"] == "STOPPED":
            fail(f"task {arn} STOPPED ({t.get('stoppedReason')}) while waiting for {want}")
        if time.monotonic() > deadline:
            fail(f"task {arn} not {want} within {timeout} s (lastStatus {t['lastStatus']})")
        time.sleep(interval)


def sample(c, kind, interval, timeout):
    run = {"cluster": CLUSTER, "taskDefinition": f"bench-{kind}"}
    if kind == "fargate":
        run.update(launchType="FARGATE", networkConfiguration=NETWORK)
    elif kind == "ec2-awsvpc":
        run.update(launchType="EC2", networkConfiguration=NETWORK)
    t0 = time.perf_counter()
    out = c.run_task(**run)
    if out["failures"]:
        fail(f"RunTask {kind}: {out['failures']}")
    arn = out["tasks"][0]["taskArn"]
    wait_status(c, arn, "RUNNING", timeout, interval)
    launch = (time.perf_counter() - t0) * 1000
    t1 = time.perf_counter()
    c.stop_task(cluster=CLUSTER, task=arn)
    wait_status(c, arn, "STOPPED", timeout, interval)
    stop = (time.perf_counter() - t1) * 1000
    return launch, stop


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--flotilla", required=True)
    ap.add_argument("--image", required=True)
    ap.add_argument("--samples", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--interval", type=float, default=0.02)
    ap.add_argument("--timeout", type=float, default=60)
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix="flotilla-fargate-bench.")
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    env = dict(os.environ, HOME=work, RUST_LOG=os.environ.get("RUST_LOG", "warn"))
    env["FLOTILLA_ROOT_ACCESS_KEY_ID"] = env["AWS_ACCESS_KEY_ID"]
    env["FLOTILLA_ROOT_SECRET_ACCESS_KEY"] = env["AWS_SECRET_ACCESS_KEY"]
    logf = open(os.path.join(work, "up.log"), "wb")
    proc = subprocess.Popen([args.flotilla, "up", "--data-dir", os.path.join(work, "data"), "--listen",
                             f"127.0.0.1:{port}", "--no-aws-profile", "--metadata-port", "0",
                             "--cleanup-after", "5", "--dns-listen", "off"], env=env, stdout=logf, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if urllib.request.urlopen(f"{endpoint}/healthz", timeout=1).read().strip() == b"ok":
                    break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                logf.flush()
                tail = open(os.path.join(work, "up.log"), errors="replace").read()[-2000:]
                fail(f"flotilla up did not become ready; its log ends:\n{tail}")
            time.sleep(0.1)
        c = boto3.client("ecs", endpoint_url=endpoint, region_name=REGION,
                         config=botocore.config.Config(retries={"max_attempts": 1}, read_timeout=30))
        deadline = time.monotonic() + 60
        while not c.list_container_instances(cluster=CLUSTER)["containerInstanceArns"]:
            if time.monotonic() > deadline:
                fail("the local agent did not register")
            time.sleep(0.1)
        container = {"name": "app", "image": args.image, "command": LOOP, "stopTimeout": 2}
        c.register_task_definition(family="bench-ec2-bridge", containerDefinitions=[dict(container, memory=16)])
        c.register_task_definition(family="bench-ec2-awsvpc", networkMode="awsvpc",
                                   containerDefinitions=[dict(container, memory=16)])
        c.register_task_definition(family="bench-fargate", networkMode="awsvpc", requiresCompatibilities=["FARGATE"],
                                   cpu="256", memory="512", containerDefinitions=[container])
        kinds = ["ec2-bridge", "ec2-awsvpc", "fargate"]
        figures = {k: ([], []) for k in kinds}
        for i in range(args.warmup + args.samples):
            for kind in kinds:  # interleaved, so each kind sees the same machine load
                launch, stop = sample(c, kind, args.interval, args.timeout)
                if i >= args.warmup:
                    figures[kind][0].append(launch)
                    figures[kind][1].append(stop)
            log(f"round {i + 1}/{args.warmup + args.samples} done")
        for kind in kinds:
            launch, stop = figures[kind]
            print(f"{kind} samples={len(launch)} launch_p50_ms={percentile(launch, 50):.0f} "
                  f"launch_p90_ms={percentile(launch, 90):.0f} stop_p50_ms={percentile(stop, 50):.0f} "
                  f"stop_p90_ms={percentile(stop, 90):.0f} launch_mean_ms={statistics.fmean(launch):.0f}")
        bridge_l, bridge_s = (percentile(v, 50) for v in figures["ec2-bridge"])
        vpc_l, vpc_s = (percentile(v, 50) for v in figures["ec2-awsvpc"])
        print(f"awsvpc_network_cost setup_p50_ms={vpc_l - bridge_l:.0f} teardown_p50_ms={vpc_s - bridge_s:.0f}")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
