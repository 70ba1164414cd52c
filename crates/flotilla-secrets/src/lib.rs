//! A minimal AWS Secrets Manager (AWS JSON 1.1, target prefix and signing name
//! `secretsmanager`, shapes as in botocore's `secretsmanager` 2017-10-17 model).
//!
//! Operations: CreateSecret, GetSecretValue, BatchGetSecretValue, PutSecretValue,
//! UpdateSecret, DescribeSecret, ListSecrets, ListSecretVersionIds,
//! UpdateSecretVersionStage, TagResource, UntagResource, DeleteSecret, RestoreSecret and
//! GetRandomPassword. Secrets have versions (uuid `VersionId`) staged `AWSCURRENT` and
//! `AWSPREVIOUS` (and any label UpdateSecretVersionStage moves); a version left without a
//! label is deprecated, kept until the secret has more than 100 versions. ARNs end in `-`
//! and six random characters, as AWS's do. State lives in a [`SecretStore`]
//! ([`SqlSecretStore`]: `secrets.db` or PostgreSQL).
//!
//! Values are sealed at rest with the data directory's key ([`Sealer`], `flotilla-seal`),
//! each bound to its secret's ARN and version id; `store.rs` says how values an earlier
//! Flotilla stored plain are read and sealed. KmsKeyId is recorded and shown, not used.
//!
//! Secret values never reach logs: [`SecretValue`] redacts itself in `Debug`, and no
//! request body is logged. This module is the one place Secrets Manager error codes
//! are chosen.

mod error;
mod store;

