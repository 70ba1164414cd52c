//! Cluster operations: CreateCluster, DescribeClusters, ListClusters, UpdateCluster,
//! UpdateClusterSettings, PutClusterCapacityProviders, DeleteCluster.

use crate::EcsService;
use crate::error::EcsError;
use crate::wire::{Failure, decode_token, finish_page, max_results, required};
use flotilla_db::retry_on_conflict;
use flotilla_domain::EcsArns;
use flotilla_domain::ResourceArn;
use flotilla_domain::Timestamp;
use flotilla_domain::cluster::{
    CapacityProviderStrategyItem, Cluster, ClusterConfiguration, ClusterCounts, ClusterSetting, ClusterSpec,
    ClusterStatus, DEFAULT_CLUSTER, ServiceConnectDefaults, normalize_settings, validate_capacity_providers,
    validate_cluster_name,
};
use flotilla_domain::tag::{Tag, validate_tags};
use flotilla_store::Page;
use serde::{Deserialize, Serialize};

/// How many times a read-modify-write is retried when another writer got there first.
const UPDATE_ATTEMPTS: u32 = 8;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CreateClusterInput {
    cluster_name: Option<String>,
    #[serde(default)]
    tags: Vec<Tag>,
    #[serde(default)]
    settings: Vec<ClusterSetting>,
    configuration: Option<ClusterConfiguration>,
    #[serde(default)]
    capacity_providers: Vec<String>,
    #[serde(default)]
    default_capacity_provider_strategy: Vec<CapacityProviderStrategyItem>,
    service_connect_defaults: Option<ServiceConnectDefaults>,
}

#[derive(Serialize)]
pub(crate) struct ClusterOutput {
    cluster: ClusterShape,
}

/// The `Cluster` shape.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ClusterShape {
    cluster_arn: String,
    cluster_name: String,
    status: &'static str,
    registered_container_instances_count: i64,
    running_tasks_count: i64,
    pending_tasks_count: i64,
    active_services_count: i64,
    statistics: Vec<KeyValue>,
    tags: Vec<Tag>,
    #[serde(skip_serializing_if = "Option::is_none")]
    settings: Option<Vec<ClusterSetting>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    configuration: Option<ClusterConfiguration>,
    capacity_providers: Vec<String>,
    default_capacity_provider_strategy: Vec<CapacityProviderStrategyItem>,
    #[serde(skip_serializing_if = "Option::is_none")]
    service_connect_defaults: Option<ServiceConnectDefaults>,
}

#[derive(Serialize)]
struct KeyValue {
    name: &'static str,
    value: String,
}

/// Which optional parts of a cluster to include in the answer.
#[derive(Clone, Copy)]
struct Include {
    settings: bool,
    configurations: bool,
    statistics: bool,
    tags: bool,
}

impl Include {
    const ALL: Include = Include { settings: true, configurations: true, statistics: false, tags: true };
}

impl EcsService {
    async fn cluster_shape(&self, cluster: Cluster, include: Include) -> Result<ClusterShape, EcsError> {
        let arn = self.account.cluster_arn(&cluster.name);
        let tags = if include.tags { self.store.list_tags(&arn).await? } else { Vec::new() };
        let counts = self.store.cluster_counts(&cluster.name).await?;
        let statistics = if include.statistics { statistics(&counts) } else { Vec::new() };
        Ok(ClusterShape {
            cluster_arn: arn,
            cluster_name: cluster.name,
            status: cluster.status.as_str(),
            registered_container_instances_count: counts.registered_container_instances,
            running_tasks_count: counts.running_tasks,
            pending_tasks_count: counts.pending_tasks,
            active_services_count: counts.active_services,
            statistics,
            tags,
            settings: include.settings.then_some(cluster.spec.settings),
            configuration: if include.configurations { cluster.spec.configuration } else { None },
            capacity_providers: cluster.spec.capacity_providers,
            default_capacity_provider_strategy: cluster.spec.default_capacity_provider_strategy,
            service_connect_defaults: cluster.spec.service_connect_defaults,
        })
    }

    /// Resolves a `cluster` parameter (name or ARN; absent means `default`) to its name.
    pub(crate) fn cluster_name(&self, cluster: Option<&str>) -> Result<String, EcsError> {
        match cluster {
            None | Some("") => Ok(DEFAULT_CLUSTER.to_string()),
            Some(s) if s.starts_with("arn:") => match self.account.parse_arn(s)? {
                ResourceArn::Cluster { name } => Ok(name),
                _ => Err(EcsError::invalid(format!("cluster: '{s}' is not a cluster ARN"))),
            },
            Some(s) => Ok(s.to_string()),
        }
    }

    /// The ACTIVE cluster named by a `cluster` parameter.
    pub(crate) async fn active_cluster(&self, cluster: Option<&str>) -> Result<Cluster, EcsError> {
        let name = self.cluster_name(cluster)?;
        match self.store.get_cluster(&name).await? {
            Some(c) if c.status == ClusterStatus::Active => Ok(c),
            _ => Err(EcsError::ClusterNotFound),
        }
    }

