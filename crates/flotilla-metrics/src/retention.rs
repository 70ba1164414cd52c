//! The `metrics-retention` controller: deletes datapoints older than 15 days (the
//! longest CloudWatch keeps them at full resolution; no coarser copy is kept) and
//! forgets metrics not published to for as long, and deletes alarm history items
//! older than two weeks, in bounded batches so a pass never holds the writer long.
//! Retention is what bounds the disk metrics use.

use crate::store::MetricStore;
use flotilla_controller::{Controller, PassError};
use std::time::Duration;

pub(crate) const RETENTION_MS: i64 = 15 * 24 * 3_600_000;
/// Rows one batch deletes.
const BATCH: i64 = 5_000;
/// Batches one pass deletes at most, of datapoints and of metrics each.
const BATCHES_PER_PASS: usize = 20;

pub(crate) struct Retention {
    pub store: MetricStore,
}

#[async_trait::async_trait]
impl Controller for Retention {
    fn name(&self) -> &'static str {
        "metrics-retention"
    }

    fn interval(&self) -> Duration {
        Duration::from_secs(60)
    }

    async fn reconcile(&self) -> Result<(), PassError> {
        let before = self.store.now_ms().await? - RETENTION_MS;
        let mut points = 0;
        for _ in 0..BATCHES_PER_PASS {
            let gone = self.store.expire_points(before, BATCH).await?;
            points += gone;
            if gone < BATCH as u64 {
                break;
            }
        }
        let mut metrics = 0;
        for _ in 0..BATCHES_PER_PASS {
            let gone = self.store.forget_metrics(before, BATCH).await?;
            metrics += gone;
            if gone < BATCH as u64 {
                break;
            }
        }
        let history_before = self.store.now_ms().await? - crate::alarms::history::HISTORY_RETENTION_MS;
        let mut history = 0;
        for _ in 0..BATCHES_PER_PASS {
            let gone = self.store.expire_alarm_history(history_before, BATCH).await?;
            history += gone;
            if gone < BATCH as u64 {
                break;
            }
        }
        if points > 0 || metrics > 0 || history > 0 {
            tracing::info!(datapoints = points, metrics, alarm_history = history, "expired metric data past retention");
        }
        Ok(())
    }
}
