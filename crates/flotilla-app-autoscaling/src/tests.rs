//! The service through its operations and its alarm entry point, on SQLite and
//! PostgreSQL, with ECS and CloudWatch faked in memory.

use super::*;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

#[derive(Default)]
struct FakeEcs {
    desired: Mutex<HashMap<(String, String), i64>>,
    refuse: Mutex<bool>,
}

impl FakeEcs {
    fn with(services: &[(&str, &str, i64)]) -> Arc<Self> {
        let ecs = FakeEcs::default();
        for (c, s, n) in services {
            ecs.desired.lock().unwrap().insert((c.to_string(), s.to_string()), *n);
        }
        Arc::new(ecs)
    }

    fn get(&self, cluster: &str, service: &str) -> i64 {
        self.desired.lock().unwrap()[&(cluster.to_string(), service.to_string())]
    }

    fn set(&self, cluster: &str, service: &str, n: i64) {
        self.desired.lock().unwrap().insert((cluster.to_string(), service.to_string()), n);
    }
}

#[async_trait]
impl ServiceCapacity for FakeEcs {
    async fn desired(&self, cluster: &str, service: &str) -> std::result::Result<Option<i64>, String> {
        Ok(self.desired.lock().unwrap().get(&(cluster.to_string(), service.to_string())).copied())
    }

    async fn set_desired(&self, cluster: &str, service: &str, count: i64) -> std::result::Result<i64, String> {
        if *self.refuse.lock().unwrap() {
            return Err("ECS said no".into());
        }
        let mut d = self.desired.lock().unwrap();
        let slot = d.get_mut(&(cluster.to_string(), service.to_string())).ok_or("no service")?;
        Ok(std::mem::replace(slot, count))
    }
}

#[derive(Default)]
struct FakeCloudWatch {
    alarms: Mutex<BTreeMap<String, Value>>,
    refuse_puts: Mutex<Option<AlarmError>>,
    fail_deletes: Mutex<bool>,
}

#[async_trait]
impl ScalingAlarms for FakeCloudWatch {
    async fn put_alarm(&self, request: &Value) -> std::result::Result<(), AlarmError> {
        if let Some(e) = self.refuse_puts.lock().unwrap().clone() {
            return Err(e);
        }
        let name = request["AlarmName"].as_str().unwrap().to_string();
        self.alarms.lock().unwrap().insert(name, request.clone());
        Ok(())
    }

    async fn delete_alarm(&self, name: &str) -> std::result::Result<(), AlarmError> {
        if *self.fail_deletes.lock().unwrap() {
            return Err(AlarmError::Failed("CloudWatch is down".into()));
        }
        self.alarms.lock().unwrap().remove(name);
        Ok(())
    }

    async fn alarms_acting_on(&self, arn: &str) -> std::result::Result<Vec<String>, AlarmError> {
        let alarms = self.alarms.lock().unwrap();
        let acting = alarms.iter().filter(|(_, a)| a["AlarmActions"].as_array().unwrap().contains(&json!(arn)));
        Ok(acting.map(|(n, _)| n.clone()).collect())
    }
}

impl FakeCloudWatch {
    fn names(&self) -> Vec<String> {
        self.alarms.lock().unwrap().keys().cloned().collect()
    }

    fn get(&self, name: &str) -> Value {
        self.alarms.lock().unwrap()[name].clone()
    }
}

struct Setup {
    _backend: flotilla_db::testing::TestBackend,
    svc: AppAutoScalingService,
    ecs: Arc<FakeEcs>,
    cw: Arc<FakeCloudWatch>,
}

/// The service on each backend (SQLite, and PostgreSQL when `FLOTILLA_TEST_POSTGRES_URL`
/// is set), with services `default/web` (1 task) and `default/api` (2 tasks).
async fn setups() -> Vec<Setup> {
    let mut out = Vec::new();
    for backend in flotilla_db::testing::backends() {
        let ecs = FakeEcs::with(&[("default", "web", 1), ("default", "api", 2)]);
        let cw = Arc::new(FakeCloudWatch::default());
        let svc = AppAutoScalingService::open(&backend.location, AccountContext::default())
            .await
            .unwrap()
            .with_capacity(ecs.clone())
            .with_alarms(cw.clone());
        out.push(Setup { _backend: backend, svc, ecs, cw });
    }
    out
}

async fn call(s: &AppAutoScalingService, op: &str, input: Value) -> std::result::Result<Value, AwsError> {
    let caller = Caller::new("AKIDTEST", "r");
    let response = s.call(op, Bytes::from(input.to_string()), &caller).await?;
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    Ok(serde_json::from_slice(&bytes).unwrap())
}

fn code(r: std::result::Result<Value, AwsError>) -> String {
    r.unwrap_err().code
}

fn target(resource: &str) -> Value {
    json!({"ServiceNamespace": "ecs", "ResourceId": resource, "ScalableDimension": "ecs:service:DesiredCount"})
}

fn with(mut base: Value, more: Value) -> Value {
    for (k, v) in more.as_object().unwrap() {
        base[k] = v.clone();
    }
    base
}

async fn register(s: &AppAutoScalingService, resource: &str, min: i64, max: i64) {
    call(s, "RegisterScalableTarget", with(target(resource), json!({"MinCapacity": min, "MaxCapacity": max})))
        .await
        .unwrap();
}

