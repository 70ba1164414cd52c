"""Amazon EventBridge with boto3 and the aws CLI against the real binary: buses, rules
and targets with AWS's refusals; TestEventPattern over the pattern grammar (aws CLI);
PutEvents to an SQS target through an input transformer; an API destination receiving
events on a loopback HTTP server with its connection's API key; a failing target's
event in its dead-letter queue with AWS's attributes; `kill -9` between PutEvents and
delivery loses nothing; on real containers, a `rate(1 minute)` rule runs an ECS task
every minute, a custom event becomes a task's container overrides, and ECS's own task
state changes reach rules on the default bus.
"""

import http.server
import json
import threading
import time

import pytest
from botocore.exceptions import ClientError

from conftest import ACCESS_KEY, ACCOUNT, BUSYBOX_IMAGE, REGION, SECRET_KEY, free_port, unique, wait_for

# Bounds for a busy two-core machine; never the behaviour under test.
PROMPT = 30.0


@pytest.fixture(scope="module")
def events(server):
    return server.client("events")


@pytest.fixture(scope="module")
def sqs(server):
    return server.client("sqs")


def code_of(excinfo):
    return excinfo.value.response["Error"]["Code"]


def message_of(excinfo):
    return excinfo.value.response["Error"]["Message"]


def queue(sqs, prefix="q"):
    name = unique(prefix)
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    return url, f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"


def receive(sqs, url, timeout=PROMPT):
    """Waits for one message (with its attributes); returns it."""
    def probe():
        got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=2, MessageAttributeNames=["All"]).get("Messages", [])
        return got[0] if got else None
    return wait_for(f"a message in {url}", probe, timeout, interval=0)


