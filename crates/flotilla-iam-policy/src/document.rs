//! Policy documents: parsed with AWS's refusals and compiled once, so evaluating a
//! request only compares.

use serde_json::{Map, Value};

use crate::condition::{Condition, parse_conditions};
use crate::context::RequestContext;
use crate::pattern::{Pattern, Syntax};
use crate::principal::{Principals, parse_principal};

/// Which kind of policy a document is, which decides whether it names principals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicyKind {
    /// Attached to a user, group or role: `Principal`/`NotPrincipal` refused,
    /// `Resource`/`NotResource` required.
    Identity,
    /// A resource-based policy or a role's trust policy: every statement names a
    /// `Principal` or `NotPrincipal`; `Resource` is optional.
    Resource,
}

/// Why a policy document was refused; `message` reads like AWS's
/// `MalformedPolicyDocument` messages. JSON syntax errors carry their position.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct MalformedPolicy {
    pub message: String,
    pub line: Option<usize>,
    pub column: Option<usize>,
}

impl MalformedPolicy {
    fn new(message: impl Into<String>) -> Self {
        MalformedPolicy { message: message.into(), line: None, column: None }
    }
}

/// A parsed and compiled policy document.
#[derive(Debug, Clone)]
pub struct PolicyDocument {
    kind: PolicyKind,
    version: &'static str,
    id: Option<String>,
    pub(crate) statements: Vec<Statement>,
    index: ServiceIndex,
}

/// Which statements can apply to an action of a given service, so evaluation skips
/// the rest: statements naming only actions of other services never apply.
#[derive(Debug, Clone, Default)]
struct ServiceIndex {
    /// (hash of the lowercased service prefix, the prefix, statement indices in order).
    services: Vec<(u64, String, Vec<u32>)>,
    /// Statements for any other service (`*` actions, `NotAction`).
    other: Vec<u32>,
}

/// FNV-1a of `service` lowercased; computed once per request.
pub(crate) fn service_hash(service: &str) -> u64 {
    service
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b.to_ascii_lowercase())).wrapping_mul(0x100_0000_01b3))
}

/// The service prefix of an action: `ecs` of `ecs:RunTask`.
pub(crate) fn service_of(action: &str) -> &str {
    action.split_once(':').map_or(action, |(service, _)| service)
}

