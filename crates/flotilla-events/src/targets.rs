//! Targets: PutTargets (per-entry `FailedEntries`, at most 5 targets a rule),
//! RemoveTargets, ListTargetsByRule, ListRuleNamesByTarget.
//!
//! A target is kept as the `Target` document PutTargets took ([`TargetDoc`]), checked
//! first: members against the model's constraints (the whole request is refused, as
//! AWS's model validation does), then each target's meaning (an entry refused alone):
//! its kind, which this server can deliver to — an ECS cluster (`EcsParameters`
//! required), an SQS queue (`SqsParameters.MessageGroupId` for a FIFO queue) or an
//! API destination (`HttpParameters`) —, its input (`Input`, `InputPath` or
//! `InputTransformer`, checked by `flotilla-event-pattern`), its retry policy and its
//! dead-letter queue (a standard SQS queue).

use crate::EventsService;
use crate::check::{self, TagShape};
use crate::error::{EntryError, EventsError, Result};
use crate::rules::checked_bus;
use crate::store::{Outcome, TargetRecord};
use flotilla_event_pattern::{InputTransformer, TargetInput};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// Targets a rule may have (EventBridge's default quota).
pub(crate) const MAX_TARGETS: usize = 5;
/// What a retry policy is when none is given: 185 attempts over 24 hours.
pub(crate) const DEFAULT_RETRY_ATTEMPTS: i64 = 185;
pub(crate) const DEFAULT_EVENT_AGE_SECONDS: i64 = 86_400;