    /// Reads the cluster, applies `change`, and stores it, retrying when another
    /// writer changed it in between.
    async fn change_cluster(
        &self,
        cluster: &str,
        change: impl Fn(&mut Cluster) -> Result<(), EcsError>,
    ) -> Result<Cluster, EcsError> {
        let change = &change;
        retry_on_conflict(UPDATE_ATTEMPTS, EcsError::is_conflict, move || async move {
            let mut c = self.active_cluster(Some(cluster)).await?;
            change(&mut c)?;
            Ok(self.store.update_cluster(&c).await?)
        })
        .await
    }
}

fn statistics(c: &ClusterCounts) -> Vec<KeyValue> {
    let kv = |name, value: i64| KeyValue { name, value: value.to_string() };
    vec![
        kv("runningEC2TasksCount", c.running_tasks),
        kv("runningFargateTasksCount", 0),
        kv("pendingEC2TasksCount", c.pending_tasks),
        kv("pendingFargateTasksCount", 0),
        kv("activeEC2ServiceCount", c.active_services),
        kv("activeFargateServiceCount", 0),
        kv("drainingEC2ServiceCount", 0),
        kv("drainingFargateServiceCount", 0),
    ]
}

pub(crate) async fn ensure_default(svc: &EcsService) -> Result<(), EcsError> {
    let settings = normalize_settings(&[], &[])?;
    let spec = ClusterSpec { settings, ..ClusterSpec::default() };
    svc.store.create_cluster(DEFAULT_CLUSTER, &spec, &[], Timestamp::now()).await?;
    Ok(())
}

pub(crate) async fn create_cluster(svc: &EcsService, input: CreateClusterInput) -> Result<ClusterOutput, EcsError> {
    let name = input.cluster_name.unwrap_or_else(|| DEFAULT_CLUSTER.to_string());
    validate_cluster_name(&name)?;
    validate_tags(&input.tags)?;
    let known = known_providers(svc).await?;
    validate_capacity_providers(&input.capacity_providers, &input.default_capacity_provider_strategy, &known)?;
    let spec = ClusterSpec {
        settings: normalize_settings(&input.settings, &[])?,
        configuration: input.configuration,
        capacity_providers: input.capacity_providers,
        default_capacity_provider_strategy: input.default_capacity_provider_strategy,
        service_connect_defaults: input.service_connect_defaults,
    };
    let created = svc.store.create_cluster(&name, &spec, &input.tags, Timestamp::now()).await?;
    Ok(ClusterOutput { cluster: svc.cluster_shape(created.cluster, Include::ALL).await? })
}

#[derive(Deserialize)]
pub(crate) struct DescribeClustersInput {
    #[serde(default)]
    clusters: Vec<String>,
    #[serde(default)]
    include: Vec<ClusterField>,
}

#[derive(Deserialize, PartialEq, Clone, Copy)]
#[serde(rename_all = "UPPERCASE")]
enum ClusterField {
    Attachments,
    Configurations,
    Settings,
    Statistics,
    Tags,
}

#[derive(Serialize)]
pub(crate) struct DescribeClustersOutput {
    clusters: Vec<ClusterShape>,
    failures: Vec<Failure>,
}

