"""Tasks on real Docker containers (issue 3): RunTask to RUNNING, ports, exit codes,
essential containers, dependsOn, health checks, stop timeouts, overrides and task
volumes, placement failures, container instances.

Driven by boto3 and the `aws` CLI against `flotilla up` (control plane + local Docker
agent) or separate `flotilla agent` processes. Every test uses its own families and
removes the containers its tasks caused (fixture `task_cleanup`).
"""

import json
import os
import socket
import time

import pytest
from botocore.exceptions import ClientError

from conftest import (
    ACCESS_KEY,
    BUSYBOX_IMAGE,
    SECRET_KEY,
    describe_task,
    docker,
    docker_inspect,
    free_port,
    instance_of,
    unique,
    wait_for,
    wait_running,
    wait_stopped,
    wait_task,
)

CLUSTER = "default"
# A container that runs until SIGTERM, then exits with `code`.
def loop(code=0, before=""):
    return ["sh", "-c", f"{before}trap 'exit {code}' TERM; while true; do sleep 1; done"]


def register(ecs, family, containers, **kwargs):
    for c in containers:
        c.setdefault("image", BUSYBOX_IMAGE)
        c.setdefault("memory", 64)
    td = ecs.register_task_definition(family=family, containerDefinitions=containers, **kwargs)["taskDefinition"]
    return td["taskDefinitionArn"]


def run(ecs, track, td, cluster=CLUSTER, **kwargs):
    """RunTask of one task that must be placed; returns its ARN (tracked for cleanup)."""
    resp = ecs.run_task(cluster=cluster, taskDefinition=td, **kwargs)
    for t in resp["tasks"]:
        track(t["taskArn"], ecs=ecs, cluster=cluster)
    assert resp["failures"] == [], resp["failures"]
    assert len(resp["tasks"]) == 1
    return resp["tasks"][0]["taskArn"]


def container(task, name):
    return next(c for c in task["containers"] if c["name"] == name)


def http_get(port, path="/", timeout=10):
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(f"GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n".encode())
        chunks = []
        while True:
            b = s.recv(65536)
            if not b:
                break
            chunks.append(b)
    return b"".join(chunks).decode(errors="replace")


def fetch_when_ready(port, timeout=60):
    """The page on a published port, once the server in the container answers."""
    def probe():
        try:
            page = http_get(port)
        except OSError:
            return None
        return page if page.startswith("HTTP/1") else None
    return wait_for(f"an HTTP answer on 127.0.0.1:{port}", probe, timeout)


def cli_args(server):
    return ["--endpoint-url", server.endpoint, "--region", "us-east-1", "--output", "json"]


def cli_env():
    return {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY, "AWS_DEFAULT_REGION": "us-east-1"}


def docker_time(s):
    """Docker's RFC 3339 nanosecond timestamps as epoch seconds (float)."""
    from datetime import datetime, timezone
    s = s.rstrip("Z")
    base, _, frac = s.partition(".")
    t = datetime.strptime(base, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc).timestamp()
    return t + (float("0." + frac) if frac else 0.0)


# 1. RunTask → RUNNING with the real container ---------------------------------------

