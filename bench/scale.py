#!/usr/bin/env python3
"""Helper for bench/scale.sh: scale and recovery of one control plane driven by
thousands of simulated agents (`flotilla swarm`) and real API traffic (boto3).

Each scenario starts its own `flotilla server` (temporary data dir, or a fresh
PostgreSQL database) on a free 127.0.0.1 port, creates cluster `scale`, splits
AGENTS agents over SWARMS `flotilla swarm` processes, and stops everything after:
  burst                registration time, RunTask bursts to TASKS tasks, time to all
                       RUNNING, API latency under load, control-plane RSS and store size
  kill-control-plane   kill -9 of the server halfway through a burst, restart on the same
                       data and port; every acknowledged task exactly once, and a
                       service converging again
  kill-agents          kill -9 of one swarm process: its instances disconnected, the
                       service's tasks on them replaced elsewhere
  network-cut          SIGSTOP of one swarm process past the heartbeat timeout, then
                       SIGCONT: the replaced tasks stop, none runs twice

Figures are `key=value` lines on stdout; progress on stderr. Every wait is bounded;
a timeout prints the state reached and fails the scenario (exit status 1 at the end).
"""

import argparse
import collections
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid

import boto3
import botocore.config

REGION = "us-east-1"
KEY, SECRET = "AKIDFLOTILLASCALE001", "bench-scale-secret-key-0123456789abcdef"
CLUSTER = "scale"
SERVICE = "scale-svc"
# The control plane's agent heartbeat timeout (flotilla_domain::container_instance::
# AGENT_HEARTBEAT_TIMEOUT_MS, a constant) and how often the heartbeat controller looks
# (flotilla-ecs-api controllers.rs HEARTBEAT_CHECK). Not configurable from the command line.
HEARTBEAT_TIMEOUT_S = 60
HEARTBEAT_CHECK_S = 10
AGENT_CPU, AGENT_MEMORY = 2048, 4096


def log(msg):
    print(f"# {time.strftime('%H:%M:%S')} {msg}", file=sys.stderr, flush=True)


def emit(scenario, **fields):
    parts = " ".join(f"{k}={v}" for k, v in fields.items())
    print(f"scale scenario={scenario} {parts}", flush=True)


class ScenarioFailed(Exception):
    pass


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(values, p):
    """Nearest-rank percentile in milliseconds of a list of seconds ('nan' if empty)."""
    if not values:
        return "nan"
    v = sorted(values)
    k = max(0, min(len(v) - 1, math.ceil(p / 100 * len(v)) - 1))
    return f"{v[k] * 1000:.1f}"


def vmrss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return -1


