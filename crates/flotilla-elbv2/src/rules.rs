//! CreateRule, DescribeRules, ModifyRule, DeleteRule and SetRulePriorities. A
//! listener's default rule is not stored: it is the listener's default actions, shown
//! with priority `default` under an ARN derived from the listener's.

use crate::error::{ElbError, Result};
use crate::listeners::{self, read_actions, write_actions};
use crate::load_balancers::{self, members, string_members};
use crate::model::{Action, ActionKind, Condition, Listener, Rule, WeightedTargetGroup};
use crate::params::{Params, page, required};
use crate::tags::tags_of_request;
use crate::{Answer, ElbService};
use flotilla_core::time::Timestamp;
use flotilla_protocol::{QueryRequest, XmlWriter};

const UPDATE_ATTEMPTS: usize = 8;
/// AWS's limit of condition values in one rule.
const MAX_CONDITION_VALUES: usize = 5;

/// The ARN of a listener's default rule.
fn default_rule_arn(listener: &Listener) -> String {
    let path = listener.arn.replacen(":listener/", ":listener-rule/", 1);
    format!("{path}/default")
}

fn is_default(arn: &str) -> bool {
    arn.ends_with("/default")
}

fn read_conditions(p: &Params) -> Result<Vec<Condition>> {
    let mut out = Vec::new();
    for (i, m) in p.members("Conditions")?.iter().enumerate() {
        let whole = format!("Conditions.member.{}", i + 1);
        let field = m.required("Field", &whole)?;
        let values = |config: &str| -> Result<Vec<String>> {
            let mut v = m.nested(config).strings("Values")?;
            if v.is_empty() {
                v = m.strings("Values")?;
            }
            if v.is_empty() {
                return Err(ElbError::validation(format!("{whole}: a {field} condition needs values")));
            }
            Ok(v)
        };
        let condition = match field {
            "host-header" => {
                let values = values("HostHeaderConfig")?;
                if values.iter().any(|v| v.is_empty() || v.len() > 128) {
                    return Err(ElbError::validation(format!("{whole}: host names are 1 to 128 characters")));
                }
                Condition::HostHeader { values }
            }
            "path-pattern" => {
                let values = values("PathPatternConfig")?;
                if values.iter().any(|v| v.is_empty() || v.len() > 128) {
                    return Err(ElbError::validation(format!("{whole}: path patterns are 1 to 128 characters")));
                }
                Condition::PathPattern { values }
            }
            "http-header" => {
                let config = m.nested("HttpHeaderConfig");
                let name = config.required("HttpHeaderName", &whole)?.to_string();
                let valid_name = !name.is_empty()
                    && name.len() <= 40
                    && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b));
                if !valid_name {
                    return Err(ElbError::validation(format!("{whole}: HttpHeaderName '{name}' is not a header name")));
                }
                let values = config.strings("Values")?;
                if values.is_empty() {
                    return Err(ElbError::validation(format!("{whole}: an http-header condition needs values")));
                }
                Condition::HttpHeader { name, values }
            }
            "http-request-method" => {
                let values = values("HttpRequestMethodConfig")?;
                if values
                    .iter()
                    .any(|v| v.is_empty() || !v.bytes().all(|b| b.is_ascii_uppercase() || b"-_".contains(&b)))
                {
                    return Err(ElbError::validation(format!("{whole}: methods are upper-case letters, '-' and '_'")));
                }
                Condition::HttpRequestMethod { values }
            }
            "query-string" => {
                let mut values = Vec::new();
                for kv in m.nested("QueryStringConfig").members("Values")? {
                    let value = kv.required("Value", &whole)?.to_string();
                    values.push((kv.get("Key").map(str::to_string), value));
                }
                if values.is_empty() {
                    return Err(ElbError::validation(format!("{whole}: a query-string condition needs values")));
                }
                Condition::QueryString { values }
            }
            "source-ip" => {
                let values = values("SourceIpConfig")?;
                for v in &values {
                    if !is_cidr(v) {
                        return Err(ElbError::validation(format!("{whole}: '{v}' is not a CIDR block")));
                    }
                }
                Condition::SourceIp { values }
            }
            other => return Err(ElbError::validation(format!("{whole}: Field '{other}' is not a condition field"))),
        };
        out.push(condition);
    }
    if out.is_empty() {
        return Err(ElbError::validation("A rule needs at least one condition"));
    }
    for single in ["host-header", "path-pattern", "http-request-method", "source-ip"] {
        if out.iter().filter(|c| c.field() == single).count() > 1 {
            return Err(ElbError::config(format!("A rule can have only one {single} condition")));
        }
    }
    let count: usize = out
        .iter()
        .map(|c| match c {
            Condition::HostHeader { values }
            | Condition::PathPattern { values }
            | Condition::HttpHeader { values, .. }
            | Condition::HttpRequestMethod { values }
            | Condition::SourceIp { values } => values.len(),
            Condition::QueryString { values } => values.len(),
        })
        .sum();
    if count > MAX_CONDITION_VALUES {
        return Err(ElbError::config(format!(
            "A rule can have at most {MAX_CONDITION_VALUES} condition values, not {count}"
        )));
    }
    Ok(out)
}

