"""Fixtures for the end-to-end suite: the real `flotilla` binary, driven by boto3 and
the `aws` CLI.

The binary comes from `FLOTILLA_BIN` (default: the workspace's debug build). Every
server runs on a free port of 127.0.0.1 with its own temporary data directory, fixed
root credentials, and a temporary HOME so nothing outside the test's directories is
touched.

With `FLOTILLA_E2E_POSTGRES_URL` set (a server URL such as
`postgres://postgres@127.0.0.1:55432`), every server keeps its state in a PostgreSQL
database of its own (`--store`), created on first start and kept across restarts.
"""

import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import boto3
import botocore.auth
import botocore.awsrequest
import botocore.credentials
import pytest
from botocore.config import Config

REPO = Path(__file__).resolve().parents[2]
FLOTILLA_BIN = os.environ.get("FLOTILLA_BIN", str(REPO / "target" / "debug" / "flotilla"))
REGION = "us-east-1"
ACCOUNT = "000000000000"
ACCESS_KEY = "AKIAFLOTILLAE2ETEST1"
SECRET_KEY = "e2e/Secret+Key/0123456789abcdefghijklmnopqrs"
ECS_TARGET = "AmazonEC2ContainerServiceV20141113"
# When set, servers keep their state in PostgreSQL: one database per data directory.
POSTGRES_URL = os.environ.get("FLOTILLA_E2E_POSTGRES_URL", "").rstrip("/")
# A busy two-core machine may take a while to start a debug binary.
READY_TIMEOUT = float(os.environ.get("FLOTILLA_E2E_READY_TIMEOUT", "60"))


def cluster_arn(name):
    return f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/{name}"


def td_arn(family, revision):
    return f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/{family}:{revision}"


