//! CreateListener, DescribeListeners, ModifyListener, DeleteListener, and the actions
//! listeners and rules share (forward, weighted forward, fixed-response, redirect).

use crate::error::{ElbError, Result};
use crate::load_balancers::{self, members};
use crate::model::{
    Action, ActionKind, Listener, LoadBalancer, LoadBalancerType, Protocol, Rule, TargetGroup, WeightedTargetGroup,
};
use crate::params::{Params, page, required};
use crate::tags::tags_of_request;
use crate::{Answer, ElbService};
use flotilla_core::time::Timestamp;
use flotilla_protocol::{QueryRequest, XmlWriter};
use std::collections::BTreeSet;

const UPDATE_ATTEMPTS: usize = 8;
const MAX_FORWARD_TARGET_GROUPS: usize = 5;
const CONTENT_TYPES: &[&str] = &["text/plain", "text/css", "text/html", "application/javascript", "application/json"];

/// Reads `name` (a list of actions) from `p`, checked against the load balancer's
/// kind and listener protocol; the target groups must exist and speak the protocol.
pub(crate) async fn read_actions(
    svc: &ElbService,
    p: &Params,
    name: &str,
    lb: &LoadBalancer,
    protocol: Protocol,
) -> Result<Vec<Action>> {
    let mut actions = Vec::new();
    for (i, m) in p.members(name)?.iter().enumerate() {
        let whole = format!("{name}.member.{}", i + 1);
        let order = m.integer("Order", 1, 50_000)?;
        let kind = m.required("Type", &whole)?;
        let (kind, plain) = match kind {
            "forward" => {
                let mut groups = Vec::new();
                let forward = m.nested("ForwardConfig");
                for g in forward.members("TargetGroups")? {
                    let arn = g.required("TargetGroupArn", &whole)?.to_string();
                    let weight = g.integer("Weight", 0, 999)?.unwrap_or(1);
                    groups.push(WeightedTargetGroup { target_group_arn: arn, weight });
                }
                let plain = m.get("TargetGroupArn").map(str::to_string);
                if let Some(arn) = &plain {
                    match groups.as_slice() {
                        [] => groups.push(WeightedTargetGroup { target_group_arn: arn.clone(), weight: 1 }),
                        [one] if &one.target_group_arn == arn => {}
                        _ => {
                            return Err(ElbError::config(format!(
                                "{whole}: give the target group either as TargetGroupArn or in ForwardConfig, not both differently"
                            )));
                        }
                    }
                }
                if groups.is_empty() {
                    return Err(ElbError::validation(format!("{whole}: a forward action needs a target group")));
                }
                if groups.len() > MAX_FORWARD_TARGET_GROUPS {
                    return Err(ElbError::TooManyTargetGroups(format!(
                        "{whole}: a forward action can have at most {MAX_FORWARD_TARGET_GROUPS} target groups"
                    )));
                }
                let distinct: BTreeSet<&str> = groups.iter().map(|g| g.target_group_arn.as_str()).collect();
                if distinct.len() != groups.len() {
                    return Err(ElbError::validation(format!("{whole}: a target group appears twice")));
                }
                let stickiness = forward.nested("TargetGroupStickinessConfig");
                let stickiness_seconds = match stickiness.get("Enabled") {
                    Some("true") => Some(stickiness.integer("DurationSeconds", 1, 604_800)?.unwrap_or(3600)),
                    _ => None,
                };
                (ActionKind::Forward { target_groups: groups, stickiness_seconds }, plain.is_some())
            }
            "fixed-response" | "redirect" if lb.kind == LoadBalancerType::Network => {
                return Err(ElbError::InvalidAction(format!("{whole}: a network load balancer can only forward")));
            }
            "fixed-response" => {
                let f = m.nested("FixedResponseConfig");
                let status_code = f.required("StatusCode", &whole)?.to_string();
                let valid_code = status_code.len() == 3
                    && matches!(status_code.as_bytes()[0], b'2' | b'4' | b'5')
                    && status_code.bytes().all(|b| b.is_ascii_digit());
                if !valid_code {
                    return Err(ElbError::validation(format!(
                        "{whole}: StatusCode '{status_code}' must be 2XX, 4XX or 5XX"
                    )));
                }
                let content_type = f.get("ContentType").map(str::to_string);
                if content_type.as_deref().is_some_and(|c| !CONTENT_TYPES.contains(&c)) {
                    return Err(ElbError::validation(format!(
                        "{whole}: ContentType must be one of {}",
                        CONTENT_TYPES.join(", ")
                    )));
                }
                let message_body = f.get("MessageBody").map(str::to_string);
                if message_body.as_ref().is_some_and(|b| b.len() > 1024) {
                    return Err(ElbError::validation(format!("{whole}: MessageBody is at most 1024 characters")));
                }
                (ActionKind::FixedResponse { status_code, content_type, message_body }, false)
            }
            "redirect" => {
                let r = m.nested("RedirectConfig");
                let status_code = r.required("StatusCode", &whole)?.to_string();
                if !matches!(status_code.as_str(), "HTTP_301" | "HTTP_302") {
                    return Err(ElbError::validation(format!("{whole}: StatusCode must be HTTP_301 or HTTP_302")));
                }
                let redirect = ActionKind::Redirect {
                    protocol: r.get("Protocol").unwrap_or("#{protocol}").to_string(),
                    host: r.get("Host").unwrap_or("#{host}").to_string(),
                    port: r.get("Port").unwrap_or("#{port}").to_string(),
                    path: r.get("Path").unwrap_or("/#{path}").to_string(),
                    query: r.get("Query").unwrap_or("#{query}").to_string(),
                    status_code,
                };
                if let ActionKind::Redirect { protocol, host, port, path, query, .. } = &redirect
                    && (protocol.as_str(), host.as_str(), port.as_str(), path.as_str(), query.as_str())
                        == ("#{protocol}", "#{host}", "#{port}", "/#{path}", "#{query}")
                {
                    return Err(ElbError::InvalidAction(format!(
                        "{whole}: a redirect must change at least one of protocol, host, port, path and query"
                    )));
                }
                (redirect, false)
            }
            "authenticate-oidc" | "authenticate-cognito" | "jwt-validation" => {
                return Err(ElbError::InvalidAction(format!("{whole}: '{kind}' actions are not supported here")));
            }
            other => return Err(ElbError::validation(format!("{whole}: Type '{other}' is not an action type"))),
        };
        actions.push(Action { order, kind, plain_target_group: plain });
    }
    if actions.is_empty() {
        return Err(ElbError::validation(format!("{name} must hold at least one action")));
    }
    if actions.len() > 1 {
        return Err(ElbError::TooManyActions(format!(
            "{name}: one action (forward, fixed-response or redirect) per rule"
        )));
    }
    for action in &actions {
        for arn in action.target_groups() {
            let tg = svc
                .store
                .get::<TargetGroup>(arn)
                .await?
                .ok_or_else(|| ElbError::TargetGroupNotFound(format!("Target group '{arn}' not found")))?;
            if tg.protocol != protocol {
                return Err(ElbError::IncompatibleProtocols(format!(
                    "Target group '{arn}' uses {} and the listener {}",
                    tg.protocol.as_str(),
                    protocol.as_str()
                )));
            }
            let used_by = load_balancers_of(svc, arn).await?;
            if used_by.iter().any(|other| other != &lb.arn) {
                return Err(ElbError::TargetGroupAssociationLimit(format!(
                    "The target group '{arn}' is already used by another load balancer"
                )));
            }
        }
    }
    Ok(actions)
}

