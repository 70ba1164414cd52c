"""Fargate and awsvpc task networking (issue 13), on real containers.

The local agent of `flotilla up` serves both launch types: it is a container instance
of `default` and Fargate capacity. An awsvpc task gets its own network namespace (a
pause container on the `flotilla-awsvpc` Docker network) and private address, which
its containers share and the node reaches directly.
"""

import json
import subprocess
import time
import urllib.request

import pytest
from botocore.exceptions import ClientError

from conftest import (
    ACCESS_KEY,
    BUSYBOX_IMAGE,
    SECRET_KEY,
    TASK_ARN_LABEL,
    describe_task,
    docker,
    unique,
    wait_for,
    wait_running,
    wait_stopped,
    wait_task,
)

CLUSTER = "default"
SUBNET = "subnet-0e2e0f4a7c1d2b3a4"
NETWORK = {"awsvpcConfiguration": {"subnets": [SUBNET], "securityGroups": ["sg-0e2e"]}}
PAUSE_NAME = "~internal~ecs~pause"
HTTPD = ["httpd", "-f", "-p", "8080", "-h", "/www"]


def register_fargate(ecs, family, containers, cpu="256", memory="512", **kwargs):
    for c in containers:
        c.setdefault("image", BUSYBOX_IMAGE)
    return ecs.register_task_definition(
        family=family, networkMode="awsvpc", requiresCompatibilities=["FARGATE"], cpu=cpu, memory=memory,
        containerDefinitions=containers, **kwargs,
    )["taskDefinition"]["taskDefinitionArn"]


def attachment_details(task):
    [eni] = task["attachments"]
    assert eni["type"] == "ElasticNetworkInterface", eni
    return eni["status"], {d["name"]: d["value"] for d in eni["details"]}


def http_get(url, timeout=3):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read().decode()


def reachable(url):
    try:
        return http_get(url, timeout=2)
    except OSError:
        return None


def pause_containers(task_arn):
    out = docker("ps", "-aq", "--filter", f"label={TASK_ARN_LABEL}={task_arn}",
                 "--filter", f"label=com.amazonaws.ecs.container-name={PAUSE_NAME}").stdout.split()
    return out


def awsvpc_endpoints():
    """The containers attached to the awsvpc network, by name."""
    p = docker("network", "inspect", "flotilla-awsvpc", "--format", "{{json .Containers}}", check=False)
    if p.returncode != 0:
        return {}
    return {v["Name"]: v["IPv4Address"] for v in (json.loads(p.stdout) or {}).values()}


def test_a_two_container_fargate_task_talks_over_localhost_and_the_node_reaches_its_address(
        docker_server, decs, aws_cli, task_cleanup, tmp_path):
    family = unique("fg")
    # The client exits 0 once the web container answered it on localhost.
    client = ["sh", "-c", "for i in $(seq 1 100); do wget -q -O - http://127.0.0.1:8080/ | grep -q hello "
                          "&& exit 0; sleep 0.2; done; exit 1"]
    register_fargate(decs, family, [
        {"name": "web", "command": HTTPD, "portMappings": [{"containerPort": 8080}], "stopTimeout": 2},
        {"name": "client", "command": client, "essential": False},
    ])
    # The aws CLI, as users run it.
    cli = ["--endpoint-url", docker_server.endpoint, "--region", "us-east-1", "--output", "json"]
    env = {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY}
    out = aws_cli(["ecs", "run-task", "--cluster", CLUSTER, "--task-definition", family, "--launch-type", "FARGATE",
                   "--network-configuration", f"awsvpcConfiguration={{subnets=[{SUBNET}],assignPublicIp=DISABLED}}",
                   *cli], extra_env=env).json
    assert out["failures"] == [], out
    arn = task_cleanup(out["tasks"][0]["taskArn"], ecs=decs, cluster=CLUSTER)
    first = out["tasks"][0]
    assert first["launchType"] == "FARGATE" and first["platformVersion"] == "1.4.0", first
    assert first["lastStatus"] == "PROVISIONING", first
    assert "containerInstanceArn" not in first, "a Fargate task names no instance"

    task = wait_running(decs, CLUSTER, arn)
    assert task["lastStatus"] == "RUNNING", task
    assert (task["cpu"], task["memory"], task["platformFamily"]) == ("256", "512", "Linux")
    assert task["ephemeralStorage"] == {"sizeInGiB": 20}
    status, details = attachment_details(task)
    assert status == "ATTACHED", task["attachments"]
    assert details["subnetId"] == SUBNET
    assert details["networkInterfaceId"].startswith("eni-")
    ip = details["privateIPv4Address"]
    assert details["macAddress"].count(":") == 5, details
    web = next(c for c in task["containers"] if c["name"] == "web")
    assert web["networkInterfaces"] == [{"attachmentId": task["attachments"][0]["id"], "privateIpv4Address": ip}]
    assert web["networkBindings"] == [], "awsvpc publishes no host port"

    # The node reaches the task at its own address.
    assert "hello from flotilla e2e" in wait_for(f"http://{ip}:8080/", lambda: reachable(f"http://{ip}:8080/"))
    # The two containers share one namespace: the client reached the web container on localhost.
    done = wait_task(decs, CLUSTER, arn,
                     lambda t: any(c["name"] == "client" and c.get("exitCode") is not None for c in t["containers"]),
                     "the client container to finish")
    assert next(c for c in done["containers"] if c["name"] == "client")["exitCode"] == 0, done["containers"]

    described = aws_cli(["ecs", "describe-tasks", "--cluster", CLUSTER, "--tasks", arn, *cli], extra_env=env).json
    assert described["tasks"][0]["attachments"][0]["status"] == "ATTACHED"

    decs.stop_task(cluster=CLUSTER, task=arn)
    stopped = wait_stopped(decs, CLUSTER, arn)
    assert attachment_details(stopped)[0] == "DELETED"
    wait_for("the pause container to go", lambda: not pause_containers(arn))
    assert reachable(f"http://{ip}:8080/") is None, "the address is released"


