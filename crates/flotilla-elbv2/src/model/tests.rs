//! The rules of names, attributes and health checks.

use super::*;

#[test]
fn names_follow_elbv2s_rule() {
    for ok in ["a", "web-1", &"x".repeat(32)] {
        assert!(check_name("Load balancer", ok).is_ok(), "{ok}");
    }
    for bad in ["", "-web", "web-", "web_1", &"x".repeat(33), "internal-web"] {
        assert!(check_name("Load balancer", bad).is_err(), "{bad}");
    }
    assert!(check_name("Target group", "internal-web").is_ok(), "only load balancers reserve internal-");
}

#[test]
fn attributes_are_checked_and_applied_all_or_nothing() {
    let current = default_load_balancer_attributes(LoadBalancerType::Application);
    let set = |k: &str, v: &str| vec![(k.to_string(), v.to_string())];
    let next = modify_attributes(&current, &set("idle_timeout.timeout_seconds", "120")).unwrap();
    assert_eq!(next["idle_timeout.timeout_seconds"], "120");
    for (k, v) in [
        ("idle_timeout.timeout_seconds", "0"),
        ("idle_timeout.timeout_seconds", "4001"),
        ("deletion_protection.enabled", "yes"),
        ("no_such.key", "1"),
    ] {
        assert!(modify_attributes(&current, &set(k, v)).is_err(), "{k}={v}");
    }
    let mixed = vec![
        ("deletion_protection.enabled".to_string(), "true".to_string()),
        ("idle_timeout.timeout_seconds".to_string(), "x".to_string()),
    ];
    assert!(modify_attributes(&current, &mixed).is_err());

    let tg = default_target_group_attributes(Protocol::Http);
    assert!(modify_attributes(&tg, &set("slow_start.duration_seconds", "10")).is_err(), "0 or 30 to 900");
    assert!(modify_attributes(&tg, &set("slow_start.duration_seconds", "30")).is_ok());
    assert!(modify_attributes(&tg, &set("load_balancing.algorithm.type", "least_outstanding_requests")).is_ok());
    let slow = modify_attributes(&tg, &set("slow_start.duration_seconds", "30")).unwrap();
    let refused = modify_attributes(&slow, &set("load_balancing.algorithm.type", "least_outstanding_requests"));
    assert!(matches!(refused, Err(ElbError::Config(_))), "slow start works with round robin only: {refused:?}");
    assert!(modify_attributes(&tg, &set("deregistration_delay.timeout_seconds", "3601")).is_err());
    assert!(!default_target_group_attributes(Protocol::Tcp).contains_key("slow_start.duration_seconds"));
}

#[test]
fn health_checks_keep_to_their_ranges() {
    let mut h = default_health_check(Protocol::Http);
    assert!(check_health_check(&h).is_ok());
    h.timeout_seconds = h.interval_seconds;
    assert!(check_health_check(&h).is_err(), "the timeout must be under the interval");
    for matcher in ["200", "200,202", "200-299", "200-399,404"] {
        let h = HealthCheck { matcher: Some(matcher.into()), ..default_health_check(Protocol::Http) };
        assert!(check_health_check(&h).is_ok(), "{matcher}");
    }
    for matcher in ["", "100", "299-200", "abc", "500"] {
        let h = HealthCheck { matcher: Some(matcher.into()), ..default_health_check(Protocol::Http) };
        assert!(check_health_check(&h).is_err(), "{matcher}");
    }
    let h = HealthCheck { path: Some("/".into()), ..default_health_check(Protocol::Tcp) };
    assert!(check_health_check(&h).is_err(), "TCP checks have no path");
    let h = HealthCheck { port: "0".into(), ..default_health_check(Protocol::Tcp) };
    assert!(check_health_check(&h).is_err());
}
