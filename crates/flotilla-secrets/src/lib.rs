//! A minimal AWS Secrets Manager (AWS JSON 1.1, target prefix and signing name
//! `secretsmanager`, shapes as in botocore's `secretsmanager` 2017-10-17 model).
//!
//! Operations: CreateSecret, GetSecretValue, PutSecretValue, DescribeSecret,
//! ListSecrets and DeleteSecret. Secrets have versions (uuid `VersionId`) staged
//! `AWSCURRENT` and `AWSPREVIOUS`; ARNs end in `-` and six random characters, as
//! AWS's do. State lives in a [`SecretStore`] ([`SqlSecretStore`]: `secrets.db` or PostgreSQL).
//!
//! Secret values never reach logs: [`SecretValue`] redacts itself in `Debug`, and no
//! request body is logged. This module is the one place Secrets Manager error codes
//! are chosen.

mod error;
mod store;

pub use error::{Result, SecretsError};
pub use store::{
    AWSCURRENT, AWSPREVIOUS, Create, PutVersion, SecretRecord, SecretStore, SecretValue, SqlSecretStore, VersionRecord,
};

use async_trait::async_trait;
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
pub use flotilla_db::StoreLocation;
use flotilla_domain::flotilla_core::paging;
use flotilla_domain::{AccountContext, Timestamp};
use flotilla_protocol::{
    ArnScope, AwsError, Caller, Operation, OperationInput, Resources, ServiceModule, Wire, json_response, parse_request,
};
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;

const TARGET_PREFIX: &str = "secretsmanager";
const INVALID_PARAMETER: &str = "InvalidParameterException";
const INVALID_REQUEST: &str = "InvalidRequestException";
const NOT_FOUND: &str = "ResourceNotFoundException";
const EXISTS: &str = "ResourceExistsException";
const DAY_MS: i64 = 24 * 3600 * 1000;
/// Secrets Manager's limit of tags per secret.
const MAX_TAGS: usize = 50;

/// The Secrets Manager JSON service.
pub struct SecretsService {
    store: Arc<dyn SecretStore>,
    account: AccountContext,
}

impl SecretsService {
    pub fn new(store: Arc<dyn SecretStore>, account: AccountContext) -> Self {
        Self { store, account }
    }

    /// Opens (creating if needed) the secrets store at `location`.
    pub async fn open(location: &StoreLocation, account: AccountContext) -> Result<Self> {
        let store = SqlSecretStore::open(location).await?;
        Ok(Self::new(Arc::new(store), account))
    }

    /// Flushes and closes the store.
    pub async fn close(&self) {
        self.store.close().await;
    }
}

macro_rules! run {
    ($self:expr, $body:expr, $op:ident) => {{
        let input = parse_request($body, INVALID_PARAMETER)?;
        Ok(json_response(&$self.$op(input).await?))
    }};
}

/// The secret a request names: its ARN when given one; for a name, the ARN without
/// the six random characters AWS appends (the secret is not looked up to authorize).
fn secret_arn(id: &str, scope: &ArnScope<'_>) -> String {
    if id.starts_with("arn:") { id.to_string() } else { scope.arn("secretsmanager", &format!("secret:{id}")) }
}

fn named_secret(input: &OperationInput<'_>, scope: &ArnScope<'_>) -> Vec<String> {
    input.str("Name").map(|id| secret_arn(id, scope)).into_iter().collect()
}

fn secret_id(input: &OperationInput<'_>, scope: &ArnScope<'_>) -> Vec<String> {
    input.str("SecretId").map(|id| secret_arn(id, scope)).into_iter().collect()
}

/// Every operation served, with its IAM action and the secret it touches.
static OPERATIONS: &[Operation] = &[
    Operation::new("CreateSecret", "secretsmanager:CreateSecret", Resources::From(named_secret)),
    Operation::new("GetSecretValue", "secretsmanager:GetSecretValue", Resources::From(secret_id)),
    Operation::new("PutSecretValue", "secretsmanager:PutSecretValue", Resources::From(secret_id)),
    Operation::new("DescribeSecret", "secretsmanager:DescribeSecret", Resources::From(secret_id)),
    Operation::new("ListSecrets", "secretsmanager:ListSecrets", Resources::Any),
    Operation::new("DeleteSecret", "secretsmanager:DeleteSecret", Resources::From(secret_id)),
];