def test_run_task_reaches_running_on_a_real_container(docker_server, decs, aws_cli, task_cleanup, tmp_path):
    family = unique("run")
    spec = {
        "family": family,
        "containerDefinitions": [
            {"name": "app", "image": BUSYBOX_IMAGE, "memory": 64, "command": loop(), "essential": True},
        ],
    }
    path = tmp_path / "td.json"
    path.write_text(json.dumps(spec))
    env = cli_env()
    td = aws_cli(["ecs", "register-task-definition", "--cli-input-json", f"file://{path}", *cli_args(docker_server)],
                 extra_env=env).json["taskDefinition"]
    assert td["revision"] == 1
    out = aws_cli(["ecs", "run-task", "--cluster", CLUSTER, "--task-definition", f"{family}:1",
                   "--started-by", "e2e", *cli_args(docker_server)], extra_env=env).json
    assert out["failures"] == []
    (created,) = out["tasks"]
    arn = task_cleanup(created["taskArn"], ecs=decs, cluster=CLUSTER)
    assert created["lastStatus"] in ("PROVISIONING", "PENDING")
    assert created["desiredStatus"] == "RUNNING"
    assert created["startedBy"] == "e2e"
    assert created["launchType"] == "EC2"
    first_version = created["version"]

    task = wait_running(decs, CLUSTER, arn)
    assert task["lastStatus"] == "RUNNING", task
    assert task["taskArn"] == arn
    assert task["desiredStatus"] == "RUNNING"
    assert task["containerInstanceArn"].startswith("arn:aws:ecs:us-east-1:000000000000:container-instance/")
    assert task["version"] > first_version
    (c,) = task["containers"]
    assert c["name"] == "app"
    assert c["lastStatus"] == "RUNNING"
    assert c["taskArn"] == arn
    assert c["containerArn"].startswith("arn:aws:ecs:us-east-1:000000000000:container/")
    assert c["image"] == BUSYBOX_IMAGE
    # runtimeId is the real Docker container, running, named and labelled as ECS does.
    info = docker_inspect(c["runtimeId"])
    assert info is not None, f"runtimeId {c['runtimeId']} is not a Docker container"
    assert info["Id"] == c["runtimeId"]
    assert info["State"]["Running"] is True
    task_id = arn.rsplit("/", 1)[1]
    assert info["Name"] == f"/ecs-{family}-1-app-{task_id}"
    assert info["Config"]["Labels"]["com.amazonaws.ecs.task-arn"] == arn
    assert info["Config"]["Labels"]["com.amazonaws.ecs.container-name"] == "app"
    assert info["Config"]["Image"] == BUSYBOX_IMAGE
    assert info["HostConfig"]["Memory"] == 64 * 1024 * 1024
    # Timestamps present and ordered.
    for k in ("createdAt", "pullStartedAt", "pullStoppedAt", "startedAt"):
        assert k in task, f"{k} missing: {task}"
    assert task["createdAt"] <= task["pullStartedAt"] <= task["pullStoppedAt"] <= task["startedAt"]
    assert abs(task["startedAt"].timestamp() - docker_time(info["State"]["StartedAt"])) < 30

    # The aws CLI sees the same.
    described = aws_cli(["ecs", "describe-tasks", "--cluster", CLUSTER, "--tasks", arn, *cli_args(docker_server)],
                        extra_env=env).json
    assert described["failures"] == []
    (dt,) = described["tasks"]
    assert dt["lastStatus"] == "RUNNING"
    assert dt["containers"][0]["runtimeId"] == c["runtimeId"]
    assert dt["version"] >= task["version"]
    listed = aws_cli(["ecs", "list-tasks", "--cluster", CLUSTER, "--family", family, *cli_args(docker_server)],
                     extra_env=env).json
    assert listed["taskArns"] == [arn]

    # stop-task through the CLI ends it with UserInitiated and the reason given.
    aws_cli(["ecs", "stop-task", "--cluster", CLUSTER, "--task", arn, "--reason", "e2e says stop",
             *cli_args(docker_server)], extra_env=env)
    stopped = wait_stopped(decs, CLUSTER, arn)
    assert stopped["stopCode"] == "UserInitiated"
    assert stopped["stoppedReason"] == "e2e says stop"
    assert stopped["desiredStatus"] == "STOPPED"
    assert stopped["containers"][0]["lastStatus"] == "STOPPED"
    assert stopped["containers"][0]["exitCode"] == 0
    for k in ("stoppingAt", "executionStoppedAt", "stoppedAt"):
        assert k in stopped, f"{k} missing: {stopped}"
    assert stopped["startedAt"] <= stopped["stoppingAt"] <= stopped["executionStoppedAt"] <= stopped["stoppedAt"]
    assert stopped["version"] > task["version"]
    assert docker_inspect(c["runtimeId"])["State"]["Running"] is False


# 2. Ports ----------------------------------------------------------------------------

HTTPD = "mkdir -p /www && echo \"$PAGE\" > /www/index.html && httpd -p 8080 -h /www && "


