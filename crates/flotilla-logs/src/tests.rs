//! The Logs service through its operations, on SQLite and PostgreSQL.

use super::*;
use serde_json::{Value, json};

/// The service on each backend the store suite runs on (SQLite, and PostgreSQL when
/// `FLOTILLA_TEST_POSTGRES_URL` is set).
async fn services() -> Vec<(flotilla_db::testing::TestBackend, LogsService)> {
    let mut out = Vec::new();
    for backend in flotilla_db::testing::backends() {
        let service = LogsService::open(&backend.location, AccountContext::default()).await.unwrap();
        out.push((backend, service));
    }
    out
}

async fn call(s: &LogsService, op: &str, input: Value) -> std::result::Result<Value, AwsError> {
    let caller = Caller::new("AKIDTEST", "r");
    let response = s.call(op, Bytes::from(input.to_string()), &caller).await?;
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    Ok(serde_json::from_slice(&bytes).unwrap())
}

fn code(r: std::result::Result<Value, AwsError>) -> String {
    r.unwrap_err().code
}

async fn now(s: &LogsService) -> i64 {
    s.store.now_ms().await.unwrap()
}

#[tokio::test]
async fn groups_streams_and_events_round_trip_in_order() {
    for (_dir, s) in services().await {
        call(&s, "CreateLogGroup", json!({"logGroupName": "/ecs/web", "tags": {"team": "a"}})).await.unwrap();
        assert_eq!(
            code(call(&s, "CreateLogGroup", json!({"logGroupName": "/ecs/web"})).await),
            "ResourceAlreadyExistsException"
        );
        assert_eq!(
            code(call(&s, "CreateLogGroup", json!({"logGroupName": "bad name"})).await),
            "InvalidParameterException"
        );
        call(&s, "CreateLogStream", json!({"logGroupName": "/ecs/web", "logStreamName": "ecs/web/1"})).await.unwrap();
        assert_eq!(
            code(call(&s, "CreateLogStream", json!({"logGroupName": "/nope", "logStreamName": "x"})).await),
            "ResourceNotFoundException"
        );
        let t = now(&s).await - 10_000;
        let events: Vec<Value> =
            (0..2500).map(|i| json!({"timestamp": t + i / 10, "message": format!("line {i}")})).collect();
        call(
            &s,
            "PutLogEvents",
            json!({"logGroupName": "/ecs/web", "logStreamName": "ecs/web/1", "logEvents": events}),
        )
        .await
        .unwrap();
        // From the head, in pages of 1000 that follow each other exactly.
        let mut token: Option<String> = None;
        let mut seen = Vec::new();
        for _ in 0..5 {
            let mut input =
                json!({"logGroupName": "/ecs/web", "logStreamName": "ecs/web/1", "startFromHead": true, "limit": 1000});
            if let Some(t) = &token {
                input["nextToken"] = json!(t);
            }
            let page = call(&s, "GetLogEvents", input).await.unwrap();
            let next = page["nextForwardToken"].as_str().unwrap().to_string();
            seen.extend(page["events"].as_array().unwrap().iter().map(|e| e["message"].as_str().unwrap().to_string()));
            if token.as_deref() == Some(next.as_str()) {
                break;
            }
            token = Some(next);
        }
        let expected: Vec<String> = (0..2500).map(|i| format!("line {i}")).collect();
        assert_eq!(seen, expected);
        // The default reads the newest events; the backward token goes on before them.
        let tail =
            call(&s, "GetLogEvents", json!({"logGroupName": "/ecs/web", "logStreamName": "ecs/web/1", "limit": 3}))
                .await
                .unwrap();
        let messages: Vec<&str> =
            tail["events"].as_array().unwrap().iter().map(|e| e["message"].as_str().unwrap()).collect();
        assert_eq!(messages, ["line 2497", "line 2498", "line 2499"]);
        let before = call(
            &s,
            "GetLogEvents",
            json!({"logGroupName": "/ecs/web", "logStreamName": "ecs/web/1", "limit": 2, "nextToken": tail["nextBackwardToken"]}),
        )
        .await
        .unwrap();
        let messages: Vec<&str> =
            before["events"].as_array().unwrap().iter().map(|e| e["message"].as_str().unwrap()).collect();
        assert_eq!(messages, ["line 2495", "line 2496"]);

        let groups = call(&s, "DescribeLogGroups", json!({"logGroupNamePrefix": "/ecs"})).await.unwrap();
        let g = &groups["logGroups"][0];
        assert_eq!(g["logGroupName"], "/ecs/web");
        assert_eq!(g["arn"], "arn:aws:logs:us-east-1:000000000000:log-group:/ecs/web:*");
        assert!(g["storedBytes"].as_i64().unwrap() > 2500 * 26);
        let streams = call(&s, "DescribeLogStreams", json!({"logGroupName": "/ecs/web"})).await.unwrap();
        assert_eq!(streams["logStreams"][0]["firstEventTimestamp"], json!(t));
        assert_eq!(streams["logStreams"][0]["lastEventTimestamp"], json!(t + 249));
        // FilterLogEvents across streams, by pattern, names, prefix and time, in pages.
        call(&s, "CreateLogStream", json!({"logGroupName": "/ecs/web", "logStreamName": "other"})).await.unwrap();
        let other = json!([{"timestamp": t + 5, "message": "line 7 elsewhere"}]);
        call(&s, "PutLogEvents", json!({"logGroupName": "/ecs/web", "logStreamName": "other", "logEvents": other}))
            .await
            .unwrap();
        let found = |r: &Value| -> Vec<String> {
            r["events"].as_array().unwrap().iter().map(|e| e["message"].as_str().unwrap().to_string()).collect()
        };
        let all = call(&s, "FilterLogEvents", json!({"logGroupName": "/ecs/web", "filterPattern": "\"line 7\""}))
            .await
            .unwrap();
        assert_eq!(found(&all).len(), 1 + 1 + 10 + 100, "line 7, 7x, 7xx and the other stream's");
        let prefixed = call(
            &s,
            "FilterLogEvents",
            json!({"logGroupName": "/ecs/web", "filterPattern": "elsewhere", "logStreamNamePrefix": "oth"}),
        )
        .await
        .unwrap();
        assert_eq!(found(&prefixed), ["line 7 elsewhere"]);
        let named = call(
            &s,
            "FilterLogEvents",
            json!({"logGroupName": "/ecs/web", "logStreamNames": ["ecs/web/1"], "filterPattern": "\"line 249\"",
                   "startTime": t, "endTime": t + 250}),
        )
        .await
        .unwrap();
        assert_eq!(
            found(&named),
            [
                "line 249",
                "line 2490",
                "line 2491",
                "line 2492",
                "line 2493",
                "line 2494",
                "line 2495",
                "line 2496",
                "line 2497",
                "line 2498",
                "line 2499"
            ]
        );
        let first = call(&s, "FilterLogEvents", json!({"logGroupName": "/ecs/web", "limit": 2})).await.unwrap();
        let second = call(
            &s,
            "FilterLogEvents",
            json!({"logGroupName": "/ecs/web", "limit": 2, "nextToken": first["nextToken"]}),
        )
        .await
        .unwrap();
        assert_eq!([found(&first), found(&second)].concat(), ["line 0", "line 1", "line 2", "line 3"]);
        let tags = call(&s, "ListTagsLogGroup", json!({"logGroupName": "/ecs/web"})).await.unwrap();
        assert_eq!(tags["tags"], json!({"team": "a"}));
    }
}