/// A target as PutTargets takes it and ListTargetsByRule gives it back.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct TargetDoc {
    pub id: String,
    pub arn: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input_path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input_transformer: Option<TransformerDoc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ecs_parameters: Option<EcsParametersDoc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sqs_parameters: Option<SqsParametersDoc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_parameters: Option<HttpParametersDoc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dead_letter_config: Option<DeadLetterDoc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_policy: Option<RetryPolicyDoc>,
    /// Parameters of target kinds this server does not deliver to (refused).
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct TransformerDoc {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input_paths_map: Option<BTreeMap<String, String>>,
    pub input_template: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct EcsParametersDoc {
    pub task_definition_arn: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_count: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub launch_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network_configuration: Option<NetworkConfigurationDoc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capacity_provider_strategy: Option<Vec<Value>>,
    #[serde(rename = "EnableECSManagedTags", skip_serializing_if = "Option::is_none")]
    pub enable_ecs_managed_tags: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enable_execute_command: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub placement_constraints: Option<Vec<Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub placement_strategy: Option<Vec<Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub propagate_tags: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<TagShape>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct NetworkConfigurationDoc {
    #[serde(rename = "awsvpcConfiguration", skip_serializing_if = "Option::is_none")]
    pub awsvpc_configuration: Option<AwsVpcDoc>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct AwsVpcDoc {
    #[serde(default)]
    pub subnets: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub security_groups: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assign_public_ip: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct SqsParametersDoc {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_group_id: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct HttpParametersDoc {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path_parameter_values: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub header_parameters: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query_string_parameters: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DeadLetterDoc {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct RetryPolicyDoc {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maximum_retry_attempts: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maximum_event_age_in_seconds: Option<i64>,
}

/// What a target's ARN names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TargetKind {
    EcsCluster,
    /// An SQS queue; `true` for FIFO.
    Queue {
        fifo: bool,
    },
    /// An API destination, by name.
    ApiDestination(String),
}

/// The kind of target an ARN names, or why it is not one this server delivers to.
pub(crate) fn kind_of(arn: &str) -> std::result::Result<TargetKind, String> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [arn_word, _partition, service, _region, _account, resource] = parts[..] else {
        return Err(format!("Parameter {arn} is not valid. Reason: Provided Arn is not in correct format."));
    };
    if arn_word != "arn" {
        return Err(format!("Parameter {arn} is not valid. Reason: Provided Arn is not in correct format."));
    }
    match service {
        "ecs" if resource.starts_with("cluster/") && resource.len() > "cluster/".len() => Ok(TargetKind::EcsCluster),
        "sqs" if !resource.is_empty() && !resource.contains('/') => {
            Ok(TargetKind::Queue { fifo: resource.ends_with(".fifo") })
        }
        "events" if resource.starts_with("api-destination/") => {
            let name = resource["api-destination/".len()..].split('/').next().unwrap_or_default();
            if name.is_empty() {
                Err(format!("Parameter {arn} is not valid. Reason: Provided Arn is not in correct format."))
            } else {
                Ok(TargetKind::ApiDestination(name.to_string()))
            }
        }
        _ => Err(format!(
            "Parameter {arn} is not valid. Reason: this server delivers to ECS clusters, SQS queues and API \
             destinations only."
        )),
    }
}

impl TargetDoc {
    /// The input it was given, checked.
    pub(crate) fn target_input(&self) -> std::result::Result<TargetInput, String> {
        let transformer = match &self.input_transformer {
            None => None,
            Some(t) => {
                let paths = t.input_paths_map.iter().flatten().map(|(k, v)| (k.as_str(), v.as_str()));
                Some(InputTransformer::new(paths, &t.input_template).map_err(|e| e.to_string())?)
            }
        };
        TargetInput::new(self.input.as_deref(), self.input_path.as_deref(), transformer).map_err(|e| e.to_string())
    }

    /// (maximum retry attempts, maximum event age in seconds).
    pub(crate) fn retry_policy(&self) -> (i64, i64) {
        let p = self.retry_policy.clone().unwrap_or_default();
        (
            p.maximum_retry_attempts.unwrap_or(DEFAULT_RETRY_ATTEMPTS),
            p.maximum_event_age_in_seconds.unwrap_or(DEFAULT_EVENT_AGE_SECONDS),
        )
    }
}

/// The model's constraints on the `index`th (1-based) target; a refusal refuses the request.
fn check_members(t: &TargetDoc, index: usize) -> Result<()> {
    let at = |m: &str| format!("targets.{index}.member.{m}");
    check::name(&t.id, &at("id"), 64)?;
    check::length(&t.arn, &at("arn"), 1, 1600)?;
    if let Some(role) = &t.role_arn {
        check::length(role, &at("roleArn"), 1, 1600)?;
    }
    check::optional_length(t.input.as_deref(), &at("input"), 8192)?;
    check::optional_length(t.input_path.as_deref(), &at("inputPath"), 256)?;
    if let Some(tr) = &t.input_transformer {
        check::length(&tr.input_template, &at("inputTransformer.inputTemplate"), 1, 8192)?;
    }
    if let Some(p) = &t.retry_policy {
        if let Some(n) = p.maximum_retry_attempts {
            check::range(n, &at("retryPolicy.maximumRetryAttempts"), 0, 185)?;
        }
        if let Some(n) = p.maximum_event_age_in_seconds {
            check::range(n, &at("retryPolicy.maximumEventAgeInSeconds"), 60, 86_400)?;
        }
    }
    if let Some(arn) = t.dead_letter_config.as_ref().and_then(|d| d.arn.as_deref()) {
        check::length(arn, &at("deadLetterConfig.arn"), 1, 1600)?;
    }
    if let Some(e) = &t.ecs_parameters {
        check::length(&e.task_definition_arn, &at("ecsParameters.taskDefinitionArn"), 1, 1600)?;
        if let Some(n) = e.task_count {
            check::range(n, &at("ecsParameters.taskCount"), 1, i64::from(i32::MAX))?;
        }
        if let Some(l) = &e.launch_type
            && !["EC2", "FARGATE", "EXTERNAL"].contains(&l.as_str())
        {
            return Err(EventsError::constraint(
                l,
                &at("ecsParameters.launchType"),
                "Member must satisfy enum value set: [EC2, FARGATE, EXTERNAL]",
            ));
        }
        check::optional_length(e.reference_id.as_deref(), &at("ecsParameters.referenceId"), 1024)?;
        if e.capacity_provider_strategy.as_ref().is_some_and(|s| s.len() > 6) {
            return Err(EventsError::constraint(
                "[…]",
                &at("ecsParameters.capacityProviderStrategy"),
                "Member must have length less than or equal to 6",
            ));
        }
        if e.placement_constraints.as_ref().is_some_and(|s| s.len() > 10) {
            return Err(EventsError::constraint(
                "[…]",
                &at("ecsParameters.placementConstraints"),
                "Member must have length less than or equal to 10",
            ));
        }
        if e.placement_strategy.as_ref().is_some_and(|s| s.len() > 5) {
            return Err(EventsError::constraint(
                "[…]",
                &at("ecsParameters.placementStrategy"),
                "Member must have length less than or equal to 5",
            ));
        }
    }
    if let Some(g) = t.sqs_parameters.as_ref().and_then(|s| s.message_group_id.as_deref()) {
        check::length(g, &at("sqsParameters.messageGroupId"), 0, 100)?;
    }
    Ok(())
}

/// What this server makes of a target: refused alone (a failed entry) when it cannot
/// deliver to it.
pub(crate) fn check_target(t: &TargetDoc) -> std::result::Result<TargetInput, String> {
    if let Some(member) = t.other.keys().next() {
        return Err(format!("Parameter {member} is not valid. Reason: targets of that kind are not supported."));
    }
    let kind = kind_of(&t.arn)?;
    let only_for = |given: bool, member: &str, kind: &str| {
        if given {
            Err(format!("Parameter(s) {member} can only be used with {kind} targets: {}.", t.id))
        } else {
            Ok(())
        }
    };
    match &kind {
        TargetKind::EcsCluster => {
            let Some(e) = &t.ecs_parameters else {
                return Err(format!("Parameter(s) EcsParameters must be specified for target: {}.", t.id));
            };
            if e.task_definition_arn.is_empty() {
                return Err(format!(
                    "Parameter(s) EcsParameters.TaskDefinitionArn must be specified for target: {}.",
                    t.id
                ));
            }
            if let Some(vpc) = e.network_configuration.as_ref().and_then(|n| n.awsvpc_configuration.as_ref())
                && vpc.subnets.is_empty()
            {
                return Err(format!(
                    "Parameter(s) EcsParameters.NetworkConfiguration.awsvpcConfiguration.Subnets must be specified for target: {}.",
                    t.id
                ));
            }
        }
        TargetKind::Queue { fifo } => {
            let group = t.sqs_parameters.as_ref().and_then(|s| s.message_group_id.as_deref());
            if *fifo && group.is_none() {
                return Err(format!("Parameter(s) SqsParameters must be specified for target: {}.", t.id));
            }
            if !*fifo && group.is_some() {
                return Err(format!(
                    "Parameter(s) SqsParameters.MessageGroupId can only be used with FIFO queues: {}.",
                    t.id
                ));
            }
        }
        TargetKind::ApiDestination(_) => {}
    }
    only_for(t.ecs_parameters.is_some() && kind != TargetKind::EcsCluster, "EcsParameters", "ECS")?;
    only_for(t.sqs_parameters.is_some() && !matches!(kind, TargetKind::Queue { .. }), "SqsParameters", "SQS")?;
    only_for(
        t.http_parameters.is_some() && !matches!(kind, TargetKind::ApiDestination(_)),
        "HttpParameters",
        "API destination",
    )?;
    if let Some(arn) = t.dead_letter_config.as_ref().and_then(|d| d.arn.as_deref()) {
        match kind_of(arn) {
            Ok(TargetKind::Queue { fifo: false }) => {}
            Ok(TargetKind::Queue { fifo: true }) => {
                return Err(format!(
                    "Parameter DeadLetterConfig.Arn is not valid. Reason: {arn} is a FIFO queue; dead-letter queues \
                     must be standard SQS queues."
                ));
            }
            _ => {
                return Err(format!(
                    "Parameter DeadLetterConfig.Arn is not valid. Reason: {arn} is not an SQS queue ARN."
                ));
            }
        }
    }
    t.target_input()
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct PutInput {
    rule: String,
    event_bus_name: Option<String>,
    targets: Vec<TargetDoc>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct FailedEntry {
    target_id: String,
    error_code: String,
    error_message: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct BatchOutput {
    failed_entry_count: usize,
    failed_entries: Vec<FailedEntry>,
}

fn failed(id: &str, e: EntryError) -> FailedEntry {
    FailedEntry { target_id: id.to_string(), error_code: e.code.to_string(), error_message: e.message }
}

/// The rule named exists on a bus that exists: the refusal when not.
async fn missing_rule(svc: &EventsService, bus: &str, rule: &str) -> Result<EventsError> {
    Ok(if svc.store.bus(bus).await?.is_none() {
        EventsError::bus_not_found(bus)
    } else {
        EventsError::rule_not_found(rule, bus)
    })
}

pub(crate) async fn put(svc: &EventsService, input: PutInput) -> Result<BatchOutput> {
    check::name(&input.rule, "rule", 64)?;
    let bus = checked_bus(input.event_bus_name.as_deref())?;
    if input.targets.is_empty() || input.targets.len() > 100 {
        let constraint = if input.targets.is_empty() {
            "Member must have length greater than or equal to 1"
        } else {
            "Member must have length less than or equal to 100"
        };
        return Err(EventsError::constraint("[…]", "targets", constraint));
    }
    for (i, t) in input.targets.iter().enumerate() {
        check_members(t, i + 1)?;
    }
    let mut failures = Vec::new();
    let mut accepted: Vec<TargetRecord> = Vec::new();
    for t in &input.targets {
        match check_target(t) {
            Err(message) => failures.push(failed(&t.id, EntryError::target(message))),
            Ok(_) => {
                let document = serde_json::to_string(t).map_err(|e| EventsError::corrupt("a target document", e))?;
                accepted.retain(|a| a.id != t.id);
                accepted.push(TargetRecord { id: t.id.clone(), arn: t.arn.clone(), document });
            }
        }
    }
    let outcome = if accepted.is_empty() {
        match svc.store.rule(&bus, &input.rule).await? {
            Some(_) => Outcome::Done,
            None => Outcome::NoRule,
        }
    } else {
        svc.store.put_targets(&bus, &input.rule, &accepted, MAX_TARGETS).await?
    };
    match outcome {
        Outcome::NoRule => Err(missing_rule(svc, &bus, &input.rule).await?),
        Outcome::Limit => Err(EventsError::limit()),
        _ => Ok(BatchOutput { failed_entry_count: failures.len(), failed_entries: failures }),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct RemoveInput {
    rule: String,
    event_bus_name: Option<String>,
    ids: Vec<String>,
}

pub(crate) async fn remove(svc: &EventsService, input: RemoveInput) -> Result<BatchOutput> {
    check::name(&input.rule, "rule", 64)?;
    let bus = checked_bus(input.event_bus_name.as_deref())?;
    if input.ids.is_empty() || input.ids.len() > 100 {
        return Err(EventsError::constraint("[…]", "ids", "Member must have length between 1 and 100"));
    }
    for (i, id) in input.ids.iter().enumerate() {
        check::name(id, &format!("ids.{}.member", i + 1), 64)?;
    }
    let Some(removed) = svc.store.remove_targets(&bus, &input.rule, &input.ids).await? else {
        return Err(missing_rule(svc, &bus, &input.rule).await?);
    };
    let failures: Vec<FailedEntry> = input
        .ids
        .iter()
        .filter(|id| !removed.contains(id))
        .map(|id| failed(id, EntryError::no_target(&input.rule, id)))
        .collect();
    Ok(BatchOutput { failed_entry_count: failures.len(), failed_entries: failures })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListInput {
    rule: String,
    event_bus_name: Option<String>,
    next_token: Option<String>,
    limit: Option<i64>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListOutput {
    targets: Vec<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

pub(crate) async fn list(svc: &EventsService, input: ListInput) -> Result<ListOutput> {
    check::name(&input.rule, "rule", 64)?;
    let bus = checked_bus(input.event_bus_name.as_deref())?;
    let limit = check::limit(input.limit)?;
    let after = check::after(input.next_token.as_deref())?;
    if svc.store.rule(&bus, &input.rule).await?.is_none() {
        return Err(missing_rule(svc, &bus, &input.rule).await?);
    }
    let all = svc.store.targets(&bus, &input.rule).await?;
    let found: Vec<TargetRecord> =
        all.into_iter().filter(|t| after.as_deref().is_none_or(|a| t.id.as_str() > a)).collect();
    let (page, next_token) = check::page(found, limit, |t| t.id.clone());
    let targets = page
        .iter()
        .map(|t| serde_json::from_str(&t.document).map_err(|e| EventsError::corrupt("a target document", e)))
        .collect::<Result<Vec<Value>>>()?;
    Ok(ListOutput { targets, next_token })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ByTargetInput {
    target_arn: String,
    event_bus_name: Option<String>,
    next_token: Option<String>,
    limit: Option<i64>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ByTargetOutput {
    rule_names: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

pub(crate) async fn rule_names_by_target(svc: &EventsService, input: ByTargetInput) -> Result<ByTargetOutput> {
    check::length(&input.target_arn, "targetArn", 1, 1600)?;
    let bus = checked_bus(input.event_bus_name.as_deref())?;
    let limit = check::limit(input.limit)?;
    let after = check::after(input.next_token.as_deref())?;
    if svc.store.bus(&bus).await?.is_none() {
        return Err(EventsError::bus_not_found(&bus));
    }
    let found = svc.store.rule_names_by_target(&bus, &input.target_arn, after.as_deref(), limit + 1).await?;
    let (rule_names, next_token) = check::page(found, limit, |n| n.clone());
    Ok(ByTargetOutput { rule_names, next_token })
}
