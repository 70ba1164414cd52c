//! The service through its operations, on every backend (PostgreSQL when
//! `FLOTILLA_TEST_POSTGRES_URL` is set).

use super::*;
use crate::store::{NewMessage, QueueRecord};
use flotilla_core::metrics::MetricDatum;
use serde_json::{Value, json};
use std::sync::Mutex;
use std::time::Duration;

const ENDPOINT: &str = "http://127.0.0.1:4566";
const ACCOUNT: &str = "000000000000";

async fn services() -> Vec<(flotilla_db::testing::TestBackend, SqsService)> {
    let mut out = Vec::new();
    for backend in flotilla_db::testing::backends() {
        let service = SqsService::open(&backend.location, AccountContext::default(), ENDPOINT).await.unwrap();
        out.push((backend, service));
    }
    out
}

/// A refusal as answered: status, `__type`, the `x-amzn-query-error` header.
#[derive(Debug)]
struct Refusal {
    status: u16,
    code: String,
    query: Option<String>,
    message: String,
}

async fn call(s: &SqsService, op: &str, input: Value) -> std::result::Result<Value, Refusal> {
    let caller = Caller::new("AKIDTEST", "r");
    let response = s.call(op, Bytes::from(input.to_string()), &caller).await.unwrap();
    let status = response.status().as_u16();
    let query = response.headers().get("x-amzn-query-error").map(|v| v.to_str().unwrap().to_string());
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    let body: Value = serde_json::from_slice(&bytes).unwrap();
    if status == 200 {
        return Ok(body);
    }
    Err(Refusal {
        status,
        code: body["__type"].as_str().unwrap().to_string(),
        query,
        message: body["message"].as_str().unwrap_or_default().to_string(),
    })
}

fn code(r: std::result::Result<Value, Refusal>) -> String {
    r.unwrap_err().code
}

async fn create(s: &SqsService, name: &str, attributes: Value) -> String {
    let out = call(s, "CreateQueue", json!({"QueueName": name, "Attributes": attributes})).await.unwrap();
    out["QueueUrl"].as_str().unwrap().to_string()
}

async fn send(s: &SqsService, url: &str, body: &str) -> Value {
    call(s, "SendMessage", json!({"QueueUrl": url, "MessageBody": body})).await.unwrap()
}

async fn receive(s: &SqsService, url: &str, extra: Value) -> Vec<Value> {
    let mut input = json!({"QueueUrl": url, "MessageSystemAttributeNames": ["All"], "MessageAttributeNames": ["All"]});
    for (k, v) in extra.as_object().unwrap() {
        input[k] = v.clone();
    }
    let out = call(s, "ReceiveMessage", input).await.unwrap();
    out.get("Messages").and_then(Value::as_array).cloned().unwrap_or_default()
}

async fn delete(s: &SqsService, url: &str, message: &Value) {
    call(s, "DeleteMessage", json!({"QueueUrl": url, "ReceiptHandle": message["ReceiptHandle"]})).await.unwrap();
}

async fn attribute(s: &SqsService, url: &str, name: &str) -> String {
    let out = call(s, "GetQueueAttributes", json!({"QueueUrl": url, "AttributeNames": [name]})).await.unwrap();
    out["Attributes"][name].as_str().unwrap().to_string()
}

async fn queue(s: &SqsService, name: &str) -> QueueRecord {
    s.store.queue(name).await.unwrap().unwrap()
}

#[tokio::test]
async fn queues_are_created_once_found_listed_and_deleted() {
    for (_b, s) in services().await {
        let url = create(&s, "orders", json!({"VisibilityTimeout": "45"})).await;
        assert_eq!(url, format!("{ENDPOINT}/{ACCOUNT}/orders"));
        // The same attributes again: the same queue; another value: refused.
        assert_eq!(create(&s, "orders", json!({"VisibilityTimeout": "045"})).await, url);
        assert_eq!(create(&s, "orders", json!({})).await, url);
        let e = call(&s, "CreateQueue", json!({"QueueName": "orders", "Attributes": {"VisibilityTimeout": "5"}}))
            .await
            .unwrap_err();
        assert_eq!((e.code.as_str(), e.query.as_deref()), ("QueueNameExists", Some("QueueAlreadyExists;Sender")));
        assert_eq!(attribute(&s, &url, "VisibilityTimeout").await, "45");

        let got = call(&s, "GetQueueUrl", json!({"QueueName": "orders"})).await.unwrap();
        assert_eq!(got["QueueUrl"], json!(url));
        let e = call(&s, "GetQueueUrl", json!({"QueueName": "nope"})).await.unwrap_err();
        assert_eq!(e.code, "QueueDoesNotExist");
        assert_eq!(e.query.as_deref(), Some("AWS.SimpleQueueService.NonExistentQueue;Sender"));
        assert_eq!(e.status, 400);

        for name in ["order-a", "order-b", "order-c", "other"] {
            create(&s, name, json!({})).await;
        }
        let listed = call(&s, "ListQueues", json!({"QueueNamePrefix": "order"})).await.unwrap();
        assert_eq!(listed["QueueUrls"].as_array().unwrap().len(), 4);
        assert!(listed.get("NextToken").is_none());
        let mut seen = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut input = json!({"QueueNamePrefix": "order", "MaxResults": 3});
            if let Some(t) = &token {
                input["NextToken"] = json!(t);
            }
            let page = call(&s, "ListQueues", input).await.unwrap();
            seen.extend(page["QueueUrls"].as_array().unwrap().iter().map(|u| u.as_str().unwrap().to_string()));
            match page["NextToken"].as_str() {
                Some(t) => token = Some(t.to_string()),
                None => break,
            }
        }
        assert_eq!(seen.len(), 4);
        assert!(seen.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(code(call(&s, "ListQueues", json!({"MaxResults": 0})).await), "InvalidParameterValue");
        assert_eq!(call(&s, "ListQueues", json!({"QueueNamePrefix": "zzz"})).await.unwrap(), json!({}));

        call(&s, "DeleteQueue", json!({"QueueUrl": url})).await.unwrap();
        assert_eq!(code(call(&s, "GetQueueUrl", json!({"QueueName": "orders"})).await), "QueueDoesNotExist");
        assert_eq!(code(call(&s, "DeleteQueue", json!({"QueueUrl": url})).await), "QueueDoesNotExist");
        // Created again, it is a new, empty queue.
        let again = create(&s, "orders", json!({})).await;
        assert!(receive(&s, &again, json!({})).await.is_empty());
    }
}

