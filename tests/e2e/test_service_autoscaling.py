"""Application Auto Scaling of ECS services with boto3 and the aws CLI.

- A CPU-burning service (busybox busy loop, 512 CPU units: ~200% of its reservation)
  with a target tracking policy (50% ECSServiceAverageCPUUtilization, min 1, max 3)
  scales out on real Docker containers, and back in once the burn stops (the burner
  stops when the test creates a file in a host volume). The server runs with
  FLOTILLA_TARGET_TRACKING_PERIOD_SECONDS=10, so the policy's alarms evaluate every
  10 s (AlarmHigh: 3 of 3 periods, AlarmLow: 15 of 15); AWS/ECS utilization is
  recorded per minute, so the alarms see one datapoint a minute and act once a
  minute. The test prints the time from sustained load to the first scale-out and to
  three running tasks, and from the end of the load to the scale-in.
- A scheduled action raises the minimum at an at() time read in its time zone.
- A step scaling policy runs when the user's alarm naming it is set to ALARM with
  SetAlarmState.
- Refusals carry Application Auto Scaling's codes.

The last three run on simulated agents; the first needs Docker.
"""

import datetime
import time
from zoneinfo import ZoneInfo

import pytest
from botocore.exceptions import ClientError

from conftest import ACCOUNT, REGION, remove_task_containers, unique, wait_for
from test_tasks_docker import cli_args, cli_env

CLUSTER = "default"
DIMENSION = "ecs:service:DesiredCount"
PERIOD = "10"
UTC = datetime.timezone.utc


def resource(service):
    return f"service/{CLUSTER}/{service}"


def target(service):
    return {"ServiceNamespace": "ecs", "ResourceId": resource(service), "ScalableDimension": DIMENSION}


def desired(ecs, service):
    return ecs.describe_services(cluster=CLUSTER, services=[service])["services"][0]["desiredCount"]


def running(ecs, service):
    return ecs.describe_services(cluster=CLUSTER, services=[service])["services"][0]["runningCount"]


def activities(aas, service, not_scaled=False):
    pages = aas.get_paginator("describe_scaling_activities").paginate(
        ServiceNamespace="ecs", ResourceId=resource(service), IncludeNotScaledActivities=not_scaled)
    return [a for page in pages for a in page["ScalingActivities"]]


def error_code(call):
    with pytest.raises(ClientError) as e:
        call()
    return e.value.response["Error"]["Code"], e.value.response["Error"]["Message"]


@pytest.fixture
def sim(fresh_server, agents):
    """A control plane (target tracking period 10 s) with one simulated agent; returns
    (server, ecs client, application-autoscaling client, cloudwatch client)."""
    srv = fresh_server(command="server", extra_env={"FLOTILLA_TARGET_TRACKING_PERIOD_SECONDS": PERIOD})
    ecs = srv.client()
    ecs.create_cluster(clusterName=CLUSTER)
    agents(srv.endpoint, CLUSTER, "--runtime", "simulated", "--cpu", "8192", "--memory", "8192", "--metadata-port", "0")
    wait_for("the simulated agent", lambda: ecs.list_container_instances(cluster=CLUSTER)["containerInstanceArns"], 60)
    return srv, ecs, srv.client("application-autoscaling"), srv.client("cloudwatch")


def simulated_service(ecs, desired_count=1):
    family = unique("app")
    td = ecs.register_task_definition(family=family, containerDefinitions=[
        {"name": "app", "image": "app:1", "memory": 32, "essential": True}])["taskDefinition"]["taskDefinitionArn"]
    name = unique("svc")
    ecs.create_service(cluster=CLUSTER, serviceName=name, taskDefinition=td, desiredCount=desired_count)
    return name