async fn activities(s: &AppAutoScalingService, resource: &str, not_scaled: bool) -> Vec<Value> {
    let out = call(
        s,
        "DescribeScalingActivities",
        json!({"ServiceNamespace": "ecs", "ResourceId": resource, "IncludeNotScaledActivities": not_scaled}),
    )
    .await
    .unwrap();
    out["ScalingActivities"].as_array().unwrap().clone()
}

fn trigger(alarm: &str, value: Option<f64>, threshold: f64) -> AlarmTrigger {
    AlarmTrigger {
        alarm_name: alarm.into(),
        state: "ALARM".into(),
        latest_value: value,
        threshold,
        breaches_above: true,
        reason_data: None,
        repeated: false,
    }
}

fn cpu_policy(resource: &str, name: &str, more: Value) -> Value {
    let mut config = json!({
        "TargetValue": 50.0,
        "PredefinedMetricSpecification": {"PredefinedMetricType": "ECSServiceAverageCPUUtilization"},
        "ScaleOutCooldown": 0, "ScaleInCooldown": 0,
    });
    for (k, v) in more.as_object().unwrap() {
        config[k] = v.clone();
    }
    with(
        target(resource),
        json!({"PolicyName": name, "PolicyType": "TargetTrackingScaling",
                                  "TargetTrackingScalingPolicyConfiguration": config}),
    )
}

#[tokio::test]
async fn targets_register_idempotently_bring_the_count_into_bounds_and_deregister() {
    for Setup { svc: s, ecs, .. } in setups().await {
        let out = call(
            &s,
            "RegisterScalableTarget",
            with(target("service/default/web"), json!({"MinCapacity": 2, "MaxCapacity": 5, "Tags": {"team": "a"}})),
        )
        .await
        .unwrap();
        let arn = out["ScalableTargetARN"].as_str().unwrap().to_string();
        assert!(arn.starts_with("arn:aws:application-autoscaling:us-east-1:000000000000:scalable-target/"), "{arn}");
        assert_eq!(ecs.get("default", "web"), 2, "raised to the minimum");
        let acts = activities(&s, "service/default/web", false).await;
        assert_eq!(acts.len(), 1);
        assert_eq!(acts[0]["Description"], "Setting desired count to 2.");
        assert_eq!(acts[0]["Cause"], "minimum capacity was set to 2");
        assert_eq!(acts[0]["StatusCode"], "Successful");

        // Registering again updates only what is given; the ARN stays.
        let again = call(
            &s,
            "RegisterScalableTarget",
            with(
                target("service/default/web"),
                json!({"MaxCapacity": 8, "SuspendedState": {"DynamicScalingInSuspended": true}}),
            ),
        )
        .await
        .unwrap();
        assert_eq!(again["ScalableTargetARN"], arn.as_str());
        let d = call(&s, "DescribeScalableTargets", json!({"ServiceNamespace": "ecs"})).await.unwrap();
        let t = &d["ScalableTargets"][0];
        assert_eq!((t["MinCapacity"].as_i64(), t["MaxCapacity"].as_i64()), (Some(2), Some(8)));
        assert_eq!(t["SuspendedState"]["DynamicScalingInSuspended"], true);
        assert_eq!(t["SuspendedState"]["ScheduledScalingSuspended"], false);
        assert!(t["RoleARN"].as_str().unwrap().ends_with("AWSServiceRoleForApplicationAutoScaling_ECSService"));
        assert!(t["CreationTime"].as_f64().unwrap() > 1.6e9);

        // Lowering the maximum below the count scales in.
        ecs.set("default", "web", 7);
        call(&s, "RegisterScalableTarget", with(target("service/default/web"), json!({"MaxCapacity": 4})))
            .await
            .unwrap();
        assert_eq!(ecs.get("default", "web"), 4);
        assert_eq!(activities(&s, "service/default/web", false).await[0]["Cause"], "maximum capacity was set to 4");

        // Tags by ARN.
        let tags = call(&s, "ListTagsForResource", json!({"ResourceARN": arn})).await.unwrap();
        assert_eq!(tags["Tags"], json!({"team": "a"}));
        call(&s, "TagResource", json!({"ResourceARN": arn, "Tags": {"env": "prod"}})).await.unwrap();
        call(&s, "UntagResource", json!({"ResourceARN": arn, "TagKeys": ["team"]})).await.unwrap();
        let tags = call(&s, "ListTagsForResource", json!({"ResourceARN": arn})).await.unwrap();
        assert_eq!(tags["Tags"], json!({"env": "prod"}));
        let many: serde_json::Map<String, Value> = (0..50).map(|i| (format!("k{i}"), json!("v"))).collect();
        assert_eq!(
            code(call(&s, "TagResource", json!({"ResourceARN": arn, "Tags": many})).await),
            "TooManyTagsException"
        );
        let missing = format!("{}x", &arn[..arn.len() - 1]);
        assert_eq!(
            code(call(&s, "ListTagsForResource", json!({"ResourceARN": missing})).await),
            "ResourceNotFoundException"
        );

        // Paging over two targets.
        register(&s, "service/default/api", 1, 3).await;
        let p1 =
            call(&s, "DescribeScalableTargets", json!({"ServiceNamespace": "ecs", "MaxResults": 1})).await.unwrap();
        assert_eq!(p1["ScalableTargets"][0]["ResourceId"], "service/default/api");
        let p2 = call(&s, "DescribeScalableTargets", json!({"ServiceNamespace": "ecs", "NextToken": p1["NextToken"]}))
            .await
            .unwrap();
        assert_eq!(p2["ScalableTargets"][0]["ResourceId"], "service/default/web");
        assert!(p2.get("NextToken").is_none());
        let only = call(
            &s,
            "DescribeScalableTargets",
            json!({"ServiceNamespace": "ecs", "ResourceIds": ["service/default/web"]}),
        )
        .await
        .unwrap();
        assert_eq!(only["ScalableTargets"].as_array().unwrap().len(), 1);

        call(&s, "DeregisterScalableTarget", target("service/default/web")).await.unwrap();
        assert_eq!(
            code(call(&s, "DeregisterScalableTarget", target("service/default/web")).await),
            "ObjectNotFoundException"
        );
        assert_eq!(activities(&s, "service/default/web", false).await.len(), 2, "activities outlive their target");
    }
}