def unique(prefix="t"):
    """A name no other test uses, so tests can share one server."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PortTaken(RuntimeError):
    """The server could not bind its port."""


class Server:
    """One `flotilla` process on a data directory; can be stopped and started again."""

    pools = itertools.count()

    def __init__(self, data_dir, home, command="up", credentials=True, aws_profile=False, extra_env=None,
                 args=()):
        self.args = list(args)
        self.data_dir = Path(data_dir)
        self.home = Path(home)
        self.command = command
        self.credentials = credentials
        self.aws_profile = aws_profile
        self.extra_env = dict(extra_env or {})
        self.port = None
        self.proc = None
        self.log_path = self.data_dir.parent / f"{self.data_dir.name}-server.log"
        self.store_url = None
        # Its own load balancer addresses, kept across restarts: 127.2.0.1, 127.3.0.1, …
        self.lb_addresses = f"127.{2 + next(Server.pools) % 250}.0.1"

    @property
    def endpoint(self):
        return f"http://127.0.0.1:{self.port}"

    def env(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "FLOTILLA_"))}
        env["HOME"] = str(self.home)
        env.setdefault("RUST_LOG", "warn")
        if self.credentials:
            env["FLOTILLA_ROOT_ACCESS_KEY_ID"] = ACCESS_KEY
            env["FLOTILLA_ROOT_SECRET_ACCESS_KEY"] = SECRET_KEY
        env.update(self.extra_env)
        return env

    def start(self, port=None):
        if not os.path.exists(FLOTILLA_BIN):
            pytest.fail(f"flotilla binary not found at {FLOTILLA_BIN}; build it or set FLOTILLA_BIN")
        self.port = port or self.port or free_port()
        for attempt in range(3):
            args = [FLOTILLA_BIN, self.command, "--data-dir", str(self.data_dir), "--listen", f"127.0.0.1:{self.port}"]
            if not self.aws_profile:
                args.append("--no-aws-profile")
            if self.command in ("up", "server") and "--dns-listen" not in self.args:
                # Many servers run at once: each takes a port of its own for its DNS.
                args.extend(["--dns-listen", "127.0.0.1:0"])
            if self.command in ("up", "server") and "--load-balancer-addresses" not in self.args:
                # ... and load balancer addresses of its own (127.N.0.1 onwards), so a
                # listener of one is never reached through another's address.
                args.extend(["--load-balancer-addresses", self.lb_addresses])
            if POSTGRES_URL and self.command in ("up", "server"):
                args.extend(["--store", self.postgres_store()])
            args.extend(self.args)
            self.log = open(self.log_path, "ab")
            self.log_offset = self.log.tell()
            self.proc = subprocess.Popen(args, env=self.env(), stdout=self.log, stderr=subprocess.STDOUT)
            try:
                self.wait_ready()
                return self
            except PortTaken:
                # Another process on this shared machine took the port between our
                # probe and the bind: try another one.
                self.log.close()
                self.proc = None
                if attempt == 2:
                    raise
                self.port = free_port()
        return self

    def postgres_store(self):
        """This server's own PostgreSQL database, created on first use."""
        if self.store_url is None:
            name = f"e2e_{uuid.uuid4().hex[:12]}"
            subprocess.run(["psql", f"{POSTGRES_URL}/postgres", "-qc", f"CREATE DATABASE {name}"], check=True,
                           capture_output=True, timeout=60)
            self.store_url = f"{POSTGRES_URL}/{name}"
        return self.store_url

    def wait_ready(self):
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                log = self.read_log(since_start=True)
                if "Address already in use" in log or "address in use" in log.lower():
                    raise PortTaken(log[-4000:])
                raise RuntimeError(f"flotilla exited with {self.proc.returncode} while starting:\n{log[-4000:]}")
            try:
                with urllib.request.urlopen(self.endpoint + "/healthz", timeout=5) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, socket.timeout, OSError):
                pass
            time.sleep(0.1)
        raise RuntimeError(f"flotilla did not become ready within {READY_TIMEOUT}s:\n{self.read_log()[-4000:]}")

    def read_log(self, since_start=False):
        """The server's output (of its latest start only, if asked)."""
        try:
            with open(self.log_path, "rb") as f:
                if since_start:
                    f.seek(self.log_offset)
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def terminate(self, timeout=30):
        """SIGTERM and wait; returns the exit code."""
        if self.proc is None:
            return None
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise
        finally:
            self.log.close()
        self.proc = None
        return code

    def kill9(self):
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.log.close()
        self.proc = None

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.terminate(timeout=15)
            except subprocess.TimeoutExpired:
                pass
        elif self.proc is not None:
            self.log.close()
            self.proc = None

    def restart(self):
        self.stop()
        return self.start(self.port)

    # Clients -----------------------------------------------------------------

    def client(self, service="ecs", access_key=ACCESS_KEY, secret_key=SECRET_KEY, **config):
        cfg = Config(
            region_name=REGION,
            retries={"total_max_attempts": 1},
            connect_timeout=10,
            read_timeout=60,
            **config,
        )
        return boto3.session.Session().client(
            service,
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            config=cfg,
        )

    def raw(self, operation=None, body=b"{}", *, target=None, sign=True, access_key=ACCESS_KEY,
            secret_key=SECRET_KEY, headers=None, path="/", method="POST"):
        """Sends one request as-is (optionally SigV4-signed with botocore); returns
        (status, headers, body bytes)."""
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        url = self.endpoint + path
        hdrs = {"Content-Type": "application/x-amz-json-1.1"}
        if target is None and operation is not None:
            target = f"{ECS_TARGET}.{operation}"
        if target is not None:
            hdrs["X-Amz-Target"] = target
        hdrs.update(headers or {})
        req = botocore.awsrequest.AWSRequest(method=method, url=url, data=body, headers=hdrs)
        if sign:
            creds = botocore.credentials.Credentials(access_key, secret_key)
            botocore.auth.SigV4Auth(creds, "ecs", REGION).add_auth(req)
        return send(req.prepare())


def send(prepared):
    """Sends a prepared botocore request with urllib; returns (status, headers, body)."""
    req = urllib.request.Request(prepared.url, data=prepared.body, method=prepared.method)
    for k, v in prepared.headers.items():
        req.add_header(k, v if isinstance(v, str) else v.decode())
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, dict(r.headers.items()), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers.items()), e.read()


def error_of(body):
    doc = json.loads(body)
    return doc["__type"], doc.get("message", doc.get("Message", ""))


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """The shared server (`flotilla up`, so `default` exists) for tests that only add
    uniquely named resources."""
    base = tmp_path_factory.mktemp("shared")
    home = base / "home"
    home.mkdir()
    srv = Server(base / "data", home).start()
    yield srv
    srv.stop()


