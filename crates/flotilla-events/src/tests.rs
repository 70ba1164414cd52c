//! EventBridge through its operations and controllers, on SQLite and PostgreSQL.

use super::*;
use crate::delivery::Delivery;
use crate::schedules::Schedules;
use serde_json::{Value, json};
use std::sync::Mutex;

/// Records what ECS and SQS were asked; fails queues named in `failing`.
#[derive(Default)]
struct Fakes {
    runs: Mutex<Vec<EcsRunRequest>>,
    messages: Mutex<Vec<QueueMessage>>,
    failing: Mutex<Vec<String>>,
}

#[async_trait]
impl EcsLauncher for Fakes {
    async fn run_task(&self, request: &EcsRunRequest) -> std::result::Result<Vec<String>, TargetError> {
        self.runs.lock().unwrap().push(request.clone());
        Ok(vec!["arn:aws:ecs:us-east-1:000000000000:task/default/abc".into()])
    }
}

#[async_trait]
impl QueueSender for Fakes {
    async fn send(&self, message: &QueueMessage) -> std::result::Result<(), TargetError> {
        if self.failing.lock().unwrap().iter().any(|q| message.queue_arn.ends_with(q.as_str())) {
            return Err(TargetError::new(DeliveryCode::ServiceError, "the queue is having a bad day"));
        }
        self.messages.lock().unwrap().push(message.clone());
        Ok(())
    }
}

struct Setup {
    _backend: flotilla_db::testing::TestBackend,
    svc: EventsService,
    fakes: Arc<Fakes>,
}

/// The service on each backend the store suite runs on (SQLite, and PostgreSQL when
/// `FLOTILLA_TEST_POSTGRES_URL` is set), with fake ECS and SQS.
async fn services() -> Vec<Setup> {
    let mut out = Vec::new();
    for backend in flotilla_db::testing::backends() {
        let fakes = Arc::new(Fakes::default());
        let svc = EventsService::open(&backend.location, AccountContext::default())
            .await
            .unwrap()
            .with_ecs(fakes.clone())
            .with_queues(fakes.clone());
        out.push(Setup { _backend: backend, svc, fakes });
    }
    out
}

async fn call(s: &EventsService, op: &str, input: Value) -> std::result::Result<Value, AwsError> {
    let caller = Caller::new("AKIDTEST", "r");
    let response = s.call(op, Bytes::from(input.to_string()), &caller).await?;
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    Ok(serde_json::from_slice(&bytes).unwrap())
}

fn code(r: std::result::Result<Value, AwsError>) -> String {
    r.unwrap_err().code
}

async fn deliver(s: &EventsService) {
    Delivery { svc: s.clone() }.reconcile().await.unwrap();
}

const CLUSTER: &str = "arn:aws:ecs:us-east-1:000000000000:cluster/default";
const QUEUE: &str = "arn:aws:sqs:us-east-1:000000000000:orders";
const DLQ: &str = "arn:aws:sqs:us-east-1:000000000000:orders-dlq";

#[tokio::test]
async fn buses_default_exists_custom_ones_come_and_go() {
    for Setup { svc: s, .. } in services().await {
        let d = call(&s, "DescribeEventBus", json!({})).await.unwrap();
        assert_eq!(d["Name"], "default");
        assert_eq!(d["Arn"], "arn:aws:events:us-east-1:000000000000:event-bus/default");
        let made = call(
            &s,
            "CreateEventBus",
            json!({"Name": "orders", "Description": "d", "Tags": [{"Key": "team", "Value": "a"}]}),
        )
        .await
        .unwrap();
        assert_eq!(made["EventBusArn"], "arn:aws:events:us-east-1:000000000000:event-bus/orders");
        assert_eq!(code(call(&s, "CreateEventBus", json!({"Name": "orders"})).await), "ResourceAlreadyExistsException");
        assert_eq!(
            code(call(&s, "CreateEventBus", json!({"Name": "default"})).await),
            "ResourceAlreadyExistsException"
        );
        assert_eq!(code(call(&s, "CreateEventBus", json!({"Name": "bad name"})).await), "ValidationException");
        let by_arn = call(&s, "DescribeEventBus", json!({"Name": made["EventBusArn"]})).await.unwrap();
        assert_eq!(by_arn["Description"], "d");
        let tags = call(&s, "ListTagsForResource", json!({"ResourceARN": made["EventBusArn"]})).await.unwrap();
        assert_eq!(tags["Tags"], json!([{"Key": "team", "Value": "a"}]));
        let page = call(&s, "ListEventBuses", json!({"Limit": 1})).await.unwrap();
        assert_eq!(page["EventBuses"][0]["Name"], "default");
        let next = call(&s, "ListEventBuses", json!({"Limit": 1, "NextToken": page["NextToken"]})).await.unwrap();
        assert_eq!(next["EventBuses"][0]["Name"], "orders");
        assert!(next.get("NextToken").is_none());
        assert_eq!(code(call(&s, "DeleteEventBus", json!({"Name": "default"})).await), "ValidationException");
        call(&s, "PutRule", json!({"Name": "r", "EventBusName": "orders", "EventPattern": "{\"source\":[\"a\"]}"}))
            .await
            .unwrap();
        call(&s, "DeleteEventBus", json!({"Name": "orders"})).await.unwrap();
        call(&s, "DeleteEventBus", json!({"Name": "orders"})).await.unwrap();
        assert_eq!(code(call(&s, "DescribeEventBus", json!({"Name": "orders"})).await), "ResourceNotFoundException");
        assert_eq!(code(call(&s, "ListRules", json!({"EventBusName": "orders"})).await), "ResourceNotFoundException");
    }
}

