"""EC2 Auto Scaling (the subset ECS capacity providers need), driven by boto3 and the
aws CLI: launch configurations, groups whose instances are real `flotilla agent`
processes (`flotilla:simulated`), desired capacity, scale-in protection, manual
termination, scaling activities, AWS's error codes, the operator's launch command, and
the agents' lives across restarts and `kill -9` of the control plane.

Every agent a server launches lives under its data directory (`instances/i-…`, with
`launch.json` naming its process); the tests check those processes stop with the server,
and the `reaper` fixture kills any left over, whatever happened.
"""

import json
import os
import signal
import time
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from conftest import ACCESS_KEY, SECRET_KEY, containers_of_task, unique, wait_for, wait_running

WAIT = float(os.environ.get("FLOTILLA_E2E_TASK_TIMEOUT", "120"))
CLI_ENV = {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY, "AWS_DEFAULT_REGION": "us-east-1"}


def user_data(cluster):
    return f"#!/bin/bash\necho ECS_CLUSTER={cluster} >> /etc/ecs/ecs.config\n"


def code_of(excinfo):
    return excinfo.value.response["Error"]["Code"]


def message_of(excinfo):
    return excinfo.value.response["Error"]["Message"]


def agent_processes(data_dir):
    """Instance id -> pid of every launched agent of `data_dir` that still runs."""
    running = {}
    for record in Path(data_dir).glob("instances/*/launch.json"):
        instance_id = record.parent.name
        try:
            pid = json.loads(record.read_text())["pid"]
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, ValueError, KeyError, IndexError):
            continue
        if instance_id.encode() in cmdline and state not in ("Z", "X"):
            running[instance_id] = pid
    return running


@pytest.fixture
def reaper(tmp_path):
    """Kills, at teardown, any launched agent still running under the test's directory
    (a failed test must not leave processes behind)."""
    yield
    for data_dir in tmp_path.glob("data*"):
        for pid in agent_processes(data_dir).values():
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


def group(asg, name):
    groups = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"]
    return groups[0] if groups else None


def in_service(asg, name, count):
    """Waits until the group has exactly `count` instances, all InService; returns them."""
    seen = {}

    def probe():
        g = group(asg, name)
        seen["instances"] = g["Instances"] if g else None
        instances = seen["instances"] or []
        return g is not None and len(instances) == count and all(
            i["LifecycleState"] == "InService" for i in instances)
    wait_for(f"{count} InService instances in {name}", probe, WAIT)
    return seen["instances"]


def exactly(count, items):
    """`items` when there are `count` of them (for wait_for), else None."""
    return items if len(items) == count else None


def active_instances(ecs, cluster):
    arns = ecs.list_container_instances(cluster=cluster, status="ACTIVE")["containerInstanceArns"]
    if not arns:
        return []
    return ecs.describe_container_instances(cluster=cluster, containerInstances=arns)["containerInstances"]


def make_group(asg, ecs, name, image="flotilla:simulated", instance_type="t3.small", desired=0, cluster=None):
    if cluster:
        ecs.create_cluster(clusterName=cluster)
    asg.create_launch_configuration(LaunchConfigurationName=f"{name}-lc", ImageId=image, InstanceType=instance_type,
                                    UserData=user_data(cluster or "default"))
    asg.create_auto_scaling_group(AutoScalingGroupName=name, LaunchConfigurationName=f"{name}-lc", MinSize=0,
                                  MaxSize=3, DesiredCapacity=desired,
                                  AvailabilityZones=["us-east-1a", "us-east-1b"])