@pytest.fixture
def fresh_server(tmp_path):
    """A server of the test's own, for tests that need an empty store or restarts."""
    home = tmp_path / "home"
    home.mkdir()
    servers = []

    def make(**kwargs):
        data = kwargs.pop("data_dir", tmp_path / f"data{len(servers)}")
        srv = Server(data, kwargs.pop("home", home), **kwargs)
        servers.append(srv)
        return srv.start()

    make.servers = servers
    yield make
    for srv in servers:
        srv.stop()


@pytest.fixture(scope="session")
def ecs(server):
    return server.client()


@pytest.fixture
def aws_cli(tmp_path):
    """Runs the `aws` CLI with its config and credentials files in the test's
    directory. Returns a function (args, check=True) -> CompletedProcess; `.json`
    holds the parsed output when there is any."""
    exe = Path(sys.executable).parent / "aws"
    exe = str(exe) if exe.exists() else shutil.which("aws")
    if exe is None:
        missing_part("the aws CLI is not installed (pip install -r tests/requirements.txt)")
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    config = tmp_path / "aws" / "config"
    creds = tmp_path / "aws" / "credentials"

    def env():
        e = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "FLOTILLA_"))}
        e.update(
            HOME=str(home),
            AWS_CONFIG_FILE=str(config),
            AWS_SHARED_CREDENTIALS_FILE=str(creds),
            AWS_PAGER="",
            AWS_MAX_ATTEMPTS="1",
        )
        return e

    def run(args, check=True, extra_env=None):
        p = subprocess.run([exe, *args], env={**env(), **(extra_env or {})}, capture_output=True, text=True, timeout=120)
        if check and p.returncode != 0:
            raise AssertionError(f"aws {' '.join(args)} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
        try:
            p.json = json.loads(p.stdout) if p.stdout.strip() else None
        except ValueError:
            p.json = None
        return p

    run.env = env
    run.exe = exe
    run.home = home
    run.config = config
    run.credentials = creds
    return run


# Real containers ---------------------------------------------------------------
#
# Tests that run tasks on Docker make their own image from Debian's busybox-static
# (no registry is reachable), run `flotilla up` (control plane + a local Docker agent)
# or `flotilla server` next to separate `flotilla agent` processes, and remove every
# container their tasks caused, found by the task-ARN label the agent puts on them.

BUSYBOX_IMAGE = os.environ.get("FLOTILLA_E2E_BUSYBOX_IMAGE", "flotilla-test/busybox:e2e")
TASK_ARN_LABEL = "com.amazonaws.ecs.task-arn"
# Bounds for waits on a busy two-core machine; never timing assertions.
TASK_TIMEOUT = float(os.environ.get("FLOTILLA_E2E_TASK_TIMEOUT", "120"))


def docker(*args, check=True, timeout=120):
    """Runs the `docker` CLI; returns the CompletedProcess (text)."""
    p = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    return p


def docker_inspect(container_id):
    """`docker inspect` of one container as a dict, or None when it does not exist."""
    p = docker("inspect", "--type", "container", container_id, check=False)
    if p.returncode != 0:
        return None
    return json.loads(p.stdout)[0]


def containers_of_task(task_arn):
    """Ids of every container (running or not) labelled with the task's ARN."""
    p = docker("ps", "-aq", "--no-trunc", "--filter", f"label={TASK_ARN_LABEL}={task_arn}", check=False)
    return [line for line in p.stdout.split() if line]


def remove_task_containers(task_arns):
    """Removes the tasks' containers and their task-scoped Docker volumes
    (`ecs-<task id>-<volume>`)."""
    ids = [i for arn in task_arns for i in containers_of_task(arn)]
    if ids:
        docker("rm", "-f", "-v", *ids, check=False)
    for arn in task_arns:
        task_id = arn.rsplit("/", 1)[-1]
        p = docker("volume", "ls", "-q", "--filter", f"name=ecs-{task_id}-", check=False)
        volumes = [v for v in p.stdout.split() if v.startswith(f"ecs-{task_id}-")]
        if volumes:
            docker("volume", "rm", "-f", *volumes, check=False)


def docker_engine_problem():
    """Why Docker cannot be used here, or None when it can."""
    if shutil.which("docker") is None:
        return "the docker CLI is not installed"
    try:
        p = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"], capture_output=True, text=True,
                           timeout=30)
    except subprocess.TimeoutExpired:
        return "`docker info` timed out"
    if p.returncode != 0 or not p.stdout.strip():
        return f"the Docker engine is not reachable (`docker info`: {(p.stderr or p.stdout).strip()[:300]})"
    return None