#[tokio::test]
async fn rules_are_checked_kept_listed_and_deleted_as_aws_does() {
    for Setup { svc: s, .. } in services().await {
        let arn = call(
            &s,
            "PutRule",
            json!({"Name": "orders", "EventPattern": "{\"source\":[\"shop\"]}", "Description": "x"}),
        )
        .await
        .unwrap();
        assert_eq!(arn["RuleArn"], "arn:aws:events:us-east-1:000000000000:rule/orders");
        let bad =
            call(&s, "PutRule", json!({"Name": "bad", "EventPattern": "{\"source\": \"shop\"}"})).await.unwrap_err();
        assert_eq!(bad.code, "InvalidEventPatternException");
        assert!(bad.message.starts_with("Event pattern is not valid. Reason:"), "{}", bad.message);
        assert_eq!(code(call(&s, "PutRule", json!({"Name": "none"})).await), "ValidationException");
        assert_eq!(
            code(call(&s, "PutRule", json!({"Name": "s", "ScheduleExpression": "rate(1 minutes)"})).await),
            "ValidationException"
        );
        assert_eq!(
            code(call(&s, "PutRule", json!({"Name": "s", "ScheduleExpression": "at(2030-01-01T00:00:00)"})).await),
            "ValidationException"
        );
        call(&s, "CreateEventBus", json!({"Name": "custom"})).await.unwrap();
        let e = call(
            &s,
            "PutRule",
            json!({"Name": "s", "EventBusName": "custom", "ScheduleExpression": "rate(5 minutes)"}),
        )
        .await
        .unwrap_err();
        assert_eq!(
            (e.code.as_str(), e.message.as_str()),
            ("ValidationException", "ScheduleExpression is supported only on the default event bus.")
        );
        assert_eq!(
            code(
                call(
                    &s,
                    "PutRule",
                    json!({"Name": "x", "EventBusName": "nope", "EventPattern": "{\"source\":[\"a\"]}"})
                )
                .await
            ),
            "ResourceNotFoundException"
        );
        call(
            &s,
            "PutRule",
            json!({"Name": "on-custom", "EventBusName": "custom", "EventPattern": "{\"source\":[\"a\"]}"}),
        )
        .await
        .unwrap();
        let d = call(&s, "DescribeRule", json!({"Name": "on-custom", "EventBusName": "custom"})).await.unwrap();
        assert_eq!(d["Arn"], "arn:aws:events:us-east-1:000000000000:rule/custom/on-custom");
        assert_eq!(d["State"], "ENABLED");
        assert_eq!(d["EventBusName"], "custom");
        let missing = call(&s, "DescribeRule", json!({"Name": "nope"})).await.unwrap_err();
        assert_eq!(missing.message, "Rule nope does not exist on EventBus default.");
        for i in 0..3 {
            call(
                &s,
                "PutRule",
                json!({"Name": format!("p-{i}"), "ScheduleExpression": "rate(1 hour)", "State": "DISABLED"}),
            )
            .await
            .unwrap();
        }
        let page = call(&s, "ListRules", json!({"NamePrefix": "p-", "Limit": 2})).await.unwrap();
        let names: Vec<&str> = page["Rules"].as_array().unwrap().iter().map(|r| r["Name"].as_str().unwrap()).collect();
        assert_eq!(names, ["p-0", "p-1"]);
        let rest = call(&s, "ListRules", json!({"NamePrefix": "p-", "Limit": 2, "NextToken": page["NextToken"]}))
            .await
            .unwrap();
        assert_eq!(rest["Rules"][0]["Name"], "p-2");
        assert_eq!(rest["Rules"][0]["State"], "DISABLED");
        call(&s, "EnableRule", json!({"Name": "p-2"})).await.unwrap();
        assert_eq!(call(&s, "DescribeRule", json!({"Name": "p-2"})).await.unwrap()["State"], "ENABLED");
        assert_eq!(code(call(&s, "EnableRule", json!({"Name": "nope"})).await), "ResourceNotFoundException");
        // Deleting: refused while there are targets, unless forced; absent is fine.
        call(&s, "PutTargets", json!({"Rule": "orders", "Targets": [{"Id": "q", "Arn": QUEUE}]})).await.unwrap();
        let e = call(&s, "DeleteRule", json!({"Name": "orders"})).await.unwrap_err();
        assert_eq!(
            (e.code.as_str(), e.message.as_str()),
            ("ValidationException", "Rule can't be deleted since it has targets.")
        );
        assert!(call(&s, "DescribeRule", json!({"Name": "orders"})).await.is_ok(), "nothing changes on refusal");
        call(&s, "DeleteRule", json!({"Name": "orders", "Force": true})).await.unwrap();
        call(&s, "DeleteRule", json!({"Name": "orders"})).await.unwrap();
        // Tags on rules.
        let rule_arn = "arn:aws:events:us-east-1:000000000000:rule/p-0";
        call(
            &s,
            "TagResource",
            json!({"ResourceARN": rule_arn, "Tags": [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}]}),
        )
        .await
        .unwrap();
        call(&s, "UntagResource", json!({"ResourceARN": rule_arn, "TagKeys": ["a"]})).await.unwrap();
        let tags = call(&s, "ListTagsForResource", json!({"ResourceARN": rule_arn})).await.unwrap();
        assert_eq!(tags["Tags"], json!([{"Key": "b", "Value": "2"}]));
        assert_eq!(
            code(
                call(
                    &s,
                    "ListTagsForResource",
                    json!({"ResourceARN": "arn:aws:events:us-east-1:000000000000:rule/gone"})
                )
                .await
            ),
            "ResourceNotFoundException"
        );
    }
}

