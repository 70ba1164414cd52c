//! The metrics service through its operations, on SQLite and PostgreSQL.

use super::*;
use crate::store::{ListFilter, NewPoint};
use serde_json::{Value, json};

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

/// The service on each backend the store suite runs on (SQLite, and PostgreSQL when
/// `FLOTILLA_TEST_POSTGRES_URL` is set).
async fn services() -> Vec<(flotilla_db::testing::TestBackend, MetricsService)> {
    let mut out = Vec::new();
    for backend in flotilla_db::testing::backends() {
        let service = MetricsService::open(&backend.location, AccountContext::default()).await.unwrap();
        out.push((backend, service));
    }
    out
}

async fn call(s: &MetricsService, op: &str, input: Value) -> std::result::Result<Value, AwsError> {
    let caller = Caller::new("AKIDTEST", "r");
    let response = s.call(op, Bytes::from(input.to_string()), &caller).await?;
    assert_eq!(response.headers()[header::CONTENT_TYPE], AWS_JSON_1_0);
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    Ok(serde_json::from_slice(&bytes).unwrap())
}

fn code(r: std::result::Result<Value, AwsError>) -> String {
    r.unwrap_err().code
}

async fn now(s: &MetricsService) -> i64 {
    s.store.now_ms().await.unwrap()
}

/// Epoch seconds, as AWS JSON carries times.
fn secs(ms: i64) -> Value {
    json!(ms as f64 / 1000.0)
}

/// The start of the hour three hours ago: a whole hour of data fits after it.
async fn base(s: &MetricsService) -> i64 {
    (now(s).await - 3 * HOUR).div_euclid(HOUR) * HOUR
}

fn stats_input(namespace: &str, metric: &str, dims: Value, start: i64, end: i64, period: i64) -> Value {
    json!({
        "Namespace": namespace, "MetricName": metric, "Dimensions": dims,
        "StartTime": secs(start), "EndTime": secs(end), "Period": period,
        "Statistics": ["SampleCount", "Average", "Sum", "Minimum", "Maximum"],
    })
}