def cpu_seconds(pid):
    """utime + stime of a process, in seconds."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


def client(url, pool=10, attempts=3, read_timeout=60):
    session = boto3.session.Session()
    return session.client(
        "ecs", endpoint_url=url, region_name=REGION, aws_access_key_id=KEY, aws_secret_access_key=SECRET,
        config=botocore.config.Config(retries={"mode": "standard", "max_attempts": attempts},
                                      max_pool_connections=pool, connect_timeout=5, read_timeout=read_timeout))


def batches(items, n=100):
    items = list(items)
    for i in range(0, len(items), n):
        yield items[i:i + n]


class Plane:
    """A `flotilla server` and its swarm processes, in a directory of their own."""

    def __init__(self, args, name):
        self.args = args
        self.name = name
        self.dir = os.path.join(args.work, name)
        os.makedirs(self.dir)
        self.data = os.path.join(self.dir, "data")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = None
        self.swarms = []  # (index, Popen, first_index, agents)
        self.env = {**{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "FLOTILLA_"))},
                    "FLOTILLA_ROOT_ACCESS_KEY_ID": KEY, "FLOTILLA_ROOT_SECRET_ACCESS_KEY": SECRET,
                    "RUST_LOG": os.environ.get("RUST_LOG", "warn")}
        self.pg_db = None
        self.store_arg = []
        if args.store_url:
            base = args.store_url.rsplit("/", 1)[0]
            self.pg_db = f"scale_{name.replace('-', '_')}_{uuid.uuid4().hex[:8]}"
            self.pg_admin = f"{base}/postgres"
            self.pg_url = f"{base}/{self.pg_db}"
            subprocess.run(["psql", self.pg_admin, "-qc", f"CREATE DATABASE {self.pg_db}"], check=True,
                           capture_output=True, timeout=60)
            self.store_arg = ["--store", self.pg_url]
        self.ecs = client(self.url)

    def start_server(self, timeout=120):
        """Starts (or restarts) the server on the same data dir and port; seconds until /healthz answers."""
        logf = open(os.path.join(self.dir, "server.log"), "ab")
        t0 = time.monotonic()
        self.server = subprocess.Popen(
            [self.args.flotilla, "server", "--data-dir", self.data, "--listen", f"127.0.0.1:{self.port}",
             "--no-aws-profile", "--dns-listen", "off", *self.store_arg,
             # Every agent holds a connection for its long poll; the clients need some too.
             "--max-connections", str(max(4096, 2 * self.args.agents + 1024))],
            env=self.env, stdout=logf, stderr=subprocess.STDOUT)
        logf.close()
        deadline = t0 + timeout
        while time.monotonic() < deadline:
            if self.server.poll() is not None:
                raise ScenarioFailed(f"the server exited with {self.server.returncode} during start-up: "
                                     f"{self.tail('server.log')}")
            try:
                if urllib.request.urlopen(f"{self.url}/healthz", timeout=1).read().strip() == b"ok":
                    return time.monotonic() - t0
            except OSError:
                time.sleep(0.05)
        raise ScenarioFailed(f"the server did not answer /healthz within {timeout} s")

    def kill_server(self):
        self.server.kill()  # SIGKILL
        self.server.wait(timeout=30)

    def tail(self, name, n=5):
        try:
            with open(os.path.join(self.dir, name), "rb") as f:
                return b" | ".join(f.read().splitlines()[-n:]).decode(errors="replace")
        except OSError:
            return ""

    def start_swarm(self, index, first, agents):
        state = os.path.join(self.dir, f"swarm{index}")
        out = open(os.path.join(self.dir, f"swarm{index}.out"), "wb")
        err = open(os.path.join(self.dir, f"swarm{index}.log"), "wb")
        cmd = [self.args.swarm_bin or self.args.flotilla, "swarm", "--endpoint", self.url, "--cluster", CLUSTER,
               "--agents", str(agents), "--state-dir", state, "--first-index", str(first), "--cpu", str(AGENT_CPU),
               "--memory", str(AGENT_MEMORY)]
        if self.args.start_delay_ms is not None:
            cmd += ["--simulated-start-delay-ms", str(self.args.start_delay_ms)]
        # Its own process group, so that a signal reaches every process a swarm may start.
        p = subprocess.Popen(cmd, env=self.env, stdout=out, stderr=err, start_new_session=True)
        out.close()
        err.close()
        self.swarms.append((index, p, first, agents))
        return p

    def start_swarms(self, indexes=None):
        """Splits AGENTS over SWARMS processes; starts those in `indexes` (default all)."""
        n, k = self.args.agents, self.args.swarms
        sizes = [n // k + (1 if i < n % k else 0) for i in range(k)]
        firsts = [sum(sizes[:i]) for i in range(k)]
        for i in (indexes if indexes is not None else range(k)):
            if sizes[i] > 0:
                self.start_swarm(i, firsts[i], sizes[i])
        return sizes

    def signal_swarm(self, index, sig):
        for i, p, _, _ in self.swarms:
            if i == index:
                try:
                    os.killpg(p.pid, sig)
                except ProcessLookupError:
                    pass
                if sig == signal.SIGKILL:
                    p.wait(timeout=30)

    def check_swarms(self):
        for i, p, _, _ in self.swarms:
            if p.poll() is not None and p.returncode != -signal.SIGKILL:
                raise ScenarioFailed(f"swarm {i} exited with {p.returncode}: {self.tail(f'swarm{i}.log')}")

    def swarm_reports(self):
        """The `swarm registered=… seconds=…` lines the swarms printed."""
        lines = []
        for i, _, _, _ in self.swarms:
            try:
                with open(os.path.join(self.dir, f"swarm{i}.out")) as f:
                    lines += [l.strip() for l in f if l.startswith("swarm registered=")]
            except OSError:
                pass
        return lines

    def rss(self):
        return vmrss_kib(self.server.pid)

    def store_kib(self):
        if self.pg_db:
            out = subprocess.run(["psql", self.pg_url, "-tAc", "SELECT pg_database_size(current_database())"],
                                 capture_output=True, text=True, timeout=60)
            return int(out.stdout.strip() or -1024) // 1024
        out = subprocess.run(["du", "-sk", self.data], capture_output=True, text=True, timeout=60)
        return int(out.stdout.split()[0])

    def wal_kib(self):
        """SQLite: the write-ahead logs' share of the store (not yet checkpointed); 0 on PostgreSQL."""
        if self.pg_db:
            return 0
        total = 0
        for root, _, files in os.walk(self.data):
            total += sum(os.path.getsize(os.path.join(root, f)) for f in files if f.endswith("-wal"))
        return total // 1024

    def wait_registered(self, n, timeout, what="agents"):
        """Polls DescribeClusters until registeredContainerInstancesCount >= n; seconds waited."""
        t0 = time.monotonic()
        last = -1
        while time.monotonic() < t0 + timeout:
            self.check_swarms()
            c = self.ecs.describe_clusters(clusters=[CLUSTER])["clusters"][0]
            reg = c["registeredContainerInstancesCount"]
            if reg != last:
                log(f"{reg}/{n} container instances registered")
                last = reg
            if reg >= n:
                return time.monotonic() - t0
            time.sleep(0.5)
        raise ScenarioFailed(f"timeout: {last} of {n} {what} registered after {timeout:.0f} s "
                             f"(swarm logs: {self.dir}/swarm*.log)")

    def instance_arns(self):
        arns, token = [], None
        for _ in range(10_000):
            kw = {"nextToken": token} if token else {}
            r = self.ecs.list_container_instances(cluster=CLUSTER, maxResults=100, **kw)
            arns += r["containerInstanceArns"]
            token = r.get("nextToken")
            if not token:
                return arns
        raise ScenarioFailed("ListContainerInstances paging did not end")

    def stop(self):
        for _, p, _, _ in self.swarms:
            if p.poll() is None:
                for sig in (signal.SIGCONT, signal.SIGTERM):
                    try:
                        os.killpg(p.pid, sig)
                    except ProcessLookupError:
                        pass
        for _, p, _, _ in self.swarms:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                p.wait(timeout=30)
        if self.server and self.server.poll() is None:
            self.server.terminate()
            try:
                self.server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.server.kill()
                self.server.wait(timeout=30)
        if self.pg_db and not self.args.keep:
            subprocess.run(["psql", self.pg_admin, "-qc", f"DROP DATABASE IF EXISTS {self.pg_db}"],
                           capture_output=True, timeout=120)