#[tokio::test]
async fn test_event_pattern_uses_the_pattern_grammar() {
    for Setup { svc: s, .. } in services().await {
        let event = json!({"id": "1", "account": "000000000000", "source": "shop", "time": "2024-01-01T00:00:00Z",
            "region": "us-east-1", "detail-type": "Order", "resources": [], "detail": {"amount": 150, "state": "paid"}});
        let test = |pattern: Value| {
            let s = s.clone();
            let event = event.clone();
            async move {
                call(&s, "TestEventPattern", json!({"EventPattern": pattern.to_string(), "Event": event.to_string()}))
                    .await
            }
        };
        assert_eq!(test(json!({"source": ["shop"]})).await.unwrap()["Result"], true);
        assert_eq!(test(json!({"detail": {"amount": [{"numeric": [">", 100]}]}})).await.unwrap()["Result"], true);
        assert_eq!(test(json!({"detail": {"state": [{"anything-but": "paid"}]}})).await.unwrap()["Result"], false);
        assert_eq!(test(json!({"detail": {"state": [{"prefix": "pa"}]}})).await.unwrap()["Result"], true);
        assert_eq!(code(test(json!({"source": "shop"})).await), "InvalidEventPatternException");
        let e = call(
            &s,
            "TestEventPattern",
            json!({"EventPattern": "{\"source\":[\"x\"]}", "Event": "{\"source\":\"x\"}"}),
        )
        .await
        .unwrap_err();
        assert_eq!((e.code.as_str(), e.message.as_str()), ("ValidationException", "Parameter Event is not valid."));
    }
}