#[tokio::test]
async fn bad_queue_input_is_refused_with_awss_codes() {
    for (_b, s) in services().await {
        let refused = |name: &str, attributes: Value| {
            let s = &s;
            let name = name.to_string();
            async move { code(call(s, "CreateQueue", json!({"QueueName": name, "Attributes": attributes})).await) }
        };
        assert_eq!(refused("bad name", json!({})).await, "InvalidParameterValue");
        assert_eq!(refused(&"x".repeat(81), json!({})).await, "InvalidParameterValue");
        assert_eq!(refused("q.fifo", json!({})).await, "InvalidParameterValue");
        assert_eq!(refused("q", json!({"FifoQueue": "true"})).await, "InvalidParameterValue");
        assert_eq!(refused("q", json!({"VisibilityTimeout": "43201"})).await, "InvalidAttributeValue");
        assert_eq!(refused("q", json!({"Bogus": "1"})).await, "InvalidAttributeName");
        assert_eq!(refused("q", json!({"ContentBasedDeduplication": "true"})).await, "InvalidAttributeName");
        assert_eq!(code(call(&s, "CreateQueue", json!({})).await), "MissingParameter");
        assert!(s.store.queue("q").await.unwrap().is_none(), "refusals create nothing");

        let url = create(&s, "q", json!({})).await;
        let e = call(
            &s,
            "SetQueueAttributes",
            json!({"QueueUrl": url, "Attributes": {"DelaySeconds": "5", "VisibilityTimeout": "-1"}}),
        )
        .await
        .unwrap_err();
        assert_eq!(e.code, "InvalidAttributeValue");
        assert_eq!(attribute(&s, &url, "DelaySeconds").await, "0", "a refused change changes nothing");
        let e = call(&s, "GetQueueAttributes", json!({"QueueUrl": url, "AttributeNames": ["Nope"]})).await.unwrap_err();
        assert_eq!(e.code, "InvalidAttributeName");
        let e = call(&s, "GetQueueAttributes", json!({"QueueUrl": "not a url"})).await.unwrap_err();
        assert_eq!(e.code, "InvalidAddress");
        let other_account = url.replace(ACCOUNT, "111111111111");
        assert_eq!(code(call(&s, "GetQueueAttributes", json!({"QueueUrl": other_account})).await), "QueueDoesNotExist");
        let e = call(&s, "SendMessage", json!({"QueueUrl": url, "MessageBody": 5})).await.unwrap_err();
        assert_eq!((e.code.as_str(), e.query), ("SerializationException", None));
        assert_eq!(code(call(&s, "Nope", json!({})).await), "UnknownOperationException");
    }
}

#[tokio::test]
async fn attributes_are_reported_and_changed() {
    for (_b, s) in services().await {
        let url = create(&s, "attrs", json!({"DelaySeconds": "2"})).await;
        let all = call(&s, "GetQueueAttributes", json!({"QueueUrl": url, "AttributeNames": ["All"]})).await.unwrap();
        let a = &all["Attributes"];
        assert_eq!(a["QueueArn"], json!(format!("arn:aws:sqs:us-east-1:{ACCOUNT}:attrs")));
        for (k, v) in [
            ("VisibilityTimeout", "30"),
            ("MaximumMessageSize", "262144"),
            ("MessageRetentionPeriod", "345600"),
            ("DelaySeconds", "2"),
            ("ReceiveMessageWaitTimeSeconds", "0"),
            ("ApproximateNumberOfMessages", "0"),
            ("ApproximateNumberOfMessagesNotVisible", "0"),
            ("ApproximateNumberOfMessagesDelayed", "0"),
            ("SqsManagedSseEnabled", "true"),
        ] {
            assert_eq!(a[k], json!(v), "{k}");
        }
        assert!(a["CreatedTimestamp"].as_str().unwrap().parse::<i64>().unwrap() > 1_600_000_000);
        assert!(a.get("FifoQueue").is_none());
        let none = call(&s, "GetQueueAttributes", json!({"QueueUrl": url})).await.unwrap();
        assert_eq!(none, json!({}));

        let policy = r#"{"Version":"2012-10-17","Statement":[]}"#;
        call(
            &s,
            "SetQueueAttributes",
            json!({"QueueUrl": url, "Attributes": {"VisibilityTimeout": "7", "Policy": policy, "MessageRetentionPeriod": "60"}}),
        )
        .await
        .unwrap();
        assert_eq!(attribute(&s, &url, "VisibilityTimeout").await, "7");
        assert_eq!(attribute(&s, &url, "Policy").await, policy);
        assert_eq!(queue(&s, "attrs").await.retention_ms, 60_000);
        call(&s, "SetQueueAttributes", json!({"QueueUrl": url, "Attributes": {"Policy": ""}})).await.unwrap();
        let got = call(&s, "GetQueueAttributes", json!({"QueueUrl": url, "AttributeNames": ["Policy"]})).await.unwrap();
        assert_eq!(got, json!({}));
    }
}

