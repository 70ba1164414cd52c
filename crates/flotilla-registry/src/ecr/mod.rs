//! The ECR API (AWS JSON 1.1, target prefix `AmazonEC2ContainerRegistry_V20150921`,
//! signing name `ecr`), shapes as in botocore's ECR model. One module per resource:
//! repositories (with their tags and policies), images, and layer uploads. This module
//! is the one place ECR error codes are chosen.

mod images;
mod layers;
mod operations;
mod repositories;

use crate::State;
use crate::error::RegistryError;
use crate::store::RepositoryRecord;
use async_trait::async_trait;
use axum::response::Response;
use bytes::Bytes;
use flotilla_domain::Timestamp;
use flotilla_domain::flotilla_core::paging;
use flotilla_protocol::{AwsError, Caller, Controller, Operation, ServiceModule, Wire, json_response, parse_request};
use std::sync::Arc;

pub(crate) use repositories::new_repository_record;

/// The ECR JSON service, and as a [`ServiceModule`] the whole registry: the `/v2/`
/// routes, maintenance in the background (when asked for) and closing its store.
pub struct EcrService {
    state: Arc<State>,
    maintenance: Option<crate::Maintenance>,
}

impl EcrService {
    pub(crate) fn new(state: Arc<State>, maintenance: Option<crate::Maintenance>) -> Self {
        Self { state, maintenance }
    }
}

const INVALID_PARAMETER: &str = "InvalidParameterException";

/// Parses the operation's input, runs it and answers its output as JSON.
macro_rules! run {
    ($state:expr, $body:expr, $op:path) => {{
        let input = parse_request($body, INVALID_PARAMETER)?;
        Ok(json_response(&$op($state, input).await?))
    }};
}

#[async_trait]
impl ServiceModule for EcrService {
    fn wire(&self) -> Wire {
        Wire::Json { target_prefix: "AmazonEC2ContainerRegistry_V20150921", cbor_service: None }
    }

    fn signing_name(&self) -> &'static str {
        "ecr"
    }

    fn operations(&self) -> &'static [Operation] {
        operations::ECR_OPERATIONS
    }

    fn routes(&self) -> Option<axum::Router> {
        Some(crate::oci::router(self.state.clone()))
    }

    fn controllers(&self) -> Vec<Arc<dyn Controller>> {
        match self.maintenance {
            Some(m) => m.controllers(&crate::Registry { state: self.state.clone() }),
            None => Vec::new(),
        }
    }

    async fn close(&self) {
        self.state.store.close().await;
    }

    async fn call(&self, operation: &str, body: Bytes, caller: &Caller) -> Result<Response, AwsError> {
        let s = self.state.as_ref();
        let b = body.as_ref();
        use {images as i, layers as l, repositories as r};
        match operation {
            "CreateRepository" => run!(s, b, r::create_repository),
            "DescribeRepositories" => run!(s, b, r::describe_repositories),
            "DeleteRepository" => run!(s, b, r::delete_repository),
            "GetAuthorizationToken" => {
                let input = parse_request(b, INVALID_PARAMETER)?;
                Ok(json_response(&r::get_authorization_token(s, input, caller).await?))
            }
            "PutImageTagMutability" => run!(s, b, r::put_image_tag_mutability),
            "PutImageScanningConfiguration" => run!(s, b, r::put_image_scanning_configuration),
            "TagResource" => run!(s, b, r::tag_resource),
            "UntagResource" => run!(s, b, r::untag_resource),
            "ListTagsForResource" => run!(s, b, r::list_tags_for_resource),
            "SetRepositoryPolicy" => run!(s, b, r::set_repository_policy),
            "GetRepositoryPolicy" => run!(s, b, r::get_repository_policy),
            "DeleteRepositoryPolicy" => run!(s, b, r::delete_repository_policy),
            "PutLifecyclePolicy" => run!(s, b, r::put_lifecycle_policy),
            "GetLifecyclePolicy" => run!(s, b, r::get_lifecycle_policy),
            "DeleteLifecyclePolicy" => run!(s, b, r::delete_lifecycle_policy),
            "GetLifecyclePolicyPreview" => run!(s, b, r::get_lifecycle_policy_preview),
            "StartLifecyclePolicyPreview" => run!(s, b, r::start_lifecycle_policy_preview),
            "DescribeImages" => run!(s, b, i::describe_images),
            "ListImages" => run!(s, b, i::list_images),
            "BatchGetImage" => run!(s, b, i::batch_get_image),
            "BatchDeleteImage" => run!(s, b, i::batch_delete_image),
            "PutImage" => run!(s, b, i::put_image),
            "BatchCheckLayerAvailability" => run!(s, b, l::batch_check_layer_availability),
            "InitiateLayerUpload" => run!(s, b, l::initiate_layer_upload),
            "UploadLayerPart" => run!(s, b, l::upload_layer_part),
            "CompleteLayerUpload" => run!(s, b, l::complete_layer_upload),
            "GetDownloadUrlForLayer" => run!(s, b, l::get_download_url_for_layer),
            other => Err(AwsError::client(
                "UnknownOperationException",
                format!("unknown operation: AmazonEC2ContainerRegistry_V20150921.{other}"),
            )),
        }
    }
}

