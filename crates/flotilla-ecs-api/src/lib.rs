//! The Amazon ECS API: target prefix `AmazonEC2ContainerServiceV20141113`.
//!
//! One module per resource (clusters, task definitions, tags), each holding its
//! operations' wire shapes and handlers; handlers read the request, apply domain
//! rules, and call the [`Store`]. Wire shapes follow botocore's ECS service model.
//! AWS error codes for every failure are chosen in [`error`], and only there.

mod clusters;
mod error;
mod tags;
mod task_definitions;
mod wire;

use async_trait::async_trait;
use axum::response::Response;
use bytes::Bytes;
use flotilla_domain::AccountContext;
use flotilla_protocol::{AwsError, Caller, JsonService, json_response, parse_request};
use flotilla_store::Store;
use std::sync::Arc;

pub use error::EcsError;

/// The ECS service, backed by a store.
pub struct EcsService {
    store: Arc<dyn Store>,
    account: AccountContext,
}

impl EcsService {
    pub fn new(store: Arc<dyn Store>, account: AccountContext) -> Self {
        Self { store, account }
    }

    /// Makes sure the `default` cluster exists (ECS creates it on first use).
    pub async fn ensure_default_cluster(&self) -> Result<(), EcsError> {
        clusters::ensure_default(self).await
    }
}

#[async_trait]
impl JsonService for EcsService {
    fn target_prefix(&self) -> &'static str {
        "AmazonEC2ContainerServiceV20141113"
    }

    fn signing_name(&self) -> &'static str {
        "ecs"
    }

    async fn call(&self, operation: &str, body: Bytes, _caller: &Caller) -> Result<Response, AwsError> {
        macro_rules! op {
            ($handler:path) => {{
                let input = parse_request(&body, error::INVALID_PARAMETER)?;
                let output = $handler(self, input).await?;
                Ok(json_response(&output))
            }};
        }
        match operation {
            "CreateCluster" => op!(clusters::create_cluster),
            "DescribeClusters" => op!(clusters::describe_clusters),
            "ListClusters" => op!(clusters::list_clusters),
            "UpdateCluster" => op!(clusters::update_cluster),
            "UpdateClusterSettings" => op!(clusters::update_cluster_settings),
            "PutClusterCapacityProviders" => op!(clusters::put_cluster_capacity_providers),
            "DeleteCluster" => op!(clusters::delete_cluster),
            "RegisterTaskDefinition" => {
                let output = task_definitions::register_task_definition(self, &body).await?;
                Ok(json_response(&output))
            }
            "DescribeTaskDefinition" => op!(task_definitions::describe_task_definition),
            "ListTaskDefinitions" => op!(task_definitions::list_task_definitions),
            "ListTaskDefinitionFamilies" => op!(task_definitions::list_task_definition_families),
            "DeregisterTaskDefinition" => op!(task_definitions::deregister_task_definition),
            "DeleteTaskDefinitions" => op!(task_definitions::delete_task_definitions),
            "TagResource" => op!(tags::tag_resource),
            "UntagResource" => op!(tags::untag_resource),
            "ListTagsForResource" => op!(tags::list_tags_for_resource),
            other => Err(AwsError::client(
                "UnknownOperationException",
                format!("unknown operation: the ECS API has no operation '{other}' here"),
            )),
        }
    }
}
