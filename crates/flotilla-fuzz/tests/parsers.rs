//! Each network-facing parser against arbitrary and near-valid input: it must return,
//! never panic. Cases per parser: `FLOTILLA_FUZZ_CASES` (default 256).

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use std::time::Instant;

fn cases() -> u32 {
    std::env::var("FLOTILLA_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256)
}

/// Runs `check` on `cases()` inputs from `strategy` and prints the rate.
fn fuzz<S: Strategy>(name: &str, strategy: S, check: impl Fn(S::Value)) {
    let mut runner = TestRunner::new(Config { cases: cases(), failure_persistence: None, ..Config::default() });
    let started = Instant::now();
    runner
        .run(&strategy, |input| {
            check(input);
            Ok(())
        })
        .unwrap();
    let seconds = started.elapsed().as_secs_f64().max(1e-9);
    eprintln!("fuzz parser={name} cases={} per_second={:.0}", cases(), f64::from(cases()) / seconds);
}

/// Strings made of `pieces` (the parser's own tokens) and arbitrary characters.
fn shaped(pieces: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![3 => prop::sample::select(pieces).prop_map(str::to_string), 1 => any::<String>()],
        0..24,
    )
    .prop_map(|parts| parts.concat())
}

#[test]
fn aws_json_bodies() {
    #[derive(serde::Deserialize)]
    #[allow(dead_code)]
    struct Shape {
        cluster: Option<String>,
        count: Option<i64>,
        tags: Option<Vec<flotilla_core::tag::Tag>>,
    }
    let json = shaped(&[
        "{",
        "}",
        "[",
        "]",
        "\"cluster\"",
        "\"count\"",
        "\"tags\"",
        ":",
        ",",
        "1e999",
        "-0",
        "null",
        "\"\\u0000\"",
    ]);
    fuzz("json", json, |body| {
        let _ = flotilla_protocol::parse_request::<Shape>(body.as_bytes(), "InvalidParameterException");
    });
    fuzz("task_definition", any::<Vec<u8>>(), |body| {
        if let Ok(spec) = serde_json::from_slice(&body) {
            let _ = flotilla_domain::task_definition::normalize_and_validate(spec);
        }
    });
}

#[test]
fn query_protocol_forms() {
    let form =
        shaped(&["Action=", "Version=", "&", "=", "%", "%2", "%ZZ", "+", "Names.member.", "1", "99999999999999999999"]);
    fuzz("query_form", form, |body| {
        if let Ok(q) = flotilla_protocol::QueryRequest::parse(body.as_bytes()) {
            let _ = q.list("Names");
        }
    });
    fuzz("query_bytes", any::<Vec<u8>>(), |body| {
        let _ = flotilla_protocol::QueryRequest::parse(&body);
    });
}

#[test]
fn sigv4_headers_and_query_strings() {
    let auth = shaped(&[
        "AWS4-HMAC-SHA256 ",
        "Credential=",
        "AKID/20261130/us-east-1/ecs/aws4_request",
        "SignedHeaders=",
        "host;x-amz-date",
        "Signature=",
        "00ff",
        ",",
        " ",
        "/",
        ";",
    ]);
    let query = shaped(&[
        "X-Amz-Algorithm=AWS4-HMAC-SHA256",
        "&X-Amz-Credential=",
        "AKID%2F20261130%2Fus-east-1%2Fecs%2Faws4_request",
        "&X-Amz-Date=20261130T000000Z",
        "&X-Amz-Expires=",
        "&X-Amz-SignedHeaders=host",
        "&X-Amz-Signature=",
        "%",
        "=",
    ]);
    let store = flotilla_sigv4::Credentials::new("AKID", "secret");
    fuzz("sigv4", (auth, query, any::<String>()), |(authorization, query, date)| {
        let mut headers = http::HeaderMap::new();
        headers.insert("host", http::HeaderValue::from_static("localhost"));
        if let Ok(v) = http::HeaderValue::from_str(&authorization) {
            headers.insert("authorization", v);
        }
        if let Ok(v) = http::HeaderValue::from_str(&date) {
            headers.insert("x-amz-date", v);
        }
        let request = flotilla_sigv4::SignableRequest::new("POST", "/", &query, &headers);
        let _ = flotilla_sigv4::verify(&request, Some(b"{}"), &store, std::time::SystemTime::now());
    });
}

#[test]
fn cluster_query_language() {
    let cql = shaped(&[
        "attribute:",
        "ecs.instance-type",
        " == ",
        " != ",
        " =~ ",
        " in ",
        " exists",
        " and ",
        " or ",
        "not ",
        "(",
        ")",
        "[",
        "]",
        "'",
        "*",
        "t2.*",
        "registeredAt",
        " > ",
        "2026-11-30",
        "agentConnected",
        "runningTasksCount",
        " 5 ",
        ",",
    ]);
    fuzz("cql", cql, |expression| {
        let _ = flotilla_placement::cql::parse(&expression);
    });
}

#[test]
fn registry_manifests_names_and_digests() {
    let manifest = shaped(&[
        "{",
        "}",
        "[",
        "]",
        "\"schemaVersion\":2",
        "\"mediaType\":",
        "\"application/vnd.oci.image.manifest.v1+json\"",
        "\"config\":",
        "\"layers\":",
        "\"manifests\":",
        "\"digest\":",
        "\"sha256:",
        "\"size\":",
        "-1",
        ",",
        ":",
    ]);
    fuzz("manifest", manifest, |body| {
        let _ = flotilla_registry::manifest::parse(body.as_bytes(), Some("application/vnd.oci.image.manifest.v1+json"));
        let _ = flotilla_registry::manifest::parse(body.as_bytes(), None);
    });
    let name = shaped(&["a", "/", "-", "_", ".", "__", "..", "A", "0"]);
    fuzz("repository_name", (name, any::<String>()), |(name, tag)| {
        let _ = flotilla_registry::name::is_valid_repository_name(&name);
        let _ = flotilla_registry::name::is_valid_tag(&tag);
        let _ = flotilla_registry::digest::Digest::parse(&tag);
    });
}

