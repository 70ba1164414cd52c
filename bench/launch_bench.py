#!/usr/bin/env python3
"""Helper for bench/launch_latency.sh: everything that needs boto3 or a stopwatch.

Subcommands:
  port         print a free loopback TCP port
  setup        create cluster `default` (if missing), register the task definition, and
               wait (bounded) until the agent's container instance is ACTIVE and connected
  latency      launch latency: N sequential Flotilla tasks (RunTask -> DescribeTasks shows
               RUNNING) interleaved with N `docker run -d` of the same image; prints the
               figures
  fill         run TASKS tasks (batches of 10) and wait until all are RUNNING
  stop-all     stop every task of the cluster and wait (bounded) until all are STOPPED

Credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY in the environment.
Every wait is bounded; a timeout is an error (exit status 1).
"""

import argparse
import socket
import statistics
import subprocess
import sys
import time

import boto3
import botocore.config

REGION = "us-east-1"
CLUSTER = "default"
FAMILY = "flotilla-bench-launch"
CONTAINER = "sleeper"
PEER_LABEL = "flotilla-bench=launch-latency"


def fail(msg):
    print(f"launch_bench.py: {msg}", file=sys.stderr)
    sys.exit(1)


def log(msg):
    print(f"# {msg}", file=sys.stderr, flush=True)


def ecs(endpoint):
    return boto3.client(
        "ecs",
        endpoint_url=endpoint,
        region_name=REGION,
        config=botocore.config.Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=30),
    )