#[tokio::test]
async fn refusals_carry_aws_codes() {
    for Setup { svc: s, .. } in setups().await {
        let reg = |body: Value| call(&s, "RegisterScalableTarget", body);
        let base = json!({"MinCapacity": 1, "MaxCapacity": 2});
        let other_ns = json!({"ServiceNamespace": "dynamodb", "ResourceId": "table/t",
                              "ScalableDimension": "dynamodb:table:ReadCapacityUnits", "MinCapacity": 1, "MaxCapacity": 2});
        let e = reg(other_ns).await.unwrap_err();
        assert_eq!(e.code, "ValidationException");
        assert!(e.message.contains("dynamodb"), "{}", e.message);
        assert_eq!(
            code(
                reg(with(
                    target("service/default/web"),
                    json!({"ServiceNamespace": "nope", "MinCapacity": 1, "MaxCapacity": 2})
                ))
                .await
            ),
            "ValidationException"
        );
        let e = reg(with(target("service/default/nope"), base.clone())).await.unwrap_err();
        assert_eq!(
            (e.code.as_str(), e.message.as_str()),
            ("ValidationException", "ECS service doesn't exist: service/default/nope")
        );
        assert_eq!(code(reg(with(target("cluster/default"), base.clone())).await), "ValidationException");
        assert_eq!(
            code(reg(with(target("service/default/web"), json!({"MinCapacity": 3, "MaxCapacity": 2}))).await),
            "ValidationException"
        );
        assert_eq!(
            code(reg(with(target("service/default/web"), json!({"MinCapacity": -1, "MaxCapacity": 2}))).await),
            "ValidationException"
        );
        assert_eq!(code(reg(target("service/default/web")).await), "ValidationException", "a new target needs bounds");
        assert_eq!(
            code(
                reg(with(
                    target("service/default/web"),
                    json!({"ScalableDimension": "ecs:service:Nope", "MinCapacity": 1, "MaxCapacity": 2})
                ))
                .await
            ),
            "ValidationException"
        );
        assert_eq!(code(reg(json!({"ServiceNamespace": "ecs", "MinCapacity": 1})).await), "ValidationException");

        // Policies and scheduled actions need a registered target.
        assert_eq!(
            code(call(&s, "PutScalingPolicy", cpu_policy("service/default/web", "cpu", json!({}))).await),
            "ObjectNotFoundException"
        );
        assert_eq!(
            code(call(&s, "PutScheduledAction", with(target("service/default/web"), json!({"ScheduledActionName": "a", "Schedule": "rate(1 hour)", "ScalableTargetAction": {"MinCapacity": 1}}))).await),
            "ObjectNotFoundException"
        );
        register(&s, "service/default/web", 1, 3).await;
        let bad_policies = [
            json!({"TargetValue": 0.0, "PredefinedMetricSpecification": {"PredefinedMetricType": "ECSServiceAverageCPUUtilization"}}),
            json!({"TargetValue": 50.0}),
            json!({"TargetValue": 50.0, "PredefinedMetricSpecification": {"PredefinedMetricType": "DynamoDBReadCapacityUtilization"}}),
            json!({"TargetValue": 50.0, "PredefinedMetricSpecification": {"PredefinedMetricType": "ALBRequestCountPerTarget"}}),
            json!({"TargetValue": 50.0, "CustomizedMetricSpecification": {"Metrics": [{"Id": "e", "Expression": "m1 * 2"}]}}),
            json!({"TargetValue": 50.0, "CustomizedMetricSpecification": {"MetricName": "x", "Namespace": "y", "Statistic": "p99"}}),
            json!({"TargetValue": 50.0, "ScaleOutCooldown": -1, "PredefinedMetricSpecification": {"PredefinedMetricType": "ECSServiceAverageCPUUtilization"}}),
        ];
        for config in bad_policies {
            let body = with(
                target("service/default/web"),
                json!({"PolicyName": "p", "PolicyType": "TargetTrackingScaling",
                                                                  "TargetTrackingScalingPolicyConfiguration": config.clone()}),
            );
            assert_eq!(code(call(&s, "PutScalingPolicy", body).await), "ValidationException", "{config}");
        }
        let step = with(
            target("service/default/web"),
            json!({"PolicyName": "p", "PolicyType": "StepScaling",
            "StepScalingPolicyConfiguration": {"AdjustmentType": "ChangeInCapacity",
              "StepAdjustments": [{"MetricIntervalLowerBound": 0.0, "MetricIntervalUpperBound": 10.0, "ScalingAdjustment": 1}]}}),
        );
        assert_eq!(code(call(&s, "PutScalingPolicy", step).await), "ValidationException", "a gap to infinity");
        let predictive =
            with(target("service/default/web"), json!({"PolicyName": "p", "PolicyType": "PredictiveScaling"}));
        assert_eq!(code(call(&s, "PutScalingPolicy", predictive).await), "ValidationException");
        let unknown_type = with(target("service/default/web"), json!({"PolicyName": "p", "PolicyType": "Magic"}));
        assert_eq!(code(call(&s, "PutScalingPolicy", unknown_type).await), "ValidationException");
        let no_policy = with(target("service/default/web"), json!({"PolicyName": "nope"}));
        assert_eq!(code(call(&s, "DeleteScalingPolicy", no_policy).await), "ObjectNotFoundException");
        let no_action = with(target("service/default/web"), json!({"ScheduledActionName": "nope"}));
        assert_eq!(code(call(&s, "DeleteScheduledAction", no_action).await), "ObjectNotFoundException");
        for (schedule, tz) in [("every hour", None), ("rate(0 hours)", None), ("cron(0 8 * * ? *)", Some("Mars/Base"))]
        {
            let mut body = with(
                target("service/default/web"),
                json!({"ScheduledActionName": "a", "Schedule": schedule,
                                                                      "ScalableTargetAction": {"MinCapacity": 1}}),
            );
            if let Some(tz) = tz {
                body["Timezone"] = json!(tz);
            }
            assert_eq!(code(call(&s, "PutScheduledAction", body).await), "ValidationException", "{schedule}");
        }
        let no_bounds =
            with(target("service/default/web"), json!({"ScheduledActionName": "a", "Schedule": "rate(1 hour)"}));
        assert_eq!(code(call(&s, "PutScheduledAction", no_bounds).await), "ValidationException");
        let bad_name = with(
            target("service/default/web"),
            json!({"ScheduledActionName": "a:b", "Schedule": "rate(1 hour)", "ScalableTargetAction": {"MinCapacity": 1}}),
        );
        assert_eq!(code(call(&s, "PutScheduledAction", bad_name).await), "ValidationException");
        assert_eq!(
            code(call(&s, "DescribeScalableTargets", json!({"ServiceNamespace": "ecs", "MaxResults": 51})).await),
            "ValidationException"
        );
        assert_eq!(
            code(call(&s, "DescribeScalableTargets", json!({"ServiceNamespace": "ecs", "NextToken": "zz"})).await),
            "InvalidNextTokenException"
        );
        assert_eq!(
            code(
                call(
                    &s,
                    "DescribeScalingActivities",
                    json!({"ServiceNamespace": "ecs", "ScalableDimension": "ecs:service:DesiredCount"})
                )
                .await
            ),
            "ValidationException"
        );
        assert_eq!(code(call(&s, "DescribeScalingPolicies", json!({})).await), "ValidationException");
        assert_eq!(
            code(call(&s, "DescribeScalableTargets", json!({"ServiceNamespace": 5})).await),
            "SerializationException"
        );
    }
}

