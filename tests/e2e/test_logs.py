"""CloudWatch Logs, fed by the agents: a task with the awslogs driver has every line it
prints in its log stream, in order, readable with boto3 and the aws CLI; filter
patterns, Logs Insights, retention, and a flood that cannot run the agent out of
memory; lines spooled by an agent survive its restart.
"""

import os
import time

import pytest
from botocore.exceptions import ClientError

from conftest import ACCESS_KEY, SECRET_KEY, unique, wait_for, wait_running, wait_stopped
from test_tasks_docker import cli_args

CLUSTER = "default"


def awslogs_task(ecs, image, group, script, prefix="app"):
    return ecs.register_task_definition(family=unique("logs"), containerDefinitions=[{
        "name": "app", "image": image, "memory": 32, "essential": True, "stopTimeout": 2,
        "command": ["sh", "-c", script],
        "logConfiguration": {"logDriver": "awslogs", "options": {
            "awslogs-group": group, "awslogs-region": "us-east-1", "awslogs-stream-prefix": prefix,
            "awslogs-create-group": "true"}},
    }])["taskDefinition"]["taskDefinitionArn"]


def all_events(logs, group, stream):
    events, token = [], None
    for _ in range(1000):
        kwargs = {"logGroupName": group, "logStreamName": stream, "startFromHead": True}
        if token:
            kwargs["nextToken"] = token
        page = logs.get_log_events(**kwargs)
        events.extend(page["events"])
        if page["nextForwardToken"] == token:
            return events
        token = page["nextForwardToken"]
    raise AssertionError("get_log_events never reached the end")


def events_so_far(logs, group, stream):
    """The stream's events, or none while the agent has not created its group or stream yet."""
    try:
        return all_events(logs, group, stream)
    except ClientError as e:
        if e.response["Error"]["Code"] != "ResourceNotFoundException":
            raise
        return []


def numbered(n):
    return f"i=1; while [ $i -le {n} ]; do echo line $i; i=$((i+1)); done"


def test_a_task_with_awslogs_has_every_line_in_its_stream_in_order(docker_server, decs, busybox_image,
                                                                     task_cleanup, aws_cli):
    logs = docker_server.client("logs")
    group = f"/ecs/{unique('lines')}"
    td = awslogs_task(decs, busybox_image, group, numbered(500))
    arn = decs.run_task(cluster=CLUSTER, taskDefinition=td)["tasks"][0]["taskArn"]
    task_cleanup(arn, ecs=decs, cluster=CLUSTER)
    wait_stopped(decs, CLUSTER, arn)
    task_id = arn.rsplit("/", 1)[1]
    stream = f"app/app/{task_id}"
    wait_for("500 events", lambda: len(events_so_far(logs, group, stream)) == 500, 60)
    events = all_events(logs, group, stream)
    assert [e["message"] for e in events] == [f"line {i}" for i in range(1, 501)]
    times = [e["timestamp"] for e in events]
    assert times == sorted(times)
    assert abs(times[0] / 1000 - time.time()) < 600, "the container's own timestamps"

    found = logs.filter_log_events(logGroupName=group, filterPattern='"line 250"')["events"]
    assert [e["message"] for e in found] == ["line 250"]
    assert found[0]["logStreamName"] == stream
    not_found = logs.filter_log_events(logGroupName=group, filterPattern="?nothing ?nowhere")["events"]
    assert not_found == []

    env = {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY}
    out = aws_cli(["logs", "get-log-events", "--log-group-name", group, "--log-stream-name", stream,
                   "--start-from-head", "--limit", "3", *cli_args(docker_server)], extra_env=env).json
    assert [e["message"] for e in out["events"]] == ["line 1", "line 2", "line 3"]
    out = aws_cli(["logs", "filter-log-events", "--log-group-name", group, "--filter-pattern", '"line 499"',
                   *cli_args(docker_server)], extra_env=env).json
    assert [e["message"] for e in out["events"]] == ["line 499"]

    # Logs Insights over the same lines.
    now = int(time.time())
    qid = logs.start_query(logGroupName=group, startTime=now - 3600, endTime=now + 60,
                           queryString='fields @message | filter @message like /line 4\\d\\d$/ | stats count(*) as n')[
        "queryId"]
    result = wait_for("the query", lambda: (lambda r: r if r["status"] == "Complete" else None)(
        logs.get_query_results(queryId=qid)), 30)
    assert result["results"] == [[{"field": "n", "value": "100"}]], result
    with pytest.raises(ClientError) as e:
        logs.start_query(logGroupName=group, startTime=now - 60, endTime=now, queryString="stats count(* by")
    assert e.value.response["Error"]["Code"] == "MalformedQueryException"


