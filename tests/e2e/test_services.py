"""Services end to end on simulated agents: the real control plane and real agent
processes (`--runtime simulated`), driven by boto3 and its waiters.

Covers the replica scheduler reaching and keeping a steady state, rolling updates
within minimumHealthyPercent/maximumPercent (sampled throughout), scaling, deletion,
the daemon scheduler across instances that join later, draining, the service
deployment views, and the errors of the service operations.
"""

import threading
import time

import pytest
from botocore.exceptions import ClientError

from conftest import unique, wait_for

CLUSTER = "default"
WAIT = {"Delay": 1, "MaxAttempts": 120}


@pytest.fixture
def sim(fresh_server, agents):
    """A control plane with two simulated agents in different zones; returns
    (server, ecs client, start_agent(zone) -> Agent)."""
    srv = fresh_server(command="server")
    ecs = srv.client()
    ecs.create_cluster(clusterName=CLUSTER)
    started = []

    def start_agent(zone):
        a = agents(srv.endpoint, CLUSTER, "--runtime", "simulated", "--availability-zone", zone,
                   "--cpu", "4096", "--memory", "4096", "--metadata-port", "0")
        started.append(a)
        wait_for(f"{len(started)} instances", lambda: len(
            ecs.list_container_instances(cluster=CLUSTER)["containerInstanceArns"]) >= len(started), 60)
        return a

    start_agent("us-east-1a")
    start_agent("us-east-1b")
    return srv, ecs, start_agent


def register(ecs, family=None, image="app:1", memory=64):
    family = family or unique("svc")
    td = ecs.register_task_definition(family=family, containerDefinitions=[
        {"name": "app", "image": image, "memory": memory, "essential": True}])["taskDefinition"]
    return td["taskDefinitionArn"]


def describe(ecs, name):
    return ecs.describe_services(cluster=CLUSTER, services=[name])["services"][0]


def service_tasks(ecs, name, status="RUNNING"):
    arns = ecs.list_tasks(cluster=CLUSTER, serviceName=name, desiredStatus=status)["taskArns"]
    if not arns:
        return []
    return ecs.describe_tasks(cluster=CLUSTER, tasks=arns)["tasks"]


def wait_stable(ecs, name):
    ecs.get_waiter("services_stable").wait(cluster=CLUSTER, services=[name], WaiterConfig=WAIT)
    return describe(ecs, name)


def test_a_replica_service_reaches_a_steady_state(sim):
    _, ecs, _ = sim
    td = register(ecs)
    name = unique("web")
    created = ecs.create_service(cluster=CLUSTER, serviceName=name, taskDefinition=td, desiredCount=3,
                                 tags=[{"key": "team", "value": "a"}])["service"]
    assert created["status"] == "ACTIVE"
    assert created["schedulingStrategy"] == "REPLICA"
    assert created["availabilityZoneRebalancing"] == "ENABLED"
    assert created["deploymentConfiguration"]["maximumPercent"] == 200
    assert created["deploymentConfiguration"]["minimumHealthyPercent"] == 100
    assert created["tags"] == [{"key": "team", "value": "a"}]
    [deployment] = created["deployments"]
    assert deployment["status"] == "PRIMARY" and deployment["rolloutState"] == "IN_PROGRESS"
    assert deployment["id"].startswith("ecs-svc/")

    svc = wait_stable(ecs, name)
    assert (svc["runningCount"], svc["pendingCount"], svc["desiredCount"]) == (3, 0, 3)
    [deployment] = svc["deployments"]
    assert deployment["rolloutState"] == "COMPLETED"
    messages = [e["message"] for e in svc["events"]]
    assert f"(service {name}) has reached a steady state." in messages
    assert any(m.startswith(f"(service {name}) has started 3 tasks:") for m in messages)

    tasks = service_tasks(ecs, name)
    assert len(tasks) == 3
    assert {t["group"] for t in tasks} == {f"service:{name}"}
    assert {t["startedBy"] for t in tasks} == {deployment["id"]}
    assert name in ecs.list_services(cluster=CLUSTER)["serviceArns"][0] or any(
        a.endswith(f"/{name}") for a in ecs.list_services(cluster=CLUSTER)["serviceArns"])
    cluster = ecs.describe_clusters(clusters=[CLUSTER])["clusters"][0]
    assert cluster["activeServicesCount"] == 1


