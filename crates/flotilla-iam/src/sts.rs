//! STS: who is calling (`GetCallerIdentity`) and temporary credentials for a role
//! (`AssumeRole`), checked against the role's trust policy. Whether the caller may call
//! `sts:AssumeRole` on the role at all was decided by the front door already.

use crate::access::Access;
use crate::error::{IamError, Result};
use crate::model::{self, Session};
use crate::{Answer, answer};
use flotilla_core::Timestamp;
use flotilla_iam_policy::{PolicyDocument, PolicyKind, policy_size};
use flotilla_protocol::{Caller, QueryRequest};

/// A session policy's largest size (AWS: 2048 characters).
const MAX_SESSION_POLICY: usize = 2048;

pub(crate) async fn call(access: &Access, operation: &str, q: &QueryRequest, caller: &Caller) -> Result<Answer> {
    match operation {
        "GetCallerIdentity" => caller_identity(access, caller).await,
        "AssumeRole" => assume_role(access, q, caller).await,
        other => Err(IamError::InvalidInput(format!("Could not find operation {other} for version 2011-06-15"))),
    }
}

async fn caller_identity(access: &Access, caller: &Caller) -> Result<Answer> {
    let account = access.account().account_id.clone();
    let arn = caller.principal_arn.clone().unwrap_or_else(|| access.root_arn().to_string());
    let user_id = if arn == access.root_arn() {
        account.clone()
    } else if let Some(s) = access.session(&caller.access_key_id).await? {
        format!("{}:{}", s.role_id, s.session_name)
    } else {
        let snapshot = access.snapshot().await?;
        snapshot.user_name(&arn).and_then(|n| snapshot.state.users.get(n)).map(|u| u.id.clone()).unwrap_or_default()
    };
    Ok(answer(move |w| {
        w.element("UserId", &user_id).element("Account", &account).element("Arn", &arn);
    }))
}

fn validation(message: String) -> IamError {
    IamError::validation(message)
}

async fn assume_role(access: &Access, q: &QueryRequest, caller: &Caller) -> Result<Answer> {
    let role_arn = q.get("RoleArn").ok_or_else(|| validation("RoleArn is required".into()))?.to_string();
    let session_name =
        q.get("RoleSessionName").ok_or_else(|| validation("RoleSessionName is required".into()))?.to_string();
    let name_ok = (2..=64).contains(&session_name.len())
        && session_name.chars().all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c));
    if !name_ok {
        return Err(validation(format!(
            "1 validation error detected: Value '{session_name}' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]* and have length between 2 and 64"
        )));
    }
    let policy = q.get("Policy").map(str::to_string);
    if let Some(p) = &policy {
        if policy_size(p) > MAX_SESSION_POLICY {
            return Err(IamError::PackedPolicyTooLarge(format!(
                "Packed size of consolidated policies exceeds the limit of {MAX_SESSION_POLICY} characters"
            )));
        }
        PolicyDocument::parse(p, PolicyKind::Identity).map_err(|e| IamError::MalformedPolicy(e.to_string()))?;
    }
    let snapshot = access.snapshot().await?;
    let caller_arn = caller.principal_arn.clone().unwrap_or_default();
    let refused = || {
        IamError::AccessDenied(format!(
            "User: {caller_arn} is not authorized to perform: sts:AssumeRole on resource: {role_arn}"
        ))
    };
    let role = match access.entity_of_arn(&role_arn) {
        Some((model::EntityKind::Role, name)) => snapshot.state.roles.get(name).filter(|r| r.arn == role_arn),
        _ => None,
    }
    .ok_or_else(refused)?;
    // A role's trust policy decides who may assume it, the root user included.
    if !access.trusts(&snapshot, role, &caller_arn) {
        return Err(refused());
    }
    // Role chaining (a session assuming a role) is limited to an hour, as AWS does.
    let chained = caller.access_key_id.starts_with("ASIA");
    let max = if chained { 3600 } else { role.max_session_duration };
    let duration = match q.get("DurationSeconds") {
        None => 3600.min(max),
        Some(s) => {
            let d = s.parse::<i64>().map_err(|_| validation(format!("DurationSeconds must be a number, not '{s}'")))?;
            if d < 900 {
                return Err(validation(format!(
                    "1 validation error detected: Value '{d}' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900"
                )));
            }
            if d > max {
                return Err(validation(format!(
                    "The requested DurationSeconds exceeds the MaxSessionDuration set for this role ({max})."
                )));
            }
            d
        }
    };
    let session = Session {
        access_key_id: model::new_access_key_id("ASIA"),
        secret: model::new_secret(),
        token: model::new_session_token(),
        role_name: role.name.clone(),
        role_arn: role.arn.clone(),
        role_id: role.id.clone(),
        session_name,
        expires: Timestamp(Timestamp::now().0 + duration * 1000),
        policy: policy.clone(),
        source: caller_arn.clone(),
    };
    access.put_session(&session).await?;
    let account = access.account().account_id.clone();
    let packed = policy.as_deref().map(|p| policy_size(p) * 100 / MAX_SESSION_POLICY).unwrap_or(0);
    Ok(answer(move |w| {
        w.open("Credentials")
            .element("AccessKeyId", &session.access_key_id)
            .element("SecretAccessKey", &session.secret)
            .element("SessionToken", &session.token)
            .element("Expiration", &session.expires.to_iso8601())
            .close();
        w.open("AssumedRoleUser")
            .element("AssumedRoleId", &format!("{}:{}", session.role_id, session.session_name))
            .element("Arn", &session.arn(&account))
            .close();
        w.element("PackedPolicySize", &packed.to_string());
    }))
}