#[tokio::test]
async fn messages_round_trip_with_digests_and_attributes() {
    for (_b, s) in services().await {
        let url = create(&s, "rt", json!({})).await;
        let attrs = json!({
            "timestamp": {"DataType": "Number", "StringValue": "1493147359900"},
            "blob": {"DataType": "Binary", "BinaryValue": "AAEC"},
            "kind.colour": {"DataType": "String.custom", "StringValue": "blue"},
        });
        let sent = call(
            &s,
            "SendMessage",
            json!({"QueueUrl": url, "MessageBody": "derp", "MessageAttributes": attrs,
                   "MessageSystemAttributes": {"AWSTraceHeader": {"DataType": "String", "StringValue": "Root=1-a"}}}),
        )
        .await
        .unwrap();
        assert_eq!(sent["MD5OfMessageBody"], "58fd9edd83341c29f1aebba81c31e257");
        let attrs_md5 = sent["MD5OfMessageAttributes"].as_str().unwrap().to_string();
        assert_eq!(attrs_md5.len(), 32);
        assert!(sent["MD5OfMessageSystemAttributes"].is_string());
        assert!(sent.get("SequenceNumber").is_none());

        let got = receive(&s, &url, json!({})).await;
        assert_eq!(got.len(), 1);
        let m = &got[0];
        assert_eq!(m["MessageId"], sent["MessageId"]);
        assert_eq!(m["Body"], "derp");
        assert_eq!(m["MD5OfBody"], "58fd9edd83341c29f1aebba81c31e257");
        assert_eq!(m["MD5OfMessageAttributes"], json!(attrs_md5));
        assert_eq!(m["MessageAttributes"], attrs);
        assert_eq!(m["Attributes"]["ApproximateReceiveCount"], "1");
        assert_eq!(m["Attributes"]["SenderId"], ACCOUNT);
        assert_eq!(m["Attributes"]["AWSTraceHeader"], "Root=1-a");
        assert!(m["Attributes"]["SentTimestamp"].as_str().unwrap().parse::<i64>().is_ok());
        assert!(m["Attributes"]["ApproximateFirstReceiveTimestamp"].is_string());
        assert_eq!(attribute(&s, &url, "ApproximateNumberOfMessagesNotVisible").await, "1");
        delete(&s, &url, m).await;
        assert_eq!(attribute(&s, &url, "ApproximateNumberOfMessagesNotVisible").await, "0");

        // Only the attributes asked for, with the digest of those.
        let one = json!({"timestamp": {"DataType": "Number", "StringValue": "1493147359900"}});
        call(&s, "SendMessage", json!({"QueueUrl": url, "MessageBody": "x", "MessageAttributes": attrs}))
            .await
            .unwrap();
        let got =
            receive(&s, &url, json!({"MessageAttributeNames": ["timestamp"], "MessageSystemAttributeNames": []})).await;
        assert_eq!(got[0]["MessageAttributes"], one);
        assert_eq!(got[0]["MD5OfMessageAttributes"], "235c5c510d26fb653d073faed50ae77c");
        assert!(got[0].get("Attributes").is_none());
        let got = call(&s, "ReceiveMessage", json!({"QueueUrl": url, "VisibilityTimeout": 0})).await.unwrap();
        assert!(got["Messages"][0].get("MessageAttributes").is_none());
        assert!(got["Messages"][0].get("MD5OfMessageAttributes").is_none());
    }
}

#[tokio::test]
async fn bad_messages_are_refused_and_nothing_is_stored() {
    for (_b, s) in services().await {
        let url = create(&s, "bad", json!({"MaximumMessageSize": "1024"})).await;
        let refused = |input: Value| {
            let s = &s;
            let mut input = input;
            input["QueueUrl"] = json!(url);
            async move { code(call(s, "SendMessage", input).await) }
        };
        assert_eq!(refused(json!({})).await, "MissingParameter");
        assert_eq!(refused(json!({"MessageBody": ""})).await, "MissingParameter");
        assert_eq!(refused(json!({"MessageBody": "a\u{0}b"})).await, "InvalidMessageContents");
        assert_eq!(refused(json!({"MessageBody": "x".repeat(1025)})).await, "InvalidParameterValue");
        // Attributes count against the size too.
        let big = json!({"a": {"DataType": "String", "StringValue": "y".repeat(1000)}});
        assert_eq!(
            refused(json!({"MessageBody": "x".repeat(100), "MessageAttributes": big})).await,
            "InvalidParameterValue"
        );
        assert_eq!(refused(json!({"MessageBody": "x", "DelaySeconds": 901})).await, "InvalidParameterValue");
        assert_eq!(refused(json!({"MessageBody": "x", "MessageDeduplicationId": "d"})).await, "InvalidParameterValue");
        let bad = json!({"AWS.x": {"DataType": "String", "StringValue": "v"}});
        assert_eq!(refused(json!({"MessageBody": "x", "MessageAttributes": bad})).await, "InvalidParameterValue");
        let e = call(&s, "ReceiveMessage", json!({"QueueUrl": url, "MaxNumberOfMessages": 11})).await.unwrap_err();
        assert_eq!(e.code, "InvalidParameterValue");
        assert!(e.message.contains("MaxNumberOfMessages"), "{}", e.message);
        assert_eq!(
            code(call(&s, "ReceiveMessage", json!({"QueueUrl": url, "WaitTimeSeconds": 21})).await),
            "InvalidParameterValue"
        );
        let counts = s.store.counts(&queue(&s, "bad").await, s.store.now_ms().await.unwrap()).await.unwrap();
        assert_eq!((counts.visible, counts.delayed), (0, 0), "nothing was stored");
    }
}

