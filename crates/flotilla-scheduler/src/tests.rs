//! The scheduler on both backends: the API's rules, firing through the outbox,
//! catch-up, retries and the dead-letter queue, with an invoker that records calls.

use super::*;
use crate::controller::Fire;
use flotilla_db::testing::backends;
use serde_json::json;
use std::sync::Mutex;

#[derive(Default)]
struct Recorder {
    invoked: Mutex<Vec<(String, String)>>,
    dead: Mutex<Vec<(String, String)>>,
    fail: bool,
}

#[async_trait]
impl TargetInvoker for Recorder {
    async fn invoke(&self, invocation: &Invocation, input: &str) -> Result<(), String> {
        self.invoked.lock().unwrap().push((invocation.schedule_name.clone(), input.to_string()));
        if self.fail { Err("the queue is gone".into()) } else { Ok(()) }
    }
    async fn dead_letter(&self, queue_arn: &str, body: &str) -> Result<(), String> {
        self.dead.lock().unwrap().push((queue_arn.to_string(), body.to_string()));
        Ok(())
    }
}

async fn call(svc: &SchedulerService, op: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
    let caller = Caller { access_key_id: "AKID".into(), principal_arn: None, request_id: "r".into() };
    let response = match svc.call(op, Bytes::from(body.to_string()), &caller).await {
        Ok(r) => r,
        Err(e) => axum::response::IntoResponse::into_response(e),
    };
    let status = response.status().as_u16();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
    (status, serde_json::from_slice(&bytes).unwrap_or(json!(null)))
}

fn schedule(name: &str, expression: &str) -> serde_json::Value {
    json!({
        "Name": name,
        "ScheduleExpression": expression,
        "FlexibleTimeWindow": {"Mode": "OFF"},
        "Target": {"Arn": "arn:aws:sqs:us-east-1:000000000000:jobs", "RoleArn": "arn:aws:iam::000000000000:role/r",
                   "Input": "{\"hello\":1}",
                   "RetryPolicy": {"MaximumRetryAttempts": 1, "MaximumEventAgeInSeconds": 60},
                   "DeadLetterConfig": {"Arn": "arn:aws:sqs:us-east-1:000000000000:dlq"}},
    })
}

#[tokio::test]
async fn schedules_fire_through_the_outbox_retry_and_dead_letter() {
    for b in backends() {
        let recorder = Arc::new(Recorder::default());
        let svc = SchedulerService::open(&b.location, AccountContext::default(), recorder.clone()).await.unwrap();
        let fire = Fire {
            store: svc.store.clone(),
            account: AccountContext::default(),
            invoker: recorder.clone(),
            changed: svc.changed.clone(),
        };
        let (status, out) = call(&svc, "CreateSchedule", schedule("every-minute", "rate(1 minute)")).await;
        assert_eq!(status, 200, "{}: {out}", b.label);
        assert!(out["ScheduleArn"].as_str().unwrap().ends_with(":schedule/default/every-minute"));
        let (status, _) = call(&svc, "CreateSchedule", schedule("every-minute", "rate(1 minute)")).await;
        assert_eq!(status, 409, "{}: a name is taken once per group", b.label);
        let (status, out) = call(&svc, "CreateSchedule", schedule("bad", "rate(1 minutes)")).await;
        assert_eq!((status, out["__type"].as_str()), (400, Some("ValidationException")), "{}", b.label);
        let (status, _) = call(&svc, "GetSchedule", json!({"Name": "nope"})).await;
        assert_eq!(status, 404);

        // A rate schedule without a start fires at once, then one minute later.
        fire.reconcile().await.unwrap();
        assert_eq!(
            recorder.invoked.lock().unwrap().as_slice(),
            [("every-minute".to_string(), "{\"hello\":1}".to_string())]
        );
        fire.reconcile().await.unwrap();
        assert_eq!(recorder.invoked.lock().unwrap().len(), 1, "{}: not again before its time", b.label);

        // A one-time schedule in the past fires once, and is deleted after.
        let mut once = schedule("once", "at(2020-01-01T00:00:00)");
        once["ActionAfterCompletion"] = json!("DELETE");
        assert_eq!(call(&svc, "CreateSchedule", once).await.0, 200);
        let at_next = svc.store.get_schedule("default", "once").await.unwrap();
        assert!(at_next.is_some());
        fire.reconcile().await.unwrap();
        assert_eq!(recorder.invoked.lock().unwrap().len(), 1, "{}: an at() in the past never fires", b.label);

        // A failing target is retried, then its invocation goes to the dead-letter queue.
        let failing = Arc::new(Recorder { fail: true, ..Recorder::default() });
        let fire = Fire { invoker: failing.clone(), ..fire };
        assert_eq!(call(&svc, "CreateSchedule", schedule("failing", "rate(5 minutes)")).await.0, 200);
        fire.reconcile().await.unwrap();
        let mut due = svc.store.due_invocations(i64::MAX, 10).await.unwrap();
        assert_eq!(due.len(), 1, "{}: kept for a retry", b.label);
        svc.store.retry_invocation(&due[0], 0).await.unwrap();
        fire.reconcile().await.unwrap();
        due = svc.store.due_invocations(i64::MAX, 10).await.unwrap();
        assert!(due.is_empty(), "{}: out of attempts", b.label);
        let dead = failing.dead.lock().unwrap().clone();
        assert_eq!(dead.len(), 1);
        assert!(dead[0].1.contains("the queue is gone"), "{}", dead[0].1);

        // Groups: the default one cannot go; a group takes its schedules with it.
        assert_eq!(call(&svc, "DeleteScheduleGroup", json!({"Name": "default"})).await.0, 400);
        assert_eq!(
            call(&svc, "CreateScheduleGroup", json!({"Name": "team", "Tags": [{"Key": "k", "Value": "v"}]})).await.0,
            200
        );
        let mut in_team = schedule("nightly", "cron(0 3 * * ? *)");
        in_team["GroupName"] = json!("team");
        in_team["ScheduleExpressionTimezone"] = json!("Europe/Paris");
        assert_eq!(call(&svc, "CreateSchedule", in_team).await.0, 200);
        let (_, listed) = call(&svc, "ListSchedules", json!({"ScheduleGroup": "team"})).await;
        assert_eq!(listed["Schedules"].as_array().unwrap().len(), 1, "{}", b.label);
        assert_eq!(call(&svc, "DeleteScheduleGroup", json!({"Name": "team"})).await.0, 200);
        assert!(svc.store.get_schedule("team", "nightly").await.unwrap().is_none(), "{}", b.label);
        svc.close().await;
    }
}

#[test]
fn retries_back_off_up_to_five_minutes() {
    assert_eq!(retry_delay_ms(1), 1000);
    assert_eq!(retry_delay_ms(2), 2000);
    assert_eq!(retry_delay_ms(30), 300_000);
}