#[tokio::test]
async fn statistics_per_period_with_every_statistic_and_percentiles() {
    for (_b, s) in services().await {
        let t0 = base(&s).await;
        // Minute m holds the values 10m+1 ..= 10m+10, published one by one.
        let data: Vec<Value> = (0..100i64)
            .map(|i| {
                json!({"MetricName": "Latency", "Dimensions": [{"Name": "Api", "Value": "get"}],
                       "Timestamp": secs(t0 + (i / 10) * MINUTE + (i % 10) * 1000), "Value": i + 1,
                       "Unit": "Milliseconds"})
            })
            .collect();
        call(&s, "PutMetricData", json!({"Namespace": "App", "MetricData": data})).await.unwrap();
        let dims = json!([{"Name": "Api", "Value": "get"}]);

        let mut input = stats_input("App", "Latency", dims.clone(), t0, t0 + HOUR, 60);
        input["ExtendedStatistics"] = json!(["p50", "p99.9"]);
        let answer = call(&s, "GetMetricStatistics", input).await.unwrap();
        assert_eq!(answer["Label"], "Latency");
        let points = answer["Datapoints"].as_array().unwrap();
        assert_eq!(points.len(), 10);
        assert_eq!(
            points[0],
            json!({"Timestamp": t0 as f64 / 1000.0, "SampleCount": 10.0, "Average": 5.5, "Sum": 55.0, "Minimum": 1.0,
                   "Maximum": 10.0, "Unit": "Milliseconds", "ExtendedStatistics": {"p50": 5.0, "p99.9": 10.0}})
        );
        assert_eq!(points[9]["Timestamp"], json!((t0 + 9 * MINUTE) as f64 / 1000.0));
        assert_eq!(points[9]["Sum"], json!(955.0));

        // Five minutes a period; a start inside a period reads the whole period.
        let answer =
            call(&s, "GetMetricStatistics", stats_input("App", "Latency", dims.clone(), t0 + 90_000, t0 + HOUR, 300))
                .await
                .unwrap();
        let points = answer["Datapoints"].as_array().unwrap();
        assert_eq!(points.len(), 2);
        assert_eq!((points[0]["SampleCount"].clone(), points[0]["Sum"].clone()), (json!(50.0), json!(1275.0)));
        assert_eq!(points[1]["Timestamp"], json!((t0 + 5 * MINUTE) as f64 / 1000.0));

        // One period of everything; percentiles alone.
        let input = json!({"Namespace": "App", "MetricName": "Latency", "Dimensions": dims,
            "StartTime": secs(t0), "EndTime": secs(t0 + HOUR), "Period": 3600,
            "ExtendedStatistics": ["p90", "p100", "p0"]});
        let answer = call(&s, "GetMetricStatistics", input).await.unwrap();
        assert_eq!(
            answer["Datapoints"],
            json!([{"Timestamp": t0 as f64 / 1000.0, "Unit": "Milliseconds",
                    "ExtendedStatistics": {"p0": 1.0, "p100": 100.0, "p90": 90.0}}])
        );

        // The unit filter: only data of that unit.
        let mut input = stats_input("App", "Latency", dims.clone(), t0, t0 + HOUR, 3600);
        input["Unit"] = json!("Seconds");
        assert_eq!(call(&s, "GetMetricStatistics", input).await.unwrap()["Datapoints"], json!([]));
        let mut input = stats_input("App", "Latency", dims.clone(), t0, t0 + HOUR, 3600);
        input["Unit"] = json!("Milliseconds");
        assert_eq!(call(&s, "GetMetricStatistics", input).await.unwrap()["Datapoints"][0]["Maximum"], json!(100.0));

        // Values with counts, and statistic sets: a set of unequal values says no percentile.
        let data = json!([
            {"MetricName": "Size", "Timestamp": secs(t0), "Values": [1, 2, 3], "Counts": [5, 3, 2]},
            {"MetricName": "Size", "Timestamp": secs(t0 + MINUTE),
             "StatisticValues": {"SampleCount": 2, "Sum": 8, "Minimum": 4, "Maximum": 4}},
            {"MetricName": "Size", "Timestamp": secs(t0 + 2 * MINUTE),
             "StatisticValues": {"SampleCount": 4, "Sum": 10, "Minimum": 1, "Maximum": 4}},
        ]);
        call(&s, "PutMetricData", json!({"Namespace": "App", "MetricData": data})).await.unwrap();
        let mut input = stats_input("App", "Size", json!([]), t0, t0 + HOUR, 60);
        input["ExtendedStatistics"] = json!(["p50", "p80"]);
        let answer = call(&s, "GetMetricStatistics", input).await.unwrap();
        let points = answer["Datapoints"].as_array().unwrap();
        assert_eq!(points.len(), 3);
        assert_eq!(points[0]["SampleCount"], json!(10.0));
        assert_eq!(points[0]["Sum"], json!(17.0));
        assert_eq!(points[0]["Unit"], "None");
        assert_eq!(points[0]["ExtendedStatistics"], json!({"p50": 1.0, "p80": 2.0}));
        assert_eq!(points[1]["ExtendedStatistics"], json!({"p50": 4.0, "p80": 4.0}));
        assert_eq!(points[2]["Average"], json!(2.5));
        assert!(points[2].get("ExtendedStatistics").is_none());

        // More than 1,440 periods.
        let too_many = stats_input("App", "Latency", json!([]), t0 - 2 * DAY, t0, 60);
        assert_eq!(code(call(&s, "GetMetricStatistics", too_many).await), "InvalidParameterCombination");
    }
}

