"""Placement end to end: the real control plane with several simulated agents
(`flotilla agent --runtime simulated`), driven by boto3 from many threads at once.

Checks that strategies and constraints are honoured as ECS documents them and that
concurrent RunTask calls never overcommit an instance's memory or a host port.
"""

import subprocess
import threading
import time
from collections import Counter

import pytest

from conftest import ACCESS_KEY, FLOTILLA_BIN, SECRET_KEY, unique

ZONES = ["us-east-1a", "us-east-1b", "us-east-1c"]
MEMORY = 1024


@pytest.fixture
def cluster(fresh_server, tmp_path):
    """A control plane with three simulated agents, one per zone; the one in
    us-east-1c carries the attribute stack=prod."""
    srv = fresh_server(command="server")
    ecs = srv.client()
    ecs.create_cluster(clusterName="default")
    agents = []
    for i, zone in enumerate(ZONES):
        args = [FLOTILLA_BIN, "agent", "--endpoint", srv.endpoint, "--cluster", "default",
                "--state-dir", str(tmp_path / f"agent{i}"), "--runtime", "simulated",
                "--availability-zone", zone, "--instance-type", "t3.small" if i < 2 else "m5.large",
                "--cpu", "4096", "--memory", str(MEMORY), "--metadata-port", "0"]
        if zone == "us-east-1c":
            args += ["--attribute", "stack=prod"]
        env = {**srv.env(), "FLOTILLA_ROOT_ACCESS_KEY_ID": ACCESS_KEY, "FLOTILLA_ROOT_SECRET_ACCESS_KEY": SECRET_KEY}
        log = open(tmp_path / f"agent{i}.log", "wb")
        agents.append((subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT), log))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if len(ecs.list_container_instances(cluster="default")["containerInstanceArns"]) == 3:
            break
        time.sleep(0.2)
    else:
        pytest.fail("the three simulated agents did not register")
    yield srv, ecs
    for proc, log in agents:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def instances(ecs):
    arns = ecs.list_container_instances(cluster="default")["containerInstanceArns"]
    described = ecs.describe_container_instances(cluster="default", containerInstances=arns)["containerInstances"]
    return {ci["containerInstanceArn"]: ci for ci in described}


def zone_of(ci):
    return next(a["value"] for a in ci["attributes"] if a["name"] == "ecs.availability-zone")


def register(ecs, memory, **extra):
    family = unique("place")
    ecs.register_task_definition(family=family, containerDefinitions=[
        {"name": "app", "image": "flotilla-test/busybox:latest", "memory": memory, **extra}])
    return family


def test_spread_across_zones_then_binpack(cluster):
    _, ecs = cluster
    family = register(ecs, 64)
    out = ecs.run_task(cluster="default", taskDefinition=family, count=6, placementStrategy=[
        {"type": "spread", "field": "attribute:ecs.availability-zone"}, {"type": "binpack", "field": "memory"}])
    assert out["failures"] == []
    by_arn = instances(ecs)
    zones = Counter(zone_of(by_arn[t["containerInstanceArn"]]) for t in out["tasks"])
    assert zones == Counter({z: 2 for z in ZONES})


def test_member_of_and_distinct_instance(cluster):
    _, ecs = cluster
    family = register(ecs, 32)
    out = ecs.run_task(cluster="default", taskDefinition=family, count=3, placementConstraints=[
        {"type": "memberOf", "expression": "attribute:stack == prod"}])
    by_arn = instances(ecs)
    assert {zone_of(by_arn[t["containerInstanceArn"]]) for t in out["tasks"]} == {"us-east-1c"}

    out = ecs.run_task(cluster="default", taskDefinition=family, count=3, group=unique("g"), placementConstraints=[
        {"type": "memberOf", "expression": "attribute:ecs.instance-type =~ t3.* and not (attribute:stack exists)"},
        {"type": "distinctInstance"}])
    placed = [t["containerInstanceArn"] for t in out["tasks"]]
    assert len(placed) == 2 and len(set(placed)) == 2
    assert all(zone_of(by_arn[a]) != "us-east-1c" for a in placed)
    assert out["failures"], "the third task has nowhere to go"

    filtered = ecs.list_container_instances(cluster="default", filter="attribute:ecs.availability-zone in [us-east-1a, us-east-1b]")
    assert len(filtered["containerInstanceArns"]) == 2


def test_invalid_expression_says_where(cluster):
    _, ecs = cluster
    family = register(ecs, 32)
    with pytest.raises(ecs.exceptions.InvalidParameterException) as e:
        ecs.run_task(cluster="default", taskDefinition=family, placementConstraints=[
            {"type": "memberOf", "expression": "attribute:ecs.instance-type =~ (t3.*"}])
    assert "column" in str(e.value)


def test_concurrent_clients_never_overcommit(cluster):
    """Twelve clients race to run 128 MiB tasks and 16 MiB tasks on host port 8080;
    capacity is 3 × 1024 MiB and one port 8080 per instance."""
    _, ecs_main = cluster
    family = register(ecs_main, 128)
    port_family = register(ecs_main, 16, portMappings=[{"containerPort": 80, "hostPort": 8080}])
    results, errors = [], []
    lock = threading.Lock()

    def client(i):
        ecs = cluster[0].client()
        try:
            for _ in range(3):
                out = ecs.run_task(cluster="default", taskDefinition=family if i % 2 else port_family, count=2)
                with lock:
                    results.extend((t["containerInstanceArn"], t["taskDefinitionArn"]) for t in out["tasks"])
        except Exception as e:  # noqa: BLE001 - collected and reported below
            with lock:
                errors.append(e)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    memory = Counter()
    ports = Counter()
    for arn, td in results:
        if f"/{port_family}:" in td:
            memory[arn] += 16
            ports[arn] += 1
        else:
            memory[arn] += 128
    assert all(used <= MEMORY for used in memory.values()), memory
    assert all(n <= 1 for n in ports.values()), f"host port 8080 given twice on one instance: {ports}"
    assert sum(ports.values()) >= 1
    for arn, ci in instances(ecs_main).items():
        remaining = next(r["integerValue"] for r in ci["remainingResources"] if r["name"] == "MEMORY")
        assert remaining == MEMORY - memory[arn]
