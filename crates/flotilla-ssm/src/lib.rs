//! AWS Systems Manager Parameter Store (AWS JSON 1.1, `X-Amz-Target: AmazonSSM.<Op>`,
//! signing name `ssm`, shapes as in botocore's `ssm` 2014-11-06 model).
//!
//! Operations: PutParameter, GetParameter, GetParameters, GetParametersByPath,
//! DeleteParameter, DeleteParameters, DescribeParameters, GetParameterHistory,
//! LabelParameterVersion, and AddTagsToResource / RemoveTagsFromResource /
//! ListTagsForResource for parameters. Parameters keep up to 100 versions, each with up
//! to ten labels; `name:version` and `name:label` select one. State lives in an
//! [`SsmStore`] (`ssm.db` or PostgreSQL schema `ssm`); SecureString values are stored
//! sealed with [`flotilla_seal`], bound to the parameter's ARN and version, and only
//! opened for `WithDecryption` (without it, the answer is the sealed value in base64).
//! [`error`] is the one place its error codes are chosen.

mod error;
mod listing;
pub mod names;
mod params;
pub mod store;
mod tags;

pub use error::{Code, Result, SsmError};
pub use store::{ParameterType, SsmStore};

use async_trait::async_trait;
use axum::response::Response;
use bytes::Bytes;
use flotilla_core::AccountContext;
pub use flotilla_db::StoreLocation;
use flotilla_protocol::{
    ArnScope, AwsError, Caller, Operation, OperationInput, Resources, ServiceModule, Wire, json_response, parse_request,
};
use flotilla_seal::Sealer;
use names::{NameRef, Selector};
use store::{StoredValue, VersionRecord};

const TARGET_PREFIX: &str = "AmazonSSM";

/// The Parameter Store JSON service.
pub struct SsmService {
    store: SsmStore,
    sealer: Sealer,
    account: AccountContext,
}

impl SsmService {
    pub fn new(store: SsmStore, sealer: Sealer, account: AccountContext) -> Self {
        Self { store, sealer, account }
    }

    /// Opens (creating if needed) the store at `location`; SecureStrings are sealed
    /// with `sealer` (the data directory's key).
    pub async fn open(location: &StoreLocation, sealer: Sealer, account: AccountContext) -> Result<Self> {
        Ok(Self::new(SsmStore::open(location).await?, sealer, account))
    }

    /// The store, for tests and tools.
    pub fn store(&self) -> &SsmStore {
        &self.store
    }

    /// Flushes and closes the store.
    pub async fn close(&self) {
        self.store.close().await;
    }

    /// The decrypted value of a parameter for injection into a container: its latest
    /// version, or the one `name:version` / `name:label` selects; a name or an ARN of
    /// this account and region. `None` when there is no such parameter or version.
    pub async fn resolve_for_injection(&self, name_or_arn: &str) -> Result<Option<String>> {
        let r = match names::parse_ref(name_or_arn, &self.account.region, &self.account.account_id) {
            Ok(r) => r,
            Err(e) if e.code() == Some(Code::ParameterNotFound) => return Ok(None),
            Err(e) => return Err(e),
        };
        match self.find(&r).await? {
            Found::Version(record) => Ok(Some(self.plain_value(&record)?)),
            Found::NoParameter | Found::NoVersion(_) => Ok(None),
        }
    }

    fn arn(&self, name: &str) -> String {
        names::arn(&self.account.region, &self.account.account_id, name)
    }

    /// What a sealed value of version `version` of `name` is bound to.
    fn seal_context(&self, name: &str, version: i64) -> Vec<u8> {
        format!("{}#{version}", self.arn(name)).into_bytes()
    }

    /// A version's value in clear.
    fn plain_value(&self, record: &VersionRecord) -> Result<String> {
        match &record.value {
            StoredValue::Plain(v) => Ok(v.clone()),
            StoredValue::Sealed(sealed) => {
                let what = || format!("version {} of {}", record.version, record.name);
                let opened = self
                    .sealer
                    .open(sealed, &self.seal_context(&record.name, record.version))
                    .map_err(|source| SsmError::Seal { what: what(), source })?;
                String::from_utf8(opened).map_err(|e| SsmError::corrupt(format!("opening {}", what()), e))
            }
        }
    }

    /// A version's value as answered: SecureStrings in clear only `with_decryption`,
    /// else the sealed value in base64 (as AWS answers with ciphertext).
    fn answer_value(&self, record: &VersionRecord, with_decryption: bool) -> Result<String> {
        match &record.value {
            StoredValue::Sealed(sealed) if !with_decryption => {
                use base64::Engine;
                Ok(base64::engine::general_purpose::STANDARD.encode(sealed))
            }
            _ => self.plain_value(record),
        }
    }

    /// The version a reference names.
    async fn find(&self, r: &NameRef) -> Result<Found> {
        for name in &r.candidates {
            let found = match &r.selector {
                None => self.store.latest(name).await?,
                Some(Selector::Version(v)) => self.store.version(name, *v).await?,
                Some(Selector::Label(l)) => self.store.labelled(name, l).await?,
            };
            if let Some(record) = found {
                return Ok(Found::Version(Box::new(record)));
            }
            if r.selector.is_some() && self.store.latest(name).await?.is_some() {
                return Ok(Found::NoVersion(name.clone()));
            }
        }
        Ok(Found::NoParameter)
    }

    /// The name of an existing parameter a reference (without selector) names.
    async fn existing_name(&self, r: &NameRef) -> Result<Option<String>> {
        for name in &r.candidates {
            if self.store.latest(name).await?.is_some() {
                return Ok(Some(name.clone()));
            }
        }
        Ok(None)
    }

