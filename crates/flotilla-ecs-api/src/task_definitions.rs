//! Task definition operations: RegisterTaskDefinition, DescribeTaskDefinition,
//! ListTaskDefinitions, ListTaskDefinitionFamilies, DeregisterTaskDefinition,
//! DeleteTaskDefinitions.

use crate::EcsService;
use crate::error::{EcsError, INVALID_PARAMETER};
use crate::wire::{Failure, NamedAttribute, decode_token, epoch, finish_page, max_results, required};
use flotilla_domain::EcsArns;
use flotilla_domain::ResourceArn;
use flotilla_domain::Timestamp;
use flotilla_domain::tag::{Tag, validate_tags};
use flotilla_domain::task_definition::{
    TaskDefinition, TaskDefinitionRef, TaskDefinitionSpec, TaskDefinitionStatus, normalize_and_validate,
};
use flotilla_protocol::parse_request;
use flotilla_store::{FamilyStatusFilter, Page};
use serde::{Deserialize, Serialize};

/// The `TaskDefinition` shape: the registered document plus what ECS adds to it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TaskDefinitionShape {
    task_definition_arn: String,
    #[serde(flatten)]
    spec: TaskDefinitionSpec,
    revision: i64,
    status: &'static str,
    requires_attributes: Vec<NamedAttribute>,
    compatibilities: Vec<String>,
    registered_at: f64,
    registered_by: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    deregistered_at: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    delete_requested_at: Option<f64>,
}

impl EcsService {
    fn task_definition_shape(&self, td: TaskDefinition) -> TaskDefinitionShape {
        TaskDefinitionShape {
            task_definition_arn: self.account.task_definition_arn(&td.family, td.revision),
            spec: td.spec,
            revision: td.revision,
            status: td.status.as_str(),
            requires_attributes: td.requires_attributes.into_iter().map(|name| NamedAttribute { name }).collect(),
            compatibilities: td.compatibilities,
            registered_at: epoch(td.registered_at),
            registered_by: td.registered_by,
            deregistered_at: td.deregistered_at.map(epoch),
            delete_requested_at: td.delete_requested_at.map(epoch),
        }
    }

    /// Parses a `taskDefinition` parameter: `family`, `family:revision` or an ARN.
    fn task_definition_ref(&self, given: &str) -> Result<TaskDefinitionRef, EcsError> {
        if given.starts_with("arn:") {
            return match self.account.parse_arn(given)? {
                ResourceArn::TaskDefinition { family, revision } => {
                    Ok(TaskDefinitionRef::Revision { family, revision })
                }
                _ => Err(EcsError::invalid(format!("taskDefinition: '{given}' is not a task definition ARN"))),
            };
        }
        TaskDefinitionRef::parse_short(given).ok_or_else(|| {
            EcsError::client(format!(
                "taskDefinition: '{given}' is not a family, family:revision or task definition ARN"
            ))
        })
    }

    /// A `family:revision` or ARN reference (revision required), as (family, revision).
    fn task_definition_revision(&self, given: &str) -> Result<(String, i64), EcsError> {
        match self.task_definition_ref(given)? {
            TaskDefinitionRef::Revision { family, revision } => Ok((family, revision)),
            TaskDefinitionRef::Family(_) => Err(EcsError::client(format!(
                "taskDefinition: '{given}' must name a revision, as family:revision or a task definition ARN"
            ))),
        }
    }