def test_a_group_of_simulated_agents_scales_out_and_in_around_protected_instances(fresh_server, aws_cli, reaper):
    srv = fresh_server(command="server")
    asg, ecs = srv.client("autoscaling"), srv.client("ecs")
    name, cluster = unique("web"), unique("prod")

    def cli(*args, check=True):
        return aws_cli(["--endpoint-url", srv.endpoint, "autoscaling", *args], check=check, extra_env=CLI_ENV)

    make_group(asg, ecs, name, cluster=cluster)
    g = group(asg, name)
    assert (g["MinSize"], g["MaxSize"], g["DesiredCapacity"], g["Instances"]) == (0, 3, 0, [])
    assert g["AutoScalingGroupARN"].endswith(f":autoScalingGroupName/{name}")
    lc = asg.describe_launch_configurations(LaunchConfigurationNames=[f"{name}-lc"])["LaunchConfigurations"][0]
    assert lc["ImageId"] == "flotilla:simulated" and lc["InstanceType"] == "t3.small"

    # 0 -> 2: two agents join the cluster the user data names, as the group's instances.
    asg.set_desired_capacity(AutoScalingGroupName=name, DesiredCapacity=2)
    instances = in_service(asg, name, 2)
    ids = sorted(i["InstanceId"] for i in instances)
    assert {i["AvailabilityZone"] for i in instances} == {"us-east-1a", "us-east-1b"}
    assert all(i["InstanceType"] == "t3.small" and i["HealthStatus"] == "Healthy" for i in instances)
    cis = wait_for("two container instances", lambda: exactly(2, active_instances(ecs, cluster)), WAIT)
    assert sorted(ci["ec2InstanceId"] for ci in cis) == ids
    for ci in cis:
        resources = {r["name"]: r.get("integerValue") for r in ci["registeredResources"]}
        assert (resources["CPU"], resources["MEMORY"]) == (2048, 2048), resources  # t3.small: 2 vCPUs, 2 GiB
        attributes = {a["name"]: a.get("value") for a in ci["attributes"]}
        assert attributes["ecs.instance-type"] == "t3.small"
        zone = next(i["AvailabilityZone"] for i in instances if i["InstanceId"] == ci["ec2InstanceId"])
        assert attributes["ecs.availability-zone"] == zone
        assert ci["agentConnected"] is True
    assert set(agent_processes(srv.data_dir)) == set(ids)

    activities = cli("describe-scaling-activities", "--auto-scaling-group-name", name).json["Activities"]
    assert sorted(a["Description"] for a in activities) == sorted(f"Launching a new EC2 instance: {i}" for i in ids)
    assert all(a["StatusCode"] == "Successful" and a["Progress"] == 100 for a in activities)
    assert "changing the desired capacity from 0 to 2" in activities[0]["Cause"]

    # Protect one; 2 -> 0 terminates only the other.
    protected, other = ids
    cli("set-instance-protection", "--auto-scaling-group-name", name, "--instance-ids", protected,
        "--protected-from-scale-in")
    described = asg.describe_auto_scaling_instances(InstanceIds=[protected])["AutoScalingInstances"][0]
    assert (described["ProtectedFromScaleIn"], described["HealthStatus"], described["AutoScalingGroupName"]) == (
        True, "HEALTHY", name)
    asg.set_desired_capacity(AutoScalingGroupName=name, DesiredCapacity=0)
    wait_for("only the protected instance left",
             lambda: [i["InstanceId"] for i in group(asg, name)["Instances"]] == [protected], WAIT)
    assert group(asg, name)["DesiredCapacity"] == 0
    wait_for("the terminated agent to stop", lambda: other not in agent_processes(srv.data_dir), WAIT)
    # ECS sees the terminated instance leave the cluster.
    wait_for("one container instance", lambda: [ci["ec2InstanceId"] for ci in active_instances(ecs, cluster)] == [protected], WAIT)
    latest = asg.describe_scaling_activities(AutoScalingGroupName=name, MaxRecords=1)
    assert latest["Activities"][0]["Description"] == f"Terminating EC2 instance: {other}"
    assert "NextToken" in latest

    # A terminated instance is replaced unless the desired capacity goes down with it.
    with pytest.raises(ClientError) as e:
        asg.terminate_instance_in_auto_scaling_group(InstanceId=protected, ShouldDecrementDesiredCapacity=True)
    assert code_of(e) == "ValidationError"
    asg.update_auto_scaling_group(AutoScalingGroupName=name, DesiredCapacity=1)
    activity = asg.terminate_instance_in_auto_scaling_group(InstanceId=protected,
                                                             ShouldDecrementDesiredCapacity=False)["Activity"]
    assert activity["Description"] == f"Terminating EC2 instance: {protected}"
    assert activity["StatusCode"] == "InProgress"
    assert "was taken out of service in response to a user request" in activity["Cause"]
    def replaced():
        now = group(asg, name)["Instances"]
        return len(now) == 1 and now[0]["InstanceId"] != protected and now[0]["LifecycleState"] == "InService"
    wait_for("a replacement", replaced, WAIT)
    replacement = group(asg, name)["Instances"][0]["InstanceId"]
    assert replacement not in ids
    out = cli("terminate-instance-in-auto-scaling-group", "--instance-id", replacement,
              "--should-decrement-desired-capacity").json
    assert out["Activity"]["Description"] == f"Terminating EC2 instance: {replacement}"
    in_service(asg, name, 0)
    assert group(asg, name)["DesiredCapacity"] == 0
    wait_for("every agent stopped", lambda: not agent_processes(srv.data_dir), WAIT)
    statuses = {a["StatusCode"] for a in asg.describe_scaling_activities(AutoScalingGroupName=name)["Activities"]}
    assert statuses == {"Successful"}

    # Deleting: the launch configuration is in use until the group goes.
    failed = cli("delete-launch-configuration", "--launch-configuration-name", f"{name}-lc", check=False)
    assert failed.returncode != 0 and "ResourceInUse" in failed.stderr
    cli("delete-auto-scaling-group", "--auto-scaling-group-name", name)
    cli("delete-launch-configuration", "--launch-configuration-name", f"{name}-lc")
    assert group(asg, name) is None

    # Scaled out again and then stopped, the server takes its agents with it.
    make_group(asg, ecs, name, desired=2, cluster=cluster)
    in_service(asg, name, 2)
    wait_for("two agents", lambda: len(agent_processes(srv.data_dir)) == 2, WAIT)
    assert srv.terminate() == 0
    assert not agent_processes(srv.data_dir), "the server stopped its agents"