def test_httpd_through_dynamic_and_static_host_ports(docker_server, decs, task_cleanup):
    family = unique("web")
    static = free_port()
    dyn_td = register(decs, family, [{
        "name": "web", "command": loop(before=HTTPD), "environment": [{"name": "PAGE", "value": "dynamic page"}],
        "portMappings": [{"containerPort": 8080, "protocol": "tcp"}],
    }])
    static_td = register(decs, family, [{
        "name": "web", "command": loop(before=HTTPD), "environment": [{"name": "PAGE", "value": "static page"}],
        "portMappings": [{"containerPort": 8080, "hostPort": static, "protocol": "tcp"}],
    }])
    dyn = run(decs, task_cleanup, dyn_td)
    sta = run(decs, task_cleanup, static_td)

    for arn, expect_page, want_port in ((dyn, "dynamic page", None), (sta, "static page", static)):
        task = wait_running(decs, CLUSTER, arn)
        assert task["lastStatus"] == "RUNNING", task
        c = task["containers"][0]
        bindings = wait_task(decs, CLUSTER, arn, lambda t: t["containers"][0].get("networkBindings"),
                             "networkBindings")["containers"][0]["networkBindings"]
        assert len(bindings) == 1, bindings
        (b,) = bindings
        assert b["containerPort"] == 8080
        assert b["protocol"] == "tcp"
        assert b["bindIP"] == "0.0.0.0"
        info = docker_inspect(c["runtimeId"])
        published = [p for p in info["NetworkSettings"]["Ports"]["8080/tcp"] if ":" not in p["HostIp"]]
        assert b["hostPort"] == int(published[0]["HostPort"])
        if want_port is None:
            assert b["hostPort"] > 0
        else:
            assert b["hostPort"] == want_port
        page = fetch_when_ready(b["hostPort"])
        assert " 200 " in page.splitlines()[0], page
        assert expect_page in page


# 3. Exit codes -----------------------------------------------------------------------

def test_exit_code_of_an_essential_container_stops_the_task(docker_server, decs, task_cleanup):
    # Several at once: a container this short-lived must still count as started.
    td = register(decs, unique("exit"), [{"name": "app", "command": ["sh", "-c", "exit 3"]}])
    resp = decs.run_task(cluster=CLUSTER, taskDefinition=td, count=4)
    arns = [t["taskArn"] for t in resp["tasks"]]
    task_cleanup(*arns, ecs=decs, cluster=CLUSTER)
    assert resp["failures"] == [] and len(arns) == 4
    for arn in arns:
        task = wait_stopped(decs, CLUSTER, arn)
        (c,) = task["containers"]
        assert c["lastStatus"] == "STOPPED"
        assert c["exitCode"] == 3
        assert docker_inspect(c["runtimeId"])["State"]["ExitCode"] == 3
        assert task["desiredStatus"] == "STOPPED"
        assert (task["stopCode"], task["stoppedReason"]) == ("EssentialContainerExited",
                                                             "Essential container in task exited"), \
            {k: task.get(k) for k in ("stopCode", "stoppedReason", "startedAt", "version")}
        for k in ("startedAt", "executionStoppedAt", "stoppedAt"):
            assert k in task, f"{k} missing: {task}"


# 4. Essential container exiting stops the sidecar ------------------------------------

def test_essential_exit_stops_the_non_essential_sidecar(docker_server, decs, task_cleanup):
    td = register(decs, unique("ess"), [
        {"name": "main", "essential": True, "command": ["sh", "-c", "sleep 3; exit 0"]},
        {"name": "sidecar", "essential": False, "command": loop(code=143), "stopTimeout": 10},
    ])
    arn = run(decs, task_cleanup, td)
    task = wait_stopped(decs, CLUSTER, arn)
    assert task["stopCode"] == "EssentialContainerExited"
    assert "Essential container" in task["stoppedReason"]
    main, side = container(task, "main"), container(task, "sidecar")
    assert main["lastStatus"] == side["lastStatus"] == "STOPPED"
    assert main["exitCode"] == 0
    # The sidecar did not exit on its own: the agent stopped it (SIGTERM → 143).
    assert side["exitCode"] == 143
    info = docker_inspect(side["runtimeId"])
    assert info["State"]["Running"] is False
    assert info["State"]["ExitCode"] == 143


# 5. dependsOn ----------------------------------------------------------------------