#[tokio::test]
async fn visibility_timeouts_bring_messages_back_and_can_be_changed() {
    for (_b, s) in services().await {
        let url = create(&s, "vis", json!({})).await;
        send(&s, &url, "again").await;
        let first = receive(&s, &url, json!({"VisibilityTimeout": 0})).await;
        assert_eq!(first[0]["Attributes"]["ApproximateReceiveCount"], "1");
        let second = receive(&s, &url, json!({"VisibilityTimeout": 30})).await;
        assert_eq!(second[0]["Attributes"]["ApproximateReceiveCount"], "2");
        assert_eq!(
            second[0]["Attributes"]["ApproximateFirstReceiveTimestamp"],
            first[0]["Attributes"]["ApproximateFirstReceiveTimestamp"]
        );
        assert_ne!(first[0]["ReceiptHandle"], second[0]["ReceiptHandle"]);
        assert!(receive(&s, &url, json!({})).await.is_empty(), "in flight for 30 s");

        // The stale receipt deletes nothing on a standard queue (and succeeds).
        delete(&s, &url, &first[0]).await;
        assert_eq!(attribute(&s, &url, "ApproximateNumberOfMessagesNotVisible").await, "1");
        let e = call(
            &s,
            "ChangeMessageVisibility",
            json!({"QueueUrl": url, "ReceiptHandle": first[0]["ReceiptHandle"], "VisibilityTimeout": 0}),
        )
        .await
        .unwrap_err();
        assert_eq!(e.code, "ReceiptHandleIsInvalid");
        let e = call(
            &s,
            "ChangeMessageVisibility",
            json!({"QueueUrl": url, "ReceiptHandle": second[0]["ReceiptHandle"], "VisibilityTimeout": 43_201}),
        )
        .await
        .unwrap_err();
        assert_eq!(e.code, "InvalidParameterValue");
        call(
            &s,
            "ChangeMessageVisibility",
            json!({"QueueUrl": url, "ReceiptHandle": second[0]["ReceiptHandle"], "VisibilityTimeout": 0}),
        )
        .await
        .unwrap();
        let e = call(
            &s,
            "ChangeMessageVisibility",
            json!({"QueueUrl": url, "ReceiptHandle": second[0]["ReceiptHandle"], "VisibilityTimeout": 10}),
        )
        .await
        .unwrap_err();
        assert_eq!(
            (e.code.as_str(), e.query.as_deref()),
            ("MessageNotInflight", Some("AWS.SimpleQueueService.MessageNotInflight;Sender"))
        );
        let third = receive(&s, &url, json!({})).await;
        assert_eq!(third[0]["Attributes"]["ApproximateReceiveCount"], "3");
        delete(&s, &url, &third[0]).await;
        assert_eq!(attribute(&s, &url, "ApproximateNumberOfMessagesNotVisible").await, "0");

        let e = call(&s, "DeleteMessage", json!({"QueueUrl": url, "ReceiptHandle": "nonsense"})).await.unwrap_err();
        assert_eq!(e.code, "ReceiptHandleIsInvalid");
        let other = create(&s, "vis-other", json!({})).await;
        let e = call(&s, "DeleteMessage", json!({"QueueUrl": other, "ReceiptHandle": third[0]["ReceiptHandle"]}))
            .await
            .unwrap_err();
        assert_eq!(e.code, "ReceiptHandleIsInvalid");
    }
}

#[tokio::test]
async fn delayed_messages_wait() {
    for (_b, s) in services().await {
        let url = create(&s, "delayed", json!({})).await;
        call(&s, "SendMessage", json!({"QueueUrl": url, "MessageBody": "later", "DelaySeconds": 1})).await.unwrap();
        send(&s, &url, "now").await;
        assert_eq!(attribute(&s, &url, "ApproximateNumberOfMessagesDelayed").await, "1");
        let got = receive(&s, &url, json!({"MaxNumberOfMessages": 10})).await;
        assert_eq!(got.len(), 1);
        assert_eq!(got[0]["Body"], "now");
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let got = receive(&s, &url, json!({"MaxNumberOfMessages": 10})).await;
        assert_eq!(got[0]["Body"], "later");
    }
}

#[tokio::test]
async fn long_polls_return_as_soon_as_a_message_arrives() {
    for (_b, s) in services().await {
        let url = create(&s, "poll", json!({})).await;
        let started = std::time::Instant::now();
        let empty = call(&s, "ReceiveMessage", json!({"QueueUrl": url, "WaitTimeSeconds": 1})).await.unwrap();
        assert_eq!(empty, json!({}));
        assert!(started.elapsed() >= Duration::from_millis(950), "waited {:?}", started.elapsed());

        let waiter = {
            let (s, url) = (s.clone(), url.clone());
            tokio::spawn(async move {
                let started = std::time::Instant::now();
                let got = call(&s, "ReceiveMessage", json!({"QueueUrl": url, "WaitTimeSeconds": 20})).await.unwrap();
                (got, started.elapsed())
            })
        };
        tokio::time::sleep(Duration::from_millis(300)).await;
        send(&s, &url, "wake").await;
        let (got, waited) = waiter.await.unwrap();
        assert_eq!(got["Messages"][0]["Body"], "wake");
        assert!(waited < Duration::from_secs(5), "the send woke the poll: {waited:?}");

        // A message sent around the wake-ups (another replica's) is seen within a second.
        let waiter = {
            let (s, url) = (s.clone(), url.clone());
            tokio::spawn(async move {
                let started = std::time::Instant::now();
                let got = call(&s, "ReceiveMessage", json!({"QueueUrl": url, "WaitTimeSeconds": 20})).await.unwrap();
                (got, started.elapsed())
            })
        };
        tokio::time::sleep(Duration::from_millis(300)).await;
        let q = queue(&s, "poll").await;
        let now = s.store.now_ms().await.unwrap();
        s.store.send(&q, &[plain("quiet")], now).await.unwrap();
        let (got, waited) = waiter.await.unwrap();
        assert_eq!(got["Messages"][0]["Body"], "quiet");
        assert!(waited < Duration::from_secs(5), "{waited:?}");
        // The queue's own wait time applies when the request names none.
        call(&s, "SetQueueAttributes", json!({"QueueUrl": url, "Attributes": {"ReceiveMessageWaitTimeSeconds": "1"}}))
            .await
            .unwrap();
        let started = std::time::Instant::now();
        call(&s, "ReceiveMessage", json!({"QueueUrl": url})).await.unwrap();
        assert!(started.elapsed() >= Duration::from_millis(950));
    }
}