#[tokio::test]
async fn high_resolution_data_reads_below_the_minute() {
    for (_b, s) in services().await {
        let t0 = base(&s).await;
        let data: Vec<Value> = (0..6i64)
            .map(|i| {
                let at = secs(t0 + i * 10_000 + 500);
                json!({"MetricName": "Hi", "Timestamp": at, "Value": i, "StorageResolution": 1})
            })
            .chain((0..6i64).map(|i| json!({"MetricName": "Lo", "Timestamp": secs(t0 + i * 10_000), "Value": i})))
            .collect();
        call(&s, "PutMetricData", json!({"Namespace": "App", "MetricData": data})).await.unwrap();
        let hi =
            call(&s, "GetMetricStatistics", stats_input("App", "Hi", json!([]), t0, t0 + MINUTE, 10)).await.unwrap();
        let stamps: Vec<f64> =
            hi["Datapoints"].as_array().unwrap().iter().map(|p| p["Timestamp"].as_f64().unwrap()).collect();
        let expected: Vec<f64> = (0..6).map(|i| (t0 + i * 10_000) as f64 / 1000.0).collect();
        assert_eq!(stamps, expected);
        // Standard resolution is stored by the minute.
        let lo =
            call(&s, "GetMetricStatistics", stats_input("App", "Lo", json!([]), t0, t0 + MINUTE, 10)).await.unwrap();
        assert_eq!(lo["Datapoints"].as_array().unwrap().len(), 1);
        assert_eq!(lo["Datapoints"][0]["SampleCount"], json!(6.0));
    }
}

#[tokio::test]
async fn dimensions_match_the_whole_set_exactly() {
    for (_b, s) in services().await {
        let t0 = base(&s).await;
        let data = json!([
            {"MetricName": "Req", "Timestamp": secs(t0), "Value": 1},
            {"MetricName": "Req", "Timestamp": secs(t0), "Value": 10, "Dimensions": [{"Name": "A", "Value": "1"}]},
            {"MetricName": "Req", "Timestamp": secs(t0), "Value": 100,
             "Dimensions": [{"Name": "B", "Value": "2"}, {"Name": "A", "Value": "1"}]},
        ]);
        call(&s, "PutMetricData", json!({"Namespace": "App", "MetricData": data})).await.unwrap();
        let sum = |dims: Value| {
            let s = &s;
            async move {
                let answer =
                    call(s, "GetMetricStatistics", stats_input("App", "Req", dims, t0, t0 + HOUR, 3600)).await.unwrap();
                answer["Datapoints"].get(0).map(|p| p["Sum"].clone())
            }
        };
        assert_eq!(sum(json!([])).await, Some(json!(1.0)));
        assert_eq!(sum(json!([{"Name": "A", "Value": "1"}])).await, Some(json!(10.0)));
        // Any order names the same set.
        assert_eq!(sum(json!([{"Name": "A", "Value": "1"}, {"Name": "B", "Value": "2"}])).await, Some(json!(100.0)));
        assert_eq!(sum(json!([{"Name": "B", "Value": "2"}])).await, None);
        assert_eq!(sum(json!([{"Name": "A", "Value": "2"}])).await, None);
    }
}

