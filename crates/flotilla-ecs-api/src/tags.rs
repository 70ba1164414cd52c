//! Tagging operations: TagResource, UntagResource, ListTagsForResource; and resources'
//! tags for IAM's `aws:ResourceTag/KEY` conditions.

use crate::EcsService;
use crate::error::EcsError;
use crate::wire::required;
use flotilla_domain::EcsArns;
use flotilla_domain::ResourceArn;
use flotilla_domain::cluster::ClusterStatus;
use flotilla_domain::service::ServiceStatus;
use flotilla_domain::tag::{MAX_TAGS_PER_RESOURCE, Tag, validate_tag_key, validate_tags};
use flotilla_domain::task_definition::TaskDefinitionStatus;
use serde::{Deserialize, Serialize};

impl EcsService {
    /// Checks that a taggable resource exists, returning its canonical ARN.
    async fn taggable(&self, arn: &str) -> Result<String, EcsError> {
        match self.account.parse_arn(arn)? {
            ResourceArn::Cluster { name } => match self.store.get_cluster(&name).await? {
                Some(c) if c.status == ClusterStatus::Active => Ok(self.account.cluster_arn(&name)),
                _ => Err(EcsError::ClusterNotFound),
            },
            ResourceArn::TaskDefinition { family, revision } => {
                match self.store.get_task_definition(&family, revision).await? {
                    Some(td) if td.status != TaskDefinitionStatus::DeleteInProgress => {
                        Ok(self.account.task_definition_arn(&family, revision))
                    }
                    _ => Err(EcsError::ResourceNotFound(format!("The task definition {arn} does not exist."))),
                }
            }
            ResourceArn::Task { cluster, id } => match self.store.get_task(&id).await? {
                Some(t) if t.cluster == cluster => Ok(self.account.task_arn(&cluster, &id)),
                _ => Err(EcsError::ResourceNotFound(format!("The task {arn} does not exist."))),
            },
            ResourceArn::ContainerInstance { cluster, id } => match self.store.get_container_instance(&id).await? {
                Some(ci) if ci.cluster == cluster => Ok(self.account.container_instance_arn(&cluster, &id)),
                _ => Err(EcsError::ResourceNotFound(format!("The container instance {arn} does not exist."))),
            },
            ResourceArn::Service { cluster, name } => match self.store.get_service(&cluster, &name).await? {
                Some(s) if s.status != ServiceStatus::Inactive => Ok(self.account.service_arn(&cluster, &name)),
                _ => Err(EcsError::ServiceNotFound("Service not found.".into())),
            },
            ResourceArn::CapacityProvider { name } => match self.store.get_capacity_provider(&name).await? {
                Some(p) if p.status == "ACTIVE" => Ok(self.account.capacity_provider_arn(&name)),
                _ => Err(EcsError::ResourceNotFound(format!("The capacity provider {arn} does not exist."))),
            },
            ResourceArn::ServiceDeployment { .. } | ResourceArn::ServiceRevision { .. } => {
                Err(EcsError::invalid(format!("the resource {arn} cannot be tagged")))
            }
        }
    }
}

/// Tags of ECS resources for `aws:ResourceTag/KEY` conditions.
#[async_trait::async_trait]
impl flotilla_protocol::ResourceTags for EcsService {
    async fn resource_tags(&self, arn: &str) -> Option<Vec<(String, String)>> {
        let arn = self.taggable(arn).await.ok()?;
        let tags = self.store.list_tags(&arn).await.ok()?;
        Some(tags.into_iter().map(|t| (t.key, t.value)).collect())
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TagResourceInput {
    resource_arn: Option<String>,
    tags: Option<Vec<Tag>>,
}

#[derive(Serialize)]
pub(crate) struct Empty {}

pub(crate) async fn tag_resource(svc: &EcsService, input: TagResourceInput) -> Result<Empty, EcsError> {
    let arn = required(input.resource_arn, "resourceArn")?;
    let tags = required(input.tags, "tags")?;
    validate_tags(&tags)?;
    let arn = svc.taggable(&arn).await?;
    svc.store.tag_resource(&arn, &tags, MAX_TAGS_PER_RESOURCE).await?;
    Ok(Empty {})
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UntagResourceInput {
    resource_arn: Option<String>,
    tag_keys: Option<Vec<String>>,
}

pub(crate) async fn untag_resource(svc: &EcsService, input: UntagResourceInput) -> Result<Empty, EcsError> {
    let arn = required(input.resource_arn, "resourceArn")?;
    let keys = required(input.tag_keys, "tagKeys")?;
    if keys.len() > MAX_TAGS_PER_RESOURCE {
        return Err(EcsError::invalid(format!(
            "tagKeys: {} keys given; a resource has at most {MAX_TAGS_PER_RESOURCE} tags",
            keys.len()
        )));
    }
    for k in &keys {
        validate_tag_key(k)?;
    }
    let arn = svc.taggable(&arn).await?;
    svc.store.untag_resource(&arn, &keys).await?;
    Ok(Empty {})
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListTagsForResourceInput {
    resource_arn: Option<String>,
}

#[derive(Serialize)]
pub(crate) struct ListTagsForResourceOutput {
    tags: Vec<Tag>,
}

pub(crate) async fn list_tags_for_resource(
    svc: &EcsService,
    input: ListTagsForResourceInput,
) -> Result<ListTagsForResourceOutput, EcsError> {
    let arn = required(input.resource_arn, "resourceArn")?;
    let arn = svc.taggable(&arn).await?;
    Ok(ListTagsForResourceOutput { tags: svc.store.list_tags(&arn).await? })
}