def test_retention_removes_old_events(docker_server):
    logs = docker_server.client("logs")
    group = unique("retained")
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    now = int(time.time() * 1000)
    day = 24 * 3600 * 1000
    logs.put_log_events(logGroupName=group, logStreamName="s", logEvents=[
        {"timestamp": now - 5 * day, "message": "five days old"}])
    logs.put_log_events(logGroupName=group, logStreamName="s", logEvents=[{"timestamp": now, "message": "fresh"}])
    assert len(all_events(logs, group, "s")) == 2
    with pytest.raises(ClientError) as e:
        logs.put_retention_policy(logGroupName=group, retentionInDays=2)
    assert e.value.response["Error"]["Code"] == "InvalidParameterException"
    logs.put_retention_policy(logGroupName=group, retentionInDays=3)
    wait_for("the old event to go", lambda: [e["message"] for e in all_events(logs, group, "s")] == ["fresh"], 60)
    assert logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]["retentionInDays"] == 3


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


@pytest.mark.once
def test_a_flooding_container_cannot_run_the_agent_out_of_memory(docker_server, decs, busybox_image, task_cleanup):
    logs = docker_server.client("logs")
    group = f"/ecs/{unique('flood')}"
    lines = 300_000
    # Each line is about 100 bytes: some 30 MB of output, as fast as the container can print.
    script = f"yes '{'x' * 90}' | head -n {lines}"
    td = awslogs_task(decs, busybox_image, group, script)
    pid = docker_server.proc.pid
    before = rss_kib(pid)
    started = time.monotonic()
    arn = decs.run_task(cluster=CLUSTER, taskDefinition=td)["tasks"][0]["taskArn"]
    task_cleanup(arn, ecs=decs, cluster=CLUSTER)
    peak = before
    stream = f"app/app/{arn.rsplit('/', 1)[1]}"

    def stored():
        nonlocal peak
        peak = max(peak, rss_kib(pid))
        streams = logs.describe_log_streams(logGroupName=group)["logStreams"] if logs.describe_log_groups(
            logGroupNamePrefix=group)["logGroups"] else []
        return streams and streams[0]["storedBytes"] >= lines * (90 + 26)

    wait_for("every flooded line stored", stored, 600, interval=1)
    seconds = time.monotonic() - started
    count = len(all_events(logs, group, stream))
    print(f"FIGURE logs-flood lines={lines} stored={count} seconds={seconds:.1f} "
          f"lines_per_s={lines / seconds:.0f} rss_before_mib={before / 1024:.0f} rss_peak_mib={peak / 1024:.0f}")
    assert count == lines
    # Bounded: the lines go through a bounded channel and a spool on disk, never all in memory.
    assert peak - before < 200 * 1024, f"RSS grew from {before} KiB to {peak} KiB"


def test_lines_spooled_by_an_agent_survive_its_restart(docker_server, busybox_image, agents, tmp_path, task_cleanup):
    ecs = docker_server.client()
    logs = docker_server.client("logs")
    cluster = unique("logc")
    ecs.create_cluster(clusterName=cluster)
    agent = agents(docker_server.endpoint, cluster, state_dir=tmp_path / "agent")
    wait_for("the agent", lambda: ecs.list_container_instances(cluster=cluster)["containerInstanceArns"])
    group = f"/ecs/{unique('restart')}"
    # 400 lines over about 4 seconds.
    script = "i=1; while [ $i -le 400 ]; do echo line $i; i=$((i+1)); [ $((i % 10)) = 0 ] && sleep 0.1; done"
    td = awslogs_task(ecs, busybox_image, group, script)
    arn = ecs.run_task(cluster=cluster, taskDefinition=td)["tasks"][0]["taskArn"]
    task_cleanup(arn, ecs=ecs, cluster=cluster)
    wait_running(ecs, cluster, arn)
    time.sleep(1.5)
    agent.kill9()
    time.sleep(2)
    agent.start()
    stream = f"app/app/{arn.rsplit('/', 1)[1]}"
    wait_for("400 events", lambda: len(events_so_far(logs, group, stream)) >= 400, 120, interval=1)
    messages = [e["message"] for e in all_events(logs, group, stream)]
    assert messages == [f"line {i}" for i in range(1, 401)], (len(messages), messages[:3])
    assert os.path.isdir(tmp_path / "agent")
