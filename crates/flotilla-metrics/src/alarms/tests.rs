//! Alarms through their operations and the `cloudwatch-alarms` controller, on SQLite
//! and PostgreSQL: put and describe, refusals, evaluation over stored data, history,
//! actions (repeated for Auto Scaling), SetAlarmState, tags, deletion, restarts.

use crate::MetricsService;
use crate::alarm::controller::{AlarmController, PassStats};
use crate::alarm::{AlarmActions, AlarmStateChange, StateValue};
use axum::http::header;
use bytes::Bytes;
use flotilla_core::AccountContext;
use flotilla_protocol::{AWS_JSON_1_0, AwsError, Caller, ServiceModule};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

const MINUTE: i64 = 60_000;
const SNS: &str = "arn:aws:sns:us-east-1:000000000000:ops";
const SCALE_OUT: &str =
    "arn:aws:autoscaling:us-east-1:000000000000:scalingPolicy:0a1b:resource/ecs/service/default/web:policyName/out";

async fn services() -> Vec<(flotilla_db::testing::TestBackend, MetricsService)> {
    let mut out = Vec::new();
    for backend in flotilla_db::testing::backends() {
        let service = MetricsService::open(&backend.location, AccountContext::default()).await.unwrap();
        out.push((backend, service));
    }
    out
}

async fn call(s: &MetricsService, op: &str, input: Value) -> Result<Value, AwsError> {
    let caller = Caller::new("AKIDTEST", "r");
    let response = s.call(op, Bytes::from(input.to_string()), &caller).await?;
    assert_eq!(response.headers()[header::CONTENT_TYPE], AWS_JSON_1_0);
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    Ok(serde_json::from_slice(&bytes).unwrap())
}

fn code(r: Result<Value, AwsError>) -> String {
    match r {
        Ok(v) => panic!("expected an error, got {v}"),
        Err(e) => e.code,
    }
}

fn controller(s: &MetricsService) -> AlarmController {
    s.alarm_controller()
}

async fn pass(s: &MetricsService) -> PassStats {
    controller(s).pass().await.unwrap()
}

fn secs(ms: i64) -> Value {
    json!(ms as f64 / 1000.0)
}

/// Publishes `value` to App/`metric` for every minute from ten minutes ago to ten
/// minutes ahead, so whichever minute a pass falls in, it reads `value`.
async fn publish(s: &MetricsService, metric: &str, value: f64) {
    let now = s.store.now_ms().await.unwrap();
    let base = now.div_euclid(MINUTE) * MINUTE;
    let data: Vec<Value> = (-10..10)
        .map(|i| json!({"MetricName": metric, "Timestamp": secs(base + i * MINUTE), "Value": value}))
        .collect();
    call(s, "PutMetricData", json!({"Namespace": "App", "MetricData": data})).await.unwrap();
}

fn alarm(name: &str, metric: &str, threshold: f64) -> Value {
    json!({"AlarmName": name, "Namespace": "App", "MetricName": metric, "Statistic": "Average", "Period": 60,
           "EvaluationPeriods": 3, "Threshold": threshold, "ComparisonOperator": "GreaterThanThreshold"})
}

async fn describe(s: &MetricsService, name: &str) -> Value {
    let out = call(s, "DescribeAlarms", json!({"AlarmNames": [name]})).await.unwrap();
    out["MetricAlarms"][0].clone()
}

async fn history(s: &MetricsService, name: &str, kind: &str) -> Vec<Value> {
    let out = call(
        s,
        "DescribeAlarmHistory",
        json!({"AlarmName": name, "HistoryItemType": kind, "ScanBy": "TimestampAscending"}),
    )
    .await
    .unwrap();
    out["AlarmHistoryItems"].as_array().unwrap().clone()
}

/// Records every action, failing those whose ARN is in `fail`.
#[derive(Default)]
struct Recorder {
    calls: Mutex<Vec<(String, AlarmStateChange)>>,
    fail: Vec<String>,
}

#[async_trait::async_trait]
impl AlarmActions for Recorder {
    async fn invoke(&self, action_arn: &str, change: &AlarmStateChange) -> Result<(), String> {
        self.calls.lock().unwrap().push((action_arn.to_string(), change.clone()));
        if self.fail.iter().any(|f| f == action_arn) { Err("topic unreachable".into()) } else { Ok(()) }
    }
}

impl Recorder {
    fn take(&self) -> Vec<(String, AlarmStateChange)> {
        std::mem::take(&mut *self.calls.lock().unwrap())
    }
}

