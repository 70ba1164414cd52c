//! CreateTargetGroup, DescribeTargetGroups, ModifyTargetGroup, DeleteTargetGroup and
//! their attributes.

use crate::error::{ElbError, Result};
use crate::listeners::load_balancers_of;
use crate::load_balancers::{self, members, string_members, write_attributes};
use crate::model::{
    HealthCheck, Protocol, TargetGroup, TargetType, check_health_check, check_name, default_health_check,
    default_target_group_attributes, modify_attributes,
};
use crate::params::{boolean, integer, page, pairs, required};
use crate::tags::tags_of_request;
use crate::{Answer, ElbService};
use flotilla_core::time::Timestamp;
use flotilla_protocol::{QueryRequest, XmlWriter};

const UPDATE_ATTEMPTS: usize = 8;

fn write_target_group(w: &mut XmlWriter, (tg, lbs): &(TargetGroup, Vec<String>)) {
    let h = &tg.health_check;
    w.element("TargetGroupArn", &tg.arn)
        .element("TargetGroupName", &tg.name)
        .element("Protocol", tg.protocol.as_str())
        .element("Port", &tg.port.to_string());
    if let Some(vpc) = &tg.vpc_id {
        w.element("VpcId", vpc);
    }
    w.element("HealthCheckProtocol", h.protocol.as_str())
        .element("HealthCheckPort", &h.port)
        .element("HealthCheckEnabled", if h.enabled { "true" } else { "false" })
        .element("HealthCheckIntervalSeconds", &h.interval_seconds.to_string())
        .element("HealthCheckTimeoutSeconds", &h.timeout_seconds.to_string())
        .element("HealthyThresholdCount", &h.healthy_threshold.to_string())
        .element("UnhealthyThresholdCount", &h.unhealthy_threshold.to_string());
    if let Some(path) = &h.path {
        w.element("HealthCheckPath", path);
    }
    if let Some(m) = &h.matcher {
        w.open("Matcher").element("HttpCode", m).close();
    }
    string_members(w, "LoadBalancerArns", lbs);
    w.element("TargetType", tg.target_type.as_str());
    if let Some(v) = &tg.protocol_version {
        w.element("ProtocolVersion", v);
    }
    w.element("IpAddressType", "ipv4");
}

/// The target groups with the load balancers that use each.
async fn with_load_balancers(svc: &ElbService, tgs: Vec<TargetGroup>) -> Result<Vec<(TargetGroup, Vec<String>)>> {
    let mut out = Vec::new();
    for tg in tgs {
        let lbs = load_balancers_of(svc, &tg.arn).await?;
        out.push((tg, lbs));
    }
    Ok(out)
}

fn answer_target_groups(tgs: Vec<(TargetGroup, Vec<String>)>, next: Option<String>) -> Answer {
    Answer::new(move |w| {
        members(w, "TargetGroups", &tgs, write_target_group);
        if let Some(m) = &next {
            w.element("NextMarker", m);
        }
    })
}

async fn find(svc: &ElbService, arn: &str) -> Result<TargetGroup> {
    svc.store
        .get::<TargetGroup>(arn)
        .await?
        .ok_or_else(|| ElbError::TargetGroupNotFound(format!("Target group '{arn}' not found")))
}