#[tokio::test]
async fn target_tracking_owns_its_alarms_and_scales_out_and_in() {
    for Setup { svc: s, ecs, cw, .. } in setups().await {
        register(&s, "service/default/web", 1, 3).await;
        let out =
            call(&s, "PutScalingPolicy", cpu_policy("service/default/web", "cpu-tracking", json!({}))).await.unwrap();
        let arn = out["PolicyARN"].as_str().unwrap().to_string();
        assert!(arn.starts_with("arn:aws:autoscaling:us-east-1:000000000000:scalingPolicy:"), "{arn}");
        assert!(arn.ends_with(":resource/ecs/service/default/web:policyName/cpu-tracking"), "{arn}");
        let alarms = out["Alarms"].as_array().unwrap();
        assert_eq!(alarms.len(), 2);
        let high = alarms[0]["AlarmName"].as_str().unwrap().to_string();
        let low = alarms[1]["AlarmName"].as_str().unwrap().to_string();
        assert!(high.starts_with("TargetTracking-service/default/web-AlarmHigh-"), "{high}");
        assert!(low.starts_with("TargetTracking-service/default/web-AlarmLow-"), "{low}");
        assert_eq!(alarms[0]["AlarmARN"], format!("arn:aws:cloudwatch:us-east-1:000000000000:alarm:{high}"));
        let h = cw.get(&high);
        assert_eq!(
            (h["Namespace"].as_str(), h["MetricName"].as_str(), h["Statistic"].as_str()),
            (Some("AWS/ECS"), Some("CPUUtilization"), Some("Average"))
        );
        assert_eq!(
            (h["Period"].as_i64(), h["EvaluationPeriods"].as_i64(), h["Threshold"].as_f64()),
            (Some(60), Some(3), Some(50.0))
        );
        assert_eq!(h["ComparisonOperator"], "GreaterThanThreshold");
        assert_eq!(h["AlarmActions"], json!([arn]));
        let l = cw.get(&low);
        assert_eq!((l["EvaluationPeriods"].as_i64(), l["Threshold"].as_f64()), (Some(15), Some(45.0)));
        assert_eq!(l["ComparisonOperator"], "LessThanThreshold");

        let d = call(
            &s,
            "DescribeScalingPolicies",
            json!({"ServiceNamespace": "ecs", "ResourceId": "service/default/web"}),
        )
        .await
        .unwrap();
        let p = &d["ScalingPolicies"][0];
        assert_eq!(p["PolicyType"], "TargetTrackingScaling");
        assert_eq!(p["TargetTrackingScalingPolicyConfiguration"]["TargetValue"], 50.0);
        assert_eq!(p["Alarms"].as_array().unwrap().len(), 2);

        // High alarm at 200% with one task: 4 wanted, 3 allowed.
        let got = s.on_alarm(&arn, &trigger(&high, Some(200.0), 50.0)).await.unwrap();
        assert_eq!(got, Outcome::Scaled { from: 1, to: 3 });
        assert_eq!(ecs.get("default", "web"), 3);
        let acts = activities(&s, "service/default/web", false).await;
        assert_eq!(acts[0]["Description"], "Setting desired count to 3.");
        assert_eq!(acts[0]["Cause"], format!("monitor alarm {high} in state ALARM triggered policy cpu-tracking"));
        assert_eq!(
            acts[0]["StatusMessage"],
            "Successfully set desired count to 3. Change successfully fulfilled by ecs."
        );
        // At the maximum: a not-scaled activity, shown only when asked for; a repeat records nothing.
        assert!(matches!(s.on_alarm(&arn, &trigger(&high, Some(90.0), 50.0)).await.unwrap(), Outcome::NotScaled(_)));
        let mut repeat = trigger(&high, Some(90.0), 50.0);
        repeat.repeated = true;
        s.on_alarm(&arn, &repeat).await.unwrap();
        assert_eq!(activities(&s, "service/default/web", false).await.len(), acts.len());
        let all = activities(&s, "service/default/web", true).await;
        assert_eq!(all.len(), acts.len() + 1);
        assert_eq!(
            all[0]["NotScaledReasons"],
            json!([{"Code": "AlreadyAtMaxCapacity", "CurrentCapacity": 3, "MaxCapacity": 3}])
        );
        // Low alarm at 1%: back to one task. A state other than ALARM does nothing.
        let mut ok = trigger(&low, Some(1.0), 45.0);
        ok.state = "OK".into();
        assert!(matches!(s.on_alarm(&arn, &ok).await.unwrap(), Outcome::Nothing(_)));
        assert_eq!(
            s.on_alarm(&arn, &trigger(&low, Some(1.0), 45.0)).await.unwrap(),
            Outcome::Scaled { from: 3, to: 1 }
        );
        assert_eq!(ecs.get("default", "web"), 1);
        // An alarm that is not the policy's is refused.
        assert!(s.on_alarm(&arn, &trigger("someone-elses", Some(1.0), 45.0)).await.is_err());

        // Replacing the policy keeps its ARN and alarm names; DisableScaleIn retires AlarmLow.
        let again = call(
            &s,
            "PutScalingPolicy",
            cpu_policy("service/default/web", "cpu-tracking", json!({"TargetValue": 70.0, "DisableScaleIn": true})),
        )
        .await
        .unwrap();
        assert_eq!(again["PolicyARN"], arn.as_str());
        assert_eq!(
            again["Alarms"],
            json!([{"AlarmName": high, "AlarmARN": format!("arn:aws:cloudwatch:us-east-1:000000000000:alarm:{high}")}])
        );
        assert_eq!(cw.names(), vec![high.clone()]);
        assert_eq!(cw.get(&high)["Threshold"], 70.0);
        assert!(s.on_alarm(&arn, &trigger(&low, Some(1.0), 45.0)).await.is_err(), "AlarmLow is no longer the policy's");

        call(&s, "DeleteScalingPolicy", with(target("service/default/web"), json!({"PolicyName": "cpu-tracking"})))
            .await
            .unwrap();
        assert!(cw.names().is_empty(), "its alarms go with it");
        assert!(s.on_alarm(&arn, &trigger(&high, Some(200.0), 50.0)).await.is_err());
    }
}

