//! Who is calling and whether they may: the front door's two seams.
//!
//! * [`CredentialSource`] finds the secret key (and principal) of an access key id,
//!   asynchronously, so keys may live in a store. The front door looks the key up first
//!   and then has `flotilla-sigv4` verify against that one key, which keeps the
//!   verifier pure and synchronous.
//! * [`Authorizer`] runs between signature verification and dispatch with the caller,
//!   the operation's IAM action and the resource ARNs it touches; [`AllowAll`] is
//!   today's policy.

use async_trait::async_trait;
use flotilla_sigv4::Credentials;
use thiserror::Error;

/// An access key's credentials and the principal they belong to.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The key pair (with its session token, for temporary credentials).
    pub credentials: Credentials,
    /// The principal's ARN (e.g. `arn:aws:iam::000000000000:root`), when known.
    pub arn: Option<String>,
    /// When temporary credentials stop being accepted (`ExpiredToken` after).
    pub expires: Option<std::time::SystemTime>,
}

impl Principal {
    /// Long-term credentials of the principal `arn`.
    pub fn new(credentials: Credentials, arn: Option<String>) -> Self {
        Self { credentials, arn, expires: None }
    }
}

/// Looking up an access key failed (not: the key is unknown).
#[derive(Debug, Error)]
#[error("looking up access key {access_key_id}: {reason}")]
pub struct CredentialLookupError {
    pub access_key_id: String,
    pub reason: String,
}

/// Where the front door finds the secret of an access key id.
#[async_trait]
pub trait CredentialSource: Send + Sync + 'static {
    /// The principal owning `access_key_id`, or `None` when the key is unknown or disabled.
    async fn lookup(&self, access_key_id: &str) -> Result<Option<Principal>, CredentialLookupError>;
}

/// One fixed principal, e.g. the root credentials.
#[derive(Debug, Clone)]
pub struct StaticCredentials(pub Principal);

#[async_trait]
impl CredentialSource for StaticCredentials {
    async fn lookup(&self, access_key_id: &str) -> Result<Option<Principal>, CredentialLookupError> {
        Ok((self.0.credentials.access_key_id == access_key_id).then(|| self.0.clone()))
    }
}

/// One fixed key pair with no principal ARN (tests, stand-alone examples).
#[async_trait]
impl CredentialSource for Credentials {
    async fn lookup(&self, access_key_id: &str) -> Result<Option<Principal>, CredentialLookupError> {
        Ok((self.access_key_id == access_key_id).then(|| Principal::new(self.clone(), None)))
    }
}

/// Who made a verified call.
#[derive(Debug, Clone)]
pub struct Caller {
    pub access_key_id: String,
    /// The principal's ARN, when the credential source knows it.
    pub principal_arn: Option<String>,
    pub request_id: String,
}

impl Caller {
    /// A caller known only by access key id.
    pub fn new(access_key_id: impl Into<String>, request_id: impl Into<String>) -> Self {
        Self { access_key_id: access_key_id.into(), principal_arn: None, request_id: request_id.into() }
    }

    /// How AWS names the caller in an access-denied message.
    pub fn display_name(&self) -> String {
        match &self.principal_arn {
            Some(arn) => arn.clone(),
            None => format!("access key {}", self.access_key_id),
        }
    }
}

/// One call to authorize.
#[derive(Clone, Copy)]
pub struct AuthorizationRequest<'a> {
    pub caller: &'a Caller,
    /// The SigV4 signing name of the service, e.g. `ecs`.
    pub service: &'a str,
    /// The operation, e.g. `RunTask`.
    pub operation: &'a str,
    /// Its IAM action, e.g. `ecs:RunTask`.
    pub action: &'a str,
    /// The ARNs the call touches (`*` for the service as a whole); never empty.
    pub resources: &'a [String],
    /// The condition keys the request sets: the service's own (e.g. `ecs:cluster`),
    /// and `aws:RequestTag/KEY` and `aws:TagKeys` for the tags it carries.
    pub conditions: &'a [(String, String)],
    /// The client's address (`aws:SourceIp`), when the server knows it.
    pub source_ip: Option<std::net::IpAddr>,
    /// Where the tags of the request's resources are read (`aws:ResourceTag/KEY`),
    /// when the service has any.
    pub resource_tags: Option<&'a dyn ResourceTags>,
}

impl std::fmt::Debug for AuthorizationRequest<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthorizationRequest")
            .field("caller", &self.caller)
            .field("action", &self.action)
            .field("resources", &self.resources)
            .field("conditions", &self.conditions)
            .field("source_ip", &self.source_ip)
            .finish_non_exhaustive()
    }
}

/// The tags of a service's resources, for `aws:ResourceTag/KEY` conditions; read only
/// when a policy of the caller names such a key.
#[async_trait]
pub trait ResourceTags: Send + Sync {
    /// The tags of the resource `arn` (key, value); `None` when it does not exist or
    /// cannot be tagged.
    async fn resource_tags(&self, arn: &str) -> Option<Vec<(String, String)>>;
}

/// An authorizer's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// Refused on `resource` (one of the request's resources).
    Deny {
        resource: String,
    },
}

/// Decides whether a verified caller may make a call. Implementations fail closed:
/// when they cannot decide, they deny.
#[async_trait]
pub trait Authorizer: Send + Sync + 'static {
    async fn authorize(&self, request: &AuthorizationRequest<'_>) -> Decision;

    /// Whether `caller` may do everything (the root user): then the front door does
    /// not read the request's resources and keys nor ask [`Self::authorize`].
    fn unrestricted(&self, _caller: &Caller) -> bool {
        false
    }
}

/// Allows every verified call (no IAM policies yet).
#[derive(Debug, Clone, Copy, Default)]
pub struct AllowAll;

#[async_trait]
impl Authorizer for AllowAll {
    async fn authorize(&self, _request: &AuthorizationRequest<'_>) -> Decision {
        Decision::Allow
    }
}