/// Applies the request's health-check parameters to `h` and checks the result.
fn health_check(q: &QueryRequest, mut h: HealthCheck) -> Result<HealthCheck> {
    if let Some(p) = q.get("HealthCheckProtocol") {
        let protocol = Protocol::parse(p)?;
        if protocol != h.protocol {
            h = HealthCheck { enabled: h.enabled, port: h.port.clone(), ..default_health_check(protocol) };
            if protocol == Protocol::Http && q.get("Matcher.HttpCode").is_none() {
                // An HTTP check of a TCP target group accepts any success or redirect.
                h.matcher = Some("200-399".into());
            }
        }
    }
    if let Some(port) = q.get("HealthCheckPort") {
        h.port = port.to_string();
    }
    if let Some(enabled) = boolean(q, "HealthCheckEnabled")? {
        h.enabled = enabled;
    }
    if let Some(path) = q.get("HealthCheckPath") {
        h.path = Some(path.to_string());
    }
    if let Some(v) = integer(q, "HealthCheckIntervalSeconds", 5, 300)? {
        h.interval_seconds = v;
    }
    if let Some(v) = integer(q, "HealthCheckTimeoutSeconds", 2, 120)? {
        h.timeout_seconds = v;
    }
    if let Some(v) = integer(q, "HealthyThresholdCount", 2, 10)? {
        h.healthy_threshold = v;
    }
    if let Some(v) = integer(q, "UnhealthyThresholdCount", 2, 10)? {
        h.unhealthy_threshold = v;
    }
    if let Some(code) = q.get("Matcher.HttpCode") {
        if h.protocol == Protocol::Tcp {
            return Err(ElbError::config("A matcher cannot be set with the TCP health check protocol"));
        }
        h.matcher = Some(code.to_string());
    }
    if q.get("Matcher.GrpcCode").is_some() {
        return Err(ElbError::config("gRPC matchers are not supported by this endpoint"));
    }
    check_health_check(&h)?;
    Ok(h)
}

pub(crate) async fn create(svc: &ElbService, q: &QueryRequest) -> Result<Answer> {
    let name = required(q, "Name")?;
    check_name("Target group", name)?;
    let target_type = TargetType::parse(q.get("TargetType").unwrap_or("instance"))?;
    let protocol = Protocol::parse(required(q, "Protocol")?)?;
    let port = integer(q, "Port", 1, 65535)?.ok_or_else(|| ElbError::validation("Port is required"))?;
    let protocol_version = match (q.get("ProtocolVersion"), protocol) {
        (None, Protocol::Http) => Some("HTTP1".to_string()),
        (None, Protocol::Tcp) => None,
        (Some("HTTP1"), Protocol::Http) => Some("HTTP1".to_string()),
        (Some(v), _) => {
            return Err(ElbError::config(format!(
                "ProtocolVersion '{v}' is not supported here; HTTP target groups use HTTP1"
            )));
        }
    };
    if q.get("IpAddressType").is_some_and(|t| t != "ipv4") {
        return Err(ElbError::config("Only ipv4 target groups are supported by this endpoint"));
    }
    let tags = tags_of_request(q)?;
    let tg = TargetGroup {
        arn: svc
            .account
            .arn(
                "elasticloadbalancing",
                &format!("targetgroup/{name}/{}", &uuid::Uuid::new_v4().simple().to_string()[..16]),
            )
            .to_string(),
        name: name.to_string(),
        protocol,
        port,
        target_type,
        protocol_version,
        vpc_id: q.get("VpcId").map(str::to_string),
        health_check: health_check(q, default_health_check(protocol))?,
        attributes: default_target_group_attributes(protocol),
        targets: Vec::new(),
        created_at: Timestamp::now(),
        version: 1,
    };
    if svc.store.create(&tg, &tags).await? {
        return Ok(answer_target_groups(vec![(tg, Vec::new())], None));
    }
    // CreateTargetGroup is idempotent for the same settings.
    match svc.store.named::<TargetGroup>(name).await? {
        Some(existing)
            if (existing.protocol, existing.port, existing.target_type, &existing.health_check)
                == (tg.protocol, tg.port, tg.target_type, &tg.health_check) =>
        {
            Ok(answer_target_groups(with_load_balancers(svc, vec![existing]).await?, None))
        }
        _ => Err(ElbError::DuplicateTargetGroupName(format!(
            "A target group with the same name '{name}' exists, but with different settings"
        ))),
    }
}

