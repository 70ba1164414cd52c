"""Hostile clients against the real binary: connection floods, slow and stalled
clients, oversized requests, unknown registry uploads, made-up operations and
requests whose signature does not cover what they do. Each test checks that the
server keeps answering and that nothing stored changed.

Servers here run with short listener timeouts (`--header-timeout 2 --body-timeout 2`)
so the tests see them act within seconds (the defaults are 20 s and 30 s), and with
room for 500 connections (default 4096) so a flood of 2,000 passes the cap.
Loopback only; every loop is bounded in count and time.
"""

import json
import resource
import socket
import time
import urllib.error
import urllib.request
import uuid

import botocore.auth
import botocore.awsrequest
import botocore.credentials
import pytest

from conftest import ACCESS_KEY, ECS_TARGET, REGION, SECRET_KEY, send, unique

TIMEOUT_ARGS = ["--header-timeout", "2", "--body-timeout", "2", "--max-connections", "500"]


@pytest.fixture
def hostile(fresh_server):
    """A server with short listener timeouts, a cluster and a task definition in it,
    and a snapshot function of what is stored."""
    srv = fresh_server(command="server", args=TIMEOUT_ARGS)
    ecs = srv.client()
    ecs.create_cluster(clusterName="kept")
    ecs.register_task_definition(family="kept", containerDefinitions=[
        {"name": "app", "image": "busybox", "memory": 32}])

    def stored():
        return (sorted(ecs.list_clusters()["clusterArns"]),
                ecs.list_task_definitions()["taskDefinitionArns"],
                ecs.describe_clusters(clusters=["kept"])["clusters"][0]["status"])

    return srv, ecs, stored


def healthz_ms(srv):
    started = time.monotonic()
    with urllib.request.urlopen(f"{srv.endpoint}/healthz", timeout=10) as r:
        assert r.read() == b"ok\n"
    return (time.monotonic() - started) * 1000


def connect(srv):
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    return s


def closed_within(sock, seconds):
    """Whether the server closes (or resets) the connection within `seconds`; what
    it sent first is read and dropped."""
    sock.settimeout(0.5)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if sock.recv(65536) == b"":
                return True
        except socket.timeout:
            continue
        except ConnectionError:
            return True
    return False


def raise_fd_limit(wanted):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def test_an_idle_connection_flood_neither_blocks_the_server_nor_stays(hostile):
    srv, ecs, stored = hostile
    before = stored()
    limit = raise_fd_limit(4000)
    count = min(2000, limit - 200)
    idle = []
    try:
        for _ in range(count):
            idle.append(connect(srv))
        # Past the cap, newcomers take the places of the longest-idle connections.
        during = [healthz_ms(srv) for _ in range(5)]
        print(f"FIGURE idle-flood-connections={count} cap=500 healthz-ms-during={max(during):.1f}")
        assert ecs.list_clusters()["clusterArns"], "signed calls are answered during the flood"
        assert sum(closed_within(s, 0.01) for s in idle[:count - 500]) > 0, "the oldest idle made room"
        # Every idle connection is closed once the header timeout passes.
        deadline = time.monotonic() + 30
        still_open = list(idle)
        while still_open and time.monotonic() < deadline:
            still_open = [s for s in still_open if not closed_within(s, 0.01)]
            time.sleep(0.2)
        assert not still_open, f"{len(still_open)} of {count} idle connections were still open after 30 s"
    finally:
        for s in idle:
            s.close()
    assert stored() == before


def test_slow_headers_and_a_stalled_body_are_cut_off(hostile):
    srv, _, stored = hostile
    before = stored()
    slow_head = connect(srv)
    slow_head.sendall(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Amz-Tar")
    stalled = connect(srv)
    stalled.sendall(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-amz-json-1.1\r\n"
                    b"X-Amz-Target: " + ECS_TARGET.encode() + b".CreateCluster\r\nContent-Length: 1000\r\n\r\n{\"clu")
    started = time.monotonic()
    assert closed_within(slow_head, 15), "a client trickling its headers was kept"
    assert closed_within(stalled, 15), "a client stalling its body was kept"
    print(f"FIGURE slow-clients-cut-after-s={time.monotonic() - started:.1f}")
    slow_head.close()
    stalled.close()
    healthz_ms(srv)
    assert stored() == before


def test_oversized_heads_and_bodies_are_refused(hostile):
    srv, _, stored = hostile
    before = stored()
    s = connect(srv)
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (128 * 1024) + b"\r\n\r\n")
    s.settimeout(10)
    try:
        first = s.recv(64)
    except ConnectionError:
        first = b""
    assert first == b"" or first.startswith(b"HTTP/1.1 431"), first
    s.close()
    req = urllib.request.Request(f"{srv.endpoint}/", data=b"{" + b" " * (5 * 1024 * 1024) + b"}", method="POST",
                                 headers={"Content-Type": "application/x-amz-json-1.1",
                                          "X-Amz-Target": f"{ECS_TARGET}.ListClusters"})
    try:
        urllib.request.urlopen(req, timeout=30)
        status = 200
    except urllib.error.HTTPError as e:
        status = e.code
    except (ConnectionError, urllib.error.URLError):
        status = None  # the server answers 413 and closes before the whole body is sent
    assert status in (413, None), status
    healthz_ms(srv)
    assert stored() == before


