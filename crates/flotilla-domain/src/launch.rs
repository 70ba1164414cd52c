//! How tasks are launched: a launch type or a capacity provider strategy (the
//! cluster's default when a call gives neither), the awsvpc network they ask for and
//! Fargate's platform version, with ECS's rules and wording; and which capacity
//! provider of a strategy each new task takes. Shared by RunTask and services.

use crate::cluster::{BUILT_IN_CAPACITY_PROVIDERS, CapacityProviderStrategyItem, ClusterSpec};
use crate::error::{Validated, ValidationError};
use crate::task::LaunchType;
use crate::task_definition::{Compatibility, NetworkMode, TaskDefinition};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The Fargate platform versions offered; `LATEST` means the first.
pub const PLATFORM_VERSIONS: [&str; 2] = ["1.4.0", "1.3.0"];

/// Fargate's ephemeral storage when a task asks for none, in GiB.
pub const DEFAULT_EPHEMERAL_STORAGE_GIB: i64 = 20;

/// ECS's `NetworkConfiguration`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkConfiguration {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub awsvpc_configuration: Option<AwsVpcConfiguration>,
}

/// ECS's `AwsVpcConfiguration`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AwsVpcConfiguration {
    #[serde(default)]
    pub subnets: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub security_groups: Vec<String>,
    /// `ENABLED` or `DISABLED` (the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assign_public_ip: Option<String>,
}

/// Whether a capacity provider is Fargate's (else an Auto Scaling group's).
pub fn is_fargate_provider(name: &str) -> bool {
    BUILT_IN_CAPACITY_PROVIDERS.contains(&name)
}

/// What a call asked for, as given.
#[derive(Debug, Clone, Copy, Default)]
pub struct LaunchRequest<'a> {
    pub launch_type: Option<&'a str>,
    pub capacity_provider_strategy: &'a [CapacityProviderStrategyItem],
    pub network_configuration: Option<&'a NetworkConfiguration>,
    pub platform_version: Option<&'a str>,
    /// Whether the call gave placement constraints or strategies of its own.
    pub has_placement: bool,
}

/// How the tasks of a call are launched, once checked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Launch {
    pub launch_type: LaunchType,
    /// The strategy tasks' capacity providers are chosen by (empty with a launch type).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub capacity_provider_strategy: Vec<CapacityProviderStrategyItem>,
    /// As asked (`LATEST` kept); Fargate only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform_version: Option<String>,
    /// The awsvpc configuration; set exactly when the task definition uses awsvpc.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_configuration: Option<NetworkConfiguration>,
}

impl Launch {
    /// The platform version a task reports: `LATEST` resolved to the newest.
    pub fn resolved_platform_version(&self) -> Option<String> {
        self.platform_version.as_deref().map(|v| if v == "LATEST" { PLATFORM_VERSIONS[0] } else { v }.to_string())
    }
}

fn invalid(message: impl Into<String>) -> ValidationError {
    ValidationError::invalid_parameter(message)
}