    fn parse_ref(&self, given: &str) -> Result<NameRef> {
        names::parse_ref(given, &self.account.region, &self.account.account_id)
    }
}

enum Found {
    Version(Box<VersionRecord>),
    NoParameter,
    /// The parameter exists but not the version or label selected.
    NoVersion(String),
}

/// The parameter ARN a request's name (or ARN, with or without selector) stands for.
fn parameter_arn(given: &str, scope: &ArnScope<'_>) -> String {
    if let Some(at) = given.find(":parameter/").filter(|_| given.starts_with("arn:")) {
        let resource_start = at + ":parameter/".len();
        return match given[resource_start..].find(':') {
            Some(colon) => given[..resource_start + colon].to_string(),
            None => given.to_string(),
        };
    }
    let name = given.split_once(':').map_or(given, |(n, _)| n);
    scope.arn("ssm", &format!("parameter/{}", name.strip_prefix('/').unwrap_or(name)))
}

fn named(input: &OperationInput<'_>, scope: &ArnScope<'_>) -> Vec<String> {
    input.str("Name").map(|n| parameter_arn(n, scope)).into_iter().collect()
}

fn names_listed(input: &OperationInput<'_>, scope: &ArnScope<'_>) -> Vec<String> {
    input.strs("Names").into_iter().map(|n| parameter_arn(n, scope)).collect()
}

fn path(input: &OperationInput<'_>, scope: &ArnScope<'_>) -> Vec<String> {
    input.str("Path").map(|p| parameter_arn(p.trim_end_matches('/'), scope)).into_iter().collect()
}

fn tagged(input: &OperationInput<'_>, scope: &ArnScope<'_>) -> Vec<String> {
    input.str("ResourceId").map(|n| parameter_arn(n, scope)).into_iter().collect()
}

/// Every operation served, with its IAM action and the parameters it touches.
static OPERATIONS: &[Operation] = &[
    Operation::new("PutParameter", "ssm:PutParameter", Resources::From(named)),
    Operation::new("GetParameter", "ssm:GetParameter", Resources::From(named)),
    Operation::new("GetParameters", "ssm:GetParameters", Resources::From(names_listed)),
    Operation::new("GetParametersByPath", "ssm:GetParametersByPath", Resources::From(path)),
    Operation::new("DeleteParameter", "ssm:DeleteParameter", Resources::From(named)),
    Operation::new("DeleteParameters", "ssm:DeleteParameters", Resources::From(names_listed)),
    Operation::new("DescribeParameters", "ssm:DescribeParameters", Resources::Any),
    Operation::new("GetParameterHistory", "ssm:GetParameterHistory", Resources::From(named)),
    Operation::new("LabelParameterVersion", "ssm:LabelParameterVersion", Resources::From(named)),
    Operation::new("AddTagsToResource", "ssm:AddTagsToResource", Resources::From(tagged)),
    Operation::new("RemoveTagsFromResource", "ssm:RemoveTagsFromResource", Resources::From(tagged)),
    Operation::new("ListTagsForResource", "ssm:ListTagsForResource", Resources::From(tagged)),
];

macro_rules! run {
    ($self:expr, $body:expr, $caller:expr, $op:ident) => {{
        let input = parse_request($body, "ValidationException")?;
        match $self.$op(input, $caller).await {
            Ok(value) => Ok(json_response(&value)),
            Err(e) => Err(e.into_aws()),
        }
    }};
}

/// Parameters' tags for IAM's `aws:ResourceTag/KEY` conditions.
#[async_trait]
impl flotilla_protocol::ResourceTags for SsmService {
    async fn resource_tags(&self, arn: &str) -> Option<Vec<(String, String)>> {
        let given = names::parse_ref(arn, &self.account.region, &self.account.account_id).ok()?;
        for name in &given.candidates {
            if let Ok(Some(tags)) = self.store.tags(name).await {
                return Some(tags.into_iter().map(|t| (t.key, t.value)).collect());
            }
        }
        None
    }
}

#[async_trait]
impl ServiceModule for SsmService {
    fn wire(&self) -> Wire {
        Wire::Json { target_prefix: TARGET_PREFIX, cbor_service: None }
    }

    fn resource_tags(&self) -> Option<&dyn flotilla_protocol::ResourceTags> {
        Some(self)
    }

    fn signing_name(&self) -> &'static str {
        "ssm"
    }

    fn operations(&self) -> &'static [Operation] {
        OPERATIONS
    }

    async fn close(&self) {
        SsmService::close(self).await;
    }

    async fn call(&self, operation: &str, body: Bytes, caller: &Caller) -> Result<Response, AwsError> {
        let b = body.as_ref();
        match operation {
            "PutParameter" => run!(self, b, caller, put_parameter),
            "GetParameter" => run!(self, b, caller, get_parameter),
            "GetParameters" => run!(self, b, caller, get_parameters),
            "GetParametersByPath" => run!(self, b, caller, get_parameters_by_path),
            "DeleteParameter" => run!(self, b, caller, delete_parameter),
            "DeleteParameters" => run!(self, b, caller, delete_parameters),
            "DescribeParameters" => run!(self, b, caller, describe_parameters),
            "GetParameterHistory" => run!(self, b, caller, get_parameter_history),
            "LabelParameterVersion" => run!(self, b, caller, label_parameter_version),
            "AddTagsToResource" => run!(self, b, caller, add_tags_to_resource),
            "RemoveTagsFromResource" => run!(self, b, caller, remove_tags_from_resource),
            "ListTagsForResource" => run!(self, b, caller, list_tags_for_resource),
            other => Err(AwsError::client(
                "UnknownOperationException",
                format!("unknown operation: {TARGET_PREFIX}.{other}"),
            )),
        }
    }
}

#[cfg(test)]
mod tests;