#[tokio::test]
async fn customized_metrics_alarm_on_what_they_name_and_the_period_setting_applies() {
    for Setup { svc: s, cw, .. } in setups().await {
        let s = s.with_target_tracking_period(10);
        register(&s, "service/default/api", 1, 10).await;
        let queue = json!({"TargetValue": 100.0, "CustomizedMetricSpecification": {
            "MetricName": "ApproximateNumberOfMessagesVisible", "Namespace": "AWS/SQS",
            "Dimensions": [{"Name": "QueueName", "Value": "jobs"}], "Statistic": "Average"}});
        let body = with(
            target("service/default/api"),
            json!({"PolicyName": "queue", "PolicyType": "TargetTrackingScaling",
                                                              "TargetTrackingScalingPolicyConfiguration": queue}),
        );
        let out = call(&s, "PutScalingPolicy", body).await.unwrap();
        let high = cw.get(out["Alarms"][0]["AlarmName"].as_str().unwrap());
        assert_eq!((high["Namespace"].as_str(), high["Period"].as_i64()), (Some("AWS/SQS"), Some(10)));
        assert_eq!(high["Dimensions"], json!([{"Name": "QueueName", "Value": "jobs"}]));
        let math = json!({"TargetValue": 10.0, "CustomizedMetricSpecification": {"Metrics": [
            {"Id": "depth", "MetricStat": {"Metric": {"Namespace": "App", "MetricName": "Depth"}, "Stat": "Sum"}}]}});
        let body = with(
            target("service/default/api"),
            json!({"PolicyName": "depth", "PolicyType": "TargetTrackingScaling",
                                                              "TargetTrackingScalingPolicyConfiguration": math}),
        );
        let out = call(&s, "PutScalingPolicy", body).await.unwrap();
        let high = cw.get(out["Alarms"][0]["AlarmName"].as_str().unwrap());
        assert_eq!(high["Metrics"][0]["MetricStat"]["Period"], 10);
        assert_eq!(high["Metrics"][0]["Id"], "depth");
        let alb = json!({"TargetValue": 1000.0, "PredefinedMetricSpecification": {"PredefinedMetricType": "ALBRequestCountPerTarget",
            "ResourceLabel": "app/web/50dc6c495c0c9188/targetgroup/blue/943f017f100becff"}});
        let body = with(
            target("service/default/api"),
            json!({"PolicyName": "alb", "PolicyType": "TargetTrackingScaling",
                                                              "TargetTrackingScalingPolicyConfiguration": alb}),
        );
        let out = call(&s, "PutScalingPolicy", body).await.unwrap();
        let high = cw.get(out["Alarms"][0]["AlarmName"].as_str().unwrap());
        assert_eq!(
            (high["Namespace"].as_str(), high["MetricName"].as_str(), high["Statistic"].as_str()),
            (Some("AWS/ApplicationELB"), Some("RequestCountPerTarget"), Some("Sum"))
        );
        assert_eq!(cw.names().len(), 6);
        // Paging over policies (3 of them, by name).
        let p1 =
            call(&s, "DescribeScalingPolicies", json!({"ServiceNamespace": "ecs", "MaxResults": 2})).await.unwrap();
        let names: Vec<&str> =
            p1["ScalingPolicies"].as_array().unwrap().iter().map(|p| p["PolicyName"].as_str().unwrap()).collect();
        assert_eq!(names, ["alb", "depth"]);
        let p2 = call(&s, "DescribeScalingPolicies", json!({"ServiceNamespace": "ecs", "NextToken": p1["NextToken"]}))
            .await
            .unwrap();
        assert_eq!(p2["ScalingPolicies"][0]["PolicyName"], "queue");
        let named = call(&s, "DescribeScalingPolicies", json!({"ServiceNamespace": "ecs", "PolicyNames": ["depth"]}))
            .await
            .unwrap();
        assert_eq!(named["ScalingPolicies"].as_array().unwrap().len(), 1);

        // Deregistering the target removes its policies' alarms.
        call(&s, "DeregisterScalableTarget", target("service/default/api")).await.unwrap();
        assert!(cw.names().is_empty());
        let d = call(&s, "DescribeScalingPolicies", json!({"ServiceNamespace": "ecs"})).await.unwrap();
        assert!(d["ScalingPolicies"].as_array().unwrap().is_empty());
    }
}