#[tokio::test]
async fn targets_are_checked_entry_by_entry_and_limited_to_five() {
    for Setup { svc: s, .. } in services().await {
        call(&s, "PutRule", json!({"Name": "r", "EventPattern": "{\"source\":[\"a\"]}"})).await.unwrap();
        let out = call(&s, "PutTargets", json!({"Rule": "r", "Targets": [
            {"Id": "ecs", "Arn": CLUSTER, "EcsParameters": {"TaskDefinitionArn": "web:1", "TaskCount": 2}},
            {"Id": "no-params", "Arn": CLUSTER},
            {"Id": "sqs", "Arn": QUEUE, "RetryPolicy": {"MaximumRetryAttempts": 3}, "DeadLetterConfig": {"Arn": DLQ}},
            {"Id": "fifo", "Arn": "arn:aws:sqs:us-east-1:000000000000:q.fifo"},
            {"Id": "lambda", "Arn": "arn:aws:lambda:us-east-1:000000000000:function:f"},
            {"Id": "two-inputs", "Arn": QUEUE, "Input": "{}", "InputPath": "$.detail"},
            {"Id": "bad-template", "Arn": QUEUE, "InputTransformer": {"InputPathsMap": {"x": "detail"}, "InputTemplate": "<x>"}},
            {"Id": "fifo-dlq", "Arn": QUEUE, "DeadLetterConfig": {"Arn": "arn:aws:sqs:us-east-1:000000000000:d.fifo"}},
        ]}))
        .await
        .unwrap();
        assert_eq!(out["FailedEntryCount"], 6, "{out}");
        let failed: Vec<&str> =
            out["FailedEntries"].as_array().unwrap().iter().map(|f| f["TargetId"].as_str().unwrap()).collect();
        assert_eq!(failed, ["no-params", "fifo", "lambda", "two-inputs", "bad-template", "fifo-dlq"]);
        assert_eq!(
            out["FailedEntries"][0]["ErrorMessage"],
            "Parameter(s) EcsParameters must be specified for target: no-params."
        );
        let listed = call(&s, "ListTargetsByRule", json!({"Rule": "r"})).await.unwrap();
        assert_eq!(listed["Targets"].as_array().unwrap().len(), 2);
        assert_eq!(listed["Targets"][0]["EcsParameters"]["TaskCount"], 2);
        assert_eq!(listed["Targets"][1]["RetryPolicy"]["MaximumRetryAttempts"], 3);
        // A member outside the model's range refuses the request.
        assert_eq!(
            code(call(&s, "PutTargets", json!({"Rule": "r", "Targets": [{"Id": "x", "Arn": QUEUE, "RetryPolicy": {"MaximumRetryAttempts": 186}}]})).await),
            "ValidationException"
        );
        assert_eq!(
            code(call(&s, "PutTargets", json!({"Rule": "r", "Targets": [{"Id": "x", "Arn": QUEUE, "RetryPolicy": {"MaximumEventAgeInSeconds": 59}}]})).await),
            "ValidationException"
        );
        // More than five in all: refused whole, nothing changes.
        let many: Vec<Value> = (0..4).map(|i| json!({"Id": format!("q{i}"), "Arn": QUEUE})).collect();
        assert_eq!(code(call(&s, "PutTargets", json!({"Rule": "r", "Targets": many})).await), "LimitExceededException");
        assert_eq!(
            call(&s, "ListTargetsByRule", json!({"Rule": "r"})).await.unwrap()["Targets"].as_array().unwrap().len(),
            2
        );
        let many: Vec<Value> = (0..3).map(|i| json!({"Id": format!("q{i}"), "Arn": QUEUE})).collect();
        call(&s, "PutTargets", json!({"Rule": "r", "Targets": many})).await.unwrap();
        let names = call(&s, "ListRuleNamesByTarget", json!({"TargetArn": QUEUE})).await.unwrap();
        assert_eq!(names["RuleNames"], json!(["r"]));
        let removed = call(&s, "RemoveTargets", json!({"Rule": "r", "Ids": ["q0", "ghost"]})).await.unwrap();
        assert_eq!(removed["FailedEntryCount"], 1);
        assert_eq!(removed["FailedEntries"][0]["TargetId"], "ghost");
        assert_eq!(
            code(call(&s, "PutTargets", json!({"Rule": "nope", "Targets": [{"Id": "x", "Arn": QUEUE}]})).await),
            "ResourceNotFoundException"
        );
    }
}