@pytest.fixture
def docker_scaling(fresh_server, busybox_image):
    """`flotilla up` (a local Docker agent) with the target tracking period at 10 s;
    every container its tasks caused is removed at teardown."""
    srv = fresh_server(extra_env={"FLOTILLA_TARGET_TRACKING_PERIOD_SECONDS": PERIOD})
    ecs = srv.client()
    wait_for("the local agent to register", lambda: ecs.list_container_instances(cluster=CLUSTER)["containerInstanceArns"])
    yield srv
    arns = []
    try:
        for service in ecs.list_services(cluster=CLUSTER)["serviceArns"]:
            ecs.delete_service(cluster=CLUSTER, service=service, force=True)
        for status in ("RUNNING", "STOPPED"):
            arns += ecs.list_tasks(cluster=CLUSTER, desiredStatus=status)["taskArns"]
    finally:
        remove_task_containers(arns)


@pytest.mark.once
def test_a_cpu_burning_service_scales_out_on_target_tracking_and_back_in(docker_scaling, busybox_image, tmp_path,
                                                                        aws_cli):
    srv = docker_scaling
    ecs, aas, cw = srv.client(), srv.client("application-autoscaling"), srv.client("cloudwatch")
    gate = tmp_path / "gate"
    gate.mkdir()
    gate.chmod(0o777)
    family = unique("burn")
    # A small reservation: a burner that gets even a tenth of a core on a busy machine
    # is well over the 50% target.
    td = ecs.register_task_definition(family=family, containerDefinitions=[{
        "name": "burn", "image": busybox_image, "cpu": 128, "memory": 32, "essential": True, "stopTimeout": 2,
        "command": ["sh", "-c", "while [ ! -e /gate/stop ]; do :; done; exec sleep 100000"],
        "mountPoints": [{"sourceVolume": "gate", "containerPath": "/gate"}],
    }], volumes=[{"name": "gate", "host": {"sourcePath": str(gate)}}])["taskDefinition"]["taskDefinitionArn"]
    name = unique("burn")
    ecs.create_service(cluster=CLUSTER, serviceName=name, taskDefinition=td, desiredCount=1)

    aas.register_scalable_target(**target(name), MinCapacity=1, MaxCapacity=3)
    policy = aas.put_scaling_policy(
        PolicyName="cpu-tracking", **target(name), PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": 50.0,
            "PredefinedMetricSpecification": {"PredefinedMetricType": "ECSServiceAverageCPUUtilization"},
            "ScaleOutCooldown": 30, "ScaleInCooldown": 30,
        })
    arn = policy["PolicyARN"]
    assert arn.startswith(f"arn:aws:autoscaling:{REGION}:{ACCOUNT}:scalingPolicy:")
    assert arn.endswith(f":resource/ecs/{resource(name)}:policyName/cpu-tracking")
    high, low = (a["AlarmName"] for a in policy["Alarms"])
    assert high.startswith(f"TargetTracking-{resource(name)}-AlarmHigh-")
    assert low.startswith(f"TargetTracking-{resource(name)}-AlarmLow-")
    alarms = {a["AlarmName"]: a for a in cw.describe_alarms(AlarmNamePrefix=f"TargetTracking-{resource(name)}")["MetricAlarms"]}
    assert set(alarms) == {high, low}
    assert (alarms[high]["Namespace"], alarms[high]["MetricName"], alarms[high]["Statistic"]) == \
        ("AWS/ECS", "CPUUtilization", "Average")
    assert {d["Name"]: d["Value"] for d in alarms[high]["Dimensions"]} == {"ClusterName": CLUSTER, "ServiceName": name}
    assert (alarms[high]["Period"], alarms[high]["EvaluationPeriods"], alarms[high]["Threshold"],
            alarms[high]["ComparisonOperator"]) == (10, 3, 50.0, "GreaterThanThreshold")
    assert (alarms[low]["EvaluationPeriods"], alarms[low]["Threshold"], alarms[low]["ComparisonOperator"]) == \
        (15, 45.0, "LessThanThreshold")
    assert alarms[high]["AlarmActions"] == [arn]
    described = aas.describe_scaling_policies(ServiceNamespace="ecs", ResourceId=resource(name))["ScalingPolicies"]
    assert [p["PolicyName"] for p in described] == ["cpu-tracking"]
    assert {a["AlarmName"] for a in described[0]["Alarms"]} == {high, low}

    # Sustained load starts when the burner runs.
    wait_for("the burner to run", lambda: running(ecs, name) >= 1, 120, 1)
    load_start = time.monotonic()
    wait_for("a scale-out", lambda: desired(ecs, name) > 1, 180, 1)
    first_scale_out = time.monotonic() - load_start
    wait_for("a desired count of 3", lambda: desired(ecs, name) == 3, 120, 1)
    at_target = time.monotonic() - load_start
    # New tasks find the gate open and idle; the burner stops.
    (gate / "stop").write_text("")
    load_end = time.monotonic()
    wait_for("three running tasks", lambda: running(ecs, name) == 3, 120, 1)
    three_running = time.monotonic() - load_start
    scaled_out = [a for a in activities(aas, name) if a["Description"] == "Setting desired count to 3."]
    assert scaled_out, activities(aas, name)
    assert scaled_out[-1]["Cause"] == f"monitor alarm {high} in state ALARM triggered policy cpu-tracking"
    assert scaled_out[-1]["StatusCode"] == "Successful"

    wait_for("a scale-in to 1", lambda: desired(ecs, name) == 1, 300, 2)
    scale_in = time.monotonic() - load_end
    latest = activities(aas, name)[0]
    assert latest["Description"] == "Setting desired count to 1."
    assert latest["Cause"] == f"monitor alarm {low} in state ALARM triggered policy cpu-tracking"
    print(f"FIGURE target-tracking-period-seconds={PERIOD} (AlarmHigh 3x, AlarmLow 15x; AWS/ECS data per minute)")
    print(f"FIGURE load-to-first-scale-out-seconds={first_scale_out:.0f}")
    print(f"FIGURE load-to-desired-3-seconds={at_target:.0f}")
    print(f"FIGURE load-to-3-running-tasks-seconds={three_running:.0f}")
    print(f"FIGURE load-end-to-scale-in-seconds={scale_in:.0f}")

    # The aws CLI reads the same activities; deleting the policy deletes its alarms.
    out = aws_cli(["application-autoscaling", "describe-scaling-activities", "--service-namespace", "ecs",
                   "--resource-id", resource(name), *cli_args(srv)], extra_env=cli_env()).json
    assert out["ScalingActivities"][0]["Description"] == "Setting desired count to 1."
    aas.delete_scaling_policy(PolicyName="cpu-tracking", **target(name))
    assert cw.describe_alarms(AlarmNamePrefix=f"TargetTracking-{resource(name)}")["MetricAlarms"] == []
    aas.deregister_scalable_target(**target(name))


