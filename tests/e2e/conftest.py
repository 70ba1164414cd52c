"""Fixtures for the end-to-end suite: the real `flotilla` binary, driven by boto3 and
the `aws` CLI.

The binary comes from `FLOTILLA_BIN` (default: the workspace's debug build). Every
server runs on a free port of 127.0.0.1 with its own temporary data directory, fixed
root credentials, and a temporary HOME so nothing outside the test's directories is
touched.
"""

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

    def __init__(self, data_dir, home, command="up", credentials=True, aws_profile=False, extra_env=None):
        self.data_dir = Path(data_dir)
        self.home = Path(home)
        self.command = command
        self.credentials = credentials
        self.aws_profile = aws_profile
        self.extra_env = dict(extra_env or {})
        self.port = None
        self.proc = None
        self.log_path = self.data_dir.parent / f"{self.data_dir.name}-server.log"

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
        pytest.skip("the aws CLI is not installed (pip install -r tests/requirements.txt)")
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