fn is_cidr(s: &str) -> bool {
    let Some((ip, bits)) = s.split_once('/') else { return false };
    match ip.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(_)) => bits.parse::<u8>().is_ok_and(|b| b <= 32),
        Ok(std::net::IpAddr::V6(_)) => bits.parse::<u8>().is_ok_and(|b| b <= 128),
        Err(_) => false,
    }
}

fn write_conditions(w: &mut XmlWriter, conditions: &[Condition]) {
    members(w, "Conditions", conditions, |w, c| {
        w.element("Field", c.field());
        match c {
            Condition::HostHeader { values } => {
                string_members(w, "Values", values);
                w.open("HostHeaderConfig");
                string_members(w, "Values", values);
                w.close();
            }
            Condition::PathPattern { values } => {
                string_members(w, "Values", values);
                w.open("PathPatternConfig");
                string_members(w, "Values", values);
                w.close();
            }
            Condition::HttpHeader { name, values } => {
                w.open("HttpHeaderConfig").element("HttpHeaderName", name);
                string_members(w, "Values", values);
                w.close();
            }
            Condition::HttpRequestMethod { values } => {
                w.open("HttpRequestMethodConfig");
                string_members(w, "Values", values);
                w.close();
            }
            Condition::QueryString { values } => {
                w.open("QueryStringConfig");
                members(w, "Values", values, |w, (k, v)| {
                    if let Some(k) = k {
                        w.element("Key", k);
                    }
                    w.element("Value", v);
                });
                w.close();
            }
            Condition::SourceIp { values } => {
                w.open("SourceIpConfig");
                string_members(w, "Values", values);
                w.close();
            }
        }
    });
}

/// A rule as DescribeRules shows it (the default rule has priority `default`).
struct Shown {
    arn: String,
    priority: Option<i64>,
    conditions: Vec<Condition>,
    actions: Vec<crate::model::Action>,
}

fn shown(rule: Rule) -> Shown {
    Shown { arn: rule.arn, priority: Some(rule.priority), conditions: rule.conditions, actions: rule.actions }
}

fn default_shown(listener: &Listener) -> Shown {
    Shown {
        arn: default_rule_arn(listener),
        priority: None,
        conditions: Vec::new(),
        actions: listener.default_actions.clone(),
    }
}

fn answer_rules(rules: Vec<Shown>, next: Option<String>) -> Answer {
    Answer::new(move |w| {
        members(w, "Rules", &rules, |w, r| {
            w.element("RuleArn", &r.arn)
                .element("Priority", &r.priority.map_or("default".to_string(), |p| p.to_string()));
            write_conditions(w, &r.conditions);
            write_actions(w, "Actions", &r.actions);
            w.element("IsDefault", if r.priority.is_none() { "true" } else { "false" });
        });
        if let Some(m) = &next {
            w.element("NextMarker", m);
        }
    })
}

/// The listener a default rule's ARN belongs to.
async fn listener_of_default(svc: &ElbService, arn: &str) -> Result<Listener> {
    let listener_arn = arn.trim_end_matches("/default").replacen(":listener-rule/", ":listener/", 1);
    svc.store
        .get::<Listener>(&listener_arn)
        .await?
        .ok_or_else(|| ElbError::RuleNotFound(format!("Rule '{arn}' not found")))
}

async fn find(svc: &ElbService, arn: &str) -> Result<Rule> {
    svc.store.get::<Rule>(arn).await?.ok_or_else(|| ElbError::RuleNotFound(format!("Rule '{arn}' not found")))
}

fn priority_in_use(priority: i64) -> ElbError {
    ElbError::PriorityInUse(format!("Priority '{priority}' is currently in use"))
}