def test_depends_on_complete_runs_after_the_dependency_exits(docker_server, decs, task_cleanup):
    td = register(decs, unique("dep"), [
        {"name": "init", "essential": False,
         "command": ["sh", "-c", "sleep 2; date +%s > /shared/init-at; echo ready > /shared/marker; exit 0"],
         "mountPoints": [{"sourceVolume": "shared", "containerPath": "/shared"}]},
        {"name": "app", "essential": True,
         "command": loop(before="cat /shared/marker > /shared/app-saw 2>&1; "),
         "dependsOn": [{"containerName": "init", "condition": "COMPLETE"}],
         "mountPoints": [{"sourceVolume": "shared", "containerPath": "/shared"}]},
    ], volumes=[{"name": "shared"}])
    arn = run(decs, task_cleanup, td)
    task = wait_running(decs, CLUSTER, arn)
    assert task["lastStatus"] == "RUNNING", task
    init, app = container(task, "init"), container(task, "app")
    init = container(wait_task(decs, CLUSTER, arn, lambda t: container(t, "init").get("exitCode") is not None,
                               "init's exit code"), "init")
    assert init["lastStatus"] == "STOPPED"
    assert init["exitCode"] == 0
    assert app["lastStatus"] == "RUNNING"
    init_info, app_info = docker_inspect(init["runtimeId"]), docker_inspect(app["runtimeId"])
    assert docker_time(init_info["State"]["FinishedAt"]) <= docker_time(app_info["State"]["StartedAt"])
    saw = wait_for("app's copy of the marker",
                   lambda: docker("exec", app["runtimeId"], "cat", "/shared/app-saw", check=False).stdout)
    assert saw.strip() == "ready"


def test_depends_on_success_fails_the_task_when_the_dependency_fails(docker_server, decs, task_cleanup):
    td = register(decs, unique("depfail"), [
        {"name": "init", "essential": False, "command": ["sh", "-c", "exit 1"]},
        {"name": "app", "essential": True, "command": loop(),
         "dependsOn": [{"containerName": "init", "condition": "SUCCESS"}]},
    ])
    arn = run(decs, task_cleanup, td)
    task = wait_stopped(decs, CLUSTER, arn)
    init, app = container(task, "init"), container(task, "app")
    assert init["exitCode"] == 1
    # The dependant never started: no Docker container was created for it.
    assert app.get("exitCode") is None
    names = [docker_inspect(i)["Name"] for i in docker("ps", "-aq", "--no-trunc", "--filter",
                                                     f"label=com.amazonaws.ecs.task-arn={arn}").stdout.split()]
    assert not any("-app-" in n for n in names), names
    assert app["lastStatus"] == "STOPPED"
    assert task["stopCode"] == "TaskFailedToStart", task
    assert "init" in task["stoppedReason"], task["stoppedReason"]


def test_depends_on_healthy_waits_for_the_health_check(docker_server, decs, task_cleanup):
    td = register(decs, unique("dephealthy"), [
        {"name": "db", "essential": True,
         "command": loop(before="sleep 3; touch /shared/ok; "),
         "healthCheck": {"command": ["CMD-SHELL", "test -f /shared/ok"], "interval": 5, "timeout": 2, "retries": 3},
         "mountPoints": [{"sourceVolume": "shared", "containerPath": "/shared"}]},
        # Not essential: the task's health is then db's alone, whatever ECS makes of
        # an essential container without a health check.
        {"name": "app", "essential": False,
         "command": loop(before="(test -f /shared/ok && echo yes || echo no) > /shared/app-saw; "),
         "dependsOn": [{"containerName": "db", "condition": "HEALTHY"}],
         "mountPoints": [{"sourceVolume": "shared", "containerPath": "/shared"}]},
    ], volumes=[{"name": "shared"}])
    arn = run(decs, task_cleanup, td)
    task = wait_running(decs, CLUSTER, arn)
    assert task["lastStatus"] == "RUNNING", task
    db, app = container(task, "db"), container(task, "app")
    assert db["healthStatus"] == "HEALTHY"
    db_info, app_info = docker_inspect(db["runtimeId"]), docker_inspect(app["runtimeId"])
    healthy_at = min(docker_time(e["End"]) for e in db_info["State"]["Health"]["Log"] if e["ExitCode"] == 0)
    assert healthy_at <= docker_time(app_info["State"]["StartedAt"])
    saw = wait_for("app's view of /shared/ok",
                   lambda: docker("exec", app["runtimeId"], "cat", "/shared/app-saw", check=False).stdout)
    assert saw.strip() == "yes"
    task = wait_task(decs, CLUSTER, arn, lambda t: t.get("healthStatus") == "HEALTHY", "task HEALTHY",
                     timeout=30)
    assert task["healthStatus"] == "HEALTHY"


# 6. UNHEALTHY ------------------------------------------------------------------------