#[async_trait]
impl ServiceModule for SecretsService {
    fn wire(&self) -> Wire {
        Wire::Json { target_prefix: TARGET_PREFIX, cbor_service: None }
    }

    fn signing_name(&self) -> &'static str {
        "secretsmanager"
    }

    fn operations(&self) -> &'static [Operation] {
        OPERATIONS
    }

    async fn close(&self) {
        SecretsService::close(self).await;
    }

    async fn call(&self, operation: &str, body: Bytes, _caller: &Caller) -> Result<Response, AwsError> {
        let b = body.as_ref();
        match operation {
            "CreateSecret" => run!(self, b, create_secret),
            "GetSecretValue" => run!(self, b, get_secret_value),
            "PutSecretValue" => run!(self, b, put_secret_value),
            "DescribeSecret" => run!(self, b, describe_secret),
            "ListSecrets" => run!(self, b, list_secrets),
            "DeleteSecret" => run!(self, b, delete_secret),
            other => Err(AwsError::client(
                "UnknownOperationException",
                format!("unknown operation: {TARGET_PREFIX}.{other}"),
            )),
        }
    }
}

// ---- errors ----

fn invalid(message: impl Into<String>) -> AwsError {
    AwsError::client(INVALID_PARAMETER, message)
}

fn not_found() -> AwsError {
    AwsError::client(NOT_FOUND, "Secrets Manager can't find the specified secret.")
}

fn marked_for_deletion(operation: &str) -> AwsError {
    AwsError::client(
        INVALID_REQUEST,
        format!("You can't perform this operation on the secret because it was marked for deletion. ({operation})"),
    )
}

fn server(e: SecretsError) -> AwsError {
    tracing::error!(error = %e, "secrets manager request failed");
    AwsError::internal("InternalServiceError", "Secrets Manager failed to complete the request")
}