pub(crate) async fn create(svc: &ElbService, q: &QueryRequest) -> Result<Answer> {
    let listener = listeners::find(svc, required(q, "ListenerArn")?).await?;
    let lb = load_balancers::find(svc, &listener.load_balancer_arn).await?;
    if lb.kind == crate::model::LoadBalancerType::Network {
        return Err(ElbError::config("Network load balancer listeners have no rules"));
    }
    let p = Params::of(q);
    let priority = p.integer("Priority", 1, 50_000)?.ok_or_else(|| ElbError::validation("Priority is required"))?;
    let conditions = read_conditions(&p)?;
    let actions = read_actions(svc, &p, "Actions", &lb, listener.protocol).await?;
    let tags = tags_of_request(q)?;
    let id = &uuid::Uuid::new_v4().simple().to_string()[..16];
    let rule = Rule {
        arn: format!("{}/{id}", listener.arn.replacen(":listener/", ":listener-rule/", 1)),
        listener_arn: listener.arn.clone(),
        priority,
        conditions,
        actions,
        created_at: Timestamp::now(),
        version: 1,
    };
    if !svc.store.create(&rule, &tags).await? {
        return Err(priority_in_use(priority));
    }
    Ok(answer_rules(vec![shown(rule)], None))
}

pub(crate) async fn describe(svc: &ElbService, q: &QueryRequest) -> Result<Answer> {
    let arns = q.list("RuleArns");
    let listener = q.get("ListenerArn");
    match (listener, arns.is_empty()) {
        (Some(_), false) => Err(ElbError::validation("Specify either ListenerArn or RuleArns, not both")),
        (None, true) => Err(ElbError::validation("Specify ListenerArn or RuleArns")),
        (None, false) => {
            let mut found = Vec::new();
            for arn in arns {
                found.push(if is_default(arn) {
                    default_shown(&listener_of_default(svc, arn).await?)
                } else {
                    shown(find(svc, arn).await?)
                });
            }
            Ok(answer_rules(found, None))
        }
        (Some(arn), true) => {
            let listener = listeners::find(svc, arn).await?;
            let (after, size) = page(q)?;
            let mut rules: Vec<Rule> = svc.store.children(&listener.arn).await?;
            rules.sort_by_key(|r| r.priority);
            let mut all: Vec<Shown> = rules.into_iter().map(shown).collect();
            all.push(default_shown(&listener));
            let start = after.and_then(|a| all.iter().position(|r| r.arn == a).map(|i| i + 1)).unwrap_or(0);
            let mut page: Vec<Shown> = all.into_iter().skip(start).take(size + 1).collect();
            let next = if page.len() > size {
                page.truncate(size);
                page.last().map(|r| flotilla_core::paging::encode_token(&r.arn))
            } else {
                None
            };
            Ok(answer_rules(page, next))
        }
    }
}

pub(crate) async fn modify(svc: &ElbService, q: &QueryRequest) -> Result<Answer> {
    let arn = required(q, "RuleArn")?;
    let p = Params::of(q);
    let mut attempt = 0;
    loop {
        attempt += 1;
        if is_default(arn) {
            let mut listener = listener_of_default(svc, arn).await?;
            if !p.members("Conditions")?.is_empty() {
                return Err(ElbError::OperationNotPermitted("The default rule's conditions cannot be changed".into()));
            }
            let lb = load_balancers::find(svc, &listener.load_balancer_arn).await?;
            if !p.members("Actions")?.is_empty() {
                listener.default_actions = read_actions(svc, &p, "Actions", &lb, listener.protocol).await?;
            }
            match svc.store.update(&listener).await {
                Ok(stored) => return Ok(answer_rules(vec![default_shown(&stored)], None)),
                Err(e) if e.is_conflict() && attempt < UPDATE_ATTEMPTS => continue,
                Err(e) => return Err(e),
            }
        }
        let mut rule = find(svc, arn).await?;
        let listener = listeners::find(svc, &rule.listener_arn).await?;
        let lb = load_balancers::find(svc, &listener.load_balancer_arn).await?;
        if !p.members("Conditions")?.is_empty() {
            rule.conditions = read_conditions(&p)?;
        }
        if !p.members("Actions")?.is_empty() {
            rule.actions = read_actions(svc, &p, "Actions", &lb, listener.protocol).await?;
        }
        match svc.store.update(&rule).await {
            Ok(stored) => return Ok(answer_rules(vec![shown(stored)], None)),
            Err(e) if e.is_conflict() && attempt < UPDATE_ATTEMPTS => continue,
            Err(e) => return Err(e),
        }
    }
}