def test_a_stopped_task_is_replaced(sim):
    _, ecs, _ = sim
    name = unique("web")
    ecs.create_service(cluster=CLUSTER, serviceName=name, taskDefinition=register(ecs), desiredCount=2)
    wait_stable(ecs, name)
    victim = service_tasks(ecs, name)[0]["taskArn"]
    ecs.stop_task(cluster=CLUSTER, task=victim, reason="chaos")
    wait_for("a replacement", lambda: len([t for t in service_tasks(ecs, name)
                                           if t["taskArn"] != victim and t["lastStatus"] == "RUNNING"]) == 2, 60)
    svc = wait_stable(ecs, name)
    assert svc["runningCount"] == 2
    assert svc["deployments"][0]["failedTasks"] == 0, "a user's stop is not a failure"


def test_a_rolling_update_never_drops_below_the_minimum_healthy(sim):
    _, ecs, _ = sim
    family = unique("roll")
    first = register(ecs, family, image="app:1")
    name = unique("web")
    ecs.create_service(cluster=CLUSTER, serviceName=name, taskDefinition=first, desiredCount=3,
                       deploymentConfiguration={"minimumHealthyPercent": 100, "maximumPercent": 200})
    wait_stable(ecs, name)
    second = register(ecs, family, image="app:2")

    samples, errors, stop = [], [], threading.Event()
    client = sim[0].client()  # made here: creating boto3 clients is not thread-safe

    def sample():
        deadline = time.monotonic() + 300
        while not stop.is_set() and time.monotonic() < deadline and len(samples) < 20_000:
            try:
                running = client.list_tasks(cluster=CLUSTER, serviceName=name, desiredStatus="RUNNING")["taskArns"]
                tasks = client.describe_tasks(cluster=CLUSTER, tasks=running)["tasks"] if running else []
            except Exception as e:  # noqa: BLE001 - reported below, never lost with the thread
                errors.append(repr(e))
                return
            samples.append(sum(1 for t in tasks if t["lastStatus"] == "RUNNING" and t["desiredStatus"] == "RUNNING"))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        updated = ecs.update_service(cluster=CLUSTER, service=name, taskDefinition=second)["service"]
        assert [d["status"] for d in updated["deployments"]] == ["PRIMARY", "ACTIVE"]
        svc = wait_stable(ecs, name)
    finally:
        stop.set()
        sampler.join()
    assert not errors, errors
    assert len(samples) >= 5, samples
    assert min(samples) >= 3, f"fewer than 3 healthy tasks during the update: {samples}"
    assert max(samples) <= 6, f"more than 200% running: {samples}"
    [deployment] = svc["deployments"]
    assert deployment["taskDefinition"] == second
    assert {t["taskDefinitionArn"] for t in service_tasks(ecs, name)} == {second}

    listed = ecs.list_service_deployments(cluster=CLUSTER, service=name)["serviceDeployments"]
    assert [d["status"] for d in listed] == ["SUCCESSFUL", "SUCCESSFUL"]
    described = ecs.describe_service_deployments(serviceDeploymentArns=[listed[0]["serviceDeploymentArn"]])
    current = described["serviceDeployments"][0]
    assert current["targetServiceRevision"]["arn"] == listed[0]["targetServiceRevisionArn"]
    assert current["sourceServiceRevisions"][0]["arn"] == listed[1]["targetServiceRevisionArn"]
    revisions = ecs.describe_service_revisions(serviceRevisionArns=[current["targetServiceRevision"]["arn"]])
    revision = revisions["serviceRevisions"][0]
    assert revision["taskDefinition"] == second
    assert revision["containerImages"][0]["containerName"] == "app"
    assert svc["currentServiceDeployment"] == listed[0]["serviceDeploymentArn"]


