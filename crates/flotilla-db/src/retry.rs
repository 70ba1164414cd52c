//! Optimistic concurrency: re-run a read-modify-write while another writer wins the race.

/// Runs `attempt` (read, change, write with the version read) until it does not fail
/// with a conflict, at most `attempts` times; the last conflict is returned if every
/// attempt lost. `is_conflict` tells conflicts apart from other errors, which are
/// returned at once.
pub async fn retry_on_conflict<T, E, F, Fut>(
    attempts: u32,
    is_conflict: impl Fn(&E) -> bool,
    mut attempt: F,
) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
{
    let mut tries = 0;
    loop {
        tries += 1;
        match attempt().await {
            Err(e) if is_conflict(&e) && tries < attempts => {
                tracing::debug!(tries, "conflicting write; reading again");
                tokio::task::yield_now().await;
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[tokio::test]
    async fn retries_conflicts_then_succeeds() {
        let calls = Cell::new(0);
        let out: Result<u32, &str> = retry_on_conflict(
            5,
            |e| *e == "conflict",
            || {
                calls.set(calls.get() + 1);
                let n = calls.get();
                async move { if n < 3 { Err("conflict") } else { Ok(n) } }
            },
        )
        .await;
        assert_eq!(out, Ok(3));
    }

    #[tokio::test]
    async fn gives_up_after_the_last_attempt_and_returns_other_errors_at_once() {
        let calls = Cell::new(0);
        let out: Result<(), &str> = retry_on_conflict(
            4,
            |e| *e == "conflict",
            || {
                calls.set(calls.get() + 1);
                async { Err("conflict") }
            },
        )
        .await;
        assert_eq!((out, calls.get()), (Err("conflict"), 4));
        calls.set(0);
        let out: Result<(), &str> = retry_on_conflict(
            4,
            |e| *e == "conflict",
            || {
                calls.set(calls.get() + 1);
                async { Err("broken") }
            },
        )
        .await;
        assert_eq!((out, calls.get()), (Err("broken"), 1));
    }
}