#[tokio::test]
async fn a_long_poll_ends_when_its_queue_is_deleted() {
    for (_b, s) in services().await {
        let url = create(&s, "doomed", json!({})).await;
        let waiter = {
            let (s, url) = (s.clone(), url.clone());
            tokio::spawn(
                async move { call(&s, "ReceiveMessage", json!({"QueueUrl": url, "WaitTimeSeconds": 20})).await },
            )
        };
        tokio::time::sleep(Duration::from_millis(300)).await;
        let started = std::time::Instant::now();
        call(&s, "DeleteQueue", json!({"QueueUrl": url})).await.unwrap();
        // Created again at once: the old poll must not serve the new queue.
        let again = create(&s, "doomed", json!({})).await;
        send(&s, &again, "for the new queue").await;
        assert_eq!(code(waiter.await.unwrap()), "QueueDoesNotExist");
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(receive(&s, &again, json!({})).await[0]["Body"], "for the new queue");
    }
}

fn plain(body: &str) -> NewMessage {
    NewMessage {
        message_id: uuid::Uuid::new_v4().to_string(),
        body: body.to_string(),
        attributes: None,
        trace_header: None,
        delay_ms: 0,
        group_id: None,
        dedup_id: None,
        dedup_key: None,
    }
}

#[tokio::test]
async fn fifo_queues_keep_group_order_and_deduplicate() {
    for (_b, s) in services().await {
        let url = create(&s, "jobs.fifo", json!({"FifoQueue": "true"})).await;
        assert_eq!(attribute(&s, &url, "FifoQueue").await, "true");
        let e = call(&s, "SendMessage", json!({"QueueUrl": url, "MessageBody": "x", "MessageDeduplicationId": "d"}))
            .await
            .unwrap_err();
        assert_eq!(e.code, "MissingParameter");
        let e = call(&s, "SendMessage", json!({"QueueUrl": url, "MessageBody": "x", "MessageGroupId": "g"}))
            .await
            .unwrap_err();
        assert_eq!(e.code, "InvalidParameterValue", "no deduplication id and no content-based deduplication");
        let e = call(&s, "SendMessage", json!({"QueueUrl": url, "MessageBody": "x", "MessageGroupId": "g", "MessageDeduplicationId": "d", "DelaySeconds": 5}))
            .await
            .unwrap_err();
        assert_eq!(e.code, "InvalidParameterValue");

        let mut sequence = Vec::new();
        for (i, group) in ["a", "b", "a", "a", "b"].iter().enumerate() {
            let sent = call(
                &s,
                "SendMessage",
                json!({"QueueUrl": url, "MessageBody": format!("{group}{i}"),
                "MessageGroupId": group, "MessageDeduplicationId": format!("d{i}")}),
            )
            .await
            .unwrap();
            sequence.push(sent["SequenceNumber"].as_str().unwrap().to_string());
        }
        assert!(sequence.windows(2).all(|w| w[0].parse::<u128>().unwrap() < w[1].parse::<u128>().unwrap()));
        // A duplicate within 5 minutes is accepted, answered as the first, not stored.
        let dup = call(
            &s,
            "SendMessage",
            json!({"QueueUrl": url, "MessageBody": "other", "MessageGroupId": "a", "MessageDeduplicationId": "d0"}),
        )
        .await
        .unwrap();
        assert_eq!(dup["SequenceNumber"].as_str().unwrap(), sequence[0]);

        // One receive serves a group's messages together, in order.
        let got = receive(&s, &url, json!({"MaxNumberOfMessages": 2})).await;
        let bodies: Vec<&str> = got.iter().map(|m| m["Body"].as_str().unwrap()).collect();
        assert_eq!(bodies, ["a0", "a2"]);
        assert_eq!(got[0]["Attributes"]["MessageGroupId"], "a");
        assert_eq!(got[0]["Attributes"]["MessageDeduplicationId"], "d0");
        assert_eq!(got[0]["Attributes"]["SequenceNumber"].as_str().unwrap(), sequence[0]);
        // Group a has messages in flight: only b is served.
        let got = receive(&s, &url, json!({"MaxNumberOfMessages": 10})).await;
        let bodies: Vec<&str> = got.iter().map(|m| m["Body"].as_str().unwrap()).collect();
        assert_eq!(bodies, ["b1", "b4"]);
        assert!(receive(&s, &url, json!({"MaxNumberOfMessages": 10})).await.is_empty());
        let a0 = receive_handle_of(&s, &url, "a0").await;
        assert!(a0.is_none(), "a0 is in flight");
    }
}

async fn receive_handle_of(s: &SqsService, url: &str, body: &str) -> Option<Value> {
    receive(s, url, json!({"MaxNumberOfMessages": 10})).await.into_iter().find(|m| m["Body"] == body)
}

