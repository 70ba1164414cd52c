//! The runner on every backend: one holder at a time, takeover after a holder dies,
//! prompt handover on shutdown, failed passes retried.

use async_trait::async_trait;
use flotilla_controller::{Controller, PassError, Runner};
use flotilla_db::testing::backends;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Counts passes per replica and notices two passes running at once.
struct Probe {
    replica: usize,
    passes: Arc<[AtomicU32; 2]>,
    running: Arc<AtomicBool>,
    overlapped: Arc<AtomicBool>,
    fail_first: AtomicBool,
}

#[async_trait]
impl Controller for Probe {
    fn name(&self) -> &'static str {
        "probe"
    }
    fn interval(&self) -> Duration {
        Duration::from_millis(20)
    }
    async fn reconcile(&self) -> Result<(), PassError> {
        if self.running.swap(true, Ordering::SeqCst) {
            self.overlapped.store(true, Ordering::SeqCst);
        }
        // A pass dropped halfway (its holder died) is no longer running either.
        struct Running<'a>(&'a AtomicBool);
        impl Drop for Running<'_> {
            fn drop(&mut self) {
                self.0.store(false, Ordering::SeqCst);
            }
        }
        let running = Running(&self.running);
        tokio::time::sleep(Duration::from_millis(10)).await;
        drop(running);
        self.passes[self.replica].fetch_add(1, Ordering::SeqCst);
        if self.fail_first.swap(false, Ordering::SeqCst) {
            return Err("the first pass fails".into());
        }
        Ok(())
    }
}

struct Replicas {
    passes: Arc<[AtomicU32; 2]>,
    overlapped: Arc<AtomicBool>,
    probes: [Arc<Probe>; 2],
}

fn replicas() -> Replicas {
    let passes = Arc::new([AtomicU32::new(0), AtomicU32::new(0)]);
    let running = Arc::new(AtomicBool::new(false));
    let overlapped = Arc::new(AtomicBool::new(false));
    let probe = |replica| {
        Arc::new(Probe {
            replica,
            passes: passes.clone(),
            running: running.clone(),
            overlapped: overlapped.clone(),
            fail_first: AtomicBool::new(replica == 0),
        })
    };
    Replicas { probes: [probe(0), probe(1)], passes, overlapped }
}

/// Waits (at most 20 s: a shared machine can be slow) until `check` holds.
async fn wait_until(what: &str, check: impl Fn() -> bool) {
    for _ in 0..800 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test]
async fn one_replica_runs_a_controller_and_another_takes_over_when_it_dies() {
    for b in backends() {
        let ttl = Duration::from_millis(600);
        let a = Runner::open(&b.location).await.unwrap().with_ttl(ttl);
        let c = Runner::open(&b.location).await.unwrap().with_ttl(ttl);
        let r = replicas();
        let stop_a = CancellationToken::new();
        let stop_c = CancellationToken::new();
        let task_a = a.spawn(r.probes[0].clone(), stop_a.clone());
        wait_until("the first replica's passes", || r.passes[0].load(Ordering::SeqCst) >= 3).await;
        let task_c = c.spawn(r.probes[1].clone(), stop_c.clone());
        tokio::time::sleep(ttl * 2).await;
        assert_eq!(
            r.passes[1].load(Ordering::SeqCst),
            0,
            "{}: the second replica waits while the lease is held",
            b.label
        );
        assert!(r.passes[0].load(Ordering::SeqCst) >= 5, "{}: the failed first pass was retried", b.label);

        // The holder dies without giving the lease up; the other takes over once it expires.
        task_a.abort();
        let _ = task_a.await;
        let died = tokio::time::Instant::now();
        wait_until("the takeover", || r.passes[1].load(Ordering::SeqCst) >= 2).await;
        assert!(died.elapsed() >= ttl / 3, "{}: no takeover before the dead holder's lease could expire", b.label);
        let lease = c.leases().get("probe").await.unwrap().unwrap();
        assert_eq!(lease.holder, c.holder(), "{}", b.label);
        assert!(!r.overlapped.load(Ordering::SeqCst), "{}: passes never overlapped", b.label);

        // A clean shutdown hands over at once, without waiting for expiry.
        let before = r.passes[0].load(Ordering::SeqCst);
        let stop_a = CancellationToken::new();
        let task_a = a.spawn(r.probes[0].clone(), stop_a.clone());
        stop_c.cancel();
        task_c.await.unwrap();
        let stopped = tokio::time::Instant::now();
        wait_until("the handover", || r.passes[0].load(Ordering::SeqCst) > before).await;
        assert!(stopped.elapsed() < ttl + ttl / 3, "{}: handover without waiting out the lease", b.label);
        stop_a.cancel();
        task_a.await.unwrap();
        assert!(a.leases().get("probe").await.unwrap().is_none(), "{}: the lease is given up", b.label);
        assert!(!r.overlapped.load(Ordering::SeqCst), "{}", b.label);
        a.close().await;
        c.close().await;
    }
}