#[tokio::test]
async fn get_metric_data_scans_both_ways_over_several_queries_and_pages() {
    for (_b, s) in services().await {
        let t0 = base(&s).await;
        let mut data = Vec::new();
        for m in 0..5i64 {
            for v in [1, 2, 3, 4] {
                data.push(json!({"MetricName": "Cpu", "Dimensions": [{"Name": "Svc", "Value": "web"}],
                                 "Timestamp": secs(t0 + m * MINUTE), "Value": v * (m + 1), "Unit": "Percent"}));
            }
            data.push(json!({"MetricName": "Mem", "Timestamp": secs(t0 + m * MINUTE), "Value": 100 + m}));
        }
        call(&s, "PutMetricData", json!({"Namespace": "App", "MetricData": data})).await.unwrap();
        let cpu = json!({"Namespace": "App", "MetricName": "Cpu", "Dimensions": [{"Name": "Svc", "Value": "web"}]});
        let mem = json!({"Namespace": "App", "MetricName": "Mem"});
        let queries = json!([
            {"Id": "cpu_sum", "MetricStat": {"Metric": cpu, "Period": 60, "Stat": "Sum"}},
            {"Id": "mem", "MetricStat": {"Metric": mem, "Period": 120, "Stat": "Average"}, "Label": "memory"},
            {"Id": "cpu_p50", "MetricStat": {"Metric": cpu, "Period": 300, "Stat": "p50", "Unit": "Percent"}},
            {"Id": "hidden", "MetricStat": {"Metric": mem, "Period": 60, "Stat": "Maximum"}, "ReturnData": false},
        ]);
        let input = |scan: Option<&str>, max: Option<i64>, token: Option<&Value>| {
            let mut i = json!({"MetricDataQueries": queries, "StartTime": secs(t0), "EndTime": secs(t0 + HOUR)});
            if let Some(scan) = scan {
                i["ScanBy"] = json!(scan);
            }
            if let Some(max) = max {
                i["MaxDatapoints"] = json!(max);
            }
            if let Some(token) = token {
                i["NextToken"] = token.clone();
            }
            i
        };
        let seconds = |ms: i64| ms as f64 / 1000.0;
        let ascending = call(&s, "GetMetricData", input(Some("TimestampAscending"), None, None)).await.unwrap();
        assert!(ascending.get("NextToken").is_none());
        assert_eq!(ascending["Messages"], json!([]));
        let results = ascending["MetricDataResults"].as_array().unwrap();
        assert_eq!(results.len(), 3);
        assert_eq!(
            results[0],
            json!({"Id": "cpu_sum", "Label": "Cpu", "StatusCode": "Complete",
                   "Timestamps": (0..5).map(|m| seconds(t0 + m * MINUTE)).collect::<Vec<_>>(),
                   "Values": [10.0, 20.0, 30.0, 40.0, 50.0]})
        );
        assert_eq!(results[1]["Label"], "memory");
        assert_eq!(results[1]["Values"], json!([100.5, 102.5, 104.0]));
        assert_eq!(results[1]["Timestamps"], json!([seconds(t0), seconds(t0 + 2 * MINUTE), seconds(t0 + 4 * MINUTE)]));
        // 20 values, 1..=4 times 1..=5: the 10th smallest is 6.
        assert_eq!(results[2]["Values"], json!([6.0]));

        let descending = call(&s, "GetMetricData", input(None, None, None)).await.unwrap();
        let results = descending["MetricDataResults"].as_array().unwrap();
        assert_eq!(results[0]["Values"], json!([50.0, 40.0, 30.0, 20.0, 10.0]));
        assert_eq!(results[1]["Values"], json!([104.0, 102.5, 100.5]));

        // Pages of 3 values give the same series, the same way round.
        for scan in ["TimestampAscending", "TimestampDescending"] {
            let whole = call(&s, "GetMetricData", input(Some(scan), None, None)).await.unwrap();
            let mut got: Vec<(String, Vec<Value>, Vec<Value>)> = Vec::new();
            let mut token: Option<Value> = None;
            let mut pages = 0;
            loop {
                let page = call(&s, "GetMetricData", input(Some(scan), Some(3), token.as_ref())).await.unwrap();
                pages += 1;
                let mut count = 0;
                for r in page["MetricDataResults"].as_array().unwrap() {
                    let id = r["Id"].as_str().unwrap().to_string();
                    let (t, v) = (r["Timestamps"].as_array().unwrap(), r["Values"].as_array().unwrap());
                    count += v.len();
                    match got.iter_mut().find(|g| g.0 == id) {
                        Some(g) => {
                            g.1.extend(t.iter().cloned());
                            g.2.extend(v.iter().cloned());
                        }
                        None => got.push((id, t.clone(), v.clone())),
                    }
                }
                assert!(count <= 3);
                match page.get("NextToken") {
                    Some(t) => {
                        assert!(
                            page["MetricDataResults"]
                                .as_array()
                                .unwrap()
                                .iter()
                                .any(|r| r["StatusCode"] == "PartialData")
                        );
                        token = Some(t.clone());
                    }
                    None => break,
                }
                assert!(pages < 10, "paging does not end");
            }
            assert_eq!(pages, 3);
            for r in whole["MetricDataResults"].as_array().unwrap() {
                let g = got.iter().find(|g| g.0 == r["Id"].as_str().unwrap()).unwrap();
                assert_eq!((json!(g.1), json!(g.2)), (r["Timestamps"].clone(), r["Values"].clone()), "{scan}");
            }
        }

        let bad_token = input(None, None, Some(&json!("not-a-token")));
        assert_eq!(code(call(&s, "GetMetricData", bad_token).await), "InvalidNextToken");
        let math = json!({"MetricDataQueries": [{"Id": "e1", "Expression": "SUM(METRICS())"}],
                          "StartTime": secs(t0), "EndTime": secs(t0 + HOUR)});
        let refused = call(&s, "GetMetricData", math).await.unwrap_err();
        assert_eq!(refused.code, "InvalidParameterValue");
        assert!(refused.message.contains("Expression"), "{}", refused.message);
        let bad_id = json!({
            "MetricDataQueries": [{"Id": "Cpu", "MetricStat": {"Metric": mem, "Period": 60, "Stat": "Sum"}}],
            "StartTime": secs(t0), "EndTime": secs(t0 + HOUR)});
        assert_eq!(code(call(&s, "GetMetricData", bad_id).await), "InvalidParameterValue");
        let twice = json!({"MetricDataQueries": [
            {"Id": "a", "MetricStat": {"Metric": mem, "Period": 60, "Stat": "Sum"}},
            {"Id": "a", "MetricStat": {"Metric": mem, "Period": 60, "Stat": "Sum"}}],
            "StartTime": secs(t0), "EndTime": secs(t0 + HOUR)});
        assert_eq!(code(call(&s, "GetMetricData", twice).await), "InvalidParameterValue");
        let other_account = json!({"MetricDataQueries": [
            {"Id": "a", "AccountId": "111122223333", "MetricStat": {"Metric": mem, "Period": 60, "Stat": "Sum"}}],
            "StartTime": secs(t0), "EndTime": secs(t0 + HOUR)});
        let answer = call(&s, "GetMetricData", other_account).await.unwrap();
        assert_eq!(answer["MetricDataResults"][0]["StatusCode"], "Forbidden");
        assert_eq!(answer["MetricDataResults"][0]["Values"], json!([]));
    }
}

