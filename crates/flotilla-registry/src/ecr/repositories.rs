//! Repositories: create, describe, delete; tag mutability and scanning settings;
//! resource tags; repository policies; lifecycle policies and their preview; and
//! GetAuthorizationToken.

use super::{
    AwsError, check_registry_id, check_repository_name, decode_token, encode_token, epoch, invalid, max_results,
    registry_host, repository, repository_not_found, server,
};
use crate::State;
use crate::auth::{TOKEN_LIFETIME_SECS, TokenPrincipal, authorization_token};
use crate::lifecycle;
use crate::store::{DeleteRepository, RepositoryRecord};
use flotilla_domain::Timestamp;
use flotilla_domain::flotilla_core::Arn;
use flotilla_domain::tag::{Tag, validate_tag_key, validate_tags};
use flotilla_protocol::Caller;
use serde::Deserialize;
use serde_json::{Value, json};

/// A fresh repository with ECR's defaults.
pub(crate) fn new_repository_record(name: &str) -> RepositoryRecord {
    RepositoryRecord {
        name: name.to_string(),
        created_at: Timestamp::now(),
        tag_mutability: "MUTABLE".into(),
        scan_on_push: false,
        encryption_type: "AES256".into(),
        tags: Vec::new(),
        repository_policy: None,
        lifecycle_policy: None,
        lifecycle_evaluated_at: None,
        version: 1,
    }
}

fn repository_json(state: &State, r: &RepositoryRecord) -> Value {
    json!({
        "repositoryArn": repository_arn(state, &r.name),
        "registryId": state.account.account_id,
        "repositoryName": r.name,
        "repositoryUri": format!("{}/{}", registry_host(state), r.name),
        "createdAt": epoch(r.created_at),
        "imageTagMutability": r.tag_mutability,
        "imageScanningConfiguration": { "scanOnPush": r.scan_on_push },
        "encryptionConfiguration": { "encryptionType": r.encryption_type },
    })
}

pub(super) fn repository_arn(state: &State, name: &str) -> String {
    state.account.arn("ecr", &format!("repository/{name}")).to_string()
}

/// ECR's wire tag: `Key` and `Value`.
#[derive(Deserialize)]
pub(super) struct WireTag {
    #[serde(rename = "Key")]
    key: String,
    #[serde(rename = "Value")]
    value: String,
}

fn domain_tags(tags: Vec<WireTag>) -> Result<Vec<Tag>, AwsError> {
    let tags: Vec<Tag> = tags.into_iter().map(|t| Tag { key: t.key, value: t.value }).collect();
    validate_tags(&tags).map_err(|e| AwsError::client("InvalidTagParameterException", e.message))?;
    Ok(tags)
}

fn tags_json(tags: &[Tag]) -> Value {
    Value::Array(tags.iter().map(|t| json!({ "Key": t.key, "Value": t.value })).collect())
}

