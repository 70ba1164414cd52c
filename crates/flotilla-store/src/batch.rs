//! Write batching: concurrent writes of one kind share one transaction.
//!
//! Every write transaction pays a commit (an fsync on SQLite) and queues for the one
//! writer; a placement also reads the whole pool's load under the pool's lock. So
//! writes that arrive while another is running are queued instead, and whoever gets
//! the queue's turn takes everything queued so far and runs it as one batch (one
//! transaction, one commit), in a task of its own so that a caller going away never
//! cuts a batch short. Callers whose write another caller took just wait for their
//! answer. Each write's own outcome (a conflict, a placement failure) is its own; a
//! database error fails the whole batch.

use crate::error::{StoreError, StoreResult};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

/// One caller's write, and where its answer goes.
pub(crate) struct Entry<P, A> {
    pub payload: P,
    reply: oneshot::Sender<StoreResult<A>>,
}

impl<P, A> Entry<P, A> {
    pub(crate) fn answer(self, answer: StoreResult<A>) {
        // The caller may have gone away; the write stands either way.
        let _ = self.reply.send(answer);
    }
}

/// Answers every entry of a batch that failed as a whole.
pub(crate) fn fail_all<P, A>(batch: Vec<Entry<P, A>>, error: &StoreError) {
    tracing::warn!(error = %error, writes = batch.len(), "a batch of writes failed");
    for entry in batch {
        entry.answer(Err(StoreError::Batch(error.to_string())));
    }
}

/// The queue and turn of one kind of write.
struct Queue<P, A> {
    waiting: Mutex<Vec<Entry<P, A>>>,
    turn: Arc<tokio::sync::Mutex<()>>,
}

impl<P, A> Default for Queue<P, A> {
    fn default() -> Self {
        Self { waiting: Mutex::new(Vec::new()), turn: Arc::default() }
    }
}

/// Queues by key: writes under different keys never wait for each other here.
pub(crate) struct Batcher<P, A> {
    queues: Mutex<HashMap<String, Arc<Queue<P, A>>>>,
    max_batch: usize,
}

impl<P: Send + 'static, A: Send + 'static> Batcher<P, A> {
    /// Batches of at most `max_batch` writes.
    pub(crate) fn new(max_batch: usize) -> Self {
        Self { queues: Mutex::default(), max_batch }
    }

    /// Queues `payload` under `key` and waits for its answer. `run` writes a batch
    /// (in a spawned task) and must answer every entry of it.
    pub(crate) async fn submit<F, Fut>(&self, key: &str, payload: P, run: F) -> StoreResult<A>
    where
        F: Fn(Vec<Entry<P, A>>) -> Fut,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let queue = {
            let mut queues = self.queues.lock().unwrap_or_else(|p| p.into_inner());
            queues.entry(key.to_string()).or_default().clone()
        };
        let (reply, mut answer) = oneshot::channel();
        queue.waiting.lock().unwrap_or_else(|p| p.into_inner()).push(Entry { payload, reply });
        loop {
            tokio::select! {
                biased;
                answered = &mut answer => {
                    return answered.unwrap_or_else(|_| Err(StoreError::Batch("its batch was cut short".to_string())));
                }
                turn = queue.turn.clone().lock_owned() => {
                    let batch: Vec<Entry<P, A>> = {
                        let mut waiting = queue.waiting.lock().unwrap_or_else(|p| p.into_inner());
                        let n = waiting.len().min(self.max_batch);
                        waiting.drain(..n).collect()
                    };
                    // Empty: an earlier batch took this write and has answered it.
                    if !batch.is_empty() {
                        let work = run(batch);
                        tokio::spawn(async move {
                            work.await;
                            drop(turn);
                        });
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_writes_share_batches_and_each_gets_its_own_answer() {
        let batcher = Arc::new(Batcher::<u32, u32>::new(8));
        let sizes = Arc::new(Mutex::new(Vec::new()));
        let mut callers = Vec::new();
        for n in 0..40u32 {
            let (batcher, sizes) = (batcher.clone(), sizes.clone());
            callers.push(tokio::spawn(async move {
                let run = move |batch: Vec<Entry<u32, u32>>| {
                    let sizes = sizes.clone();
                    async move {
                        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                        sizes.lock().unwrap().push(batch.len());
                        for e in batch {
                            let doubled = e.payload * 2;
                            e.answer(Ok(doubled));
                        }
                    }
                };
                (n, batcher.submit("k", n, run).await.unwrap())
            }));
        }
        for c in callers {
            let (n, answer) = c.await.unwrap();
            assert_eq!(answer, n * 2);
        }
        let sizes = sizes.lock().unwrap();
        assert_eq!(sizes.iter().sum::<usize>(), 40, "every write ran once");
        assert!(sizes.iter().all(|s| *s <= 8), "no batch is over its bound: {sizes:?}");
        assert!(sizes.len() < 40, "waiting writes were batched: {sizes:?}");
    }

    #[tokio::test]
    async fn a_batch_that_answers_nothing_fails_its_callers() {
        let batcher = Batcher::<u32, u32>::new(8);
        let dropped = batcher.submit("k", 1, |batch: Vec<Entry<u32, u32>>| async move { drop(batch) }).await;
        assert!(matches!(dropped, Err(StoreError::Batch(_))));
    }
}
