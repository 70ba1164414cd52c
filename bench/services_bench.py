#!/usr/bin/env python3
"""Helper for bench/services.sh: times the service scheduler end to end.

Subcommands (each starts its own `flotilla server` and agents on loopback, in a
temporary directory, and stops them):
  simulated   N simulated agents; a service of TASKS tasks: CreateService -> steady
              (one COMPLETED deployment, TASKS running), then UpdateService to a new
              revision -> steady again with every task on it
  docker      one Docker agent; a 1-task service; SAMPLES times `docker kill` of its
              container -> a replacement task RUNNING

Prints `key=value` figure lines on stdout; progress on stderr. Every wait is bounded;
a timeout is an error (exit status 1).
"""

import argparse
import os
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
KEY, SECRET = "AKIDFLOTILLABENCH003", "bench-services-secret-key-0123456789abcdef"


def log(msg):
    print(f"# {msg}", file=sys.stderr, flush=True)


def fail(msg):
    print(f"services_bench.py: {msg}", file=sys.stderr)
    sys.exit(1)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Plane:
    """A `flotilla server` and its agents in a temporary directory."""

    def __init__(self, binary):
        self.binary = binary
        self.dir = tempfile.mkdtemp(prefix="flotilla-services-bench.")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.procs = []
        self.env = {**{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "FLOTILLA_"))},
                    "FLOTILLA_ROOT_ACCESS_KEY_ID": KEY, "FLOTILLA_ROOT_SECRET_ACCESS_KEY": SECRET,
                    "RUST_LOG": os.environ.get("RUST_LOG", "warn")}

    def spawn(self, name, *args):
        log_file = open(os.path.join(self.dir, f"{name}.log"), "wb")
        proc = subprocess.Popen([self.binary, *args], env=self.env, stdout=log_file, stderr=subprocess.STDOUT)
        self.procs.append(proc)
        return proc

    def start(self):
        self.spawn("server", "server", "--data-dir", os.path.join(self.dir, "data"),
                   "--listen", f"127.0.0.1:{self.port}", "--no-aws-profile")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if urllib.request.urlopen(f"{self.url}/healthz", timeout=1).read() == b"ok\n":
                    break
            except OSError:
                time.sleep(0.1)
        else:
            fail("the server did not become ready in 60 s")
        self.ecs = boto3.client("ecs", endpoint_url=self.url, region_name=REGION, aws_access_key_id=KEY,
                                aws_secret_access_key=SECRET,
                                config=botocore.config.Config(retries={"max_attempts": 2}, read_timeout=60))
        self.ecs.create_cluster(clusterName="default")
        return self

    def agent(self, i, *args):
        self.spawn(f"agent{i}", "agent", "--endpoint", self.url, "--cluster", "default",
                   "--state-dir", os.path.join(self.dir, f"agent{i}"), "--metadata-port", "0", *args)

    def wait_instances(self, n, timeout=120):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.ecs.list_container_instances(cluster="default")["containerInstanceArns"]) >= n:
                return
            time.sleep(0.2)
        fail(f"{n} agents did not register in {timeout} s")

    def stop(self):
        for p in reversed(self.procs):
            p.terminate()
        for p in reversed(self.procs):
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()