fn check_mutability(value: &str) -> Result<(), AwsError> {
    match value {
        "MUTABLE" | "IMMUTABLE" => Ok(()),
        other => Err(invalid(format!(
            "Invalid parameter at 'imageTagMutability': '{other}' is not one of MUTABLE, IMMUTABLE"
        ))),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ScanningConfiguration {
    #[serde(default)]
    scan_on_push: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct EncryptionConfiguration {
    encryption_type: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct CreateRepository {
    registry_id: Option<String>,
    repository_name: String,
    #[serde(default)]
    tags: Vec<WireTag>,
    image_tag_mutability: Option<String>,
    image_scanning_configuration: Option<ScanningConfiguration>,
    encryption_configuration: Option<EncryptionConfiguration>,
}

pub(super) async fn create_repository(state: &State, input: CreateRepository) -> Result<Value, AwsError> {
    check_registry_id(state, input.registry_id.as_deref())?;
    check_repository_name(&input.repository_name)?;
    let mut record = new_repository_record(&input.repository_name);
    if let Some(m) = input.image_tag_mutability {
        check_mutability(&m)?;
        record.tag_mutability = m;
    }
    record.scan_on_push = input.image_scanning_configuration.is_some_and(|c| c.scan_on_push);
    if let Some(e) = input.encryption_configuration {
        if !matches!(e.encryption_type.as_str(), "AES256" | "KMS" | "KMS_DSSE") {
            return Err(invalid(format!(
                "Invalid parameter at 'encryptionConfiguration.encryptionType': '{}' is not supported",
                e.encryption_type
            )));
        }
        record.encryption_type = e.encryption_type;
    }
    record.tags = domain_tags(input.tags)?;
    if !state.store.create_repository(&record).await.map_err(server)? {
        return Err(AwsError::client(
            "RepositoryAlreadyExistsException",
            format!(
                "The repository with name '{}' already exists in the registry with id '{}'",
                record.name, state.account.account_id
            ),
        ));
    }
    tracing::info!(repository = %record.name, "repository created");
    Ok(json!({ "repository": repository_json(state, &record) }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct DescribeRepositories {
    registry_id: Option<String>,
    repository_names: Option<Vec<String>>,
    next_token: Option<String>,
    max_results: Option<i64>,
}

pub(super) async fn describe_repositories(state: &State, input: DescribeRepositories) -> Result<Value, AwsError> {
    check_registry_id(state, input.registry_id.as_deref())?;
    if let Some(names) = input.repository_names {
        if input.next_token.is_some() || input.max_results.is_some() {
            return Err(invalid("maxResults and nextToken cannot be used with repositoryNames"));
        }
        let mut out = Vec::new();
        for name in &names {
            out.push(repository_json(state, &repository(state, None, name).await?));
        }
        return Ok(json!({ "repositories": out }));
    }
    let limit = max_results(input.max_results, 1000, 100)?;
    let after = decode_token(input.next_token.as_deref())?;
    let mut rows = state.store.list_repositories(after.as_deref(), limit + 1).await.map_err(server)?;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let mut out = json!({ "repositories": rows.iter().map(|r| repository_json(state, r)).collect::<Vec<_>>() });
    if more && let Some(last) = rows.last() {
        out["nextToken"] = encode_token(&last.name).into();
    }
    Ok(out)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct DeleteRepositoryInput {
    registry_id: Option<String>,
    repository_name: String,
    #[serde(default)]
    force: bool,
}

pub(super) async fn delete_repository(state: &State, input: DeleteRepositoryInput) -> Result<Value, AwsError> {
    check_registry_id(state, input.registry_id.as_deref())?;
    check_repository_name(&input.repository_name)?;
    let name = &input.repository_name;
    match state.store.delete_repository(name, input.force).await.map_err(server)? {
        DeleteRepository::Deleted(record) => {
            tracing::info!(repository = %name, force = input.force, "repository deleted");
            Ok(json!({ "repository": repository_json(state, &record) }))
        }
        DeleteRepository::NotFound => Err(repository_not_found(state, name)),
        DeleteRepository::NotEmpty => Err(AwsError::client(
            "RepositoryNotEmptyException",
            format!(
                "The repository with name '{name}' in registry with id '{}' cannot be deleted because it still \
                 contains images",
                state.account.account_id
            ),
        )),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct GetAuthorizationToken {
    #[serde(default)]
    registry_ids: Vec<String>,
}

/// A token for `docker login`, issued to the caller: `/v2/` requests with it are
/// authorized as the caller.
pub(super) async fn get_authorization_token(
    state: &State,
    input: GetAuthorizationToken,
    caller: &Caller,
) -> Result<Value, AwsError> {
    for id in &input.registry_ids {
        check_registry_id(state, Some(id))?;
    }
    let expires_at = crate::now_secs() + TOKEN_LIFETIME_SECS;
    let password = match &caller.principal_arn {
        Some(arn) => state
            .tokens
            .issue_for(expires_at, &TokenPrincipal { access_key_id: caller.access_key_id.clone(), arn: arn.clone() }),
        None => state.tokens.issue(expires_at),
    };
    Ok(json!({ "authorizationData": [{
        "authorizationToken": authorization_token(&password),
        "expiresAt": expires_at,
        "proxyEndpoint": state.config.endpoint,
    }]}))
}

/// Reads a repository, changes it with `change`, and writes it back, retrying when a
/// concurrent change got there first.
async fn update(
    state: &State,
    registry_id: Option<&str>,
    name: &str,
    change: impl Fn(&mut RepositoryRecord) -> Result<(), AwsError>,
) -> Result<RepositoryRecord, AwsError> {
    for _ in 0..10 {
        let mut record = repository(state, registry_id, name).await?;
        change(&mut record)?;
        if state.store.update_repository(&record).await.map_err(server)? {
            return Ok(record);
        }
    }
    Err(AwsError::internal("ServerException", format!("repository {name} kept changing; try again")))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct PutImageTagMutability {
    registry_id: Option<String>,
    repository_name: String,
    image_tag_mutability: String,
}

pub(super) async fn put_image_tag_mutability(state: &State, input: PutImageTagMutability) -> Result<Value, AwsError> {
    check_mutability(&input.image_tag_mutability)?;
    let r = update(state, input.registry_id.as_deref(), &input.repository_name, |r| {
        r.tag_mutability = input.image_tag_mutability.clone();
        Ok(())
    })
    .await?;
    Ok(json!({
        "registryId": state.account.account_id,
        "repositoryName": r.name,
        "imageTagMutability": r.tag_mutability,
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct PutImageScanningConfiguration {
    registry_id: Option<String>,
    repository_name: String,
    image_scanning_configuration: ScanningConfiguration,
}

pub(super) async fn put_image_scanning_configuration(
    state: &State,
    input: PutImageScanningConfiguration,
) -> Result<Value, AwsError> {
    let scan = input.image_scanning_configuration.scan_on_push;
    let r = update(state, input.registry_id.as_deref(), &input.repository_name, |r| {
        r.scan_on_push = scan;
        Ok(())
    })
    .await?;
    Ok(json!({
        "registryId": state.account.account_id,
        "repositoryName": r.name,
        "imageScanningConfiguration": { "scanOnPush": r.scan_on_push },
    }))
}

// ---- resource tags ----

fn repository_of_arn(state: &State, arn: &str) -> Result<String, AwsError> {
    let parsed: Option<Arn> = arn.parse().ok();
    parsed
        .filter(|a| a.partition == "aws" && a.service == "ecr" && state.account.owns(a))
        .and_then(|a| a.resource.strip_prefix("repository/").filter(|n| !n.is_empty()).map(str::to_string))
        .ok_or_else(|| {
            invalid(format!("Invalid parameter at 'resourceArn': '{arn}' is not a repository ARN of this registry"))
        })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct TagResource {
    resource_arn: String,
    tags: Vec<WireTag>,
}

pub(super) async fn tag_resource(state: &State, input: TagResource) -> Result<Value, AwsError> {
    let name = repository_of_arn(state, &input.resource_arn)?;
    let new = domain_tags(input.tags)?;
    update(state, None, &name, |r| {
        for tag in &new {
            r.tags.retain(|t| t.key != tag.key);
            r.tags.push(tag.clone());
        }
        if r.tags.len() > flotilla_domain::tag::MAX_TAGS_PER_RESOURCE {
            return Err(AwsError::client(
                "TooManyTagsException",
                format!("repository {name} would have more than 50 tags"),
            ));
        }
        Ok(())
    })
    .await?;
    Ok(json!({}))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct UntagResource {
    resource_arn: String,
    tag_keys: Vec<String>,
}

pub(super) async fn untag_resource(state: &State, input: UntagResource) -> Result<Value, AwsError> {
    let name = repository_of_arn(state, &input.resource_arn)?;
    for key in &input.tag_keys {
        validate_tag_key(key).map_err(|e| AwsError::client("InvalidTagParameterException", e.message))?;
    }
    update(state, None, &name, |r| {
        r.tags.retain(|t| !input.tag_keys.contains(&t.key));
        Ok(())
    })
    .await?;
    Ok(json!({}))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ListTagsForResource {
    resource_arn: String,
}

pub(super) async fn list_tags_for_resource(state: &State, input: ListTagsForResource) -> Result<Value, AwsError> {
    let name = repository_of_arn(state, &input.resource_arn)?;
    let r = repository(state, None, &name).await?;
    Ok(json!({ "tags": tags_json(&r.tags) }))
}

// ---- repository policies ----

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct SetRepositoryPolicy {
    registry_id: Option<String>,
    repository_name: String,
    policy_text: String,
    #[serde(default)]
    #[allow(dead_code)]
    force: bool,
}

pub(super) async fn set_repository_policy(state: &State, input: SetRepositoryPolicy) -> Result<Value, AwsError> {
    let doc: Value = serde_json::from_str(&input.policy_text).map_err(|e| {
        invalid(format!(
            "Invalid parameter at 'PolicyText' failed to satisfy constraint: 'Invalid repository policy provided': {e}"
        ))
    })?;
    if doc.get("Statement").is_none() {
        return Err(invalid(
            "Invalid parameter at 'PolicyText' failed to satisfy constraint: 'Invalid repository policy provided': the policy has no Statement",
        ));
    }
    let r = update(state, input.registry_id.as_deref(), &input.repository_name, |r| {
        r.repository_policy = Some(input.policy_text.clone());
        Ok(())
    })
    .await?;
    Ok(json!({ "registryId": state.account.account_id, "repositoryName": r.name, "policyText": input.policy_text }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct RepositoryRef {
    registry_id: Option<String>,
    repository_name: String,
}

fn policy_not_found(state: &State, name: &str) -> AwsError {
    AwsError::client(
        "RepositoryPolicyNotFoundException",
        format!(
            "Repository policy does not exist for the repository with name '{name}' in the registry with id '{}'",
            state.account.account_id
        ),
    )
}

pub(super) async fn get_repository_policy(state: &State, input: RepositoryRef) -> Result<Value, AwsError> {
    let r = repository(state, input.registry_id.as_deref(), &input.repository_name).await?;
    let text = r.repository_policy.ok_or_else(|| policy_not_found(state, &r.name))?;
    Ok(json!({ "registryId": state.account.account_id, "repositoryName": r.name, "policyText": text }))
}

pub(super) async fn delete_repository_policy(state: &State, input: RepositoryRef) -> Result<Value, AwsError> {
    let name = input.repository_name.clone();
    let before = repository(state, input.registry_id.as_deref(), &name).await?;
    let text = before.repository_policy.clone().ok_or_else(|| policy_not_found(state, &name))?;
    update(state, input.registry_id.as_deref(), &name, |r| {
        if r.repository_policy.take().is_none() {
            return Err(policy_not_found(state, &name));
        }
        Ok(())
    })
    .await?;
    Ok(json!({ "registryId": state.account.account_id, "repositoryName": name, "policyText": text }))
}

// ---- lifecycle policies ----

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct PutLifecyclePolicy {
    registry_id: Option<String>,
    repository_name: String,
    lifecycle_policy_text: String,
}

pub(super) async fn put_lifecycle_policy(state: &State, input: PutLifecyclePolicy) -> Result<Value, AwsError> {
    lifecycle::parse(&input.lifecycle_policy_text).map_err(|e| invalid(e.to_string()))?;
    let r = update(state, input.registry_id.as_deref(), &input.repository_name, |r| {
        r.lifecycle_policy = Some(input.lifecycle_policy_text.clone());
        Ok(())
    })
    .await?;
    Ok(json!({
        "registryId": state.account.account_id,
        "repositoryName": r.name,
        "lifecyclePolicyText": input.lifecycle_policy_text,
    }))
}

fn lifecycle_not_found(state: &State, name: &str) -> AwsError {
    AwsError::client(
        "LifecyclePolicyNotFoundException",
        format!(
            "Lifecycle policy does not exist for the repository with name '{name}' in the registry with id '{}'",
            state.account.account_id
        ),
    )
}

fn lifecycle_json(state: &State, r: &RepositoryRecord, text: &str) -> Value {
    let mut out =
        json!({ "registryId": state.account.account_id, "repositoryName": r.name, "lifecyclePolicyText": text });
    if let Some(t) = r.lifecycle_evaluated_at {
        out["lastEvaluatedAt"] = epoch(t).into();
    }
    out
}

pub(super) async fn get_lifecycle_policy(state: &State, input: RepositoryRef) -> Result<Value, AwsError> {
    let r = repository(state, input.registry_id.as_deref(), &input.repository_name).await?;
    let text = r.lifecycle_policy.clone().ok_or_else(|| lifecycle_not_found(state, &r.name))?;
    Ok(lifecycle_json(state, &r, &text))
}

pub(super) async fn delete_lifecycle_policy(state: &State, input: RepositoryRef) -> Result<Value, AwsError> {
    let name = input.repository_name.clone();
    let before = repository(state, input.registry_id.as_deref(), &name).await?;
    let text = before.lifecycle_policy.clone().ok_or_else(|| lifecycle_not_found(state, &name))?;
    update(state, input.registry_id.as_deref(), &name, |r| {
        if r.lifecycle_policy.take().is_none() {
            return Err(lifecycle_not_found(state, &name));
        }
        Ok(())
    })
    .await?;
    Ok(lifecycle_json(state, &before, &text))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct StartLifecyclePolicyPreview {
    registry_id: Option<String>,
    repository_name: String,
    lifecycle_policy_text: Option<String>,
}

pub(super) async fn start_lifecycle_policy_preview(
    state: &State,
    input: StartLifecyclePolicyPreview,
) -> Result<Value, AwsError> {
    let r = repository(state, input.registry_id.as_deref(), &input.repository_name).await?;
    let text = input.lifecycle_policy_text.or(r.lifecycle_policy).ok_or_else(|| lifecycle_not_found(state, &r.name))?;
    lifecycle::parse(&text).map_err(|e| invalid(e.to_string()))?;
    Ok(json!({
        "registryId": state.account.account_id, "repositoryName": r.name,
        "lifecyclePolicyText": text, "status": "COMPLETE",
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct GetLifecyclePolicyPreview {
    registry_id: Option<String>,
    repository_name: String,
    filter: Option<PreviewFilter>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct PreviewFilter {
    tag_status: Option<String>,
}

pub(super) async fn get_lifecycle_policy_preview(
    state: &State,
    input: GetLifecyclePolicyPreview,
) -> Result<Value, AwsError> {
    let r = repository(state, input.registry_id.as_deref(), &input.repository_name).await?;
    let text = r.lifecycle_policy.clone().ok_or_else(|| {
        AwsError::client(
            "LifecyclePolicyPreviewNotFoundException",
            format!("There is no lifecycle policy preview for the repository with name '{}'", r.name),
        )
    })?;
    let tag_status = input.filter.and_then(|f| f.tag_status);
    let expiries =
        crate::lifecycle_expiries(state, &r.name, &text).await.map_err(server)?.map_err(|e| invalid(e.to_string()))?;
    let results: Vec<Value> = expiries
        .into_iter()
        .filter(|e| match tag_status.as_deref() {
            Some("TAGGED") => !e.tags.is_empty(),
            Some("UNTAGGED") => e.tags.is_empty(),
            _ => true,
        })
        .map(|e| {
            let mut v = json!({
                "imageDigest": e.digest, "imagePushedAt": epoch(e.pushed_at),
                "action": { "type": "EXPIRE" }, "appliedRulePriority": e.rule_priority,
            });
            if !e.tags.is_empty() {
                v["imageTags"] = json!(e.tags);
            }
            v
        })
        .collect();
    Ok(json!({
        "registryId": state.account.account_id,
        "repositoryName": r.name,
        "lifecyclePolicyText": text,
        "status": "COMPLETE",
        "summary": { "expiringImageTotalCount": results.len() },
        "previewResults": results,
    }))
}