#[tokio::test]
async fn list_metrics_filters_and_pages() {
    for (_b, s) in services().await {
        let t0 = base(&s).await;
        for batch in 0..2 {
            let data: Vec<Value> = (0..600)
                .map(|i| {
                    let n = batch * 600 + i;
                    json!({"MetricName": format!("M{n:04}"), "Timestamp": secs(t0),  "Value": 1,
                           "Dimensions": [{"Name": "Host", "Value": format!("h{}", n % 3)},
                                          {"Name": "Az", "Value": "a"}]})
                })
                .collect();
            call(&s, "PutMetricData", json!({"Namespace": "Fleet", "MetricData": data})).await.unwrap();
        }
        call(&s, "PutMetricData", json!({"Namespace": "Other", "MetricData": [{"MetricName": "M0000", "Value": 1}]}))
            .await
            .unwrap();

        let mut names = Vec::new();
        let mut token: Option<Value> = None;
        let mut sizes = Vec::new();
        loop {
            let mut input = json!({"Namespace": "Fleet"});
            if let Some(t) = &token {
                input["NextToken"] = t.clone();
            }
            let page = call(&s, "ListMetrics", input).await.unwrap();
            let metrics = page["Metrics"].as_array().unwrap();
            sizes.push(metrics.len());
            names.extend(metrics.iter().map(|m| m["MetricName"].as_str().unwrap().to_string()));
            match page.get("NextToken") {
                Some(t) => token = Some(t.clone()),
                None => break,
            }
        }
        assert_eq!(sizes, [500, 500, 200]);
        let expected: Vec<String> = (0..1200).map(|n| format!("M{n:04}")).collect();
        assert_eq!(names, expected);

        let one = call(&s, "ListMetrics", json!({"MetricName": "M0004"})).await.unwrap();
        assert_eq!(
            one["Metrics"],
            json!([{"Namespace": "Fleet", "MetricName": "M0004",
                    "Dimensions": [{"Name": "Az", "Value": "a"}, {"Name": "Host", "Value": "h1"}]}])
        );
        let everywhere = call(&s, "ListMetrics", json!({"MetricName": "M0000"})).await.unwrap();
        let namespaces: Vec<&str> =
            everywhere["Metrics"].as_array().unwrap().iter().map(|m| m["Namespace"].as_str().unwrap()).collect();
        assert_eq!(namespaces, ["Fleet", "Other"]);
        assert_eq!(everywhere["Metrics"][1]["Dimensions"], json!([]));

        let count = |input: Value| {
            let s = &s;
            async move { call(s, "ListMetrics", input).await.unwrap()["Metrics"].as_array().unwrap().len() }
        };
        // A value filter, a name-only filter, both together; other dimensions may be present.
        assert_eq!(count(json!({"Dimensions": [{"Name": "Host", "Value": "h2"}]})).await, 400);
        assert_eq!(count(json!({"Namespace": "Fleet", "Dimensions": [{"Name": "Host"}]})).await, 500);
        assert_eq!(
            count(json!({"Namespace": "Fleet",
                         "Dimensions": [{"Name": "Host", "Value": "h0"}, {"Name": "Az", "Value": "a"}]}))
            .await,
            400
        );
        assert_eq!(
            count(json!({"Dimensions": [{"Name": "Host", "Value": "h0"}, {"Name": "Az", "Value": "b"}]})).await,
            0
        );
        assert_eq!(count(json!({"Namespace": "Other", "RecentlyActive": "PT3H"})).await, 1);
        assert_eq!(count(json!({"Namespace": "Other", "OwningAccount": "111122223333"})).await, 0);
        assert_eq!(code(call(&s, "ListMetrics", json!({"NextToken": "zz"})).await), "InvalidParameterValue");
        assert_eq!(code(call(&s, "ListMetrics", json!({"RecentlyActive": "PT1H"})).await), "InvalidParameterValue");
    }
}