def task_sizes(agents, tasks):
    """cpu and memory per task so that `tasks` fit on `agents` agents of AGENT_CPU/AGENT_MEMORY."""
    per_agent = max(1, math.ceil(tasks / agents))
    cpu, memory = AGENT_CPU // per_agent, AGENT_MEMORY // per_agent
    if cpu < 1 or memory < 6:  # ECS wants at least 6 MiB for a container
        raise ScenarioFailed(f"{tasks} tasks do not fit on {agents} agents of cpu {AGENT_CPU} memory {AGENT_MEMORY} "
                             f"({per_agent} per agent)")
    return per_agent, min(cpu, 256), min(memory, 512)


def register_td(ecs, cpu, memory):
    return ecs.register_task_definition(family="scale", containerDefinitions=[
        {"name": "app", "image": "scale/app:1", "cpu": cpu, "memory": memory, "essential": True}]
    )["taskDefinition"]["taskDefinitionArn"]


class Burst:
    """RunTask (count 10, a clientToken per call) from `threads` threads until `total` tasks
    are asked for. A call that raises (after botocore's standard retries) is retried with
    the same clientToken until `call_timeout`; it counts only once it succeeds."""

    def __init__(self, url, td, total, threads, call_timeout):
        self.url, self.td, self.threads, self.call_timeout = url, td, threads, call_timeout
        self.calls = [min(10, total - i) for i in range(0, total, 10)]
        self.run_id = uuid.uuid4().hex[:12]
        self.lock = threading.Lock()
        self.next = 0
        self.acked = []
        self.latencies = []
        self.succeeded_at = []
        self.failures = collections.Counter()
        self.errors = collections.Counter()
        self.error_examples = {}
        self.retried_calls = 0
        self.sdk_retries = 0
        self.abandoned = 0
        self.stop = threading.Event()
        self.done = threading.Event()
        self.started_at = None
        self.finished_at = None
        self.pool = []

    def start(self):
        self.started_at = time.monotonic()
        self.pool = [threading.Thread(target=self.worker, daemon=True) for _ in range(self.threads)]
        for t in self.pool:
            t.start()
        threading.Thread(target=self.join_all, daemon=True).start()

    def join_all(self):
        for t in self.pool:
            t.join()
        self.finished_at = time.monotonic()
        self.done.set()

    def acked_count(self):
        with self.lock:
            return len(self.acked)

    def worker(self):
        ecs = client(self.url, pool=4)
        while not self.stop.is_set():
            with self.lock:
                if self.next >= len(self.calls):
                    return
                idx = self.next
                self.next += 1
            count, token = self.calls[idx], f"scale-{self.run_id}-{idx}"
            deadline = time.monotonic() + self.call_timeout
            attempt = 0
            while not self.stop.is_set():
                attempt += 1
                t0 = time.monotonic()
                try:
                    r = ecs.run_task(cluster=CLUSTER, taskDefinition=self.td, count=count, clientToken=token)
                except Exception as e:  # noqa: BLE001 — every error is counted and the call retried
                    name = type(e).__name__
                    with self.lock:
                        self.errors[name] += 1
                        self.error_examples.setdefault(name, str(e)[:200])
                    if time.monotonic() > deadline:
                        with self.lock:
                            self.abandoned += 1
                        break
                    time.sleep(0.5)
                    continue
                t1 = time.monotonic()
                with self.lock:
                    self.latencies.append(t1 - t0)
                    self.succeeded_at.append(t1)
                    self.sdk_retries += r.get("ResponseMetadata", {}).get("RetryAttempts", 0)
                    self.acked += [t["taskArn"] for t in r["tasks"]]
                    for f in r.get("failures", []):
                        self.failures[f.get("reason", "?")] += 1
                    if attempt > 1:
                        self.retried_calls += 1
                break


class Sampler:
    """Every second: DescribeClusters (its counts and latency) and one ListTasks page (latency)."""

    def __init__(self, url):
        self.ecs = client(url, attempts=1, read_timeout=30)
        self.samples = []  # (t, running, pending)
        self.dc_lat, self.lt_lat = [], []
        self.errors = 0
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def run(self):
        while not self.stop.is_set():
            t0 = time.monotonic()
            try:
                c = self.ecs.describe_clusters(clusters=[CLUSTER])["clusters"][0]
                t1 = time.monotonic()
                self.ecs.list_tasks(cluster=CLUSTER, maxResults=100)
                t2 = time.monotonic()
                with self.lock:
                    self.samples.append((t1, c["runningTasksCount"], c["pendingTasksCount"]))
                    self.dc_lat.append(t1 - t0)
                    self.lt_lat.append(t2 - t1)
            except Exception:  # noqa: BLE001 — the server may be down on purpose
                with self.lock:
                    self.errors += 1
            self.stop.wait(max(0.0, 1.0 - (time.monotonic() - t0)))

    def last(self):
        with self.lock:
            return self.samples[-1] if self.samples else (time.monotonic(), 0, 0)

    def peak_rate(self):
        """The most tasks that reached RUNNING between two consecutive samples, per second."""
        with self.lock:
            s = list(self.samples)
        best = 0.0
        for (ta, ra, _), (tb, rb, _) in zip(s, s[1:]):
            if tb > ta:
                best = max(best, (rb - ra) / (tb - ta))
        return best

    def halt(self):
        self.stop.set()
        self.thread.join(timeout=60)