/// Checks a call's launch options against the cluster and the task definition, as
/// ECS does, and says how its tasks are launched.
pub fn resolve_launch(request: &LaunchRequest<'_>, cluster: &ClusterSpec, td: &TaskDefinition) -> Validated<Launch> {
    if request.launch_type.is_some() && !request.capacity_provider_strategy.is_empty() {
        return Err(invalid(
            "Specifying both a launch type and capacity provider strategy is not supported. Remove one and try again.",
        ));
    }
    let (launch_type, strategy) = match request.launch_type {
        Some("EC2") => (LaunchType::Ec2, Vec::new()),
        Some("FARGATE") => (LaunchType::Fargate, Vec::new()),
        Some(other @ ("EXTERNAL" | "MANAGED_INSTANCES")) => {
            return Err(invalid(format!("launchType '{other}' is not supported by this control plane")));
        }
        Some(other) => return Err(invalid(format!("launchType '{other}' is not one of EC2, FARGATE, EXTERNAL"))),
        None => {
            let strategy = if request.capacity_provider_strategy.is_empty() {
                cluster.default_capacity_provider_strategy.clone()
            } else {
                check_strategy(request.capacity_provider_strategy, cluster)?;
                request.capacity_provider_strategy.to_vec()
            };
            let fargate = |i: &CapacityProviderStrategyItem| is_fargate_provider(&i.capacity_provider);
            if strategy.is_empty() {
                (LaunchType::Ec2, Vec::new())
            } else if strategy.iter().all(fargate) {
                (LaunchType::Fargate, strategy)
            } else if strategy.iter().any(fargate) {
                return Err(invalid(
                    "The capacity provider strategy cannot contain a mix of capacity providers using Auto Scaling groups and Fargate providers. Specify one or the other and try again.",
                ));
            } else {
                // Auto Scaling group providers: the EC2 launch type on their instances.
                (LaunchType::Ec2, strategy)
            }
        }
    };
    if launch_type == LaunchType::Fargate {
        if !td.compatibilities.iter().any(|c| c == Compatibility::Fargate.as_str()) {
            return Err(invalid("Task definition does not support launch_type FARGATE."));
        }
        if request.has_placement || !td.spec.placement_constraints.is_empty() {
            return Err(invalid("Task placement is not supported for the FARGATE launch type."));
        }
    }
    let platform_version = match (request.platform_version, launch_type) {
        (None, _) => None,
        (Some(_), LaunchType::Ec2) => {
            return Err(invalid("The platform version must be null when specifying an EC2 launch type."));
        }
        (Some(v), LaunchType::Fargate) if v == "LATEST" || PLATFORM_VERSIONS.contains(&v) => Some(v.to_string()),
        (Some(v), LaunchType::Fargate) => {
            return Err(invalid(format!("The specified platform version '{v}' does not exist.")));
        }
    };
    let platform_version = match launch_type {
        LaunchType::Fargate => platform_version.or_else(|| Some("LATEST".into())),
        LaunchType::Ec2 => None,
    };
    let awsvpc = td.spec.network_mode == Some(NetworkMode::Awsvpc);
    let network_configuration = match (request.network_configuration, awsvpc) {
        (None, true) => {
            return Err(invalid("Network Configuration must be provided when networkMode 'awsvpc' is specified."));
        }
        (Some(_), false) => {
            return Err(invalid(
                "Network Configuration is not valid for the given networkMode of this task definition.",
            ));
        }
        (None, false) => None,
        (Some(n), true) => {
            check_network(n)?;
            Some(n.clone())
        }
    };
    Ok(Launch { launch_type, capacity_provider_strategy: strategy, platform_version, network_configuration })
}

fn check_strategy(strategy: &[CapacityProviderStrategyItem], cluster: &ClusterSpec) -> Validated {
    if strategy.len() > 20 {
        return Err(invalid("capacityProviderStrategy: at most 20 capacity providers can be in a strategy"));
    }
    let mut with_base = 0;
    for (i, item) in strategy.iter().enumerate() {
        let name = &item.capacity_provider;
        if !cluster.capacity_providers.contains(name) {
            return Err(invalid(
                "The specified capacity provider strategy cannot contain a capacity provider that is not associated with the cluster. Associate the capacity provider with the cluster or specify a valid capacity provider and try again.",
            ));
        }
        if strategy[..i].iter().any(|o| &o.capacity_provider == name) {
            return Err(invalid(format!(
                "capacityProviderStrategy: the capacity provider '{name}' appears more than once"
            )));
        }
        if let Some(w) = item.weight.filter(|w| !(0..=1000).contains(w)) {
            return Err(invalid(format!(
                "capacityProviderStrategy: weight {w} of '{name}' must be between 0 and 1000"
            )));
        }
        match item.base {
            Some(b) if !(0..=100_000).contains(&b) => {
                return Err(invalid(format!(
                    "capacityProviderStrategy: base {b} of '{name}' must be between 0 and 100000"
                )));
            }
            Some(b) if b > 0 => with_base += 1,
            _ => {}
        }
    }
    if with_base > 1 {
        return Err(invalid("capacityProviderStrategy: only one capacity provider in a strategy can have a base"));
    }
    if strategy.iter().all(|i| i.weight.unwrap_or(0) == 0) && strategy.iter().all(|i| i.base.unwrap_or(0) == 0) {
        return Err(invalid(
            "capacityProviderStrategy: at least one capacity provider must have a weight greater than 0",
        ));
    }
    Ok(())
}

