//! Identity and access: IAM (query protocol, `Version=2010-05-08`, signing name `iam`)
//! and STS (`Version=2011-06-15`, signing name `sts`), and the front door's
//! [`CredentialSource`] and [`Authorizer`] that make every call of every service go
//! through IAM policies.
//!
//! * [`api`]: users, groups, roles, access keys, managed policies with versions,
//!   inline policies, attachments, tags, `GetAccountAuthorizationDetails`,
//!   `SimulatePrincipalPolicy`; [`sts`]: `GetCallerIdentity`, `AssumeRole`.
//! * [`access`]: who owns an access key (the root credentials, a user's key, an STS
//!   session) and whether a call is allowed — the principal's policies evaluated by
//!   `flotilla-iam-policy` in AWS's order. The root principal may do everything; every
//!   other principal starts with nothing.
//! * [`store`]: the entities as one state, changed in one transaction each.
//!
//! Every error code is chosen in [`error`].

pub mod access;
mod api;
pub mod error;
pub mod managed;
pub mod model;
pub mod store;
mod sts;
mod xml;

use access::Access;
use async_trait::async_trait;
use axum::response::Response;
use bytes::Bytes;
use flotilla_protocol::{
    ArnScope, AwsError, Caller, Operation, OperationInput, QueryRequest, Resources, ServiceModule, Wire, XmlWriter,
};
use std::sync::Arc;

pub use access::RootCredentials;
pub use store::IamStore;

/// IAM's API version and answers' namespace.
pub const IAM_VERSION: &str = "2010-05-08";
pub const IAM_XMLNS: &str = "https://iam.amazonaws.com/doc/2010-05-08/";
/// STS's API version and answers' namespace.
pub const STS_VERSION: &str = "2011-06-15";
pub const STS_XMLNS: &str = "https://sts.amazonaws.com/doc/2011-06-15/";

/// What a handler answers: the contents of `<ActionResult>`.
pub(crate) type Answer = Box<dyn FnOnce(&mut XmlWriter) + Send>;

pub(crate) fn answer(write: impl FnOnce(&mut XmlWriter) + Send + 'static) -> Answer {
    Box::new(write)
}

pub(crate) fn empty() -> Answer {
    Box::new(|_| {})
}

/// The IAM service module.
pub struct IamService {
    access: Arc<Access>,
}

/// The STS service module.
pub struct StsService {
    access: Arc<Access>,
}

impl IamService {
    pub fn new(access: Arc<Access>) -> Self {
        Self { access }
    }
}

impl StsService {
    pub fn new(access: Arc<Access>) -> Self {
        Self { access }
    }
}

/// `arn:aws:iam::ACCOUNT:KIND/PATH…NAME` for a request naming `field`; IAM ARNs name
/// no region, and the path is not known from the request, so it is matched as any.
fn iam_resource(input: &OperationInput<'_>, scope: &ArnScope<'_>, field: &str, kind: &str) -> Vec<String> {
    input.str(field).map(|name| format!("arn:aws:iam::{}:{kind}/{name}", scope.account_id)).into_iter().collect()
}

fn user_resource(input: &OperationInput<'_>, scope: &ArnScope<'_>) -> Vec<String> {
    iam_resource(input, scope, "UserName", "user")
}

fn group_resource(input: &OperationInput<'_>, scope: &ArnScope<'_>) -> Vec<String> {
    iam_resource(input, scope, "GroupName", "group")
}

fn role_resource(input: &OperationInput<'_>, scope: &ArnScope<'_>) -> Vec<String> {
    iam_resource(input, scope, "RoleName", "role")
}

fn policy_resource(input: &OperationInput<'_>, _scope: &ArnScope<'_>) -> Vec<String> {
    input.str("PolicyArn").map(str::to_string).into_iter().collect()
}

fn new_policy_resource(input: &OperationInput<'_>, scope: &ArnScope<'_>) -> Vec<String> {
    iam_resource(input, scope, "PolicyName", "policy")
}