def test_unhealthy_health_check_is_reported(docker_server, decs, task_cleanup):
    td = register(decs, unique("sick"), [
        {"name": "app", "command": loop(),
         "healthCheck": {"command": ["CMD-SHELL", "exit 1"], "interval": 5, "timeout": 2, "retries": 1}},
    ])
    arn = run(decs, task_cleanup, td)
    task = wait_task(decs, CLUSTER, arn, lambda t: t["containers"][0].get("healthStatus") == "UNHEALTHY",
                     "container UNHEALTHY")
    assert task["containers"][0]["healthStatus"] == "UNHEALTHY"
    info = docker_inspect(task["containers"][0]["runtimeId"])
    assert info["State"]["Health"]["Status"] == "unhealthy"
    assert info["Config"]["Healthcheck"]["Test"] == ["CMD-SHELL", "exit 1"]
    assert info["Config"]["Healthcheck"]["Interval"] == 5 * 10**9
    assert info["Config"]["Healthcheck"]["Retries"] == 1
    task = wait_task(decs, CLUSTER, arn, lambda t: t.get("healthStatus") == "UNHEALTHY", "task UNHEALTHY")
    assert task["healthStatus"] == "UNHEALTHY"


# 7. stop-task and stopTimeout --------------------------------------------------------

def test_stop_task_with_stop_timeout_kills_and_sigterm_handlers_exit(docker_server, decs, task_cleanup):
    family = unique("stop")
    stubborn_td = register(decs, family, [
        {"name": "app", "stopTimeout": 2,
         "command": ["sh", "-c", 'trap "" TERM; while true; do sleep 1; done']},
    ])
    polite_td = register(decs, family, [{"name": "app", "command": loop(code=42)}])
    stubborn = run(decs, task_cleanup, stubborn_td)
    polite = run(decs, task_cleanup, polite_td)
    for arn in (stubborn, polite):
        assert wait_running(decs, CLUSTER, arn)["lastStatus"] == "RUNNING"

    stopping = {}
    for arn in (stubborn, polite):
        out = decs.stop_task(cluster=CLUSTER, task=arn, reason="e2e stop")["task"]
        assert out["desiredStatus"] == "STOPPED"
        assert out["taskArn"] == arn
        stopping[arn] = time.monotonic()
        t = describe_task(decs, CLUSTER, arn)
        assert t["desiredStatus"] == "STOPPED"
        assert "stoppingAt" in t, t

    s = wait_stopped(decs, CLUSTER, stubborn, timeout=60)
    # The default stop timeout is 30 s: being done well before that shows stopTimeout 2
    # was applied (a loose bound, for a busy machine).
    assert time.monotonic() - stopping[stubborn] < 25
    assert s["containers"][0]["exitCode"] == 137
    assert s["stopCode"] == "UserInitiated"
    assert s["stoppedReason"] == "e2e stop"
    assert docker_inspect(s["containers"][0]["runtimeId"])["Config"]["StopTimeout"] == 2

    p = wait_stopped(decs, CLUSTER, polite, timeout=60)
    assert p["containers"][0]["exitCode"] == 42
    assert p["stopCode"] == "UserInitiated"


# 8. Environment, overrides, volumes, Docker settings ---------------------------------