pub use error::{Result, SecretsError};
pub use store::{
    AWSCURRENT, AWSPREVIOUS, Create, MAX_TAGS, MoveStage, PutVersion, SecretRecord, SecretStore, SecretUpdate,
    SecretValue, SqlSecretStore, StageMove, Tagging, VersionRecord, plan_stage_move,
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
pub use flotilla_seal::Sealer;
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
const NEXT_TOKEN: &str = "InvalidNextTokenException";
const LIMIT: &str = "LimitExceededException";
const DAY_MS: i64 = 24 * 3600 * 1000;

/// The Secrets Manager JSON service.
pub struct SecretsService {
    store: Arc<dyn SecretStore>,
    account: AccountContext,
}

impl SecretsService {
    pub fn new(store: Arc<dyn SecretStore>, account: AccountContext) -> Self {
        Self { store, account }
    }

    /// Opens (creating if needed) the secrets store at `location`; values are sealed at
    /// rest with `sealer` (the data directory's key: [`Sealer::load_or_create`]).
    pub async fn open(location: &StoreLocation, account: AccountContext, sealer: Sealer) -> Result<Self> {
        let store = SqlSecretStore::open(location, sealer).await?;
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

/// BatchGetSecretValue's secrets: those its `SecretIdList` names (none, so `*`, with
/// `Filters`).
fn secret_id_list(input: &OperationInput<'_>, scope: &ArnScope<'_>) -> Vec<String> {
    input.strs("SecretIdList").into_iter().map(|id| secret_arn(id, scope)).collect()
}

/// Every operation served, with its IAM action and the secret it touches.
static OPERATIONS: &[Operation] = &[
    Operation::new("CreateSecret", "secretsmanager:CreateSecret", Resources::From(named_secret)),
    Operation::new("GetSecretValue", "secretsmanager:GetSecretValue", Resources::From(secret_id)),
    Operation::new("PutSecretValue", "secretsmanager:PutSecretValue", Resources::From(secret_id)),
    Operation::new("DescribeSecret", "secretsmanager:DescribeSecret", Resources::From(secret_id)),
    Operation::new("ListSecrets", "secretsmanager:ListSecrets", Resources::Any),
    Operation::new("DeleteSecret", "secretsmanager:DeleteSecret", Resources::From(secret_id)),
    Operation::new("UpdateSecret", "secretsmanager:UpdateSecret", Resources::From(secret_id)),
    Operation::new("RestoreSecret", "secretsmanager:RestoreSecret", Resources::From(secret_id)),
    Operation::new("ListSecretVersionIds", "secretsmanager:ListSecretVersionIds", Resources::From(secret_id)),
    Operation::new("UpdateSecretVersionStage", "secretsmanager:UpdateSecretVersionStage", Resources::From(secret_id)),
    Operation::new("TagResource", "secretsmanager:TagResource", Resources::From(secret_id)),
    Operation::new("UntagResource", "secretsmanager:UntagResource", Resources::From(secret_id)),
    Operation::new("GetRandomPassword", "secretsmanager:GetRandomPassword", Resources::Any),
    Operation::new("BatchGetSecretValue", "secretsmanager:BatchGetSecretValue", Resources::From(secret_id_list)),
];

/// Secrets' tags for IAM's `aws:ResourceTag/KEY` conditions.
#[async_trait]
impl flotilla_protocol::ResourceTags for SecretsService {
    async fn resource_tags(&self, arn: &str) -> Option<Vec<(String, String)>> {
        let (secret, _) = self.store.find(arn).await.ok()??;
        let tags = secret.tags.as_array()?;
        Some(
            tags.iter()
                .filter_map(|t| {
                    Some((t["Key"].as_str()?.to_string(), t["Value"].as_str().unwrap_or_default().to_string()))
                })
                .collect(),
        )
    }
}

#[async_trait]
impl ServiceModule for SecretsService {
    fn wire(&self) -> Wire {
        Wire::Json { target_prefix: TARGET_PREFIX, cbor_service: None }
    }

    fn resource_tags(&self) -> Option<&dyn flotilla_protocol::ResourceTags> {
        Some(self)
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
            "UpdateSecret" => run!(self, b, update_secret),
            "RestoreSecret" => run!(self, b, restore_secret),
            "ListSecretVersionIds" => run!(self, b, list_secret_version_ids),
            "UpdateSecretVersionStage" => run!(self, b, update_secret_version_stage),
            "TagResource" => run!(self, b, tag_resource),
            "UntagResource" => run!(self, b, untag_resource),
            "GetRandomPassword" => run!(self, b, get_random_password),
            "BatchGetSecretValue" => run!(self, b, batch_get_secret_value),
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

fn secret_not_found_for_stage(stage: &str) -> AwsError {
    AwsError::client(
        NOT_FOUND,
        format!("Secrets Manager can't find the specified secret value for staging label: {stage}"),
    )
}

fn server(e: SecretsError) -> AwsError {
    if let SecretsError::Unseal { .. } = e {
        tracing::error!(error = %e, "a secret value does not open with this data directory's seal key");
        return AwsError::client(
            "DecryptionFailure",
            "Secrets Manager can't decrypt the protected secret text using the provided KMS key.",
        );
    }
    tracing::error!(error = %e, "secrets manager request failed");
    AwsError::internal("InternalServiceError", "Secrets Manager failed to complete the request")
}

// ---- shapes ----

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    pub key: String,
    #[serde(default)]
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
pub struct UpdateSecretInput {
    secret_id: String,
    client_request_token: Option<String>,
    description: Option<String>,
    kms_key_id: Option<String>,
    secret_binary: Option<String>,
    secret_string: Option<String>,
    #[serde(rename = "Type")]
    _type: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListSecretVersionIdsInput {
    secret_id: String,
    max_results: Option<i64>,
    next_token: Option<String>,
    include_deprecated: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateSecretVersionStageInput {
    secret_id: String,
    version_stage: String,
    remove_from_version_id: Option<String>,
    move_to_version_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagResourceInput {
    secret_id: String,
    tags: Vec<Tag>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UntagResourceInput {
    secret_id: String,
    tag_keys: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct GetRandomPasswordInput {
    password_length: Option<i64>,
    exclude_characters: Option<String>,
    exclude_numbers: Option<bool>,
    exclude_punctuation: Option<bool>,
    exclude_uppercase: Option<bool>,
    exclude_lowercase: Option<bool>,
    include_space: Option<bool>,
    require_each_included_type: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BatchGetSecretValueInput {
    secret_id_list: Option<Vec<String>>,
    filters: Option<Vec<Filter>>,
    max_results: Option<i64>,
    next_token: Option<String>,
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

/// A character AWS allows in tag keys and values: letters, digits and spaces in UTF-8,
/// and `_ . : / = + - @`.
fn tag_char(c: char) -> bool {
    c.is_alphanumeric() || c.is_whitespace() || "_.:/=+-@".contains(c)
}

fn validate_tag_key(key: &str) -> Result<(), AwsError> {
    let len = key.chars().count();
    if len == 0 || len > 128 {
        return Err(invalid(format!("Tag key must be 1 to 128 characters long: '{key}'")));
    }
    if !key.chars().all(tag_char) {
        return Err(invalid(format!(
            "Invalid tag key '{key}': use only letters, numbers, spaces and the characters _ . : / = + - @"
        )));
    }
    if key.to_ascii_lowercase().starts_with("aws:") {
        return Err(invalid(format!("Invalid tag key '{key}': the prefix aws: is reserved for AWS use.")));
    }
    Ok(())
}

/// Tags a request adds: AWS's keys and values, at most 50, no key twice.
fn validate_tags(tags: &[Tag]) -> Result<(), AwsError> {
    if tags.len() > MAX_TAGS {
        return Err(invalid(format!("Tags: {} given; a secret has at most {MAX_TAGS} tags.", tags.len())));
    }
    let mut seen = std::collections::BTreeSet::new();
    for tag in tags {
        validate_tag_key(&tag.key)?;
        if tag.value.chars().count() > 256 {
            return Err(invalid(format!("The value of tag '{}' must be at most 256 characters long.", tag.key)));
        }
        if !tag.value.chars().all(tag_char) {
            return Err(invalid(format!(
                "Invalid value for tag '{}': use only letters, numbers, spaces and the characters _ . : / = + - @",
                tag.key
            )));
        }
        if !seen.insert(tag.key.as_str()) {
            return Err(invalid(format!("Duplicate tag key: '{}'", tag.key)));
        }
    }
    Ok(())
}

fn validate_filters(filters: &[Filter]) -> Result<(), AwsError> {
    if filters.len() > 10 {
        return Err(invalid("At most 10 filters may be given."));
    }
    for f in filters {
        if !["description", "name", "tag-key", "tag-value", "primary-region", "owning-service", "all"]
            .contains(&f.key.as_str())
        {
            return Err(invalid(format!("Filters.Key: unknown filter key {}", f.key)));
        }
        if f.values.is_empty() || f.values.len() > 10 {
            return Err(invalid(format!("Filters.Values: the filter {} must have 1 to 10 values.", f.key)));
        }
        for v in &f.values {
            if v.len() > 512 || !v.chars().all(|c| c.is_ascii_alphanumeric() || " :_@/+=.-!".contains(c)) {
                return Err(invalid(format!("Invalid filter value: {v}")));
            }
        }
    }
    Ok(())
}

fn validate_version_id(field: &str, id: &str) -> Result<(), AwsError> {
    if !(32..=64).contains(&id.len()) {
        return Err(invalid(format!("{field} must be 32 to 64 characters long.")));
    }
    Ok(())
}

fn decode_next_token(token: Option<&str>) -> Result<Option<String>, AwsError> {
    token
        .map(|t| paging::decode_token(t).map_err(|_| AwsError::client(NEXT_TOKEN, "The NextToken value is invalid.")))
        .transpose()
}

/// The page of `all` (in name order, reversed when `descending`) after the name
/// `after`, and the token of the next page when there is one.
fn name_page<'a, T>(
    all: &'a [(SecretRecord, T)],
    after: Option<&str>,
    descending: bool,
    limit: usize,
) -> (&'a [(SecretRecord, T)], Option<String>) {
    let start = match after {
        Some(a) => all
            .iter()
            .position(|(s, _)| if descending { s.name.as_str() < a } else { s.name.as_str() > a })
            .unwrap_or(all.len()),
        None => 0,
    };
    let end = all.len().min(start + limit);
    let page = &all[start..end];
    let next = if end < all.len() { page.last().map(|(s, _)| paging::encode_token(&s.name)) } else { None };
    (page, next)
}

const LOWERCASE: &str = "abcdefghijklmnopqrstuvwxyz";
const UPPERCASE: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const DIGITS: &str = "0123456789";
/// The punctuation GetRandomPassword uses.
const PUNCTUATION: &str = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

/// GetRandomPassword: characters drawn from the OS's random source; with
/// RequireEachIncludedType (the default) at least one of each included type (lowercase,
/// uppercase, digit, punctuation) that ExcludeCharacters leaves any character of.
fn random_password(input: &GetRandomPasswordInput) -> Result<String, AwsError> {
    use rand::seq::SliceRandom;
    let length = input.password_length.unwrap_or(32);
    if !(1..=4096).contains(&length) {
        return Err(invalid("PasswordLength must be between 1 and 4096."));
    }
    let excluded = input.exclude_characters.as_deref().unwrap_or("");
    if excluded.chars().count() > 4096 {
        return Err(invalid("ExcludeCharacters must be at most 4096 characters long."));
    }
    let flag = |b: Option<bool>| b.unwrap_or(false);
    let keep = |set: &str| -> Vec<char> { set.chars().filter(|c| !excluded.contains(*c)).collect() };
    let types: Vec<Vec<char>> = [
        (flag(input.exclude_lowercase), LOWERCASE),
        (flag(input.exclude_uppercase), UPPERCASE),
        (flag(input.exclude_numbers), DIGITS),
        (flag(input.exclude_punctuation), PUNCTUATION),
    ]
    .into_iter()
    .filter(|(exclude, _)| !exclude)
    .map(|(_, set)| keep(set))
    .filter(|set| !set.is_empty())
    .collect();
    let space = if flag(input.include_space) { keep(" ") } else { Vec::new() };
    let all: Vec<char> = types.iter().flatten().chain(&space).copied().collect();
    if all.is_empty() {
        return Err(invalid("The password can't be generated: every character is excluded."));
    }
    let length = length as usize;
    let require = input.require_each_included_type.unwrap_or(true);
    if require && length < types.len() {
        return Err(invalid(format!(
            "PasswordLength {length} is too short to include a character of each of the {} included types.",
            types.len()
        )));
    }
    let mut rng = rand::rngs::OsRng;
    let mut out: Vec<char> = Vec::with_capacity(length);
    if require {
        out.extend(types.iter().filter_map(|t| t.choose(&mut rng)));
    }
    while out.len() < length {
        out.push(all[rng.gen_range(0..all.len())]);
    }
    out.shuffle(&mut rng);
    Ok(out.into_iter().collect())
}

fn random_suffix() -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::thread_rng();
    (0..6).map(|_| CHARS[rng.gen_range(0..CHARS.len())] as char).collect()
}

/// The versions with a staging label (the others are deprecated) and their labels.
fn stages_map(versions: &[VersionRecord]) -> BTreeMap<String, Vec<String>> {
    versions.iter().filter(|v| !v.stages.is_empty()).map(|v| (v.version_id.clone(), v.stages.clone())).collect()
}

/// GetSecretValue's (and BatchGetSecretValue's) view of one version.
fn value_entry(secret: &SecretRecord, version: &VersionRecord) -> Value {
    let mut out = serde_json::Map::new();
    out.insert("ARN".into(), json!(secret.arn));
    out.insert("Name".into(), json!(secret.name));
    out.insert("VersionId".into(), json!(version.version_id));
    out.insert("VersionStages".into(), json!(version.stages));
    out.insert("CreatedDate".into(), json!(version.created_at.as_epoch_seconds()));
    value_fields(&mut out, &version.value);
    Value::Object(out)
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
    if let Some(k) = &secret.kms_key_id {
        out["KmsKeyId"] = json!(k);
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
        validate_tags(&input.tags)?;
        if input.kms_key_id.as_ref().is_some_and(|k| k.len() > 2048) {
            return Err(invalid("KmsKeyId must be at most 2048 characters long."));
        }
        if input.add_replica_regions.is_some() || input.force_overwrite_replica_secret.is_some() {
            return Err(invalid("Replication is not supported by this Secrets Manager."));
        }
        let value = read_value(input.secret_string, input.secret_binary, false)?;
        let now = Timestamp::now();
        let secret = SecretRecord {
            arn: self.arn(&input.name),
            name: input.name.clone(),
            description: input.description,
            kms_key_id: input.kms_key_id.filter(|k| !k.is_empty()),
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
                versions
                    .iter()
                    .find(|v| v.stages.iter().any(|s| s == stage))
                    .ok_or_else(|| secret_not_found_for_stage(stage))?
            }
        };
        Ok(value_entry(&secret, version))
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
        validate_filters(&input.filters)?;
        if input
            .sort_by
            .as_deref()
            .is_some_and(|s| !["created-date", "last-accessed-date", "last-changed-date", "name"].contains(&s))
        {
            return Err(invalid("SortBy must be one of created-date, last-accessed-date, last-changed-date, name."));
        }
        let after = decode_next_token(input.next_token.as_deref())?;
        let mut all = self.matching(&input.filters, input.include_planned_deletion).await?;
        // Pages are cut in name order; SortOrder=desc reverses it.
        let descending = input.sort_order.as_deref() == Some("desc");
        if descending {
            all.reverse();
        }
        let (page, next) = name_page(&all, after.as_deref(), descending, limit as usize);
        let mut out = json!({
            "SecretList": page.iter().map(|(s, v)| describe(s, v, "SecretVersionsToStages")).collect::<Vec<_>>(),
        });
        if let Some(next) = next {
            out["NextToken"] = json!(next);
        }
        Ok(out)
    }

    /// The secrets (in name order) every filter matches, past their recovery window
    /// left out, scheduled for deletion only when `include_deleted`.
    async fn matching(
        &self,
        filters: &[Filter],
        include_deleted: bool,
    ) -> Result<Vec<(SecretRecord, Vec<VersionRecord>)>, AwsError> {
        let now = Timestamp::now();
        Ok(self
            .store
            .list()
            .await
            .map_err(server)?
            .into_iter()
            .filter(|(s, _)| s.deletion_date.is_none_or(|d| d > now))
            .filter(|(s, _)| include_deleted || s.deleted_at.is_none())
            .filter(|(s, _)| filters.iter().all(|f| matches_filter(s, f)))
            .collect())
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

    async fn update_secret(&self, input: UpdateSecretInput) -> Result<Value, AwsError> {
        if let Some(t) = &input.client_request_token {
            validate_token(t)?;
        }
        if input.description.as_ref().is_some_and(|d| d.len() > 2048) {
            return Err(invalid("Description must be at most 2048 characters long."));
        }
        if input.kms_key_id.as_ref().is_some_and(|k| k.len() > 2048) {
            return Err(invalid("KmsKeyId must be at most 2048 characters long."));
        }
        if input._type.as_ref().is_some_and(|t| t.len() > 256) {
            return Err(invalid("Type must be at most 256 characters long."));
        }
        let value = read_value(input.secret_string, input.secret_binary, false)?;
        let (secret, _) = self.lookup(&input.secret_id).await?;
        if secret.deleted_at.is_some() {
            return Err(marked_for_deletion("UpdateSecret"));
        }
        let now = Timestamp::now();
        let version = value.map(|value| VersionRecord {
            version_id: input.client_request_token.unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
            value,
            stages: vec![AWSCURRENT.to_string()],
            created_at: now,
        });
        let update = SecretUpdate {
            description: input.description,
            // An empty KmsKeyId returns the secret to the default key.
            kms_key_id: input.kms_key_id.map(|k| Some(k).filter(|k| !k.is_empty())),
            version,
        };
        match self.store.update(&secret.arn, &update, now).await.map_err(server)? {
            PutVersion::Stored(_) => {
                tracing::info!(secret = %secret.arn, "secret updated");
                let mut out = json!({"ARN": secret.arn, "Name": secret.name});
                if let Some(v) = &update.version {
                    out["VersionId"] = json!(v.version_id);
                }
                Ok(out)
            }
            PutVersion::NotFound => Err(not_found()),
            PutVersion::Deleted => Err(marked_for_deletion("UpdateSecret")),
            PutVersion::VersionExists => Err(AwsError::client(
                EXISTS,
                format!(
                    "A version with VersionId {} already exists with a different value.",
                    update.version.map(|v| v.version_id).unwrap_or_default()
                ),
            )),
        }
    }

    async fn restore_secret(&self, input: SecretIdInput) -> Result<Value, AwsError> {
        let (secret, _) = self.lookup(&input.secret_id).await?;
        if secret.deleted_at.is_some() {
            if !self.store.restore(&secret.arn, Timestamp::now()).await.map_err(server)? {
                return Err(not_found());
            }
            tracing::info!(secret = %secret.arn, "secret restored");
        }
        Ok(json!({"ARN": secret.arn, "Name": secret.name}))
    }

    async fn list_secret_version_ids(&self, input: ListSecretVersionIdsInput) -> Result<Value, AwsError> {
        let limit = input.max_results.unwrap_or(100);
        if !(1..=100).contains(&limit) {
            return Err(invalid("MaxResults must be between 1 and 100."));
        }
        // A page's token is the (creation time, id) of its last version.
        let after = match decode_next_token(input.next_token.as_deref())? {
            Some(t) => {
                let bad = || AwsError::client(NEXT_TOKEN, "The NextToken value is invalid.");
                let (at, id) = t.split_once('/').ok_or_else(bad)?;
                Some((at.parse::<i64>().map_err(|_| bad())?, id.to_string()))
            }
            None => None,
        };
        let (secret, mut versions) = self.lookup(&input.secret_id).await?;
        if !input.include_deprecated.unwrap_or(false) {
            versions.retain(|v| !v.stages.is_empty());
        }
        // Newest first.
        versions.sort_by(|a, b| (b.created_at.0, &b.version_id).cmp(&(a.created_at.0, &a.version_id)));
        let start = match &after {
            Some((at, id)) => {
                versions.iter().position(|v| (v.created_at.0, &v.version_id) < (*at, id)).unwrap_or(versions.len())
            }
            None => 0,
        };
        let end = versions.len().min(start + limit as usize);
        let page = &versions[start..end];
        let entries: Vec<Value> = page
            .iter()
            .map(|v| {
                let mut e = json!({"VersionId": v.version_id, "CreatedDate": v.created_at.as_epoch_seconds()});
                if !v.stages.is_empty() {
                    e["VersionStages"] = json!(v.stages);
                }
                e
            })
            .collect();
        let mut out = json!({"ARN": secret.arn, "Name": secret.name, "Versions": entries});
        if end < versions.len()
            && let Some(last) = page.last()
        {
            out["NextToken"] = json!(paging::encode_token(&format!("{}/{}", last.created_at.0, last.version_id)));
        }
        Ok(out)
    }

    async fn update_secret_version_stage(&self, input: UpdateSecretVersionStageInput) -> Result<Value, AwsError> {
        let stage = input.version_stage.as_str();
        if stage.is_empty() || stage.len() > 256 {
            return Err(invalid("VersionStage must be 1 to 256 characters long."));
        }
        if stage.contains(',') {
            return Err(invalid(format!("Invalid staging label: {stage}")));
        }
        if let Some(id) = &input.remove_from_version_id {
            validate_version_id("RemoveFromVersionId", id)?;
        }
        if let Some(id) = &input.move_to_version_id {
            validate_version_id("MoveToVersionId", id)?;
        }
        let (secret, _) = self.lookup(&input.secret_id).await?;
        if secret.deleted_at.is_some() {
            return Err(marked_for_deletion("UpdateSecretVersionStage"));
        }
        let m = StageMove {
            stage,
            remove_from: input.remove_from_version_id.as_deref(),
            move_to: input.move_to_version_id.as_deref(),
        };
        match self.store.move_stage(&secret.arn, &m, Timestamp::now()).await.map_err(server)? {
            MoveStage::Moved => {
                tracing::info!(secret = %secret.arn, stage, "staging label moved");
                Ok(json!({"ARN": secret.arn, "Name": secret.name}))
            }
            MoveStage::NotFound => Err(not_found()),
            MoveStage::Deleted => Err(marked_for_deletion("UpdateSecretVersionStage")),
            MoveStage::NoSuchVersion(id) => Err(invalid(format!("Not a valid version: {id}"))),
            MoveStage::NotAttached { version } => {
                Err(invalid(format!("Version stage {stage} not found in version {version}")))
            }
            MoveStage::AttachedElsewhere { version } => Err(invalid(format!(
                "The parameter RemoveFromVersionId can't be empty. Staging label {stage} is currently attached to \
                 version {version}, so you must explicitly reference that version in RemoveFromVersionId."
            ))),
            MoveStage::CurrentNotMoved => Err(invalid(
                "The staging label AWSCURRENT can't be removed from a version without being moved to another: \
                 specify MoveToVersionId.",
            )),
            MoveStage::TooManyLabels => Err(AwsError::client(
                LIMIT,
                format!("A secret can have at most {} staging labels across its versions.", store::MAX_STAGES),
            )),
        }
    }

    async fn change_tags(
        &self,
        id: &str,
        add: Vec<Tag>,
        remove: &[String],
        operation: &str,
    ) -> Result<Value, AwsError> {
        let (secret, _) = self.lookup(id).await?;
        let add: Vec<(String, String)> = add.into_iter().map(|t| (t.key, t.value)).collect();
        match self.store.change_tags(&secret.arn, &add, remove).await.map_err(server)? {
            Tagging::Done => Ok(json!({})),
            Tagging::NotFound => Err(not_found()),
            Tagging::Deleted => Err(marked_for_deletion(operation)),
            Tagging::TooMany(n) => {
                Err(invalid(format!("The secret would have {n} tags; a secret has at most {MAX_TAGS} tags.")))
            }
        }
    }

    async fn tag_resource(&self, input: TagResourceInput) -> Result<Value, AwsError> {
        validate_tags(&input.tags)?;
        self.change_tags(&input.secret_id, input.tags, &[], "TagResource").await
    }

    async fn untag_resource(&self, input: UntagResourceInput) -> Result<Value, AwsError> {
        for key in &input.tag_keys {
            let len = key.chars().count();
            if len == 0 || len > 128 {
                return Err(invalid(format!("Tag key must be 1 to 128 characters long: '{key}'")));
            }
        }
        self.change_tags(&input.secret_id, Vec::new(), &input.tag_keys, "UntagResource").await
    }

    async fn get_random_password(&self, input: GetRandomPasswordInput) -> Result<Value, AwsError> {
        Ok(json!({"RandomPassword": random_password(&input)?}))
    }

    /// The `AWSCURRENT` value of the secret `id`, as GetSecretValue gives it.
    async fn current_value(&self, id: &str) -> Result<Value, AwsError> {
        let (secret, versions) = self.lookup(id).await?;
        if secret.deleted_at.is_some() {
            return Err(marked_for_deletion("GetSecretValue"));
        }
        let version = versions
            .iter()
            .find(|v| v.stages.iter().any(|s| s == AWSCURRENT))
            .ok_or_else(|| secret_not_found_for_stage(AWSCURRENT))?;
        Ok(value_entry(&secret, version))
    }

    async fn batch_get_secret_value(&self, input: BatchGetSecretValueInput) -> Result<Value, AwsError> {
        let mut values = Vec::new();
        let mut errors = Vec::new();
        let mut next = None;
        match (input.secret_id_list, input.filters) {
            (Some(ids), None) => {
                if ids.is_empty() || ids.len() > 20 {
                    return Err(invalid("SecretIdList must name 1 to 20 secrets."));
                }
                if input.max_results.is_some() || input.next_token.is_some() {
                    return Err(invalid("MaxResults and NextToken can be used only with Filters."));
                }
                for id in &ids {
                    if id.is_empty() || id.len() > 2048 {
                        return Err(invalid("SecretId must be 1 to 2048 characters long."));
                    }
                }
                for id in ids {
                    match self.current_value(&id).await {
                        Ok(v) => values.push(v),
                        Err(e) if e.status.is_client_error() => {
                            errors.push(json!({"SecretId": id, "ErrorCode": e.code, "Message": e.message}));
                        }
                        Err(e) => return Err(e),
                    }
                }
            }
            (None, Some(filters)) => {
                validate_filters(&filters)?;
                let limit = input.max_results.unwrap_or(20);
                if !(1..=20).contains(&limit) {
                    return Err(invalid("MaxResults must be between 1 and 20."));
                }
                let after = decode_next_token(input.next_token.as_deref())?;
                let all = self.matching(&filters, false).await?;
                let (page, token) = name_page(&all, after.as_deref(), false, limit as usize);
                next = token;
                for (secret, versions) in page {
                    match versions.iter().find(|v| v.stages.iter().any(|s| s == AWSCURRENT)) {
                        Some(version) => values.push(value_entry(secret, version)),
                        None => {
                            let e = secret_not_found_for_stage(AWSCURRENT);
                            errors.push(json!({"SecretId": secret.arn, "ErrorCode": e.code, "Message": e.message}));
                        }
                    }
                }
            }
            _ => return Err(invalid("Either SecretIdList or Filters must be given, but not both.")),
        }
        let mut out = json!({"SecretValues": values, "Errors": errors});
        if let Some(next) = next {
            out["NextToken"] = json!(next);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests;