def steady(ecs, name, td, count, timeout):
    """Waits until the service runs `count` tasks of `td` in one COMPLETED deployment."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        s = ecs.describe_services(cluster="default", services=[name])["services"][0]
        d = s["deployments"]
        if (len(d) == 1 and d[0]["rolloutState"] == "COMPLETED" and d[0]["taskDefinition"] == td
                and s["runningCount"] == count and s["pendingCount"] == 0):
            return
        time.sleep(0.1)
    fail(f"service {name} was not steady within {timeout} s")


def simulated(args):
    plane = Plane(args.flotilla).start()
    try:
        for i in range(args.agents):
            plane.agent(i, "--runtime", "simulated", "--availability-zone", f"us-east-1{'abc'[i % 3]}",
                        "--cpu", "65536", "--memory", "65536")
        plane.wait_instances(args.agents)
        ecs = plane.ecs
        tds = [ecs.register_task_definition(family="bench-svc", containerDefinitions=[
            {"name": "app", "image": f"app:{v}", "memory": 64, "cpu": 16}])["taskDefinition"]["taskDefinitionArn"]
            for v in (1, 2)]
        log(f"{args.agents} simulated agents up; creating a service of {args.tasks} tasks")
        t0 = time.monotonic()
        ecs.create_service(cluster="default", serviceName="bench", taskDefinition=tds[0], desiredCount=args.tasks)
        steady(ecs, "bench", tds[0], args.tasks, args.timeout)
        create_s = time.monotonic() - t0
        t0 = time.monotonic()
        ecs.update_service(cluster="default", service="bench", taskDefinition=tds[1])
        steady(ecs, "bench", tds[1], args.tasks, args.timeout)
        update_s = time.monotonic() - t0
        print(f"service_steady runtime=simulated agents={args.agents} tasks={args.tasks} seconds={create_s:.2f}")
        print(f"service_rolling_update runtime=simulated agents={args.agents} tasks={args.tasks} "
              f"min_healthy=100 max=200 seconds={update_s:.2f}")
    finally:
        plane.stop()


def docker_kill(args):
    plane = Plane(args.flotilla).start()
    try:
        plane.agent(0, "--cleanup-after", "30")
        plane.wait_instances(1)
        ecs = plane.ecs
        td = ecs.register_task_definition(family="bench-svc-docker", containerDefinitions=[
            {"name": "app", "image": args.image, "memory": 32, "command": ["sleep", "3600"]}]
        )["taskDefinition"]["taskDefinitionArn"]
        ecs.create_service(cluster="default", serviceName="bench-docker", taskDefinition=td, desiredCount=1)
        steady(ecs, "bench-docker", td, 1, args.timeout)
        samples = []
        for i in range(args.samples):
            [arn] = ecs.list_tasks(cluster="default", serviceName="bench-docker", desiredStatus="RUNNING")["taskArns"]
            task = ecs.describe_tasks(cluster="default", tasks=[arn])["tasks"][0]
            container = task["containers"][0]["runtimeId"]
            t0 = time.monotonic()
            subprocess.run(["docker", "kill", container], check=True, capture_output=True, timeout=30)
            deadline = t0 + args.timeout
            while time.monotonic() < deadline:
                arns = ecs.list_tasks(cluster="default", serviceName="bench-docker", desiredStatus="RUNNING")["taskArns"]
                fresh = [a for a in arns if a != arn]
                if fresh and ecs.describe_tasks(cluster="default", tasks=fresh)["tasks"][0]["lastStatus"] == "RUNNING":
                    break
                time.sleep(0.02)
            else:
                fail(f"no replacement RUNNING within {args.timeout} s of the kill")
            samples.append(time.monotonic() - t0)
            log(f"sample {i + 1}: {samples[-1]:.2f} s")
            steady(ecs, "bench-docker", td, 1, args.timeout)
        print(f"service_replace_killed_task runtime=docker samples={len(samples)} "
              f"median_s={statistics.median(samples):.2f} max_s={max(samples):.2f} min_s={min(samples):.2f}")
        ecs.delete_service(cluster="default", service="bench-docker", force=True)
        ecs.get_waiter("services_inactive").wait(cluster="default", services=["bench-docker"],
                                                 WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    finally:
        plane.stop()
        ids = subprocess.run(["docker", "ps", "-aq", "--filter", "label=com.amazonaws.ecs.task-arn",
                              "--filter", "name=^/?ecs-bench-svc-docker-"], capture_output=True, text=True,
                             timeout=30).stdout.split()
        if ids:
            subprocess.run(["docker", "rm", "-f", *ids], capture_output=True, timeout=120)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("command", choices=["simulated", "docker"])
    p.add_argument("--flotilla", required=True)
    p.add_argument("--agents", type=int, default=10)
    p.add_argument("--tasks", type=int, default=100)
    p.add_argument("--samples", type=int, default=5)
    p.add_argument("--image", default="flotilla-bench/busybox:latest")
    p.add_argument("--timeout", type=float, default=300)
    args = p.parse_args()
    {"simulated": simulated, "docker": docker_kill}[args.command](args)


if __name__ == "__main__":
    main()
