"""Resilience of tasks on real containers (issue 3): the agent and the control plane
are `kill -9`ed and restarted while tasks run; containers are never restarted or run
twice, and what was asked meanwhile is carried out. Each test runs `flotilla server`
and a separate `flotilla agent` of its own.
"""

import os

import pytest

from conftest import (
    BUSYBOX_IMAGE,
    containers_of_task,
    describe_task,
    docker,
    docker_inspect,
    instance_of,
    unique,
    wait_for,
    wait_running,
    wait_stopped,
)

LOOP = ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]


@pytest.fixture
def control_plane(busybox_image, fresh_server):
    """`flotilla server` alone (no local agent) with a cluster of the test's own."""
    srv = fresh_server(command="server")
    cluster = unique("res")
    srv.client().create_cluster(clusterName=cluster)
    return srv, cluster


def register(ecs, family, containers, **kwargs):
    for c in containers:
        c.setdefault("image", BUSYBOX_IMAGE)
        c.setdefault("memory", 32)
    return ecs.register_task_definition(family=family, containerDefinitions=containers,
                                        **kwargs)["taskDefinition"]["taskDefinitionArn"]


def run(ecs, cluster, td, track):
    resp = ecs.run_task(cluster=cluster, taskDefinition=td)
    for t in resp["tasks"]:
        track(t["taskArn"], ecs=ecs, cluster=cluster)
    assert resp["failures"] == [], resp["failures"]
    return resp["tasks"][0]["taskArn"]


def running_container(ecs, cluster, arn, agent=None):
    try:
        task = wait_running(ecs, cluster, arn)
    except AssertionError as e:
        raise AssertionError(f"{e}\nagent log:\n{agent.read_log()[-3000:] if agent else ''}") from None
    assert task["lastStatus"] == "RUNNING", task
    c = task["containers"][0]
    info = docker_inspect(c["runtimeId"])
    assert info["State"]["Running"] is True
    return task, info


def test_agent_kill_9_and_restart_adopts_running_containers(control_plane, agents, task_cleanup):
    srv, cluster = control_plane
    ecs = srv.client()
    agent = agents(srv.endpoint, cluster, "--memory", "512")
    instance = instance_of(ecs, cluster)["containerInstanceArn"]
    td = register(ecs, unique("adopt"), [{"name": "app", "command": LOOP}])
    keep = run(ecs, cluster, td, task_cleanup)
    stop_later = run(ecs, cluster, td, task_cleanup)
    keep_task, keep_info = running_container(ecs, cluster, keep, agent)
    stop_task, stop_info = running_container(ecs, cluster, stop_later, agent)

    agent.kill9()
    # The containers outlive the agent, and the control plane still has the tasks RUNNING.
    assert docker_inspect(keep_info["Id"])["State"]["Running"] is True
    assert describe_task(ecs, cluster, keep)["lastStatus"] == "RUNNING"
    # A stop asked for while the agent is away...
    out = ecs.stop_task(cluster=cluster, task=stop_later, reason="stopped while the agent was down")["task"]
    assert out["desiredStatus"] == "STOPPED"
    assert docker_inspect(stop_info["Id"])["State"]["Running"] is True

    agent.start()
    # ...is carried out once it is back.
    stopped = wait_stopped(ecs, cluster, stop_later)
    assert stopped["stopCode"] == "UserInitiated"
    assert stopped["stoppedReason"] == "stopped while the agent was down"
    assert stopped["containers"][0]["runtimeId"] == stop_info["Id"]
    assert stopped["containers"][0]["exitCode"] == 0
    assert docker_inspect(stop_info["Id"])["State"]["Running"] is False

    # The other task was adopted, not restarted: same container, same start, one container.
    task = describe_task(ecs, cluster, keep)
    assert task["lastStatus"] == "RUNNING"
    assert task["containers"][0]["runtimeId"] == keep_info["Id"]
    assert task["containers"][0]["lastStatus"] == "RUNNING"
    info = docker_inspect(keep_info["Id"])
    assert info["State"]["Running"] is True
    assert info["State"]["StartedAt"] == keep_info["State"]["StartedAt"]
    assert info["RestartCount"] == 0
    assert containers_of_task(keep) == [keep_info["Id"]]
    # Same instance identity after the restart, no second registration.
    assert ecs.list_container_instances(cluster=cluster)["containerInstanceArns"] == [instance]
    ci = ecs.describe_container_instances(cluster=cluster, containerInstances=[instance])["containerInstances"][0]
    assert ci["agentConnected"] is True
    assert ci["runningTasksCount"] == 1

    # And the adopted task is still under control.
    ecs.stop_task(cluster=cluster, task=keep)
    done = wait_stopped(ecs, cluster, keep)
    assert done["stopCode"] == "UserInitiated"
    assert done["containers"][0]["exitCode"] == 0


