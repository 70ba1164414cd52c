//! The IAM policy language, free of I/O: documents parsed with AWS's refusals
//! ([`PolicyDocument::parse`], [`MalformedPolicy`]) and compiled once (wildcard
//! patterns, policy variables, typed condition values), then evaluated against
//! requests ([`evaluate`]) in AWS's order: any matching Deny wins, else any matching
//! Allow, else an implicit deny.
//!
//! The IAM service stores documents and checks [`policy_size`] against [`limits`];
//! the authorizer builds a [`RequestContext`] per request and evaluates the
//! principal's compiled policies.

mod condition;
mod context;
mod document;
mod pattern;
mod principal;

#[cfg(test)]
mod tests;

pub use context::{ContextKeys, PrincipalRef, RequestContext};
pub use document::{MalformedPolicy, PolicyDocument, PolicyKind};

use document::{Effect, Statement, service_hash, service_of};

/// IAM's size limits, in characters not counting whitespace ([`policy_size`]).
pub mod limits {
    /// One managed policy document.
    pub const MANAGED_POLICY: usize = 6144;
    /// All of a user's inline policies together.
    pub const USER_INLINE_TOTAL: usize = 2048;
    /// All of a group's inline policies together.
    pub const GROUP_INLINE_TOTAL: usize = 5120;
    /// All of a role's inline policies together.
    pub const ROLE_INLINE_TOTAL: usize = 10240;
    /// A role's trust policy (the default quota).
    pub const TRUST_POLICY: usize = 2048;
}

/// A policy's size as IAM counts it against [`limits`]: characters, whitespace not counted.
pub fn policy_size(text: &str) -> usize {
    text.chars().filter(|c| !c.is_whitespace()).count()
}

/// The outcome of evaluating policies for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Decision {
    Allow,
    /// A statement with `"Effect": "Deny"` matched.
    ExplicitDeny,
    /// No statement allowed it.
    ImplicitDeny,
}

impl Decision {
    pub fn is_allowed(self) -> bool {
        self == Decision::Allow
    }
}

/// AWS's order: any matching Deny wins, else any matching Allow, else implicit deny.
pub fn evaluate<'p>(policies: impl IntoIterator<Item = &'p PolicyDocument>, ctx: &RequestContext<'_>) -> Decision {
    decide(policies, ctx).0
}

/// The decision and the statement that made it, for SimulatePrincipalPolicy: the index
/// of its policy in `policies` and its Sid. The first matching Deny, else the first
/// matching Allow; `None` for an implicit deny.
pub fn evaluate_explained<'p>(
    policies: impl IntoIterator<Item = &'p PolicyDocument>,
    ctx: &RequestContext<'_>,
) -> (Decision, Option<(usize, Option<String>)>) {
    let (decision, by) = decide(policies, ctx);
    (decision, by.map(|(index, statement)| (index, statement.sid.clone())))
}

fn decide<'p>(
    policies: impl IntoIterator<Item = &'p PolicyDocument>,
    ctx: &RequestContext<'_>,
) -> (Decision, Option<(usize, &'p Statement)>) {
    let mut allowed_by = None;
    let service = service_of(ctx.action);
    let hash = service_hash(service);
    for (index, policy) in policies.into_iter().enumerate() {
        for statement in policy.candidates(hash, service) {
            // Once allowed, only a Deny can change the outcome.
            if statement.effect == Effect::Allow && allowed_by.is_some() {
                continue;
            }
            if !statement.applies(ctx) {
                continue;
            }
            match statement.effect {
                Effect::Deny => return (Decision::ExplicitDeny, Some((index, statement))),
                Effect::Allow => allowed_by = Some((index, statement)),
            }
        }
    }
    match allowed_by {
        Some(by) => (Decision::Allow, Some(by)),
        None => (Decision::ImplicitDeny, None),
    }
}
