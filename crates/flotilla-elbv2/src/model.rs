//! Load balancers and target groups as stored, with ELBv2's rules: names, defaults
//! per type and protocol, health-check ranges and the attributes each kind accepts.

use crate::error::ElbError;
use flotilla_core::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LoadBalancerType {
    Application,
    Network,
}

impl LoadBalancerType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Application => "application",
            Self::Network => "network",
        }
    }

    /// The ARN's type segment (`app` or `net`).
    pub fn arn_segment(self) -> &'static str {
        match self {
            Self::Application => "app",
            Self::Network => "net",
        }
    }

    pub fn parse(s: &str) -> Result<Self, ElbError> {
        match s {
            "application" => Ok(Self::Application),
            "network" => Ok(Self::Network),
            "gateway" => Err(ElbError::config("Gateway load balancers are not supported by this endpoint")),
            other => Err(ElbError::validation(format!("Type '{other}' is not one of application, network, gateway"))),
        }
    }
}

/// A load balancer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoadBalancer {
    pub arn: String,
    pub name: String,
    pub kind: LoadBalancerType,
    /// `internet-facing` or `internal`.
    pub scheme: String,
    /// `ipv4` or `dualstack`.
    pub ip_address_type: String,
    pub dns_name: String,
    #[serde(default)]
    pub security_groups: Vec<String>,
    #[serde(default)]
    pub subnets: Vec<String>,
    pub attributes: BTreeMap<String, String>,
    /// The address its listeners listen on, once the data plane gave it one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    pub created_at: Timestamp,
    pub version: i64,
}

/// A target group's health check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HealthCheck {
    pub enabled: bool,
    pub protocol: Protocol,
    /// A port, or `traffic-port`.
    pub port: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    pub interval_seconds: i64,
    pub timeout_seconds: i64,
    pub healthy_threshold: i64,
    pub unhealthy_threshold: i64,
    /// HTTP codes that count as healthy (`200`, `200,202`, `200-299`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matcher: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Protocol {
    Http,
    Tcp,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http => "HTTP",
            Self::Tcp => "TCP",
        }
    }

    pub fn parse(s: &str) -> Result<Self, ElbError> {
        match s {
            "HTTP" => Ok(Self::Http),
            "TCP" => Ok(Self::Tcp),
            "HTTPS" | "TLS" | "UDP" | "TCP_UDP" | "GENEVE" | "QUIC" | "TCP_QUIC" => {
                Err(ElbError::config(format!("Protocol '{s}' is not supported by this endpoint yet; use HTTP or TCP")))
            }
            other => Err(ElbError::validation(format!("Protocol '{other}' is not a valid protocol"))),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetType {
    Instance,
    Ip,
}

impl TargetType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Instance => "instance",
            Self::Ip => "ip",
        }
    }

    pub fn parse(s: &str) -> Result<Self, ElbError> {
        match s {
            "instance" => Ok(Self::Instance),
            "ip" => Ok(Self::Ip),
            "lambda" | "alb" => Err(ElbError::config(format!(
                "Target type '{s}' is not supported by this endpoint; use instance or ip"
            ))),
            other => Err(ElbError::validation(format!("TargetType '{other}' is not one of instance, ip, lambda, alb"))),
        }
    }
}

/// A target group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetGroup {
    pub arn: String,
    pub name: String,
    pub protocol: Protocol,
    pub port: i64,
    pub target_type: TargetType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc_id: Option<String>,
    pub health_check: HealthCheck,
    pub attributes: BTreeMap<String, String>,
    #[serde(default)]
    pub targets: Vec<RegisteredTarget>,
    pub created_at: Timestamp,
    pub version: i64,
}

