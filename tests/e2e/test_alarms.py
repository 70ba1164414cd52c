"""CloudWatch metric alarms with boto3 (RPC v2 CBOR) and the aws CLI: an alarm follows
published data OK -> ALARM -> OK, SetAlarmState and the evaluation taking the state
back, DescribeAlarmHistory's state, configuration and action items, missing data
treated as breaching, tags, describe filters and pages, deletion, and refusals with
CloudWatch's codes.

Alarms here use 10 s and 30 s periods over high-resolution data (`StorageResolution`
1), so each change shows within about 20 s (the period, a 2 s grace, and the
controller's 5 s interval); every wait is bounded.
"""

import datetime
import json
import time

import pytest
from botocore.exceptions import ClientError

from conftest import ACCESS_KEY, ACCOUNT, REGION, SECRET_KEY, unique

SNS = f"arn:aws:sns:{REGION}:{ACCOUNT}:ops-alerts"
# Bounds for waits on a busy two-core machine; never timing assertions.
STATE_TIMEOUT = 90


def alarm_arn(name):
    return f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{name}"


def cli(aws_cli, server, *args):
    env = {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY}
    return aws_cli([*args, "--endpoint-url", server.endpoint, "--region", REGION, "--output", "json"],
                   extra_env=env).json


def describe(cw, name):
    (alarm,) = cw.describe_alarms(AlarmNames=[name])["MetricAlarms"]
    return alarm


def wait_state(cw, name, state, feed=None, timeout=STATE_TIMEOUT):
    """Polls the alarm until it is in `state`, calling `feed()` (publishing data)
    every second meanwhile; returns the alarm."""
    deadline = time.monotonic() + timeout
    seen = None
    while True:
        if feed:
            feed()
        seen = describe(cw, name)
        if seen["StateValue"] == state:
            return seen
        if time.monotonic() > deadline:
            raise AssertionError(f"alarm {name} not {state} after {timeout}s: {seen['StateValue']} "
                                 f"({seen['StateReason']})")
        time.sleep(1)


def history(cw, name, kind):
    pages = cw.get_paginator("describe_alarm_history").paginate(
        AlarmName=name, HistoryItemType=kind, ScanBy="TimestampAscending")
    return [item for page in pages for item in page["AlarmHistoryItems"]]


def error_code(call):
    with pytest.raises(ClientError) as e:
        call()
    return e.value.response["Error"]["Code"]