def test_scaling_and_deleting_a_service(sim):
    _, ecs, _ = sim
    name = unique("web")
    ecs.create_service(cluster=CLUSTER, serviceName=name, taskDefinition=register(ecs), desiredCount=1)
    wait_stable(ecs, name)
    ecs.update_service(cluster=CLUSTER, service=name, desiredCount=4)
    assert wait_stable(ecs, name)["runningCount"] == 4
    ecs.update_service(cluster=CLUSTER, service=name, desiredCount=2)
    svc = wait_stable(ecs, name)
    assert svc["runningCount"] == 2
    stopped = service_tasks(ecs, name, "STOPPED")
    assert len(stopped) == 2
    assert {t["stopCode"] for t in stopped} == {"ServiceSchedulerInitiated"}
    assert all(t["stoppedReason"].startswith("Scaling activity initiated by (deployment ecs-svc/") for t in stopped)

    with pytest.raises(ClientError) as e:
        ecs.delete_service(cluster=CLUSTER, service=name)
    assert e.value.response["Error"]["Code"] == "InvalidParameterException"
    deleted = ecs.delete_service(cluster=CLUSTER, service=name, force=True)["service"]
    assert deleted["status"] == "DRAINING"
    ecs.get_waiter("services_inactive").wait(cluster=CLUSTER, services=[name], WaiterConfig=WAIT)
    assert not service_tasks(ecs, name)
    assert all(not a.endswith(f"/{name}") for a in ecs.list_services(cluster=CLUSTER)["serviceArns"])
    # The name is free again.
    again = ecs.create_service(cluster=CLUSTER, serviceName=name, taskDefinition=register(ecs), desiredCount=0)
    assert again["service"]["status"] == "ACTIVE"


def test_a_daemon_service_covers_every_instance_including_new_ones(sim):
    _, ecs, start_agent = sim
    name = unique("daemon")
    created = ecs.create_service(cluster=CLUSTER, serviceName=name, taskDefinition=register(ecs),
                                 schedulingStrategy="DAEMON")["service"]
    assert created["deploymentConfiguration"]["maximumPercent"] == 100
    svc = wait_stable(ecs, name)
    assert (svc["desiredCount"], svc["runningCount"]) == (2, 2)
    assert len({t["containerInstanceArn"] for t in service_tasks(ecs, name)}) == 2

    start_agent("us-east-1c")
    wait_for("a task on the third instance",
             lambda: len({t["containerInstanceArn"] for t in service_tasks(ecs, name)
                          if t["lastStatus"] == "RUNNING"}) == 3, 60)
    assert wait_stable(ecs, name)["desiredCount"] == 3


def test_draining_an_instance_moves_service_tasks_first(sim):
    _, ecs, _ = sim
    name = unique("web")
    ecs.create_service(cluster=CLUSTER, serviceName=name, taskDefinition=register(ecs), desiredCount=4,
                       placementStrategy=[{"type": "spread", "field": "instanceId"}])
    wait_stable(ecs, name)
    tasks = service_tasks(ecs, name)
    instance = tasks[0]["containerInstanceArn"]
    on_it = {t["taskArn"] for t in tasks if t["containerInstanceArn"] == instance}
    assert on_it
    ecs.update_container_instances_state(cluster=CLUSTER, containerInstances=[instance], status="DRAINING")
    wait_for("the drained instance to empty",
             lambda: all(t["containerInstanceArn"] != instance for t in service_tasks(ecs, name)), 60)
    svc = wait_stable(ecs, name)
    assert svc["runningCount"] == 4
    stopped = ecs.describe_tasks(cluster=CLUSTER, tasks=list(on_it))["tasks"]
    assert {t["stopCode"] for t in stopped} == {"ServiceSchedulerInitiated"}