class Recorder:
    """A loopback HTTP server recording each request (method, path, headers, body) and
    answering `status` (changeable)."""

    def __init__(self, port=0, status=200):
        self.requests = []
        self.status = status
        recorder = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _any(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                recorder.requests.append({"method": self.command, "path": self.path,
                                          "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body,
                                          "at": time.monotonic()})
                self.send_response(recorder.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_POST = do_PUT = do_GET = _any

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def recorder():
    made = []

    def make(**kwargs):
        r = Recorder(**kwargs)
        made.append(r)
        return r

    yield make
    for r in made:
        r.close()


def api_destination(events, endpoint, method="POST"):
    """An API_KEY connection and an API destination on it; returns the destination ARN."""
    name = unique("conn")
    conn = events.create_connection(Name=name, AuthorizationType="API_KEY", AuthParameters={
        "ApiKeyAuthParameters": {"ApiKeyName": "x-api-key", "ApiKeyValue": "s3cret-value"}})
    dest = events.create_api_destination(Name=unique("dest"), ConnectionArn=conn["ConnectionArn"],
                                         InvocationEndpoint=endpoint, HttpMethod=method,
                                         InvocationRateLimitPerSecond=300)
    return dest["ApiDestinationArn"]


def test_buses_rules_and_targets_with_aws_refusals(events, sqs):
    default = events.describe_event_bus()
    assert default["Name"] == "default"
    assert default["Arn"] == f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/default"
    bus = unique("bus")
    arn = events.create_event_bus(Name=bus, Description="orders", Tags=[{"Key": "team", "Value": "shop"}])["EventBusArn"]
    assert arn == f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{bus}"
    with pytest.raises(ClientError) as e:
        events.create_event_bus(Name=bus)
    assert code_of(e) == "ResourceAlreadyExistsException"
    assert bus in [b["Name"] for b in events.list_event_buses(NamePrefix=bus)["EventBuses"]]
    assert events.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "team", "Value": "shop"}]
    with pytest.raises(ClientError) as e:
        events.delete_event_bus(Name="default")
    assert (code_of(e), message_of(e)) == ("ValidationException", "Cannot delete event bus default.")

    with pytest.raises(ClientError) as e:
        events.put_rule(Name="bad", EventPattern='{"source": "not-a-list"}')
    assert code_of(e) == "InvalidEventPatternException"
    assert message_of(e).startswith("Event pattern is not valid. Reason:")
    with pytest.raises(ClientError) as e:
        events.put_rule(Name="sched", EventBusName=bus, ScheduleExpression="rate(5 minutes)")
    assert message_of(e) == "ScheduleExpression is supported only on the default event bus."
    with pytest.raises(ClientError) as e:
        events.put_rule(Name="sched", ScheduleExpression="rate(1 minutes)")
    assert (code_of(e), message_of(e)) == ("ValidationException", "Parameter ScheduleExpression is not valid.")

    rule = unique("rule")
    rule_arn = events.put_rule(Name=rule, EventBusName=bus, EventPattern='{"source": ["shop"]}',
                               State="DISABLED", Description="paid orders")["RuleArn"]
    assert rule_arn == f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{bus}/{rule}"
    d = events.describe_rule(Name=rule, EventBusName=bus)
    assert (d["State"], d["EventBusName"], d["Description"]) == ("DISABLED", bus, "paid orders")
    events.enable_rule(Name=rule, EventBusName=bus)
    assert events.describe_rule(Name=rule, EventBusName=bus)["State"] == "ENABLED"
    pages = list(events.get_paginator("list_rules").paginate(EventBusName=bus, PaginationConfig={"PageSize": 1}))
    assert [r["Name"] for p in pages for r in p["Rules"]] == [rule]

    _, q = queue(sqs)
    out = events.put_targets(Rule=rule, EventBusName=bus, Targets=[
        {"Id": "ok", "Arn": q, "RetryPolicy": {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 120}},
        {"Id": "no-ecs-params", "Arn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/default"},
        {"Id": "lambda", "Arn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:f"},
    ])
    assert out["FailedEntryCount"] == 2
    assert [f["TargetId"] for f in out["FailedEntries"]] == ["no-ecs-params", "lambda"]
    assert out["FailedEntries"][0]["ErrorMessage"] == "Parameter(s) EcsParameters must be specified for target: no-ecs-params."
    with pytest.raises(ClientError) as e:
        events.put_targets(Rule=rule, EventBusName=bus,
                           Targets=[{"Id": f"t{i}", "Arn": q} for i in range(5)])
    assert code_of(e) == "LimitExceededException"
    (target,) = events.list_targets_by_rule(Rule=rule, EventBusName=bus)["Targets"]
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 120}
    assert events.list_rule_names_by_target(TargetArn=q, EventBusName=bus)["RuleNames"] == [rule]
    with pytest.raises(ClientError) as e:
        events.delete_rule(Name=rule, EventBusName=bus)
    assert (code_of(e), message_of(e)) == ("ValidationException", "Rule can't be deleted since it has targets.")
    events.remove_targets(Rule=rule, EventBusName=bus, Ids=["ok"])
    events.delete_rule(Name=rule, EventBusName=bus)
    with pytest.raises(ClientError) as e:
        events.describe_rule(Name=rule, EventBusName=bus)
    assert code_of(e) == "ResourceNotFoundException"
    events.delete_event_bus(Name=bus)


