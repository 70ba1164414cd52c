//! The `ecs-capacity-providers` controller: for every ACTIVE capacity provider of an
//! Auto Scaling group it
//! - places the tasks waiting in PROVISIONING for its capacity on instances of its
//!   group that have room (oldest first);
//! - with managed scaling, sets the group's desired capacity from the pure decision
//!   `capacity_provider::managed_scaling` (what its clusters' tasks need) and publishes
//!   `CapacityProviderReservation` (`AWS/ECS/ManagedScaling`);
//! - with managed termination protection, protects the instances running tasks from
//!   scale-in and unprotects the idle ones, so scale-in only retires idle instances.
//!
//! It keeps nothing between passes: everything is read again from the store and the
//! groups, so a restart (or another replica) just carries on.

use crate::EcsService;
use crate::error::EcsError;
use crate::placement::Rules;
use flotilla_controller::{Controller, PassError};
use flotilla_domain::Timestamp;
use flotilla_domain::capacity_provider::{CapacityProvider, ProviderLoad, managed_scaling};
use flotilla_domain::cluster::ClusterStatus;
use flotilla_domain::flotilla_core::metrics::MetricDatum;
use flotilla_domain::task::Task;
use flotilla_store::Page;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

const PASS_INTERVAL: Duration = Duration::from_secs(5);

pub(crate) struct CapacityProviders {
    pub ecs: EcsService,
}

#[async_trait::async_trait]
impl Controller for CapacityProviders {
    fn name(&self) -> &'static str {
        "ecs-capacity-providers"
    }

    fn interval(&self) -> Duration {
        PASS_INTERVAL
    }

    fn wakeup(&self) -> Option<Arc<tokio::sync::Notify>> {
        Some(self.ecs.services_changed.clone())
    }

    async fn reconcile(&self) -> Result<(), PassError> {
        if self.ecs.groups.is_none() {
            return Ok(());
        }
        let providers = self.ecs.store.list_capacity_providers().await?;
        let active: Vec<CapacityProvider> = providers.into_iter().filter(|p| p.status == "ACTIVE").collect();
        if active.is_empty() {
            return Ok(());
        }
        let waiting = self.ecs.store.waiting_tasks().await?;
        let clusters = self.clusters_using(&active).await?;
        for provider in &active {
            if let Err(e) = self.reconcile_provider(provider, &waiting, &clusters).await {
                tracing::warn!(capacity_provider = %provider.name, error = %e, "capacity provider pass failed");
            }
        }
        Ok(())
    }
}

impl CapacityProviders {
    /// Provider name → the ACTIVE clusters it is associated with.
    async fn clusters_using(&self, active: &[CapacityProvider]) -> Result<BTreeMap<String, Vec<String>>, EcsError> {
        let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut page = Page { after: None, limit: 100 };
        loop {
            let names = self.ecs.store.list_cluster_names(page.clone()).await?;
            for name in &names {
                let Some(c) = self.ecs.store.get_cluster(name).await? else { continue };
                if c.status != ClusterStatus::Active {
                    continue;
                }
                for p in active.iter().filter(|p| c.spec.capacity_providers.contains(&p.name)) {
                    out.entry(p.name.clone()).or_default().push(name.clone());
                }
            }
            match names.last() {
                Some(last) if names.len() == 100 => page.after = Some(last.clone()),
                _ => return Ok(out),
            }
        }
    }