@pytest.mark.once
def test_an_alarm_follows_published_data_from_ok_to_alarm_and_back(server, aws_cli):
    cw = server.client("cloudwatch")
    namespace, name = unique("Alarms"), unique("cpu-high")
    cw.put_metric_alarm(AlarmName=name, AlarmDescription="CPU above half", Namespace=namespace, MetricName="Cpu",
                        Dimensions=[{"Name": "Service", "Value": "web"}], Statistic="Maximum", Period=10,
                        EvaluationPeriods=1, Threshold=50.0, ComparisonOperator="GreaterThanThreshold",
                        AlarmActions=[SNS], Tags=[{"Key": "team", "Value": "core"}])
    alarm = describe(cw, name)
    assert alarm["AlarmArn"] == alarm_arn(name)
    assert alarm["StateValue"] == "INSUFFICIENT_DATA"
    assert alarm["StateReason"] == "Unchecked: Initial alarm creation"
    assert isinstance(alarm["StateUpdatedTimestamp"], datetime.datetime), "timestamps come back as datetimes"
    assert (alarm["Period"], alarm["Statistic"], alarm["Threshold"]) == (10, "Maximum", 50.0)

    def feed(value):
        return lambda: cw.put_metric_data(Namespace=namespace, MetricData=[{
            "MetricName": "Cpu", "Dimensions": [{"Name": "Service", "Value": "web"}], "Value": value,
            "StorageResolution": 1}])

    started = time.monotonic()
    ok = wait_state(cw, name, "OK", feed(10.0))
    assert ok["StateReason"].startswith("Threshold Crossed: 1 datapoint [10.0 (")
    assert ok["StateReason"].endswith("was not greater than the threshold (50.0).")
    alarmed = wait_state(cw, name, "ALARM", feed(85.0))
    assert alarmed["StateReason"].startswith("Threshold Crossed: 1 datapoint [85.0 (")
    assert alarmed["StateReason"].endswith("was greater than the threshold (50.0).")
    data = json.loads(alarmed["StateReasonData"])
    assert (data["statistic"], data["period"], data["threshold"], data["recentDatapoints"]) == \
        ("Maximum", 10, 50.0, [85.0])
    wait_state(cw, name, "OK", feed(10.0))
    print(f"FIGURE alarm-three-transitions-seconds={time.monotonic() - started:.0f}")

    updates = [h["HistorySummary"] for h in history(cw, name, "StateUpdate")]
    assert updates == ["Alarm updated from INSUFFICIENT_DATA to OK", "Alarm updated from OK to ALARM",
                       "Alarm updated from ALARM to OK"]
    # The ALARM action ran once, on the change; nothing here handles SNS, so it failed.
    (action,) = history(cw, name, "Action")
    assert action["HistorySummary"].startswith(f"Failed to execute action {SNS}. Received error:")
    assert json.loads(action["HistoryData"])["actionState"] == "Failed"
    assert isinstance(action["Timestamp"], datetime.datetime)

    out = cli(aws_cli, server, "cloudwatch", "describe-alarm-history", "--alarm-name", name,
              "--history-item-type", "StateUpdate")
    assert [h["HistorySummary"] for h in out["AlarmHistoryItems"]] == list(reversed(updates)), "newest first"
    new_state = json.loads(out["AlarmHistoryItems"][1]["HistoryData"])["newState"]
    assert new_state["stateValue"] == "ALARM" and new_state["stateReasonData"]["recentDatapoints"] == [85.0]
    out = cli(aws_cli, server, "cloudwatch", "describe-alarms", "--alarm-names", name, "--state-value", "OK")
    assert [a["AlarmName"] for a in out["MetricAlarms"]] == [name]
    assert cw.list_tags_for_resource(ResourceARN=alarm_arn(name))["Tags"] == [{"Key": "team", "Value": "core"}]
    cw.delete_alarms(AlarmNames=[name])


def test_set_alarm_state_holds_until_the_next_evaluation(server):
    cw = server.client("cloudwatch")
    namespace, name = unique("Alarms"), unique("drill")
    cw.put_metric_alarm(AlarmName=name, Namespace=namespace, MetricName="Quiet", Statistic="Average", Period=30,
                        EvaluationPeriods=1, Threshold=1.0, ComparisonOperator="GreaterThanOrEqualToThreshold")
    # An evaluation may fall between the set and the read (the alarm's first one, late
    # on a loaded machine, or a period's end): then the set is made again, and the next
    # evaluation is a period away.
    for _ in range(3):
        cw.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="fire drill",
                           StateReasonData=json.dumps({"by": "e2e"}))
        alarm = describe(cw, name)
        if alarm["StateValue"] == "ALARM":
            break
    assert (alarm["StateValue"], alarm["StateReason"]) == ("ALARM", "fire drill"), \
        "set, until the period ends (30 s)"
    assert json.loads(alarm["StateReasonData"]) == {"by": "e2e"}
    # No data: the next evaluation takes it back.
    back = wait_state(cw, name, "INSUFFICIENT_DATA")
    assert back["StateReason"] == "Insufficient Data: 1 datapoint was unknown."
    updates = history(cw, name, "StateUpdate")
    summaries = [h["HistorySummary"] for h in updates]
    assert summaries[-2:] == ["Alarm updated from INSUFFICIENT_DATA to ALARM",
                              "Alarm updated from ALARM to INSUFFICIENT_DATA"], summaries
    assert len(summaries) % 2 == 0 and set(summaries) == set(summaries[-2:]), summaries
    assert json.loads(updates[-2]["HistoryData"])["newState"]["stateReason"] == "fire drill"

    assert error_code(lambda: cw.set_alarm_state(AlarmName=unique("ghost"), StateValue="OK",
                                                 StateReason="x")) == "ResourceNotFound"
    assert error_code(lambda: cw.set_alarm_state(AlarmName=name, StateValue="OK", StateReason="x",
                                                 StateReasonData="{not json")) == "InvalidFormat"
    cw.delete_alarms(AlarmNames=[name])