pub(crate) async fn describe_clusters(
    svc: &EcsService,
    input: DescribeClustersInput,
) -> Result<DescribeClustersOutput, EcsError> {
    if input.clusters.len() > 100 {
        return Err(EcsError::invalid("clusters: at most 100 clusters can be described at once"));
    }
    let include = Include {
        settings: input.include.contains(&ClusterField::Settings),
        configurations: input.include.contains(&ClusterField::Configurations),
        statistics: input.include.contains(&ClusterField::Statistics),
        tags: input.include.contains(&ClusterField::Tags),
    };
    let wanted = if input.clusters.is_empty() { vec![DEFAULT_CLUSTER.to_string()] } else { input.clusters };
    let mut out = DescribeClustersOutput { clusters: Vec::new(), failures: Vec::new() };
    for given in wanted {
        let found = match svc.cluster_name(Some(&given)) {
            Ok(name) => svc.store.get_cluster(&name).await?.map(|c| (name, c)),
            Err(_) => None,
        };
        match found {
            Some((_, cluster)) => out.clusters.push(svc.cluster_shape(cluster, include).await?),
            None => {
                let arn = if given.starts_with("arn:") { given } else { svc.account.cluster_arn(&given) };
                out.failures.push(Failure { arn, reason: "MISSING".into(), detail: None });
            }
        }
    }
    Ok(out)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListClustersInput {
    next_token: Option<String>,
    max_results: Option<i64>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListClustersOutput {
    cluster_arns: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

pub(crate) async fn list_clusters(svc: &EcsService, input: ListClustersInput) -> Result<ListClustersOutput, EcsError> {
    let limit = max_results(input.max_results, 100)?;
    let after = input.next_token.as_deref().map(decode_token).transpose()?;
    let names = svc.store.list_cluster_names(Page { after, limit: limit + 1 }).await?;
    let (names, next_token) = finish_page(names, limit as usize, String::clone);
    Ok(ListClustersOutput { cluster_arns: names.iter().map(|n| svc.account.cluster_arn(n)).collect(), next_token })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UpdateClusterInput {
    cluster: Option<String>,
    settings: Option<Vec<ClusterSetting>>,
    configuration: Option<ClusterConfiguration>,
    service_connect_defaults: Option<ServiceConnectDefaults>,
}

pub(crate) async fn update_cluster(svc: &EcsService, input: UpdateClusterInput) -> Result<ClusterOutput, EcsError> {
    let cluster = required(input.cluster, "cluster")?;
    let cluster = svc
        .change_cluster(&cluster, |c| {
            if let Some(settings) = &input.settings {
                c.spec.settings = normalize_settings(settings, &c.spec.settings)?;
            }
            if let Some(configuration) = &input.configuration {
                c.spec.configuration = Some(configuration.clone());
            }
            if let Some(defaults) = &input.service_connect_defaults {
                c.spec.service_connect_defaults = Some(defaults.clone());
            }
            Ok(())
        })
        .await?;
    Ok(ClusterOutput { cluster: svc.cluster_shape(cluster, Include::ALL).await? })
}

#[derive(Deserialize)]
pub(crate) struct UpdateClusterSettingsInput {
    cluster: Option<String>,
    settings: Option<Vec<ClusterSetting>>,
}

pub(crate) async fn update_cluster_settings(
    svc: &EcsService,
    input: UpdateClusterSettingsInput,
) -> Result<ClusterOutput, EcsError> {
    let cluster = required(input.cluster, "cluster")?;
    let settings = required(input.settings, "settings")?;
    if settings.is_empty() {
        return Err(EcsError::invalid("settings: give at least one setting"));
    }
    let cluster = svc
        .change_cluster(&cluster, |c| {
            c.spec.settings = normalize_settings(&settings, &c.spec.settings)?;
            Ok(())
        })
        .await?;
    Ok(ClusterOutput { cluster: svc.cluster_shape(cluster, Include::ALL).await? })
}

/// The names of the ACTIVE Auto Scaling group capacity providers.
async fn known_providers(svc: &EcsService) -> Result<Vec<String>, EcsError> {
    let providers = svc.store.list_capacity_providers().await?;
    Ok(providers.into_iter().filter(|p| p.status == "ACTIVE").map(|p| p.name).collect())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PutClusterCapacityProvidersInput {
    cluster: Option<String>,
    capacity_providers: Option<Vec<String>>,
    default_capacity_provider_strategy: Option<Vec<CapacityProviderStrategyItem>>,
}

pub(crate) async fn put_cluster_capacity_providers(
    svc: &EcsService,
    input: PutClusterCapacityProvidersInput,
) -> Result<ClusterOutput, EcsError> {
    let cluster = required(input.cluster, "cluster")?;
    let providers = required(input.capacity_providers, "capacityProviders")?;
    let strategy = required(input.default_capacity_provider_strategy, "defaultCapacityProviderStrategy")?;
    validate_capacity_providers(&providers, &strategy, &known_providers(svc).await?)?;
    let cluster = svc
        .change_cluster(&cluster, |c| {
            c.spec.capacity_providers = providers.clone();
            c.spec.default_capacity_provider_strategy = strategy.clone();
            Ok(())
        })
        .await?;
    Ok(ClusterOutput { cluster: svc.cluster_shape(cluster, Include::ALL).await? })
}

#[derive(Deserialize)]
pub(crate) struct DeleteClusterInput {
    cluster: Option<String>,
}

pub(crate) async fn delete_cluster(svc: &EcsService, input: DeleteClusterInput) -> Result<ClusterOutput, EcsError> {
    let cluster = required(input.cluster, "cluster")?;
    let name = svc.active_cluster(Some(&cluster)).await?.name;
    let counts = svc.store.cluster_counts(&name).await?;
    if counts.registered_container_instances > 0 {
        return Err(EcsError::ClusterContains(
            "ClusterContainsContainerInstancesException",
            "The Cluster cannot be deleted while Container Instances are active or draining.",
        ));
    }
    if counts.active_services > 0 {
        return Err(EcsError::ClusterContains(
            "ClusterContainsServicesException",
            "The Cluster cannot be deleted while Services are active.",
        ));
    }
    if counts.running_tasks + counts.pending_tasks > 0 {
        return Err(EcsError::ClusterContains(
            "ClusterContainsTasksException",
            "The Cluster cannot be deleted while Tasks are active.",
        ));
    }
    let cluster = svc
        .change_cluster(&cluster, |c| {
            c.status = ClusterStatus::Inactive;
            Ok(())
        })
        .await?;
    Ok(ClusterOutput { cluster: svc.cluster_shape(cluster, Include::ALL).await? })
}