    async fn reconcile_provider(
        &self,
        provider: &CapacityProvider,
        waiting: &[Task],
        clusters: &BTreeMap<String, Vec<String>>,
    ) -> Result<(), EcsError> {
        let ecs = &self.ecs;
        let groups = ecs.instance_groups()?;
        let settings = &provider.auto_scaling_group_provider;
        let Some(group) = groups.group(&settings.auto_scaling_group_arn).await.map_err(EcsError::invalid)? else {
            return Ok(());
        };
        let members: Vec<String> = group.instances.iter().map(|(id, _)| id.clone()).collect();

        // Waiting tasks first: they may fit on instances that came up since.
        let mine: Vec<&Task> =
            waiting.iter().filter(|t| t.capacity_provider_name.as_deref() == Some(provider.name.as_str())).collect();
        let mut still_waiting = 0;
        let mut by_cluster: BTreeMap<String, Vec<Task>> = BTreeMap::new();
        for t in mine {
            by_cluster.entry(t.cluster.clone()).or_default().push(t.clone());
        }
        for (cluster, tasks) in by_cluster {
            let rules = self.rules_for(&tasks[0]).await?;
            let (_, left) = ecs.place_on_members(&cluster, tasks, &[], &rules, &members, true).await?;
            still_waiting += left.len();
        }

        // What the group's instances are doing, in every cluster using the provider.
        let mut busy: BTreeSet<String> = BTreeSet::new();
        for cluster in clusters.get(&provider.name).map(Vec::as_slice).unwrap_or_default() {
            for load in ecs.instance_loads(cluster).await? {
                let working = load.running_tasks + load.pending_tasks > 0;
                if working && members.contains(&load.instance.ec2_instance_id) {
                    busy.insert(load.instance.ec2_instance_id.clone());
                }
            }
        }
        if settings.managed_scaling.enabled() {
            let load = ProviderLoad {
                instances: members.len() as i64,
                busy_instances: busy.len() as i64,
                provisioning_tasks: still_waiting as i64,
                min_size: group.min_size,
                max_size: group.max_size,
            };
            let decision = managed_scaling(&settings.managed_scaling, &load);
            if decision.desired != group.desired {
                tracing::info!(
                    capacity_provider = %provider.name, from = group.desired, to = decision.desired,
                    reservation = decision.reservation, "managed scaling sets the group's desired capacity"
                );
                groups.set_desired(&group.arn, decision.desired).await.map_err(EcsError::invalid)?;
            }
            if let Some(sink) = &ecs.metrics {
                let now = Timestamp::now().0;
                let data = clusters
                    .get(&provider.name)
                    .map(Vec::as_slice)
                    .unwrap_or_default()
                    .iter()
                    .map(|cluster| MetricDatum {
                        namespace: "AWS/ECS/ManagedScaling".into(),
                        metric_name: "CapacityProviderReservation".into(),
                        dimensions: vec![
                            ("CapacityProviderName".into(), provider.name.clone()),
                            ("ClusterName".into(), cluster.clone()),
                        ],
                        timestamp_ms: now,
                        value: decision.reservation,
                        unit: "Percent".into(),
                    })
                    .collect();
                if let Err(e) = sink.record(data).await {
                    tracing::warn!(error = %e, "publishing CapacityProviderReservation failed");
                }
            }
        }
        if settings.managed_termination_protection == "ENABLED" {
            let protect: Vec<String> =
                group.instances.iter().filter(|(id, p)| !p && busy.contains(id)).map(|(id, _)| id.clone()).collect();
            let release: Vec<String> =
                group.instances.iter().filter(|(id, p)| *p && !busy.contains(id)).map(|(id, _)| id.clone()).collect();
            if !protect.is_empty() {
                groups.set_protection(&group.arn, &protect, true).await.map_err(EcsError::invalid)?;
            }
            if !release.is_empty() {
                groups.set_protection(&group.arn, &release, false).await.map_err(EcsError::invalid)?;
            }
        }
        Ok(())
    }

    /// The placement rules a waiting task's definition asks for (ECS's default
    /// strategies for tasks: none given).
    async fn rules_for(&self, task: &Task) -> Result<Rules, EcsError> {
        let td = self.ecs.store.get_task_definition(&task.family, task.revision).await?;
        Ok(Rules {
            strategies: None,
            constraints: Vec::new(),
            required_attributes: td.map(|td| td.requires_attributes).unwrap_or_default(),
        })
    }
}