def test_missing_data_treated_as_breaching_alarms_without_data(server, aws_cli):
    cw = server.client("cloudwatch")
    namespace, name = unique("Alarms"), unique("heartbeat")
    cli(aws_cli, server, "cloudwatch", "put-metric-alarm", "--alarm-name", name, "--namespace", namespace,
        "--metric-name", "Heartbeat", "--statistic", "SampleCount", "--period", "10", "--evaluation-periods", "2",
        "--threshold", "1", "--comparison-operator", "LessThanThreshold", "--treat-missing-data", "breaching")
    alarm = wait_state(cw, name, "ALARM")
    assert alarm["TreatMissingData"] == "breaching"
    assert alarm["StateReason"] == ("Threshold Crossed: no datapoints were received for 2 periods and 2 missing "
                                    "datapoints were treated as [Breaching].")
    # The same alarm treating missing data as missing has too little data to say.
    quiet = unique("heartbeat")
    cw.put_metric_alarm(AlarmName=quiet, Namespace=namespace, MetricName="Heartbeat", Statistic="SampleCount",
                        Period=10, EvaluationPeriods=2, Threshold=1.0, ComparisonOperator="LessThanThreshold")
    time.sleep(3)  # it is evaluated at once when put; no data leaves it as it was
    assert describe(cw, quiet)["StateValue"] == "INSUFFICIENT_DATA"
    assert history(cw, quiet, "StateUpdate") == []
    cw.delete_alarms(AlarmNames=[name, quiet])


def test_describe_filters_pages_tags_and_delete(server):
    cw = server.client("cloudwatch")
    prefix = unique("fleet")
    namespace = unique("Alarms")
    for i in range(5):
        cw.put_metric_alarm(AlarmName=f"{prefix}-{i}", Namespace=namespace, MetricName="Load",
                            Dimensions=[{"Name": "Host", "Value": f"h{i % 2}"}], ExtendedStatistic="p99.9",
                            Period=60, EvaluationPeriods=5, DatapointsToAlarm=3, Threshold=0.5,
                            ComparisonOperator="LessThanOrEqualToThreshold", TreatMissingData="notBreaching",
                            OKActions=[SNS] if i == 0 else [])
    pages = cw.get_paginator("describe_alarms").paginate(AlarmNamePrefix=prefix, PaginationConfig={"PageSize": 2})
    names = [a["AlarmName"] for page in pages for a in page["MetricAlarms"]]
    assert names == [f"{prefix}-{i}" for i in range(5)]
    first = describe(cw, f"{prefix}-0")
    assert (first["ExtendedStatistic"], first["DatapointsToAlarm"], first["TreatMissingData"]) == \
        ("p99.9", 3, "notBreaching")
    by_action = cw.describe_alarms(AlarmNamePrefix=prefix, ActionPrefix=f"arn:aws:sns:{REGION}:")["MetricAlarms"]
    assert [a["AlarmName"] for a in by_action] == [f"{prefix}-0"]
    for_metric = cw.describe_alarms_for_metric(Namespace=namespace, MetricName="Load",
                                               Dimensions=[{"Name": "Host", "Value": "h1"}])["MetricAlarms"]
    assert sorted(a["AlarmName"] for a in for_metric) == [f"{prefix}-1", f"{prefix}-3"]

    arn = alarm_arn(f"{prefix}-1")
    cw.tag_resource(ResourceARN=arn, Tags=[{"Key": "env", "Value": "e2e"}, {"Key": "tier", "Value": "1"}])
    cw.untag_resource(ResourceARN=arn, TagKeys=["tier"])
    assert cw.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "env", "Value": "e2e"}]

    cw.disable_alarm_actions(AlarmNames=[f"{prefix}-0"])
    assert describe(cw, f"{prefix}-0")["ActionsEnabled"] is False
    cw.enable_alarm_actions(AlarmNames=[f"{prefix}-0"])
    assert describe(cw, f"{prefix}-0")["ActionsEnabled"] is True

    # One unknown name: nothing is deleted.
    e = pytest.raises(ClientError, cw.delete_alarms, AlarmNames=[f"{prefix}-0", unique("ghost")])
    assert e.value.response["Error"]["Code"] == "ResourceNotFound"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert describe(cw, f"{prefix}-0")["AlarmName"] == f"{prefix}-0"
    cw.delete_alarms(AlarmNames=[f"{prefix}-{i}" for i in range(5)])
    assert cw.describe_alarms(AlarmNamePrefix=prefix)["MetricAlarms"] == []
    kept = [h["HistorySummary"] for h in history(cw, f"{prefix}-1", "ConfigurationUpdate")]
    assert kept == [f'Alarm "{prefix}-1" created', f'Alarm "{prefix}-1" deleted'], "history outlives the alarm"