#[tokio::test]
async fn refusals_carry_cloudwatch_codes_and_store_nothing() {
    for (_b, s) in services().await {
        let t = now(&s).await;
        let put = |data: Value| json!({"Namespace": "App", "MetricData": data});
        let refused = [
            (json!({"Namespace": "AWS/ECS", "MetricData": [{"MetricName": "M", "Value": 1}]}), "InvalidParameterValue"),
            (json!({"MetricData": [{"MetricName": "M", "Value": 1}]}), "MissingParameter"),
            (json!({"Namespace": "App"}), "MissingParameter"),
            (put(json!([{"MetricName": "M", "Value": 1, "Timestamp": secs(t - 15 * DAY)}])), "InvalidParameterValue"),
            (put(json!([{"MetricName": "M", "Value": 1, "Timestamp": secs(t + 3 * HOUR)}])), "InvalidParameterValue"),
            (put(json!([{"MetricName": "M", "Value": "NaN"}])), "InvalidParameterValue"),
            (put(json!([{"MetricName": "M", "Value": "-Infinity"}])), "InvalidParameterValue"),
            (put(json!([{"MetricName": "M", "Values": [1, "Infinity"]}])), "InvalidParameterValue"),
            (put(json!([{"MetricName": "M", "Value": 1e200}])), "InvalidParameterValue"),
            (put(json!([{"MetricName": "M", "Values": [1, 2], "Counts": [1]}])), "InvalidParameterValue"),
            (put(json!([{"MetricName": "M", "Value": 1, "Unit": "Furlongs"}])), "InvalidParameterValue"),
            (put(json!([{"MetricName": "M", "Value": 1, "StorageResolution": 5}])), "InvalidParameterValue"),
            (put(json!([{"MetricName": "M"}])), "MissingParameter"),
            (put(json!([{"Value": 1}])), "MissingParameter"),
            (
                put(json!([{"MetricName": "M", "Value": 1,
                            "StatisticValues": {"SampleCount": 1, "Sum": 1, "Minimum": 1, "Maximum": 1}}])),
                "InvalidParameterCombination",
            ),
            (
                put(json!([{"MetricName": "M",
                            "StatisticValues": {"SampleCount": 1, "Sum": 1, "Minimum": 2, "Maximum": 1}}])),
                "InvalidParameterValue",
            ),
            (
                put(json!([{"MetricName": "M", "Value": 1,
                            "Dimensions": [{"Name": "A", "Value": "1"}, {"Name": "A", "Value": "2"}]}])),
                "InvalidParameterValue",
            ),
            (
                put(json!([{"MetricName": "M", "Value": 1,
                    "Dimensions": (0..31).map(|i| json!({"Name": format!("d{i}"), "Value": "v"}))
                        .collect::<Vec<_>>()}])),
                "InvalidParameterValue",
            ),
            (
                put(json!((0..1001).map(|_| json!({"MetricName": "M", "Value": 1})).collect::<Vec<_>>())),
                "InvalidParameterValue",
            ),
        ];
        for (input, expected) in refused {
            assert_eq!(code(call(&s, "PutMetricData", input.clone()).await), expected, "{input}");
        }
        // A bad datum after a good one: nothing is stored.
        let mixed = put(json!([{"MetricName": "Kept", "Value": 1}, {"MetricName": "Kept", "Value": "NaN"}]));
        assert_eq!(code(call(&s, "PutMetricData", mixed).await), "InvalidParameterValue");
        assert_eq!(call(&s, "ListMetrics", json!({})).await.unwrap()["Metrics"], json!([]));
        // Exactly 1000 data and 30 dimensions are fine.
        let dims: Vec<Value> = (0..30).map(|i| json!({"Name": format!("d{i:02}"), "Value": "v"})).collect();
        let full: Vec<Value> = (0..1000).map(|_| json!({"MetricName": "M", "Value": 1, "Dimensions": dims})).collect();
        call(&s, "PutMetricData", put(json!(full))).await.unwrap();

        let stats = |period: Value, statistics: Value| {
            json!({"Namespace": "App", "MetricName": "M", "StartTime": secs(t - HOUR), "EndTime": secs(t),
                   "Period": period, "Statistics": statistics})
        };
        let refused = [
            (stats(json!(0), json!(["Sum"])), "InvalidParameterValue"),
            (stats(json!(45), json!(["Sum"])), "InvalidParameterValue"),
            (stats(json!(61), json!(["Sum"])), "InvalidParameterValue"),
            (stats(json!(60), json!(["Median"])), "InvalidParameterValue"),
            (stats(json!(60), json!([])), "MissingParameter"),
            (
                json!({"Namespace": "App", "MetricName": "M", "StartTime": secs(t), "EndTime": secs(t - HOUR),
                       "Period": 60, "Statistics": ["Sum"]}),
                "InvalidParameterValue",
            ),
            (
                json!({"Namespace": "App", "MetricName": "M", "StartTime": secs(t - HOUR), "EndTime": secs(t),
                       "Period": 60, "ExtendedStatistics": ["p101"]}),
                "InvalidParameterValue",
            ),
            (json!({"Namespace": "App", "MetricName": "M", "Period": 60, "Statistics": ["Sum"]}), "MissingParameter"),
        ];
        for (input, expected) in refused {
            assert_eq!(code(call(&s, "GetMetricStatistics", input.clone()).await), expected, "{input}");
        }
        let unknown_stat = json!({"MetricDataQueries": [{"Id": "a", "MetricStat": {
            "Metric": {"Namespace": "App", "MetricName": "M"}, "Period": 60, "Stat": "Median"}}],
            "StartTime": secs(t - HOUR), "EndTime": secs(t)});
        assert_eq!(code(call(&s, "GetMetricData", unknown_stat).await), "InvalidParameterValue");
        let bad_period = json!({"MetricDataQueries": [{"Id": "a", "MetricStat": {
            "Metric": {"Namespace": "App", "MetricName": "M"}, "Period": 90, "Stat": "Sum"}}],
            "StartTime": secs(t - HOUR), "EndTime": secs(t)});
        assert_eq!(code(call(&s, "GetMetricData", bad_period).await), "InvalidParameterValue");
    }
}