def test_control_plane_kill_9_and_restart_keeps_everything_consistent(control_plane, agents, task_cleanup,
                                                                       tmp_path):
    srv, cluster = control_plane
    ecs = srv.client()
    gate = tmp_path / "gate"
    gate.mkdir()
    os.chmod(gate, 0o777)
    agent = agents(srv.endpoint, cluster, "--memory", "512")
    instance = instance_of(ecs, cluster)["containerInstanceArn"]
    family = unique("cp")
    td = register(ecs, family, [{"name": "app", "command": LOOP}])
    # Exits with 7 once told to (through a file), i.e. while the control plane is down.
    gated = register(ecs, family, [{
        "name": "app", "command": ["sh", "-c", "while [ ! -f /gate/go ]; do sleep 0.2; done; exit 7"],
        "mountPoints": [{"sourceVolume": "gate", "containerPath": "/gate"}],
    }], volumes=[{"name": "gate", "host": {"sourcePath": str(gate)}}])
    keep = run(ecs, cluster, td, task_cleanup)
    exits = run(ecs, cluster, gated, task_cleanup)
    keep_task, keep_info = running_container(ecs, cluster, keep, agent)
    _, exit_info = running_container(ecs, cluster, exits, agent)

    srv.kill9()
    (gate / "go").write_text("go")
    wait_for("the gated container to exit", lambda: not docker_inspect(exit_info["Id"])["State"]["Running"])
    assert docker_inspect(keep_info["Id"])["State"]["Running"] is True
    srv.start()
    ecs = srv.client()

    # The agent reconnects and reports what happened while the control plane was away.
    ended = wait_stopped(ecs, cluster, exits)
    assert ended["stopCode"] == "EssentialContainerExited"
    assert ended["containers"][0]["exitCode"] == 7
    ci = ecs.describe_container_instances(cluster=cluster, containerInstances=[instance])["containerInstances"][0]
    assert ci["agentConnected"] is True
    assert ecs.list_container_instances(cluster=cluster)["containerInstanceArns"] == [instance]

    task = describe_task(ecs, cluster, keep)
    assert task["lastStatus"] == "RUNNING"
    assert task["containers"][0]["runtimeId"] == keep_info["Id"]
    info = docker_inspect(keep_info["Id"])
    assert info["State"]["StartedAt"] == keep_info["State"]["StartedAt"]
    assert containers_of_task(keep) == [keep_info["Id"]]

    # New work is placed and started through the reconnected agent.
    fresh = run(ecs, cluster, td, task_cleanup)
    running_container(ecs, cluster, fresh, agent)

    for arn in (keep, fresh):
        ecs.stop_task(cluster=cluster, task=arn)
    for arn in (keep, fresh):
        assert wait_stopped(ecs, cluster, arn)["stopCode"] == "UserInitiated"
    assert containers_of_task(keep) == [keep_info["Id"]]
    assert docker_inspect(keep_info["Id"])["State"]["Running"] is False


@pytest.mark.once
def test_containers_of_stopped_tasks_are_removed_after_the_cleanup_delay(control_plane, agents, task_cleanup):
    srv, cluster = control_plane
    ecs = srv.client()
    agents(srv.endpoint, cluster, "--memory", "512", "--cleanup-after", "1")
    instance_of(ecs, cluster)
    td = register(ecs, unique("gc"), [{
        "name": "app", "command": ["sh", "-c", "echo x > /scratch/x; exit 0"],
        "mountPoints": [{"sourceVolume": "scratch", "containerPath": "/scratch"}],
    }], volumes=[{"name": "scratch", "dockerVolumeConfiguration": {"scope": "task", "driver": "local"}}])
    arn = run(ecs, cluster, td, task_cleanup)
    task = wait_stopped(ecs, cluster, arn)
    assert task["containers"][0].get("runtimeId")
    assert task["containers"][0]["exitCode"] == 0
    volume = f"ecs-{arn.rsplit('/', 1)[1]}-scratch"
    assert any(m.get("Name") == volume for m in docker_inspect(task["containers"][0]["runtimeId"])["Mounts"])
    # The agent sweeps every few seconds, between polls (which last up to 20 s).
    wait_for("the stopped task's container to be removed", lambda: containers_of_task(arn) == [], timeout=90)
    assert describe_task(ecs, cluster, arn)["lastStatus"] == "STOPPED"
    # A task-scoped Docker volume lives and dies with its task (ECS destroys it when the
    # task stops); it must not outlive the cleanup.
    assert docker("volume", "ls", "-q", "--filter", f"name={volume}").stdout.split() == []


@pytest.mark.skipif(os.environ.get("FLOTILLA_E2E_SLOW") != "1",
                    reason="waits out the 60 s heartbeat timeout; set FLOTILLA_E2E_SLOW=1 to run")
def test_agent_connected_turns_false_when_heartbeats_stop(control_plane, agents):
    srv, cluster = control_plane
    ecs = srv.client()
    agent = agents(srv.endpoint, cluster, "--memory", "512")
    arn = instance_of(ecs, cluster)["containerInstanceArn"]
    agent.kill9()

    def disconnected():
        ci = ecs.describe_container_instances(cluster=cluster, containerInstances=[arn])["containerInstances"][0]
        return not ci["agentConnected"]

    wait_for("agentConnected false", disconnected, timeout=180, interval=2)
    agent.start()
    wait_for("agentConnected true again", lambda: not disconnected(), timeout=60)