def test_refusals_carry_cloudwatch_codes(server):
    cw = server.client("cloudwatch")
    namespace = unique("Alarms")
    base = dict(AlarmName=unique("bad"), Namespace=namespace, MetricName="Cpu", Statistic="Average", Period=60,
                EvaluationPeriods=1, Threshold=1.0, ComparisonOperator="GreaterThanThreshold")

    def put(**changes):
        args = {**base, **changes}
        return lambda: cw.put_metric_alarm(**{k: v for k, v in args.items() if v is not None})

    assert error_code(put(ComparisonOperator="GreaterThanUpperThreshold")) == "InvalidParameterValue"
    assert error_code(put(Period=45)) == "InvalidParameterValue"
    assert error_code(put(Period=10, EvaluationPeriods=10000)) == "InvalidParameterValue"
    assert error_code(put(DatapointsToAlarm=2)) == "InvalidParameterValue"
    assert error_code(put(EvaluationPeriods=None)) == "MissingParameter"
    assert error_code(put(Threshold=None)) == "MissingParameter"
    assert error_code(put(Statistic=None)) == "MissingParameter"
    assert error_code(put(ExtendedStatistic="p90")) == "InvalidParameterCombination"
    assert error_code(put(TreatMissingData="sometimes")) == "InvalidParameterValue"
    assert error_code(put(AlarmActions=["not-an-arn"])) == "InvalidParameterValue"
    math = [{"Id": "e1", "Expression": "m1 * 2", "ReturnData": True},
            {"Id": "m1", "ReturnData": False, "MetricStat": {
                "Metric": {"Namespace": namespace, "MetricName": "Cpu"}, "Period": 60, "Stat": "Sum"}}]
    assert error_code(put(Namespace=None, MetricName=None, Statistic=None, Period=None, Metrics=math)) == \
        "InvalidParameterValue"
    assert error_code(put(Metrics=math[1:])) == "InvalidParameterCombination"
    assert cw.describe_alarms(AlarmNames=[base["AlarmName"]])["MetricAlarms"] == [], "no refusal stored anything"

    assert error_code(lambda: cw.describe_alarms(NextToken="not-a-token")) == "InvalidNextToken"
    assert error_code(lambda: cw.list_tags_for_resource(ResourceARN=alarm_arn(unique("ghost")))) == \
        "ResourceNotFoundException"
    assert error_code(lambda: cw.tag_resource(ResourceARN=alarm_arn(unique("ghost")),
                                              Tags=[{"Key": "k", "Value": "v"}])) == "ResourceNotFoundException"
