//! CreateLoadBalancer, DescribeLoadBalancers, DeleteLoadBalancer and their attributes.

use crate::error::{ElbError, Result};
use crate::model::{LoadBalancer, LoadBalancerType, check_name, default_load_balancer_attributes, modify_attributes};
use crate::params::{page, pairs, required};
use crate::tags::tags_of_request;
use crate::{Answer, ElbService};
use flotilla_core::time::Timestamp;
use flotilla_protocol::{QueryRequest, XmlWriter};
use std::collections::BTreeMap;

/// The hosted zone every load balancer's DNS name is in (Flotilla's own zone).
pub(crate) const HOSTED_ZONE_ID: &str = "ZFLOTILLAELB0001";
/// The DNS zone load balancer names are made in.
pub(crate) const DNS_ZONE: &str = "elb.flotilla.internal";
const UPDATE_ATTEMPTS: usize = 8;

fn random_hex(len: usize) -> String {
    uuid::Uuid::new_v4().simple().to_string()[..len].to_string()
}

/// Writes `items` as `<name><member>…</member>…</name>`.
pub(crate) fn members<T>(w: &mut XmlWriter, name: &str, items: &[T], each: impl Fn(&mut XmlWriter, &T)) {
    w.open(name);
    for item in items {
        w.open("member");
        each(w, item);
        w.close();
    }
    w.close();
}

/// Writes strings as `<name><member>text</member>…</name>`.
pub(crate) fn string_members(w: &mut XmlWriter, name: &str, items: &[String]) {
    w.open(name);
    for item in items {
        w.element("member", item);
    }
    w.close();
}

pub(crate) fn write_attributes(w: &mut XmlWriter, attributes: &BTreeMap<String, String>) {
    let list: Vec<(&String, &String)> = attributes.iter().collect();
    members(w, "Attributes", &list, |w, (k, v)| {
        w.element("Key", k).element("Value", v);
    });
}

fn write_load_balancer(w: &mut XmlWriter, lb: &LoadBalancer) {
    w.element("LoadBalancerArn", &lb.arn)
        .element("DNSName", &lb.dns_name)
        .element("CanonicalHostedZoneId", HOSTED_ZONE_ID)
        .element("CreatedTime", &lb.created_at.to_iso8601())
        .element("LoadBalancerName", &lb.name)
        .element("Scheme", &lb.scheme);
    w.open("State").element("Code", "active").close();
    w.element("Type", lb.kind.as_str());
    let zones: Vec<Option<&String>> =
        if lb.subnets.is_empty() { vec![None] } else { lb.subnets.iter().map(Some).collect() };
    members(w, "AvailabilityZones", &zones, |w, subnet| {
        w.element("ZoneName", "local");
        if let Some(subnet) = subnet {
            w.element("SubnetId", subnet);
        }
        if let Some(address) = &lb.address {
            w.open("LoadBalancerAddresses");
            w.open("member").element("IpAddress", address).close();
            w.close();
        }
    });
    string_members(w, "SecurityGroups", &lb.security_groups);
    w.element("IpAddressType", &lb.ip_address_type);
}

fn answer_load_balancers(lbs: Vec<LoadBalancer>, next: Option<String>) -> Answer {
    Answer::new(move |w| {
        members(w, "LoadBalancers", &lbs, write_load_balancer);
        if let Some(m) = &next {
            w.element("NextMarker", m);
        }
    })
}

/// The load balancer an ARN names, or LoadBalancerNotFound.
pub(crate) async fn find(svc: &ElbService, arn: &str) -> Result<LoadBalancer> {
    svc.store
        .get::<LoadBalancer>(arn)
        .await?
        .ok_or_else(|| ElbError::LoadBalancerNotFound(format!("Load balancer '{arn}' not found")))
}

pub(crate) async fn create(svc: &ElbService, q: &QueryRequest) -> Result<Answer> {
    let name = required(q, "Name")?;
    check_name("Load balancer", name)?;
    let kind = LoadBalancerType::parse(q.get("Type").unwrap_or("application"))?;
    let scheme = q.get("Scheme").unwrap_or("internet-facing");
    if !matches!(scheme, "internet-facing" | "internal") {
        return Err(ElbError::validation(format!("Scheme '{scheme}' is not one of internet-facing, internal")));
    }
    let ip_address_type = q.get("IpAddressType").unwrap_or("ipv4");
    match ip_address_type {
        "ipv4" => {}
        "dualstack" | "dualstack-without-public-ipv4" => {
            return Err(ElbError::config(format!(
                "IpAddressType '{ip_address_type}' is not supported here yet; use ipv4"
            )));
        }
        other => return Err(ElbError::validation(format!("IpAddressType '{other}' is not a valid address type"))),
    }
    let tags = tags_of_request(q)?;
    let mut subnets: Vec<String> = q.list("Subnets").into_iter().map(str::to_string).collect();
    subnets.extend(pairs_subnet_mappings(q));
    let lb = LoadBalancer {
        arn: svc
            .account
            .arn("elasticloadbalancing", &format!("loadbalancer/{}/{name}/{}", kind.arn_segment(), random_hex(16)))
            .to_string(),
        name: name.to_string(),
        kind,
        scheme: scheme.to_string(),
        ip_address_type: ip_address_type.to_string(),
        dns_name: format!(
            "{}{name}-{}.{}.{DNS_ZONE}",
            if scheme == "internal" { "internal-" } else { "" },
            random_hex(10),
            svc.account.region
        ),
        security_groups: q.list("SecurityGroups").into_iter().map(str::to_string).collect(),
        subnets,
        attributes: default_load_balancer_attributes(kind),
        address: None,
        created_at: Timestamp::now(),
        version: 1,
    };
    if svc.store.create(&lb, &tags).await? {
        return Ok(answer_load_balancers(vec![lb], None));
    }
    // CreateLoadBalancer is idempotent for the same settings.
    match svc.store.named::<LoadBalancer>(name).await? {
        Some(existing) if existing.kind == lb.kind && existing.scheme == lb.scheme => {
            Ok(answer_load_balancers(vec![existing], None))
        }
        _ => Err(ElbError::DuplicateLoadBalancerName(format!(
            "A load balancer with the same name '{name}' exists, but with different settings"
        ))),
    }
}