def test_overrides_volumes_and_docker_settings(docker_server, decs, task_cleanup, tmp_path):
    host_dir = tmp_path / "shared"
    host_dir.mkdir()
    os.chmod(host_dir, 0o777)
    write = ("echo $OVERRIDDEN > /host/env; echo $FROM_DEF >> /host/env; echo $NEW >> /host/env; pwd > /host/pwd; "
             "id -u > /host/uid; ulimit -n > /host/nofile; "
             "(touch /rootfile 2>/dev/null && echo writable || echo readonly) > /host/rootfs; "
             "while [ ! -f /host/peer ]; do sleep 0.2; done; cat /host/peer > /host/app-saw-peer; ")
    td = register(decs, unique("ovr"), [
        {"name": "app", "cpu": 128, "command": ["sh", "-c", "echo not overridden > /host/wrong; sleep 1000"],
         "environment": [{"name": "FROM_DEF", "value": "def"}, {"name": "OVERRIDDEN", "value": "def"}],
         "dockerLabels": {"e2e.label": "yes", "team": "core"},
         "user": "65534", "workingDirectory": "/tmp", "readonlyRootFilesystem": True,
         "ulimits": [{"name": "nofile", "softLimit": 1024, "hardLimit": 2048}],
         "mountPoints": [{"sourceVolume": "host", "containerPath": "/host"}]},
        {"name": "peer", "essential": False, "command": loop(before="echo peer-was-here > /data/peer; "),
         "mountPoints": [{"sourceVolume": "host", "containerPath": "/data"}]},
    ], volumes=[{"name": "host", "host": {"sourcePath": str(host_dir)}}])
    override_cmd = ["sh", "-c", write + "trap 'exit 0' TERM; while true; do sleep 1; done"]
    arn = run(decs, task_cleanup, td, overrides={"containerOverrides": [{
        "name": "app", "command": override_cmd,
        "environment": [{"name": "OVERRIDDEN", "value": "over"}, {"name": "NEW", "value": "1"}],
    }]})
    task = wait_running(decs, CLUSTER, arn)
    assert task["lastStatus"] == "RUNNING", task
    assert task["overrides"]["containerOverrides"][0]["command"] == override_cmd

    wait_for("the app container's files", lambda: (host_dir / "app-saw-peer").exists())
    read = lambda name: (host_dir / name).read_text().strip()
    assert read("env").split("\n") == ["over", "def", "1"]
    assert read("pwd") == "/tmp"
    assert read("uid") == "65534"
    assert read("nofile") == "1024"
    assert read("rootfs") == "readonly"
    assert read("app-saw-peer") == "peer-was-here"
    assert not (host_dir / "wrong").exists()

    info = docker_inspect(container(task, "app")["runtimeId"])
    env = dict(e.split("=", 1) for e in info["Config"]["Env"])
    assert env["OVERRIDDEN"] == "over" and env["FROM_DEF"] == "def" and env["NEW"] == "1"
    assert info["Config"]["Cmd"] == override_cmd
    assert info["Config"]["Labels"]["e2e.label"] == "yes"
    assert info["Config"]["Labels"]["team"] == "core"
    assert info["Config"]["Labels"]["com.amazonaws.ecs.task-arn"] == arn
    assert info["Config"]["User"] == "65534"
    assert info["Config"]["WorkingDir"] == "/tmp"
    assert info["HostConfig"]["ReadonlyRootfs"] is True
    assert info["HostConfig"]["Ulimits"] == [{"Name": "nofile", "Soft": 1024, "Hard": 2048}]
    assert info["HostConfig"]["CpuShares"] == 128
    assert any(m["Source"] == str(host_dir) and m["Destination"] == "/host" for m in info["Mounts"])


# 9. Placement failures and bad input -------------------------------------------------

def test_static_host_port_conflict_is_resource_ports(docker_server, decs, task_cleanup):
    port = free_port()
    td = register(decs, unique("ports"), [
        {"name": "app", "command": loop(), "portMappings": [{"containerPort": 80, "hostPort": port}]},
    ])
    first = run(decs, task_cleanup, td)
    resp = decs.run_task(cluster=CLUSTER, taskDefinition=td)
    task_cleanup(*[t["taskArn"] for t in resp["tasks"]], ecs=decs, cluster=CLUSTER)
    assert resp["tasks"] == []
    assert [f["reason"] for f in resp["failures"]] == ["RESOURCE:PORTS"]
    assert resp["failures"][0]["arn"].startswith("arn:aws:ecs:us-east-1:000000000000:container-instance/")
    assert wait_running(decs, CLUSTER, first)["lastStatus"] == "RUNNING"


def test_task_needing_more_memory_than_the_instance_is_resource_memory(docker_server, decs, task_cleanup):
    td = register(decs, unique("big"), [{"name": "app", "memory": 4_000_000, "command": loop()}])
    resp = decs.run_task(cluster=CLUSTER, taskDefinition=td)
    task_cleanup(*[t["taskArn"] for t in resp["tasks"]], ecs=decs, cluster=CLUSTER)
    assert resp["tasks"] == []
    assert [f["reason"] for f in resp["failures"]] == ["RESOURCE:MEMORY"]
    # ECS names the container instance that could not take the task.
    assert resp["failures"][0]["arn"].startswith("arn:aws:ecs:us-east-1:000000000000:container-instance/")