def wait_all_running(burst, sampler, expected_extra, timeout, on_tick=None):
    """Waits until the burst is done and DescribeClusters shows every acknowledged task
    (plus `expected_extra`) RUNNING and none pending. Returns the moment it held."""
    deadline = time.monotonic() + timeout
    last_log = 0.0
    while time.monotonic() < deadline:
        if on_tick:
            on_tick()
        t, running, pending = sampler.last()
        want = burst.acked_count() + expected_extra
        if burst.done.is_set() and running >= want and pending == 0 and t > burst.finished_at:
            return t
        if time.monotonic() - last_log > 10:
            log(f"acknowledged={burst.acked_count()} running={running} pending={pending} "
                f"calls_done={burst.done.is_set()}")
            last_log = time.monotonic()
        time.sleep(0.2)
    t, running, pending = sampler.last()
    raise ScenarioFailed(f"timeout after {timeout:.0f} s: acknowledged={burst.acked_count()} running={running} "
                         f"pending={pending} calls_done={burst.done.is_set()} rpc_errors={dict(burst.errors)}")


def overcommitted(ecs, arns):
    """Instances whose remaining CPU or memory is negative (placement overcommitted them)."""
    bad = 0
    for b in batches(arns):
        for ci in ecs.describe_container_instances(cluster=CLUSTER, containerInstances=b)["containerInstances"]:
            rem = {r["name"]: r.get("integerValue", 0) for r in ci["remainingResources"]}
            if rem.get("CPU", 0) < 0 or rem.get("MEMORY", 0) < 0:
                bad += 1
    return bad