fn source_resource(input: &OperationInput<'_>, _scope: &ArnScope<'_>) -> Vec<String> {
    input.str("PolicySourceArn").map(str::to_string).into_iter().collect()
}

fn role_arn(input: &OperationInput<'_>, _scope: &ArnScope<'_>) -> Vec<String> {
    input.str("RoleArn").map(str::to_string).into_iter().collect()
}

const fn op(name: &'static str, action: &'static str, resources: Resources) -> Operation {
    Operation::new(name, action, resources)
}

use Resources::{Any, From};

/// IAM's operations with their IAM actions (`iam:…`) and resources.
static IAM_OPERATIONS: &[Operation] = &[
    op("CreateUser", "iam:CreateUser", From(user_resource)),
    op("GetUser", "iam:GetUser", From(user_resource)),
    op("ListUsers", "iam:ListUsers", Any),
    op("UpdateUser", "iam:UpdateUser", From(user_resource)),
    op("DeleteUser", "iam:DeleteUser", From(user_resource)),
    op("TagUser", "iam:TagUser", From(user_resource)),
    op("UntagUser", "iam:UntagUser", From(user_resource)),
    op("ListUserTags", "iam:ListUserTags", From(user_resource)),
    op("CreateAccessKey", "iam:CreateAccessKey", From(user_resource)),
    op("ListAccessKeys", "iam:ListAccessKeys", From(user_resource)),
    op("UpdateAccessKey", "iam:UpdateAccessKey", From(user_resource)),
    op("DeleteAccessKey", "iam:DeleteAccessKey", From(user_resource)),
    op("GetAccessKeyLastUsed", "iam:GetAccessKeyLastUsed", Any),
    op("CreateGroup", "iam:CreateGroup", From(group_resource)),
    op("GetGroup", "iam:GetGroup", From(group_resource)),
    op("ListGroups", "iam:ListGroups", Any),
    op("DeleteGroup", "iam:DeleteGroup", From(group_resource)),
    op("AddUserToGroup", "iam:AddUserToGroup", From(group_resource)),
    op("RemoveUserFromGroup", "iam:RemoveUserFromGroup", From(group_resource)),
    op("ListGroupsForUser", "iam:ListGroupsForUser", From(user_resource)),
    op("CreateRole", "iam:CreateRole", From(role_resource)),
    op("GetRole", "iam:GetRole", From(role_resource)),
    op("ListRoles", "iam:ListRoles", Any),
    op("UpdateRole", "iam:UpdateRole", From(role_resource)),
    op("DeleteRole", "iam:DeleteRole", From(role_resource)),
    op("UpdateAssumeRolePolicy", "iam:UpdateAssumeRolePolicy", From(role_resource)),
    op("TagRole", "iam:TagRole", From(role_resource)),
    op("UntagRole", "iam:UntagRole", From(role_resource)),
    op("ListRoleTags", "iam:ListRoleTags", From(role_resource)),
    op("CreatePolicy", "iam:CreatePolicy", From(new_policy_resource)),
    op("GetPolicy", "iam:GetPolicy", From(policy_resource)),
    op("ListPolicies", "iam:ListPolicies", Any),
    op("DeletePolicy", "iam:DeletePolicy", From(policy_resource)),
    op("CreatePolicyVersion", "iam:CreatePolicyVersion", From(policy_resource)),
    op("GetPolicyVersion", "iam:GetPolicyVersion", From(policy_resource)),
    op("ListPolicyVersions", "iam:ListPolicyVersions", From(policy_resource)),
    op("SetDefaultPolicyVersion", "iam:SetDefaultPolicyVersion", From(policy_resource)),
    op("DeletePolicyVersion", "iam:DeletePolicyVersion", From(policy_resource)),
    op("TagPolicy", "iam:TagPolicy", From(policy_resource)),
    op("UntagPolicy", "iam:UntagPolicy", From(policy_resource)),
    op("ListPolicyTags", "iam:ListPolicyTags", From(policy_resource)),
    op("AttachUserPolicy", "iam:AttachUserPolicy", From(user_resource)),
    op("DetachUserPolicy", "iam:DetachUserPolicy", From(user_resource)),
    op("ListAttachedUserPolicies", "iam:ListAttachedUserPolicies", From(user_resource)),
    op("AttachGroupPolicy", "iam:AttachGroupPolicy", From(group_resource)),
    op("DetachGroupPolicy", "iam:DetachGroupPolicy", From(group_resource)),
    op("ListAttachedGroupPolicies", "iam:ListAttachedGroupPolicies", From(group_resource)),
    op("AttachRolePolicy", "iam:AttachRolePolicy", From(role_resource)),
    op("DetachRolePolicy", "iam:DetachRolePolicy", From(role_resource)),
    op("ListAttachedRolePolicies", "iam:ListAttachedRolePolicies", From(role_resource)),
    op("PutUserPolicy", "iam:PutUserPolicy", From(user_resource)),
    op("GetUserPolicy", "iam:GetUserPolicy", From(user_resource)),
    op("DeleteUserPolicy", "iam:DeleteUserPolicy", From(user_resource)),
    op("ListUserPolicies", "iam:ListUserPolicies", From(user_resource)),
    op("PutGroupPolicy", "iam:PutGroupPolicy", From(group_resource)),
    op("GetGroupPolicy", "iam:GetGroupPolicy", From(group_resource)),
    op("DeleteGroupPolicy", "iam:DeleteGroupPolicy", From(group_resource)),
    op("ListGroupPolicies", "iam:ListGroupPolicies", From(group_resource)),
    op("PutRolePolicy", "iam:PutRolePolicy", From(role_resource)),
    op("GetRolePolicy", "iam:GetRolePolicy", From(role_resource)),
    op("DeleteRolePolicy", "iam:DeleteRolePolicy", From(role_resource)),
    op("ListRolePolicies", "iam:ListRolePolicies", From(role_resource)),
    op("GetAccountAuthorizationDetails", "iam:GetAccountAuthorizationDetails", Any),
    op("SimulatePrincipalPolicy", "iam:SimulatePrincipalPolicy", From(source_resource)),
];