def test_test_event_pattern_with_the_aws_cli(server, aws_cli):
    base = ["--endpoint-url", server.endpoint, "--region", REGION, "--output", "json"]
    env = {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY}
    event = {"id": "e1", "account": ACCOUNT, "source": "shop", "time": "2024-05-01T12:00:00Z", "region": REGION,
             "detail-type": "Order Placed", "resources": ["arn:aws:ec2:us-east-1:000000000000:instance/i-1"],
             "detail": {"amount": 150, "state": "paid", "customer": {"tier": "gold"}, "ip": "10.0.0.7",
                        "tags": ["a", "b"], "note": None}}

    def test(pattern):
        out = aws_cli([*base, "events", "test-event-pattern", "--event-pattern", json.dumps(pattern),
                       "--event", json.dumps(event)], extra_env=env)
        return out.json["Result"]

    assert test({"source": ["shop"]}) is True
    assert test({"source": ["other"]}) is False
    assert test({"detail-type": [{"prefix": "Order"}]}) is True
    assert test({"detail": {"amount": [{"numeric": [">", 100, "<=", 150]}]}}) is True
    assert test({"detail": {"amount": [{"numeric": [">", 150]}]}}) is False
    assert test({"detail": {"state": [{"anything-but": ["paid", "new"]}]}}) is False
    assert test({"detail": {"customer": {"tier": [{"equals-ignore-case": "GOLD"}]}}}) is True
    assert test({"detail": {"ip": [{"cidr": "10.0.0.0/24"}]}}) is True
    assert test({"detail": {"tags": ["b"]}}) is True
    assert test({"detail": {"note": [None]}}) is True
    assert test({"detail": {"missing": [{"exists": False}]}}) is True
    assert test({"detail": {"state": [{"wildcard": "p*d"}]}}) is True
    assert test({"$or": [{"source": ["nope"]}, {"detail": {"state": ["paid"]}}]}) is True
    assert test({"resources": [{"suffix": "i-1"}]}) is True
    bad = aws_cli([*base, "events", "test-event-pattern", "--event-pattern", '{"source": "shop"}',
                   "--event", json.dumps(event)], extra_env=env, check=False)
    assert bad.returncode != 0
    assert "InvalidEventPatternException" in bad.stderr


def test_put_events_to_an_sqs_target_through_an_input_transformer(events, sqs):
    url, q = queue(sqs)
    whole_url, whole = queue(sqs)
    rule = unique("orders")
    events.put_rule(Name=rule, EventPattern=json.dumps({"source": [rule], "detail": {"state": ["paid"]}}))
    out = events.put_targets(Rule=rule, Targets=[
        {"Id": "shaped", "Arn": q, "InputTransformer": {
            "InputPathsMap": {"id": "$.detail.id", "amount": "$.detail.amount"},
            "InputTemplate": '{"order": <id>, "amount": <amount>, "rule": <aws.events.rule-name>}'}},
        {"Id": "whole", "Arn": whole},
    ])
    assert out["FailedEntryCount"] == 0
    put = events.put_events(Entries=[
        {"Source": rule, "DetailType": "Order", "Detail": json.dumps({"state": "paid", "id": "o-7", "amount": 12.5}),
         "Resources": ["r-1"]},
        {"Source": rule, "DetailType": "Order", "Detail": json.dumps({"state": "new", "id": "o-8"})},
        {"Source": rule, "DetailType": "Order", "Detail": "[not an object]"},
        {"DetailType": "Order", "Detail": "{}"},
    ])
    assert put["FailedEntryCount"] == 2
    assert put["Entries"][2]["ErrorCode"] == "MalformedDetail"
    assert put["Entries"][3]["ErrorCode"] == "InvalidArgument"
    event_id = put["Entries"][0]["EventId"]
    shaped = receive(sqs, url)
    assert json.loads(shaped["Body"]) == {"order": "o-7", "amount": 12.5, "rule": rule}
    event = json.loads(receive(sqs, whole_url)["Body"])
    assert event["id"] == event_id
    assert (event["source"], event["detail-type"], event["account"], event["region"]) == (rule, "Order", ACCOUNT, REGION)
    assert event["resources"] == ["r-1"]
    assert event["detail"] == {"state": "paid", "id": "o-7", "amount": 12.5}
    # The unmatched event reached neither queue.
    time.sleep(1)
    assert sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages", []) == []
    with pytest.raises(ClientError) as e:
        events.put_events(Entries=[{"Source": "a", "DetailType": "b", "Detail": "{}"}] * 11)
    assert code_of(e) == "ValidationException"
    big = json.dumps({"x": "a" * (200 * 1024)})
    with pytest.raises(ClientError) as e:
        events.put_events(Entries=[{"Source": "a", "DetailType": "b", "Detail": big}] * 2)
    assert message_of(e) == "Total size of the entries in the request is over the limit."