#[tokio::test]
async fn fifo_groups_resume_once_their_message_is_deleted_or_visible_again() {
    for (_b, s) in services().await {
        let url = create(&s, "order.fifo", json!({"FifoQueue": "true", "ContentBasedDeduplication": "true"})).await;
        for body in ["1", "2", "3"] {
            call(&s, "SendMessage", json!({"QueueUrl": url, "MessageBody": body, "MessageGroupId": "g"}))
                .await
                .unwrap();
        }
        // Content-based deduplication: the same body again is a duplicate.
        call(&s, "SendMessage", json!({"QueueUrl": url, "MessageBody": "1", "MessageGroupId": "g"})).await.unwrap();
        assert_eq!(attribute(&s, &url, "ApproximateNumberOfMessages").await, "3");
        let first = receive(&s, &url, json!({"VisibilityTimeout": 30})).await;
        assert_eq!(first[0]["Body"], "1");
        assert!(receive(&s, &url, json!({})).await.is_empty(), "the group is blocked while 1 is in flight");
        call(
            &s,
            "ChangeMessageVisibility",
            json!({"QueueUrl": url, "ReceiptHandle": first[0]["ReceiptHandle"], "VisibilityTimeout": 0}),
        )
        .await
        .unwrap();
        let again = receive(&s, &url, json!({})).await;
        assert_eq!(again[0]["Body"], "1", "visible again, it is still first");
        // On a FIFO queue a receipt from an earlier receive is refused.
        let e = call(&s, "DeleteMessage", json!({"QueueUrl": url, "ReceiptHandle": first[0]["ReceiptHandle"]}))
            .await
            .unwrap_err();
        assert_eq!(e.code, "ReceiptHandleIsInvalid");
        delete(&s, &url, &again[0]).await;
        let next = receive(&s, &url, json!({"MaxNumberOfMessages": 10})).await;
        let bodies: Vec<&str> = next.iter().map(|m| m["Body"].as_str().unwrap()).collect();
        assert_eq!(bodies, ["2", "3"]);
    }
}