pub(crate) async fn delete(svc: &ElbService, q: &QueryRequest) -> Result<Answer> {
    let arn = required(q, "RuleArn")?;
    if is_default(arn) {
        return Err(ElbError::OperationNotPermitted("A listener's default rule cannot be deleted".into()));
    }
    find(svc, arn).await?;
    svc.store.delete::<Rule>(arn).await?;
    Ok(Answer::empty())
}

pub(crate) async fn set_priorities(svc: &ElbService, q: &QueryRequest) -> Result<Answer> {
    let p = Params::of(q);
    let pairs = p.members("RulePriorities")?;
    if pairs.is_empty() {
        return Err(ElbError::validation("RulePriorities must name at least one rule"));
    }
    let mut attempt = 0;
    loop {
        attempt += 1;
        let mut changed: Vec<Rule> = Vec::new();
        for (i, pair) in pairs.iter().enumerate() {
            let whole = format!("RulePriorities.member.{}", i + 1);
            let arn = pair.required("RuleArn", &whole)?;
            if is_default(arn) {
                return Err(ElbError::OperationNotPermitted("The default rule's priority cannot be changed".into()));
            }
            let priority = pair
                .integer("Priority", 1, 50_000)?
                .ok_or_else(|| ElbError::validation(format!("{whole}.Priority is required")))?;
            let mut rule = find(svc, arn).await?;
            rule.priority = priority;
            changed.push(rule);
        }
        // No two rules of a listener may end with one priority.
        for (i, r) in changed.iter().enumerate() {
            if changed[..i].iter().any(|o| o.listener_arn == r.listener_arn && o.priority == r.priority) {
                return Err(priority_in_use(r.priority));
            }
            let siblings: Vec<Rule> = svc.store.children(&r.listener_arn).await?;
            let clash = siblings.iter().any(|s| s.priority == r.priority && !changed.iter().any(|c| c.arn == s.arn));
            if clash {
                return Err(priority_in_use(r.priority));
            }
        }
        match svc.store.update_all(&changed).await {
            Ok(stored) => return Ok(answer_rules(stored.into_iter().map(shown).collect(), None)),
            Err(e) if e.is_conflict() && attempt < UPDATE_ATTEMPTS => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Whether `arn` names something ECS can shift traffic on: a rule, a listener's
/// default rule, or a listener itself (an NLB's).
pub(crate) async fn traffic_rule_exists(svc: &ElbService, arn: &str) -> Result<bool> {
    if arn.contains(":listener/") {
        return Ok(svc.store.get::<Listener>(arn).await?.is_some());
    }
    match if is_default(arn) {
        listener_of_default(svc, arn).await.map(|_| ())
    } else {
        find(svc, arn).await.map(|_| ())
    } {
        Ok(()) => Ok(true),
        Err(ElbError::RuleNotFound(_)) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Points the forward action of a rule, a listener's default rule or a listener at
/// these target groups with these weights (ECS shifting traffic between blue and
/// green). Returns whether anything changed; stickiness stays as it was.
pub(crate) async fn set_forward(svc: &ElbService, arn: &str, forward: &[(String, i64)]) -> Result<bool> {
    let wanted: Vec<WeightedTargetGroup> = forward
        .iter()
        .map(|(tg, weight)| WeightedTargetGroup { target_group_arn: tg.clone(), weight: *weight })
        .collect();
    let apply = |actions: &mut Vec<Action>| -> Result<bool> {
        let Some(action) = actions.iter_mut().find(|a| matches!(a.kind, ActionKind::Forward { .. })) else {
            return Err(ElbError::Config(format!("'{arn}' has no forward action to shift traffic on")));
        };
        let ActionKind::Forward { target_groups, .. } = &mut action.kind else { return Ok(false) };
        if *target_groups == wanted {
            return Ok(false);
        }
        *target_groups = wanted.clone();
        action.plain_target_group = false;
        Ok(true)
    };
    for attempt in 1..=UPDATE_ATTEMPTS {
        let stored = if arn.contains(":listener/") || is_default(arn) {
            let mut listener =
                if is_default(arn) { listener_of_default(svc, arn).await? } else { listeners::find(svc, arn).await? };
            if !apply(&mut listener.default_actions)? {
                return Ok(false);
            }
            svc.store.update(&listener).await.map(|_| ())
        } else {
            let mut rule = find(svc, arn).await?;
            if !apply(&mut rule.actions)? {
                return Ok(false);
            }
            svc.store.update(&rule).await.map(|_| ())
        };
        match stored {
            Ok(()) => return Ok(true),
            Err(e) if e.is_conflict() && attempt < UPDATE_ATTEMPTS => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(false)
}