def test_an_api_destination_receives_events_with_its_connection_key(events, recorder):
    hook = recorder()
    dest = api_destination(events, f"{hook.url}/orders/*")
    rule = unique("hook")
    events.put_rule(Name=rule, EventPattern=json.dumps({"source": [rule]}))
    out = events.put_targets(Rule=rule, Targets=[{"Id": "api", "Arn": dest, "InputPath": "$.detail",
        "HttpParameters": {"PathParameterValues": ["$.detail.id"], "HeaderParameters": {"x-source": "$.source"},
                           "QueryStringParameters": {"mode": "test"}}}])
    assert out["FailedEntryCount"] == 0
    events.put_events(Entries=[{"Source": rule, "DetailType": "Order", "Detail": json.dumps({"id": "o-1", "n": 2})}])
    (req,) = wait_for("the API destination's request", lambda: hook.requests, PROMPT)
    assert req["method"] == "POST"
    assert req["path"] == "/orders/o-1?mode=test"
    assert req["headers"]["x-api-key"] == "s3cret-value"
    assert req["headers"]["x-source"] == rule
    assert req["headers"]["user-agent"] == "Amazon/EventBridge/ApiDestinations"
    assert json.loads(req["body"]) == {"id": "o-1", "n": 2}
    conn = events.describe_connection(Name=events.list_connections()["Connections"][0]["Name"])
    assert "ApiKeyValue" not in json.dumps(conn["AuthParameters"]), "secrets are never answered back"


def test_a_failing_target_lands_in_its_dead_letter_queue(events, sqs, recorder):
    dlq_url, dlq = queue(sqs, "dlq")
    refusing = recorder(status=400)
    dest = api_destination(events, f"{refusing.url}/hook")
    missing_queue = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{unique('missing')}"
    rule = unique("fails")
    rule_arn = events.put_rule(Name=rule, EventPattern=json.dumps({"source": [rule]}))["RuleArn"]
    events.put_targets(Rule=rule, Targets=[
        {"Id": "gone", "Arn": missing_queue, "DeadLetterConfig": {"Arn": dlq}},
        {"Id": "refused", "Arn": dest, "DeadLetterConfig": {"Arn": dlq}},
    ])
    event_id = events.put_events(Entries=[{"Source": rule, "DetailType": "x", "Detail": "{}"}])["Entries"][0]["EventId"]
    got = {}
    for _ in range(2):
        m = receive(sqs, dlq_url)
        sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=m["ReceiptHandle"])
        attrs = {k: v["StringValue"] for k, v in m["MessageAttributes"].items()}
        got[attrs["TARGET_ARN"]] = (attrs, json.loads(m["Body"]))
    attrs, body = got[missing_queue]
    assert body["id"] == event_id
    assert attrs["RULE_ARN"] == rule_arn
    assert attrs["ERROR_CODE"] == "NO_RESOURCE"
    assert attrs["ERROR_MESSAGE"]
    attrs, body = got[dest]
    assert attrs["ERROR_CODE"] == "INVALID_PARAMETER"
    assert "400" in attrs["ERROR_MESSAGE"]
    assert len(refusing.requests) == 1, "a 4xx is not retried"


def test_kill_9_between_put_events_and_delivery_loses_nothing(fresh_server, recorder):
    srv = fresh_server()
    events = srv.client("events")
    port = free_port()
    # Nothing listens on the endpoint yet: deliveries fail (connection refused) and wait.
    dest = api_destination(events, f"http://127.0.0.1:{port}/in")
    rule = unique("durable")
    events.put_rule(Name=rule, EventPattern=json.dumps({"source": [rule]}))
    events.put_targets(Rule=rule, Targets=[{"Id": "api", "Arn": dest, "InputPath": "$.detail"}])
    ids = []
    for i in range(3):
        out = events.put_events(Entries=[{"Source": rule, "DetailType": "x", "Detail": json.dumps({"n": i})}])
        assert out["FailedEntryCount"] == 0
        ids.append(out["Entries"][0]["EventId"])
    time.sleep(1.5)
    srv.kill9()
    hook = recorder(port=port)
    srv.start()
    wait_for("the three events after the restart", lambda: len({r["body"] for r in hook.requests}) == 3, 90)
    assert sorted(json.loads(r["body"])["n"] for r in hook.requests if r["path"] == "/in")[:3] == [0, 1, 2]


# Real containers -------------------------------------------------------------------