#[tokio::test]
async fn put_and_describe_alarms_with_filters_and_pages() {
    for (_b, s) in services().await {
        let mut a = alarm("web-cpu", "Cpu", 50.0);
        a["AlarmDescription"] = json!("CPU too high");
        a["Dimensions"] = json!([{"Name": "Service", "Value": "web"}]);
        a["AlarmActions"] = json!([SNS]);
        a["DatapointsToAlarm"] = json!(2);
        a["TreatMissingData"] = json!("breaching");
        a["Unit"] = json!("Percent");
        a["Tags"] = json!([{"Key": "team", "Value": "core"}]);
        call(&s, "PutMetricAlarm", a.clone()).await.unwrap();
        let got = describe(&s, "web-cpu").await;
        assert_eq!(got["AlarmArn"], "arn:aws:cloudwatch:us-east-1:000000000000:alarm:web-cpu");
        assert_eq!(got["StateValue"], "INSUFFICIENT_DATA");
        assert_eq!(got["StateReason"], "Unchecked: Initial alarm creation");
        assert_eq!(got["ActionsEnabled"], true);
        assert_eq!(got["AlarmActions"], json!([SNS]));
        assert_eq!(got["OKActions"], json!([]));
        assert_eq!(got["Dimensions"], json!([{"Name": "Service", "Value": "web"}]));
        assert_eq!(
            (got["Statistic"].clone(), got["Period"].clone(), got["Unit"].clone()),
            (json!("Average"), json!(60), json!("Percent"))
        );
        assert_eq!((got["EvaluationPeriods"].clone(), got["DatapointsToAlarm"].clone()), (json!(3), json!(2)));
        assert_eq!(
            (got["Threshold"].clone(), got["ComparisonOperator"].clone()),
            (json!(50.0), json!("GreaterThanThreshold"))
        );
        assert_eq!(got["TreatMissingData"], "breaching");
        assert!(got["AlarmConfigurationUpdatedTimestamp"].as_f64().unwrap() > 1.7e9);
        assert!(got.get("ExtendedStatistic").is_none() && got.get("Metrics").is_none());

        // An update replaces the configuration, keeps state and tags (new tags are ignored).
        let mut b = alarm("web-cpu", "Cpu", 70.0);
        b["ExtendedStatistic"] = json!("p99.9");
        b.as_object_mut().unwrap().remove("Statistic");
        b["Tags"] = json!([{"Key": "other", "Value": "x"}]);
        call(&s, "PutMetricAlarm", b).await.unwrap();
        let got = describe(&s, "web-cpu").await;
        assert_eq!(got["ExtendedStatistic"], "p99.9");
        assert!(got.get("Statistic").is_none() && got.get("AlarmDescription").is_none());
        assert_eq!(got["Threshold"], json!(70.0));
        assert_eq!(got["AlarmActions"], json!([]));
        let arn = got["AlarmArn"].clone();
        let tags = call(&s, "ListTagsForResource", json!({"ResourceARN": arn})).await.unwrap();
        assert_eq!(tags["Tags"], json!([{"Key": "team", "Value": "core"}]));

        // A Metrics alarm: one MetricStat returning data.
        let m = json!({"AlarmName": "db-latency", "EvaluationPeriods": 1, "Threshold": 5,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold", "OKActions": [SNS],
            "Metrics": [{"Id": "m1", "MetricStat": {"Metric": {"Namespace": "App", "MetricName": "Latency"},
                                                    "Period": 30, "Stat": "p90"}, "ReturnData": true},
                        {"Id": "m2", "MetricStat": {"Metric": {"Namespace": "App", "MetricName": "Other"},
                                                    "Period": 60, "Stat": "Sum"}, "ReturnData": false}]});
        call(&s, "PutMetricAlarm", m).await.unwrap();
        let got = describe(&s, "db-latency").await;
        assert!(got.get("MetricName").is_none() && got.get("Period").is_none());
        assert_eq!(got["Metrics"][0]["MetricStat"]["Stat"], "p90");
        assert_eq!(got["Metrics"][1]["ReturnData"], false);

        for i in 0..5 {
            call(&s, "PutMetricAlarm", alarm(&format!("batch-{i}"), "Jobs", 1.0)).await.unwrap();
        }
        let names = |v: &Value| -> Vec<String> {
            v["MetricAlarms"].as_array().unwrap().iter().map(|a| a["AlarmName"].as_str().unwrap().to_string()).collect()
        };
        let all = call(&s, "DescribeAlarms", json!({})).await.unwrap();
        assert_eq!(names(&all), ["batch-0", "batch-1", "batch-2", "batch-3", "batch-4", "db-latency", "web-cpu"]);
        assert_eq!(all["CompositeAlarms"], json!([]));
        assert!(all.get("NextToken").is_none());
        let prefixed = call(&s, "DescribeAlarms", json!({"AlarmNamePrefix": "batch-"})).await.unwrap();
        assert_eq!(names(&prefixed).len(), 5);
        let by_action = call(&s, "DescribeAlarms", json!({"ActionPrefix": "arn:aws:sns:"})).await.unwrap();
        assert_eq!(names(&by_action), ["db-latency"]);
        let by_state = call(&s, "DescribeAlarms", json!({"StateValue": "ALARM"})).await.unwrap();
        assert_eq!(names(&by_state), Vec::<String>::new());
        let composite = call(&s, "DescribeAlarms", json!({"AlarmTypes": ["CompositeAlarm"]})).await.unwrap();
        assert_eq!(composite["MetricAlarms"], json!([]));

        // Pages of 3.
        let mut seen = Vec::new();
        let mut token: Option<Value> = None;
        loop {
            let mut input = json!({"MaxRecords": 3});
            if let Some(t) = &token {
                input["NextToken"] = t.clone();
            }
            let page = call(&s, "DescribeAlarms", input).await.unwrap();
            seen.extend(names(&page));
            match page.get("NextToken") {
                Some(t) => token = Some(t.clone()),
                None => break,
            }
        }
        assert_eq!(seen, names(&all));
        assert_eq!(code(call(&s, "DescribeAlarms", json!({"NextToken": "zz"})).await), "InvalidNextToken");
        assert_eq!(code(call(&s, "DescribeAlarms", json!({"MaxRecords": 101})).await), "InvalidParameterValue");
        assert_eq!(
            code(call(&s, "DescribeAlarms", json!({"AlarmNames": ["a"], "AlarmNamePrefix": "a"})).await),
            "InvalidParameterCombination"
        );
        assert_eq!(code(call(&s, "DescribeAlarms", json!({"StateValue": "BAD"})).await), "InvalidParameterValue");

        // DescribeAlarmsForMetric: single-metric alarms on exactly that metric.
        let for_metric = |extra: Value| {
            let s = &s;
            async move {
                let mut input = json!({"Namespace": "App", "MetricName": "Jobs"});
                for (k, v) in extra.as_object().unwrap() {
                    input[k] = v.clone();
                }
                names(&call(s, "DescribeAlarmsForMetric", input).await.unwrap())
            }
        };
        assert_eq!(for_metric(json!({})).await.len(), 5);
        assert_eq!(for_metric(json!({"Statistic": "Average", "Period": 60})).await.len(), 5);
        assert_eq!(for_metric(json!({"Statistic": "Sum"})).await.len(), 0);
        assert_eq!(for_metric(json!({"Dimensions": [{"Name": "A", "Value": "b"}]})).await.len(), 0);
        let latency =
            call(&s, "DescribeAlarmsForMetric", json!({"Namespace": "App", "MetricName": "Latency"})).await.unwrap();
        assert_eq!(latency["MetricAlarms"], json!([]), "Metrics alarms are not listed");
    }
}