#[tokio::test]
async fn step_policies_scale_by_the_step_the_breach_falls_in() {
    for Setup { svc: s, ecs, cw, .. } in setups().await {
        register(&s, "service/default/api", 1, 10).await;
        let body = with(
            target("service/default/api"),
            json!({"PolicyName": "step-out", "PolicyType": "StepScaling",
            "StepScalingPolicyConfiguration": {"AdjustmentType": "ChangeInCapacity", "Cooldown": 60,
              "MetricAggregationType": "Average",
              "StepAdjustments": [{"MetricIntervalLowerBound": 0.0, "MetricIntervalUpperBound": 20.0, "ScalingAdjustment": 2},
                                  {"MetricIntervalLowerBound": 20.0, "ScalingAdjustment": 4}]}}),
        );
        let out = call(&s, "PutScalingPolicy", body).await.unwrap();
        assert!(out.get("Alarms").is_none());
        let arn = out["PolicyARN"].as_str().unwrap().to_string();
        // A state set by hand (no value): the step at the threshold.
        assert_eq!(
            s.on_alarm(&arn, &trigger("my-alarm", None, 80.0)).await.unwrap(),
            Outcome::Scaled { from: 2, to: 4 }
        );
        // Within the cooldown, the same step adds nothing; a larger one adds the difference.
        assert!(matches!(s.on_alarm(&arn, &trigger("my-alarm", Some(85.0), 80.0)).await.unwrap(), Outcome::Nothing(_)));
        assert_eq!(
            s.on_alarm(&arn, &trigger("my-alarm", Some(130.0), 80.0)).await.unwrap(),
            Outcome::Scaled { from: 4, to: 6 }
        );
        assert_eq!(ecs.get("default", "api"), 6);
        let acts = activities(&s, "service/default/api", false).await;
        assert_eq!(acts[0]["Cause"], "monitor alarm my-alarm in state ALARM triggered policy step-out");
        let d = call(&s, "DescribeScalingPolicies", json!({"ServiceNamespace": "ecs"})).await.unwrap();
        assert_eq!(
            d["ScalingPolicies"][0]["StepScalingPolicyConfiguration"]["StepAdjustments"][1]["ScalingAdjustment"],
            4
        );
        assert_eq!(d["ScalingPolicies"][0]["Alarms"], json!([]), "no alarm names it yet");
        cw.put_alarm(&json!({"AlarmName": "my-alarm", "AlarmActions": [arn]})).await.unwrap();
        let d = call(&s, "DescribeScalingPolicies", json!({"ServiceNamespace": "ecs"})).await.unwrap();
        assert_eq!(d["ScalingPolicies"][0]["Alarms"][0]["AlarmName"], "my-alarm", "the user's alarm that runs it");

        // ECS refusing the change is a failed activity and an error for the alarm's history.
        *ecs.refuse.lock().unwrap() = true;
        let body = with(
            target("service/default/api"),
            json!({"PolicyName": "exact", "PolicyType": "StepScaling",
            "StepScalingPolicyConfiguration": {"AdjustmentType": "ExactCapacity",
              "StepAdjustments": [{"MetricIntervalLowerBound": 0.0, "ScalingAdjustment": 9}]}}),
        );
        let arn = call(&s, "PutScalingPolicy", body).await.unwrap()["PolicyARN"].as_str().unwrap().to_string();
        assert!(s.on_alarm(&arn, &trigger("my-alarm", Some(81.0), 80.0)).await.is_err());
        let failed = &activities(&s, "service/default/api", false).await[0];
        assert_eq!(failed["StatusCode"], "Failed");
        assert_eq!(failed["StatusMessage"], "Failed to set desired count to 9. Reason: ECS said no");

        // Suspended scale-out does nothing.
        *ecs.refuse.lock().unwrap() = false;
        call(
            &s,
            "RegisterScalableTarget",
            with(target("service/default/api"), json!({"SuspendedState": {"DynamicScalingOutSuspended": true}})),
        )
        .await
        .unwrap();
        assert!(matches!(s.on_alarm(&arn, &trigger("my-alarm", Some(81.0), 80.0)).await.unwrap(), Outcome::Nothing(_)));
        assert_eq!(ecs.get("default", "api"), 6);
        assert!(s.on_alarm("arn:aws:autoscaling:us-east-1:000000000000:scalingPolicy:nope:resource/ecs/service/default/api:policyName/x", &trigger("a", None, 1.0)).await.is_err());
    }
}