def register(decs, family, command, **container):
    td = decs.register_task_definition(family=family, containerDefinitions=[
        {"name": "app", "image": BUSYBOX_IMAGE, "memory": 32, "command": command, **container}])["taskDefinition"]
    return td["taskDefinitionArn"]


def tasks_started_by(decs, started_by):
    """The tasks of `started_by`, running or stopped, each once (a task that stops
    between the two listings is in both)."""
    arns = []
    for status in ("RUNNING", "STOPPED"):
        arns += decs.list_tasks(cluster="default", startedBy=started_by, desiredStatus=status)["taskArns"]
    arns = list(dict.fromkeys(arns))
    if not arns:
        return []
    return decs.describe_tasks(cluster="default", tasks=arns)["tasks"]


@pytest.mark.once
def test_a_rate_rule_runs_an_ecs_task_every_minute(docker_server, decs, task_cleanup):
    events = docker_server.client("events")
    family = unique("every-minute")
    td = register(decs, family, ["sh", "-c", "echo tick"])
    rule = unique("tick")
    created = time.time()
    events.put_rule(Name=rule, ScheduleExpression="rate(1 minute)")
    events.put_targets(Rule=rule, Targets=[{"Id": "task", "Arn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/default",
                                            "EcsParameters": {"TaskDefinitionArn": td, "TaskCount": 1}}])
    started_by = f"events-rule/{rule}"[:36]
    try:
        first = wait_for("the first fire", lambda: tasks_started_by(decs, started_by), 90, interval=1)
        task_cleanup(*[t["taskArn"] for t in first], ecs=decs, cluster="default")
        first_at = first[0]["createdAt"].timestamp()
        assert len(first) == 1
        assert 55 <= first_at - created <= 75, f"first fire {first_at - created:.1f}s after PutRule"
        assert first[0]["startedBy"] == started_by
        both = wait_for("the second fire", lambda: (lambda t: t if len(t) >= 2 else None)(tasks_started_by(decs, started_by)),
                        80, interval=1)
        task_cleanup(*[t["taskArn"] for t in both], ecs=decs, cluster="default")
        times = sorted(t["createdAt"].timestamp() for t in both)
        assert len(both) == 2
        assert 55 <= times[1] - times[0] <= 65, f"fires {times[1] - times[0]:.1f}s apart"
    finally:
        events.remove_targets(Rule=rule, Ids=["task"])
        events.delete_rule(Name=rule)


def test_a_custom_event_becomes_container_overrides(docker_server, decs, task_cleanup):
    events = docker_server.client("events")
    family = unique("deploy")
    td = register(decs, family, ["sh", "-c", 'test "$VERSION" = "2.7.1"'])
    rule = unique("deploy")
    events.put_rule(Name=rule, EventPattern=json.dumps({"source": ["e2e.ci"], "detail": {"rule": [rule]}}))
    template = ('{"containerOverrides": [{"name": "app", "environment": [{"name": "VERSION", "value": <version>}]}]}')
    out = events.put_targets(Rule=rule, Targets=[{
        "Id": "task", "Arn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/default",
        "EcsParameters": {"TaskDefinitionArn": td, "LaunchType": "EC2", "Group": "family:e2e"},
        "InputTransformer": {"InputPathsMap": {"version": "$.detail.version"}, "InputTemplate": template}}])
    assert out["FailedEntryCount"] == 0
    events.put_events(Entries=[{"Source": "e2e.ci", "DetailType": "Build Succeeded",
                                "Detail": json.dumps({"rule": rule, "version": "2.7.1"})}])
    started_by = f"events-rule/{rule}"[:36]
    (task,) = wait_for("the task the event started", lambda: tasks_started_by(decs, started_by), PROMPT * 2)
    task_cleanup(task["taskArn"], ecs=decs, cluster="default")
    assert task["overrides"]["containerOverrides"][0]["environment"] == [{"name": "VERSION", "value": "2.7.1"}]
    assert task["group"] == "family:e2e"
    stopped = wait_for("the task to stop", lambda: [t for t in tasks_started_by(decs, started_by)
                                                     if t["lastStatus"] == "STOPPED"], 120, interval=1)
    assert stopped[0]["containers"][0].get("exitCode") == 0, "the container saw the override"
    events.remove_targets(Rule=rule, Ids=["task"])
    events.delete_rule(Name=rule)


