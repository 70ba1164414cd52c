//! The `app-autoscaling-housekeeping` controller: finishes the alarm work a call could
//! not (alarms of deleted policies and targets not yet deleted; alarms created for a
//! policy that was never stored), and forgets scaling activities after six weeks, as
//! AWS keeps them.

use crate::AppAutoScalingService;
use crate::error::Result;
use crate::store::AlarmOp;
use flotilla_controller::{Controller, PassError};
use std::time::Duration;

pub const INTERVAL: Duration = Duration::from_secs(30);
/// How long an alarm being created for a policy may wait for the policy to be stored.
pub const PENDING_GRACE_MS: i64 = 10 * 60 * 1000;
/// How long activities are kept.
pub const ACTIVITIES_KEPT_MS: i64 = 42 * 24 * 3600 * 1000;
const BATCH: i64 = 500;

pub(crate) struct Housekeeping {
    pub service: AppAutoScalingService,
}

#[async_trait::async_trait]
impl Controller for Housekeeping {
    fn name(&self) -> &'static str {
        "app-autoscaling-housekeeping"
    }

    fn interval(&self) -> Duration {
        INTERVAL
    }

    async fn reconcile(&self) -> std::result::Result<(), PassError> {
        self.service.housekeeping().await?;
        Ok(())
    }
}

impl AppAutoScalingService {
    /// One housekeeping pass; how many alarms it deleted.
    pub async fn housekeeping(&self) -> Result<usize> {
        let now = self.store.now_ms().await?;
        let work = self.store.alarm_work(now + 1, BATCH).await?;
        let mut delete = Vec::new();
        let mut settled = Vec::new();
        for w in work {
            match w.op {
                // Owned by a policy after all: nothing to do.
                _ if w.owned => settled.push(w.name),
                AlarmOp::Pending if w.created_at > now - PENDING_GRACE_MS => {}
                AlarmOp::Pending | AlarmOp::Delete => delete.push(w.name),
            }
        }
        self.store.remove_alarm_work(&settled).await?;
        self.delete_alarms(&delete).await;
        let gone = self.store.expire_activities(now - ACTIVITIES_KEPT_MS, BATCH).await?;
        if gone > 0 {
            tracing::info!(activities = gone, "forgot scaling activities older than six weeks");
        }
        Ok(delete.len())
    }
}