// ---- errors ----

fn invalid(message: impl Into<String>) -> AwsError {
    AwsError::client(INVALID_PARAMETER, message)
}

fn server(e: RegistryError) -> AwsError {
    tracing::error!(error = %e, "ecr request failed");
    AwsError::internal("ServerException", "the registry failed to complete the request")
}

fn from_oci(e: crate::error::OciError) -> AwsError {
    if e.status.is_server_error() { AwsError::internal("ServerException", e.message) } else { invalid(e.message) }
}

fn repository_not_found(state: &State, name: &str) -> AwsError {
    AwsError::client(
        "RepositoryNotFoundException",
        format!(
            "The repository with name '{name}' does not exist in the registry with id '{}'",
            state.account.account_id
        ),
    )
}

// ---- shared helpers ----

/// ECR's repository name rule: 2 to 256 characters of the distribution grammar.
fn check_repository_name(name: &str) -> Result<(), AwsError> {
    if name.len() < 2 || !crate::name::is_valid_repository_name(name) {
        return Err(invalid(format!(
            "Invalid parameter at 'repositoryName' failed to satisfy constraint: 'must satisfy regular expression \
             '(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*' and have length 2 to 256' (got '{name}')"
        )));
    }
    Ok(())
}

fn check_registry_id(state: &State, registry_id: Option<&str>) -> Result<(), AwsError> {
    match registry_id {
        Some(id) if id != state.account.account_id => {
            Err(invalid(format!("registryId '{id}' is not this registry's ('{}')", state.account.account_id)))
        }
        _ => Ok(()),
    }
}

async fn repository(state: &State, registry_id: Option<&str>, name: &str) -> Result<RepositoryRecord, AwsError> {
    check_registry_id(state, registry_id)?;
    check_repository_name(name)?;
    state.store.repository(name).await.map_err(server)?.ok_or_else(|| repository_not_found(state, name))
}

fn epoch(t: Timestamp) -> f64 {
    t.as_epoch_seconds()
}

/// The registry's host as image references spell it (the endpoint without scheme).
fn registry_host(state: &State) -> &str {
    let e = state.config.endpoint.as_str();
    e.split_once("://").map_or(e, |(_, rest)| rest).trim_end_matches('/')
}

/// Decodes an opaque pagination token (`flotilla_core::paging`).
fn decode_token(token: Option<&str>) -> Result<Option<String>, AwsError> {
    token
        .map(|t| {
            paging::decode_token(t)
                .map_err(|_| invalid("Invalid parameter at 'nextToken': the token is not one this registry issued"))
        })
        .transpose()
}

fn encode_token(key: &str) -> String {
    paging::encode_token(key)
}

fn max_results(value: Option<i64>, max: i64, default: i64) -> Result<i64, AwsError> {
    match value {
        None => Ok(default),
        Some(n) if (1..=max).contains(&n) => Ok(n),
        Some(n) => Err(invalid(format!("Invalid parameter at 'maxResults': {n} is not between 1 and {max}"))),
    }
}