pub(crate) fn write_actions(w: &mut XmlWriter, name: &str, actions: &[Action]) {
    members(w, name, actions, |w, a| match &a.kind {
        ActionKind::Forward { target_groups, stickiness_seconds } => {
            w.element("Type", "forward");
            if a.plain_target_group
                && let [one] = target_groups.as_slice()
            {
                w.element("TargetGroupArn", &one.target_group_arn);
            }
            if let Some(order) = a.order {
                w.element("Order", &order.to_string());
            }
            w.open("ForwardConfig");
            members(w, "TargetGroups", target_groups, |w, g| {
                w.element("TargetGroupArn", &g.target_group_arn).element("Weight", &g.weight.to_string());
            });
            w.open("TargetGroupStickinessConfig");
            match stickiness_seconds {
                Some(s) => w.element("Enabled", "true").element("DurationSeconds", &s.to_string()),
                None => w.element("Enabled", "false"),
            };
            w.close().close();
        }
        ActionKind::FixedResponse { status_code, content_type, message_body } => {
            w.element("Type", "fixed-response");
            if let Some(order) = a.order {
                w.element("Order", &order.to_string());
            }
            w.open("FixedResponseConfig").element("StatusCode", status_code);
            if let Some(c) = content_type {
                w.element("ContentType", c);
            }
            if let Some(b) = message_body {
                w.element("MessageBody", b);
            }
            w.close();
        }
        ActionKind::Redirect { protocol, host, port, path, query, status_code } => {
            w.element("Type", "redirect");
            if let Some(order) = a.order {
                w.element("Order", &order.to_string());
            }
            w.open("RedirectConfig")
                .element("Protocol", protocol)
                .element("Port", port)
                .element("Host", host)
                .element("Path", path)
                .element("Query", query)
                .element("StatusCode", status_code)
                .close();
        }
    });
}