/// `SubnetMappings.member.N.SubnetId`, read as subnets.
fn pairs_subnet_mappings(q: &QueryRequest) -> Vec<String> {
    let mut out: Vec<(u32, String)> = q
        .params()
        .iter()
        .filter_map(|(k, v)| {
            let rest = k.strip_prefix("SubnetMappings.member.")?;
            let (i, field) = rest.split_once('.')?;
            (field == "SubnetId").then(|| (i.parse().ok(), v.clone())).and_then(|(i, v)| Some((i?, v)))
        })
        .collect();
    out.sort();
    out.into_iter().map(|(_, v)| v).collect()
}

pub(crate) async fn describe(svc: &ElbService, q: &QueryRequest) -> Result<Answer> {
    let arns = q.list("LoadBalancerArns");
    let names = q.list("Names");
    if !arns.is_empty() && !names.is_empty() {
        return Err(ElbError::validation("Specify either LoadBalancerArns or Names, not both"));
    }
    if arns.len() > 20 || names.len() > 20 {
        return Err(ElbError::validation("At most 20 load balancers can be described at once"));
    }
    let (after, size) = page(q)?;
    if !arns.is_empty() || !names.is_empty() {
        let mut found = Vec::new();
        for arn in &arns {
            found.push(svc.store.get::<LoadBalancer>(arn).await?);
        }
        for name in &names {
            found.push(svc.store.named::<LoadBalancer>(name).await?);
        }
        let found: Option<Vec<LoadBalancer>> = found.into_iter().collect();
        let found =
            found.ok_or_else(|| ElbError::LoadBalancerNotFound("One or more load balancers not found".into()))?;
        return Ok(answer_load_balancers(found, None));
    }
    let mut lbs = svc.store.list::<LoadBalancer>(after.as_deref(), size as i64 + 1).await?;
    let next = if lbs.len() > size {
        lbs.truncate(size);
        lbs.last().map(|lb| flotilla_core::paging::encode_token(&lb.name))
    } else {
        None
    };
    Ok(answer_load_balancers(lbs, next))
}

pub(crate) async fn delete(svc: &ElbService, q: &QueryRequest) -> Result<Answer> {
    let arn = required(q, "LoadBalancerArn")?;
    // Deleting one that does not exist (any more) succeeds, as on AWS.
    let Some(lb) = svc.store.get::<LoadBalancer>(arn).await? else { return Ok(Answer::empty()) };
    if lb.attributes.get("deletion_protection.enabled").map(String::as_str) == Some("true") {
        return Err(ElbError::OperationNotPermitted(format!(
            "Load balancer '{arn}' cannot be deleted because deletion protection is enabled"
        )));
    }
    let listeners: Vec<crate::model::Listener> = svc.store.children(arn).await?;
    for listener in listeners {
        crate::listeners::delete_listener(svc, &listener.arn).await?;
    }
    svc.store.delete::<LoadBalancer>(arn).await?;
    Ok(Answer::empty())
}

pub(crate) async fn describe_attributes(svc: &ElbService, q: &QueryRequest) -> Result<Answer> {
    let lb = find(svc, required(q, "LoadBalancerArn")?).await?;
    Ok(Answer::new(move |w| write_attributes(w, &lb.attributes)))
}

pub(crate) async fn modify_attributes_of(svc: &ElbService, q: &QueryRequest) -> Result<Answer> {
    // Read, change, write; a write that lost to another is redone on the fresh state.
    let arn = required(q, "LoadBalancerArn")?;
    let changes = pairs(q, "Attributes")?;
    if changes.is_empty() {
        return Err(ElbError::validation("Attributes must name at least one attribute"));
    }
    let mut attempt = 0;
    loop {
        attempt += 1;
        let mut lb = find(svc, arn).await?;
        lb.attributes = modify_attributes(&lb.attributes, &changes)?;
        match svc.store.update(&lb).await {
            Ok(stored) => return Ok(Answer::new(move |w| write_attributes(w, &stored.attributes))),
            Err(e) if e.is_conflict() && attempt < UPDATE_ATTEMPTS => continue,
            Err(e) => return Err(e),
        }
    }
}