#[tokio::test]
async fn put_events_checks_entries_and_stores_matched_events_with_rendered_bodies() {
    for Setup { svc: s, .. } in services().await {
        call(
            &s,
            "PutRule",
            json!({"Name": "paid", "EventPattern": "{\"source\":[\"shop\"],\"detail\":{\"state\":[\"paid\"]}}"}),
        )
        .await
        .unwrap();
        call(
            &s,
            "PutTargets",
            json!({"Rule": "paid", "Targets": [
                {"Id": "whole", "Arn": QUEUE},
                {"Id": "shaped", "Arn": QUEUE, "InputTransformer": {
                    "InputPathsMap": {"id": "$.detail.id"},
                    "InputTemplate": "{\"order\": <id>, \"rule\": <aws.events.rule-name>}"}},
            ]}),
        )
        .await
        .unwrap();
        let out = call(&s, "PutEvents", json!({"Entries": [
            {"Source": "shop", "DetailType": "Order", "Detail": "{\"state\":\"paid\",\"id\":7}", "Resources": ["r1"]},
            {"Source": "shop", "DetailType": "Order", "Detail": "{\"state\":\"new\"}"},
            {"DetailType": "Order", "Detail": "{}"},
            {"Source": "shop", "DetailType": "Order", "Detail": "[1]"},
            {"Source": "shop", "DetailType": "Order", "Detail": "{}", "EventBusName": "nope"},
        ]}))
        .await
        .unwrap();
        assert_eq!(out["FailedEntryCount"], 3);
        let entries = out["Entries"].as_array().unwrap();
        assert!(entries[0]["EventId"].is_string() && entries[1]["EventId"].is_string());
        assert_eq!(entries[2]["ErrorCode"], "InvalidArgument");
        assert_eq!(entries[2]["ErrorMessage"], "Parameter Source is not valid. Reason: Source is a required argument.");
        assert_eq!(entries[3]["ErrorCode"], "MalformedDetail");
        assert_eq!(entries[4]["ErrorCode"], "ResourceNotFoundException");
        // Only the matched event is in the outbox: one delivery per target.
        let pending = s.store.pending_deliveries(100).await.unwrap();
        assert_eq!(pending.len(), 2);
        assert!(pending.iter().all(|d| d.event_id == entries[0]["EventId"].as_str().unwrap()));
        let event: Value = serde_json::from_str(&pending[0].event).unwrap();
        assert_eq!(event["version"], "0");
        assert_eq!(event["source"], "shop");
        assert_eq!(event["detail-type"], "Order");
        assert_eq!(event["account"], "000000000000");
        assert_eq!(event["resources"], json!(["r1"]));
        assert_eq!(event["detail"]["id"], 7);
        assert!(event["time"].as_str().unwrap().ends_with('Z'));
        let bodies: Vec<Value> = pending.iter().map(|d| serde_json::from_str(&d.body).unwrap()).collect();
        assert!(bodies.contains(&event));
        assert!(bodies.contains(&json!({"order": 7, "rule": "paid"})));
        // Limits: more than 10 entries, more than 256 KiB.
        let eleven: Vec<Value> = (0..11).map(|_| json!({"Source": "a", "DetailType": "b", "Detail": "{}"})).collect();
        assert_eq!(code(call(&s, "PutEvents", json!({"Entries": eleven})).await), "ValidationException");
        let big = format!("{{\"x\":\"{}\"}}", "a".repeat(200 * 1024));
        let two = json!({"Entries": [{"Source": "a", "DetailType": "b", "Detail": big}, {"Source": "a", "DetailType": "b", "Detail": big}]});
        let e = call(&s, "PutEvents", two).await.unwrap_err();
        assert_eq!(e.message, "Total size of the entries in the request is over the limit.");
        // A rule disabled matches nothing.
        call(&s, "DisableRule", json!({"Name": "paid"})).await.unwrap();
        call(
            &s,
            "PutEvents",
            json!({"Entries": [{"Source": "shop", "DetailType": "Order", "Detail": "{\"state\":\"paid\"}"}]}),
        )
        .await
        .unwrap();
        assert_eq!(s.store.pending_deliveries(100).await.unwrap().len(), 2);
        // The default bus is an EventSink, without the 10-entry limit.
        call(&s, "EnableRule", json!({"Name": "paid"})).await.unwrap();
        let events: Vec<BusEvent> = (0..12)
            .map(|i| BusEvent {
                source: "shop".into(),
                detail_type: "Order".into(),
                resources: vec![],
                detail: json!({"state": "paid", "id": i}),
                time_ms: 1_700_000_000_000,
            })
            .collect();
        s.emit(events).await.unwrap();
        assert_eq!(s.store.pending_deliveries(100).await.unwrap().len(), 2 + 24);
    }
}