def test_made_up_operations_do_not_grow_the_metrics(hostile):
    srv, _, stored = hostile
    before = stored()

    def metrics_size():
        with urllib.request.urlopen(f"{srv.endpoint}/metrics", timeout=10) as r:
            return len(r.read())

    size = metrics_size()
    for i in range(300):
        req = urllib.request.Request(f"{srv.endpoint}/", data=b"{}", method="POST", headers={
            "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": f"{ECS_TARGET}.Made{uuid.uuid4().hex}"})
        try:
            urllib.request.urlopen(req, timeout=10)
        except urllib.error.HTTPError as e:
            assert e.code in (400, 403), e.code
    grown = metrics_size() - size
    print(f"FIGURE metrics-growth-after-300-made-up-targets-bytes={grown}")
    assert grown < 4096, f"/metrics grew by {grown} bytes"
    assert stored() == before


def test_unknown_registry_uploads_keep_no_memory(hostile):
    srv, _, stored = hostile
    before = stored()
    ecr = srv.client("ecr")
    ecr.create_repository(repositoryName="hostile")
    token = ecr.get_authorization_token()["authorizationData"][0]["authorizationToken"]
    auth = f"Basic {token}"
    pid = srv.proc.pid

    def rss_kib():
        with open(f"/proc/{pid}/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))

    def patch(n):
        conn = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        body = b"x" * 8192
        f = conn.makefile("rb")
        try:
            for _ in range(n):
                upload = uuid.uuid4().hex * 4
                conn.sendall(f"PATCH /v2/hostile/blobs/uploads/{upload} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                             f"Authorization: {auth}\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
                status = f.readline()
                assert b" 404 " in status, status
                length = 0
                while (line := f.readline()) not in (b"\r\n", b""):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                f.read(length)
        finally:
            f.close()
            conn.close()

    patch(500)  # warm up allocator pools
    start = rss_kib()
    patch(3000)
    grown = rss_kib() - start
    print(f"FIGURE rss-growth-after-3000-unknown-uploads-kib={grown}")
    assert grown < 16 * 1024, f"RSS grew by {grown} KiB"
    assert stored() == before


def test_a_presigned_request_cannot_be_pointed_at_another_operation(hostile):
    srv, ecs, stored = hostile
    before = stored()
    # Presigned with only the host signed: the operation header is added afterwards.
    req = botocore.awsrequest.AWSRequest(method="POST", url=srv.endpoint + "/", data=json.dumps(
        {"clusterName": unique("swapped")}).encode())
    botocore.auth.SigV4QueryAuth(botocore.credentials.Credentials(ACCESS_KEY, SECRET_KEY), "ecs", REGION,
                                 expires=300).add_auth(req)
    prepared = req.prepare()
    prepared.headers["X-Amz-Target"] = f"{ECS_TARGET}.CreateCluster"
    prepared.headers["Content-Type"] = "application/x-amz-json-1.1"
    if isinstance(prepared.body, str):
        prepared.body = prepared.body.encode()
    status, _, body = send(prepared)
    assert status in (400, 403), body
    assert json.loads(body)["__type"] in ("IncompleteSignatureException", "SignatureDoesNotMatchException",
                                          "InvalidSignatureException"), body
    assert stored() == before
    # The server is fine, and a well-signed call still works.
    assert ecs.describe_clusters(clusters=["kept"])["clusters"][0]["status"] == "ACTIVE"


def test_values_past_aws_limits_are_refused_and_change_nothing(hostile):
    srv, ecs, stored = hostile
    from botocore.exceptions import ClientError

    before = stored()

    def refused(call, **kwargs):
        with pytest.raises(ClientError) as e:
            call(**kwargs)
        return e.value.response["Error"]["Code"]

    huge = 9223372036854775807
    assert refused(ecs.register_task_definition, family="wrap", containerDefinitions=[
        {"name": "a", "image": "busybox", "memory": huge}, {"name": "b", "image": "busybox", "memory": huge}]) in (
        "ClientException", "InvalidParameterException")
    assert refused(ecs.register_task_definition, family="many", containerDefinitions=[
        {"name": "a", "image": "busybox", "memory": 32,
         "environment": [{"name": f"V{i}", "value": "x"} for i in range(10_000)]}]) in (
        "ClientException", "InvalidParameterException")
    assert refused(ecs.register_task_definition, family="big", containerDefinitions=[
        {"name": "a", "image": "busybox", "memory": 32,
         "environment": [{"name": "V", "value": "x" * (3 * 1024 * 1024)}]}]) in (
        "ClientException", "InvalidParameterException")
    arn = ecs.describe_clusters(clusters=["kept"])["clusters"][0]["clusterArn"]
    assert refused(ecs.untag_resource, resourceArn=arn, tagKeys=[f"k{i}" for i in range(10_000)]) in (
        "InvalidParameterException", "ClientException")
    assert refused(ecs.update_container_instances_state, cluster="kept",
                   containerInstances=[f"ci-{i}" for i in range(10_000)], status="DRAINING") in (
        "InvalidParameterException", "ClientException")
    assert refused(ecs.create_cluster, clusterName="settings", settings=[
        {"name": "containerInsights", "value": "enabled"}] * 2) in ("InvalidParameterException", "ClientException")
    assert stored() == before