fn at_text(ms: i64) -> String {
    flotilla_core::time::Timestamp(ms).to_iso8601()[..19].to_string()
}

#[tokio::test]
async fn scheduled_actions_fire_when_due_once_for_missed_periods() {
    for Setup { svc: s, ecs, .. } in setups().await {
        register(&s, "service/default/web", 1, 5).await;
        let now = s.store.now_ms().await.unwrap();
        let at = (now / 1000 + 120) * 1000;
        let raise = with(
            target("service/default/web"),
            json!({"ScheduledActionName": "raise", "Schedule": format!("at({})", at_text(at)),
                                                               "ScalableTargetAction": {"MinCapacity": 3}}),
        );
        call(&s, "PutScheduledAction", raise).await.unwrap();
        let d = call(&s, "DescribeScheduledActions", json!({"ServiceNamespace": "ecs"})).await.unwrap();
        let a = &d["ScheduledActions"][0];
        assert_eq!(a["ScalableTargetAction"], json!({"MinCapacity": 3}));
        assert!(a["ScheduledActionARN"].as_str().unwrap().contains(":scheduledAction:"));
        assert!(
            a["ScheduledActionARN"]
                .as_str()
                .unwrap()
                .ends_with(":resource/ecs/service/default/web:scheduledActionName/raise")
        );
        assert_eq!(s.fire_due_actions_at(at - 1).await.unwrap(), 0, "not yet");
        assert_eq!(s.fire_due_actions_at(at + 500).await.unwrap(), 1);
        assert_eq!(ecs.get("default", "web"), 3);
        let t = call(&s, "DescribeScalableTargets", json!({"ServiceNamespace": "ecs"})).await.unwrap();
        assert_eq!(t["ScalableTargets"][0]["MinCapacity"], 3);
        let acts = activities(&s, "service/default/web", false).await;
        assert_eq!(acts[0]["Description"], "Setting desired count to 3.");
        assert_eq!(acts[0]["Cause"], "minimum capacity was set to 3");
        assert_eq!(acts[1]["Description"], "Setting min capacity to 3 and max capacity to 5");
        assert_eq!(acts[1]["Cause"], "scheduled action name raise was triggered");
        assert_eq!(s.fire_due_actions_at(at + 3_600_000).await.unwrap(), 0, "at() fires once");

        // A rate missed for an hour fires once; a suspended target is left alone.
        let rate = with(
            target("service/default/web"),
            json!({"ScheduledActionName": "lower", "Schedule": "rate(1 minute)",
                                                              "ScalableTargetAction": {"MinCapacity": 1, "MaxCapacity": 2}}),
        );
        call(&s, "PutScheduledAction", rate).await.unwrap();
        assert_eq!(s.fire_due_actions_at(now + 3_600_000).await.unwrap(), 1);
        assert_eq!(ecs.get("default", "web"), 2, "brought under the new maximum");
        assert_eq!(activities(&s, "service/default/web", false).await[0]["Cause"], "maximum capacity was set to 2");
        call(
            &s,
            "RegisterScalableTarget",
            with(
                target("service/default/web"),
                json!({"SuspendedState": {"ScheduledScalingSuspended": true}, "MaxCapacity": 6}),
            ),
        )
        .await
        .unwrap();
        let before = activities(&s, "service/default/web", false).await.len();
        assert_eq!(s.fire_due_actions_at(now + 3_700_000).await.unwrap(), 1);
        assert_eq!(activities(&s, "service/default/web", false).await.len(), before, "suspended: nothing applied");

        // Updating keeps what is not given; deleting removes.
        let update = with(
            target("service/default/web"),
            json!({"ScheduledActionName": "lower", "Timezone": "Europe/Paris",
                                                                "StartTime": (now + 60_000) as f64 / 1000.0}),
        );
        call(&s, "PutScheduledAction", update).await.unwrap();
        let d =
            call(&s, "DescribeScheduledActions", json!({"ServiceNamespace": "ecs", "ScheduledActionNames": ["lower"]}))
                .await
                .unwrap();
        let a = &d["ScheduledActions"][0];
        assert_eq!((a["Schedule"].as_str(), a["Timezone"].as_str()), (Some("rate(1 minute)"), Some("Europe/Paris")));
        assert_eq!(a["ScalableTargetAction"], json!({"MinCapacity": 1, "MaxCapacity": 2}));
        assert_eq!(a["StartTime"].as_f64(), Some((now + 60_000) as f64 / 1000.0));
        call(&s, "DeleteScheduledAction", with(target("service/default/web"), json!({"ScheduledActionName": "lower"})))
            .await
            .unwrap();
        // Deregistering drops the rest.
        call(&s, "DeregisterScalableTarget", target("service/default/web")).await.unwrap();
        let d = call(&s, "DescribeScheduledActions", json!({"ServiceNamespace": "ecs"})).await.unwrap();
        assert!(d["ScheduledActions"].as_array().unwrap().is_empty());
    }
}

