//! How service modules use one another, without depending on one another: each
//! adapter implements a trait one module declares with another module's API.
//!
//! - [`RegistryImages`]: ECS pins service deployments' images to the built-in
//!   registry's digests.
//! - [`ElbTargets`]: ECS registers services' tasks with ELBv2 target groups.
//! - [`EcsInstances`]: ELBv2 reaches `instance` targets at their ECS container
//!   instance's host address.
//! - [`CloudWatchSink`]: ECS's task utilization and ELBv2's load balancer metrics
//!   are recorded in CloudWatch.

use flotilla_ecs_api::{ImageResolver, LoadBalancing, MetricDatum, MetricsSink, TargetGroupInfo};
use flotilla_elbv2::ElbService;
use flotilla_elbv2::dataplane::InstanceAddresses;
use flotilla_elbv2::model::TargetType;
use flotilla_metrics::{Datum, MetricsService};
use flotilla_registry::Registry;
use flotilla_store::{Page, SqlStore, Store};
use std::net::Ipv4Addr;
use std::sync::Arc;

pub struct RegistryImages(pub Registry);

#[async_trait::async_trait]
impl ImageResolver for RegistryImages {
    async fn digest(&self, image: &str) -> Option<String> {
        self.0.digest_of(image).await
    }
}

pub struct ElbTargets(pub Arc<ElbService>);

#[async_trait::async_trait]
impl LoadBalancing for ElbTargets {
    async fn target_group(&self, arn: &str) -> Result<Option<TargetGroupInfo>, String> {
        let info = self.0.target_group_info(arn).await.map_err(|e| e.to_string())?;
        Ok(info.map(|i| TargetGroupInfo { instance_targets: i.target_type == TargetType::Instance, in_use: i.in_use }))
    }

    async fn register(&self, arn: &str, targets: &[(String, i64)]) -> Result<(), String> {
        self.0.register_targets(arn, targets).await.map_err(|e| e.to_string())
    }

    async fn deregister(&self, arn: &str, targets: &[(String, i64)]) -> Result<(), String> {
        self.0.deregister_targets(arn, targets).await.map_err(|e| e.to_string())
    }

    async fn targets(&self, arn: &str) -> Result<Vec<(String, i64, String)>, String> {
        let states = self.0.target_states(arn).await.map_err(|e| e.to_string())?;
        Ok(states.into_iter().map(|s| (s.id, s.port, s.state)).collect())
    }

    async fn rule_exists(&self, arn: &str) -> Result<bool, String> {
        self.0.traffic_rule_exists(arn).await.map_err(|e| e.to_string())
    }

    async fn route(&self, rule: &str, forward: &[(String, i64)]) -> Result<bool, String> {
        self.0.set_forward(rule, forward).await.map_err(|e| e.to_string())
    }
}

/// ECS's task utilization and ELBv2's load balancer metrics go to CloudWatch.
pub struct CloudWatchSink(pub Arc<MetricsService>);

#[async_trait::async_trait]
impl MetricsSink for CloudWatchSink {
    async fn record(&self, data: Vec<MetricDatum>) -> Result<(), String> {
        let data: Vec<Datum> = data
            .into_iter()
            .map(|d| Datum {
                namespace: d.namespace,
                metric_name: d.metric_name,
                dimensions: d.dimensions,
                timestamp_ms: d.timestamp_ms,
                value: d.value,
                unit: d.unit,
            })
            .collect();
        self.0.record(&data).await.map_err(|e| e.to_string())
    }
}

pub struct EcsInstances(pub SqlStore);

#[async_trait::async_trait]
impl InstanceAddresses for EcsInstances {
    /// The host address of the container instance with this EC2 instance id.
    async fn address(&self, instance_id: &str) -> Option<Ipv4Addr> {
        let clusters = self.0.list_cluster_names(Page { after: None, limit: 1000 }).await.ok()?;
        for cluster in clusters {
            let mut page = Page { after: None, limit: 500 };
            loop {
                let loads = self.0.list_container_instances(&cluster, None, true, page.clone()).await.ok()?;
                if let Some(found) = loads.iter().find(|l| l.instance.ec2_instance_id == instance_id) {
                    let address = found.instance.attribute(flotilla_ecs_api::HOST_ADDRESS_ATTRIBUTE)?;
                    return address.value.as_deref()?.parse().ok();
                }
                if loads.len() < 500 {
                    break;
                }
                page.after = loads.last().map(|l| l.instance.id.clone());
            }
        }
        None
    }
}