#[tokio::test]
async fn messages_received_too_often_move_to_the_dead_letter_queue() {
    for (_b, s) in services().await {
        let dlq = create(&s, "dead", json!({})).await;
        let dlq_arn = format!("arn:aws:sqs:us-east-1:{ACCOUNT}:dead");
        let policy = json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2}).to_string();
        let src = create(&s, "work", json!({"RedrivePolicy": policy})).await;
        let got = attribute(&s, &src, "RedrivePolicy").await;
        assert_eq!(
            serde_json::from_str::<Value>(&got).unwrap(),
            json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2})
        );
        let sent = send(&s, &src, "poison").await;
        for n in 1..=2 {
            let got = receive(&s, &src, json!({"VisibilityTimeout": 0})).await;
            assert_eq!(got[0]["Attributes"]["ApproximateReceiveCount"], json!(n.to_string()));
        }
        assert!(receive(&s, &src, json!({})).await.is_empty(), "the third receive moves it");
        let moved = receive(&s, &dlq, json!({})).await;
        assert_eq!(moved[0]["MessageId"], sent["MessageId"]);
        assert_eq!(moved[0]["Body"], "poison");
        assert_eq!(moved[0]["Attributes"]["DeadLetterQueueSourceArn"], format!("arn:aws:sqs:us-east-1:{ACCOUNT}:work"));
        let sources = call(&s, "ListDeadLetterSourceQueues", json!({"QueueUrl": dlq})).await.unwrap();
        assert_eq!(sources["queueUrls"], json!([src]));
        let none = call(&s, "ListDeadLetterSourceQueues", json!({"QueueUrl": src})).await.unwrap();
        assert_eq!(none["queueUrls"], json!([]));

        let missing =
            json!({"deadLetterTargetArn": format!("arn:aws:sqs:us-east-1:{ACCOUNT}:nope"), "maxReceiveCount": 2});
        let e = call(
            &s,
            "SetQueueAttributes",
            json!({"QueueUrl": src, "Attributes": {"RedrivePolicy": missing.to_string()}}),
        )
        .await
        .unwrap_err();
        assert_eq!(e.code, "InvalidParameterValue");
        let fifo = create(&s, "dead.fifo", json!({"FifoQueue": "true"})).await;
        let wrong_type =
            json!({"deadLetterTargetArn": format!("arn:aws:sqs:us-east-1:{ACCOUNT}:dead.fifo"), "maxReceiveCount": 2});
        assert_eq!(
            code(
                call(
                    &s,
                    "SetQueueAttributes",
                    json!({"QueueUrl": src, "Attributes": {"RedrivePolicy": wrong_type.to_string()}})
                )
                .await
            ),
            "InvalidParameterValue"
        );
        call(
            &s,
            "SetQueueAttributes",
            json!({"QueueUrl": dlq, "Attributes": {"RedriveAllowPolicy": r#"{"redrivePermission":"denyAll"}"#}}),
        )
        .await
        .unwrap();
        assert_eq!(
            code(call(&s, "CreateQueue", json!({"QueueName": "work2", "Attributes": {"RedrivePolicy": policy}})).await),
            "InvalidParameterValue"
        );
        drop(fifo);
    }
}

#[tokio::test]
async fn batches_report_each_entry() {
    for (_b, s) in services().await {
        let url = create(&s, "batch", json!({})).await;
        let entries = json!([
            {"Id": "ok1", "MessageBody": "one"},
            {"Id": "bad", "MessageBody": ""},
            {"Id": "ok2", "MessageBody": "two", "DelaySeconds": 0,
             "MessageAttributes": {"n": {"DataType": "Number", "StringValue": "1493147359900"}}},
        ]);
        let out = call(&s, "SendMessageBatch", json!({"QueueUrl": url, "Entries": entries})).await.unwrap();
        let ok: Vec<&str> = out["Successful"].as_array().unwrap().iter().map(|e| e["Id"].as_str().unwrap()).collect();
        assert_eq!(ok, ["ok1", "ok2"]);
        assert_eq!(out["Successful"][1]["MD5OfMessageBody"], "b8a9f715dbb64fd5c56e7783c6820a61");
        assert!(out["Successful"][1]["MD5OfMessageAttributes"].is_string());
        assert_eq!(
            out["Failed"],
            json!([{"Id": "bad", "SenderFault": true, "Code": "MissingParameter",
            "Message": "The request must contain the parameter MessageBody."}])
        );

        let refused = |entries: Value| {
            let s = &s;
            let url = url.clone();
            async move { call(s, "SendMessageBatch", json!({"QueueUrl": url, "Entries": entries})).await.unwrap_err() }
        };
        let e = refused(json!([])).await;
        assert_eq!(
            (e.code.as_str(), e.query.as_deref()),
            ("EmptyBatchRequest", Some("AWS.SimpleQueueService.EmptyBatchRequest;Sender"))
        );
        let eleven: Vec<Value> = (0..11).map(|i| json!({"Id": format!("e{i}"), "MessageBody": "x"})).collect();
        assert_eq!(refused(json!(eleven)).await.code, "TooManyEntriesInBatchRequest");
        assert_eq!(
            refused(json!([{"Id": "a", "MessageBody": "x"}, {"Id": "a", "MessageBody": "y"}])).await.code,
            "BatchEntryIdsNotDistinct"
        );
        assert_eq!(refused(json!([{"Id": "a b", "MessageBody": "x"}])).await.code, "InvalidBatchEntryId");
        let big: Vec<Value> =
            (0..2).map(|i| json!({"Id": format!("b{i}"), "MessageBody": "x".repeat(200_000)})).collect();
        assert_eq!(refused(json!(big)).await.code, "BatchRequestTooLong");
        assert_eq!(attribute(&s, &url, "ApproximateNumberOfMessages").await, "2", "refused batches stored nothing");

        let got = receive(&s, &url, json!({"MaxNumberOfMessages": 10, "VisibilityTimeout": 60})).await;
        assert_eq!(got.len(), 2);
        let mut changes: Vec<Value> = got
            .iter()
            .enumerate()
            .map(|(i, m)| json!({"Id": format!("c{i}"), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 120}))
            .collect();
        changes.push(json!({"Id": "junk", "ReceiptHandle": "junk", "VisibilityTimeout": 5}));
        let out = call(&s, "ChangeMessageVisibilityBatch", json!({"QueueUrl": url, "Entries": changes})).await.unwrap();
        assert_eq!(out["Successful"].as_array().unwrap().len(), 2);
        assert_eq!(out["Failed"][0]["Code"], "ReceiptHandleIsInvalid");
        let mut deletes: Vec<Value> = got
            .iter()
            .enumerate()
            .map(|(i, m)| json!({"Id": format!("d{i}"), "ReceiptHandle": m["ReceiptHandle"]}))
            .collect();
        deletes.push(json!({"Id": "junk", "ReceiptHandle": "junk"}));
        let out = call(&s, "DeleteMessageBatch", json!({"QueueUrl": url, "Entries": deletes})).await.unwrap();
        assert_eq!(out["Successful"].as_array().unwrap().len(), 2);
        assert_eq!(out["Failed"][0]["Id"], "junk");
        assert_eq!(attribute(&s, &url, "ApproximateNumberOfMessagesNotVisible").await, "0");
        assert_eq!(
            code(call(&s, "DeleteMessageBatch", json!({"QueueUrl": url, "Entries": []})).await),
            "EmptyBatchRequest"
        );
    }
}

#[tokio::test]
async fn purges_hide_everything_at_once_and_come_once_a_minute() {
    for (_b, s) in services().await {
        let url = create(&s, "purged", json!({})).await;
        for i in 0..5 {
            send(&s, &url, &format!("m{i}")).await;
        }
        receive(&s, &url, json!({})).await;
        call(&s, "PurgeQueue", json!({"QueueUrl": url})).await.unwrap();
        assert_eq!(attribute(&s, &url, "ApproximateNumberOfMessages").await, "0");
        assert_eq!(attribute(&s, &url, "ApproximateNumberOfMessagesNotVisible").await, "0");
        assert!(receive(&s, &url, json!({"MaxNumberOfMessages": 10})).await.is_empty());
        let e = call(&s, "PurgeQueue", json!({"QueueUrl": url})).await.unwrap_err();
        assert_eq!(e.query.as_deref(), Some("AWS.SimpleQueueService.PurgeQueueInProgress;Sender"));
        send(&s, &url, "after").await;
        assert_eq!(receive(&s, &url, json!({})).await[0]["Body"], "after");
        // The retention controller removes the purged rows.
        retention::Retention { store: s.store.clone() }.reconcile().await.unwrap();
        let q = queue(&s, "purged").await;
        let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM messages WHERE queue_id = $1")
            .bind(q.id)
            .fetch_one(s.store.db_for_tests())
            .await
            .unwrap();
        assert_eq!(left, 1);
    }
}

#[tokio::test]
async fn retention_deletes_expired_and_deleted_queues_messages() {
    for (_b, s) in services().await {
        let url = create(&s, "old", json!({"MessageRetentionPeriod": "60"})).await;
        let q = queue(&s, "old").await;
        let now = s.store.now_ms().await.unwrap();
        s.store.send(&q, &[plain("stale"), plain("stale2")], now - 61_000).await.unwrap();
        send(&s, &url, "fresh").await;
        assert_eq!(attribute(&s, &url, "ApproximateNumberOfMessages").await, "1", "expired messages are gone at once");
        let gone_queue = create(&s, "gone", json!({})).await;
        send(&s, &gone_queue, "orphan").await;
        let gone_id = queue(&s, "gone").await.id;
        call(&s, "DeleteQueue", json!({"QueueUrl": gone_queue})).await.unwrap();
        retention::Retention { store: s.store.clone() }.reconcile().await.unwrap();
        let rows: Vec<i64> =
            sqlx::query_scalar("SELECT queue_id FROM messages").fetch_all(s.store.db_for_tests()).await.unwrap();
        assert_eq!(rows, vec![q.id], "one fresh message left, none of {gone_id}");
        assert_eq!(receive(&s, &url, json!({})).await[0]["Body"], "fresh");
    }
}

#[tokio::test]
async fn tags_are_added_listed_and_removed() {
    for (_b, s) in services().await {
        let url =
            call(&s, "CreateQueue", json!({"QueueName": "tagged", "tags": {"team": "a"}})).await.unwrap()["QueueUrl"]
                .as_str()
                .unwrap()
                .to_string();
        call(&s, "TagQueue", json!({"QueueUrl": url, "Tags": {"env": "prod"}})).await.unwrap();
        let tags = call(&s, "ListQueueTags", json!({"QueueUrl": url})).await.unwrap();
        assert_eq!(tags["Tags"], json!({"team": "a", "env": "prod"}));
        call(&s, "UntagQueue", json!({"QueueUrl": url, "TagKeys": ["team", "absent"]})).await.unwrap();
        let tags = call(&s, "ListQueueTags", json!({"QueueUrl": url})).await.unwrap();
        assert_eq!(tags["Tags"], json!({"env": "prod"}));
        let many: serde_json::Map<String, Value> = (0..50).map(|i| (format!("k{i}"), json!("v"))).collect();
        assert_eq!(code(call(&s, "TagQueue", json!({"QueueUrl": url, "Tags": many})).await), "InvalidParameterValue");
        assert_eq!(call(&s, "ListQueueTags", json!({"QueueUrl": url})).await.unwrap()["Tags"], json!({"env": "prod"}));
    }
}

/// A sink that keeps what it is given.
#[derive(Default)]
struct Kept(Mutex<Vec<MetricDatum>>);

#[async_trait::async_trait]
impl MetricsSink for Kept {
    async fn record(&self, data: Vec<MetricDatum>) -> std::result::Result<(), String> {
        self.0.lock().unwrap().extend(data);
        Ok(())
    }
}

#[tokio::test]
async fn metrics_are_published_per_queue_and_activity_once() {
    for (_b, s) in services().await {
        let sink = Arc::new(Kept::default());
        let s = s.with_metrics(sink.clone());
        assert_eq!(s.controllers().iter().map(|c| c.name()).collect::<Vec<_>>(), ["sqs-retention", "sqs-metrics"]);
        let url = create(&s, "measured", json!({})).await;
        for i in 0..3 {
            send(&s, &url, &format!("m{i}")).await;
        }
        let got = receive(&s, &url, json!({})).await;
        delete(&s, &url, &got[0]).await;
        receive(&s, &url, json!({"VisibilityTimeout": 60})).await;
        let empty = create(&s, "idle", json!({})).await;
        receive(&s, &empty, json!({})).await;
        let publisher = metrics::Publisher { store: s.store.clone(), sink: sink.clone() };
        publisher.reconcile().await.unwrap();
        let value = |queue: &str, metric: &str| {
            let kept = sink.0.lock().unwrap();
            kept.iter().filter(|d| d.metric_name == metric && d.dimensions[0].1 == queue).map(|d| d.value).sum::<f64>()
        };
        assert_eq!(value("measured", "NumberOfMessagesSent"), 3.0);
        assert_eq!(value("measured", "NumberOfMessagesReceived"), 2.0);
        assert_eq!(value("measured", "NumberOfMessagesDeleted"), 1.0);
        assert_eq!(value("measured", "ApproximateNumberOfMessagesVisible"), 1.0);
        assert_eq!(value("measured", "ApproximateNumberOfMessagesNotVisible"), 1.0);
        assert_eq!(value("idle", "NumberOfEmptyReceives"), 1.0);
        // Published activity is not published again.
        sink.0.lock().unwrap().clear();
        publisher.reconcile().await.unwrap();
        assert_eq!(value("measured", "NumberOfMessagesSent"), 0.0);
        assert_eq!(value("measured", "ApproximateNumberOfMessagesVisible"), 1.0);
    }
}

#[tokio::test]
async fn everything_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let location = flotilla_db::testing::location(dir.path());
    let s = SqsService::open(&location, AccountContext::default(), ENDPOINT).await.unwrap();
    let url = create(&s, "kept", json!({})).await;
    let sent = send(&s, &url, "durable").await;
    s.close().await;
    let s = SqsService::open(&location, AccountContext::default(), ENDPOINT).await.unwrap();
    let got = receive(&s, &url, json!({})).await;
    assert_eq!(got[0]["MessageId"], sent["MessageId"]);
    s.close().await;
}