fn ecs_datum(metric: &str, at: i64, value: f64) -> Datum {
    Datum {
        namespace: "AWS/ECS".into(),
        metric_name: metric.into(),
        dimensions: vec![("ServiceName".into(), "web".into()), ("ClusterName".into(), "default".into())],
        timestamp_ms: at,
        value,
        unit: "Percent".into(),
    }
}

#[tokio::test]
async fn the_control_plane_records_aws_namespaces() {
    for (_b, s) in services().await {
        let t0 = base(&s).await;
        let data: Vec<Datum> = (0..6)
            .flat_map(|i| {
                [
                    ecs_datum("CPUUtilization", t0 + i * 10_000, 10.0 * i as f64),
                    ecs_datum("MemoryUtilization", t0 + i * 10_000, 50.0),
                ]
            })
            .collect();
        s.record(&data).await.unwrap();
        s.record(&[]).await.unwrap();
        let dims = json!([{"Name": "ClusterName", "Value": "default"}, {"Name": "ServiceName", "Value": "web"}]);
        let answer = call(&s, "GetMetricStatistics", stats_input("AWS/ECS", "CPUUtilization", dims, t0, t0 + HOUR, 60))
            .await
            .unwrap();
        assert_eq!(
            answer["Datapoints"],
            json!([{"Timestamp": t0 as f64 / 1000.0, "SampleCount": 6.0, "Average": 25.0, "Sum": 150.0,
                    "Minimum": 0.0, "Maximum": 50.0, "Unit": "Percent"}])
        );
        let listed = call(
            &s,
            "ListMetrics",
            json!({"Namespace": "AWS/ECS", "Dimensions": [{"Name": "ClusterName", "Value": "default"}]}),
        )
        .await
        .unwrap();
        let names: Vec<&str> =
            listed["Metrics"].as_array().unwrap().iter().map(|m| m["MetricName"].as_str().unwrap()).collect();
        assert_eq!(names, ["CPUUtilization", "MemoryUtilization"]);

        let mut bad = ecs_datum("CPUUtilization", t0, f64::NAN);
        assert!(matches!(s.record(&[bad.clone()]).await, Err(MetricsError::InvalidValue(_))));
        bad.value = 1.0;
        bad.unit = "Parsecs".into();
        assert!(matches!(s.record(&[bad]).await, Err(MetricsError::InvalidValue(_))));
    }
}