#[tokio::test]
async fn put_log_events_enforces_aws_limits_and_rejects_old_and_new_events() {
    for (_dir, s) in services().await {
        call(&s, "CreateLogGroup", json!({"logGroupName": "g"})).await.unwrap();
        call(&s, "CreateLogStream", json!({"logGroupName": "g", "logStreamName": "s"})).await.unwrap();
        let t = now(&s).await;
        let put = |events: Value| json!({"logGroupName": "g", "logStreamName": "s", "logEvents": events});
        let unsorted = json!([{"timestamp": t, "message": "b"}, {"timestamp": t - 1, "message": "a"}]);
        assert_eq!(code(call(&s, "PutLogEvents", put(unsorted)).await), "InvalidParameterException");
        let too_many: Vec<Value> = (0..10_001).map(|_| json!({"timestamp": t, "message": "x"})).collect();
        assert_eq!(code(call(&s, "PutLogEvents", put(json!(too_many))).await), "InvalidParameterException");
        let big = "x".repeat(200_000);
        let too_big: Vec<Value> = (0..6).map(|_| json!({"timestamp": t, "message": big})).collect();
        assert_eq!(code(call(&s, "PutLogEvents", put(json!(too_big))).await), "InvalidParameterException");
        let day = 24 * 3600 * 1000;
        let mixed = json!([
            {"timestamp": t - 15 * day, "message": "old"},
            {"timestamp": t, "message": "now"},
            {"timestamp": t + 3 * 3600 * 1000, "message": "future"},
        ]);
        // Spans more than 24 hours.
        assert_eq!(code(call(&s, "PutLogEvents", put(mixed)).await), "InvalidParameterException");
        let mixed = json!([
            {"timestamp": t - 14 * day - 1000, "message": "old"},
            {"timestamp": t - 14 * day + 60_000, "message": "kept"},
        ]);
        let answer = call(&s, "PutLogEvents", put(mixed)).await.unwrap();
        assert_eq!(answer["rejectedLogEventsInfo"], json!({"tooOldLogEventEndIndex": 0}));
        let future =
            json!([{"timestamp": t, "message": "now"}, {"timestamp": t + 3 * 3600 * 1000, "message": "future"}]);
        let answer = call(&s, "PutLogEvents", put(future)).await.unwrap();
        assert_eq!(answer["rejectedLogEventsInfo"], json!({"tooNewLogEventStartIndex": 1}));
        let all = call(&s, "GetLogEvents", json!({"logGroupName": "g", "logStreamName": "s", "startFromHead": true}))
            .await
            .unwrap();
        let messages: Vec<&str> =
            all["events"].as_array().unwrap().iter().map(|e| e["message"].as_str().unwrap()).collect();
        assert_eq!(messages, ["kept", "now"]);
        assert_eq!(
            code(call(&s, "PutLogEvents", json!({"logGroupName": "g", "logStreamName": "nope", "logEvents": [{"timestamp": t, "message": "x"}]})).await),
            "ResourceNotFoundException"
        );
    }
}

