//! Matching benchmark: one event against 1,000 compiled rules, as PutEvents does.
//!
//! Run with `cargo bench -p flotilla-event-pattern` (release profile). Prints one
//! machine-readable line per figure; nothing here fails on slowness.

use std::hint::black_box;
use std::time::Instant;

use flotilla_event_pattern::{EventPattern, PatternSet};
use serde_json::{Value, json};

const SOURCES: [&str; 8] =
    ["aws.ec2", "aws.s3", "aws.ecs", "aws.lambda", "com.shop.orders", "com.shop.cart", "aws.iam", "aws.sqs"];

/// The `i`-th rule: a realistic mix of exact, prefix, numeric, anything-but,
/// wildcard, cidr, exists and `$or` patterns over eight sources.
fn rule(i: usize) -> String {
    let source = SOURCES[i % SOURCES.len()];
    match i % 10 {
        0 => format!(r#"{{"source": ["{source}"], "detail-type": ["State Change {i}"]}}"#),
        1 => format!(
            r#"{{"source": ["{source}"], "detail": {{"state": ["running", "pending"], "id": [{{"prefix": "i-{i:03}"}}]}}}}"#
        ),
        2 => format!(
            r#"{{"source": ["{source}"], "detail": {{"amount": [{{"numeric": [">", {i}, "<=", {}]}}]}}}}"#,
            i + 500
        ),
        3 => format!(
            r#"{{"source": ["{source}"], "detail": {{"state": [{{"anything-but": ["stopped", "terminated"]}}], "n": [{i}]}}}}"#
        ),
        4 => format!(
            r#"{{"source": [{{"prefix": "com.shop"}}], "detail": {{"path": [{{"wildcard": "*/orders/{i}/*"}}]}}}}"#
        ),
        5 => format!(r#"{{"source": ["{source}"], "detail": {{"ip": [{{"cidr": "10.{}.0.0/16"}}]}}}}"#, i % 256),
        6 => format!(
            r#"{{"source": ["{source}"], "detail": {{"error": [{{"exists": false}}], "user": [{{"equals-ignore-case": "USER{i}"}}]}}}}"#
        ),
        7 => format!(
            r#"{{"source": ["{source}"], "$or": [{{"detail": {{"a": ["{i}"]}}}}, {{"detail": {{"b": [{{"suffix": ".{i}"}}]}}}}]}}"#
        ),
        8 => format!(r#"{{"account": ["{:012}"], "region": ["us-east-1", "eu-west-1"]}}"#, i),
        _ => format!(r#"{{"source": ["{source}"], "resources": [{{"prefix": "arn:aws:{}:us-east-1:"}}]}}"#, i % 7),
    }
}

fn events() -> Vec<(&'static str, Value)> {
    vec![
        (
            "orders",
            json!({
                "version": "0", "id": "1", "detail-type": "State Change 40", "source": "com.shop.orders",
                "account": "000000000040", "time": "2026-01-01T00:00:00Z", "region": "us-east-1",
                "resources": ["arn:aws:ecs:us-east-1:000000000000:task/x"],
                "detail": {"state": "running", "id": "i-040", "amount": 250, "n": 43, "path": "/v1/orders/44/items",
                           "ip": "10.45.1.2", "user": "user46", "a": "47", "b": "file.47",
                           "items": [{"sku": "a", "qty": 1}, {"sku": "b", "qty": 2}]}
            }),
        ),
        (
            "unmatched",
            json!({
                "version": "0", "id": "2", "detail-type": "Other", "source": "partner.unknown",
                "account": "999999999999", "time": "2026-01-01T00:00:00Z", "region": "ap-south-1",
                "resources": [], "detail": {"x": 1}
            }),
        ),
    ]
}

fn main() {
    let texts: Vec<String> = (0..1000).map(rule).collect();
    let started = Instant::now();
    let rules: Vec<EventPattern> =
        texts.iter().map(|t| EventPattern::parse(t).unwrap_or_else(|e| panic!("{t}: {e}"))).collect();
    let compile_us = started.elapsed().as_secs_f64() * 1e6 / rules.len() as f64;
    println!("bench=event_pattern_compile rules={} us_per_rule={compile_us:.2}", rules.len());

    for (name, event) in events() {
        let rounds = 2000;
        let mut matched = 0;
        let started = Instant::now();
        for _ in 0..rounds {
            matched = rules.iter().filter(|r| r.matches(black_box(&event))).count();
        }
        let us_per_event = started.elapsed().as_secs_f64() * 1e6 / f64::from(rounds);
        println!(
            "bench=event_pattern_match event={name} rules={} matched={matched} us_per_event={us_per_event:.2} ns_per_rule={:.1}",
            rules.len(),
            us_per_event * 1000.0 / rules.len() as f64
        );
    }

    let mut set = PatternSet::new();
    for (i, rule) in rules.iter().enumerate() {
        set.insert(i, rule.clone());
    }
    for (name, event) in events() {
        let rounds = 2000;
        let mut matched = 0;
        let started = Instant::now();
        for _ in 0..rounds {
            matched = set.matching(black_box(&event)).len();
        }
        let us_per_event = started.elapsed().as_secs_f64() * 1e6 / f64::from(rounds);
        println!(
            "bench=event_pattern_set_match event={name} rules={} matched={matched} us_per_event={us_per_event:.2}",
            set.len()
        );
    }
}