// ---- shapes ----

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    pub key: String,
    pub value: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateSecretInput {
    name: String,
    client_request_token: Option<String>,
    description: Option<String>,
    kms_key_id: Option<String>,
    secret_binary: Option<String>,
    secret_string: Option<String>,
    #[serde(default)]
    tags: Vec<Tag>,
    #[serde(rename = "Type")]
    _type: Option<String>,
    add_replica_regions: Option<Value>,
    force_overwrite_replica_secret: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SecretIdInput {
    secret_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetSecretValueInput {
    secret_id: String,
    version_id: Option<String>,
    version_stage: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutSecretValueInput {
    secret_id: String,
    client_request_token: Option<String>,
    secret_binary: Option<String>,
    secret_string: Option<String>,
    version_stages: Option<Vec<String>>,
    rotation_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Filter {
    key: String,
    #[serde(default)]
    values: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListSecretsInput {
    #[serde(default)]
    include_planned_deletion: bool,
    max_results: Option<i64>,
    next_token: Option<String>,
    #[serde(default)]
    filters: Vec<Filter>,
    sort_order: Option<String>,
    sort_by: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteSecretInput {
    secret_id: String,
    recovery_window_in_days: Option<i64>,
    force_delete_without_recovery: Option<bool>,
}

// ---- validation ----

fn validate_name(name: &str) -> Result<(), AwsError> {
    if name.is_empty() || name.len() > 512 {
        return Err(invalid("Name must be 1 to 512 characters long."));
    }
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || "/_+=.@-".contains(c)) {
        return Err(invalid(
            "Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!",
        ));
    }
    Ok(())
}

fn validate_token(token: &str) -> Result<(), AwsError> {
    if !(32..=64).contains(&token.len()) {
        return Err(invalid("ClientRequestToken must be 32 to 64 characters long."));
    }
    Ok(())
}

/// Exactly one of SecretString and SecretBinary (base64), within AWS's 64 KiB.
fn read_value(string: Option<String>, binary: Option<String>, required: bool) -> Result<Option<SecretValue>, AwsError> {
    let value = match (string, binary) {
        (Some(_), Some(_)) => {
            return Err(invalid(
                "You can't specify both a binary secret value and a string secret value in the same secret.",
            ));
        }
        (Some(s), None) => SecretValue::String(s),
        (None, Some(b)) => SecretValue::Binary(
            STANDARD.decode(b.as_bytes()).map_err(|e| invalid(format!("SecretBinary is not valid base64: {e}")))?,
        ),
        (None, None) if required => {
            return Err(invalid("You must provide either SecretString or SecretBinary."));
        }
        (None, None) => return Ok(None),
    };
    let len = match &value {
        SecretValue::String(s) => s.len(),
        SecretValue::Binary(b) => b.len(),
    };
    if len == 0 || len > 65536 {
        return Err(invalid("The secret value must be 1 to 65536 bytes long."));
    }
    Ok(Some(value))
}

fn random_suffix() -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::thread_rng();
    (0..6).map(|_| CHARS[rng.gen_range(0..CHARS.len())] as char).collect()
}

fn stages_map(versions: &[VersionRecord]) -> BTreeMap<String, Vec<String>> {
    versions.iter().map(|v| (v.version_id.clone(), v.stages.clone())).collect()
}

fn value_fields(out: &mut serde_json::Map<String, Value>, value: &SecretValue) {
    match value {
        SecretValue::String(s) => out.insert("SecretString".into(), json!(s)),
        SecretValue::Binary(b) => out.insert("SecretBinary".into(), json!(STANDARD.encode(b))),
    };
}

/// DescribeSecret's / ListSecrets' view of a secret.
fn describe(secret: &SecretRecord, versions: &[VersionRecord], versions_key: &str) -> Value {
    let mut out = json!({
        "ARN": secret.arn,
        "Name": secret.name,
        "RotationEnabled": false,
        "CreatedDate": secret.created_at.as_epoch_seconds(),
        "LastChangedDate": secret.last_changed_at.as_epoch_seconds(),
        versions_key: stages_map(versions),
    });
    if let Some(d) = &secret.description {
        out["Description"] = json!(d);
    }
    if secret.tags.as_array().is_some_and(|t| !t.is_empty()) {
        out["Tags"] = secret.tags.clone();
    }
    if let Some(d) = secret.deleted_at {
        out["DeletedDate"] = json!(d.as_epoch_seconds());
    }
    out
}

fn matches_filter(secret: &SecretRecord, filter: &Filter) -> bool {
    let tags = secret.tags.as_array().cloned().unwrap_or_default();
    let tag_field =
        |field: &str| -> Vec<String> { tags.iter().filter_map(|t| t[field].as_str().map(str::to_string)).collect() };
    filter.values.iter().any(|wanted| {
        let (negate, wanted) = match wanted.strip_prefix('!') {
            Some(w) => (true, w),
            None => (false, wanted.as_str()),
        };
        let hit = |s: &str| s.starts_with(wanted);
        let found = match filter.key.as_str() {
            "name" => hit(&secret.name),
            "description" => secret.description.as_deref().is_some_and(hit),
            "tag-key" => tag_field("Key").iter().any(|s| hit(s)),
            "tag-value" => tag_field("Value").iter().any(|s| hit(s)),
            "all" => {
                hit(&secret.name)
                    || secret.description.as_deref().is_some_and(hit)
                    || tag_field("Key").iter().chain(tag_field("Value").iter()).any(|s| hit(s))
            }
            _ => false,
        };
        found != negate
    })
}

impl SecretsService {
    fn arn(&self, name: &str) -> String {
        format!(
            "arn:aws:secretsmanager:{}:{}:secret:{}-{}",
            self.account.region,
            self.account.account_id,
            name,
            random_suffix()
        )
    }

    /// The secret named by `id` (a name or full ARN); deleted ones included.
    async fn lookup(&self, id: &str) -> Result<(SecretRecord, Vec<VersionRecord>), AwsError> {
        if id.is_empty() || id.len() > 2048 {
            return Err(invalid("SecretId must be 1 to 2048 characters long."));
        }
        let found = self.store.find(id).await.map_err(server)?;
        let Some((secret, versions)) = found else { return Err(not_found()) };
        // A secret past its recovery window is gone for good.
        if secret.deletion_date.is_some_and(|d| d <= Timestamp::now()) {
            self.store.purge(&secret.arn).await.map_err(server)?;
            return Err(not_found());
        }
        Ok((secret, versions))
    }

    async fn create_secret(&self, input: CreateSecretInput) -> Result<Value, AwsError> {
        validate_name(&input.name)?;
        if let Some(t) = &input.client_request_token {
            validate_token(t)?;
        }
        if input.description.as_ref().is_some_and(|d| d.len() > 2048) {
            return Err(invalid("Description must be at most 2048 characters long."));
        }
        if input.tags.len() > MAX_TAGS {
            return Err(invalid(format!("Tags: {} given; a secret has at most {MAX_TAGS} tags.", input.tags.len())));
        }
        if input.add_replica_regions.is_some() || input.force_overwrite_replica_secret.is_some() {
            return Err(invalid("Replication is not supported by this Secrets Manager."));
        }
        if input.kms_key_id.is_some() {
            tracing::debug!(secret = %input.name, "KmsKeyId ignored; secrets are stored unencrypted at rest");
        }
        let value = read_value(input.secret_string, input.secret_binary, false)?;
        let now = Timestamp::now();
        let secret = SecretRecord {
            arn: self.arn(&input.name),
            name: input.name.clone(),
            description: input.description,
            tags: serde_json::to_value(&input.tags).unwrap_or_else(|_| json!([])),
            created_at: now,
            last_changed_at: now,
            deleted_at: None,
            deletion_date: None,
        };
        // A secret may be created without a value; it gets its first version later.
        let version = value.map(|value| VersionRecord {
            version_id: input.client_request_token.unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
            value,
            stages: vec![AWSCURRENT.to_string()],
            created_at: now,
        });
        match self.store.create(&secret, version.as_ref()).await.map_err(server)? {
            Create::Created => {
                tracing::info!(secret = %secret.arn, "secret created");
                let mut out = json!({"ARN": secret.arn, "Name": secret.name});
                if let Some(v) = &version {
                    out["VersionId"] = json!(v.version_id);
                }
                Ok(out)
            }
            Create::NameTaken { deleted: true } => Err(AwsError::client(
                INVALID_REQUEST,
                "You can't create this secret because a secret with this name is already scheduled for deletion.",
            )),
            Create::NameTaken { deleted: false } => Err(AwsError::client(
                EXISTS,
                format!("The operation failed because the secret {} already exists.", input.name),
            )),
        }
    }

    async fn get_secret_value(&self, input: GetSecretValueInput) -> Result<Value, AwsError> {
        let (secret, versions) = self.lookup(&input.secret_id).await?;
        if secret.deleted_at.is_some() {
            return Err(marked_for_deletion("GetSecretValue"));
        }
        let version = match (&input.version_id, &input.version_stage) {
            (Some(id), stage) => versions
                .iter()
                .find(|v| &v.version_id == id && stage.as_ref().is_none_or(|s| v.stages.contains(s)))
                .ok_or_else(|| {
                    AwsError::client(NOT_FOUND, "Secrets Manager can't find the specified secret value for VersionId")
                })?,
            (None, stage) => {
                let stage = stage.as_deref().unwrap_or(AWSCURRENT);
                versions.iter().find(|v| v.stages.iter().any(|s| s == stage)).ok_or_else(|| {
                    AwsError::client(
                        NOT_FOUND,
                        format!("Secrets Manager can't find the specified secret value for staging label: {stage}"),
                    )
                })?
            }
        };
        let mut out = serde_json::Map::new();
        out.insert("ARN".into(), json!(secret.arn));
        out.insert("Name".into(), json!(secret.name));
        out.insert("VersionId".into(), json!(version.version_id));
        out.insert("VersionStages".into(), json!(version.stages));
        out.insert("CreatedDate".into(), json!(version.created_at.as_epoch_seconds()));
        value_fields(&mut out, &version.value);
        Ok(Value::Object(out))
    }

    async fn put_secret_value(&self, input: PutSecretValueInput) -> Result<Value, AwsError> {
        if let Some(t) = &input.client_request_token {
            validate_token(t)?;
        }
        if input.rotation_token.is_some() {
            return Err(invalid("Rotation is not supported by this Secrets Manager."));
        }
        if input.version_stages.as_ref().is_some_and(|s| s.as_slice() != [AWSCURRENT]) {
            return Err(invalid("Only the AWSCURRENT staging label can be given to a new version here."));
        }
        let value =
            read_value(input.secret_string, input.secret_binary, true)?.unwrap_or(SecretValue::String(String::new()));
        let (secret, _) = self.lookup(&input.secret_id).await?;
        if secret.deleted_at.is_some() {
            return Err(marked_for_deletion("PutSecretValue"));
        }
        let now = Timestamp::now();
        let version = VersionRecord {
            version_id: input.client_request_token.unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
            value,
            stages: vec![AWSCURRENT.to_string()],
            created_at: now,
        };
        match self.store.put_version(&secret.arn, &version, now).await.map_err(server)? {
            PutVersion::Stored(stages) => Ok(json!({
                "ARN": secret.arn,
                "Name": secret.name,
                "VersionId": version.version_id,
                "VersionStages": stages,
            })),
            PutVersion::NotFound => Err(not_found()),
            PutVersion::Deleted => Err(marked_for_deletion("PutSecretValue")),
            PutVersion::VersionExists => Err(AwsError::client(
                EXISTS,
                format!("A version with VersionId {} already exists with a different value.", version.version_id),
            )),
        }
    }

    async fn describe_secret(&self, input: SecretIdInput) -> Result<Value, AwsError> {
        let (secret, versions) = self.lookup(&input.secret_id).await?;
        Ok(describe(&secret, &versions, "VersionIdsToStages"))
    }

    async fn list_secrets(&self, input: ListSecretsInput) -> Result<Value, AwsError> {
        let limit = input.max_results.unwrap_or(100);
        if !(1..=100).contains(&limit) {
            return Err(invalid("MaxResults must be between 1 and 100."));
        }
        if input.filters.len() > 10 {
            return Err(invalid("At most 10 filters may be given."));
        }
        for f in &input.filters {
            if !["description", "name", "tag-key", "tag-value", "primary-region", "owning-service", "all"]
                .contains(&f.key.as_str())
            {
                return Err(invalid(format!("Filters.Key: unknown filter key {}", f.key)));
            }
        }
        if input
            .sort_by
            .as_deref()
            .is_some_and(|s| !["created-date", "last-accessed-date", "last-changed-date", "name"].contains(&s))
        {
            return Err(invalid("SortBy must be one of created-date, last-accessed-date, last-changed-date, name."));
        }
        let after = match &input.next_token {
            Some(t) => Some(
                paging::decode_token(t)
                    .map_err(|_| AwsError::client("InvalidNextTokenException", "The NextToken value is invalid."))?,
            ),
            None => None,
        };
        let now = Timestamp::now();
        let mut all: Vec<_> = self
            .store
            .list()
            .await
            .map_err(server)?
            .into_iter()
            .filter(|(s, _)| s.deletion_date.is_none_or(|d| d > now))
            .filter(|(s, _)| input.include_planned_deletion || s.deleted_at.is_none())
            .filter(|(s, _)| input.filters.iter().all(|f| matches_filter(s, f)))
            .collect();
        // Pages are cut in name order; SortOrder=desc reverses it.
        let descending = input.sort_order.as_deref() == Some("desc");
        if descending {
            all.reverse();
        }
        let start = match &after {
            Some(a) => {
                all.iter().position(|(s, _)| if descending { s.name < *a } else { s.name > *a }).unwrap_or(all.len())
            }
            None => 0,
        };
        let page: Vec<_> = all[start..].iter().take(limit as usize).collect();
        let more = start + page.len() < all.len();
        let mut out = json!({
            "SecretList": page.iter().map(|(s, v)| describe(s, v, "SecretVersionsToStages")).collect::<Vec<_>>(),
        });
        if more && let Some((last, _)) = page.last() {
            out["NextToken"] = json!(paging::encode_token(&last.name));
        }
        Ok(out)
    }

    async fn delete_secret(&self, input: DeleteSecretInput) -> Result<Value, AwsError> {
        let force = input.force_delete_without_recovery.unwrap_or(false);
        if force && input.recovery_window_in_days.is_some() {
            return Err(invalid("You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays."));
        }
        let days = input.recovery_window_in_days.unwrap_or(30);
        if !(7..=30).contains(&days) {
            return Err(invalid("The RecoveryWindowInDays value must be between 7 and 30 days (inclusive)."));
        }
        let (secret, _) = self.lookup(&input.secret_id).await?;
        let now = Timestamp::now();
        if force {
            self.store.purge(&secret.arn).await.map_err(server)?;
            tracing::info!(secret = %secret.arn, "secret deleted");
            return Ok(json!({"ARN": secret.arn, "Name": secret.name, "DeletionDate": now.as_epoch_seconds()}));
        }
        if secret.deleted_at.is_some() {
            return Err(marked_for_deletion("DeleteSecret"));
        }
        let deletion_date = Timestamp(now.0 + days * DAY_MS);
        if !self.store.mark_deleted(&secret.arn, now, deletion_date).await.map_err(server)? {
            return Err(not_found());
        }
        tracing::info!(secret = %secret.arn, days, "secret scheduled for deletion");
        Ok(json!({"ARN": secret.arn, "Name": secret.name, "DeletionDate": deletion_date.as_epoch_seconds()}))
    }
}

#[cfg(test)]
mod tests;
