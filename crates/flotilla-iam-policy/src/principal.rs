//! `Principal` / `NotPrincipal` of resource-based and trust policies: who a statement
//! is about.

use serde_json::Value;

use crate::context::PrincipalRef;

/// A compiled `Principal` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Principals {
    /// `"*"` or `{"AWS": "*"}`: anyone, signed or not.
    Anyone,
    Listed(Vec<Entry>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Entry {
    /// A 12-digit account id or `arn:PARTITION:iam::ID:root`: any principal of the account.
    Account(String),
    /// An IAM role: the role itself, or any session of it (`arn:aws:sts::ID:assumed-role/NAME/…`).
    Role { arn: String, partition: String, account: String, name: String },
    /// Any other ARN, compared exactly.
    Arn(String),
    /// `ecs-tasks.amazonaws.com`: matched against the service that asks.
    Service(String),
    /// An identity provider, compared with the asking principal's ARN.
    Federated(String),
    /// S3 canonical user ids: accepted, never matched here.
    CanonicalUser(String),
}

fn invalid(kind: &str, value: &Value) -> String {
    format!("Invalid principal in policy: \"{kind}\":{value}")
}

/// Reads a `Principal` or `NotPrincipal` value.
pub(crate) fn parse_principal(value: &Value) -> Result<Principals, String> {
    let map = match value {
        Value::String(s) if s == "*" => return Ok(Principals::Anyone),
        Value::Object(map) if !map.is_empty() => map,
        other => return Err(format!("Invalid principal in policy: {other}")),
    };
    let mut entries = Vec::new();
    let mut anyone = false;
    for (kind, values) in map {
        let items: Vec<&Value> = match values {
            Value::Array(items) if !items.is_empty() => items.iter().collect(),
            Value::String(_) => vec![values],
            other => return Err(invalid(kind, other)),
        };
        for item in items {
            let Some(text) = item.as_str().filter(|s| !s.is_empty()) else {
                return Err(invalid(kind, item));
            };
            let entry = match kind.as_str() {
                "AWS" if text == "*" => {
                    anyone = true;
                    continue;
                }
                "AWS" => aws_entry(text).ok_or_else(|| invalid(kind, item))?,
                "Service" if text.contains(['*', '?', ' ']) => return Err(invalid(kind, item)),
                "Service" => Entry::Service(text.to_string()),
                "Federated" => Entry::Federated(text.to_string()),
                "CanonicalUser" => Entry::CanonicalUser(text.to_string()),
                _ => return Err(invalid(kind, item)),
            };
            entries.push(entry);
        }
    }
    Ok(if anyone { Principals::Anyone } else { Principals::Listed(entries) })
}

fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// An `AWS` principal: an account id or an ARN, without wildcards.
fn aws_entry(text: &str) -> Option<Entry> {
    if is_account_id(text) {
        return Some(Entry::Account(text.to_string()));
    }
    if text.contains(['*', '?']) {
        return None;
    }
    let parts: Vec<&str> = text.splitn(6, ':').collect();
    let ["arn", partition, service, _region, account, resource] = parts.as_slice() else { return None };
    if partition.is_empty() || service.is_empty() || resource.is_empty() {
        return None;
    }
    if *service == "iam" && is_account_id(account) {
        if *resource == "root" {
            return Some(Entry::Account(account.to_string()));
        }
        if let Some(path) = resource.strip_prefix("role/") {
            let name = path.rsplit('/').next().filter(|n| !n.is_empty())?;
            return Some(Entry::Role {
                arn: text.to_string(),
                partition: partition.to_string(),
                account: account.to_string(),
                name: name.to_string(),
            });
        }
    }
    Some(Entry::Arn(text.to_string()))
}

impl Principals {
    /// Whether the asking principal (`None`: anonymous) is one of these.
    pub(crate) fn matches(&self, who: Option<&PrincipalRef<'_>>) -> bool {
        match (self, who) {
            (Principals::Anyone, _) => true,
            (Principals::Listed(_), None) => false,
            (Principals::Listed(entries), Some(who)) => entries.iter().any(|e| e.matches(who)),
        }
    }
}

impl Entry {
    fn matches(&self, who: &PrincipalRef<'_>) -> bool {
        match self {
            Entry::Account(id) => who.service.is_none() && who.account_id == id,
            Entry::Arn(arn) => who.arn == arn,
            Entry::Role { arn, partition, account, name } => {
                who.arn == arn || assumed_role(who.arn) == Some((partition.as_str(), account.as_str(), name.as_str()))
            }
            Entry::Service(service) => who.service.is_some_and(|s| s.eq_ignore_ascii_case(service)),
            Entry::Federated(provider) => who.arn == provider,
            Entry::CanonicalUser(_) => false,
        }
    }
}

/// `arn:PARTITION:sts::ACCOUNT:assumed-role/NAME/SESSION` → (partition, account, name).
fn assumed_role(arn: &str) -> Option<(&str, &str, &str)> {
    let mut parts = arn.splitn(6, ':');
    let (prefix, partition, service, _region, account, resource) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if prefix != "arn" || service != "sts" {
        return None;
    }
    let mut path = resource.strip_prefix("assumed-role/")?.split('/');
    let name = path.next()?;
    path.next()?;
    Some((partition, account, name))
}
