//! Retry with exponential backoff and full jitter (as in AWS's "Exponential
//! Backoff And Jitter"): attempt `n` waits a uniformly random time between zero
//! and `min(max, base × 2ⁿ)`, so many clients retrying at once spread out.

use std::future::Future;
use std::hash::{BuildHasher, RandomState};
use std::time::Duration;

/// A backoff policy; pure, so delays can be checked without waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The ceiling of the first retry's delay.
    pub base: Duration,
    /// No delay is longer than this.
    pub max: Duration,
    /// Gives up after this many attempts in all (`None`: never gives up).
    pub max_attempts: Option<u32>,
}

impl Backoff {
    pub const fn new(base: Duration, max: Duration) -> Self {
        Self { base, max, max_attempts: None }
    }

    pub const fn with_max_attempts(self, attempts: u32) -> Self {
        Self { max_attempts: Some(attempts), ..self }
    }

    /// The longest wait after failed attempt `attempt` (0 for the first):
    /// `min(max, base × 2^attempt)`.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let factor = 1u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX);
        self.base.checked_mul(factor).map_or(self.max, |d| d.min(self.max))
    }

    /// The wait after failed attempt `attempt`, given `unit` in `[0, 1)`: full jitter.
    pub fn delay_with(&self, attempt: u32, unit: f64) -> Duration {
        self.ceiling(attempt).mul_f64(unit.clamp(0.0, 1.0))
    }

    /// The wait after failed attempt `attempt`, with a random jitter.
    pub fn delay(&self, attempt: u32) -> Duration {
        self.delay_with(attempt, random_unit())
    }

    /// Whether another attempt may follow `attempts` failed ones.
    pub fn allows(&self, attempts: u32) -> bool {
        self.max_attempts.is_none_or(|max| attempts < max)
    }
}

/// A random number in `[0, 1)` from the standard library's per-process random
/// keys; good for jitter, not for secrets.
pub fn random_unit() -> f64 {
    let bits = RandomState::new().hash_one(std::time::Instant::now());
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

/// Runs `op` until it succeeds, fails with an error `retryable` refuses, or the
/// policy's attempts run out, sleeping [`Backoff::delay`] between attempts.
pub async fn retry<T, E, F, Fut>(policy: &Backoff, mut op: F, mut retryable: impl FnMut(&E) -> bool) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut attempt = 0;
    loop {
        match op().await {
            Ok(v) => return Ok(v),
            Err(e) if !retryable(&e) || !policy.allows(attempt + 1) => return Err(e),
            Err(_) => {
                tokio::time::sleep(policy.delay(attempt)).await;
                attempt += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn ceilings_double_up_to_the_max() {
        let p = Backoff::new(100 * MS, 1000 * MS);
        let ceilings: Vec<_> = (0..6).map(|a| p.ceiling(a).as_millis()).collect();
        assert_eq!(ceilings, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(p.ceiling(u32::MAX), 1000 * MS, "no overflow on huge attempts");
        assert_eq!(Backoff::new(Duration::MAX, Duration::from_secs(5)).ceiling(3), Duration::from_secs(5));
    }

    #[test]
    fn full_jitter_spans_zero_to_the_ceiling() {
        let p = Backoff::new(100 * MS, 1000 * MS);
        assert_eq!(p.delay_with(2, 0.0), Duration::ZERO);
        assert_eq!(p.delay_with(2, 0.5), 200 * MS);
        assert_eq!(p.delay_with(2, 7.0), 400 * MS, "a unit above one is clamped");
        for attempt in 0..10 {
            assert!(p.delay(attempt) <= p.ceiling(attempt));
        }
        let draws: Vec<f64> = (0..64).map(|_| random_unit()).collect();
        assert!(draws.iter().all(|u| (0.0..1.0).contains(u)));
        assert!(draws.iter().any(|u| *u != draws[0]), "draws vary");
    }

    #[tokio::test(start_paused = true)]
    async fn retries_until_success_or_a_final_error() {
        let p = Backoff::new(10 * MS, 100 * MS);
        let calls = Cell::new(0);
        let ok: Result<u32, &str> = retry(
            &p,
            || async {
                calls.set(calls.get() + 1);
                if calls.get() < 4 { Err("busy") } else { Ok(calls.get()) }
            },
            |_| true,
        )
        .await;
        assert_eq!(ok, Ok(4));

        calls.set(0);
        let refused: Result<(), &str> = retry(
            &p,
            || async {
                calls.set(calls.get() + 1);
                Err("refused")
            },
            |e| *e != "refused",
        )
        .await;
        assert_eq!((refused, calls.get()), (Err("refused"), 1));

        calls.set(0);
        let limited = p.with_max_attempts(3);
        let gave_up: Result<(), &str> = retry(
            &limited,
            || async {
                calls.set(calls.get() + 1);
                Err("busy")
            },
            |_| true,
        )
        .await;
        assert_eq!((gave_up, calls.get()), (Err("busy"), 3));
    }
}