def test_stopping_a_deployment_rolls_back(sim):
    _, ecs, _ = sim
    family = unique("stop")
    name = unique("web")
    first = register(ecs, family)
    ecs.create_service(cluster=CLUSTER, serviceName=name, taskDefinition=first, desiredCount=2)
    wait_stable(ecs, name)
    # A revision too large for any instance never starts: its deployment stays in progress.
    too_big = register(ecs, family, memory=100_000)
    ecs.update_service(cluster=CLUSTER, service=name, taskDefinition=too_big)
    wait_for("an event about placement", lambda: any(
        "was unable to place a task" in e["message"] for e in describe(ecs, name)["events"]), 30)
    current = ecs.list_service_deployments(cluster=CLUSTER, service=name, status=["IN_PROGRESS"])
    arn = current["serviceDeployments"][0]["serviceDeploymentArn"]
    ecs.stop_service_deployment(serviceDeploymentArn=arn)
    svc = wait_stable(ecs, name)
    assert svc["taskDefinition"] == first
    described = ecs.describe_service_deployments(serviceDeploymentArns=[arn])["serviceDeployments"][0]
    assert described["status"] == "ROLLBACK_SUCCESSFUL"
    assert described["rollback"]["serviceRevisionArn"]
    with pytest.raises(ClientError) as e:
        ecs.stop_service_deployment(serviceDeploymentArn=arn)
    assert e.value.response["Error"]["Code"] == "ConflictException"