#[tokio::test]
async fn deliveries_reach_ecs_and_sqs_and_failures_are_dead_lettered() {
    for Setup { svc: s, fakes, .. } in services().await {
        call(&s, "PutRule", json!({"Name": "deploy", "EventPattern": "{\"source\":[\"ci\"]}"})).await.unwrap();
        call(&s, "PutTargets", json!({"Rule": "deploy", "Targets": [
            {"Id": "task", "Arn": CLUSTER, "EcsParameters": {"TaskDefinitionArn": "web:3", "LaunchType": "EC2",
                "NetworkConfiguration": {"awsvpcConfiguration": {"Subnets": ["subnet-1"], "AssignPublicIp": "DISABLED"}}},
             "InputTransformer": {"InputPathsMap": {"v": "$.detail.version"},
                "InputTemplate": "{\"containerOverrides\": [{\"name\": \"app\", \"environment\": [{\"name\": \"VERSION\", \"value\": <v>}]}]}"}},
            {"Id": "queue", "Arn": QUEUE},
            {"Id": "broken", "Arn": "arn:aws:sqs:us-east-1:000000000000:broken", "RetryPolicy": {"MaximumRetryAttempts": 1},
             "DeadLetterConfig": {"Arn": DLQ}},
        ]}))
        .await
        .unwrap();
        fakes.failing.lock().unwrap().push(":broken".into());
        let out = call(
            &s,
            "PutEvents",
            json!({"Entries": [{"Source": "ci", "DetailType": "Build", "Detail": "{\"version\":\"1.2\"}"}]}),
        )
        .await
        .unwrap();
        let event_id = out["Entries"][0]["EventId"].as_str().unwrap().to_string();
        deliver(&s).await;
        let runs = fakes.runs.lock().unwrap().clone();
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].started_by, "events-rule/deploy");
        assert_eq!(runs[0].task_definition, "web:3");
        assert_eq!(runs[0].launch_type.as_deref(), Some("EC2"));
        assert_eq!(
            runs[0].overrides,
            Some(
                json!({"containerOverrides": [{"name": "app", "environment": [{"name": "VERSION", "value": "1.2"}]}]})
            )
        );
        assert_eq!(
            runs[0].network_configuration,
            Some(json!({"awsvpcConfiguration": {"subnets": ["subnet-1"], "assignPublicIp": "DISABLED"}}))
        );
        let messages = fakes.messages.lock().unwrap().clone();
        assert_eq!(messages.len(), 1);
        let body: Value = serde_json::from_str(&messages[0].body).unwrap();
        assert_eq!(body["id"], event_id.as_str());
        // The failing target waits for its one retry.
        let pending = s.store.pending_deliveries(10).await.unwrap();
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].attempts, 1);
        assert!(pending[0].last_error.as_deref().unwrap().contains("SERVICE_ERROR"));
        // Make it due now, and fail again: out of retries, it goes to the dead-letter queue.
        let now = s.store.now_ms().await.unwrap();
        s.store.defer_delivery(pending[0].id, now - 1).await.unwrap();
        deliver(&s).await;
        assert!(s.store.pending_deliveries(10).await.unwrap().is_empty(), "the outbox is empty");
        let messages = fakes.messages.lock().unwrap().clone();
        let dead = messages.iter().find(|m| m.queue_arn == DLQ).expect("a dead-letter message");
        let attr = |k: &str| dead.attributes.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        assert_eq!(attr("RULE_ARN").as_deref(), Some("arn:aws:events:us-east-1:000000000000:rule/deploy"));
        assert_eq!(attr("TARGET_ARN").as_deref(), Some("arn:aws:sqs:us-east-1:000000000000:broken"));
        assert_eq!(attr("ERROR_CODE").as_deref(), Some("SERVICE_ERROR"));
        assert_eq!(attr("EXHAUSTED_RETRY_CONDITION").as_deref(), Some("MaximumRetryAttempts"));
        assert_eq!(attr("RETRY_ATTEMPTS").as_deref(), Some("1"));
        let dead_event: Value = serde_json::from_str(&dead.body).unwrap();
        assert_eq!(dead_event["id"], event_id.as_str());
    }
}

/// A one-shot HTTP server on loopback: answers each request with `status` and sends
/// what it read (head and body) down the channel.
async fn http_server(status: u16) -> (String, tokio::sync::mpsc::UnboundedReceiver<String>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else { return };
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut seen = Vec::new();
                let mut buf = [0u8; 4096];
                loop {
                    let Ok(n) = sock.read(&mut buf).await else { return };
                    if n == 0 {
                        return;
                    }
                    seen.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&seen).to_string();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let length = text[..end]
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                            })
                            .unwrap_or(0);
                        if seen.len() >= end + 4 + length {
                            let _ = tx.send(text);
                            let reply = format!("HTTP/1.1 {status} X\r\ncontent-length: 0\r\n\r\n");
                            let _ = sock.write_all(reply.as_bytes()).await;
                            seen.clear();
                        }
                    }
                }
            });
        }
    });
    (format!("http://{addr}"), rx)
}

