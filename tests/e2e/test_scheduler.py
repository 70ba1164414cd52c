"""EventBridge Scheduler (issue 17): schedules and groups over REST-JSON with boto3 and
the aws CLI; a one-time `at(…)` schedule runs an ECS task on real containers; a
`rate(…)` schedule sends to an SQS queue; AWS's errors."""

import datetime
import json

import pytest
from botocore.exceptions import ClientError

from conftest import ACCESS_KEY, BUSYBOX_IMAGE, SECRET_KEY, unique, wait_for

ROLE = "arn:aws:iam::000000000000:role/scheduler"


def test_a_one_time_schedule_runs_an_ecs_task(docker_server, decs, task_cleanup):
    scheduler = docker_server.client("scheduler")
    family = unique("sched")
    td = decs.register_task_definition(family=family, containerDefinitions=[{
        "name": "app", "image": BUSYBOX_IMAGE, "memory": 16, "command": ["sh", "-c", "echo scheduled; sleep 1"],
    }])["taskDefinition"]["taskDefinitionArn"]
    when = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=5)
    name = unique("once")
    arn = scheduler.create_schedule(
        Name=name, ScheduleExpression=f"at({when.strftime('%Y-%m-%dT%H:%M:%S')})",
        FlexibleTimeWindow={"Mode": "OFF"}, ActionAfterCompletion="DELETE",
        Target={"Arn": "arn:aws:ecs:us-east-1:000000000000:cluster/default", "RoleArn": ROLE,
                "EcsParameters": {"TaskDefinitionArn": td, "TaskCount": 1}})["ScheduleArn"]
    assert arn.endswith(f":schedule/default/{name}")
    got = scheduler.get_schedule(Name=name)
    assert got["State"] == "ENABLED" and got["Target"]["EcsParameters"]["TaskDefinitionArn"] == td

    def started():
        arns = decs.list_tasks(cluster="default", family=family, desiredStatus="STOPPED")["taskArns"]
        arns += decs.list_tasks(cluster="default", family=family)["taskArns"]
        for a in arns:
            task_cleanup(a, ecs=decs, cluster="default")
        return arns

    tasks = wait_for("the scheduled task", started, timeout=60)
    assert len(tasks) == 1, tasks
    task = decs.describe_tasks(cluster="default", tasks=tasks)["tasks"][0]
    assert task["startedBy"] == f"scheduler/{name}"[:36]
    # Done, and deleted after completion.
    wait_for("the one-time schedule to be deleted", lambda: name not in [
        s["Name"] for s in scheduler.list_schedules()["Schedules"]], timeout=30)


def test_a_rate_schedule_sends_to_a_queue_and_the_cli_sees_it(server, aws_cli):
    scheduler = server.client("scheduler")
    sqs = server.client("sqs")
    queue = sqs.create_queue(QueueName=unique("sched-q"))["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    group = unique("team")
    scheduler.create_schedule_group(Name=group, Tags=[{"Key": "team", "Value": "ops"}])
    name = unique("every")
    scheduler.create_schedule(
        Name=name, GroupName=group, ScheduleExpression="rate(1 minute)",
        ScheduleExpressionTimezone="Europe/Paris", FlexibleTimeWindow={"Mode": "OFF"},
        Target={"Arn": queue_arn, "RoleArn": ROLE, "Input": json.dumps({"job": "report"})})

    def received():
        return sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=2).get("Messages")

    [message] = wait_for("the scheduled message", received, timeout=30)
    assert json.loads(message["Body"]) == {"job": "report"}

    env = {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY}
    cli = ["--endpoint-url", server.endpoint, "--region", "us-east-1", "--output", "json"]
    listed = aws_cli(["scheduler", "list-schedules", "--group-name", group, *cli], extra_env=env).json
    assert [s["Name"] for s in listed["Schedules"]] == [name]
    got = aws_cli(["scheduler", "get-schedule", "--name", name, "--group-name", group, *cli], extra_env=env).json
    assert got["ScheduleExpressionTimezone"] == "Europe/Paris"
    group_arn = scheduler.get_schedule_group(Name=group)["Arn"]
    assert scheduler.list_tags_for_resource(ResourceArn=group_arn)["Tags"] == [{"Key": "team", "Value": "ops"}]
    scheduler.untag_resource(ResourceArn=group_arn, TagKeys=["team"])
    assert scheduler.list_tags_for_resource(ResourceArn=group_arn)["Tags"] == []

    scheduler.update_schedule(Name=name, GroupName=group, ScheduleExpression="rate(1 hour)", State="DISABLED",
                              FlexibleTimeWindow={"Mode": "OFF"}, Target={"Arn": queue_arn, "RoleArn": ROLE})
    assert scheduler.get_schedule(Name=name, GroupName=group)["State"] == "DISABLED"
    scheduler.delete_schedule_group(Name=group)
    with pytest.raises(ClientError) as e:
        scheduler.get_schedule(Name=name, GroupName=group)
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_refusals_use_schedulers_errors(server):
    scheduler = server.client("scheduler")
    target = {"Arn": "arn:aws:sqs:us-east-1:000000000000:q", "RoleArn": ROLE}

    def refused(code, **kwargs):
        with pytest.raises(ClientError) as e:
            scheduler.create_schedule(FlexibleTimeWindow={"Mode": "OFF"}, Target=target, **kwargs)
        assert e.value.response["Error"]["Code"] == code, e.value.response
        return e.value.response["Error"]["Message"]

    assert "Invalid Schedule Expression" in refused("ValidationException", Name=unique("x"),
                                                    ScheduleExpression="rate(1 minutes)")
    refused("ValidationException", Name=unique("x"), ScheduleExpression="cron(0 3 * * * *)")
    refused("ResourceNotFoundException", Name=unique("x"), GroupName="no-such-group",
            ScheduleExpression="rate(5 minutes)")
    assert "time zone" in refused("ValidationException", Name=unique("x"), ScheduleExpression="rate(5 minutes)",
                                  ScheduleExpressionTimezone="Mars/Olympus")
    name = unique("dup")
    scheduler.create_schedule(Name=name, ScheduleExpression="rate(5 minutes)", FlexibleTimeWindow={"Mode": "OFF"},
                              Target=target, State="DISABLED")
    refused("ConflictException", Name=name, ScheduleExpression="rate(5 minutes)")
    with pytest.raises(ClientError) as e:
        scheduler.delete_schedule_group(Name="default")
    assert e.value.response["Error"]["Code"] == "ValidationException"
    scheduler.delete_schedule(Name=name)