def test_an_awsvpc_task_on_the_ec2_launch_type_gets_its_own_address(decs, task_cleanup):
    family = unique("vpc")
    td = decs.register_task_definition(
        family=family, networkMode="awsvpc",
        containerDefinitions=[{"name": "web", "image": BUSYBOX_IMAGE, "memory": 32, "command": HTTPD,
                               "portMappings": [{"containerPort": 8080}], "stopTimeout": 2}],
    )["taskDefinition"]
    assert td["compatibilities"] == ["EC2"], "no task-level cpu and memory: not Fargate-compatible"
    resp = decs.run_task(cluster=CLUSTER, taskDefinition=family, launchType="EC2", networkConfiguration=NETWORK)
    assert resp["failures"] == [], resp
    arn = task_cleanup(resp["tasks"][0]["taskArn"], ecs=decs, cluster=CLUSTER)
    task = wait_running(decs, CLUSTER, arn)
    assert task["launchType"] == "EC2" and task["containerInstanceArn"], task
    assert "platformVersion" not in task
    status, details = attachment_details(task)
    assert status == "ATTACHED"
    ip = details["privateIPv4Address"]
    assert "hello" in wait_for(f"http://{ip}:8080/", lambda: reachable(f"http://{ip}:8080/"))
    decs.stop_task(cluster=CLUSTER, task=arn)
    wait_stopped(decs, CLUSTER, arn)