def list_task_arns(ecs, max_tasks, **filters):
    arns, token = [], None
    for _ in range(max_tasks // 100 + 100):
        kw = {"nextToken": token} if token else {}
        r = ecs.list_tasks(cluster=CLUSTER, maxResults=100, **filters, **kw)
        arns += r["taskArns"]
        token = r.get("nextToken")
        if not token:
            return arns
    raise ScenarioFailed(f"ListTasks {filters} paging did not end within {max_tasks // 100 + 100} pages")


def describe_tasks(ecs, arns):
    found, missing = [], []
    for b in batches(arns):
        r = ecs.describe_tasks(cluster=CLUSTER, tasks=b)
        found += r["tasks"]
        missing += [f["arn"] for f in r.get("failures", [])]
    return found, missing


def burst_figures(scenario, burst, sampler, t_running):
    elapsed = t_running - burst.started_at
    acked = len(burst.acked)
    emit(scenario, tasks_asked=sum(burst.calls), acknowledged=acked, run_task_calls=len(burst.latencies),
         run_task_p50_ms=pct(burst.latencies, 50), run_task_p99_ms=pct(burst.latencies, 99),
         run_task_max_ms=pct(burst.latencies, 100),
         run_task_p50_first_tenth_ms=pct(burst.latencies[:max(1, len(burst.latencies) // 10)], 50),
         run_task_p50_last_tenth_ms=pct(burst.latencies[-max(1, len(burst.latencies) // 10):], 50),
         threads=burst.threads,
         calls_seconds=f"{burst.finished_at - burst.started_at:.1f}",
         all_running_seconds=f"{elapsed:.1f}", running_per_s=f"{acked / elapsed:.1f}" if elapsed > 0 else "nan",
         peak_running_per_s=f"{sampler.peak_rate():.1f}",
         placement_failures=sum(burst.failures.values()), rpc_errors=sum(burst.errors.values()),
         sdk_retries=burst.sdk_retries, retried_calls=burst.retried_calls, abandoned_calls=burst.abandoned)
    emit(scenario, under_load="1", describe_clusters_p50_ms=pct(sampler.dc_lat, 50),
         describe_clusters_p99_ms=pct(sampler.dc_lat, 99), list_tasks_p50_ms=pct(sampler.lt_lat, 50),
         list_tasks_p99_ms=pct(sampler.lt_lat, 99), samples=len(sampler.dc_lat), sampler_errors=sampler.errors)
    if burst.failures:
        log(f"placement failures: {dict(burst.failures)}")
    if burst.errors:
        log(f"rpc errors: {dict(burst.errors)} e.g. {burst.error_examples}")


class CpuSplit:
    """Where the machine's CPU went from now on: the server, the swarms (the simulated
    agents) and this harness (its RunTask and sampler threads), in cores used on average."""

    def __init__(self, plane):
        self.plane = plane
        self.t0 = time.monotonic()
        self.start = self.read()

    def read(self):
        own = os.times()
        swarms = sum(cpu_seconds(p.pid) for _, p, _, _ in self.plane.swarms if p.poll() is None)
        return cpu_seconds(self.plane.server.pid), swarms, own.user + own.system

    def figures(self):
        wall = time.monotonic() - self.t0
        now = self.read()
        names = ("server", "swarms", "harness")
        cores = {f"{n}_cpu_cores": f"{(b - a) / wall:.2f}" for n, a, b in zip(names, self.start, now)}
        return {**cores, "machine_cores": os.cpu_count()}


def idle_cpu(pid, seconds=5.0):
    """The process's CPU use over `seconds`, as a percentage of one core."""
    a, t0 = cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)
    return f"{(cpu_seconds(pid) - a) / (time.monotonic() - t0) * 100:.0f}"


# ---------------------------------------------------------------- scenarios

def scenario_burst(args):
    plane = Plane(args, "burst")
    try:
        plane.start_server()
        plane.ecs.create_cluster(clusterName=CLUSTER)
        time.sleep(2)
        rss0 = plane.rss()
        log(f"starting {args.swarms} swarms of {args.agents} agents in all")
        plane.start_swarms()
        reg_s = plane.wait_registered(args.agents, args.register_timeout)
        for line in plane.swarm_reports():
            log(line)
        time.sleep(2)
        rss1 = plane.rss()
        cpu_agents = idle_cpu(plane.server.pid)
        emit("burst", store=args.store, agents=args.agents, swarms=args.swarms, register_seconds=f"{reg_s:.1f}",
             registered_per_s=f"{args.agents / reg_s:.0f}" if reg_s > 0 else "nan",
             server_idle_cpu_percent_with_agents=cpu_agents)
        per_agent, cpu, mem = task_sizes(args.agents, args.tasks)
        td = register_td(plane.ecs, cpu, mem)
        log(f"task definition {td}: cpu {cpu} memory {mem} ({per_agent} tasks per agent at most)")
        sampler = Sampler(plane.url).start()
        burst = Burst(plane.url, td, args.tasks, args.threads, args.call_timeout)
        cpu_split = CpuSplit(plane)
        burst.start()
        try:
            t_run = wait_all_running(burst, sampler, 0, args.run_timeout, plane.check_swarms)
        except ScenarioFailed:
            burst.stop.set()
            emit("burst", reached_acknowledged=burst.acked_count(), reached_running=sampler.last()[1],
                 reached_pending=sampler.last()[2], server_rss_kib=plane.rss(), store_kib=plane.store_kib(),
                 elapsed_seconds=f"{time.monotonic() - burst.started_at:.0f}", **cpu_split.figures())
            raise
        finally:
            sampler.halt()
        emit("burst", **cpu_split.figures())
        burst_figures("burst", burst, sampler, t_run)
        time.sleep(2)
        rss2 = plane.rss()
        cpu_tasks = idle_cpu(plane.server.pid)
        store = plane.store_kib()
        acked = len(burst.acked)
        emit("burst", server_rss_kib_before_agents=rss0, server_rss_kib_agents=rss1, server_rss_kib_tasks=rss2,
             rss_kib_per_1000_instances=f"{(rss1 - rss0) / args.agents * 1000:.0f}",
             rss_kib_per_10000_tasks=f"{(rss2 - rss1) / acked * 10000:.0f}" if acked else "nan",
             store_kib=store, store_wal_kib=plane.wal_kib(),
             store_kib_per_10000_tasks=f"{store / acked * 10000:.0f}" if acked else "nan",
             server_idle_cpu_percent_with_tasks=cpu_tasks)
        # Checks: no task lost from the listing, nothing overcommitted.
        listed = list_task_arns(plane.ecs, args.tasks * 2)
        dup = len(listed) - len(set(listed))
        missing = len(set(burst.acked) - set(listed))
        over = overcommitted(plane.ecs, plane.instance_arns())
        ok = dup == 0 and missing == 0 and over == 0 and acked == args.tasks
        emit("burst", check="ok" if ok else "failed", listed=len(listed), duplicates=dup, missing=missing,
             overcommitted_instances=over)
        if not ok:
            raise ScenarioFailed(f"burst checks failed: acknowledged={acked} of {args.tasks}, listed={len(listed)}, "
                                 f"duplicates={dup}, missing={missing}, overcommitted={over}")
    finally:
        plane.stop()


def service_steady(ecs, desired, timeout, what, extra_check=None):
    """Waits until DescribeServices shows `desired` running and none pending; returns the
    seconds waited. Raises with the state reached on timeout."""
    t0 = time.monotonic()
    s = {}
    while time.monotonic() < t0 + timeout:
        try:
            s = ecs.describe_services(cluster=CLUSTER, services=[SERVICE])["services"][0]
            if s["runningCount"] == desired and s["pendingCount"] == 0 and (extra_check is None or extra_check()):
                return time.monotonic() - t0
        except Exception as e:  # noqa: BLE001 — the server may be restarting
            log(f"DescribeServices: {type(e).__name__}")
        time.sleep(1)
    raise ScenarioFailed(f"timeout after {timeout:.0f} s waiting for {what}: running={s.get('runningCount')} "
                         f"pending={s.get('pendingCount')} desired={desired}")


def scenario_kill_control_plane(args):
    plane = Plane(args, "kill-control-plane")
    try:
        plane.start_server()
        plane.ecs.create_cluster(clusterName=CLUSTER)
        plane.start_swarms()
        plane.wait_registered(args.agents, args.register_timeout)
        d = args.service_tasks
        per_agent, cpu, mem = task_sizes(args.agents, args.tasks + d)
        td = register_td(plane.ecs, cpu, mem)
        plane.ecs.create_service(cluster=CLUSTER, serviceName=SERVICE, taskDefinition=td, desiredCount=d)
        service_steady(plane.ecs, d, args.converge_timeout, f"service of {d} before the kill")
        log(f"service of {d} steady; RunTask burst of {args.tasks}, kill -9 at half")
        sampler = Sampler(plane.url).start()
        burst = Burst(plane.url, td, args.tasks, args.threads, args.call_timeout)
        burst.start()
        half = args.tasks // 2
        deadline = time.monotonic() + args.run_timeout
        last_log = time.monotonic()
        while burst.acked_count() < half and not burst.done.is_set():
            if time.monotonic() > deadline:
                burst.stop.set()
                raise ScenarioFailed(f"timeout: {burst.acked_count()} of {half} tasks acknowledged before the kill")
            if time.monotonic() - last_log > 10:
                log(f"acknowledged={burst.acked_count()} (kill at {half})")
                last_log = time.monotonic()
            time.sleep(0.01)
        acked_at_kill = burst.acked_count()
        old_pid = plane.server.pid
        plane.kill_server()
        t_kill = time.monotonic()
        log(f"killed the server (pid {old_pid}) at {acked_at_kill} acknowledged; restarting")
        ready_s = plane.start_server()
        log(f"server back after {ready_s:.1f} s")
        def all_live_running():
            tasks, running, _ = service_view(plane.ecs, d, set())
            return len(tasks) == d and running == d

        try:
            svc_s = service_steady(plane.ecs, d, args.converge_timeout, "the service after the restart",
                                   all_live_running)
            t_run = wait_all_running(burst, sampler, d, args.run_timeout, plane.check_swarms)
        finally:
            burst.stop.set()
            sampler.halt()
        burst_figures("kill-control-plane", burst, sampler, t_run)
        # Every acknowledged task exactly once.
        acked = burst.acked
        found, missing = describe_tasks(plane.ecs, sorted(set(acked)))
        listed = (list_task_arns(plane.ecs, args.tasks * 2 + d, desiredStatus="RUNNING")
                  + list_task_arns(plane.ecs, args.tasks * 2 + d, desiredStatus="STOPPED"))
        service_tasks = set(list_task_arns(plane.ecs, d * 4, serviceName=SERVICE, desiredStatus="RUNNING")
                            + list_task_arns(plane.ecs, d * 4, serviceName=SERVICE, desiredStatus="STOPPED"))
        standalone = [a for a in listed if a not in service_tasks]
        duplicates = (len(listed) - len(set(listed))) + (len(acked) - len(set(acked)))
        unacked = len(set(standalone) - set(acked))
        not_running = sum(1 for t in found if t["lastStatus"] != "RUNNING")
        over = overcommitted(plane.ecs, plane.instance_arns())
        ok = duplicates == 0 and not missing and len(found) == len(set(acked)) and over == 0 and not_running == 0
        back = [t for t in burst.succeeded_at if t > t_kill]
        emit("kill-control-plane", store=args.store, agents=args.agents, acknowledged_at_kill=acked_at_kill,
             restart_ready_seconds=f"{ready_s:.1f}",
             run_task_back_seconds=f"{min(back) - t_kill:.1f}" if back else "nan",
             recovery_converge_seconds=f"{svc_s + ready_s:.1f}",
             service_tasks=d, all_running_after_kill_seconds=f"{t_run - t_kill:.1f}")
        emit("kill-control-plane", check="ok" if ok else "failed", acknowledged=len(acked),
             found=len(found), duplicates=duplicates, missing=len(missing), listed_standalone=len(set(standalone)),
             unacknowledged_found=unacked, acknowledged_not_running=not_running, overcommitted_instances=over,
             server_rss_kib=plane.rss(), store_kib=plane.store_kib())
        if not ok:
            raise ScenarioFailed(f"kill-control-plane checks failed (missing e.g. {missing[:3]})")
    finally:
        plane.stop()


def service_view(ecs, d, victims_instances):
    """The service's tasks as DescribeTasks shows them: (desired-RUNNING tasks, how many of
    them are lastStatus RUNNING, how many are on `victims_instances`)."""
    arns = list_task_arns(ecs, d * 4, serviceName=SERVICE, desiredStatus="RUNNING")
    tasks, _ = describe_tasks(ecs, arns)
    running = sum(1 for t in tasks if t["lastStatus"] == "RUNNING")
    on_victims = sum(1 for t in tasks if t.get("containerInstanceArn") in victims_instances)
    return tasks, running, on_victims


def agents_scenario_setup(args, name):
    """A plane with a steady service; swarm 0 started and registered first, so that its
    instances are known. Returns (plane, instances of swarm 0, service tasks on them)."""
    plane = Plane(args, name)
    plane.start_server()
    plane.ecs.create_cluster(clusterName=CLUSTER)
    sizes = plane.start_swarms([0])
    plane.wait_registered(sizes[0], args.register_timeout, "agents of swarm 0")
    victim_instances = set(plane.instance_arns())
    plane.start_swarms(range(1, args.swarms))
    plane.wait_registered(args.agents, args.register_timeout)
    d = args.service_tasks
    _, cpu, mem = task_sizes(args.agents - sizes[0], d * 2)
    td = register_td(plane.ecs, cpu, mem)
    plane.ecs.create_service(cluster=CLUSTER, serviceName=SERVICE, taskDefinition=td, desiredCount=d)
    s = service_steady(plane.ecs, d, args.converge_timeout, f"service of {d}")
    tasks, _, _ = service_view(plane.ecs, d, victim_instances)
    victims = [t["taskArn"] for t in tasks if t.get("containerInstanceArn") in victim_instances]
    log(f"service of {d} steady in {s:.1f} s; {len(victims)} of its tasks on swarm 0's "
        f"{len(victim_instances)} instances")
    if not victims:
        log("no service task landed on swarm 0: the replacement part checks nothing")
    return plane, victim_instances, victims


def instances_connected(ecs, arns):
    connected = 0
    for b in batches(sorted(arns)):
        for ci in ecs.describe_container_instances(cluster=CLUSTER, containerInstances=b)["containerInstances"]:
            connected += 1 if ci["agentConnected"] else 0
    return connected


def scenario_kill_agents(args):
    plane, victim_instances, victims = agents_scenario_setup(args, "kill-agents")
    d = args.service_tasks
    try:
        plane.signal_swarm(0, signal.SIGKILL)
        t0 = time.monotonic()
        log(f"kill -9 of swarm 0 ({len(victim_instances)} agents); heartbeat timeout {HEARTBEAT_TIMEOUT_S} s")
        t_disc = t_repl = None
        state = {}
        deadline = t0 + args.converge_timeout + HEARTBEAT_TIMEOUT_S + HEARTBEAT_CHECK_S
        while time.monotonic() < deadline:
            connected = instances_connected(plane.ecs, victim_instances)
            now = time.monotonic()
            if connected == 0 and t_disc is None:
                t_disc = now - t0
                log(f"all {len(victim_instances)} instances agentConnected=false after {t_disc:.1f} s")
            vt, _ = describe_tasks(plane.ecs, victims)
            v_stop = sum(1 for t in vt if t["desiredStatus"] == "STOPPED")
            s = plane.ecs.describe_services(cluster=CLUSTER, services=[SERVICE])["services"][0]
            tasks, running, on_victims = service_view(plane.ecs, d, victim_instances)
            state = dict(connected=connected, victims_desired_stopped=v_stop, service_running=s["runningCount"],
                         service_pending=s["pendingCount"], live_tasks=len(tasks), live_running=running,
                         live_on_killed=on_victims)
            if (connected == 0 and v_stop == len(victims) and s["runningCount"] == d and s["pendingCount"] == 0
                    and len(tasks) == d and running == d and on_victims == 0):
                t_repl = now - t0
                break
            time.sleep(1)
        if t_repl is None:
            raise ScenarioFailed(f"timeout after {time.monotonic() - t0:.0f} s: {state}")
        vt, _ = describe_tasks(plane.ecs, victims)
        last_stopped = sum(1 for t in vt if t["lastStatus"] == "STOPPED")
        lost_reason = sum(1 for t in vt if "no longer available" in (t.get("stoppedReason") or ""))
        emit("kill-agents", store=args.store, agents=args.agents, killed_agents=len(victim_instances),
             heartbeat_timeout_seconds=HEARTBEAT_TIMEOUT_S, service_tasks=d, tasks_on_killed=len(victims),
             disconnected_seconds=f"{t_disc:.1f}", replaced_seconds=f"{t_repl:.1f}")
        ok = lost_reason == len(victims)
        emit("kill-agents", check="ok" if ok else "failed", killed_instances_connected=0,
             tasks_on_killed_desired_stopped=len(victims), tasks_on_killed_stopped_reason_lost=lost_reason,
             tasks_on_killed_last_status_stopped=last_stopped, service_running=d)
        if not ok:
            raise ScenarioFailed("tasks of the killed agents do not carry the instance-lost stop reason")
    finally:
        plane.stop()


def scenario_network_cut(args):
    plane, victim_instances, victims = agents_scenario_setup(args, "network-cut")
    d = args.service_tasks
    try:
        plane.signal_swarm(0, signal.SIGSTOP)
        t0 = time.monotonic()
        log(f"SIGSTOP of swarm 0 ({len(victim_instances)} agents); heartbeat timeout {HEARTBEAT_TIMEOUT_S} s")
        t_repl = None
        max_running_seen = 0
        state = {}
        deadline = t0 + args.converge_timeout + HEARTBEAT_TIMEOUT_S + HEARTBEAT_CHECK_S
        while time.monotonic() < deadline:
            connected = instances_connected(plane.ecs, victim_instances)
            s = plane.ecs.describe_services(cluster=CLUSTER, services=[SERVICE])["services"][0]
            tasks, running, on_victims = service_view(plane.ecs, d, victim_instances)
            vt, _ = describe_tasks(plane.ecs, victims)
            still_running = sum(1 for t in vt if t["lastStatus"] == "RUNNING")
            max_running_seen = max(max_running_seen, running + still_running)
            state = dict(connected=connected, service_running=s["runningCount"], live_running=running,
                         live_on_cut=on_victims)
            if connected == 0 and s["runningCount"] == d and running == d and on_victims == 0 and len(tasks) == d:
                t_repl = time.monotonic() - t0
                break
            time.sleep(1)
        if t_repl is None:
            raise ScenarioFailed(f"timeout during the cut after {time.monotonic() - t0:.0f} s: {state}")
        log(f"replaced after {t_repl:.1f} s of the cut; the cut agents' old tasks still RUNNING as stored: "
            f"{still_running}")
        time.sleep(5)
        cut_s = time.monotonic() - t0
        plane.signal_swarm(0, signal.SIGCONT)
        t1 = time.monotonic()
        log(f"SIGCONT after {cut_s:.1f} s")
        t_reconn = t_conv = None
        deadline = t1 + args.converge_timeout
        while time.monotonic() < deadline:
            connected = instances_connected(plane.ecs, victim_instances)
            now = time.monotonic()
            if connected == len(victim_instances) and t_reconn is None:
                t_reconn = now - t1
                log(f"all {connected} instances reconnected after {t_reconn:.1f} s")
            vt, _ = describe_tasks(plane.ecs, victims)
            old_running = sum(1 for t in vt if t["lastStatus"] != "STOPPED")
            tasks, running, on_victims = service_view(plane.ecs, d, victim_instances)
            state = dict(connected=connected, old_tasks_not_stopped=old_running, live_running=running,
                         live_tasks=len(tasks))
            if connected == len(victim_instances) and old_running == 0 and running == d and len(tasks) == d:
                t_conv = now - t1
                break
            time.sleep(1)
        if t_conv is None:
            raise ScenarioFailed(f"timeout after SIGCONT ({args.converge_timeout:.0f} s): {state}")
        # A few seconds later: still exactly D running, none of them twice, no old task back.
        time.sleep(5)
        all_arns = (list_task_arns(plane.ecs, d * 4, serviceName=SERVICE, desiredStatus="RUNNING")
                    + list_task_arns(plane.ecs, d * 4, serviceName=SERVICE, desiredStatus="STOPPED"))
        all_tasks, _ = describe_tasks(plane.ecs, sorted(set(all_arns)))
        running_now = sum(1 for t in all_tasks if t["lastStatus"] == "RUNNING")
        old_back = sum(1 for t in all_tasks if t["taskArn"] in set(victims) and t["lastStatus"] != "STOPPED")
        dup = len(all_arns) - len(set(all_arns))
        ok = running_now == d and old_back == 0 and dup == 0
        emit("network-cut", store=args.store, agents=args.agents, cut_agents=len(victim_instances),
             heartbeat_timeout_seconds=HEARTBEAT_TIMEOUT_S, service_tasks=d, tasks_on_cut=len(victims),
             replaced_seconds=f"{t_repl:.1f}", cut_seconds=f"{cut_s:.1f}",
             reconnect_seconds=f"{t_reconn:.1f}" if t_reconn is not None else "nan",
             converge_after_reconnect_seconds=f"{t_conv:.1f}", max_running_seen_during_cut=max_running_seen)
        emit("network-cut", check="ok" if ok else "failed", service_tasks_running=running_now,
             old_tasks_not_stopped=old_back, duplicate_arns=dup)
        if not ok:
            raise ScenarioFailed(f"after the cut: {running_now} running (want {d}), {old_back} replaced tasks "
                                 f"not STOPPED, {dup} duplicate ARNs")
    finally:
        plane.stop()


SCENARIOS = {
    "burst": scenario_burst,
    "kill-control-plane": scenario_kill_control_plane,
    "kill-agents": scenario_kill_agents,
    "network-cut": scenario_network_cut,
}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--flotilla", required=True)
    p.add_argument("--swarm-bin", default=None, help="the binary whose `swarm` runs the agents (default --flotilla)")
    p.add_argument("--agents", type=int, default=1000)
    p.add_argument("--tasks", type=int, default=100_000)
    p.add_argument("--swarms", type=int, default=10)
    p.add_argument("--store", default="sqlite",
                   help="sqlite, or a postgres:// URL (a database is created per scenario)")
    p.add_argument("--scenarios", default=",".join(SCENARIOS))
    p.add_argument("--threads", type=int, default=24)
    p.add_argument("--service-tasks", type=int, default=200)
    p.add_argument("--start-delay-ms", type=int, default=None)
    p.add_argument("--register-timeout", type=float, default=None)
    p.add_argument("--run-timeout", type=float, default=None)
    p.add_argument("--converge-timeout", type=float, default=300)
    p.add_argument("--call-timeout", type=float, default=180, help="how long one RunTask call is retried")
    p.add_argument("--work", default=None)
    p.add_argument("--keep", action="store_true")
    args = p.parse_args()
    if args.swarms < 1 or args.agents < args.swarms:
        sys.exit("scale.py: need 1 <= SWARMS <= AGENTS")
    args.store_url = args.store if args.store.startswith("postgres") else None
    if args.store_url is None and args.store != "sqlite":
        sys.exit(f"scale.py: unknown store {args.store}")
    store_name = "postgres" if args.store_url else "sqlite"
    args.register_timeout = args.register_timeout or max(120.0, args.agents * 0.3)
    args.run_timeout = args.run_timeout or max(300.0, args.tasks * 0.06)
    names = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    unknown = [s for s in names if s not in SCENARIOS]
    if unknown:
        sys.exit(f"scale.py: unknown scenarios {unknown}; known: {','.join(SCENARIOS)}")
    own_work = args.work is None
    args.work = args.work or tempfile.mkdtemp(prefix="flotilla-scale.")
    log(f"work dir {args.work}; store {store_name}; agents {args.agents} in {args.swarms} swarms; tasks {args.tasks}")
    args.store = store_name
    results = {}

    def on_term(signum, _frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    try:
        for name in names:
            log(f"---- scenario {name}")
            t0 = time.monotonic()
            try:
                SCENARIOS[name](args)
                results[name] = "ok"
            except ScenarioFailed as e:
                log(f"scenario {name} FAILED: {e}")
                results[name] = "failed"
            except Exception as e:  # noqa: BLE001 — report, go on with the next scenario
                log(f"scenario {name} ERROR: {type(e).__name__}: {e}")
                results[name] = "error"
            emit(name, result=results[name], scenario_seconds=f"{time.monotonic() - t0:.0f}")
    finally:
        if own_work and not args.keep:
            shutil.rmtree(args.work, ignore_errors=True)
    ok = all(v == "ok" for v in results.values())
    print(f"scale_summary store={store_name} agents={args.agents} tasks={args.tasks} swarms={args.swarms} "
          + " ".join(f"{k}={v}" for k, v in results.items()) + f" status={'ok' if ok else 'failed'}", flush=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
