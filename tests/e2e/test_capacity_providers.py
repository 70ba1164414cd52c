"""ECS capacity providers of Auto Scaling groups (issue 16), driven by boto3: a cluster
whose only capacity is a provider whose group starts at 0. RunTask waits in
PROVISIONING, managed scaling launches an instance (a simulated `flotilla agent`), the
task runs on it, and once it has stopped the group scales back to 0."""

import time

import pytest
from botocore.exceptions import ClientError

from conftest import unique, wait_for
from test_autoscaling_groups import reaper, user_data  # noqa: F401 - the fixture kills leftover agents

WAIT = 120


def test_a_task_waits_for_managed_scaling_and_the_group_goes_back_to_zero(fresh_server, reaper):  # noqa: F811
    srv = fresh_server(command="server")
    asg, ecs, cw = srv.client("autoscaling"), srv.client("ecs"), srv.client("cloudwatch")
    name, cluster, provider = unique("cp"), unique("batch"), unique("workers")
    ecs.create_cluster(clusterName=cluster)
    asg.create_launch_configuration(LaunchConfigurationName=f"{name}-lc", ImageId="flotilla:simulated",
                                    InstanceType="t3.small", UserData=user_data(cluster))
    asg.create_auto_scaling_group(AutoScalingGroupName=name, LaunchConfigurationName=f"{name}-lc", MinSize=0,
                                  MaxSize=2, DesiredCapacity=0, AvailabilityZones=["us-east-1a"],
                                  NewInstancesProtectedFromScaleIn=True)
    group_arn = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"][0][
        "AutoScalingGroupARN"]
    created = ecs.create_capacity_provider(name=provider, autoScalingGroupProvider={
        "autoScalingGroupArn": group_arn,
        "managedScaling": {"status": "ENABLED", "targetCapacity": 100, "minimumScalingStepSize": 1,
                           "maximumScalingStepSize": 2, "instanceWarmupPeriod": 10},
        "managedTerminationProtection": "ENABLED"})["capacityProvider"]
    assert created["status"] == "ACTIVE" and created["autoScalingGroupProvider"]["autoScalingGroupArn"] == group_arn
    with pytest.raises(ClientError) as e:
        ecs.create_capacity_provider(name=unique("again"), autoScalingGroupProvider={"autoScalingGroupArn": group_arn})
    assert "already being used" in e.value.response["Error"]["Message"]
    ecs.put_cluster_capacity_providers(cluster=cluster, capacityProviders=[provider],
                                       defaultCapacityProviderStrategy=[{"capacityProvider": provider, "weight": 1}])
    described = ecs.describe_capacity_providers(capacityProviders=[provider, "FARGATE"])["capacityProviders"]
    assert [p["name"] for p in described] == [provider, "FARGATE"]
    with pytest.raises(ClientError) as e:
        ecs.delete_capacity_provider(capacityProvider=provider)
    assert "in use" in e.value.response["Error"]["Message"]

    ecs.register_task_definition(family=name, containerDefinitions=[
        {"name": "app", "image": "busybox", "memory": 256, "command": ["sleep", "3600"]}])
    started = time.monotonic()
    run = ecs.run_task(cluster=cluster, taskDefinition=name)
    assert run["failures"] == [], run
    task = run["tasks"][0]
    assert task["lastStatus"] == "PROVISIONING" and task["capacityProviderName"] == provider, task
    arn = task["taskArn"]

    def described_task():
        return ecs.describe_tasks(cluster=cluster, tasks=[arn])["tasks"][0]

    # Managed scaling launches an instance; the task is placed there and runs.
    wait_for("the group to scale out", lambda: asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])[
        "AutoScalingGroups"][0]["DesiredCapacity"] == 1, WAIT)
    running = wait_for("the waiting task to run", lambda: described_task()["lastStatus"] == "RUNNING"
                       and described_task(), WAIT)
    print(f"FIGURE capacity-provider-from-zero run_task_to_running_seconds={time.monotonic() - started:.1f}")
    instances = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"][0]["Instances"]
    [instance] = instances
    ci = ecs.describe_container_instances(cluster=cluster, containerInstances=[running["containerInstanceArn"]])[
        "containerInstances"][0]
    assert ci["ec2InstanceId"] == instance["InstanceId"]
    wait_for("the busy instance to be protected from scale-in", lambda: asg.describe_auto_scaling_groups(
        AutoScalingGroupNames=[name])["AutoScalingGroups"][0]["Instances"][0]["ProtectedFromScaleIn"], WAIT)
    points = wait_for("CapacityProviderReservation", lambda: cw.list_metrics(
        Namespace="AWS/ECS/ManagedScaling", MetricName="CapacityProviderReservation")["Metrics"], WAIT)
    assert {d["Name"] for d in points[0]["Dimensions"]} == {"CapacityProviderName", "ClusterName"}

    # Once the task has stopped, the idle instance is retired: back to zero.
    ecs.stop_task(cluster=cluster, task=arn)
    wait_for("the task to stop", lambda: described_task()["lastStatus"] == "STOPPED", WAIT)
    wait_for("the group to scale back to 0", lambda: not asg.describe_auto_scaling_groups(
        AutoScalingGroupNames=[name])["AutoScalingGroups"][0]["Instances"], WAIT)
    assert asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"][0][
        "DesiredCapacity"] == 0