fn check_network(n: &NetworkConfiguration) -> Validated {
    let Some(vpc) = &n.awsvpc_configuration else {
        return Err(invalid("networkConfiguration.awsvpcConfiguration must be provided"));
    };
    if vpc.subnets.is_empty() {
        return Err(invalid("subnets can not be empty."));
    }
    if vpc.subnets.len() > 16 {
        return Err(invalid("networkConfiguration.awsvpcConfiguration.subnets: at most 16 subnets can be given"));
    }
    if vpc.security_groups.len() > 5 {
        return Err(invalid(
            "networkConfiguration.awsvpcConfiguration.securityGroups: at most 5 security groups can be given",
        ));
    }
    for s in &vpc.subnets {
        if !s.starts_with("subnet-") || s.len() > 64 {
            return Err(invalid(format!(
                "Error retrieving subnet information for [{s}]: The subnet ID '{s}' is malformed"
            )));
        }
    }
    for g in &vpc.security_groups {
        if !g.starts_with("sg-") || g.len() > 64 {
            return Err(invalid(format!(
                "Error retrieving security group information for [{g}]: The security group ID '{g}' is malformed"
            )));
        }
    }
    match vpc.assign_public_ip.as_deref() {
        None | Some("ENABLED" | "DISABLED") => Ok(()),
        Some(other) => Err(invalid(format!("assignPublicIp '{other}' is not one of ENABLED, DISABLED"))),
    }
}

/// The capacity provider each of `count` new tasks takes from `strategy`, given
/// how many live tasks each provider already has: a provider's `base` is filled
/// first, then tasks go where the count beyond the base is furthest below the
/// weights' share (ties to the provider with fewer tasks, then the earlier one), as
/// ECS spreads them.
pub fn choose_providers(
    strategy: &[CapacityProviderStrategyItem],
    existing: &BTreeMap<String, usize>,
    count: usize,
) -> Vec<String> {
    let mut counts: Vec<usize> =
        strategy.iter().map(|i| existing.get(&i.capacity_provider).copied().unwrap_or(0)).collect();
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        let base_due =
            strategy.iter().enumerate().find(|(n, i)| counts[*n] < usize::try_from(i.base.unwrap_or(0)).unwrap_or(0));
        let pick = match base_due {
            Some((n, _)) => n,
            None => {
                // Weights share what is beyond the bases: lowest (count beyond base
                // + 1) / weight among providers with a weight, cross-multiplied to
                // stay in integers.
                let beyond = |n: usize| {
                    let base = usize::try_from(strategy[n].base.unwrap_or(0)).unwrap_or(0);
                    counts[n].saturating_sub(base) as u128
                };
                let weighted = strategy.iter().enumerate().filter(|(_, i)| i.weight.unwrap_or(0) > 0);
                let best = weighted.min_by(|(a, ia), (b, ib)| {
                    let lhs = (beyond(*a) + 1) * ib.weight.unwrap_or(0) as u128;
                    let rhs = (beyond(*b) + 1) * ia.weight.unwrap_or(0) as u128;
                    // A tie goes to the provider with fewer tasks in all, then the earlier one.
                    lhs.cmp(&rhs).then(counts[*a].cmp(&counts[*b])).then(a.cmp(b))
                });
                match best {
                    Some((n, _)) => n,
                    None => 0,
                }
            }
        };
        let Some(item) = strategy.get(pick) else { break };
        counts[pick] += 1;
        out.push(item.capacity_provider.clone());
    }
    out
}

#[cfg(test)]
mod tests;
