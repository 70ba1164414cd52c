"""CloudWatch metrics: custom metrics through PutMetricData, GetMetricStatistics,
GetMetricData and ListMetrics with boto3 (which speaks RPC v2 CBOR to CloudWatch)
and the aws CLI; and AWS/ECS CPUUtilization of a service whose task burns CPU,
sampled by the agent.
"""

import datetime

import pytest
from botocore.exceptions import ClientError

from conftest import ACCESS_KEY, SECRET_KEY, unique, wait_for
from test_tasks_docker import cli_args

CLUSTER = "default"
UTC = datetime.timezone.utc


def test_custom_metrics_round_trip_through_boto3_and_the_cli(docker_server, aws_cli):
    cw = docker_server.client("cloudwatch")
    namespace = unique("App")
    now = datetime.datetime.now(UTC).replace(second=0, microsecond=0) - datetime.timedelta(minutes=5)
    dims = [{"Name": "Service", "Value": "web"}]
    cw.put_metric_data(Namespace=namespace, MetricData=[
        {"MetricName": "Latency", "Dimensions": dims, "Timestamp": now + datetime.timedelta(seconds=s),
         "Value": v, "Unit": "Milliseconds"} for s, v in [(0, 10.0), (10, 20.0), (70, 30.0)]])
    stats = cw.get_metric_statistics(Namespace=namespace, MetricName="Latency", Dimensions=dims,
                                     StartTime=now - datetime.timedelta(minutes=1),
                                     EndTime=now + datetime.timedelta(minutes=3), Period=60,
                                     Statistics=["Average", "Maximum", "SampleCount", "Sum"])
    points = sorted(stats["Datapoints"], key=lambda p: p["Timestamp"])
    assert [(p["Average"], p["Maximum"], p["SampleCount"]) for p in points] == [(15.0, 20.0, 2.0), (30.0, 30.0, 1.0)]
    assert points[0]["Timestamp"] == now, "timestamps come back as datetimes"
    assert points[0]["Unit"] == "Milliseconds"

    data = cw.get_metric_data(StartTime=now - datetime.timedelta(minutes=1), EndTime=now + datetime.timedelta(minutes=3),
                              MetricDataQueries=[{"Id": "m1", "MetricStat": {
                                  "Metric": {"Namespace": namespace, "MetricName": "Latency", "Dimensions": dims},
                                  "Period": 60, "Stat": "Sum"}}], ScanBy="TimestampAscending")
    (result,) = data["MetricDataResults"]
    assert result["Values"] == [30.0, 30.0] and result["StatusCode"] == "Complete"
    assert result["Timestamps"][0] == now

    listed = cw.list_metrics(Namespace=namespace)["Metrics"]
    assert listed == [{"Namespace": namespace, "MetricName": "Latency", "Dimensions": dims}]

    # botocore gzips a PutMetricData body past 10 KiB.
    cw.put_metric_data(Namespace=namespace, MetricData=[
        {"MetricName": "Bulk", "Timestamp": now, "Value": float(i)} for i in range(400)])
    bulk = cw.get_metric_statistics(Namespace=namespace, MetricName="Bulk", StartTime=now,
                                    EndTime=now + datetime.timedelta(minutes=1), Period=60,
                                    Statistics=["SampleCount", "Maximum"], ExtendedStatistics=["p50"])["Datapoints"]
    assert [(p["SampleCount"], p["Maximum"]) for p in bulk] == [(400.0, 399.0)]
    assert bulk[0]["ExtendedStatistics"]["p50"] in (199.0, 200.0)

    with pytest.raises(ClientError) as e:
        cw.put_metric_data(Namespace="AWS/ECS", MetricData=[{"MetricName": "x", "Value": 1.0}])
    assert e.value.response["Error"]["Code"] == "InvalidParameterValue"

    env = {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY}
    out = aws_cli(["cloudwatch", "get-metric-statistics", "--namespace", namespace, "--metric-name", "Latency",
                   "--dimensions", "Name=Service,Value=web", "--statistics", "Maximum", "--period", "60",
                   "--start-time", (now - datetime.timedelta(minutes=1)).isoformat(),
                   "--end-time", (now + datetime.timedelta(minutes=3)).isoformat(), *cli_args(docker_server)],
                  extra_env=env).json
    assert sorted(p["Maximum"] for p in out["Datapoints"]) == [20.0, 30.0]
    out = aws_cli(["cloudwatch", "list-metrics", "--namespace", namespace, *cli_args(docker_server)],
                  extra_env=env).json
    assert sorted(m["MetricName"] for m in out["Metrics"]) == ["Bulk", "Latency"]


@pytest.mark.once
def test_a_cpu_burning_service_shows_its_cpu_utilization(docker_server, decs, busybox_image, aws_cli):
    cw = docker_server.client("cloudwatch")
    family = unique("burn")
    td = decs.register_task_definition(family=family, containerDefinitions=[{
        "name": "burn", "image": busybox_image, "cpu": 512, "memory": 32, "essential": True, "stopTimeout": 2,
        "command": ["sh", "-c", "while :; do :; done"],
    }])["taskDefinition"]["taskDefinitionArn"]
    name = unique("burn")
    decs.create_service(cluster=CLUSTER, serviceName=name, taskDefinition=td, desiredCount=1)
    try:
        dims = [{"Name": "ClusterName", "Value": CLUSTER}, {"Name": "ServiceName", "Value": name}]
        start = datetime.datetime.now(UTC) - datetime.timedelta(minutes=5)

        def busiest():
            points = cw.get_metric_statistics(
                Namespace="AWS/ECS", MetricName="CPUUtilization", Dimensions=dims, StartTime=start,
                EndTime=datetime.datetime.now(UTC) + datetime.timedelta(minutes=1), Period=60,
                Statistics=["Maximum", "Average"], Unit="Percent")["Datapoints"]
            return max((p["Maximum"] for p in points), default=None)

        peak = wait_for("CPUUtilization samples", lambda: (lambda m: m if m and m > 50 else None)(busiest()), 120, 2)
        print(f"FIGURE ecs-cpu-utilization-of-a-busy-loop-percent={peak:.0f}")
        assert peak > 50
        env = {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY}
        out = aws_cli(["cloudwatch", "get-metric-statistics", "--namespace", "AWS/ECS", "--metric-name",
                       "CPUUtilization", "--dimensions", f"Name=ClusterName,Value={CLUSTER}",
                       f"Name=ServiceName,Value={name}", "--statistics", "Maximum", "--period", "60",
                       "--start-time", start.isoformat(),
                       "--end-time", (datetime.datetime.now(UTC) + datetime.timedelta(minutes=1)).isoformat(),
                       *cli_args(docker_server)], extra_env=env).json
        assert max(p["Maximum"] for p in out["Datapoints"]) > 50
        memory = cw.list_metrics(Namespace="AWS/ECS", MetricName="MemoryUtilization",
                                 Dimensions=[{"Name": "ServiceName", "Value": name}])["Metrics"]
        assert memory, "memory utilization is published too"
    finally:
        decs.delete_service(cluster=CLUSTER, service=name, force=True)
        decs.get_waiter("services_inactive").wait(cluster=CLUSTER, services=[name],
                                                  WaiterConfig={"Delay": 1, "MaxAttempts": 120})