/// ELBv2's name rule for load balancers and target groups: 1 to 32 letters, digits and
/// hyphens, not starting or ending with a hyphen (and a load balancer's not starting
/// with `internal-`).
pub fn check_name(what: &str, name: &str) -> Result<(), ElbError> {
    let valid = !name.is_empty()
        && name.len() <= 32
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if !valid {
        return Err(ElbError::validation(format!(
            "{what} name '{name}' must be 1 to 32 letters, digits and hyphens, and must not begin or end with a hyphen"
        )));
    }
    if what == "Load balancer" && name.starts_with("internal-") {
        return Err(ElbError::validation(format!("Load balancer name '{name}' cannot begin with 'internal-'")));
    }
    Ok(())
}

/// A load balancer's attributes before any is modified.
pub fn default_load_balancer_attributes(kind: LoadBalancerType) -> BTreeMap<String, String> {
    let pairs: &[(&str, &str)] = match kind {
        LoadBalancerType::Application => &[
            ("access_logs.s3.enabled", "false"),
            ("deletion_protection.enabled", "false"),
            ("idle_timeout.timeout_seconds", "60"),
            ("routing.http.drop_invalid_header_fields.enabled", "false"),
            ("routing.http.x_amzn_tls_version_and_cipher_suite.enabled", "false"),
            ("routing.http.xff_client_port.enabled", "false"),
            ("routing.http.xff_header_processing.mode", "append"),
            ("routing.http2.enabled", "true"),
            ("load_balancing.cross_zone.enabled", "true"),
        ],
        LoadBalancerType::Network => &[
            ("access_logs.s3.enabled", "false"),
            ("deletion_protection.enabled", "false"),
            ("load_balancing.cross_zone.enabled", "false"),
        ],
    };
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// A target group's attributes before any is modified.
pub fn default_target_group_attributes(protocol: Protocol) -> BTreeMap<String, String> {
    let pairs: &[(&str, &str)] = match protocol {
        Protocol::Http => &[
            ("deregistration_delay.timeout_seconds", "300"),
            ("load_balancing.algorithm.type", "round_robin"),
            ("load_balancing.cross_zone.enabled", "use_load_balancer_configuration"),
            ("slow_start.duration_seconds", "0"),
            ("stickiness.enabled", "false"),
            ("stickiness.lb_cookie.duration_seconds", "86400"),
            ("stickiness.type", "lb_cookie"),
        ],
        Protocol::Tcp => &[
            ("deregistration_delay.connection_termination.enabled", "false"),
            ("deregistration_delay.timeout_seconds", "300"),
            ("load_balancing.cross_zone.enabled", "use_load_balancer_configuration"),
            ("preserve_client_ip.enabled", "true"),
            ("proxy_protocol_v2.enabled", "false"),
            ("stickiness.enabled", "false"),
            ("stickiness.type", "source_ip"),
        ],
    };
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn boolean(key: &str, value: &str) -> Result<(), ElbError> {
    match value {
        "true" | "false" => Ok(()),
        _ => Err(ElbError::validation(format!("Attribute '{key}' must be 'true' or 'false', not '{value}'"))),
    }
}

fn integer(key: &str, value: &str, min: i64, max: i64) -> Result<(), ElbError> {
    match value.parse::<i64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(()),
        _ => Err(ElbError::validation(format!(
            "Attribute '{key}' must be an integer from {min} to {max}, not '{value}'"
        ))),
    }
}

fn one_of(key: &str, value: &str, allowed: &[&str]) -> Result<(), ElbError> {
    if allowed.contains(&value) {
        Ok(())
    } else {
        Err(ElbError::validation(format!("Attribute '{key}' must be one of {}, not '{value}'", allowed.join(", "))))
    }
}

/// Applies attribute changes to `current` (whose keys are the ones this kind has),
/// checking every key and value; nothing changes when one is refused.
pub fn modify_attributes(
    current: &BTreeMap<String, String>,
    changes: &[(String, String)],
) -> Result<BTreeMap<String, String>, ElbError> {
    let mut next = current.clone();
    for (key, value) in changes {
        if !current.contains_key(key) {
            return Err(ElbError::validation(format!("Attribute key '{key}' is not recognized")));
        }
        match key.as_str() {
            k if k.ends_with(".enabled") => boolean(k, value)?,
            "idle_timeout.timeout_seconds" => integer(key, value, 1, 4000)?,
            "deregistration_delay.timeout_seconds" => integer(key, value, 0, 3600)?,
            "stickiness.lb_cookie.duration_seconds" => integer(key, value, 1, 604_800)?,
            "slow_start.duration_seconds" => {
                integer(key, value, 0, 900)?;
                if value != "0" {
                    integer(key, value, 30, 900)?;
                }
            }
            "load_balancing.algorithm.type" => {
                one_of(key, value, &["round_robin", "least_outstanding_requests", "weighted_random"])?
            }
            "load_balancing.cross_zone.enabled" => {}
            "stickiness.type" => one_of(key, value, &["lb_cookie", "app_cookie", "source_ip"])?,
            "routing.http.xff_header_processing.mode" => one_of(key, value, &["append", "preserve", "remove"])?,
            _ => {}
        }
        next.insert(key.clone(), value.clone());
    }
    // AWS: slow start works with round robin only.
    let slow_start = next.get("slow_start.duration_seconds").is_some_and(|v| v != "0");
    if let Some(algorithm) = next.get("load_balancing.algorithm.type").filter(|a| *a != "round_robin")
        && slow_start
    {
        return Err(ElbError::Config(format!(
            "Slow start mode cannot be enabled with the '{algorithm}' load balancing algorithm; use round_robin"
        )));
    }
    Ok(next)
}

/// The health check a target group gets unless told otherwise: HTTP checks `/` for
/// 200 every 30 s (5 s timeout); TCP checks connect every 30 s (10 s timeout).
pub fn default_health_check(protocol: Protocol) -> HealthCheck {
    match protocol {
        Protocol::Http => HealthCheck {
            enabled: true,
            protocol: Protocol::Http,
            port: "traffic-port".into(),
            path: Some("/".into()),
            interval_seconds: 30,
            timeout_seconds: 5,
            healthy_threshold: 5,
            unhealthy_threshold: 2,
            matcher: Some("200".into()),
        },
        Protocol::Tcp => HealthCheck {
            enabled: true,
            protocol: Protocol::Tcp,
            port: "traffic-port".into(),
            path: None,
            interval_seconds: 30,
            timeout_seconds: 10,
            healthy_threshold: 5,
            unhealthy_threshold: 2,
            matcher: None,
        },
    }
}

/// Checks a health check's ranges and consistency.
pub fn check_health_check(h: &HealthCheck) -> Result<(), ElbError> {
    let range = |name: &str, v: i64, min: i64, max: i64| {
        if (min..=max).contains(&v) {
            Ok(())
        } else {
            Err(ElbError::validation(format!("{name} must be from {min} to {max}, not {v}")))
        }
    };
    range("HealthCheckIntervalSeconds", h.interval_seconds, 5, 300)?;
    range("HealthCheckTimeoutSeconds", h.timeout_seconds, 2, 120)?;
    range("HealthyThresholdCount", h.healthy_threshold, 2, 10)?;
    range("UnhealthyThresholdCount", h.unhealthy_threshold, 2, 10)?;
    if h.timeout_seconds >= h.interval_seconds {
        return Err(ElbError::config(format!(
            "Health check timeout '{}' must be smaller than the interval '{}'",
            h.timeout_seconds, h.interval_seconds
        )));
    }
    if h.port != "traffic-port" && !h.port.parse::<u16>().is_ok_and(|p| p > 0) {
        return Err(ElbError::validation(format!("HealthCheckPort '{}' must be 'traffic-port' or 1 to 65535", h.port)));
    }
    if let Some(path) = &h.path
        && (path.is_empty() || path.len() > 1024 || !path.starts_with('/'))
    {
        return Err(ElbError::validation(format!(
            "HealthCheckPath '{path}' must start with '/' and be 1 to 1024 characters"
        )));
    }
    if h.protocol == Protocol::Tcp && h.path.is_some() {
        return Err(ElbError::config("A health check path cannot be set with the TCP health check protocol"));
    }
    if let Some(m) = &h.matcher {
        check_matcher(m)?;
    }
    Ok(())
}

/// `200`, `200,202`, `200-299`: codes from 200 to 499.
fn check_matcher(m: &str) -> Result<(), ElbError> {
    let code = |s: &str| s.parse::<u16>().ok().filter(|c| (200..=499).contains(c));
    let ok = m.split(',').all(|part| match part.split_once('-') {
        Some((a, b)) => matches!((code(a), code(b)), (Some(a), Some(b)) if a <= b),
        None => code(part).is_some(),
    });
    if ok { Ok(()) } else { Err(ElbError::validation(format!("Matcher HttpCode '{m}' must be codes from 200 to 499"))) }
}

#[cfg(test)]
mod tests;

/// A target group a forward action sends to, with its weight (0 to 999).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WeightedTargetGroup {
    pub target_group_arn: String,
    pub weight: i64,
}

