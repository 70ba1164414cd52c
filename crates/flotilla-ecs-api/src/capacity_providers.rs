//! Capacity providers of Auto Scaling groups: CreateCapacityProvider,
//! DescribeCapacityProviders (with the built-in FARGATE and FARGATE_SPOT),
//! UpdateCapacityProvider and DeleteCapacityProvider. The groups themselves are
//! reached through [`InstanceGroups`], which the server wires to EC2 Auto Scaling.

use crate::EcsService;
use crate::error::EcsError;
use crate::wire::required;
use async_trait::async_trait;
use flotilla_db::retry_on_conflict;
use flotilla_domain::EcsArns;
use flotilla_domain::capacity_provider::{
    AutoScalingGroupProvider, CapacityProvider, ManagedScaling, validate_name, validate_provider,
};
use flotilla_domain::cluster::BUILT_IN_CAPACITY_PROVIDERS;
use flotilla_domain::tag::{Tag, validate_tags};
use serde::{Deserialize, Serialize};

/// An Auto Scaling group as capacity providers see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceGroup {
    pub arn: String,
    pub name: String,
    pub min_size: i64,
    pub max_size: i64,
    pub desired: i64,
    pub new_instances_protected: bool,
    /// (EC2 instance id, protected from scale-in).
    pub instances: Vec<(String, bool)>,
}

/// EC2 Auto Scaling as ECS's capacity providers use it.
#[async_trait]
pub trait InstanceGroups: Send + Sync {
    /// The group an ARN or name names, if it exists.
    async fn group(&self, arn_or_name: &str) -> Result<Option<InstanceGroup>, String>;
    async fn set_desired(&self, arn_or_name: &str, desired: i64) -> Result<(), String>;
    async fn set_protection(&self, arn_or_name: &str, instance_ids: &[String], protected: bool) -> Result<(), String>;
}

/// The `ManagedScaling` shape as given (every member optional).
#[derive(Deserialize, Default, Clone)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ManagedScalingWire {
    status: Option<String>,
    target_capacity: Option<i64>,
    minimum_scaling_step_size: Option<i64>,
    maximum_scaling_step_size: Option<i64>,
    instance_warmup_period: Option<i64>,
}

