//! The `sqs-retention` controller: deletes, in bounded batches so a pass never holds
//! the writer long, the messages no read sees any more — past their queue's
//! `MessageRetentionPeriod`, purged, or of deleted queues — and forgets FIFO
//! deduplication ids past their 5 minutes and activity the metrics never took.

use crate::store::SqsStore;
use flotilla_controller::{Controller, PassError};
use std::time::Duration;

/// Messages one batch deletes.
const BATCH: i64 = 5_000;
/// Batches one pass deletes per queue (and of deleted queues) before moving on.
const BATCHES_PER_PASS: usize = 20;
/// Queues read per page.
const PAGE: i64 = 200;
/// Activity older than this is forgotten even if no metrics controller took it.
const ACTIVITY_KEPT_MS: i64 = 3600 * 1000;

pub(crate) struct Retention {
    pub store: SqsStore,
}

#[async_trait::async_trait]
impl Controller for Retention {
    fn name(&self) -> &'static str {
        "sqs-retention"
    }

    fn interval(&self) -> Duration {
        Duration::from_secs(30)
    }

    async fn reconcile(&self) -> Result<(), PassError> {
        let now = self.store.now_ms().await?;
        let mut after: Option<String> = None;
        loop {
            let queues = self.store.queues(None, after.as_deref(), PAGE).await?;
            for q in &queues {
                for _ in 0..BATCHES_PER_PASS {
                    let gone = self.store.expire(q, now, BATCH).await?;
                    if gone > 0 {
                        tracing::info!(queue = %q.name, messages = gone, "deleted messages past retention or purged");
                    }
                    if gone < BATCH as u64 {
                        break;
                    }
                }
            }
            match queues.last() {
                Some(last) if queues.len() as i64 == PAGE => after = Some(last.name.clone()),
                _ => break,
            }
        }
        for _ in 0..BATCHES_PER_PASS {
            let gone = self.store.sweep_deleted(BATCH).await?;
            if gone > 0 {
                tracing::info!(messages = gone, "deleted messages of deleted queues");
            }
            if gone < BATCH as u64 {
                break;
            }
        }
        self.store.forget_dedup(now).await?;
        self.store.forget_activity(0, now - ACTIVITY_KEPT_MS).await?;
        Ok(())
    }
}