#[test]
fn operations_name_their_queue_and_iam_action() {
    let scope = ArnScope { region: "us-east-1", account_id: ACCOUNT };
    let resources = |name: &str, input: Value| match OPERATIONS.iter().find(|o| o.name == name).unwrap().resources {
        Resources::Any => vec!["*".to_string()],
        Resources::From(read) => read(&OperationInput::Json(&input), &scope),
    };
    let arn = format!("arn:aws:sqs:us-east-1:{ACCOUNT}:q1");
    assert_eq!(resources("SendMessage", json!({"QueueUrl": format!("{ENDPOINT}/{ACCOUNT}/q1")})), vec![arn.clone()]);
    assert_eq!(resources("CreateQueue", json!({"QueueName": "q1"})), vec![arn.clone()]);
    assert_eq!(resources("ListQueues", json!({})), vec!["*"]);
    assert!(resources("DeleteQueue", json!({"QueueUrl": "junk"})).is_empty());
    let action = |name: &str| OPERATIONS.iter().find(|o| o.name == name).unwrap().action;
    assert_eq!(action("SendMessageBatch"), "sqs:SendMessage");
    assert_eq!(action("DeleteMessageBatch"), "sqs:DeleteMessage");
    assert_eq!(action("ChangeMessageVisibilityBatch"), "sqs:ChangeMessageVisibility");
    for op in OPERATIONS.iter().filter(|o| !o.name.ends_with("Batch")) {
        assert_eq!(op.action, format!("sqs:{}", op.name));
    }
}