def test_refusals_use_awss_codes(server, aws_cli):
    asg = server.client("autoscaling")
    name = unique("ref")

    def cli(*args, check=True):
        return aws_cli(["--endpoint-url", server.endpoint, "autoscaling", *args], check=check, extra_env=CLI_ENV)

    with pytest.raises(ClientError) as e:
        asg.create_launch_configuration(LaunchConfigurationName=f"{name}-lc", ImageId="flotilla:simulated",
                                        InstanceType="z9.gigantic")
    assert code_of(e) == "ValidationError" and "z9.gigantic" in message_of(e)
    asg.create_launch_configuration(LaunchConfigurationName=f"{name}-lc", ImageId="flotilla:simulated",
                                    InstanceType="t3.micro")
    with pytest.raises(ClientError) as e:
        asg.create_launch_configuration(LaunchConfigurationName=f"{name}-lc", ImageId="flotilla:simulated",
                                        InstanceType="t3.micro")
    assert code_of(e) == "AlreadyExists"

    base = dict(LaunchConfigurationName=f"{name}-lc", MinSize=0, MaxSize=2, AvailabilityZones=["us-east-1a"])
    with pytest.raises(ClientError) as e:
        asg.create_auto_scaling_group(AutoScalingGroupName=name, **{**base, "LaunchConfigurationName": "nope"})
    assert code_of(e) == "ValidationError"
    assert message_of(e) == "Launch configuration name not found - Launch configuration nope not found"
    with pytest.raises(ClientError) as e:
        asg.create_auto_scaling_group(AutoScalingGroupName=name, DesiredCapacity=3, **base)
    assert (code_of(e), message_of(e)) == (
        "ValidationError", "Desired capacity:3 must be between the specified min size:0 and max size:2")
    with pytest.raises(ClientError) as e:
        asg.create_auto_scaling_group(AutoScalingGroupName=name, **{**base, "AvailabilityZones": []},)
    assert message_of(e) == "At least one Availability Zone or VPC Subnet is required."
    for n in range(3):
        asg.create_auto_scaling_group(AutoScalingGroupName=f"{name}-{n}", **base)
    with pytest.raises(ClientError) as e:
        asg.create_auto_scaling_group(AutoScalingGroupName=f"{name}-0", **base)
    assert code_of(e) == "AlreadyExists"

    with pytest.raises(ClientError) as e:
        asg.set_desired_capacity(AutoScalingGroupName=f"{name}-0", DesiredCapacity=5)
    assert (code_of(e), message_of(e)) == (
        "ValidationError", "New SetDesiredCapacity value 5 is above max value 2 for the AutoScalingGroup.")
    with pytest.raises(ClientError) as e:
        asg.set_instance_protection(AutoScalingGroupName=f"{name}-0", InstanceIds=["i-0123456789abcdef0"],
                                    ProtectedFromScaleIn=True)
    assert code_of(e) == "ValidationError"
    with pytest.raises(ClientError) as e:
        asg.set_instance_protection(AutoScalingGroupName=f"{name}-0",
                                    InstanceIds=[f"i-{n:017x}" for n in range(51)], ProtectedFromScaleIn=True)
    assert code_of(e) == "LimitExceeded"
    with pytest.raises(ClientError) as e:
        asg.terminate_instance_in_auto_scaling_group(InstanceId="i-0123456789abcdef0",
                                                      ShouldDecrementDesiredCapacity=False)
    assert code_of(e) == "ValidationError"
    with pytest.raises(ClientError) as e:
        asg.delete_auto_scaling_group(AutoScalingGroupName=f"{name}-missing")
    assert code_of(e) == "ValidationError"
    with pytest.raises(ClientError) as e:
        asg.describe_auto_scaling_groups(NextToken="not-a-token")
    assert code_of(e) == "InvalidNextToken"

    # Pages, by boto3's paginator.
    pages = asg.get_paginator("describe_auto_scaling_groups").paginate(
        AutoScalingGroupNames=[f"{name}-{n}" for n in range(3)], PaginationConfig={"PageSize": 1})
    seen = [[g["AutoScalingGroupName"] for g in p["AutoScalingGroups"]] for p in pages]
    assert seen == [[f"{name}-0"], [f"{name}-1"], [f"{name}-2"]]

    failed = cli("delete-launch-configuration", "--launch-configuration-name", f"{name}-lc", check=False)
    assert failed.returncode != 0 and "ResourceInUse" in failed.stderr
    for n in range(3):
        cli("delete-auto-scaling-group", "--auto-scaling-group-name", f"{name}-{n}")
    cli("delete-launch-configuration", "--launch-configuration-name", f"{name}-lc")
    failed = cli("delete-launch-configuration", "--launch-configuration-name", f"{name}-lc", check=False)
    assert failed.returncode != 0 and "ValidationError" in failed.stderr


