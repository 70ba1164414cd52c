//! Clusters: their settings, configuration and capacity provider strategy, and the
//! rules ECS applies to them.

use crate::arn::is_valid_name;
use crate::error::{Validated, ValidationError};
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

/// The name ECS gives the cluster used when a call names none.
pub const DEFAULT_CLUSTER: &str = "default";

/// Capacity providers every cluster may use without creating them.
pub const BUILT_IN_CAPACITY_PROVIDERS: [&str; 2] = ["FARGATE", "FARGATE_SPOT"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClusterStatus {
    Active,
    /// Deleted: still describable, as on ECS, until the name is reused.
    Inactive,
}

impl ClusterStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ClusterStatus::Active => "ACTIVE",
            ClusterStatus::Inactive => "INACTIVE",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "ACTIVE" => Some(Self::Active),
            "INACTIVE" => Some(Self::Inactive),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterSetting {
    pub name: String,
    pub value: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterConfiguration {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execute_command_configuration: Option<ExecuteCommandConfiguration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed_storage_configuration: Option<ManagedStorageConfiguration>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecuteCommandConfiguration {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logging: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_configuration: Option<ExecuteCommandLogConfiguration>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecuteCommandLogConfiguration {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_watch_log_group_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_watch_encryption_enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3_bucket_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3_encryption_enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3_key_prefix: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ManagedStorageConfiguration {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fargate_ephemeral_storage_kms_key_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CapacityProviderStrategyItem {
    pub capacity_provider: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceConnectDefaults {
    pub namespace: String,
}

/// A cluster's user-settable document: everything but its identity and status.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterSpec {
    #[serde(default)]
    pub settings: Vec<ClusterSetting>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub configuration: Option<ClusterConfiguration>,
    #[serde(default)]
    pub capacity_providers: Vec<String>,
    #[serde(default)]
    pub default_capacity_provider_strategy: Vec<CapacityProviderStrategyItem>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_connect_defaults: Option<ServiceConnectDefaults>,
}

/// A stored cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct Cluster {
    pub name: String,
    pub status: ClusterStatus,
    pub spec: ClusterSpec,
    pub created_at: Timestamp,
    /// Optimistic-concurrency version: rises by one on every stored change.
    pub version: i64,
}

/// Live figures of a cluster, counted from the tasks, services and instances in it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClusterCounts {
    pub registered_container_instances: i64,
    pub running_tasks: i64,
    pub pending_tasks: i64,
    pub active_services: i64,
}

pub fn validate_cluster_name(name: &str) -> Validated {
    if is_valid_name(name) {
        Ok(())
    } else {
        Err(ValidationError::invalid_parameter(format!(
            "clusterName '{name}' is invalid: cluster names are 1 to 255 letters, numbers, hyphens and underscores"
        )))
    }
}

/// Checks cluster settings and fills in ECS's default (`containerInsights=disabled`).
pub fn normalize_settings(settings: &[ClusterSetting], current: &[ClusterSetting]) -> Validated<Vec<ClusterSetting>> {
    let mut merged: Vec<ClusterSetting> = current.to_vec();
    for (i, s) in settings.iter().enumerate() {
        if settings[..i].iter().any(|earlier| earlier.name == s.name) {
            return Err(ValidationError::invalid_parameter(format!("settings: '{}' is given more than once", s.name)));
        }
        if s.name != "containerInsights" {
            return Err(ValidationError::invalid_parameter(format!(
                "settings: unknown cluster setting name '{}', the only setting is 'containerInsights'",
                s.name
            )));
        }
        if !matches!(s.value.as_str(), "enabled" | "disabled" | "enhanced") {
            return Err(ValidationError::invalid_parameter(format!(
                "settings: containerInsights value '{}' is invalid, it must be one of enabled, disabled, enhanced",
                s.value
            )));
        }
        merged.retain(|m| m.name != s.name);
        merged.push(s.clone());
    }
    if !merged.iter().any(|s| s.name == "containerInsights") {
        merged.push(ClusterSetting { name: "containerInsights".into(), value: "disabled".into() });
    }
    Ok(merged)
}

/// Checks a cluster's capacity providers and default strategy against each other.
///
/// `known_providers` are the capacity providers created in this account, besides the
/// built-in FARGATE and FARGATE_SPOT.
pub fn validate_capacity_providers(
    providers: &[String],
    strategy: &[CapacityProviderStrategyItem],
    known_providers: &[String],
) -> Validated {
    for (i, p) in providers.iter().enumerate() {
        if !BUILT_IN_CAPACITY_PROVIDERS.contains(&p.as_str()) && !known_providers.contains(p) {
            return Err(ValidationError::invalid_parameter(format!(
                "capacityProviders: the capacity provider '{p}' does not exist"
            )));
        }
        if providers[..i].contains(p) {
            return Err(ValidationError::invalid_parameter(format!(
                "capacityProviders: the capacity provider '{p}' is listed more than once"
            )));
        }
    }
    if strategy.len() > 20 {
        return Err(ValidationError::invalid_parameter(
            "defaultCapacityProviderStrategy: at most 20 capacity providers can be in a strategy",
        ));
    }
    let mut with_base = 0;
    for (i, item) in strategy.iter().enumerate() {
        if !providers.contains(&item.capacity_provider) {
            return Err(ValidationError::invalid_parameter(format!(
                "defaultCapacityProviderStrategy: the capacity provider '{}' is not associated with the cluster; add it to capacityProviders first",
                item.capacity_provider
            )));
        }
        if strategy[..i].iter().any(|o| o.capacity_provider == item.capacity_provider) {
            return Err(ValidationError::invalid_parameter(format!(
                "defaultCapacityProviderStrategy: the capacity provider '{}' appears more than once",
                item.capacity_provider
            )));
        }
        if let Some(w) = item.weight
            && !(0..=1000).contains(&w)
        {
            return Err(ValidationError::invalid_parameter(format!(
                "defaultCapacityProviderStrategy: weight {w} of '{}' must be between 0 and 1000",
                item.capacity_provider
            )));
        }
        if let Some(b) = item.base {
            if !(0..=100_000).contains(&b) {
                return Err(ValidationError::invalid_parameter(format!(
                    "defaultCapacityProviderStrategy: base {b} of '{}' must be between 0 and 100000",
                    item.capacity_provider
                )));
            }
            if b > 0 {
                with_base += 1;
            }
        }
    }
    if with_base > 1 {
        return Err(ValidationError::invalid_parameter(
            "defaultCapacityProviderStrategy: only one capacity provider in a strategy can have a base",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(p: &str, weight: Option<i64>, base: Option<i64>) -> CapacityProviderStrategyItem {
        CapacityProviderStrategyItem { capacity_provider: p.into(), weight, base }
    }

    #[test]
    fn settings_default_and_merge() {
        let s = normalize_settings(&[], &[]).unwrap();
        assert_eq!(s, vec![ClusterSetting { name: "containerInsights".into(), value: "disabled".into() }]);
        let s = normalize_settings(&[ClusterSetting { name: "containerInsights".into(), value: "enabled".into() }], &s)
            .unwrap();
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].value, "enabled");
        assert!(normalize_settings(&[ClusterSetting { name: "x".into(), value: "enabled".into() }], &[]).is_err());
        assert!(
            normalize_settings(&[ClusterSetting { name: "containerInsights".into(), value: "on".into() }], &[])
                .is_err()
        );
    }

    #[test]
    fn capacity_provider_rules() {
        let fargate = vec!["FARGATE".to_string(), "FARGATE_SPOT".to_string()];
        assert!(validate_capacity_providers(&fargate, &[item("FARGATE", Some(1), Some(1))], &[]).is_ok());
        assert!(validate_capacity_providers(&["nope".into()], &[], &[]).is_err());
        assert!(validate_capacity_providers(&["mine".into()], &[], &["mine".into()]).is_ok());
        assert!(validate_capacity_providers(&fargate, &[item("OTHER", None, None)], &[]).is_err());
        assert!(validate_capacity_providers(&fargate, &[item("FARGATE", Some(1001), None)], &[]).is_err());
        assert!(
            validate_capacity_providers(
                &fargate,
                &[item("FARGATE", None, Some(1)), item("FARGATE_SPOT", None, Some(2))],
                &[]
            )
            .is_err()
        );
        assert!(validate_capacity_providers(&["FARGATE".into(), "FARGATE".into()], &[], &[]).is_err());
    }
}
