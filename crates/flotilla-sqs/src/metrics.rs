//! The `sqs-metrics` controller: every minute, each queue's `AWS/SQS` metrics (dimension
//! `QueueName`) through the server's [`MetricsSink`] — the gauges
//! `ApproximateNumberOfMessagesVisible`, `…NotVisible`, `…Delayed` and
//! `ApproximateAgeOfOldestMessage` read from the store, and the counts
//! `NumberOfMessagesSent`, `…Received`, `…Deleted` and `NumberOfEmptyReceives` summed
//! from the activity requests recorded, which is forgotten once published (so a pass
//! cut short publishes it again: at least once).

use crate::store::{Activity, Counts, SqsStore};
use flotilla_controller::{Controller, PassError};
use flotilla_core::metrics::{MetricDatum, MetricsSink};
use std::sync::Arc;
use std::time::Duration;

pub const NAMESPACE: &str = "AWS/SQS";
const PAGE: i64 = 200;
/// Data recorded per call to the sink.
const CHUNK: usize = 400;

pub(crate) struct Publisher {
    pub store: SqsStore,
    pub sink: Arc<dyn MetricsSink>,
}

/// One queue's datapoints at `now`.
pub(crate) fn data(queue: &str, counts: &Counts, activity: &Activity, now: i64) -> Vec<MetricDatum> {
    let age = counts.oldest_sent_at.map_or(0, |sent| (now - sent).max(0) / 1000);
    [
        ("ApproximateNumberOfMessagesVisible", counts.visible, "Count"),
        ("ApproximateNumberOfMessagesNotVisible", counts.in_flight, "Count"),
        ("ApproximateNumberOfMessagesDelayed", counts.delayed, "Count"),
        ("ApproximateAgeOfOldestMessage", age, "Seconds"),
        ("NumberOfMessagesSent", activity.sent, "Count"),
        ("NumberOfMessagesReceived", activity.received, "Count"),
        ("NumberOfMessagesDeleted", activity.deleted, "Count"),
        ("NumberOfEmptyReceives", activity.empty_receives, "Count"),
    ]
    .into_iter()
    .map(|(metric, value, unit)| MetricDatum {
        namespace: NAMESPACE.to_string(),
        metric_name: metric.to_string(),
        dimensions: vec![("QueueName".to_string(), queue.to_string())],
        timestamp_ms: now,
        value: value as f64,
        unit: unit.to_string(),
    })
    .collect()
}

#[async_trait::async_trait]
impl Controller for Publisher {
    fn name(&self) -> &'static str {
        "sqs-metrics"
    }

    fn interval(&self) -> Duration {
        Duration::from_secs(60)
    }

    async fn reconcile(&self) -> Result<(), PassError> {
        let (last_row, activity) = self.store.activity().await?;
        let now = self.store.now_ms().await?;
        let mut data = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let queues = self.store.queues(None, after.as_deref(), PAGE).await?;
            for q in &queues {
                let counts = self.store.counts(q, now).await?;
                data.extend(self::data(&q.name, &counts, &activity.get(&q.id).copied().unwrap_or_default(), now));
            }
            match queues.last() {
                Some(last) if queues.len() as i64 == PAGE => after = Some(last.name.clone()),
                _ => break,
            }
        }
        for chunk in data.chunks(CHUNK) {
            self.sink.record(chunk.to_vec()).await?;
        }
        if last_row > 0 {
            self.store.forget_activity(last_row, 0).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_queue_gets_its_gauges_and_counts() {
        let counts = Counts { visible: 3, in_flight: 2, delayed: 1, oldest_sent_at: Some(10_000) };
        let activity = Activity { sent: 5, received: 4, deleted: 3, empty_receives: 2 };
        let data = data("orders", &counts, &activity, 70_000);
        let value = |name: &str| data.iter().find(|d| d.metric_name == name).unwrap().value;
        assert_eq!(value("ApproximateNumberOfMessagesVisible"), 3.0);
        assert_eq!(value("ApproximateNumberOfMessagesNotVisible"), 2.0);
        assert_eq!(value("ApproximateNumberOfMessagesDelayed"), 1.0);
        assert_eq!(value("ApproximateAgeOfOldestMessage"), 60.0);
        assert_eq!(value("NumberOfMessagesSent"), 5.0);
        assert_eq!(value("NumberOfEmptyReceives"), 2.0);
        assert!(data.iter().all(|d| d.namespace == "AWS/SQS"
            && d.dimensions == vec![("QueueName".to_string(), "orders".to_string())]
            && d.timestamp_ms == 70_000));
        assert_eq!(data.len(), 8);
    }
}
