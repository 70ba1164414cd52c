//! Wake-ups for long polls: the only process-local state of the service.
//!
//! A receive waiting on an empty queue subscribes to the queue's channel; a send,
//! a visibility change to 0 or a redrive on this process rings it, so the waiter reads
//! the store again at once. Waiters also read the store at least every second
//! ([`RECHECK`]), which is how they see messages sent through another replica, delays
//! running out and visibility timeouts expiring. Losing a wake-up only costs latency.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// How often a waiting receive reads the store again with no wake-up.
pub const RECHECK: Duration = Duration::from_secs(1);

/// One channel per queue id with someone waiting on it.
#[derive(Default)]
pub struct Waiters {
    queues: Mutex<HashMap<i64, watch::Sender<u64>>>,
}

/// A subscription: [`Subscription::wait`] returns when the queue is rung (after the
/// subscription was made or last waited on) or at `until`, whichever is first.
pub struct Subscription {
    rx: watch::Receiver<u64>,
}

impl Waiters {
    pub fn subscribe(&self, queue_id: i64) -> Subscription {
        let mut queues = self.queues.lock().unwrap_or_else(|e| e.into_inner());
        let sender = queues.entry(queue_id).or_insert_with(|| watch::channel(0).0);
        let mut rx = sender.subscribe();
        rx.borrow_and_update();
        Subscription { rx }
    }

    /// Wakes every receive waiting on the queue.
    pub fn ring(&self, queue_id: i64) {
        let mut queues = self.queues.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(sender) = queues.get(&queue_id) {
            if sender.receiver_count() == 0 {
                queues.remove(&queue_id);
            } else {
                sender.send_modify(|n| *n = n.wrapping_add(1));
            }
        }
    }

    /// Forgets a deleted queue's channel (its waiters see the queue gone at their next read).
    pub fn forget(&self, queue_id: i64) {
        let mut queues = self.queues.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(sender) = queues.remove(&queue_id) {
            sender.send_modify(|n| *n = n.wrapping_add(1));
        }
    }
}

impl Subscription {
    /// Waits for a ring, `until` or [`RECHECK`], whichever comes first.
    pub async fn wait(&mut self, until: Instant) {
        let deadline = until.min(Instant::now() + RECHECK);
        let _ = tokio::time::timeout_at(deadline, self.rx.changed()).await;
        self.rx.borrow_and_update();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_ring_after_subscribing_wakes_the_waiter_at_once() {
        let waiters = Waiters::default();
        let mut sub = waiters.subscribe(7);
        waiters.ring(7);
        let started = Instant::now();
        sub.wait(Instant::now() + Duration::from_secs(5)).await;
        assert!(started.elapsed() < Duration::from_millis(500));
        // A ring of another queue does not; the wait ends at the deadline.
        waiters.ring(8);
        let started = Instant::now();
        sub.wait(Instant::now() + Duration::from_millis(50)).await;
        assert!(started.elapsed() >= Duration::from_millis(50));
    }

    #[tokio::test]
    async fn channels_without_waiters_are_dropped() {
        let waiters = Waiters::default();
        drop(waiters.subscribe(1));
        waiters.ring(1);
        assert!(waiters.queues.lock().unwrap().is_empty());
    }
}