#[tokio::test]
async fn refusals_carry_cloudwatch_codes() {
    for (_b, mut s) in services().await {
        let base = alarm("a", "Cpu", 1.0);
        let with = |changes: Value| {
            let mut v = base.clone();
            for (k, x) in changes.as_object().unwrap() {
                if x.is_null() {
                    v.as_object_mut().unwrap().remove(k);
                } else {
                    v[k] = x.clone();
                }
            }
            v
        };
        let cases = [
            (json!({"AlarmName": null}), "MissingParameter"),
            (json!({"AlarmName": ""}), "InvalidParameterValue"),
            (json!({"AlarmName": "a\u{1}b"}), "InvalidParameterValue"),
            (json!({"EvaluationPeriods": null}), "MissingParameter"),
            (json!({"EvaluationPeriods": 0}), "InvalidParameterValue"),
            (json!({"Threshold": null}), "MissingParameter"),
            (json!({"ComparisonOperator": null}), "MissingParameter"),
            (json!({"ComparisonOperator": "LessThanLowerOrGreaterThanUpperThreshold"}), "InvalidParameterValue"),
            (json!({"ComparisonOperator": "Sideways"}), "InvalidParameterValue"),
            (json!({"Period": 45}), "InvalidParameterValue"),
            (json!({"Period": 5}), "InvalidParameterValue"),
            (json!({"Period": null}), "MissingParameter"),
            (json!({"Period": 10, "EvaluationPeriods": 8641}), "InvalidParameterValue"),
            (json!({"Period": 3600, "EvaluationPeriods": 169}), "InvalidParameterValue"),
            (json!({"DatapointsToAlarm": 4}), "InvalidParameterValue"),
            (json!({"Statistic": null}), "MissingParameter"),
            (json!({"ExtendedStatistic": "p90"}), "InvalidParameterCombination"),
            (json!({"Statistic": null, "ExtendedStatistic": "tm90"}), "InvalidParameterValue"),
            (json!({"Statistic": "Median"}), "InvalidParameterValue"),
            (json!({"TreatMissingData": "sometimes"}), "InvalidParameterValue"),
            (json!({"EvaluateLowSampleCountPercentile": "maybe"}), "InvalidParameterValue"),
            (json!({"Unit": "Parsecs"}), "InvalidParameterValue"),
            (json!({"Namespace": null}), "MissingParameter"),
            (json!({"AlarmActions": ["not-an-arn"]}), "InvalidParameterValue"),
            (json!({"OKActions": [SNS, SNS, SNS, SNS, SNS, SNS]}), "InvalidParameterValue"),
            (json!({"Tags": [{"Key": "aws:x", "Value": "y"}]}), "InvalidParameterValue"),
            (json!({"ThresholdMetricId": "ad1"}), "InvalidParameterValue"),
            (json!({"EvaluationCriteria": {"PromQLCriteria": {"Query": "up"}}}), "InvalidParameterValue"),
            (json!({"EvaluationInterval": 60}), "InvalidParameterCombination"),
            (json!({"MetricName": null, "Namespace": null, "Statistic": null, "Period": null}), "MissingParameter"),
            (
                json!({"Metrics": [{"Id": "m1", "MetricStat": {"Metric": {"Namespace": "App", "MetricName": "Cpu"},
                                                            "Period": 60, "Stat": "Average"}}]}),
                "InvalidParameterCombination",
            ),
        ];
        for (changes, want) in cases {
            let input = with(changes.clone());
            assert_eq!(code(call(&s, "PutMetricAlarm", input).await), want, "{changes}");
        }
        let metrics = |queries: Value| {
            json!({"AlarmName": "m", "EvaluationPeriods": 1, "Threshold": 1, "ComparisonOperator": "GreaterThanThreshold",
                   "Metrics": queries})
        };
        let stat = |id: &str, ret: bool| {
            json!({"Id": id, "ReturnData": ret,
                   "MetricStat": {"Metric": {"Namespace": "App", "MetricName": "Cpu"}, "Period": 60, "Stat": "Sum"}})
        };
        let cases = [
            (json!([{"Id": "e1", "Expression": "SUM(METRICS())"}]), "InvalidParameterValue"),
            (json!([stat("m1", true), stat("m2", true)]), "InvalidParameterValue"),
            (json!([stat("m1", false)]), "InvalidParameterValue"),
            (json!([stat("m1", true), stat("m1", false)]), "InvalidParameterValue"),
            (json!([stat("M1", true)]), "InvalidParameterValue"),
            (json!([]), "MissingParameter"),
        ];
        for (queries, want) in cases {
            assert_eq!(code(call(&s, "PutMetricAlarm", metrics(queries.clone())).await), want, "{queries}");
        }
        // Nothing was stored by any refusal.
        assert_eq!(call(&s, "DescribeAlarms", json!({})).await.unwrap()["MetricAlarms"], json!([]));

        // The alarm count is bounded.
        s.max_alarms = 2;
        call(&s, "PutMetricAlarm", alarm("one", "Cpu", 1.0)).await.unwrap();
        call(&s, "PutMetricAlarm", alarm("two", "Cpu", 1.0)).await.unwrap();
        assert_eq!(code(call(&s, "PutMetricAlarm", alarm("three", "Cpu", 1.0)).await), "LimitExceeded");
        call(&s, "PutMetricAlarm", alarm("two", "Cpu", 2.0)).await.expect("an update is no new alarm");

        let set = |name: &str, state: &str, data: Option<&str>| {
            let mut v = json!({"AlarmName": name, "StateValue": state, "StateReason": "testing"});
            if let Some(d) = data {
                v["StateReasonData"] = json!(d);
            }
            v
        };
        assert_eq!(code(call(&s, "SetAlarmState", set("nope", "ALARM", None)).await), "ResourceNotFound");
        let e = call(&s, "SetAlarmState", set("nope", "ALARM", None)).await.unwrap_err();
        assert_eq!(e.status, axum::http::StatusCode::NOT_FOUND);
        assert_eq!(code(call(&s, "SetAlarmState", set("one", "MAYBE", None)).await), "InvalidParameterValue");
        assert_eq!(code(call(&s, "SetAlarmState", set("one", "ALARM", Some("{not json"))).await), "InvalidFormat");
        assert_eq!(
            code(call(&s, "SetAlarmState", json!({"AlarmName": "one", "StateValue": "OK"})).await),
            "MissingParameter"
        );

        // DeleteAlarms: one missing name deletes nothing.
        assert_eq!(code(call(&s, "DeleteAlarms", json!({"AlarmNames": ["one", "ghost"]})).await), "ResourceNotFound");
        assert_eq!(describe(&s, "one").await["AlarmName"], "one");
        assert_eq!(code(call(&s, "DeleteAlarms", json!({})).await), "MissingParameter");
        call(&s, "DeleteAlarms", json!({"AlarmNames": ["one", "two"]})).await.unwrap();
        assert_eq!(call(&s, "DescribeAlarms", json!({})).await.unwrap()["MetricAlarms"], json!([]));
        // Their history stays.
        let deleted = history(&s, "one", "ConfigurationUpdate").await;
        assert_eq!(deleted.len(), 2);
        assert_eq!(deleted[1]["HistorySummary"], "Alarm \"one\" deleted");

        // Tagging by ARN.
        call(&s, "PutMetricAlarm", alarm("tagged", "Cpu", 1.0)).await.unwrap();
        let arn = "arn:aws:cloudwatch:us-east-1:000000000000:alarm:tagged";
        call(
            &s,
            "TagResource",
            json!({"ResourceARN": arn, "Tags": [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}]}),
        )
        .await
        .unwrap();
        call(&s, "TagResource", json!({"ResourceARN": arn, "Tags": [{"Key": "a", "Value": "3"}]})).await.unwrap();
        call(&s, "UntagResource", json!({"ResourceARN": arn, "TagKeys": ["b", "absent"]})).await.unwrap();
        let tags = call(&s, "ListTagsForResource", json!({"ResourceARN": arn})).await.unwrap();
        assert_eq!(tags["Tags"], json!([{"Key": "a", "Value": "3"}]));
        let ghost = "arn:aws:cloudwatch:us-east-1:000000000000:alarm:ghost";
        for arn in [
            ghost,
            "arn:aws:cloudwatch:eu-west-1:000000000000:alarm:tagged",
            "arn:aws:cloudwatch::000000000000:dashboard/d",
        ] {
            let e = call(&s, "ListTagsForResource", json!({"ResourceARN": arn})).await.unwrap_err();
            assert_eq!((e.code.as_str(), e.status.as_u16()), ("ResourceNotFoundException", 404), "{arn}");
        }
        assert_eq!(
            code(call(&s, "TagResource", json!({"ResourceARN": ghost, "Tags": []})).await),
            "ResourceNotFoundException"
        );
        assert_eq!(
            code(call(&s, "ListTagsForResource", json!({"ResourceARN": "alarm:x"})).await),
            "InvalidParameterValue"
        );
        assert_eq!(code(call(&s, "TagResource", json!({"ResourceARN": arn})).await), "MissingParameter");
        let many: Vec<Value> = (0..50).map(|i| json!({"Key": format!("k{i}"), "Value": "v"})).collect();
        assert_eq!(
            code(call(&s, "TagResource", json!({"ResourceARN": arn, "Tags": many})).await),
            "InvalidParameterValue"
        );
        assert_eq!(
            call(&s, "ListTagsForResource", json!({"ResourceARN": arn})).await.unwrap()["Tags"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
    }
}

#[tokio::test]
async fn alarms_follow_the_data_and_record_their_history() {
    for (_b, s) in services().await {
        publish(&s, "Cpu", 85.0).await;
        call(&s, "PutMetricAlarm", alarm("cpu-high", "Cpu", 50.0)).await.unwrap();
        let stats = pass(&s).await;
        assert_eq!((stats.evaluated, stats.transitions), (1, 1));
        let got = describe(&s, "cpu-high").await;
        assert_eq!(got["StateValue"], "ALARM");
        let reason = got["StateReason"].as_str().unwrap();
        assert!(
            reason.starts_with("Threshold Crossed: 3 out of the last 3 datapoints [85.0 (")
                && reason.ends_with(
                    "were greater than the threshold (50.0) (minimum 3 datapoints for INSUFFICIENT_DATA -> ALARM transition)."
                ),
            "{reason}"
        );
        let data: Value = serde_json::from_str(got["StateReasonData"].as_str().unwrap()).unwrap();
        assert_eq!(data["recentDatapoints"], json!([85.0, 85.0, 85.0]));
        assert_eq!((data["statistic"].clone(), data["period"].clone()), (json!("Average"), json!(60)));

        // Not due again until a period ends: a second pass does nothing.
        assert_eq!(pass(&s).await, PassStats::default());

        // A new threshold is evaluated at once; the state follows.
        call(&s, "PutMetricAlarm", alarm("cpu-high", "Cpu", 90.0)).await.unwrap();
        pass(&s).await;
        let got = describe(&s, "cpu-high").await;
        assert_eq!(got["StateValue"], "OK");
        assert!(got["StateReason"].as_str().unwrap().contains("were not greater than the threshold (90.0)"));
        assert!(got["StateTransitionedTimestamp"].as_f64() >= got["AlarmConfigurationUpdatedTimestamp"].as_f64());

        let updates = history(&s, "cpu-high", "StateUpdate").await;
        let summaries: Vec<&str> = updates.iter().map(|h| h["HistorySummary"].as_str().unwrap()).collect();
        assert_eq!(summaries, ["Alarm updated from INSUFFICIENT_DATA to ALARM", "Alarm updated from ALARM to OK"]);
        assert_eq!(updates[0]["AlarmType"], "MetricAlarm");
        let data: Value = serde_json::from_str(updates[1]["HistoryData"].as_str().unwrap()).unwrap();
        assert_eq!(data["oldState"]["stateValue"], "ALARM");
        assert_eq!(data["newState"]["stateValue"], "OK");
        assert_eq!(data["newState"]["stateReasonData"]["threshold"], json!(90.0));
        let config = history(&s, "cpu-high", "ConfigurationUpdate").await;
        let summaries: Vec<&str> = config.iter().map(|h| h["HistorySummary"].as_str().unwrap()).collect();
        assert_eq!(summaries, ["Alarm \"cpu-high\" created", "Alarm \"cpu-high\" updated"]);
        let update: Value = serde_json::from_str(config[1]["HistoryData"].as_str().unwrap()).unwrap();
        assert_eq!(update["originalUpdatedFields"], json!({"threshold": 50.0}));

        // The whole history newest first, in pages, and by time.
        let all = call(&s, "DescribeAlarmHistory", json!({"AlarmName": "cpu-high"})).await.unwrap();
        let items = all["AlarmHistoryItems"].as_array().unwrap();
        assert_eq!(items.len(), 4);
        assert!(items.windows(2).all(|w| w[0]["Timestamp"].as_f64() >= w[1]["Timestamp"].as_f64()));
        let first = call(&s, "DescribeAlarmHistory", json!({"AlarmName": "cpu-high", "MaxRecords": 3})).await.unwrap();
        assert_eq!(first["AlarmHistoryItems"].as_array().unwrap().len(), 3);
        let rest = call(
            &s,
            "DescribeAlarmHistory",
            json!({"AlarmName": "cpu-high", "MaxRecords": 3, "NextToken": first["NextToken"]}),
        )
        .await
        .unwrap();
        assert_eq!(rest["AlarmHistoryItems"][0], items[3]);
        assert!(rest.get("NextToken").is_none());
        let later =
            call(&s, "DescribeAlarmHistory", json!({"StartDate": items[0]["Timestamp"].as_f64().unwrap() + 60.0}))
                .await
                .unwrap();
        assert_eq!(later["AlarmHistoryItems"], json!([]));
        let only_composite = call(&s, "DescribeAlarmHistory", json!({"AlarmTypes": ["CompositeAlarm"]})).await.unwrap();
        assert_eq!(only_composite["AlarmHistoryItems"], json!([]));
        assert_eq!(
            code(call(&s, "DescribeAlarmHistory", json!({"HistoryItemType": "Bogus"})).await),
            "InvalidParameterValue"
        );
        assert_eq!(code(call(&s, "DescribeAlarmHistory", json!({"NextToken": "00"})).await), "InvalidNextToken");

        // Percentiles come from the stored values; LessThan operators too.
        let data: Vec<Value> = (1..=100).map(|v| json!({"MetricName": "Latency", "Value": v})).collect();
        let now = s.store.now_ms().await.unwrap();
        let base = now.div_euclid(MINUTE) * MINUTE;
        for i in -5..5 {
            let batch: Vec<Value> = data
                .iter()
                .map(|d| {
                    let mut d = d.clone();
                    d["Timestamp"] = secs(base + i * MINUTE);
                    d
                })
                .collect();
            call(&s, "PutMetricData", json!({"Namespace": "App", "MetricData": batch})).await.unwrap();
        }
        let mut p = alarm("p90", "Latency", 90.0);
        p.as_object_mut().unwrap().remove("Statistic");
        p["ExtendedStatistic"] = json!("p90");
        p["ComparisonOperator"] = json!("GreaterThanOrEqualToThreshold");
        call(&s, "PutMetricAlarm", p.clone()).await.unwrap();
        p["AlarmName"] = json!("p89");
        p["ComparisonOperator"] = json!("LessThanThreshold");
        call(&s, "PutMetricAlarm", p).await.unwrap();
        pass(&s).await;
        assert_eq!(describe(&s, "p90").await["StateValue"], "ALARM");
        assert_eq!(describe(&s, "p89").await["StateValue"], "OK");
        let data: Value = serde_json::from_str(describe(&s, "p90").await["StateReasonData"].as_str().unwrap()).unwrap();
        assert_eq!(data["extendedStatistic"], "p90");
        assert_eq!(data["evaluatedDatapoints"][0]["sampleCount"], json!(100.0));

        // Missing data: an alarm on a metric nobody publishes.
        let mut silent = alarm("silent", "Nothing", 1.0);
        silent["TreatMissingData"] = json!("breaching");
        call(&s, "PutMetricAlarm", silent.clone()).await.unwrap();
        silent["AlarmName"] = json!("silent-missing");
        silent.as_object_mut().unwrap().remove("TreatMissingData");
        call(&s, "PutMetricAlarm", silent).await.unwrap();
        pass(&s).await;
        let got = describe(&s, "silent").await;
        assert_eq!(got["StateValue"], "ALARM");
        assert_eq!(
            got["StateReason"],
            "Threshold Crossed: no datapoints were received for 3 periods and 3 missing datapoints were treated as \
             [Breaching]."
        );
        assert_eq!(describe(&s, "silent-missing").await["StateValue"], "INSUFFICIENT_DATA");
        assert_eq!(history(&s, "silent-missing", "StateUpdate").await, Vec::<Value>::new());

        // History items go after two weeks (the retention controller's cut).
        let now = s.store.now_ms().await.unwrap();
        assert_eq!(s.store.expire_alarm_history(now - 3_600_000, 1000).await.unwrap(), 0);
        assert!(s.store.expire_alarm_history(now + 1, 1000).await.unwrap() >= 6);
        let left = call(&s, "DescribeAlarmHistory", json!({})).await.unwrap();
        assert_eq!(left["AlarmHistoryItems"], json!([]));
    }
}

#[tokio::test]
async fn actions_run_on_changes_and_auto_scaling_ones_every_minute() {
    for (_b, s) in services().await {
        let recorder = Arc::new(Recorder { fail: vec![SNS.to_string()], ..Recorder::default() });
        let s = s.with_alarm_actions(recorder.clone());
        publish(&s, "Cpu", 85.0).await;
        let mut a = alarm("scale", "Cpu", 50.0);
        a["AlarmActions"] = json!([SCALE_OUT, SNS]);
        a["OKActions"] = json!([SNS]);
        call(&s, "PutMetricAlarm", a.clone()).await.unwrap();
        let stats = pass(&s).await;
        assert_eq!((stats.transitions, stats.actions), (1, 2));
        let calls = recorder.take();
        let arns: Vec<&str> = calls.iter().map(|(a, _)| a.as_str()).collect();
        assert_eq!(arns, [SCALE_OUT, SNS]);
        let change = &calls[0].1;
        assert_eq!(
            (change.old_state, change.new_state, change.repeated),
            (StateValue::InsufficientData, StateValue::Alarm, false)
        );
        assert_eq!(change.alarm_arn, "arn:aws:cloudwatch:us-east-1:000000000000:alarm:scale");
        assert_eq!((change.threshold, change.latest_value), (50.0, Some(85.0)));
        assert_eq!((change.metric.namespace.as_str(), change.metric.metric_name.as_str()), ("App", "Cpu"));
        assert!(change.reason.starts_with("Threshold Crossed: 3 out of the last 3 datapoints"));

        let actions = history(&s, "scale", "Action").await;
        let summaries: Vec<&str> = actions.iter().map(|h| h["HistorySummary"].as_str().unwrap()).collect();
        assert_eq!(
            summaries,
            [
                format!("Successfully executed action {SCALE_OUT}"),
                format!("Failed to execute action {SNS}. Received error: \"topic unreachable\""),
            ]
        );
        let data: Value = serde_json::from_str(actions[1]["HistoryData"].as_str().unwrap()).unwrap();
        assert_eq!((data["actionState"].clone(), data["error"].clone()), (json!("Failed"), json!("topic unreachable")));

        // Nothing more until a minute has passed; then only the Auto Scaling action, again.
        assert_eq!(pass(&s).await.actions, 0);
        s.store.make_due("scale").await.unwrap();
        let stats = pass(&s).await;
        assert_eq!((stats.transitions, stats.actions), (0, 1));
        let calls = recorder.take();
        assert_eq!(calls.len(), 1);
        assert_eq!((calls[0].0.as_str(), calls[0].1.repeated), (SCALE_OUT, true));
        assert_eq!(calls[0].1.old_state, StateValue::InsufficientData);

        // SetAlarmState runs the new state's actions; the next evaluation brings it back.
        call(
            &s,
            "SetAlarmState",
            json!({"AlarmName": "scale", "StateValue": "OK", "StateReason": "drill",
                                          "StateReasonData": "{\"by\":\"test\"}"}),
        )
        .await
        .unwrap();
        let got = describe(&s, "scale").await;
        assert_eq!((got["StateValue"].clone(), got["StateReason"].clone()), (json!("OK"), json!("drill")));
        assert_eq!(got["StateReasonData"], "{\"by\":\"test\"}");
        let stats = pass(&s).await;
        assert_eq!((stats.evaluated, stats.actions), (0, 1), "not evaluated before its period ends");
        let calls = recorder.take();
        assert_eq!((calls[0].0.as_str(), calls[0].1.reason.as_str()), (SNS, "drill"));
        assert_eq!(calls[0].1.reason_data.as_deref(), Some("{\"by\":\"test\"}"));
        s.store.make_due("scale").await.unwrap();
        let stats = pass(&s).await;
        assert_eq!((stats.transitions, stats.actions), (1, 2));
        assert_eq!(describe(&s, "scale").await["StateValue"], "ALARM");
        let updates = history(&s, "scale", "StateUpdate").await;
        let summaries: Vec<&str> = updates.iter().map(|h| h["HistorySummary"].as_str().unwrap()).collect();
        assert_eq!(
            summaries,
            [
                "Alarm updated from INSUFFICIENT_DATA to ALARM",
                "Alarm updated from ALARM to OK",
                "Alarm updated from OK to ALARM"
            ]
        );
        recorder.take();

        // With actions disabled, changes run none (and Auto Scaling repeats stop).
        call(&s, "DisableAlarmActions", json!({"AlarmNames": ["scale", "ghost"]})).await.unwrap();
        assert_eq!(describe(&s, "scale").await["ActionsEnabled"], false);
        s.store.make_due("scale").await.unwrap();
        assert_eq!(pass(&s).await.actions, 0);
        call(&s, "SetAlarmState", json!({"AlarmName": "scale", "StateValue": "OK", "StateReason": "quiet"}))
            .await
            .unwrap();
        assert_eq!(pass(&s).await.actions, 0);
        assert!(recorder.take().is_empty());
        call(&s, "EnableAlarmActions", json!({"AlarmNames": ["scale"]})).await.unwrap();
        assert_eq!(describe(&s, "scale").await["ActionsEnabled"], true);
    }
}

#[tokio::test]
async fn without_a_handler_actions_are_recorded_as_failed() {
    for (_b, s) in services().await {
        let mut a = alarm("lonely", "Nothing", 1.0);
        a["TreatMissingData"] = json!("breaching");
        a["AlarmActions"] = json!([SNS]);
        call(&s, "PutMetricAlarm", a).await.unwrap();
        assert_eq!(pass(&s).await.actions, 1);
        let actions = history(&s, "lonely", "Action").await;
        assert_eq!(actions.len(), 1);
        let summary = actions[0]["HistorySummary"].as_str().unwrap();
        assert!(
            summary.starts_with(&format!("Failed to execute action {SNS}. Received error: \"no handler")),
            "{summary}"
        );
    }
}

#[tokio::test]
async fn a_restart_resumes_state_and_due_actions() {
    for (backend, s) in services().await {
        let mut a = alarm("durable", "Nothing", 1.0);
        a["OKActions"] = json!([SNS]);
        call(&s, "PutMetricAlarm", a).await.unwrap();
        // Changed, with actions due, and the process goes away before running them.
        call(&s, "SetAlarmState", json!({"AlarmName": "durable", "StateValue": "OK", "StateReason": "before"}))
            .await
            .unwrap();
        s.close().await;
        let recorder = Arc::new(Recorder::default());
        let again = MetricsService::open(&backend.location, AccountContext::default())
            .await
            .unwrap()
            .with_alarm_actions(recorder.clone());
        assert_eq!(describe(&again, "durable").await["StateValue"], "OK");
        let stats = pass(&again).await;
        assert_eq!(stats.actions, 1);
        assert_eq!(recorder.take()[0].1.new_state, StateValue::Ok);
        assert_eq!(pass(&again).await.actions, 0, "run once");
    }
}

#[tokio::test]
async fn the_controller_is_served_with_the_module() {
    let backend = flotilla_db::testing::backends().remove(0);
    let s = MetricsService::open(&backend.location, AccountContext::default()).await.unwrap();
    let names: Vec<&str> = s.controllers().iter().map(|c| c.name()).collect();
    assert_eq!(names, ["metrics-retention", "cloudwatch-alarms"]);
    assert!(s.controllers()[1].wakeup().is_some());
}

/// The cost of a pass: 1,000 alarms over stored data on SQLite, each due.
/// `cargo test -p flotilla-metrics --release -- --ignored --nocapture alarm_pass_cost`
#[tokio::test]
#[ignore]
async fn alarm_pass_cost() {
    let backend = flotilla_db::testing::backends().remove(0);
    let s = MetricsService::open(&backend.location, AccountContext::default()).await.unwrap();
    let now = s.store.now_ms().await.unwrap();
    let base = now.div_euclid(MINUTE) * MINUTE;
    // 100 metrics × 10 dimension values, a datum a minute for an hour.
    for m in 0..100 {
        let mut data = Vec::new();
        for d in 0..10 {
            for i in -55..5 {
                data.push(
                    json!({"MetricName": format!("M{m}"), "Dimensions": [{"Name": "Host", "Value": format!("h{d}")}],
                                 "Timestamp": secs(base + i * MINUTE), "Value": (m * d + i + 60) % 100}),
                );
            }
        }
        for chunk in data.chunks(1000) {
            call(&s, "PutMetricData", json!({"Namespace": "Bench", "MetricData": chunk})).await.unwrap();
        }
    }
    for i in 0..1000 {
        let (m, d) = (i / 10, i % 10);
        let stat = if i % 10 == 9 { json!({"ExtendedStatistic": "p90"}) } else { json!({"Statistic": "Average"}) };
        let mut a = json!({"AlarmName": format!("bench-{i:04}"), "Namespace": "Bench", "MetricName": format!("M{m}"),
            "Dimensions": [{"Name": "Host", "Value": format!("h{d}")}], "Period": 60, "EvaluationPeriods": 3,
            "DatapointsToAlarm": 2, "Threshold": 50, "ComparisonOperator": "GreaterThanThreshold",
            "AlarmActions": [SNS]});
        for (k, v) in stat.as_object().unwrap() {
            a[k] = v.clone();
        }
        call(&s, "PutMetricAlarm", a).await.unwrap();
    }
    let c = controller(&s);
    let mut figures = Vec::new();
    for round in 0..3 {
        let names: Vec<String> = (0..1000).map(|i| format!("bench-{i:04}")).collect();
        if round > 0 {
            for n in &names {
                s.store.make_due(n).await.unwrap();
            }
        }
        let started = std::time::Instant::now();
        let stats = c.pass().await.unwrap();
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        assert_eq!(stats.evaluated, 1000);
        println!(
            "FIGURE alarm-pass-1000-alarms round={round} ms={ms:.0} transitions={} actions={}",
            stats.transitions, stats.actions
        );
        figures.push(ms);
    }
    let idle = std::time::Instant::now();
    let stats = c.pass().await.unwrap();
    println!(
        "FIGURE alarm-pass-idle-1000-alarms ms={:.1} evaluated={}",
        idle.elapsed().as_secs_f64() * 1000.0,
        stats.evaluated
    );
}