impl ManagedScalingWire {
    fn over(self, base: &ManagedScaling) -> ManagedScaling {
        ManagedScaling {
            status: self.status.unwrap_or_else(|| base.status.clone()),
            target_capacity: self.target_capacity.unwrap_or(base.target_capacity),
            minimum_scaling_step_size: self.minimum_scaling_step_size.unwrap_or(base.minimum_scaling_step_size),
            maximum_scaling_step_size: self.maximum_scaling_step_size.unwrap_or(base.maximum_scaling_step_size),
            instance_warmup_period: self.instance_warmup_period.unwrap_or(base.instance_warmup_period),
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GroupProviderWire {
    auto_scaling_group_arn: Option<String>,
    managed_scaling: Option<ManagedScalingWire>,
    managed_termination_protection: Option<String>,
    managed_draining: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CreateCapacityProviderInput {
    name: Option<String>,
    auto_scaling_group_provider: Option<GroupProviderWire>,
    managed_instances_provider: Option<serde_json::Value>,
    #[serde(default)]
    tags: Vec<Tag>,
}

/// The `CapacityProvider` shape.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CapacityProviderShape {
    capacity_provider_arn: String,
    name: String,
    status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    auto_scaling_group_provider: Option<AutoScalingGroupProvider>,
    #[serde(skip_serializing_if = "Option::is_none")]
    update_status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tags: Option<Vec<Tag>>,
    #[serde(rename = "type")]
    kind: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CapacityProviderOutput {
    capacity_provider: CapacityProviderShape,
}

impl EcsService {
    /// Reaches Auto Scaling groups through `groups` (capacity providers need it).
    pub fn with_instance_groups(mut self, groups: std::sync::Arc<dyn InstanceGroups>) -> Self {
        self.groups = Some(groups);
        self
    }

    pub(crate) fn instance_groups(&self) -> Result<&dyn InstanceGroups, EcsError> {
        self.groups.as_deref().ok_or_else(|| {
            EcsError::UnsupportedFeature("Auto Scaling groups are not available on this endpoint".into())
        })
    }

    async fn provider_shape(&self, p: &CapacityProvider, with_tags: bool) -> Result<CapacityProviderShape, EcsError> {
        let arn = self.account.capacity_provider_arn(&p.name);
        let tags = if with_tags { Some(self.store.list_tags(&arn).await?) } else { None };
        Ok(CapacityProviderShape {
            capacity_provider_arn: arn,
            name: p.name.clone(),
            status: p.status.clone(),
            auto_scaling_group_provider: Some(p.auto_scaling_group_provider.clone()),
            update_status: Some(p.update_status.clone()),
            tags,
            kind: "EC2_AUTOSCALING",
        })
    }

    /// The ACTIVE capacity provider of that name or ARN.
    pub(crate) async fn active_provider(&self, given: &str) -> Result<Option<CapacityProvider>, EcsError> {
        let name = given.rsplit_once(":capacity-provider/").map_or(given, |(_, n)| n);
        Ok(self.store.get_capacity_provider(name).await?.filter(|p| p.status == "ACTIVE"))
    }
}

fn check_enabled(field: &str, value: &Option<String>) -> Result<(), EcsError> {
    match value.as_deref() {
        None | Some("ENABLED" | "DISABLED") => Ok(()),
        Some(other) => Err(EcsError::invalid(format!("{field} '{other}' is not one of ENABLED, DISABLED"))),
    }
}

pub(crate) async fn create_capacity_provider(
    svc: &EcsService,
    input: CreateCapacityProviderInput,
) -> Result<CapacityProviderOutput, EcsError> {
    let name = required(input.name, "name")?;
    validate_name(&name)?;
    validate_tags(&input.tags)?;
    if input.managed_instances_provider.is_some() {
        return Err(EcsError::UnsupportedFeature("managedInstancesProvider is not supported here".into()));
    }
    let wire = required(input.auto_scaling_group_provider, "autoScalingGroupProvider")?;
    let group_arn = required(wire.auto_scaling_group_arn, "autoScalingGroupProvider.autoScalingGroupArn")?;
    check_enabled("managedTerminationProtection", &wire.managed_termination_protection)?;
    check_enabled("managedDraining", &wire.managed_draining)?;
    let provider = AutoScalingGroupProvider {
        auto_scaling_group_arn: group_arn.clone(),
        managed_scaling: wire.managed_scaling.unwrap_or_default().over(&ManagedScaling::default()),
        managed_termination_protection: wire.managed_termination_protection.unwrap_or_else(|| "DISABLED".into()),
        managed_draining: wire.managed_draining.unwrap_or_else(|| "ENABLED".into()),
    };
    validate_provider(&provider)?;
    let group =
        svc.instance_groups()?.group(&group_arn).await.map_err(EcsError::invalid)?.ok_or_else(|| {
            EcsError::invalid(format!("The specified Auto Scaling group ARN {group_arn} is not valid."))
        })?;
    if provider.managed_termination_protection == "ENABLED" && !group.new_instances_protected {
        return Err(EcsError::invalid(
            "The managed termination protection setting for the capacity provider is invalid. To enable managed termination protection for a capacity provider, the Auto Scaling group must have instance protection from scale in enabled.",
        ));
    }
    let in_use = svc
        .store
        .list_capacity_providers()
        .await?
        .into_iter()
        .any(|p| p.status == "ACTIVE" && p.auto_scaling_group_provider.auto_scaling_group_arn == group.arn);
    if in_use {
        return Err(EcsError::invalid(
            "The specified Auto Scaling group ARN is already being used by another capacity provider. Specify a unique Auto Scaling group ARN and try again.",
        ));
    }
    let provider = AutoScalingGroupProvider { auto_scaling_group_arn: group.arn, ..provider };
    let stored = CapacityProvider {
        name: name.clone(),
        status: "ACTIVE".into(),
        auto_scaling_group_provider: provider,
        update_status: "CREATE_COMPLETE".into(),
        version: 0,
    };
    let Some(stored) = svc.store.create_capacity_provider(&stored, &input.tags).await? else {
        return Err(EcsError::invalid(format!("The specified capacity provider {name} already exists.")));
    };
    svc.services_changed.notify_one();
    Ok(CapacityProviderOutput { capacity_provider: svc.provider_shape(&stored, true).await? })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UpdateCapacityProviderInput {
    name: Option<String>,
    auto_scaling_group_provider: Option<GroupProviderWire>,
}

pub(crate) async fn update_capacity_provider(
    svc: &EcsService,
    input: UpdateCapacityProviderInput,
) -> Result<CapacityProviderOutput, EcsError> {
    let name = required(input.name, "name")?;
    let wire = required(input.auto_scaling_group_provider, "autoScalingGroupProvider")?;
    if wire.auto_scaling_group_arn.is_some() {
        return Err(EcsError::invalid("autoScalingGroupArn cannot be changed"));
    }
    check_enabled("managedTerminationProtection", &wire.managed_termination_protection)?;
    check_enabled("managedDraining", &wire.managed_draining)?;
    let (name, wire) = (&name, &wire);
    let stored = retry_on_conflict(8, EcsError::is_conflict, move || async move {
        let mut p = svc
            .active_provider(name)
            .await?
            .ok_or_else(|| EcsError::invalid(format!("The specified capacity provider {name} does not exist.")))?;
        let g = &mut p.auto_scaling_group_provider;
        if let Some(s) = wire.managed_scaling.clone() {
            g.managed_scaling = s.over(&g.managed_scaling);
        }
        if let Some(t) = &wire.managed_termination_protection {
            g.managed_termination_protection = t.clone();
        }
        if let Some(d) = &wire.managed_draining {
            g.managed_draining = d.clone();
        }
        validate_provider(g)?;
        p.update_status = "UPDATE_COMPLETE".into();
        Ok(svc.store.update_capacity_provider(&p).await?)
    })
    .await?;
    Ok(CapacityProviderOutput { capacity_provider: svc.provider_shape(&stored, false).await? })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DeleteCapacityProviderInput {
    capacity_provider: Option<String>,
}

pub(crate) async fn delete_capacity_provider(
    svc: &EcsService,
    input: DeleteCapacityProviderInput,
) -> Result<CapacityProviderOutput, EcsError> {
    let given = required(input.capacity_provider, "capacityProvider")?;
    let provider = svc
        .active_provider(&given)
        .await?
        .ok_or_else(|| EcsError::invalid(format!("The specified capacity provider {given} does not exist.")))?;
    // Refused while a cluster uses it, as ECS does.
    let mut page = flotilla_store::Page { after: None, limit: 100 };
    loop {
        let names = svc.store.list_cluster_names(page.clone()).await?;
        for cluster in &names {
            if let Some(c) = svc.store.get_cluster(cluster).await?
                && c.status == flotilla_domain::cluster::ClusterStatus::Active
                && c.spec.capacity_providers.contains(&provider.name)
            {
                return Err(EcsError::invalid(format!(
                    "The specified capacity provider is in use and cannot be removed: it is associated with cluster {cluster}."
                )));
            }
        }
        match names.last() {
            Some(last) if names.len() == 100 => page.after = Some(last.clone()),
            _ => break,
        }
    }
    let deleted = CapacityProvider { status: "INACTIVE".into(), update_status: "DELETE_COMPLETE".into(), ..provider };
    let stored = svc.store.update_capacity_provider(&deleted).await?;
    Ok(CapacityProviderOutput { capacity_provider: svc.provider_shape(&stored, false).await? })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DescribeCapacityProvidersInput {
    capacity_providers: Option<Vec<String>>,
    #[serde(default)]
    include: Vec<String>,
    max_results: Option<i64>,
    next_token: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DescribeCapacityProvidersOutput {
    capacity_providers: Vec<CapacityProviderShape>,
    failures: Vec<crate::wire::Failure>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

fn built_in_shape(svc: &EcsService, name: &str) -> CapacityProviderShape {
    CapacityProviderShape {
        capacity_provider_arn: svc.account.capacity_provider_arn(name),
        name: name.to_string(),
        status: "ACTIVE".into(),
        auto_scaling_group_provider: None,
        update_status: None,
        tags: None,
        kind: if name == "FARGATE" { "FARGATE" } else { "FARGATE_SPOT" },
    }
}

pub(crate) async fn describe_capacity_providers(
    svc: &EcsService,
    input: DescribeCapacityProvidersInput,
) -> Result<DescribeCapacityProvidersOutput, EcsError> {
    let with_tags = input.include.iter().any(|i| i == "TAGS");
    let limit = crate::wire::max_results(input.max_results, 10)? as usize;
    let mut all: Vec<CapacityProviderShape> =
        BUILT_IN_CAPACITY_PROVIDERS.iter().map(|n| built_in_shape(svc, n)).collect();
    let mut failures = Vec::new();
    match input.capacity_providers {
        Some(given) => {
            all.clear();
            for g in given {
                let name = g.rsplit_once(":capacity-provider/").map_or(g.as_str(), |(_, n)| n);
                if BUILT_IN_CAPACITY_PROVIDERS.contains(&name) {
                    all.push(built_in_shape(svc, name));
                } else if let Some(p) = svc.active_provider(name).await? {
                    all.push(svc.provider_shape(&p, with_tags).await?);
                } else {
                    let arn = svc.account.capacity_provider_arn(name);
                    failures.push(crate::wire::Failure { arn, reason: "MISSING".into(), detail: None });
                }
            }
        }
        None => {
            for p in svc.store.list_capacity_providers().await?.into_iter().filter(|p| p.status == "ACTIVE") {
                all.push(svc.provider_shape(&p, with_tags).await?);
            }
        }
    }
    let start = match input.next_token.as_deref().map(crate::wire::decode_token).transpose()? {
        Some(after) => all.iter().position(|p| p.name == after).map_or(all.len(), |i| i + 1),
        None => 0,
    };
    let rest: Vec<CapacityProviderShape> = all.into_iter().skip(start).collect();
    let (page, next_token) = crate::wire::finish_page(rest, limit, |p| p.name.clone());
    Ok(DescribeCapacityProvidersOutput { capacity_providers: page, failures, next_token })
}