/// What a listener or rule does with a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "type")]
pub enum ActionKind {
    /// Forward to one or more target groups, by weight; stickiness across them.
    Forward {
        target_groups: Vec<WeightedTargetGroup>,
        stickiness_seconds: Option<i64>,
    },
    FixedResponse {
        status_code: String,
        content_type: Option<String>,
        message_body: Option<String>,
    },
    /// `#{protocol}`, `#{host}`, `#{port}`, `#{path}` and `#{query}` keep the request's.
    Redirect {
        protocol: String,
        host: String,
        port: String,
        path: String,
        query: String,
        status_code: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Action {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<i64>,
    pub kind: ActionKind,
    /// Set when the action was given as a plain `TargetGroupArn` (echoed back so).
    #[serde(default)]
    pub plain_target_group: bool,
}

impl Action {
    /// The target groups it forwards to.
    pub fn target_groups(&self) -> Vec<&str> {
        match &self.kind {
            ActionKind::Forward { target_groups, .. } => {
                target_groups.iter().map(|t| t.target_group_arn.as_str()).collect()
            }
            _ => Vec::new(),
        }
    }
}

/// A listener: a port on its load balancer and what requests to it get by default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Listener {
    pub arn: String,
    pub load_balancer_arn: String,
    pub port: i64,
    pub protocol: Protocol,
    pub default_actions: Vec<Action>,
    pub created_at: Timestamp,
    pub version: i64,
}

/// One condition of a rule; every condition of a rule must match.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "field")]
pub enum Condition {
    /// Host names with `*` and `?` wildcards, case-insensitive.
    HostHeader {
        values: Vec<String>,
    },
    /// Paths with `*` and `?` wildcards, case-sensitive.
    PathPattern {
        values: Vec<String>,
    },
    HttpHeader {
        name: String,
        values: Vec<String>,
    },
    HttpRequestMethod {
        values: Vec<String>,
    },
    /// `key=value` pairs (a missing key matches any key), wildcards in both.
    QueryString {
        values: Vec<(Option<String>, String)>,
    },
    /// CIDR blocks.
    SourceIp {
        values: Vec<String>,
    },
}

impl Condition {
    pub fn field(&self) -> &'static str {
        match self {
            Self::HostHeader { .. } => "host-header",
            Self::PathPattern { .. } => "path-pattern",
            Self::HttpHeader { .. } => "http-header",
            Self::HttpRequestMethod { .. } => "http-request-method",
            Self::QueryString { .. } => "query-string",
            Self::SourceIp { .. } => "source-ip",
        }
    }
}

/// A listener rule; the default rule (no priority) holds the listener's default actions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rule {
    pub arn: String,
    pub listener_arn: String,
    pub priority: i64,
    pub conditions: Vec<Condition>,
    pub actions: Vec<Action>,
    pub created_at: Timestamp,
    pub version: i64,
}

/// A target registered in a target group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegisteredTarget {
    /// An instance id (`i-…`) or an IPv4 address.
    pub id: String,
    pub port: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability_zone: Option<String>,
    pub registered_at: Timestamp,
    /// Set while it drains after DeregisterTargets; gone once the delay is over.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deregistering_since: Option<Timestamp>,
}
