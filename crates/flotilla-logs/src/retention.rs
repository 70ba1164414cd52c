//! The `logs-retention` controller: deletes events older than their group's
//! retention (in bounded batches, so a pass never holds the writer long) and forgets
//! Logs Insights queries older than 7 days. Retention is what bounds the disk a
//! group uses.

use crate::store::LogStore;
use flotilla_controller::{Controller, PassError};
use std::time::Duration;

const DAY_MS: i64 = 24 * 3600 * 1000;
/// Events one batch deletes.
const BATCH: i64 = 5_000;
/// Batches one pass deletes per group before moving on.
const BATCHES_PER_PASS: usize = 20;
const QUERIES_KEPT_MS: i64 = 7 * DAY_MS;

pub(crate) struct Retention {
    pub store: LogStore,
}

#[async_trait::async_trait]
impl Controller for Retention {
    fn name(&self) -> &'static str {
        "logs-retention"
    }

    fn interval(&self) -> Duration {
        Duration::from_secs(10)
    }

    async fn reconcile(&self) -> Result<(), PassError> {
        let now = self.store.now_ms().await?;
        let mut after: Option<String> = None;
        loop {
            let groups = self.store.groups(None, after.as_deref(), 200).await?;
            for g in &groups {
                let Some(days) = g.retention_days else { continue };
                let before = now - days * DAY_MS;
                for _ in 0..BATCHES_PER_PASS {
                    let gone = self.store.expire(&g.name, before, BATCH).await?;
                    if gone > 0 {
                        tracing::info!(log_group = %g.name, events = gone, "expired log events past retention");
                    }
                    if gone < BATCH as u64 {
                        break;
                    }
                }
            }
            match groups.last() {
                Some(last) if groups.len() == 200 => after = Some(last.name.clone()),
                _ => break,
            }
        }
        self.store.forget_queries(now - QUERIES_KEPT_MS).await?;
        Ok(())
    }
}