def test_a_scheduled_action_raises_the_minimum_at_its_time(sim, aws_cli):
    srv, ecs, aas, _ = sim
    name = simulated_service(ecs)
    out = aws_cli(["application-autoscaling", "register-scalable-target", "--service-namespace", "ecs",
                   "--resource-id", resource(name), "--scalable-dimension", DIMENSION,
                   "--min-capacity", "1", "--max-capacity", "5", *cli_args(srv)], extra_env=cli_env()).json
    assert out["ScalableTargetARN"].startswith(f"arn:aws:application-autoscaling:{REGION}:{ACCOUNT}:scalable-target/")
    # at() is read in the action's time zone: 15 s from now on the clocks of Paris.
    zone = "Europe/Paris"
    fire = (datetime.datetime.now(ZoneInfo(zone)) + datetime.timedelta(seconds=15)).replace(microsecond=0)
    aas.put_scheduled_action(**target(name), ScheduledActionName="raise-min", Schedule=f"at({fire:%Y-%m-%dT%H:%M:%S})",
                             Timezone=zone, ScalableTargetAction={"MinCapacity": 2})
    (action,) = aas.describe_scheduled_actions(ServiceNamespace="ecs", ResourceId=resource(name))["ScheduledActions"]
    assert (action["Schedule"], action["Timezone"]) == (f"at({fire:%Y-%m-%dT%H:%M:%S})", zone)
    assert action["ScalableTargetAction"] == {"MinCapacity": 2}
    assert action["ScheduledActionARN"].endswith(f":resource/ecs/{resource(name)}:scheduledActionName/raise-min")
    assert desired(ecs, name) == 1
    wait_for("the scheduled action", lambda: desired(ecs, name) == 2, 90, 1)
    fired_late = (datetime.datetime.now(UTC) - fire.astimezone(UTC)).total_seconds()
    print(f"FIGURE scheduled-action-applied-after-its-time-seconds={fired_late:.1f}")
    assert fired_late >= 0, "not before its time"
    (t,) = aas.describe_scalable_targets(ServiceNamespace="ecs", ResourceIds=[resource(name)])["ScalableTargets"]
    assert (t["MinCapacity"], t["MaxCapacity"]) == (2, 5)
    causes = [(a["Description"], a["Cause"]) for a in activities(aas, name)]
    assert causes[:2] == [("Setting desired count to 2.", "minimum capacity was set to 2"),
                          ("Setting min capacity to 2 and max capacity to 5",
                           "scheduled action name raise-min was triggered")]
    wait_for("two running tasks", lambda: running(ecs, name) == 2, 60, 1)
    aas.delete_scheduled_action(**target(name), ScheduledActionName="raise-min")
    assert aas.describe_scheduled_actions(ServiceNamespace="ecs")["ScheduledActions"] == []


