//! Rule evaluation as ALB documents it.

use super::*;
use crate::model::{Action, ActionKind, Condition, Listener, Protocol, Rule};
use flotilla_core::time::Timestamp;

#[test]
fn wildcards() {
    for (pattern, text, ci, expected) in [
        ("*.example.com", "api.example.com", true, true),
        ("*.example.com", "example.com", true, false),
        ("API.example.com", "api.EXAMPLE.com", true, true),
        ("/img/*", "/img/a/b.png", false, true),
        ("/img/*", "/IMG/a.png", false, false),
        ("/a?c", "/abc", false, true),
        ("/a?c", "/ac", false, false),
        ("*", "", false, true),
        ("a*b*c", "aXXbYYc", false, true),
        ("a*b*c", "aXXbYY", false, false),
    ] {
        assert_eq!(wildcard(pattern, text, ci), expected, "{pattern} ~ {text}");
    }
}

fn forward(tg: &str) -> Vec<Action> {
    vec![Action {
        order: None,
        kind: ActionKind::Forward {
            target_groups: vec![crate::model::WeightedTargetGroup { target_group_arn: tg.into(), weight: 1 }],
            stickiness_seconds: None,
        },
        plain_target_group: true,
    }]
}

fn rule(priority: i64, conditions: Vec<Condition>, tg: &str) -> Rule {
    Rule {
        arn: format!("r{priority}"),
        listener_arn: "l".into(),
        priority,
        conditions,
        actions: forward(tg),
        created_at: Timestamp(0),
        version: 1,
    }
}

fn target(actions: &[Action]) -> &str {
    match &actions[0].kind {
        ActionKind::Forward { target_groups, .. } => &target_groups[0].target_group_arn,
        _ => "other",
    }
}

#[test]
fn the_first_matching_rule_by_priority_wins_else_the_default() {
    let listener = Listener {
        arn: "l".into(),
        load_balancer_arn: "lb".into(),
        port: 80,
        protocol: Protocol::Http,
        default_actions: forward("default"),
        created_at: Timestamp(0),
        version: 1,
    };
    let host = |v: &str| Condition::HostHeader { values: vec![v.into()] };
    let path = |v: &str| Condition::PathPattern { values: vec![v.into()] };
    let rules = vec![
        rule(20, vec![host("api.example.com")], "api"),
        rule(10, vec![host("api.example.com"), path("/v2/*")], "api-v2"),
        rule(30, vec![Condition::HttpRequestMethod { values: vec!["DELETE".into()] }], "deletes"),
        rule(40, vec![Condition::HttpHeader { name: "X-Canary".into(), values: vec!["y*".into()] }], "canary"),
        rule(
            50,
            vec![Condition::QueryString { values: vec![(Some("v".into()), "2".into()), (None, "beta".into())] }],
            "query",
        ),
        rule(60, vec![Condition::SourceIp { values: vec!["10.0.0.0/8".into()] }], "internal"),
    ];
    let view =
        |host: &'static str, path: &'static str| RequestView { host, path, method: "GET", ..RequestView::default() };
    assert_eq!(target(route(&listener, &rules, &view("api.example.com", "/v2/users"))), "api-v2");
    assert_eq!(target(route(&listener, &rules, &view("API.example.com", "/v1"))), "api");
    assert_eq!(target(route(&listener, &rules, &view("www.example.com", "/"))), "default");
    let delete = RequestView { method: "DELETE", ..view("x", "/") };
    assert_eq!(target(route(&listener, &rules, &delete)), "deletes");
    let canary = RequestView { headers: vec![("x-canary", "YES")], ..view("x", "/") };
    assert_eq!(target(route(&listener, &rules, &canary)), "canary");
    let query = RequestView { query: "a=1&v=2", ..view("x", "/") };
    assert_eq!(target(route(&listener, &rules, &query)), "query");
    let any_key = RequestView { query: "flag=Beta", ..view("x", "/") };
    assert_eq!(target(route(&listener, &rules, &any_key)), "query");
    let inside = RequestView { source: Some("10.1.2.3".parse().unwrap()), ..view("x", "/") };
    assert_eq!(target(route(&listener, &rules, &inside)), "internal");
    let outside = RequestView { source: Some("192.168.1.1".parse().unwrap()), ..view("x", "/") };
    assert_eq!(target(route(&listener, &rules, &outside)), "default");
}

#[test]
fn redirects_fill_their_placeholders() {
    let r =
        RequestView { host: "example.com", path: "/old/page", query: "a=1", method: "GET", ..RequestView::default() };
    let keep = ("#{protocol}", "#{host}", "#{port}", "/new/#{path}", "#{query}");
    assert_eq!(redirect_location(keep, &r, 80), "http://example.com/new/old/page?a=1");
    assert_eq!(redirect_location(keep, &r, 8080), "http://example.com:8080/new/old/page?a=1");
    let https = ("HTTPS", "#{host}", "443", "/#{path}", "");
    assert_eq!(redirect_location(https, &r, 80), "https://example.com/old/page");
}
