//! RegisterTargets, DeregisterTargets and DescribeTargetHealth.
//!
//! A deregistered target drains for the target group's
//! `deregistration_delay.timeout_seconds`, then is gone. Until the data plane's
//! health checks run, a target in use shows `initial` (`Elb.RegistrationInProgress`);
//! one of a target group no load balancer uses shows `unused` (`Target.NotInUse`).

use crate::error::{ElbError, Result};
use crate::listeners::load_balancers_of;
use crate::load_balancers::members;
use crate::model::{RegisteredTarget, TargetGroup, TargetType};
use crate::params::{Params, required};
use crate::{Answer, ElbService};
use flotilla_core::time::Timestamp;
use flotilla_protocol::QueryRequest;

const UPDATE_ATTEMPTS: usize = 8;
/// ELBv2's quota of targets per target group.
const MAX_TARGETS: usize = 1000;

struct Given {
    id: String,
    port: Option<i64>,
    availability_zone: Option<String>,
}

fn read_targets(q: &QueryRequest, target_type: TargetType) -> Result<Vec<Given>> {
    let mut out = Vec::new();
    for (i, m) in Params::of(q).members("Targets")?.iter().enumerate() {
        let whole = format!("Targets.member.{}", i + 1);
        let id = m.required("Id", &whole)?.to_string();
        let valid = match target_type {
            TargetType::Instance => {
                id.strip_prefix("i-").is_some_and(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_hexdigit()))
            }
            TargetType::Ip => id.parse::<std::net::Ipv4Addr>().is_ok(),
        };
        if !valid {
            return Err(ElbError::InvalidTarget(format!(
                "The target Id '{id}' is not a valid {} target",
                target_type.as_str()
            )));
        }
        out.push(Given {
            id,
            port: m.integer("Port", 1, 65535)?,
            availability_zone: m.get("AvailabilityZone").map(str::to_string),
        });
    }
    Ok(out)
}

/// A target's (state, reason, description) as DescribeTargetHealth shows it.
pub(crate) fn state_of(
    t: &RegisteredTarget,
    in_use: bool,
    checks_enabled: bool,
    recorded: &[crate::store::TargetHealthRecord],
) -> (&'static str, &'static str, String) {
    if t.deregistering_since.is_some() {
        ("draining", "Target.DeregistrationInProgress", "Target deregistration is in progress".into())
    } else if !in_use {
        ("unused", "Target.NotInUse", "Target group is not configured to receive traffic from the load balancer".into())
    } else if !checks_enabled {
        ("unavailable", "Target.HealthCheckDisabled", "Health checks are disabled".into())
    } else {
        match recorded.iter().find(|r| r.target_id == t.id && r.port == t.port) {
            Some(r) if r.state == "healthy" => ("healthy", "", String::new()),
            Some(r) => (
                "unhealthy",
                reason_code(r.reason.as_deref()),
                r.description.clone().unwrap_or_else(|| "Health checks failed".into()),
            ),
            None => ("initial", "Elb.RegistrationInProgress", "Target registration is in progress".into()),
        }
    }
}

/// A recorded reason as one of ELBv2's reason codes.
fn reason_code(reason: Option<&str>) -> &'static str {
    match reason {
        Some("Target.ResponseCodeMismatch") => "Target.ResponseCodeMismatch",
        Some("Target.Timeout") => "Target.Timeout",
        Some("Target.InvalidState") => "Target.InvalidState",
        _ => "Target.FailedHealthChecks",
    }
}

/// One line of DescribeTargetHealth.
struct HealthRow {
    id: String,
    port: i64,
    availability_zone: Option<String>,
    state: &'static str,
    reason: &'static str,
    description: String,
}

impl HealthRow {
    fn of(t: &RegisteredTarget, (state, reason, description): (&'static str, &'static str, String)) -> Self {
        Self {
            id: t.id.clone(),
            port: t.port,
            availability_zone: t.availability_zone.clone(),
            state,
            reason,
            description,
        }
    }
}

/// Drops targets whose draining is over.
pub(crate) fn prune(tg: &mut TargetGroup, now: Timestamp) {
    let delay_ms =
        tg.attributes.get("deregistration_delay.timeout_seconds").and_then(|v| v.parse::<i64>().ok()).unwrap_or(300)
            * 1000;
    tg.targets.retain(|t| t.deregistering_since.is_none_or(|since| now.0 - since.0 < delay_ms));
}

pub(crate) async fn change(svc: &ElbService, arn: &str, apply: impl Fn(&mut TargetGroup) -> Result<()>) -> Result<()> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let mut tg = svc
            .store
            .get::<TargetGroup>(arn)
            .await?
            .ok_or_else(|| ElbError::TargetGroupNotFound(format!("Target group '{arn}' not found")))?;
        apply(&mut tg)?;
        match svc.store.update(&tg).await {
            Ok(_) => return Ok(()),
            Err(e) if e.is_conflict() && attempt < UPDATE_ATTEMPTS => continue,
            Err(e) => return Err(e),
        }
    }
}