def test_a_step_policy_runs_when_its_alarm_is_set_to_alarm(sim, aws_cli):
    srv, ecs, aas, cw = sim
    name = simulated_service(ecs)
    aas.register_scalable_target(**target(name), MinCapacity=1, MaxCapacity=5)
    arn = aas.put_scaling_policy(
        PolicyName="queue-step", **target(name), PolicyType="StepScaling",
        StepScalingPolicyConfiguration={
            "AdjustmentType": "ChangeInCapacity", "Cooldown": 60, "MetricAggregationType": "Average",
            "StepAdjustments": [{"MetricIntervalLowerBound": 0.0, "MetricIntervalUpperBound": 50.0,
                                 "ScalingAdjustment": 2},
                                {"MetricIntervalLowerBound": 50.0, "ScalingAdjustment": 4}],
        })["PolicyARN"]
    alarm = unique("queue-deep")
    cw.put_metric_alarm(AlarmName=alarm, Namespace=unique("App"), MetricName="QueueDepth", Statistic="Average",
                        Period=60, EvaluationPeriods=1, Threshold=100.0, ComparisonOperator="GreaterThanThreshold",
                        AlarmActions=[arn])
    cw.set_alarm_state(AlarmName=alarm, StateValue="ALARM", StateReason="testing the step policy")
    wait_for("the step policy", lambda: desired(ecs, name) == 3, 60, 1)
    latest = activities(aas, name)[0]
    assert latest["Description"] == "Setting desired count to 3."
    assert latest["Cause"] == f"monitor alarm {alarm} in state ALARM triggered policy queue-step"
    assert latest["StatusMessage"] == "Successfully set desired count to 3. Change successfully fulfilled by ecs."
    history = cw.describe_alarm_history(AlarmName=alarm, HistoryItemType="Action")["AlarmHistoryItems"]
    assert any(h["HistorySummary"] == f"Successfully executed action {arn}" for h in history), history
    wait_for("three running tasks", lambda: running(ecs, name) == 3, 60, 1)
    # The CLI shows the policy as it was put.
    out = aws_cli(["application-autoscaling", "describe-scaling-policies", "--service-namespace", "ecs",
                   "--resource-id", resource(name), *cli_args(srv)], extra_env=cli_env()).json
    (p,) = out["ScalingPolicies"]
    assert p["PolicyType"] == "StepScaling" and p["PolicyARN"] == arn
    assert [a["AlarmName"] for a in p["Alarms"]] == [alarm], "the user's alarm that runs it"
    assert p["StepScalingPolicyConfiguration"]["StepAdjustments"][1] == {"MetricIntervalLowerBound": 50.0,
                                                                         "ScalingAdjustment": 4}
    # Deregistering the target removes its policy; the alarm is the user's and stays.
    aas.deregister_scalable_target(**target(name))
    assert aas.describe_scaling_policies(ServiceNamespace="ecs")["ScalingPolicies"] == []
    assert cw.describe_alarms(AlarmNames=[alarm])["MetricAlarms"]