def test_service_errors_are_aws_shaped(sim):
    _, ecs, _ = sim
    td = register(ecs)

    def code(call, **kwargs):
        with pytest.raises(ClientError) as e:
            call(**kwargs)
        return e.value.response["Error"]["Code"], e.value.response["Error"]["Message"]

    assert code(ecs.create_service, cluster=CLUSTER, serviceName="bad name!", taskDefinition=td,
                desiredCount=1)[0] == "InvalidParameterException"
    assert code(ecs.create_service, cluster=CLUSTER, serviceName="x", taskDefinition=td)[0] == \
        "InvalidParameterException"
    assert code(ecs.create_service, cluster=CLUSTER, serviceName="x", taskDefinition="nope:1",
                desiredCount=1)[0] == "InvalidParameterException"
    assert code(ecs.create_service, cluster="missing", serviceName="x", taskDefinition=td,
                desiredCount=1)[0] == "ClusterNotFoundException"
    assert code(ecs.create_service, cluster=CLUSTER, serviceName="x", taskDefinition=td, desiredCount=1,
                deploymentConfiguration={"minimumHealthyPercent": 150})[0] == "InvalidParameterException"
    assert code(ecs.create_service, cluster=CLUSTER, serviceName="x", taskDefinition=td, desiredCount=1,
                launchType="FARGATE")[0] == "InvalidParameterException"  # not a Fargate definition
    assert code(ecs.create_service, cluster=CLUSTER, serviceName="x", taskDefinition=td,
                schedulingStrategy="DAEMON", placementStrategy=[{"type": "random"}])[0] == \
        "InvalidParameterException"
    for config, expected in [
        ({"strategy": "PURPLE"}, "InvalidParameterException"),
        ({"strategy": "BLUE_GREEN"}, "InvalidParameterException"),  # bakeTimeInMinutes is required
        ({"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 1441}, "InvalidParameterException"),
        ({"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 1,
          "linearConfiguration": {"stepPercent": 10.0}}, "InvalidParameterException"),
        ({"strategy": "LINEAR", "linearConfiguration": {"stepPercent": 2.0}}, "InvalidParameterException"),
        ({"strategy": "CANARY", "canaryConfiguration": {"canaryPercent": 5.05}}, "InvalidParameterException"),
        ({"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 1, "lifecycleHooks": [
            {"targetType": "PAUSE", "lifecycleStages": ["POST_SCALE_UP"]}]}, "UnsupportedFeatureException"),
    ]:
        assert code(ecs.create_service, cluster=CLUSTER, serviceName="x", taskDefinition=td, desiredCount=1,
                    deploymentConfiguration=config)[0] == expected, config
    assert code(ecs.create_service, cluster=CLUSTER, serviceName="x", taskDefinition=td,
                schedulingStrategy="DAEMON", deploymentConfiguration={
                    "strategy": "CANARY", "maximumPercent": 100})[0] == "InvalidParameterException"
    canary = ecs.create_service(cluster=CLUSTER, serviceName="canary", taskDefinition=td, desiredCount=0,
                                deploymentConfiguration={"strategy": "CANARY"})["service"]
    assert canary["deploymentConfiguration"]["canaryConfiguration"] == {
        "canaryPercent": 5.0, "canaryBakeTimeInMinutes": 10}
    ecs.delete_service(cluster=CLUSTER, service="canary")
    ecs.create_service(cluster=CLUSTER, serviceName="dup", taskDefinition=td, desiredCount=0)
    assert code(ecs.create_service, cluster=CLUSTER, serviceName="dup", taskDefinition=td, desiredCount=0) == \
        ("InvalidParameterException", "Creation of service was not idempotent.")
    assert code(ecs.update_service, cluster=CLUSTER, service="ghost", desiredCount=1)[0] == \
        "ServiceNotFoundException"
    assert code(ecs.list_tasks, cluster=CLUSTER, serviceName="ghost")[0] == "ServiceNotFoundException"
    missing = ecs.describe_services(cluster=CLUSTER, services=["ghost", "dup"])
    assert [f["reason"] for f in missing["failures"]] == ["MISSING"]
    assert missing["failures"][0]["arn"].endswith(":service/default/ghost")
    assert [s["serviceName"] for s in missing["services"]] == ["dup"]
    ecs.delete_service(cluster=CLUSTER, service="dup")
    assert code(ecs.update_service, cluster=CLUSTER, service="dup", desiredCount=1)[0] == \
        "ServiceNotActiveException"


def test_a_zone_that_comes_back_gets_its_share_again(sim):
    _, ecs, start_agent = sim
    start_agent("us-east-1c")
    name = unique("web")
    ecs.create_service(cluster=CLUSTER, serviceName=name, taskDefinition=register(ecs), desiredCount=3)
    wait_stable(ecs, name)

    def zones():
        instances = {ci["containerInstanceArn"]: ci for ci in ecs.describe_container_instances(
            cluster=CLUSTER, containerInstances=ecs.list_container_instances(cluster=CLUSTER)["containerInstanceArns"],
        )["containerInstances"]}
        zone = {arn: next(a["value"] for a in ci["attributes"] if a["name"] == "ecs.availability-zone")
                for arn, ci in instances.items()}
        return sorted(zone[t["containerInstanceArn"]] for t in service_tasks(ecs, name) if t["lastStatus"] == "RUNNING")

    assert zones() == ["us-east-1a", "us-east-1b", "us-east-1c"], "the default strategy spreads across zones"
    arns = ecs.list_container_instances(cluster=CLUSTER)["containerInstanceArns"]
    c = next(ci["containerInstanceArn"] for ci in ecs.describe_container_instances(
        cluster=CLUSTER, containerInstances=arns)["containerInstances"]
        if any(a["name"] == "ecs.availability-zone" and a.get("value") == "us-east-1c" for a in ci["attributes"]))
    ecs.update_container_instances_state(cluster=CLUSTER, containerInstances=[c], status="DRAINING")
    wait_for("the zone to empty", lambda: len(zones()) == 3 and "us-east-1c" not in zones(), 60)
    ecs.update_container_instances_state(cluster=CLUSTER, containerInstances=[c], status="ACTIVE")
    wait_for("the zones to balance again", lambda: zones() == ["us-east-1a", "us-east-1b", "us-east-1c"], 60)
    messages = [e["message"] for e in wait_stable(ecs, name)["events"]]
    assert any("is not AZ balanced" in m and "Started AZ Rebalancing." in m for m in messages), messages
    wait_for("the rebalancing to end", lambda: any(
        "has completed AZ rebalancing." in e["message"] for e in describe(ecs, name)["events"]), 30)