#[tokio::test]
async fn api_destinations_receive_events_with_their_connection_auth() {
    for Setup { svc: s, fakes, .. } in services().await {
        let (base, mut requests) = http_server(200).await;
        let conn = call(&s, "CreateConnection", json!({"Name": "hook", "AuthorizationType": "API_KEY",
            "AuthParameters": {"ApiKeyAuthParameters": {"ApiKeyName": "x-api-key", "ApiKeyValue": "s3cret"},
                "InvocationHttpParameters": {"HeaderParameters": [{"Key": "x-extra", "Value": "hidden", "IsValueSecret": true}]}}}))
            .await
            .unwrap();
        assert_eq!(conn["ConnectionState"], "AUTHORIZED");
        let described = call(&s, "DescribeConnection", json!({"Name": "hook"})).await.unwrap();
        assert_eq!(described["AuthParameters"]["ApiKeyAuthParameters"], json!({"ApiKeyName": "x-api-key"}));
        assert!(described["AuthParameters"]["InvocationHttpParameters"]["HeaderParameters"][0].get("Value").is_none());
        assert_eq!(
            code(
                call(
                    &s,
                    "CreateConnection",
                    json!({"Name": "hook", "AuthorizationType": "BASIC",
            "AuthParameters": {"BasicAuthParameters": {"Username": "u", "Password": "p"}}})
                )
                .await
            ),
            "ResourceAlreadyExistsException"
        );
        assert_eq!(
            code(
                call(&s, "CreateConnection", json!({"Name": "x", "AuthorizationType": "BASIC", "AuthParameters": {}}))
                    .await
            ),
            "ValidationException"
        );
        let dest = call(
            &s,
            "CreateApiDestination",
            json!({"Name": "orders", "ConnectionArn": conn["ConnectionArn"],
            "InvocationEndpoint": format!("{base}/hooks/*"), "HttpMethod": "POST", "InvocationRateLimitPerSecond": 10}),
        )
        .await
        .unwrap();
        assert_eq!(dest["ApiDestinationState"], "ACTIVE");
        assert_eq!(
            code(
                call(
                    &s,
                    "CreateApiDestination",
                    json!({"Name": "o2", "ConnectionArn": "arn:aws:events:us-east-1:000000000000:connection/nope/x",
            "InvocationEndpoint": "http://h/", "HttpMethod": "POST"})
                )
                .await
            ),
            "ResourceNotFoundException"
        );
        let d = call(&s, "DescribeApiDestination", json!({"Name": "orders"})).await.unwrap();
        assert_eq!(d["InvocationRateLimitPerSecond"], 10);
        call(&s, "PutRule", json!({"Name": "hook", "EventPattern": "{\"source\":[\"shop\"]}"})).await.unwrap();
        let out = call(&s, "PutTargets", json!({"Rule": "hook", "Targets": [{"Id": "api", "Arn": dest["ApiDestinationArn"],
            "InputPath": "$.detail", "HttpParameters": {"PathParameterValues": ["$.detail.id"], "QueryStringParameters": {"k": "v"}}}]}))
            .await
            .unwrap();
        assert_eq!(out["FailedEntryCount"], 0, "{out}");
        call(
            &s,
            "PutEvents",
            json!({"Entries": [{"Source": "shop", "DetailType": "Order", "Detail": "{\"id\":\"o-1\",\"n\":2}"}]}),
        )
        .await
        .unwrap();
        deliver(&s).await;
        let request = requests.recv().await.unwrap();
        assert!(request.starts_with("POST /hooks/o-1?k=v HTTP/1.1"), "{request}");
        let lower = request.to_ascii_lowercase();
        assert!(lower.contains("x-api-key: s3cret"), "{request}");
        assert!(lower.contains("x-extra: hidden"), "{request}");
        assert!(lower.contains("user-agent: amazon/eventbridge/apidestinations"), "{request}");
        assert!(request.ends_with("{\"id\":\"o-1\",\"n\":2}"), "{request}");
        assert!(s.store.pending_deliveries(10).await.unwrap().is_empty());
        // A 4xx is not retried: with no dead-letter queue the event is dropped.
        let (bad, _seen) = http_server(400).await;
        call(&s, "UpdateApiDestination", json!({"Name": "orders", "InvocationEndpoint": format!("{bad}/*")}))
            .await
            .unwrap();
        call(
            &s,
            "PutEvents",
            json!({"Entries": [{"Source": "shop", "DetailType": "Order", "Detail": "{\"id\":\"o-2\"}"}]}),
        )
        .await
        .unwrap();
        deliver(&s).await;
        assert!(s.store.pending_deliveries(10).await.unwrap().is_empty());
        // A 5xx is retried.
        let (down, _seen) = http_server(503).await;
        call(&s, "UpdateApiDestination", json!({"Name": "orders", "InvocationEndpoint": format!("{down}/*")}))
            .await
            .unwrap();
        call(
            &s,
            "PutEvents",
            json!({"Entries": [{"Source": "shop", "DetailType": "Order", "Detail": "{\"id\":\"o-3\"}"}]}),
        )
        .await
        .unwrap();
        deliver(&s).await;
        let pending = s.store.pending_deliveries(10).await.unwrap();
        assert_eq!(pending.len(), 1);
        assert!(pending[0].last_error.as_deref().unwrap().contains("503"), "{:?}", pending[0].last_error);
        // OAuth connections are accepted but their deliveries fail with a reason.
        let oauth = call(
            &s,
            "CreateConnection",
            json!({"Name": "oauth", "AuthorizationType": "OAUTH_CLIENT_CREDENTIALS",
            "AuthParameters": {"OAuthParameters": {"ClientParameters": {"ClientID": "id", "ClientSecret": "s"},
                "AuthorizationEndpoint": "https://auth.example.com/token", "HttpMethod": "POST"}}}),
        )
        .await
        .unwrap();
        assert_eq!(oauth["ConnectionState"], "DEAUTHORIZED");
        let listed = call(&s, "ListConnections", json!({"ConnectionState": "AUTHORIZED"})).await.unwrap();
        assert_eq!(listed["Connections"].as_array().unwrap().len(), 1);
        assert!(fakes.runs.lock().unwrap().is_empty());
        call(&s, "DeleteApiDestination", json!({"Name": "orders"})).await.unwrap();
        assert_eq!(
            code(call(&s, "DescribeApiDestination", json!({"Name": "orders"})).await),
            "ResourceNotFoundException"
        );
        let gone = call(&s, "DeleteConnection", json!({"Name": "hook"})).await.unwrap();
        assert_eq!(gone["ConnectionState"], "DELETING");
    }
}