def test_an_image_without_a_launcher_leaves_a_failed_activity(server):
    asg, ecs = server.client("autoscaling"), server.client("ecs")
    name = unique("ami")
    make_group(asg, ecs, name, image="ami-0123456789abcdef0", desired=1)

    def failed():
        acts = asg.describe_scaling_activities(AutoScalingGroupName=name)["Activities"]
        return [a for a in acts if a["StatusCode"] == "Failed"]
    activity = wait_for("a failed launch", failed, WAIT)[0]
    assert "--instance-launch-command" in activity["StatusMessage"]
    assert "ami-0123456789abcdef0" in activity["StatusMessage"]
    assert activity["Description"].startswith("Launching a new EC2 instance.  Status Reason: No launcher")
    assert "EndTime" in activity and activity["Progress"] == 100
    assert group(asg, name)["Instances"] == []
    asg.delete_auto_scaling_group(AutoScalingGroupName=name, ForceDelete=True)
    wait_for("the group to go", lambda: group(asg, name) is None, WAIT)
    asg.delete_launch_configuration(LaunchConfigurationName=f"{name}-lc")


def test_other_images_go_to_the_operators_launch_command(fresh_server, tmp_path, reaper):
    launched, terminated = tmp_path / "launched", tmp_path / "terminated"
    srv = fresh_server(command="server", args=[
        "--instance-launch-command",
        f'printf "%s %s %s %s %s\\n" "$FLOTILLA_INSTANCE_ID" "$FLOTILLA_IMAGE_ID" "$FLOTILLA_INSTANCE_TYPE" '
        f'"$FLOTILLA_CLUSTER" "$FLOTILLA_ENDPOINT" >> {launched}',
        "--instance-terminate-command", f'echo "$FLOTILLA_INSTANCE_ID" >> {terminated}',
    ])
    asg, ecs = srv.client("autoscaling"), srv.client("ecs")
    name, cluster = unique("cmd"), unique("c")
    make_group(asg, ecs, name, image="ami-0abc", instance_type="m5.large", desired=1, cluster=cluster)
    instance = in_service(asg, name, 1)[0]["InstanceId"]
    assert launched.read_text().split() == [instance, "ami-0abc", "m5.large", cluster, srv.endpoint]
    assert not agent_processes(srv.data_dir), "nothing runs locally for it"
    asg.set_desired_capacity(AutoScalingGroupName=name, DesiredCapacity=0)
    in_service(asg, name, 0)
    assert terminated.read_text().split() == [instance]