def test_unknown_cluster_is_cluster_not_found(docker_server, decs, aws_cli):
    td = register(decs, unique("nocluster"), [{"name": "app", "command": loop()}])
    with pytest.raises(ClientError) as e:
        decs.run_task(cluster=unique("no-such-cluster"), taskDefinition=td)
    assert e.value.response["Error"]["Code"] == "ClusterNotFoundException"
    p = aws_cli(["ecs", "run-task", "--cluster", "no-such-cluster-e2e", "--task-definition", td,
                 *cli_args(docker_server)], extra_env=cli_env(), check=False)
    assert p.returncode != 0
    assert "ClusterNotFoundException" in p.stderr


def test_image_that_cannot_be_pulled_fails_the_task(docker_server, decs, task_cleanup):
    # Nothing listens on port 1: the pull fails at once, with no registry reachable.
    td = register(decs, unique("nopull"), [{"name": "app", "image": "127.0.0.1:1/flotilla-e2e/missing:v1",
                                            "command": loop()}])
    arn = run(decs, task_cleanup, td)
    task = wait_stopped(decs, CLUSTER, arn)
    assert task["stopCode"] == "TaskFailedToStart"
    assert task["stoppedReason"].startswith("CannotPullContainerError"), task["stoppedReason"]
    c = task["containers"][0]
    assert c["lastStatus"] == "STOPPED"
    assert c.get("reason", "").startswith("CannotPullContainerError"), c
    assert c.get("runtimeId") is None
    assert "startedAt" not in task


# 10. Container instances -------------------------------------------------------------

def docker_facts():
    out = docker("info", "--format", "{{.NCPU}} {{.MemTotal}}").stdout.split()
    return int(out[0]), int(out[1]) // (1024 * 1024)


def resources(ci, key="registeredResources"):
    return {r["name"]: r for r in ci[key]}


def test_local_agent_of_up_registers_the_machine(docker_server, decs):
    ci = instance_of(decs, CLUSTER)
    cpus, mem = docker_facts()
    res = resources(ci)
    assert res["CPU"]["integerValue"] == 1024 * cpus
    assert res["MEMORY"]["integerValue"] == mem - 256
    assert str(docker_server.port) in res["PORTS"]["stringSetValue"]
    attrs = {a["name"]: a.get("value") for a in ci["attributes"]}
    assert attrs["ecs.os-type"] == "linux"
    assert attrs["ecs.availability-zone"] == "us-east-1a"
    assert attrs["e2e.suite"] == "docker"
    assert "e2e.flag" in attrs and attrs["e2e.flag"] is None
    assert ci["agentConnected"] is True
    assert ci["status"] == "ACTIVE"
    assert ci["versionInfo"]["dockerVersion"]