impl ServiceIndex {
    fn build(statements: &[Statement]) -> ServiceIndex {
        let mut index = ServiceIndex::default();
        for statement in statements {
            for service in statement.services.iter().flatten() {
                if !index.services.iter().any(|(_, s, _)| s == service) {
                    index.services.push((service_hash(service), service.clone(), Vec::new()));
                }
            }
        }
        for (i, statement) in statements.iter().enumerate() {
            let i = i as u32;
            match &statement.services {
                None => {
                    index.other.push(i);
                    index.services.iter_mut().for_each(|(_, _, list)| list.push(i));
                }
                Some(services) => {
                    for (_, s, list) in index.services.iter_mut() {
                        if services.contains(s) {
                            list.push(i);
                        }
                    }
                }
            }
        }
        index
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Effect {
    Allow,
    Deny,
}

/// One compiled statement.
#[derive(Debug, Clone)]
pub(crate) struct Statement {
    pub sid: Option<String>,
    pub effect: Effect,
    actions: Vec<Pattern>,
    /// `NotAction`: applies to actions matching none of `actions`.
    not_action: bool,
    /// The lowercased service prefixes of `actions`; `None` when the statement may
    /// apply to any service (`*`, `NotAction`).
    services: Option<Vec<String>>,
    /// `None`: no Resource element (trust policies).
    resources: Option<(Vec<Pattern>, bool)>,
    principals: Option<(Principals, bool)>,
    conditions: Vec<Condition>,
}

pub(crate) const VERSION_2012: &str = "2012-10-17";
pub(crate) const VERSION_2008: &str = "2008-10-17";

const TOP_FIELDS: [&str; 3] = ["Version", "Id", "Statement"];
const STATEMENT_FIELDS: [&str; 9] =
    ["Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource", "NotResource", "Condition"];

impl PolicyDocument {
    /// Parses `text` as a policy of `kind`, refusing what IAM refuses.
    pub fn parse(text: &str, kind: PolicyKind) -> Result<PolicyDocument, MalformedPolicy> {
        let value: Value = serde_json::from_str(text).map_err(|e| MalformedPolicy {
            message: format!("Syntax errors in policy. (line {}, column {})", e.line(), e.column()),
            line: Some(e.line()),
            column: Some(e.column()),
        })?;
        let Value::Object(top) = value else {
            return Err(MalformedPolicy::new("Syntax errors in policy. The policy must be a JSON object."));
        };
        check_fields(&top, &TOP_FIELDS)?;
        let version = match top.get("Version") {
            None => VERSION_2008,
            Some(Value::String(v)) if v == VERSION_2012 => VERSION_2012,
            Some(Value::String(v)) if v == VERSION_2008 => VERSION_2008,
            Some(other) => {
                return Err(MalformedPolicy::new(format!(
                    "The policy failed legacy parsing: invalid Version {other}; use \"2012-10-17\" or \"2008-10-17\"."
                )));
            }
        };
        let id = match top.get("Id") {
            None => None,
            Some(Value::String(id)) => Some(id.clone()),
            Some(_) => return Err(MalformedPolicy::new("Syntax errors in policy. Id must be a string.")),
        };
        let statements = match top.get("Statement") {
            None => return Err(MalformedPolicy::new("Missing required field Statement")),
            Some(Value::Array(items)) if items.is_empty() => {
                return Err(MalformedPolicy::new("Syntax errors in policy. Statement must not be empty."));
            }
            Some(Value::Array(items)) => items.iter().collect(),
            Some(one) => vec![one],
        };
        let variables = version == VERSION_2012;
        let mut compiled: Vec<Statement> = Vec::with_capacity(statements.len());
        for statement in statements {
            let statement = parse_statement(statement, kind, variables)?;
            if let Some(sid) = &statement.sid
                && compiled.iter().any(|s| s.sid.as_ref() == Some(sid))
            {
                return Err(MalformedPolicy::new("Statement IDs (SID) in a single policy must be unique."));
            }
            compiled.push(statement);
        }
        let index = ServiceIndex::build(&compiled);
        Ok(PolicyDocument { kind, version, id, statements: compiled, index })
    }

    /// How many statements the document holds.
    pub fn statements(&self) -> usize {
        self.statements.len()
    }

    pub fn kind(&self) -> PolicyKind {
        self.kind
    }

    /// `2012-10-17` or `2008-10-17` (also when the document names none).
    pub fn version(&self) -> &'static str {
        self.version
    }

    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// The statements that may apply to an action of `service` (hashed by
    /// [`service_hash`]), in document order.
    pub(crate) fn candidates(&self, hash: u64, service: &str) -> impl Iterator<Item = &Statement> {
        let list = self
            .index
            .services
            .iter()
            .find(|(h, s, _)| *h == hash && s.eq_ignore_ascii_case(service))
            .map_or(&self.index.other, |(_, _, list)| list);
        list.iter().map(|&i| &self.statements[i as usize])
    }

    /// The statements' Sids in order (`None` for a statement without one).
    pub fn sids(&self) -> impl Iterator<Item = Option<&str>> {
        self.statements.iter().map(|s| s.sid.as_deref())
    }
}

fn check_fields(object: &Map<String, Value>, allowed: &[&str]) -> Result<(), MalformedPolicy> {
    match object.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(unknown) => Err(MalformedPolicy::new(format!("Syntax errors in policy. Unknown field {unknown}"))),
        None => Ok(()),
    }
}

/// One of two exclusive fields (`Action`/`NotAction`, …): the value and whether it is the `Not` one.
fn one_of<'v>(
    statement: &'v Map<String, Value>,
    field: &str,
    not_field: &str,
) -> Result<Option<(&'v Value, bool)>, MalformedPolicy> {
    match (statement.get(field), statement.get(not_field)) {
        (Some(_), Some(_)) => Err(MalformedPolicy::new(format!(
            "Syntax errors in policy. A statement cannot have both {field} and {not_field}."
        ))),
        (Some(v), None) => Ok(Some((v, false))),
        (None, Some(v)) => Ok(Some((v, true))),
        (None, None) => Ok(None),
    }
}

/// A string or a non-empty array of strings.
fn strings<'v>(value: &'v Value, field: &str, empty: &str) -> Result<Vec<&'v str>, MalformedPolicy> {
    let not_string =
        || MalformedPolicy::new(format!("Syntax errors in policy. {field} must be a string or an array of strings."));
    match value {
        Value::String(s) => Ok(vec![s.as_str()]),
        Value::Array(items) if items.is_empty() => Err(MalformedPolicy::new(empty)),
        Value::Array(items) => items.iter().map(|v| v.as_str().ok_or_else(not_string)).collect(),
        _ => Err(not_string()),
    }
}