#[test]
fn arns_and_timestamps() {
    let arn = shaped(&["arn:", "aws:", "ecs:", "us-east-1:", "000000000000:", "cluster/", "task/", ":", "/"]);
    fuzz("arn", arn, |text| {
        let _ = text.parse::<flotilla_core::arn::Arn>();
    });
    let time = shaped(&["2026", "-", "11", "30", "T", "23:59:60", ".", "999999999", "Z", "+", "14:00", "-00:00"]);
    fuzz("iso8601", time, |text| {
        let _ = flotilla_core::time::Timestamp::parse_iso8601(&text);
    });
}

#[test]
fn eventbridge_patterns_and_target_inputs() {
    let event = serde_json::json!({
        "source": "aws.ec2", "detail-type": "x", "resources": ["arn:1", ["a", {"b": 1}]],
        "detail": {"state": "running", "n": 5, "ip": "10.1.2.3", "tags": [{"k": "a"}, {"k": null}], "o": {}}
    });
    let pattern = shaped(&[
        "{",
        "}",
        "[",
        "]",
        ":",
        ",",
        "\"source\"",
        "\"detail\"",
        "\"state\"",
        "\"$or\"",
        "\"aws.ec2\"",
        "{\"prefix\":",
        "{\"suffix\":",
        "{\"equals-ignore-case\":",
        "{\"anything-but\":",
        "{\"numeric\":",
        "\">\", 0, \"<=\", 5",
        "{\"exists\":",
        "{\"cidr\":",
        "\"10.0.0.0/8\"",
        "\"::1/64\"",
        "{\"wildcard\":",
        "\"a*b\\\\*\"",
        "true",
        "null",
        "1e999",
        "-0.5",
        "\"\\ud800\"",
    ]);
    fuzz("event_pattern", pattern, |text| {
        if let Ok(compiled) = flotilla_event_pattern::EventPattern::parse(&text) {
            let _ = compiled.matches(&event);
        }
    });
    let patterns: Vec<_> = [
        r#"{"detail": {"state": [{"anything-but": {"wildcard": "*n*"}}], "n": [{"numeric": [">", 1]}]}}"#,
        r#"{"$or": [{"resources": {"b": [{"exists": false}]}}, {"detail": {"ip": [{"cidr": "10.0.0.0/8"}]}}]}"#,
    ]
    .iter()
    .map(|p| flotilla_event_pattern::EventPattern::parse(p).unwrap())
    .collect();
    fuzz("event_pattern_events", any::<Vec<u8>>(), |body| {
        if let Ok(event) = serde_json::from_slice::<serde_json::Value>(&body) {
            for compiled in &patterns {
                let _ = compiled.matches(&event);
            }
        }
    });
    let path = shaped(&["$", ".", "detail", "tags", "[", "]", "0", "*", "99999999999999999999999", "-"]);
    let template =
        shaped(&["<a>", "<b>", "<aws.events.event>", "<aws.events.event.json>", "\"", "\\", "{", "}", ":", "<", ">"]);
    let context = flotilla_event_pattern::RuleContext { rule_arn: "arn:r", rule_name: "r", ingestion_time: "t" };
    fuzz("input_transformer", (path, template), |(path, template)| {
        if let Ok(t) =
            flotilla_event_pattern::InputTransformer::new([("a", path.as_str()), ("b", "$.detail")], &template)
        {
            let _ = t.render(&event, &context);
        }
        if let Ok(input) = flotilla_event_pattern::TargetInput::path(&path) {
            let _ = input.render(&event, &context);
        }
    });
}

#[test]
fn schedule_expressions() {
    use flotilla_schedule::{Schedule, ScheduleExpression, TimeZone};
    let zones: Vec<TimeZone> =
        ["UTC", "Europe/Paris", "Australia/Lord_Howe"].iter().map(|z| TimeZone::named(z).unwrap()).collect();
    let expression = shaped(&[
        "rate(",
        "cron(",
        "at(",
        ")",
        " ",
        "1",
        "5",
        "59",
        "0/15",
        "*",
        "?",
        ",",
        "-",
        "/",
        "L",
        "W",
        "#",
        "LW",
        "MON",
        "jan",
        "2199",
        "1970",
        "minute",
        "minutes",
        "days",
        "2026-03-29T02:30:00",
    ]);
    // Six cron fields built from the fields' own tokens, so the search is reached often.
    let field = prop::collection::vec(
        prop::sample::select(&[
            "*",
            "?",
            "0",
            "5",
            "59",
            "1-5",
            "20-2",
            "0/15",
            "*/5",
            "L",
            "LW",
            "15W",
            "6L",
            "3#2",
            "MON-FRI",
            "JAN",
            "1970-2199",
            "2026",
            ",",
        ]),
        1..3,
    )
    .prop_map(|pieces| pieces.concat());
    let cron = prop::collection::vec(field, 6).prop_map(|fields| format!("cron({})", fields.join(" ")));
    let expression = prop_oneof![expression, cron];
    fuzz("schedule_expression", (expression, any::<i64>()), |(text, after)| {
        if let Ok(parsed) = ScheduleExpression::parse(&text) {
            for zone in &zones {
                let schedule = Schedule::new(parsed.clone(), zone.clone(), after / 2);
                let _ = schedule.next_after(after);
                let _ = schedule.catch_up(after, after.saturating_add(86_400_000));
            }
        }
    });
}