/// STS's operations. `GetCallerIdentity` needs no permission (AWS: nobody can be
/// denied it); it is still declared so the front door knows it.
static STS_OPERATIONS: &[Operation] =
    &[op("GetCallerIdentity", "sts:GetCallerIdentity", Any), op("AssumeRole", "sts:AssumeRole", From(role_arn))];

#[async_trait]
impl ServiceModule for IamService {
    fn wire(&self) -> Wire {
        Wire::Query { version: IAM_VERSION, xmlns: IAM_XMLNS }
    }

    fn signing_name(&self) -> &'static str {
        "iam"
    }

    fn operations(&self) -> &'static [Operation] {
        IAM_OPERATIONS
    }

    async fn call(&self, operation: &str, body: Bytes, caller: &Caller) -> Result<Response, AwsError> {
        let q = QueryRequest::parse(&body)?;
        let out = api::call(&self.access, operation, &q).await?;
        Ok(flotilla_protocol::query_response(operation, IAM_XMLNS, &caller.request_id, out))
    }

    fn controllers(&self) -> Vec<Arc<dyn flotilla_protocol::Controller>> {
        vec![Arc::new(access::SessionReaper::new(self.access.clone()))]
    }

    async fn close(&self) {
        self.access.store().close().await;
    }
}

#[async_trait]
impl ServiceModule for StsService {
    fn wire(&self) -> Wire {
        Wire::Query { version: STS_VERSION, xmlns: STS_XMLNS }
    }

    fn signing_name(&self) -> &'static str {
        "sts"
    }

    fn operations(&self) -> &'static [Operation] {
        STS_OPERATIONS
    }

    async fn call(&self, operation: &str, body: Bytes, caller: &Caller) -> Result<Response, AwsError> {
        let q = QueryRequest::parse(&body)?;
        let out = sts::call(&self.access, operation, &q, caller).await?;
        Ok(flotilla_protocol::query_response(operation, STS_XMLNS, &caller.request_id, out))
    }
}