def test_refusals_carry_application_auto_scaling_codes(sim, aws_cli):
    srv, ecs, aas, _ = sim
    name = simulated_service(ecs)
    code, message = error_code(lambda: aas.register_scalable_target(
        ServiceNamespace="dynamodb", ResourceId="table/orders", ScalableDimension="dynamodb:table:ReadCapacityUnits",
        MinCapacity=1, MaxCapacity=5))
    assert code == "ValidationException" and "dynamodb" in message
    code, message = error_code(lambda: aas.register_scalable_target(**target("nope"), MinCapacity=1, MaxCapacity=2))
    assert (code, message) == ("ValidationException", f"ECS service doesn't exist: {resource('nope')}")
    assert error_code(lambda: aas.register_scalable_target(**target(name), MinCapacity=3, MaxCapacity=2))[0] == \
        "ValidationException"
    assert error_code(lambda: aas.put_scaling_policy(
        PolicyName="p", **target(name), PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={"TargetValue": 50.0, "PredefinedMetricSpecification": {
            "PredefinedMetricType": "ECSServiceAverageCPUUtilization"}}))[0] == "ObjectNotFoundException"
    assert error_code(lambda: aas.deregister_scalable_target(**target(name)))[0] == "ObjectNotFoundException"
    aas.register_scalable_target(**target(name), MinCapacity=1, MaxCapacity=2)
    assert error_code(lambda: aas.delete_scaling_policy(PolicyName="nope", **target(name)))[0] == \
        "ObjectNotFoundException"
    assert error_code(lambda: aas.delete_scheduled_action(ScheduledActionName="nope", **target(name)))[0] == \
        "ObjectNotFoundException"
    assert error_code(lambda: aas.put_scaling_policy(
        PolicyName="p", **target(name), PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={"TargetValue": 50.0, "PredefinedMetricSpecification": {
            "PredefinedMetricType": "ALBRequestCountPerTarget"}}))[0] == "ValidationException"
    assert error_code(lambda: aas.put_scheduled_action(
        ScheduledActionName="bad", **target(name), Schedule="every day",
        ScalableTargetAction={"MinCapacity": 1}))[0] == "ValidationException"
    assert error_code(lambda: aas.describe_scalable_targets(ServiceNamespace="ecs", NextToken="garbage!"))[0] == \
        "InvalidNextTokenException"
    assert error_code(lambda: aas.list_tags_for_resource(
        ResourceARN=f"arn:aws:application-autoscaling:{REGION}:{ACCOUNT}:scalable-target/0123abcd"))[0] == \
        "ResourceNotFoundException"
    p = aws_cli(["application-autoscaling", "register-scalable-target", "--service-namespace", "ecs",
                 "--resource-id", resource(name), "--scalable-dimension", "ecs:service:Nope", "--min-capacity", "1",
                 *cli_args(srv)], check=False, extra_env=cli_env())
    assert p.returncode != 0 and "ValidationException" in p.stderr, p.stderr
    # Tags on the target ARN round-trip.
    (t,) = aas.describe_scalable_targets(ServiceNamespace="ecs")["ScalableTargets"]
    aas.tag_resource(ResourceARN=t["ScalableTargetARN"], Tags={"team": "web"})
    assert aas.list_tags_for_resource(ResourceARN=t["ScalableTargetARN"])["Tags"] == {"team": "web"}
