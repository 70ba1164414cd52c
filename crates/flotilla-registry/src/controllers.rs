//! The registry's background controllers, each run under a lease by the server's
//! controller runner: lifecycle policies (with the purge of abandoned uploads), and
//! garbage collection. Both passes are idempotent: what a cut-short pass left undone,
//! the next one does.

use crate::{Maintenance, Registry, UPLOAD_MAX_AGE};
use async_trait::async_trait;
use flotilla_controller::{Controller, PassError};
use std::time::Duration;

/// Applies every repository's lifecycle policy, then cancels uploads abandoned for
/// longer than [`UPLOAD_MAX_AGE`].
pub(crate) struct Lifecycle {
    pub registry: Registry,
    pub interval: Duration,
}

#[async_trait]
impl Controller for Lifecycle {
    fn name(&self) -> &'static str {
        "registry-lifecycle"
    }

    fn interval(&self) -> Duration {
        self.interval
    }

    async fn reconcile(&self) -> Result<(), PassError> {
        self.registry.apply_lifecycle_policies().await?;
        let purged = self.registry.purge_uploads(UPLOAD_MAX_AGE).await?;
        if !purged.is_empty() {
            tracing::info!(uploads = purged.len(), "cancelled abandoned uploads");
        }
        Ok(())
    }
}

/// Removes blobs no manifest references and no push touched within the grace period.
pub(crate) struct GarbageCollection {
    pub registry: Registry,
    pub interval: Duration,
    pub grace: Duration,
}

#[async_trait]
impl Controller for GarbageCollection {
    fn name(&self) -> &'static str {
        "registry-gc"
    }

    fn interval(&self) -> Duration {
        self.interval
    }

    async fn reconcile(&self) -> Result<(), PassError> {
        let report = self.registry.collect_garbage(self.grace).await?;
        if !report.removed.is_empty() {
            tracing::info!(blobs = report.removed.len(), "registry garbage collected");
        }
        Ok(())
    }
}

impl Maintenance {
    pub(crate) fn controllers(self, registry: &Registry) -> Vec<std::sync::Arc<dyn Controller>> {
        vec![
            std::sync::Arc::new(Lifecycle { registry: registry.clone(), interval: self.interval }),
            std::sync::Arc::new(GarbageCollection {
                registry: registry.clone(),
                interval: self.interval,
                grace: self.gc_grace,
            }),
        ]
    }
}
