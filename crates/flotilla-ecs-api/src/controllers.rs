//! ECS's background controllers. Each decides with a pure reconciler from
//! `flotilla-domain` and only does the reading and writing here.
//!
//! - `ecs-agent-heartbeat`: records when a container instance's agent stops polling
//!   for longer than the heartbeat timeout (`agentLostAt`), and when it comes back.

use flotilla_controller::{Controller, PassError};
use flotilla_domain::Timestamp;
use flotilla_domain::container_instance::{AgentChange, agent_changes};
use flotilla_store::{Page, Store, StoreError};
use std::sync::Arc;
use std::time::Duration;

/// How often agents' heartbeats are checked.
const HEARTBEAT_CHECK: Duration = Duration::from_secs(10);
const PAGE: u32 = 100;

pub(crate) struct AgentHeartbeat {
    pub store: Arc<dyn Store>,
}

#[async_trait::async_trait]
impl Controller for AgentHeartbeat {
    fn name(&self) -> &'static str {
        "ecs-agent-heartbeat"
    }

    fn interval(&self) -> Duration {
        HEARTBEAT_CHECK
    }

    async fn reconcile(&self) -> Result<(), PassError> {
        let mut clusters = Page { after: None, limit: PAGE };
        loop {
            let names = self.store.list_cluster_names(clusters.clone()).await?;
            for cluster in &names {
                self.reconcile_cluster(cluster).await?;
            }
            match names.last() {
                Some(last) if names.len() == PAGE as usize => clusters.after = Some(last.clone()),
                _ => return Ok(()),
            }
        }
    }
}

impl AgentHeartbeat {
    async fn reconcile_cluster(&self, cluster: &str) -> Result<(), StoreError> {
        let mut page = Page { after: None, limit: PAGE };
        loop {
            let loads = self.store.list_container_instances(cluster, None, true, page.clone()).await?;
            let instances: Vec<_> = loads.into_iter().map(|l| std::sync::Arc::unwrap_or_clone(l.instance)).collect();
            for change in agent_changes(&instances, Timestamp::now()) {
                self.apply(change).await?;
            }
            match instances.last() {
                Some(last) if instances.len() == PAGE as usize => page.after = Some(last.id.clone()),
                _ => return Ok(()),
            }
        }
    }

    /// Records one change, decided again on the instance as stored now (its agent may
    /// have come back since the listing); a write that loses a race waits for the next pass.
    async fn apply(&self, listed: AgentChange) -> Result<(), StoreError> {
        let id = match &listed {
            AgentChange::Lost { id, .. } | AgentChange::Back { id } => id,
        };
        let Some(mut instance) = self.store.get_container_instance(id).await? else { return Ok(()) };
        let Some(change) = agent_changes(std::slice::from_ref(&instance), Timestamp::now()).pop() else {
            return Ok(());
        };
        instance.agent_lost_at = match change {
            AgentChange::Lost { since, .. } => Some(since),
            AgentChange::Back { .. } => None,
        };
        match self.store.update_container_instance(&instance).await {
            Ok(_) => {
                match change {
                    AgentChange::Lost { since, .. } => {
                        tracing::warn!(cluster = %instance.cluster, container_instance = %id, since = since.0, "agent lost")
                    }
                    AgentChange::Back { .. } => {
                        tracing::info!(cluster = %instance.cluster, container_instance = %id, "agent back")
                    }
                }
                Ok(())
            }
            Err(StoreError::Conflict { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }
}