def test_agent_instance_resources_counts_draining_and_deregistration(docker_server, decs, agents, task_cleanup):
    cluster = unique("ci")
    decs.create_cluster(clusterName=cluster)
    agents(docker_server.endpoint, cluster, "--cpu", "2048", "--memory", "512", "--availability-zone", "us-east-1c",
           "--attribute", "color=blue", "--attribute", "gpu")
    ci = instance_of(decs, cluster)
    arn = ci["containerInstanceArn"]
    res = resources(ci)
    assert res["CPU"]["integerValue"] == 2048
    assert res["MEMORY"]["integerValue"] == 512
    assert res["PORTS"]["type"] == "STRINGSET"
    assert "22" in res["PORTS"]["stringSetValue"]
    attrs = {a["name"]: a.get("value") for a in ci["attributes"]}
    assert attrs["ecs.availability-zone"] == "us-east-1c"
    assert attrs["ecs.os-type"] == "linux"
    assert attrs["color"] == "blue"
    assert "gpu" in attrs
    assert ci["agentConnected"] is True
    assert ci["runningTasksCount"] == 0 and ci["pendingTasksCount"] == 0

    family = unique("cifam")
    td = register(decs, family, [{"name": "app", "memory": 200, "cpu": 256, "command": loop()}])
    big = register(decs, family, [{"name": "app", "memory": 400, "command": loop()}])
    task = run(decs, task_cleanup, td, cluster=cluster)
    assert wait_running(decs, cluster, task)["lastStatus"] == "RUNNING"
    ci = decs.describe_container_instances(cluster=cluster, containerInstances=[arn])["containerInstances"][0]
    assert ci["runningTasksCount"] == 1
    assert resources(ci, "remainingResources")["MEMORY"]["integerValue"] == 312
    assert resources(ci, "remainingResources")["CPU"]["integerValue"] == 2048 - 256
    # 400 MiB more does not fit in what remains.
    resp = decs.run_task(cluster=cluster, taskDefinition=big)
    task_cleanup(*[t["taskArn"] for t in resp["tasks"]], ecs=decs, cluster=cluster)
    assert resp["tasks"] == []
    assert [f["reason"] for f in resp["failures"]] == ["RESOURCE:MEMORY"]
    assert decs.list_tasks(cluster=cluster, containerInstance=arn)["taskArns"] == [task]

    # Deregistering with a running task needs force.
    with pytest.raises(ClientError) as e:
        decs.deregister_container_instance(cluster=cluster, containerInstance=arn)
    print("deregister without force:", e.value.response["Error"])
    assert e.value.response["Error"]["Code"] in ("InvalidParameterException", "ClientException")

    # DRAINING: no new placements.
    out = decs.update_container_instances_state(cluster=cluster, containerInstances=[arn], status="DRAINING")
    assert out["containerInstances"][0]["status"] == "DRAINING"
    assert decs.list_container_instances(cluster=cluster, status="DRAINING")["containerInstanceArns"] == [arn]
    small = register(decs, family, [{"name": "app", "memory": 16, "command": loop()}])
    try:
        resp = decs.run_task(cluster=cluster, taskDefinition=small)
        print("run-task on a DRAINING instance:", resp["tasks"], resp["failures"])
        task_cleanup(*[t["taskArn"] for t in resp["tasks"]], ecs=decs, cluster=cluster)
        assert resp["tasks"] == [], "a task was placed on a DRAINING instance"
        assert resp["failures"], resp
    except ClientError as err:
        print("run-task on a DRAINING instance:", err.response["Error"])
        assert err.response["Error"]["Code"] in ("InvalidParameterException", "ClientException")

    out = decs.deregister_container_instance(cluster=cluster, containerInstance=arn, force=True)
    assert out["containerInstance"]["status"] == "INACTIVE"
    assert decs.list_container_instances(cluster=cluster)["containerInstanceArns"] == []


# Task metadata endpoint v4 -----------------------------------------------------------

METADATA = r'''
u=${ECS_CONTAINER_METADATA_URI_V4#http://}; hp=${u%%/*}; path=/${u#*/}
get() { (printf "GET $path$1 HTTP/1.0\r\nHost: $hp\r\n\r\n"; sleep 1) | nc -w 5 ${hp%:*} ${hp#*:} > /out/$2.tmp; mv /out/$2.tmp /out/$2; }
echo "$ECS_CONTAINER_METADATA_URI_V4" > /out/uri
get "" container; get /task task; get /stats stats
'''


def http_body(raw):
    head, _, body = raw.partition("\r\n\r\n")
    assert head.startswith("HTTP/1") and " 200 " in head.splitlines()[0], head
    return json.loads(body)


def test_task_metadata_endpoint_v4_from_inside_the_container(docker_server, decs, task_cleanup, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    os.chmod(out, 0o777)
    family = unique("meta")
    td = register(decs, family, [{
        "name": "app", "command": loop(before=METADATA),
        "mountPoints": [{"sourceVolume": "out", "containerPath": "/out"}],
    }], volumes=[{"name": "out", "host": {"sourcePath": str(out)}}])
    arn = run(decs, task_cleanup, td)
    task = wait_running(decs, CLUSTER, arn)
    runtime_id = task["containers"][0]["runtimeId"]
    wait_for("the container's metadata reads", lambda: (out / "stats").exists())
    assert (out / "uri").read_text().strip().startswith("http://")
    # Read by the container as soon as it started: its own Docker id is known by then.
    me = http_body((out / "container").read_bytes().decode())
    assert me["DockerId"] == runtime_id, me
    assert me["Name"] == "app"
    assert me["Image"] == BUSYBOX_IMAGE
    assert me["Labels"]["com.amazonaws.ecs.task-arn"] == arn
    t = http_body((out / "task").read_bytes().decode())
    assert t["TaskARN"] == arn
    assert t["Family"] == family
    assert str(t["Revision"]) == "1"
    assert t["Cluster"] in (CLUSTER, "arn:aws:ecs:us-east-1:000000000000:cluster/default")
    assert [c["DockerId"] for c in t["Containers"]] == [runtime_id]
    stats = http_body((out / "stats").read_bytes().decode())
    assert "memory_stats" in stats and "cpu_stats" in stats, list(stats)