/// The load balancers whose listeners or rules forward to the target group.
pub(crate) async fn load_balancers_of(svc: &ElbService, target_group: &str) -> Result<Vec<String>> {
    let mut out = BTreeSet::new();
    for listener in all_listeners(svc).await? {
        let mut uses = listener.default_actions.iter().any(|a| a.target_groups().contains(&target_group));
        if !uses {
            let rules: Vec<Rule> = svc.store.children(&listener.arn).await?;
            uses = rules.iter().any(|r| r.actions.iter().any(|a| a.target_groups().contains(&target_group)));
        }
        if uses {
            out.insert(listener.load_balancer_arn.clone());
        }
    }
    Ok(out.into_iter().collect())
}

async fn all_listeners(svc: &ElbService) -> Result<Vec<Listener>> {
    let mut all = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let batch: Vec<Listener> = svc.store.list(after.as_deref(), 500).await?;
        let full = batch.len() == 500;
        after = batch.last().map(|l| format!("{}|{}", l.load_balancer_arn, l.port));
        all.extend(batch);
        if !full {
            return Ok(all);
        }
    }
}

fn write_listener(w: &mut XmlWriter, l: &Listener) {
    w.element("ListenerArn", &l.arn)
        .element("LoadBalancerArn", &l.load_balancer_arn)
        .element("Port", &l.port.to_string())
        .element("Protocol", l.protocol.as_str());
    write_actions(w, "DefaultActions", &l.default_actions);
}

fn answer_listeners(listeners: Vec<Listener>, next: Option<String>) -> Answer {
    Answer::new(move |w| {
        members(w, "Listeners", &listeners, write_listener);
        if let Some(m) = &next {
            w.element("NextMarker", m);
        }
    })
}

pub(crate) async fn find(svc: &ElbService, arn: &str) -> Result<Listener> {
    svc.store
        .get::<Listener>(arn)
        .await?
        .ok_or_else(|| ElbError::ListenerNotFound(format!("Listener '{arn}' not found")))
}

/// The listener protocol a load balancer takes: HTTP for application, TCP for network.
fn listener_protocol(lb: &LoadBalancer, given: Option<&str>) -> Result<Protocol> {
    let expected = match lb.kind {
        LoadBalancerType::Application => Protocol::Http,
        LoadBalancerType::Network => Protocol::Tcp,
    };
    let Some(given) = given else { return Ok(expected) };
    let protocol = Protocol::parse(given).map_err(|e| ElbError::UnsupportedProtocol(e.to_string()))?;
    if protocol != expected {
        return Err(ElbError::IncompatibleProtocols(format!(
            "A {} load balancer's listeners use {}, not {}",
            lb.kind.as_str(),
            expected.as_str(),
            protocol.as_str()
        )));
    }
    Ok(protocol)
}

pub(crate) async fn create(svc: &ElbService, q: &QueryRequest) -> Result<Answer> {
    let lb = load_balancers::find(svc, required(q, "LoadBalancerArn")?).await?;
    let p = Params::of(q);
    let protocol = listener_protocol(&lb, q.get("Protocol"))?;
    let port = p.integer("Port", 1, 65535)?.ok_or_else(|| ElbError::validation("Port is required"))?;
    if q.get("SslPolicy").is_some() || !q.list("Certificates").is_empty() {
        return Err(ElbError::UnsupportedProtocol("HTTPS and TLS listeners are not supported here yet".into()));
    }
    let default_actions = read_actions(svc, &p, "DefaultActions", &lb, protocol).await?;
    // Our own listener on the port is a duplicate (its socket is the data plane's);
    // only a port held by something else is refused as taken.
    let siblings: Vec<Listener> = svc.store.children(&lb.arn).await?;
    if siblings.iter().any(|l| l.port == port) {
        return Err(ElbError::DuplicateListener(format!("A listener already exists on port {port} of '{}'", lb.arn)));
    }
    check_port_free(&lb, port)?;
    let tags = tags_of_request(q)?;
    let id = &uuid::Uuid::new_v4().simple().to_string()[..16];
    let lb_path = lb.arn.split_once(":loadbalancer/").map_or("", |(_, rest)| rest);
    let listener = Listener {
        arn: svc.account.arn("elasticloadbalancing", &format!("listener/{lb_path}/{id}")).to_string(),
        load_balancer_arn: lb.arn.clone(),
        port,
        protocol,
        default_actions,
        created_at: Timestamp::now(),
        version: 1,
    };
    if !svc.store.create(&listener, &tags).await? {
        return Err(ElbError::DuplicateListener(format!("A listener already exists on port {port} of '{}'", lb.arn)));
    }
    Ok(answer_listeners(vec![listener], None))
}