def test_fargate_rules_are_refused_with_aws_errors(decs):
    family = unique("bad")

    def refused(call, code, needle):
        with pytest.raises(ClientError) as e:
            call()
        err = e.value.response["Error"]
        assert err["Code"] == code, err
        assert needle in err["Message"], err

    container = [{"name": "app", "image": BUSYBOX_IMAGE}]
    refused(lambda: decs.register_task_definition(
        family=family, networkMode="awsvpc", requiresCompatibilities=["FARGATE"], cpu="256", memory="4096",
        containerDefinitions=container), "ClientException", "No Fargate configuration exists for given values: 256 CPU")
    refused(lambda: decs.register_task_definition(
        family=family, networkMode="bridge", requiresCompatibilities=["FARGATE"], cpu="256", memory="512",
        containerDefinitions=[{"name": "app", "image": BUSYBOX_IMAGE, "memory": 32}]),
        "ClientException", "awsvpc")
    refused(lambda: decs.register_task_definition(
        family=family, networkMode="awsvpc", requiresCompatibilities=["FARGATE"], cpu="256", memory="512",
        containerDefinitions=[{"name": "app", "image": BUSYBOX_IMAGE,
                               "portMappings": [{"containerPort": 80, "hostPort": 8080}]}]),
        "ClientException", "hostPort")
    refused(lambda: decs.register_task_definition(
        family=family, networkMode="awsvpc", requiresCompatibilities=["FARGATE"], cpu="256", memory="512",
        ephemeralStorage={"sizeInGiB": 10}, containerDefinitions=container), "ClientException", "ephemeralStorage")

    register_fargate(decs, family, [{"name": "app"}])
    bridge = unique("bridge")
    decs.register_task_definition(family=bridge, containerDefinitions=[{"name": "a", "image": BUSYBOX_IMAGE,
                                                                          "memory": 32}])
    refused(lambda: decs.run_task(cluster=CLUSTER, taskDefinition=family, launchType="FARGATE"),
            "InvalidParameterException", "Network Configuration must be provided when networkMode 'awsvpc' is specified.")
    refused(lambda: decs.run_task(cluster=CLUSTER, taskDefinition=bridge, launchType="FARGATE"),
            "InvalidParameterException", "Task definition does not support launch_type FARGATE.")
    refused(lambda: decs.run_task(cluster=CLUSTER, taskDefinition=family, launchType="FARGATE",
                                  networkConfiguration=NETWORK, placementStrategy=[{"type": "random"}]),
            "InvalidParameterException", "Task placement is not supported for the FARGATE launch type.")
    refused(lambda: decs.run_task(cluster=CLUSTER, taskDefinition=family, launchType="FARGATE",
                                  networkConfiguration=NETWORK, platformVersion="9.9.9"),
            "InvalidParameterException", "The specified platform version '9.9.9' does not exist.")
    refused(lambda: decs.run_task(cluster=CLUSTER, taskDefinition=bridge, platformVersion="LATEST"),
            "InvalidParameterException", "The platform version must be null when specifying an EC2 launch type.")
    refused(lambda: decs.run_task(cluster=CLUSTER, taskDefinition=family, launchType="FARGATE",
                                  capacityProviderStrategy=[{"capacityProvider": "FARGATE", "weight": 1}],
                                  networkConfiguration=NETWORK),
            "InvalidParameterException", "Specifying both a launch type and capacity provider strategy")
    refused(lambda: decs.run_task(cluster=CLUSTER, taskDefinition=family,
                                  capacityProviderStrategy=[{"capacityProvider": "FARGATE", "weight": 1}],
                                  networkConfiguration=NETWORK),
            "InvalidParameterException", "not associated with the cluster")
    refused(lambda: decs.run_task(cluster=CLUSTER, taskDefinition=family, launchType="FARGATE",
                                  networkConfiguration={"awsvpcConfiguration": {"subnets": []}}),
            "InvalidParameterException", "subnets can not be empty.")
    refused(lambda: decs.run_task(cluster=CLUSTER, taskDefinition=bridge, networkConfiguration=NETWORK),
            "InvalidParameterException", "Network Configuration is not valid for the given networkMode")
    refused(lambda: decs.create_service(cluster=CLUSTER, serviceName=unique("d"), taskDefinition=family,
                                        launchType="FARGATE", schedulingStrategy="DAEMON",
                                        networkConfiguration=NETWORK),
            "InvalidParameterException", "The DAEMON scheduling strategy does not support the FARGATE launch type.")


def test_a_fargate_service_on_a_capacity_provider_strategy(decs, task_cleanup):
    cluster = unique("fgc")
    decs.create_cluster(clusterName=cluster, capacityProviders=["FARGATE", "FARGATE_SPOT"],
                        defaultCapacityProviderStrategy=[{"capacityProvider": "FARGATE", "weight": 1}])
    # The cluster has no instance of its own: Fargate capacity serves it.
    assert decs.list_container_instances(cluster=cluster)["containerInstanceArns"] == []
    family = unique("fgs")
    register_fargate(decs, family, [{"name": "web", "command": HTTPD, "portMappings": [{"containerPort": 8080}],
                                     "stopTimeout": 2}])
    name = unique("svc")
    svc = decs.create_service(cluster=cluster, serviceName=name, taskDefinition=family, desiredCount=2,
                              capacityProviderStrategy=[{"capacityProvider": "FARGATE", "base": 1, "weight": 1},
                                                        {"capacityProvider": "FARGATE_SPOT", "weight": 1}],
                              networkConfiguration=NETWORK)["service"]
    assert "launchType" not in svc and svc["platformVersion"] == "LATEST", svc
    assert svc["networkConfiguration"]["awsvpcConfiguration"]["subnets"] == [SUBNET]
    try:
        def running():
            arns = decs.list_tasks(cluster=cluster, serviceName=name)["taskArns"]
            tasks = decs.describe_tasks(cluster=cluster, tasks=arns)["tasks"] if arns else []
            for t in tasks:
                task_cleanup(t["taskArn"], ecs=decs, cluster=cluster)
            return tasks if len(tasks) == 2 and all(t["lastStatus"] == "RUNNING" for t in tasks) else None

        tasks = wait_for("two RUNNING Fargate tasks", running)
        assert sorted(t["capacityProviderName"] for t in tasks) == ["FARGATE", "FARGATE_SPOT"]
        assert all(t["launchType"] == "FARGATE" for t in tasks)
        ips = {attachment_details(t)[1]["privateIPv4Address"] for t in tasks}
        assert len(ips) == 2, ips
        for ip in ips:
            wait_for(f"http://{ip}:8080/", lambda ip=ip: reachable(f"http://{ip}:8080/"))
        assert decs.describe_clusters(clusters=[cluster])["clusters"][0]["runningTasksCount"] == 2
    finally:
        decs.delete_service(cluster=cluster, service=name, force=True)