def missing_part(reason):
    """A real part a test needs is missing: under CI=true that fails the test (a skip
    there would hide a broken install step); elsewhere it skips it."""
    if os.environ.get("CI", "").lower() in ("true", "1"):
        pytest.fail(f"CI=true: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def docker_engine():
    problem = docker_engine_problem()
    if problem:
        missing_part(f"real-container tests need Docker: {problem}")


@pytest.fixture(scope="session")
def busybox_image(docker_engine, tmp_path_factory):
    """A tiny local image: busybox-static with a symlink per applet, imported with
    `docker import` (skipped when the image already exists)."""
    if docker("image", "inspect", BUSYBOX_IMAGE, check=False).returncode == 0:
        return BUSYBOX_IMAGE
    busybox = next((p for p in ("/bin/busybox", "/usr/bin/busybox") if os.path.exists(p)), None)
    if busybox is None:
        missing_part("real-container tests need busybox-static (apt-get install busybox-static)")
    root = tmp_path_factory.mktemp("busybox-root")
    (root / "bin").mkdir()
    shutil.copy2(busybox, root / "bin" / "busybox")
    applets = subprocess.run([busybox, "--list"], capture_output=True, text=True, check=True).stdout.split()
    for name in set(applets) | {"sh", "nc", "httpd", "sleep", "echo", "cat", "env", "true", "false", "ls"}:
        if name != "busybox" and "/" not in name:
            os.symlink("busybox", root / "bin" / name)
    for d in ("tmp", "etc", "www", "data", "proc", "sys", "dev"):
        (root / d).mkdir()
    os.chmod(root / "tmp", 0o1777)
    (root / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n")
    (root / "etc" / "group").write_text("root:x:0:\nnogroup:x:65534:\n")
    (root / "www" / "index.html").write_text("hello from flotilla e2e\n")
    tar = tmp_path_factory.mktemp("busybox-tar") / "rootfs.tar"
    subprocess.run(["tar", "-C", str(root), "-cf", str(tar), "."], check=True)
    docker("import", "--change", 'CMD ["sh"]', "--change", "ENV PATH=/bin", str(tar), BUSYBOX_IMAGE)
    return BUSYBOX_IMAGE


def wait_for(what, probe, timeout=TASK_TIMEOUT, interval=0.5):
    """Calls `probe()` until it returns something truthy; fails after `timeout` seconds
    with the last value seen."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = probe()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}; last seen: {last!r}")
        time.sleep(interval)


def describe_task(ecs, cluster, arn):
    resp = ecs.describe_tasks(cluster=cluster, tasks=[arn])
    assert not resp["failures"], resp["failures"]
    return resp["tasks"][0]


def wait_task(ecs, cluster, arn, predicate, what, timeout=TASK_TIMEOUT):
    """Polls DescribeTasks until `predicate(task)`; returns the task. Fails with the
    last description seen."""
    seen = {}

    def probe():
        seen["task"] = describe_task(ecs, cluster, arn)
        return predicate(seen["task"])

    try:
        wait_for(what, probe, timeout)
    except AssertionError as e:
        t = seen.get("task", {})
        brief = {k: t.get(k) for k in ("lastStatus", "desiredStatus", "stopCode", "stoppedReason", "version")}
        brief["containers"] = [{k: c.get(k) for k in ("name", "lastStatus", "exitCode", "reason", "healthStatus")}
                               for c in t.get("containers", [])]
        raise AssertionError(f"{e}\ntask {arn}: {json.dumps(brief, default=str)}") from None
    return seen["task"]


def wait_running(ecs, cluster, arn, timeout=TASK_TIMEOUT):
    return wait_task(ecs, cluster, arn, lambda t: t["lastStatus"] in ("RUNNING", "STOPPED"), "RUNNING", timeout)


def wait_stopped(ecs, cluster, arn, timeout=TASK_TIMEOUT):
    return wait_task(ecs, cluster, arn, lambda t: t["lastStatus"] == "STOPPED", "STOPPED", timeout)


@pytest.fixture
def task_cleanup():
    """Records the tasks a test starts: track(*arns, ecs=client, cluster=name). At
    teardown asks the control plane to stop them (so an agent that has not created a
    container yet never does), waits a bounded time for them to stop, then removes
    every container labelled with one of them and their task-scoped volumes, whatever
    state the control plane or agent is in."""
    arns = []
    owners = {}

    def track(*task_arns, ecs=None, cluster=None):
        arns.extend(task_arns)
        if ecs is not None:
            for arn in task_arns:
                owners[arn] = (ecs, cluster)
        return task_arns[0] if len(task_arns) == 1 else (task_arns or None)

    track.arns = arns
    yield track
    pending = []
    for arn, (ecs, cluster) in owners.items():
        try:
            if describe_task(ecs, cluster, arn)["lastStatus"] != "STOPPED":
                ecs.stop_task(cluster=cluster, task=arn, reason="e2e cleanup")
                if not containers_of_task(arn):
                    # Placed but not started yet: wait for the agent to settle it rather
                    # than race it to creating a container.
                    pending.append(arn)
        except Exception:  # the control plane may be down by design; removal below still runs
            pass
    deadline = time.monotonic() + 30
    while pending and time.monotonic() < deadline:
        time.sleep(0.5)
        still = []
        for arn in pending:
            ecs, cluster = owners[arn]
            try:
                if describe_task(ecs, cluster, arn)["lastStatus"] != "STOPPED":
                    still.append(arn)
            except Exception:
                pass
        pending = still
    remove_task_containers(arns)
    if owners:
        time.sleep(1)
        remove_task_containers(arns)


@pytest.fixture(scope="session")
def docker_server(busybox_image, tmp_path_factory):
    """`flotilla up` with its local Docker agent in the `default` cluster, shared by the
    real-container tests (each uses its own task-definition families)."""
    base = tmp_path_factory.mktemp("docker-up")
    home = base / "home"
    home.mkdir()
    srv = Server(base / "data", home, args=["--attribute", "e2e.suite=docker", "--attribute", "e2e.flag"])
    srv.start()
    ecs = srv.client()
    wait_for("the local agent to register", lambda: ecs.list_container_instances(cluster="default")["containerInstanceArns"])
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def decs(docker_server):
    """boto3 ECS client of the shared Docker-backed server."""
    return docker_server.client()


class Agent:
    """A separate `flotilla agent` process; can be killed and started again on the
    same state directory."""

    def __init__(self, endpoint, cluster, state_dir, args=(), log_path=None):
        self.endpoint = endpoint
        self.cluster = cluster
        self.state_dir = Path(state_dir)
        self.args = list(args)
        self.log_path = Path(log_path or f"{self.state_dir}-agent.log")
        self.proc = None
        self.log = None

    def env(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "FLOTILLA_"))}
        env.setdefault("RUST_LOG", "info")
        env["FLOTILLA_ROOT_ACCESS_KEY_ID"] = ACCESS_KEY
        env["FLOTILLA_ROOT_SECRET_ACCESS_KEY"] = SECRET_KEY
        env["HOME"] = str(self.state_dir.parent)
        return env

    def start(self):
        self.log = open(self.log_path, "ab")
        args = [FLOTILLA_BIN, "agent", "--endpoint", self.endpoint, "--cluster", self.cluster,
                "--state-dir", str(self.state_dir), *self.args]
        self.proc = subprocess.Popen(args, env=self.env(), stdout=self.log, stderr=subprocess.STDOUT)
        return self

    def read_log(self):
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def kill9(self):
        if self.proc is not None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
            self.log.close()
            self.proc = None

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        self.proc = None


@pytest.fixture
def agents(tmp_path):
    """Starts separate agents: agents(endpoint, cluster, *args) -> Agent (running);
    all are stopped at teardown."""
    started = []

    def start(endpoint, cluster, *args, state_dir=None):
        a = Agent(endpoint, cluster, state_dir or tmp_path / f"agent{len(started)}", args)
        started.append(a)
        return a.start()

    yield start
    for a in started:
        a.stop()


def instance_of(ecs, cluster, timeout=TASK_TIMEOUT):
    """The one container instance of a cluster, once registered (described)."""
    arns = wait_for(f"an instance in {cluster}",
                    lambda: ecs.list_container_instances(cluster=cluster)["containerInstanceArns"], timeout)
    return ecs.describe_container_instances(cluster=cluster, containerInstances=arns)["containerInstances"][0]