/// Refuses a port something else already listens on at the load balancer's address
/// (the data plane could not serve it), so nothing is stored for a listener that
/// cannot work.
fn check_port_free(lb: &LoadBalancer, port: i64) -> Result<()> {
    let Some(address) = lb.address.as_deref().and_then(|a| a.parse::<std::net::Ipv4Addr>().ok()) else {
        return Ok(());
    };
    match std::net::TcpListener::bind((address, port as u16)) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => Err(ElbError::config(format!(
            "Port {port} on {address} is already in use by another process; choose another port"
        ))),
        Err(_) => Ok(()),
    }
}

pub(crate) async fn describe(svc: &ElbService, q: &QueryRequest) -> Result<Answer> {
    let arns = q.list("ListenerArns");
    let lb = q.get("LoadBalancerArn");
    match (lb, arns.is_empty()) {
        (Some(_), false) => Err(ElbError::validation("Specify either LoadBalancerArn or ListenerArns, not both")),
        (None, true) => Err(ElbError::validation("Specify LoadBalancerArn or ListenerArns")),
        (None, false) => {
            let mut found = Vec::new();
            for arn in arns {
                found.push(find(svc, arn).await?);
            }
            Ok(answer_listeners(found, None))
        }
        (Some(lb), true) => {
            load_balancers::find(svc, lb).await?;
            let (after, size) = page(q)?;
            let all: Vec<Listener> = svc.store.children(lb).await?;
            let start = after.and_then(|a| all.iter().position(|l| l.arn == a).map(|i| i + 1)).unwrap_or(0);
            let mut page: Vec<Listener> = all.into_iter().skip(start).take(size + 1).collect();
            let next = if page.len() > size {
                page.truncate(size);
                page.last().map(|l| flotilla_core::paging::encode_token(&l.arn))
            } else {
                None
            };
            Ok(answer_listeners(page, next))
        }
    }
}

pub(crate) async fn modify(svc: &ElbService, q: &QueryRequest) -> Result<Answer> {
    let arn = required(q, "ListenerArn")?;
    let p = Params::of(q);
    let mut attempt = 0;
    loop {
        attempt += 1;
        let mut listener = find(svc, arn).await?;
        let lb = load_balancers::find(svc, &listener.load_balancer_arn).await?;
        listener.protocol = listener_protocol(&lb, q.get("Protocol").or(Some(listener.protocol.as_str())))?;
        if let Some(port) = p.integer("Port", 1, 65535)? {
            if port != listener.port {
                let taken: Vec<Listener> = svc.store.children(&lb.arn).await?;
                if taken.iter().any(|l| l.port == port) {
                    return Err(ElbError::DuplicateListener(format!("A listener already exists on port {port}")));
                }
                check_port_free(&lb, port)?;
            }
            listener.port = port;
        }
        if !p.members("DefaultActions")?.is_empty() {
            listener.default_actions = read_actions(svc, &p, "DefaultActions", &lb, listener.protocol).await?;
        }
        match svc.store.update(&listener).await {
            Ok(stored) => return Ok(answer_listeners(vec![stored], None)),
            Err(e) if e.is_conflict() && attempt < UPDATE_ATTEMPTS => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Deletes a listener and its rules.
pub(crate) async fn delete_listener(svc: &ElbService, arn: &str) -> Result<()> {
    let rules: Vec<Rule> = svc.store.children(arn).await?;
    for rule in rules {
        svc.store.delete::<Rule>(&rule.arn).await?;
    }
    svc.store.delete::<Listener>(arn).await?;
    Ok(())
}

pub(crate) async fn delete(svc: &ElbService, q: &QueryRequest) -> Result<Answer> {
    let arn = required(q, "ListenerArn")?;
    find(svc, arn).await?;
    delete_listener(svc, arn).await?;
    Ok(Answer::empty())
}