@pytest.mark.once
def test_fifty_awsvpc_tasks_leave_no_namespace_interface_or_address_behind(decs, task_cleanup):
    family = unique("many")
    decs.register_task_definition(
        family=family, networkMode="awsvpc",
        containerDefinitions=[{"name": "app", "image": BUSYBOX_IMAGE, "memory": 16, "stopTimeout": 1,
                               "command": ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]}],
    )

    def veths():
        return sum(1 for line in subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout.splitlines()
                   if "veth" in line)

    before_veths = veths()
    before_endpoints = set(awsvpc_endpoints())
    arns = []
    for _ in range(5):
        resp = decs.run_task(cluster=CLUSTER, taskDefinition=family, count=10, networkConfiguration=NETWORK)
        assert resp["failures"] == [], resp["failures"]
        for t in resp["tasks"]:
            arns.append(task_cleanup(t["taskArn"], ecs=decs, cluster=CLUSTER))
    addresses = set()
    for arn in arns:
        task = wait_running(decs, CLUSTER, arn, timeout=300)
        assert task["lastStatus"] == "RUNNING", task
        addresses.add(attachment_details(task)[1]["privateIPv4Address"])
    assert len(addresses) == 50, "every task has an address of its own"
    assert len(set(awsvpc_endpoints()) - before_endpoints) == 50
    for arn in arns:
        decs.stop_task(cluster=CLUSTER, task=arn)
    for arn in arns:
        wait_stopped(decs, CLUSTER, arn, timeout=300)

    def released():
        left = set(awsvpc_endpoints()) - before_endpoints
        pauses = [arn for arn in arns if pause_containers(arn)]
        return (not left and not pauses and veths() <= before_veths) or None

    wait_for("every namespace, interface and address to be released", released, timeout=120)
    taken = set(awsvpc_endpoints().values())
    assert not any(a.split("/")[0] in addresses for a in taken)


def test_a_node_serving_only_fargate_is_hidden_and_takes_no_ec2_task(fresh_server, agents):
    """`flotilla agent --capacity fargate` (simulated runtime): Fargate tasks of any
    cluster run on it; it is in no cluster's instance list, and EC2 tasks never go
    there."""
    srv = fresh_server(command="server")
    ecs = srv.client()
    ecs.create_cluster(clusterName="default")
    ecs.create_cluster(clusterName="apps")
    agents(srv.endpoint, "default", "--runtime", "simulated", "--capacity", "fargate")
    register_fargate(ecs, "fg-managed", [{"name": "app", "image": "busybox"}])
    ecs.register_task_definition(family="ec2-only", containerDefinitions=[
        {"name": "app", "image": "busybox", "memory": 32}])

    def run_fargate():
        resp = ecs.run_task(cluster="apps", taskDefinition="fg-managed", launchType="FARGATE",
                            networkConfiguration=NETWORK)
        return resp["tasks"] or None

    [task] = wait_for("the managed node to take a Fargate task", run_fargate, 60)
    running = wait_running(ecs, "apps", task["taskArn"])
    assert running["lastStatus"] == "RUNNING" and "containerInstanceArn" not in running
    assert attachment_details(running)[1]["privateIPv4Address"].startswith("10.222.")
    for cluster in ("default", "apps"):
        assert ecs.list_container_instances(cluster=cluster)["containerInstanceArns"] == []
        assert ecs.describe_clusters(clusters=[cluster])["clusters"][0]["registeredContainerInstancesCount"] == 0
    with pytest.raises(ClientError) as e:
        ecs.run_task(cluster="default", taskDefinition="ec2-only", launchType="EC2")
    assert "No Container Instances were found" in e.value.response["Error"]["Message"]
    ecs.stop_task(cluster="apps", task=task["taskArn"])
    wait_stopped(ecs, "apps", task["taskArn"])