#[tokio::test]
async fn retention_deletes_old_datapoints_and_forgets_silent_metrics() {
    for (_b, s) in services().await {
        let t = now(&s).await;
        let point = |metric: &str, at: i64| NewPoint {
            namespace: "App".into(),
            metric_name: metric.into(),
            dims: Vec::new(),
            timestamp_ms: at,
            unit: "None".into(),
            samples: 1.0,
            sum: 1.0,
            min: 1.0,
            max: 1.0,
            values: Some(vec![(1.0, 1.0)]),
        };
        // Published 16 days ago and never since; published now with an old point and a new one.
        s.store.put(&[point("Silent", t - 16 * DAY)], t - 16 * DAY).await.unwrap();
        s.store.put(&[point("Live", t - 16 * DAY), point("Live", t - DAY)], t).await.unwrap();
        let all = ListFilter::default();
        assert_eq!(s.store.list(&all, None, 10).await.unwrap().len(), 2);

        retention::Retention { store: s.store.clone() }.reconcile().await.unwrap();

        let left = s.store.list(&all, None, 10).await.unwrap();
        assert_eq!(left.iter().map(|k| k.metric_name.as_str()).collect::<Vec<_>>(), ["Live"]);
        let input = json!({"Namespace": "App", "MetricName": "Live",
                           "StartTime": secs(t - 17 * DAY), "EndTime": secs(t),
                           "Period": 86400, "Statistics": ["SampleCount"]});
        let answer = call(&s, "GetMetricStatistics", input).await.unwrap();
        assert_eq!(answer["Datapoints"].as_array().unwrap().len(), 1);
        assert_eq!(answer["Datapoints"][0]["SampleCount"], json!(1.0));
        let input = json!({"Namespace": "App", "MetricName": "Silent",
                           "StartTime": secs(t - 17 * DAY), "EndTime": secs(t),
                           "Period": 86400, "Statistics": ["SampleCount"]});
        assert_eq!(call(&s, "GetMetricStatistics", input).await.unwrap()["Datapoints"], json!([]));
    }
}