#[tokio::test]
async fn retention_deletes_events_past_it() {
    for (_dir, s) in services().await {
        call(&s, "CreateLogGroup", json!({"logGroupName": "r"})).await.unwrap();
        call(&s, "CreateLogStream", json!({"logGroupName": "r", "logStreamName": "s"})).await.unwrap();
        let t = now(&s).await;
        let day = 24 * 3600 * 1000;
        // One batch spans at most a day.
        for (at, message) in [(t - 10 * day, "ten days ago"), (t - 2 * day, "two days ago"), (t, "now")] {
            let events = json!([{"timestamp": at, "message": message}]);
            call(&s, "PutLogEvents", json!({"logGroupName": "r", "logStreamName": "s", "logEvents": events}))
                .await
                .unwrap();
        }
        assert_eq!(
            code(call(&s, "PutRetentionPolicy", json!({"logGroupName": "r", "retentionInDays": 2})).await),
            "InvalidParameterException"
        );
        call(&s, "PutRetentionPolicy", json!({"logGroupName": "r", "retentionInDays": 3})).await.unwrap();
        retention::Retention { store: s.store.clone() }.reconcile().await.unwrap();
        let all = call(&s, "GetLogEvents", json!({"logGroupName": "r", "logStreamName": "s", "startFromHead": true}))
            .await
            .unwrap();
        let messages: Vec<&str> =
            all["events"].as_array().unwrap().iter().map(|e| e["message"].as_str().unwrap()).collect();
        assert_eq!(messages, ["two days ago", "now"]);
        let groups = call(&s, "DescribeLogGroups", json!({})).await.unwrap();
        assert_eq!(groups["logGroups"][0]["retentionInDays"], 3);
        call(&s, "DeleteRetentionPolicy", json!({"logGroupName": "r"})).await.unwrap();
        call(&s, "DeleteLogGroup", json!({"logGroupName": "r"})).await.unwrap();
        assert_eq!(code(call(&s, "DeleteLogGroup", json!({"logGroupName": "r"})).await), "ResourceNotFoundException");
    }
}