#[tokio::test]
async fn scheduled_rules_fire_once_per_due_time_through_the_outbox() {
    for Setup { svc: s, fakes, .. } in services().await {
        call(&s, "PutRule", json!({"Name": "nightly", "ScheduleExpression": "rate(1 minute)"})).await.unwrap();
        call(&s, "PutTargets", json!({"Rule": "nightly", "Targets": [{"Id": "q", "Arn": QUEUE}]})).await.unwrap();
        let schedules = Schedules { svc: s.clone() };
        schedules.reconcile().await.unwrap();
        assert!(s.store.pending_deliveries(10).await.unwrap().is_empty(), "a rate does not fire at creation");
        // As if the rule was set ten and a half minutes ago and never fired.
        let now = s.store.now_ms().await.unwrap();
        s.store
            .update_rule("default", "nightly", |r| {
                r.schedule_start = Some(now - 630_000);
                r.last_fired = Some(now - 630_000);
                Ok(())
            })
            .await
            .unwrap();
        schedules.reconcile().await.unwrap();
        schedules.reconcile().await.unwrap();
        let pending = s.store.pending_deliveries(10).await.unwrap();
        assert_eq!(pending.len(), 1, "missed periods fire once");
        let event: Value = serde_json::from_str(&pending[0].event).unwrap();
        assert_eq!(event["source"], "aws.events");
        assert_eq!(event["detail-type"], "Scheduled Event");
        assert_eq!(event["resources"], json!(["arn:aws:events:us-east-1:000000000000:rule/nightly"]));
        assert_eq!(event["detail"], json!({}));
        let rule = s.store.rule("default", "nightly").await.unwrap().unwrap();
        assert_eq!(rule.last_fired, Some(now - 630_000 + 600_000));
        deliver(&s).await;
        assert_eq!(fakes.messages.lock().unwrap().len(), 1);
        // Disabled, it does not fire; enabled again, what it missed is skipped.
        call(&s, "DisableRule", json!({"Name": "nightly"})).await.unwrap();
        s.store
            .update_rule("default", "nightly", |r| {
                r.last_fired = Some(now - 300_000);
                Ok(())
            })
            .await
            .unwrap();
        schedules.reconcile().await.unwrap();
        assert!(s.store.pending_deliveries(10).await.unwrap().is_empty());
        call(&s, "EnableRule", json!({"Name": "nightly"})).await.unwrap();
        schedules.reconcile().await.unwrap();
        assert!(s.store.pending_deliveries(10).await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn the_outbox_survives_reopening_the_store() {
    for backend in flotilla_db::testing::backends() {
        let s = EventsService::open(&backend.location, AccountContext::default()).await.unwrap();
        call(&s, "PutRule", json!({"Name": "r", "EventPattern": "{\"source\":[\"a\"]}"})).await.unwrap();
        call(&s, "PutTargets", json!({"Rule": "r", "Targets": [{"Id": "q", "Arn": QUEUE}]})).await.unwrap();
        call(&s, "PutEvents", json!({"Entries": [{"Source": "a", "DetailType": "b", "Detail": "{}"}]})).await.unwrap();
        s.close().await;
        let fakes = Arc::new(Fakes::default());
        let s =
            EventsService::open(&backend.location, AccountContext::default()).await.unwrap().with_queues(fakes.clone());
        assert_eq!(s.store.pending_deliveries(10).await.unwrap().len(), 1);
        deliver(&s).await;
        assert_eq!(fakes.messages.lock().unwrap().len(), 1);
        assert!(s.store.pending_deliveries(10).await.unwrap().is_empty());
        s.close().await;
    }
}