    /// The task definition a reference names: a family means its latest ACTIVE revision.
    pub(crate) async fn find_task_definition(&self, given: &str) -> Result<Option<TaskDefinition>, EcsError> {
        Ok(match self.task_definition_ref(given)? {
            TaskDefinitionRef::Family(family) => self.store.latest_active_task_definition(&family).await?,
            TaskDefinitionRef::Revision { family, revision } => {
                self.store.get_task_definition(&family, revision).await?
            }
        })
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TaskDefinitionOutput {
    task_definition: TaskDefinitionShape,
    #[serde(skip_serializing_if = "Option::is_none")]
    tags: Option<Vec<Tag>>,
}

#[derive(Deserialize)]
struct RegisterTags {
    #[serde(default)]
    tags: Vec<Tag>,
}

/// RegisterTaskDefinition reads the whole body as the task definition document.
/// The largest task definition ECS registers.
const MAX_TASK_DEFINITION_BYTES: usize = 64 * 1024;

pub(crate) async fn register_task_definition(
    svc: &EcsService,
    body: &[u8],
) -> Result<TaskDefinitionOutput, crate::EcsError> {
    if body.len() > MAX_TASK_DEFINITION_BYTES {
        return Err(crate::EcsError::Client(format!(
            "the task definition is {} bytes; a task definition is at most {MAX_TASK_DEFINITION_BYTES} bytes (64 KiB)",
            body.len()
        )));
    }
    let spec: TaskDefinitionSpec = parse_request(body, INVALID_PARAMETER).map_err(aws_to_ecs)?;
    let RegisterTags { tags } = parse_request(body, INVALID_PARAMETER).map_err(aws_to_ecs)?;
    if spec.family.is_empty() {
        return Err(EcsError::client("Family can not be blank."));
    }
    validate_tags(&tags)?;
    let validated = normalize_and_validate(spec)?;
    crate::placement::check_definition_constraints(&validated.spec)?;
    let td = svc
        .store
        .register_task_definition(&validated, &tags, &svc.account.root_principal_arn(), Timestamp::now())
        .await?;
    Ok(TaskDefinitionOutput { task_definition: svc.task_definition_shape(td), tags: Some(tags) })
}

/// Request-reading errors are already in the AWS shape; carry them through as is.
fn aws_to_ecs(e: flotilla_protocol::AwsError) -> EcsError {
    if e.code == INVALID_PARAMETER { EcsError::InvalidParameter(e.message) } else { EcsError::Serialization(e.message) }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DescribeTaskDefinitionInput {
    task_definition: Option<String>,
    #[serde(default)]
    include: Vec<TaskDefinitionField>,
}

#[derive(Deserialize, PartialEq)]
enum TaskDefinitionField {
    #[serde(rename = "TAGS")]
    Tags,
}

pub(crate) async fn describe_task_definition(
    svc: &EcsService,
    input: DescribeTaskDefinitionInput,
) -> Result<TaskDefinitionOutput, EcsError> {
    let given = required(input.task_definition, "taskDefinition")?;
    let td = svc
        .find_task_definition(&given)
        .await?
        .ok_or_else(|| EcsError::client("Unable to describe task definition."))?;
    let tags = if input.include.contains(&TaskDefinitionField::Tags) {
        Some(svc.store.list_tags(&svc.account.task_definition_arn(&td.family, td.revision)).await?)
    } else {
        None
    };
    Ok(TaskDefinitionOutput { task_definition: svc.task_definition_shape(td), tags })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListTaskDefinitionsInput {
    family_prefix: Option<String>,
    status: Option<ListStatus>,
    sort: Option<SortOrder>,
    next_token: Option<String>,
    max_results: Option<i64>,
}

#[derive(Deserialize, Clone, Copy)]
enum ListStatus {
    #[serde(rename = "ACTIVE")]
    Active,
    #[serde(rename = "INACTIVE")]
    Inactive,
    #[serde(rename = "DELETE_IN_PROGRESS")]
    DeleteInProgress,
}

#[derive(Deserialize, Clone, Copy, PartialEq)]
enum SortOrder {
    #[serde(rename = "ASC")]
    Asc,
    #[serde(rename = "DESC")]
    Desc,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListTaskDefinitionsOutput {
    task_definition_arns: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

pub(crate) async fn list_task_definitions(
    svc: &EcsService,
    input: ListTaskDefinitionsInput,
) -> Result<ListTaskDefinitionsOutput, EcsError> {
    let limit = max_results(input.max_results, 100)?;
    let status = match input.status.unwrap_or(ListStatus::Active) {
        ListStatus::Active => TaskDefinitionStatus::Active,
        ListStatus::Inactive => TaskDefinitionStatus::Inactive,
        ListStatus::DeleteInProgress => TaskDefinitionStatus::DeleteInProgress,
    };
    let after = match input.next_token.as_deref().map(decode_token).transpose()? {
        None => None,
        Some(key) => match TaskDefinitionRef::parse_short(&key) {
            Some(TaskDefinitionRef::Revision { family, revision }) => Some((family, revision)),
            _ => return Err(EcsError::invalid("nextToken is not a token this API returned")),
        },
    };
    let descending = input.sort == Some(SortOrder::Desc);
    let rows = svc
        .store
        .list_task_definitions(input.family_prefix.as_deref(), status, descending, Page { after, limit: limit + 1 })
        .await?;
    let (rows, next_token) = finish_page(rows, limit as usize, |(f, r)| format!("{f}:{r}"));
    Ok(ListTaskDefinitionsOutput {
        task_definition_arns: rows.iter().map(|(f, r)| svc.account.task_definition_arn(f, *r)).collect(),
        next_token,
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListTaskDefinitionFamiliesInput {
    family_prefix: Option<String>,
    status: Option<FamilyStatus>,
    next_token: Option<String>,
    max_results: Option<i64>,
}

#[derive(Deserialize, Clone, Copy)]
enum FamilyStatus {
    #[serde(rename = "ACTIVE")]
    Active,
    #[serde(rename = "INACTIVE")]
    Inactive,
    #[serde(rename = "ALL")]
    All,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListTaskDefinitionFamiliesOutput {
    families: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

pub(crate) async fn list_task_definition_families(
    svc: &EcsService,
    input: ListTaskDefinitionFamiliesInput,
) -> Result<ListTaskDefinitionFamiliesOutput, EcsError> {
    let limit = max_results(input.max_results, 100)?;
    let status = match input.status.unwrap_or(FamilyStatus::All) {
        FamilyStatus::Active => FamilyStatusFilter::Active,
        FamilyStatus::Inactive => FamilyStatusFilter::Inactive,
        FamilyStatus::All => FamilyStatusFilter::All,
    };
    let after = input.next_token.as_deref().map(decode_token).transpose()?;
    let families = svc
        .store
        .list_task_definition_families(input.family_prefix.as_deref(), status, Page { after, limit: limit + 1 })
        .await?;
    let (families, next_token) = finish_page(families, limit as usize, String::clone);
    Ok(ListTaskDefinitionFamiliesOutput { families, next_token })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DeregisterTaskDefinitionInput {
    task_definition: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DeregisterTaskDefinitionOutput {
    task_definition: TaskDefinitionShape,
}

pub(crate) async fn deregister_task_definition(
    svc: &EcsService,
    input: DeregisterTaskDefinitionInput,
) -> Result<DeregisterTaskDefinitionOutput, EcsError> {
    let given = required(input.task_definition, "taskDefinition")?;
    let (family, revision) = svc.task_definition_revision(&given)?;
    let td = svc
        .store
        .transition_task_definition(
            &family,
            revision,
            TaskDefinitionStatus::Active,
            TaskDefinitionStatus::Inactive,
            Timestamp::now(),
        )
        .await?
        .filter(|td| td.status != TaskDefinitionStatus::DeleteInProgress)
        .ok_or_else(|| EcsError::client("The specified task definition does not exist."))?;
    Ok(DeregisterTaskDefinitionOutput { task_definition: svc.task_definition_shape(td) })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DeleteTaskDefinitionsInput {
    task_definitions: Option<Vec<String>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DeleteTaskDefinitionsOutput {
    task_definitions: Vec<TaskDefinitionShape>,
    failures: Vec<Failure>,
}

pub(crate) async fn delete_task_definitions(
    svc: &EcsService,
    input: DeleteTaskDefinitionsInput,
) -> Result<DeleteTaskDefinitionsOutput, EcsError> {
    let given = required(input.task_definitions, "taskDefinitions")?;
    if given.is_empty() || given.len() > 10 {
        return Err(EcsError::invalid("taskDefinitions: give 1 to 10 task definitions to delete"));
    }
    let mut out = DeleteTaskDefinitionsOutput { task_definitions: Vec::new(), failures: Vec::new() };
    for g in given {
        let (family, revision) = svc.task_definition_revision(&g)?;
        let arn = svc.account.task_definition_arn(&family, revision);
        let now = Timestamp::now();
        let result = svc
            .store
            .transition_task_definition(
                &family,
                revision,
                TaskDefinitionStatus::Inactive,
                TaskDefinitionStatus::DeleteInProgress,
                now,
            )
            .await?;
        match result {
            None => out.failures.push(Failure {
                arn,
                reason: "The specified task definition does not exist.".into(),
                detail: None,
            }),
            Some(td) if td.status == TaskDefinitionStatus::Active => out.failures.push(Failure {
                arn,
                reason: "The specified task definition is still in ACTIVE status. Please deregister the target and try again."
                    .into(),
                detail: None,
            }),
            Some(td) => out.task_definitions.push(svc.task_definition_shape(td)),
        }
    }
    Ok(out)
}