def percentile(values, p):
    """Nearest-rank percentile (p in 0..100) of a non-empty list."""
    s = sorted(values)
    k = max(1, -(-len(s) * p // 100))  # ceil(n * p / 100), at least 1
    return s[int(k) - 1]


def summary(values):
    return (
        f"p50_ms={percentile(values, 50):.1f} p90_ms={percentile(values, 90):.1f} "
        f"mean_ms={statistics.fmean(values):.1f} min_ms={min(values):.1f} max_ms={max(values):.1f}"
    )


# ---------------------------------------------------------------- subcommands
def cmd_port(_args):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        print(s.getsockname()[1])


def cmd_setup(args):
    c = ecs(args.endpoint)
    found = c.describe_clusters(clusters=[CLUSTER]).get("clusters", [])
    if not any(cl.get("status") == "ACTIVE" for cl in found):
        c.create_cluster(clusterName=CLUSTER)
        log(f"created cluster {CLUSTER}")
    c.register_task_definition(
        family=FAMILY,
        containerDefinitions=[
            {
                "name": CONTAINER,
                "image": args.image,
                "memory": 16,
                "essential": True,
                "command": ["sleep", "3600"],
            }
        ],
    )
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        arns = c.list_container_instances(cluster=CLUSTER).get("containerInstanceArns", [])
        if arns:
            cis = c.describe_container_instances(cluster=CLUSTER, containerInstances=arns)["containerInstances"]
            ready = [ci for ci in cis if ci.get("status") == "ACTIVE" and ci.get("agentConnected")]
            if ready:
                mem = next((r.get("integerValue") for r in ready[0]["remainingResources"] if r["name"] == "MEMORY"), None)
                log(f"container instance ready: {ready[0]['containerInstanceArn']} (remaining memory {mem} MiB)")
                return
        time.sleep(0.1)
    fail(f"no ACTIVE, connected container instance in cluster {CLUSTER} within {args.timeout} s")


def wait_status(c, arns, want, timeout, interval):
    """Poll DescribeTasks until every task's lastStatus is `want`; return the tasks."""
    deadline = time.monotonic() + timeout
    while True:
        tasks = []
        for i in range(0, len(arns), 100):
            out = c.describe_tasks(cluster=CLUSTER, tasks=arns[i : i + 100])
            if out.get("failures"):
                fail(f"DescribeTasks failures: {out['failures']}")
            tasks.extend(out["tasks"])
        if all(t["lastStatus"] == want for t in tasks):
            return tasks
        if want == "RUNNING":
            dead = [t for t in tasks if t["lastStatus"] == "STOPPED"]
            if dead:
                t = dead[0]
                fail(f"task {t['taskArn']} STOPPED ({t.get('stopCode')}: {t.get('stoppedReason')}) while waiting for RUNNING")
        if time.monotonic() >= deadline:
            counts = {}
            for t in tasks:
                counts[t["lastStatus"]] = counts.get(t["lastStatus"], 0) + 1
            fail(f"tasks not all {want} within {timeout} s: {counts}")
        time.sleep(interval)


def run_tasks(c, count, started_by):
    out = c.run_task(cluster=CLUSTER, taskDefinition=FAMILY, count=count, startedBy=started_by)
    if out.get("failures"):
        fail(f"RunTask failures: {out['failures']}")
    if len(out["tasks"]) != count:
        fail(f"RunTask returned {len(out['tasks'])} tasks, wanted {count}")
    return [t["taskArn"] for t in out["tasks"]]


def docker(*argv, timeout=60):
    p = subprocess.run(["docker", *argv], capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0:
        fail(f"docker {' '.join(argv)} failed ({p.returncode}): {p.stderr.strip()}")
    return p.stdout.strip()


def flotilla_sample(c, interval, timeout):
    """One task: wall ms RunTask -> RUNNING seen, and Flotilla's startedAt - createdAt ms."""
    t0 = time.perf_counter()
    [arn] = run_tasks(c, 1, "flotilla-bench-latency")
    deadline = time.monotonic() + timeout
    while True:
        out = c.describe_tasks(cluster=CLUSTER, tasks=[arn])
        if out.get("failures"):
            fail(f"DescribeTasks failures: {out['failures']}")
        t = out["tasks"][0]
        if t["lastStatus"] == "RUNNING":
            wall = (time.perf_counter() - t0) * 1000
            break
        if t["lastStatus"] == "STOPPED":
            fail(f"task {arn} STOPPED ({t.get('stopCode')}: {t.get('stoppedReason')}) before RUNNING")
        if time.monotonic() >= deadline:
            fail(f"task {arn} not RUNNING within {timeout} s (lastStatus {t['lastStatus']})")
        time.sleep(interval)
    own = None
    if t.get("startedAt") and t.get("createdAt"):
        own = (t["startedAt"] - t["createdAt"]).total_seconds() * 1000
    # Stop it without waiting: `sleep` as PID 1 ignores SIGTERM, so the stop takes the
    # stop timeout (30 s) before SIGKILL; the script waits for all of them afterwards.
    c.stop_task(cluster=CLUSTER, task=arn, reason="launch latency sample done")
    return wall, own


def docker_sample(image, i, interval, timeout):
    """One `docker run -d`: wall ms of the command, and until `docker inspect` shows Running."""
    name = f"flotilla-bench-peer-{i}"
    t0 = time.perf_counter()
    docker("run", "-d", "--rm", "--name", name, "--label", PEER_LABEL, image, "sleep", "3600", timeout=timeout)
    cmd = (time.perf_counter() - t0) * 1000
    deadline = time.monotonic() + timeout
    while docker("inspect", "-f", "{{.State.Running}}", name) != "true":
        if time.monotonic() >= deadline:
            fail(f"{name} not running within {timeout} s")
        time.sleep(interval)
    inspected = (time.perf_counter() - t0) * 1000
    docker("rm", "-f", name, timeout=timeout)
    return cmd, inspected


def cmd_latency(args):
    c = ecs(args.endpoint)
    flo, own, dcmd, dins = [], [], [], []
    total = args.warmup + args.samples
    for i in range(total):
        # Interleave the two runners so both see the same machine load over time.
        w, o = flotilla_sample(c, args.interval, args.timeout)
        dc, di = docker_sample(args.image, i, args.interval, args.timeout)
        kept = i >= args.warmup
        log(
            f"sample {i + 1}/{total}{'' if kept else ' (warm-up, discarded)'}: flotilla {w:.1f} ms "
            f"(startedAt-createdAt {o if o is None else round(o, 1)} ms), docker run -d {dc:.1f} ms "
            f"(inspect Running {di:.1f} ms)"
        )
        if kept:
            flo.append(w)
            dcmd.append(dc)
            dins.append(di)
            if o is not None:
                own.append(o)
    n = args.samples
    print(f"launch_latency runner=flotilla tasks={n} {summary(flo)} poll_ms={args.interval * 1000:.0f}")
    if own:
        print(f"launch_latency runner=flotilla_own_view tasks={len(own)} {summary(own)} measure=startedAt_minus_createdAt")
    print(f"launch_latency runner=docker_run tasks={n} {summary(dcmd)} measure=docker_run_d_command_wall")
    print(f"launch_latency runner=docker_run_inspect tasks={n} {summary(dins)} measure=until_docker_inspect_running")
    p50f, p50d = percentile(flo, 50), percentile(dcmd, 50)
    p90f, p90d = percentile(flo, 90), percentile(dcmd, 90)
    print(
        f"launch_latency_ratio p50_flotilla_over_docker={p50f / p50d:.2f} "
        f"p90_flotilla_over_docker={p90f / p90d:.2f} docker_measure=docker_run_d_command_wall"
    )


def cmd_fill(args):
    c = ecs(args.endpoint)
    arns = []
    t0 = time.perf_counter()
    left = args.tasks
    while left > 0:
        n = min(10, left)
        arns.extend(run_tasks(c, n, "flotilla-bench-fill"))
        left -= n
    tasks = wait_status(c, arns, "RUNNING", args.timeout, 0.2)
    log(f"{len(tasks)} tasks RUNNING {time.perf_counter() - t0:.1f} s after the first RunTask")
    print(len(tasks))


def cmd_stop_all(args):
    c = ecs(args.endpoint)
    running, stopping = [], []
    for page in c.get_paginator("list_tasks").paginate(cluster=CLUSTER, desiredStatus="RUNNING"):
        running.extend(page["taskArns"])
    for page in c.get_paginator("list_tasks").paginate(cluster=CLUSTER, desiredStatus="STOPPED"):
        stopping.extend(page["taskArns"])
    for arn in running:
        c.stop_task(cluster=CLUSTER, task=arn, reason="benchmark finished")
    # Also wait for tasks already told to stop (the latency samples) to reach STOPPED.
    arns = running + stopping
    if arns:
        wait_status(c, arns, "STOPPED", args.timeout, 0.2)
    log(f"stopped {len(running)} tasks; {len(arns)} tasks STOPPED in all")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("port")
    for name in ("setup", "latency", "fill", "stop-all"):
        sp = sub.add_parser(name)
        sp.add_argument("--endpoint", required=True)
        sp.add_argument("--timeout", type=float, default=60.0, help="seconds for each bounded wait")
        if name in ("setup", "latency"):
            sp.add_argument("--image", required=True)
        if name == "latency":
            sp.add_argument("--samples", type=int, default=20)
            sp.add_argument("--warmup", type=int, default=2)
            sp.add_argument("--interval", type=float, default=0.02, help="poll interval, seconds")
        if name == "fill":
            sp.add_argument("--tasks", type=int, default=50)
    args = p.parse_args()
    {"port": cmd_port, "setup": cmd_setup, "latency": cmd_latency, "fill": cmd_fill, "stop-all": cmd_stop_all}[
        args.cmd
    ](args)


if __name__ == "__main__":
    main()