async fn target_type_of(svc: &ElbService, arn: &str) -> Result<TargetType> {
    Ok(svc
        .store
        .get::<TargetGroup>(arn)
        .await?
        .ok_or_else(|| ElbError::TargetGroupNotFound(format!("Target group '{arn}' not found")))?
        .target_type)
}

pub(crate) async fn register(svc: &ElbService, q: &QueryRequest) -> Result<Answer> {
    let arn = required(q, "TargetGroupArn")?;
    let given = read_targets(q, target_type_of(svc, arn).await?)?;
    if given.is_empty() {
        return Err(ElbError::validation("Targets must name at least one target"));
    }
    let now = Timestamp::now();
    change(svc, arn, |tg| {
        prune(tg, now);
        for g in &given {
            let port = g.port.unwrap_or(tg.port);
            match tg.targets.iter_mut().find(|t| t.id == g.id && t.port == port) {
                // Registering again ends a drain; otherwise it changes nothing.
                Some(t) => t.deregistering_since = None,
                None => tg.targets.push(RegisteredTarget {
                    id: g.id.clone(),
                    port,
                    availability_zone: g.availability_zone.clone(),
                    registered_at: now,
                    deregistering_since: None,
                }),
            }
        }
        if tg.targets.len() > MAX_TARGETS {
            return Err(ElbError::TooManyTargets(format!("A target group can have at most {MAX_TARGETS} targets")));
        }
        Ok(())
    })
    .await?;
    Ok(Answer::empty())
}

pub(crate) async fn deregister(svc: &ElbService, q: &QueryRequest) -> Result<Answer> {
    let arn = required(q, "TargetGroupArn")?;
    let given = read_targets(q, target_type_of(svc, arn).await?)?;
    if given.is_empty() {
        return Err(ElbError::validation("Targets must name at least one target"));
    }
    let now = Timestamp::now();
    change(svc, arn, |tg| {
        prune(tg, now);
        for g in &given {
            let port = g.port.unwrap_or(tg.port);
            match tg.targets.iter_mut().find(|t| t.id == g.id && t.port == port) {
                Some(t) => {
                    t.deregistering_since.get_or_insert(now);
                }
                None => {
                    return Err(ElbError::InvalidTarget(format!(
                        "The target '{}' on port {port} is not registered in this target group",
                        g.id
                    )));
                }
            }
        }
        Ok(())
    })
    .await?;
    Ok(Answer::empty())
}

pub(crate) async fn describe_health(svc: &ElbService, q: &QueryRequest) -> Result<Answer> {
    let arn = required(q, "TargetGroupArn")?;
    let mut tg = svc
        .store
        .get::<TargetGroup>(arn)
        .await?
        .ok_or_else(|| ElbError::TargetGroupNotFound(format!("Target group '{arn}' not found")))?;
    prune(&mut tg, Timestamp::now());
    let in_use = !load_balancers_of(svc, arn).await?.is_empty();
    let recorded = svc.store.health(arn).await?;
    let asked = read_targets(q, tg.target_type)?;
    let mut rows: Vec<HealthRow> = Vec::new();
    let describe = |t: &RegisteredTarget| state_of(t, in_use, tg.health_check.enabled, &recorded);
    if asked.is_empty() {
        for t in &tg.targets {
            rows.push(HealthRow::of(t, describe(t)));
        }
    } else {
        for g in &asked {
            let port = g.port.unwrap_or(tg.port);
            match tg.targets.iter().find(|t| t.id == g.id && t.port == port) {
                Some(t) => rows.push(HealthRow::of(t, describe(t))),
                None => rows.push(HealthRow {
                    id: g.id.clone(),
                    port,
                    availability_zone: None,
                    state: "unused",
                    reason: "Target.NotRegistered",
                    description: "Target is not registered to the target group".into(),
                }),
            }
        }
    }
    let health_port = tg.health_check.port.clone();
    Ok(Answer::new(move |w| {
        members(w, "TargetHealthDescriptions", &rows, |w, r| {
            w.open("Target").element("Id", &r.id).element("Port", &r.port.to_string());
            if let Some(az) = &r.availability_zone {
                w.element("AvailabilityZone", az);
            }
            w.close();
            let shown_port = if health_port == "traffic-port" { r.port.to_string() } else { health_port.clone() };
            w.element("HealthCheckPort", &shown_port);
            w.open("TargetHealth").element("State", r.state);
            if !r.reason.is_empty() {
                w.element("Reason", r.reason).element("Description", &r.description);
            }
            w.close();
        });
    }))
}