fn parse_statement(value: &Value, kind: PolicyKind, variables: bool) -> Result<Statement, MalformedPolicy> {
    let Value::Object(st) = value else {
        return Err(MalformedPolicy::new("Syntax errors in policy. Each statement must be a JSON object."));
    };
    check_fields(st, &STATEMENT_FIELDS)?;
    let sid = match st.get("Sid") {
        None => None,
        Some(Value::String(s)) if s.chars().all(|c| c.is_ascii_alphanumeric()) => Some(s.clone()),
        Some(_) => return Err(MalformedPolicy::new("Statement IDs (SID) must be alpha-numeric.")),
    };
    let effect = match st.get("Effect") {
        None => return Err(MalformedPolicy::new("Missing required field Effect")),
        Some(Value::String(e)) if e == "Allow" => Effect::Allow,
        Some(Value::String(e)) if e == "Deny" => Effect::Deny,
        Some(other) => {
            return Err(MalformedPolicy::new(format!(
                "Invalid effect: {other}. Effect must be \"Allow\" or \"Deny\"."
            )));
        }
    };

    let principals = match one_of(st, "Principal", "NotPrincipal")? {
        Some(_) if kind == PolicyKind::Identity => {
            return Err(MalformedPolicy::new("Policy document should not specify a principal."));
        }
        None if kind == PolicyKind::Resource => return Err(MalformedPolicy::new("Missing required field Principal")),
        None => None,
        Some((value, not)) => Some((parse_principal(value).map_err(MalformedPolicy::new)?, not)),
    };

    let Some((action_value, not_action)) = one_of(st, "Action", "NotAction")? else {
        return Err(MalformedPolicy::new("Missing required field Action"));
    };
    let field = if not_action { "NotAction" } else { "Action" };
    let actions = strings(action_value, field, "Policy statement must contain actions.")?
        .into_iter()
        .map(compile_action)
        .collect::<Result<Vec<_>, _>>()?;

    let resources = match one_of(st, "Resource", "NotResource")? {
        None if kind == PolicyKind::Identity => return Err(MalformedPolicy::new("Missing required field Resource")),
        None => None,
        Some((value, not)) => {
            let field = if not { "NotResource" } else { "Resource" };
            let patterns = strings(value, field, "Policy statement must contain resources.")?
                .into_iter()
                .map(|r| compile_resource(r, variables))
                .collect::<Result<Vec<_>, _>>()?;
            Some((patterns, not))
        }
    };

    let conditions = match st.get("Condition") {
        None => Vec::new(),
        Some(block) => parse_conditions(block, variables).map_err(MalformedPolicy::new)?,
    };
    let names = strings(action_value, field, "")?;
    let services = if not_action || names.contains(&"*") {
        None
    } else {
        let mut services: Vec<String> = names.iter().map(|a| service_of(a).to_ascii_lowercase()).collect();
        services.sort();
        services.dedup();
        Some(services)
    };
    Ok(Statement { sid, effect, actions, not_action, services, resources, principals, conditions })
}

/// `*` or `service:Action` (wildcards allowed in the action part), compared ignoring case.
fn compile_action(action: &str) -> Result<Pattern, MalformedPolicy> {
    let word = |s: &str, wild: bool| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || (wild && (b == b'*' || b == b'?')))
    };
    let valid = action == "*"
        || match action.split_once(':') {
            Some((service, name)) => word(service, false) && word(name, true),
            None => false,
        };
    if !valid {
        return Err(MalformedPolicy::new(format!(
            "Invalid Action: '{action}'. Actions must be \"*\" or a service prefix and an action, e.g. ecs:RunTask."
        )));
    }
    Pattern::compile(action, Syntax { wildcards: true, variables: false, ignore_case: true })
        .map_err(|_| MalformedPolicy::new(format!("Invalid Action: '{action}'")))
}

/// `*` or an ARN (wildcards allowed; policy variables in Version 2012-10-17).
fn compile_resource(resource: &str, variables: bool) -> Result<Pattern, MalformedPolicy> {
    let arn_like = resource.starts_with("arn:") && (resource.matches(':').count() >= 5 || resource.contains('*'));
    if resource != "*" && !arn_like {
        return Err(MalformedPolicy::new(format!("Resource {resource} must be in ARN format or \"*\".")));
    }
    Pattern::compile(resource, Syntax { wildcards: true, variables, ignore_case: false })
        .map_err(|_| MalformedPolicy::new(format!("Invalid policy variable in Resource {resource}")))
}

impl Statement {
    /// Whether the statement applies to the request (its effect aside).
    pub(crate) fn applies(&self, ctx: &RequestContext<'_>) -> bool {
        let keys = ctx.keys;
        if self.actions.iter().any(|a| a.matches(ctx.action, keys)) == self.not_action {
            return false;
        }
        if let Some((resources, not)) = &self.resources
            && resources.iter().any(|r| r.matches(ctx.resource, keys)) == *not
        {
            return false;
        }
        if let Some((principals, not)) = &self.principals
            && principals.matches(ctx.principal) == *not
        {
            return false;
        }
        self.conditions.iter().all(|c| c.holds(keys))
    }
}
