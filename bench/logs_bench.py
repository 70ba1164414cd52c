#!/usr/bin/env python3
"""Helper for bench/logs.sh: CloudWatch Logs figures, on loopback.

Subcommands (each starts its own `flotilla server` in a temporary directory):
  ingest  one Docker agent (a separate process); a task with the awslogs driver
          prints LINES lines as fast as it can; measures the time from RunTask until
          every line is readable with GetLogEvents (lines/s), and the agent process's
          CPU time over that span (CPU seconds per 1,000 lines/s).
  query   PutLogEvents of EVENTS events into one stream (batches of 10,000), then
          GetLogEvents latency over SAMPLES calls each: the newest page (the
          default), the first page (startFromHead) and a page from the middle
          (a forward token), limit 100.

Prints `key=value` figure lines on stdout; progress on stderr. Waits are bounded.
"""

import argparse
import os
import statistics
import sys
import time

import boto3
import botocore.config

sys.path.insert(0, os.path.dirname(__file__))
from services_bench import KEY, REGION, SECRET, Plane, fail, log  # noqa: E402


def client(plane, service):
    return boto3.client(service, endpoint_url=plane.url, region_name=REGION, aws_access_key_id=KEY,
                        aws_secret_access_key=SECRET,
                        config=botocore.config.Config(retries={"max_attempts": 2}, read_timeout=120))


def cpu_seconds(pid):
    """utime + stime of a process, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def count_events(logs, group, stream):
    total, token = 0, None
    while True:
        kwargs = {"logGroupName": group, "logStreamName": stream, "startFromHead": True}
        if token:
            kwargs["nextToken"] = token
        page = logs.get_log_events(**kwargs)
        total += len(page["events"])
        if page["nextForwardToken"] == token:
            return total
        token = page["nextForwardToken"]


def ingest(args):
    plane = Plane(args.flotilla).start()
    try:
        plane.agent(0)
        plane.wait_instances(1)
        agent = plane.procs[-1]
        ecs, logs = plane.ecs, client(plane, "logs")
        group = "/bench/ingest"
        td = ecs.register_task_definition(family="bench-logs", containerDefinitions=[{
            "name": "app", "image": args.image, "memory": 64, "essential": True,
            "command": ["sh", "-c", f"yes '{'x' * 90}' | head -n {args.lines}"],
            "logConfiguration": {"logDriver": "awslogs", "options": {
                "awslogs-group": group, "awslogs-region": REGION, "awslogs-stream-prefix": "bench",
                "awslogs-create-group": "true"}}}])["taskDefinition"]["taskDefinitionArn"]
        cpu0, t0 = cpu_seconds(agent.pid), time.monotonic()
        arn = ecs.run_task(cluster="default", taskDefinition=td)["tasks"][0]["taskArn"]
        stream = f"bench/app/{arn.rsplit('/', 1)[1]}"
        want = args.lines * (90 + 26)
        deadline = t0 + args.timeout
        while time.monotonic() < deadline:
            streams = logs.describe_log_streams(logGroupName=group)["logStreams"] if logs.describe_log_groups(
                logGroupNamePrefix=group)["logGroups"] else []
            if streams and streams[0]["storedBytes"] >= want:
                break
            time.sleep(0.2)
        else:
            fail(f"the lines were not all stored within {args.timeout} s")
        seconds, cpu = time.monotonic() - t0, cpu_seconds(agent.pid) - cpu0
        stored = count_events(logs, group, stream)
        if stored != args.lines:
            fail(f"{stored} of {args.lines} lines stored")
        rate = args.lines / seconds
        core_percent = 100 * cpu / seconds
        print(f"logs_ingest lines={args.lines} seconds={seconds:.2f} lines_per_s={rate:.0f} "
              f"agent_cpu_s={cpu:.2f} agent_core_percent={core_percent:.0f} "
              f"agent_core_percent_per_1000_lines_per_s={core_percent / (rate / 1000):.2f}")
    finally:
        plane.stop()


def query(args):
    plane = Plane(args.flotilla).start()
    try:
        logs = client(plane, "logs")
        group, stream = "/bench/query", "big"
        logs.create_log_group(logGroupName=group)
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
        start = int(time.time() * 1000) - 3_600_000
        t0 = time.monotonic()
        for b in range(args.events // 10_000):
            base = b * 10_000
            logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=[
                {"timestamp": start + (base + i) // 10, "message": f"event {base + i} of the benchmark stream"}
                for i in range(10_000)])
            if b % 10 == 9:
                log(f"{base + 10_000} events stored")
        put_s = time.monotonic() - t0
        print(f"logs_put events={args.events} seconds={put_s:.2f} events_per_s={args.events / put_s:.0f}")
        # A forward token positioned in the middle of the stream (tokens are f/TIMESTAMP/ID).
        token = f"f/{start + args.events // 20}/0"
        cases = {
            "newest": {},
            "head": {"startFromHead": True},
            "middle": {"nextToken": token},
        }
        for name, extra in cases.items():
            samples = []
            for _ in range(args.samples):
                t = time.monotonic()
                page = logs.get_log_events(logGroupName=group, logStreamName=stream, limit=100, **extra)
                samples.append(time.monotonic() - t)
                if len(page["events"]) != 100:
                    fail(f"{name}: {len(page['events'])} events instead of 100")
            samples.sort()
            print(f"logs_get_log_events stream_events={args.events} page={name} limit=100 samples={len(samples)} "
                  f"p50_ms={1000 * statistics.median(samples):.1f} "
                  f"p99_ms={1000 * samples[min(len(samples) - 1, int(len(samples) * 0.99))]:.1f}")
    finally:
        plane.stop()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("command", choices=["ingest", "query"])
    p.add_argument("--flotilla", required=True)
    p.add_argument("--lines", type=int, default=300_000)
    p.add_argument("--events", type=int, default=1_000_000)
    p.add_argument("--samples", type=int, default=50)
    p.add_argument("--image", default="flotilla-bench/busybox:latest")
    p.add_argument("--timeout", type=float, default=900)
    args = p.parse_args()
    {"ingest": ingest, "query": query}[args.command](args)


if __name__ == "__main__":
    main()