#[tokio::test]
async fn alarm_failures_leave_nothing_behind() {
    for Setup { svc: s, cw, .. } in setups().await {
        register(&s, "service/default/web", 1, 3).await;
        *cw.refuse_puts.lock().unwrap() = Some(AlarmError::Refused("bad metric".into()));
        assert_eq!(
            code(call(&s, "PutScalingPolicy", cpu_policy("service/default/web", "cpu", json!({}))).await),
            "ValidationException"
        );
        *cw.refuse_puts.lock().unwrap() = Some(AlarmError::Failed("down".into()));
        assert_eq!(
            code(call(&s, "PutScalingPolicy", cpu_policy("service/default/web", "cpu", json!({}))).await),
            "FailedResourceAccessException"
        );
        *cw.refuse_puts.lock().unwrap() = None;
        let d = call(&s, "DescribeScalingPolicies", json!({"ServiceNamespace": "ecs"})).await.unwrap();
        assert!(d["ScalingPolicies"].as_array().unwrap().is_empty());
        assert!(cw.names().is_empty());

        // Deletes that fail are finished by housekeeping.
        call(&s, "PutScalingPolicy", cpu_policy("service/default/web", "cpu", json!({}))).await.unwrap();
        assert_eq!(cw.names().len(), 2);
        *cw.fail_deletes.lock().unwrap() = true;
        call(&s, "DeleteScalingPolicy", with(target("service/default/web"), json!({"PolicyName": "cpu"})))
            .await
            .unwrap();
        assert_eq!(cw.names().len(), 2, "CloudWatch was down");
        *cw.fail_deletes.lock().unwrap() = false;
        assert_eq!(s.housekeeping().await.unwrap(), 2);
        assert!(cw.names().is_empty());
        assert_eq!(s.housekeeping().await.unwrap(), 0, "the work is done");
    }
}

#[tokio::test]
async fn a_target_holds_at_most_fifty_policies() {
    for Setup { svc: s, .. } in setups().await {
        register(&s, "service/default/web", 1, 3).await;
        let step = |name: String| {
            with(
                target("service/default/web"),
                json!({"PolicyName": name, "PolicyType": "StepScaling",
                "StepScalingPolicyConfiguration": {"AdjustmentType": "ChangeInCapacity",
                  "StepAdjustments": [{"MetricIntervalLowerBound": 0.0, "ScalingAdjustment": 1}]}}),
            )
        };
        for i in 0..50 {
            call(&s, "PutScalingPolicy", step(format!("p{i:02}"))).await.unwrap();
        }
        assert_eq!(code(call(&s, "PutScalingPolicy", step("p50".into())).await), "LimitExceededException");
        call(&s, "PutScalingPolicy", step("p07".into())).await.unwrap();
    }
}

#[tokio::test]
async fn activities_page_newest_first() {
    for Setup { svc: s, ecs, .. } in setups().await {
        register(&s, "service/default/web", 1, 10).await;
        let body = with(
            target("service/default/web"),
            json!({"PolicyName": "up", "PolicyType": "StepScaling",
            "StepScalingPolicyConfiguration": {"AdjustmentType": "ChangeInCapacity", "Cooldown": 0,
              "StepAdjustments": [{"MetricIntervalLowerBound": 0.0, "ScalingAdjustment": 1}]}}),
        );
        let arn = call(&s, "PutScalingPolicy", body).await.unwrap()["PolicyARN"].as_str().unwrap().to_string();
        for _ in 0..5 {
            s.on_alarm(&arn, &trigger("a", Some(2.0), 1.0)).await.unwrap();
        }
        assert_eq!(ecs.get("default", "web"), 6);
        let mut seen = Vec::new();
        let mut token: Option<Value> = None;
        loop {
            let mut req = json!({"ServiceNamespace": "ecs", "ResourceId": "service/default/web", "MaxResults": 2});
            if let Some(t) = &token {
                req["NextToken"] = t.clone();
            }
            let page = call(&s, "DescribeScalingActivities", req).await.unwrap();
            seen.extend(
                page["ScalingActivities"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|a| a["Description"].as_str().unwrap().to_string()),
            );
            match page.get("NextToken") {
                Some(t) => token = Some(t.clone()),
                None => break,
            }
        }
        let expected: Vec<String> = (2..=6).rev().map(|n| format!("Setting desired count to {n}.")).collect();
        assert_eq!(seen, expected);
    }
}