pub(crate) async fn describe(svc: &ElbService, q: &QueryRequest) -> Result<Answer> {
    let arns = q.list("TargetGroupArns");
    let names = q.list("Names");
    let lb = q.get("LoadBalancerArn");
    let given = [!arns.is_empty(), !names.is_empty(), lb.is_some()].iter().filter(|g| **g).count();
    if given > 1 {
        return Err(ElbError::validation("Specify only one of LoadBalancerArn, TargetGroupArns and Names"));
    }
    let (after, size) = page(q)?;
    if let Some(lb) = lb {
        load_balancers::find(svc, lb).await?;
        let mut used = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let batch = svc.store.list::<TargetGroup>(after.as_deref(), 500).await?;
            let full = batch.len() == 500;
            after = batch.last().map(|t| t.name.clone());
            for (tg, lbs) in with_load_balancers(svc, batch).await? {
                if lbs.iter().any(|l| l == lb) {
                    used.push((tg, lbs));
                }
            }
            if !full {
                break;
            }
        }
        return Ok(answer_target_groups(used, None));
    }
    if !arns.is_empty() || !names.is_empty() {
        let mut found = Vec::new();
        for arn in &arns {
            found.push(svc.store.get::<TargetGroup>(arn).await?);
        }
        for name in &names {
            found.push(svc.store.named::<TargetGroup>(name).await?);
        }
        let found: Option<Vec<TargetGroup>> = found.into_iter().collect();
        let found = found.ok_or_else(|| ElbError::TargetGroupNotFound("One or more target groups not found".into()))?;
        return Ok(answer_target_groups(with_load_balancers(svc, found).await?, None));
    }
    let mut tgs = svc.store.list::<TargetGroup>(after.as_deref(), size as i64 + 1).await?;
    let next = if tgs.len() > size {
        tgs.truncate(size);
        tgs.last().map(|tg| flotilla_core::paging::encode_token(&tg.name))
    } else {
        None
    };
    Ok(answer_target_groups(with_load_balancers(svc, tgs).await?, next))
}

/// Reads, changes and stores a target group, redoing the change on the fresh state
/// when another request wrote first.
async fn change(svc: &ElbService, arn: &str, apply: impl Fn(&mut TargetGroup) -> Result<()>) -> Result<TargetGroup> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let mut tg = find(svc, arn).await?;
        apply(&mut tg)?;
        match svc.store.update(&tg).await {
            Ok(stored) => return Ok(stored),
            Err(e) if e.is_conflict() && attempt < UPDATE_ATTEMPTS => continue,
            Err(e) => return Err(e),
        }
    }
}

pub(crate) async fn modify(svc: &ElbService, q: &QueryRequest) -> Result<Answer> {
    let arn = required(q, "TargetGroupArn")?;
    let stored = change(svc, arn, |tg| {
        tg.health_check = health_check(q, tg.health_check.clone())?;
        Ok(())
    })
    .await?;
    Ok(answer_target_groups(with_load_balancers(svc, vec![stored]).await?, None))
}

pub(crate) async fn delete(svc: &ElbService, q: &QueryRequest) -> Result<Answer> {
    let arn = required(q, "TargetGroupArn")?;
    let used_by = load_balancers_of(svc, arn).await?;
    if let Some(lb) = used_by.first() {
        return Err(ElbError::ResourceInUse(format!(
            "Target group '{arn}' is currently in use by a listener or a rule of '{lb}'"
        )));
    }
    svc.store.delete::<TargetGroup>(arn).await?;
    Ok(Answer::empty())
}

pub(crate) async fn describe_attributes(svc: &ElbService, q: &QueryRequest) -> Result<Answer> {
    let tg = find(svc, required(q, "TargetGroupArn")?).await?;
    Ok(Answer::new(move |w| write_attributes(w, &tg.attributes)))
}

pub(crate) async fn modify_attributes_of(svc: &ElbService, q: &QueryRequest) -> Result<Answer> {
    let arn = required(q, "TargetGroupArn")?;
    let changes = pairs(q, "Attributes")?;
    if changes.is_empty() {
        return Err(ElbError::validation("Attributes must name at least one attribute"));
    }
    let stored = change(svc, arn, |tg| {
        tg.attributes = modify_attributes(&tg.attributes, &changes)?;
        Ok(())
    })
    .await?;
    Ok(Answer::new(move |w| write_attributes(w, &stored.attributes)))
}