def test_agents_outlive_a_kill_9_only_to_be_adopted(fresh_server, reaper):
    srv = fresh_server(command="server", args=["--instance-orphan-grace", "15"])
    asg, ecs = srv.client("autoscaling"), srv.client("ecs")
    name, cluster = unique("dur"), unique("dur")
    make_group(asg, ecs, name, desired=2, cluster=cluster)
    ids = sorted(i["InstanceId"] for i in in_service(asg, name, 2))
    agents = wait_for("two agents", lambda: exactly(2, agent_processes(srv.data_dir)), WAIT)
    launches = len(asg.describe_scaling_activities(AutoScalingGroupName=name)["Activities"])

    # kill -9, restarted at once: the same agents are adopted, nothing is launched.
    srv.kill9()
    assert agent_processes(srv.data_dir) == agents, "the agents wait for their control plane"
    srv.start()
    asg, ecs = srv.client("autoscaling"), srv.client("ecs")
    time.sleep(12)  # a few controller passes (every 5 s)
    assert agent_processes(srv.data_dir) == agents
    assert sorted(i["InstanceId"] for i in in_service(asg, name, 2)) == ids
    assert len(asg.describe_scaling_activities(AutoScalingGroupName=name)["Activities"]) == launches
    def connected():
        cis = active_instances(ecs, cluster)
        return exactly(2, cis) if all(ci["agentConnected"] for ci in cis) else None
    cis = wait_for("both agents connected", connected, WAIT)
    assert sorted(ci["ec2InstanceId"] for ci in cis) == ids

    # Stopped, the server stops its adopted agents too; started, it launches the same
    # instances again.
    assert srv.terminate() == 0
    assert not agent_processes(srv.data_dir)
    srv.start()
    asg = srv.client("autoscaling")
    again = wait_for("the agents launched again", lambda: exactly(2, agent_processes(srv.data_dir)), WAIT)
    assert sorted(again) == ids and set(again.values()).isdisjoint(agents.values())
    assert sorted(i["InstanceId"] for i in in_service(asg, name, 2)) == ids

    # kill -9 and no control plane comes back: the orphans stop after their grace.
    srv.kill9()
    time.sleep(3)
    assert len(agent_processes(srv.data_dir)) == 2, "still within their grace"
    wait_for("the orphaned agents to stop", lambda: not agent_processes(srv.data_dir), 90)


def test_a_docker_instance_runs_tasks_and_takes_them_when_terminated(fresh_server, busybox_image, task_cleanup,
                                                                     reaper):
    srv = fresh_server(command="server")
    asg, ecs = srv.client("autoscaling"), srv.client("ecs")
    name, cluster = unique("dock"), unique("dock")
    make_group(asg, ecs, name, image="flotilla:docker", instance_type="t3.micro", desired=1, cluster=cluster)
    instance = in_service(asg, name, 1)[0]["InstanceId"]
    ci = wait_for("the instance in its cluster", lambda: exactly(1, active_instances(ecs, cluster)), WAIT)[0]
    assert ci["ec2InstanceId"] == instance
    family = unique("asg-task")
    td = ecs.register_task_definition(family=family, containerDefinitions=[{
        "name": "app", "image": busybox_image, "memory": 64,
        "command": ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]}])["taskDefinition"]
    task = ecs.run_task(cluster=cluster, taskDefinition=td["taskDefinitionArn"])["tasks"][0]
    task_cleanup(task["taskArn"], ecs=ecs, cluster=cluster)
    assert task["containerInstanceArn"] == ci["containerInstanceArn"]
    wait_running(ecs, cluster, task["taskArn"])
    assert containers_of_task(task["taskArn"]), "a real container runs"

    # Terminated, the instance takes its containers with it, as an EC2 instance does.
    asg.set_desired_capacity(AutoScalingGroupName=name, DesiredCapacity=0)
    in_service(asg, name, 0)
    assert not containers_of_task(task["taskArn"])
    assert not agent_processes(srv.data_dir)
    wait_for("the instance deregistered", lambda: not active_instances(ecs, cluster), WAIT)