def test_ecs_task_state_changes_reach_the_default_bus(docker_server, decs, task_cleanup):
    """A rule on `ECS Task State Change` for tasks STOPPED with a non-zero exit code puts
    the event into a queue; a task that exits 0 does not match."""
    events = docker_server.client("events")
    sqs = docker_server.client("sqs")
    url, q = queue(sqs, "ecs-events")
    family = unique("emits")
    failing = register(decs, family, ["sh", "-c", "exit 3"])
    rule = unique("task-failed")
    events.put_rule(Name=rule, EventPattern=json.dumps({
        "source": ["aws.ecs"], "detail-type": ["ECS Task State Change"],
        "detail": {"group": [f"family:{family}"], "lastStatus": ["STOPPED"],
                   "containers": {"exitCode": [{"anything-but": 0}]}}}))
    events.put_targets(Rule=rule, Targets=[{"Id": "q", "Arn": q}])
    succeeding = decs.register_task_definition(family=family, containerDefinitions=[
        {"name": "app", "image": BUSYBOX_IMAGE, "memory": 32, "command": ["sh", "-c", "exit 0"]}])[
        "taskDefinition"]["taskDefinitionArn"]
    (ok,) = decs.run_task(cluster="default", taskDefinition=succeeding)["tasks"]
    task_cleanup(ok["taskArn"], ecs=decs, cluster="default")
    (task,) = decs.run_task(cluster="default", taskDefinition=failing)["tasks"]
    task_cleanup(task["taskArn"], ecs=decs, cluster="default")
    event = json.loads(receive(sqs, url, timeout=120)["Body"])
    assert (event["source"], event["detail-type"]) == ("aws.ecs", "ECS Task State Change")
    assert event["resources"] == [task["taskArn"]], "only the task that failed matches"
    assert event["detail"]["taskArn"] == task["taskArn"]
    assert event["detail"]["lastStatus"] == "STOPPED"
    assert event["detail"]["containers"][0]["exitCode"] == 3
    events.remove_targets(Rule=rule, Ids=["q"])
    events.delete_rule(Name=rule)


def test_ecs_service_and_deployment_events_reach_the_default_bus(docker_server, decs):
    """A service's deployment goes IN_PROGRESS then COMPLETED, and it reaches a steady
    state: `ECS Deployment State Change` and `ECS Service Action` events, as on AWS."""
    events = docker_server.client("events")
    sqs = docker_server.client("sqs")
    url, q = queue(sqs, "svc-events")
    family = unique("svcev")
    td = register(decs, family, ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"])
    name = unique("svc")
    rule = unique("svc-events")
    events.put_rule(Name=rule, EventPattern=json.dumps({
        "source": ["aws.ecs"], "detail-type": ["ECS Deployment State Change", "ECS Service Action"],
        "resources": [{"suffix": f"/{name}"}]}))
    events.put_targets(Rule=rule, Targets=[{"Id": "q", "Arn": q}])
    try:
        decs.create_service(cluster="default", serviceName=name, taskDefinition=td, desiredCount=1)
        seen = []

        def collect():
            for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=2).get("Messages", []):
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
                e = json.loads(m["Body"])
                seen.append((e["detail-type"], e["detail"]["eventName"]))
            names = {n for _, n in seen}
            return {"SERVICE_DEPLOYMENT_IN_PROGRESS", "SERVICE_DEPLOYMENT_COMPLETED", "SERVICE_STEADY_STATE"} <= names

        wait_for("the service's events", collect, 120)
        assert ("ECS Deployment State Change", "SERVICE_DEPLOYMENT_IN_PROGRESS") in seen
        assert ("ECS Service Action", "SERVICE_STEADY_STATE") in seen
    finally:
        decs.delete_service(cluster="default", service=name, force=True)
        events.remove_targets(Rule=rule, Ids=["q"])
        events.delete_rule(Name=rule)
