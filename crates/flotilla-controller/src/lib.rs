//! Background controllers and the runner that keeps each one to a single holder.
//!
//! A [`Controller`] is a reconcile pass: read what is desired and what is observed,
//! and act on the difference (the deciding part is a pure function its module tests
//! without a server). Passes must be idempotent: a pass may be cut short, or run again
//! by another process after a takeover.
//!
//! The [`Runner`] runs every controller of this process, each under its own lease in
//! the controllers' store (`controllers.db`, or the `controllers` schema on
//! PostgreSQL): a pass runs only while this process holds the lease, the lease is
//! renewed during long passes, a pass whose lease is lost is dropped, and a lease whose
//! holder died is taken over once it expires. So several control-plane replicas on one
//! PostgreSQL store never run the same controller at once.

use async_trait::async_trait;
use flotilla_db::{Db, DbError, Leases, Migrations, StoreLocation};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// What a failed pass reports; the runner logs it and tries again next interval.
pub type PassError = Box<dyn std::error::Error + Send + Sync>;

/// One background controller.
#[async_trait]
pub trait Controller: Send + Sync + 'static {
    /// Its lease name, the same in every process (e.g. `registry-gc`).
    fn name(&self) -> &'static str;
    /// How long after a pass the next one starts.
    fn interval(&self) -> Duration;
    /// One reconcile pass.
    async fn reconcile(&self) -> Result<(), PassError>;
    /// Rung when there is work before the interval is up (the next pass starts at once).
    fn wakeup(&self) -> Option<Arc<Notify>> {
        None
    }
}

static SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// The controllers' store name: `controllers.db` on SQLite, schema `controllers` on PostgreSQL.
pub const STORE_NAME: &str = "controllers";

/// How long a lease lasts unless renewed; renewals come at a third of it.
pub const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(15);

/// Runs controllers under leases.
#[derive(Clone)]
pub struct Runner {
    db: Db,
    leases: Leases,
    holder: String,
    ttl: Duration,
}

impl Runner {
    /// Opens the controllers' store at `location`; this process's leases are held as
    /// a fresh holder id (a restarted process waits for its old leases to expire).
    pub async fn open(location: &StoreLocation) -> Result<Self, DbError> {
        let db = Db::open(location, STORE_NAME, &Migrations { sqlite: &SQLITE, postgres: &POSTGRES }).await?;
        let holder = format!("pid{}-{}", std::process::id(), uuid::Uuid::new_v4().simple());
        Ok(Self { leases: Leases::new(db.clone()), db, holder, ttl: DEFAULT_LEASE_TTL })
    }

    /// The same runner holding its leases as `holder`. A process that alone owns a
    /// data directory may use an id kept there: restarted after a crash, it takes its
    /// leases back at once instead of waiting for them to expire. Two live processes
    /// must never share an id.
    pub fn with_holder(mut self, holder: impl Into<String>) -> Self {
        self.holder = holder.into();
        self
    }

    /// The same runner with another lease lifetime (tests use short ones).
    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// This process's holder id.
    pub fn holder(&self) -> &str {
        &self.holder
    }

    /// The leases, e.g. to see who holds a controller.
    pub fn leases(&self) -> &Leases {
        &self.leases
    }

    /// Runs `controller` until `shutdown`, then gives its lease up.
    pub fn spawn(&self, controller: Arc<dyn Controller>, shutdown: CancellationToken) -> JoinHandle<()> {
        let runner = self.clone();
        tokio::spawn(async move { runner.run(controller, shutdown).await })
    }

    /// Flushes and closes the controllers' store (after every controller stopped).
    pub async fn close(&self) {
        self.db.close().await;
    }

    async fn run(self, controller: Arc<dyn Controller>, shutdown: CancellationToken) {
        let name = controller.name();
        let renew_every = self.ttl / 3;
        let mut held = false;
        let mut next_pass = tokio::time::Instant::now();
        let wakeup = controller.wakeup().unwrap_or_default();
        loop {
            held = self.hold(name, held).await;
            if held && tokio::time::Instant::now() >= next_pass {
                held = self.pass(controller.as_ref(), &shutdown).await;
                next_pass = tokio::time::Instant::now() + controller.interval();
            }
            let until_pass = next_pass.saturating_duration_since(tokio::time::Instant::now());
            let wait = if held { renew_every.min(until_pass) } else { renew_every };
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep(wait) => {}
                _ = wakeup.notified(), if held => next_pass = tokio::time::Instant::now(),
            }
        }
        if held && let Err(e) = self.leases.release(name, &self.holder).await {
            tracing::warn!(controller = name, error = %e, "giving up a controller lease failed");
        }
    }

    /// Takes or renews the lease; says whether this process holds it now.
    async fn hold(&self, name: &'static str, held_before: bool) -> bool {
        let ttl_ms = i64::try_from(self.ttl.as_millis()).unwrap_or(i64::MAX);
        // Expiry is judged by the database's clock, which every replica shares.
        let acquired = match self.db.now_ms().await {
            Ok(now) => self.leases.acquire(name, &self.holder, now, ttl_ms).await,
            Err(e) => Err(e),
        };
        let held = match acquired {
            Ok(lease) => lease.is_some(),
            Err(e) => {
                tracing::warn!(controller = name, error = %e, "renewing a controller lease failed");
                false
            }
        };
        match (held_before, held) {
            (false, true) => tracing::info!(controller = name, holder = %self.holder, "controller lease taken"),
            (true, false) => tracing::warn!(controller = name, holder = %self.holder, "controller lease lost"),
            _ => {}
        }
        held
    }

    /// Runs one pass, renewing the lease meanwhile; drops the pass if the lease is
    /// lost or shutdown comes. Returns whether the lease is still held.
    async fn pass(&self, controller: &dyn Controller, shutdown: &CancellationToken) -> bool {
        let name = controller.name();
        let pass = controller.reconcile();
        tokio::pin!(pass);
        let mut renew = tokio::time::interval(self.ttl / 3);
        renew.tick().await;
        loop {
            tokio::select! {
                outcome = &mut pass => {
                    if let Err(e) = outcome {
                        tracing::warn!(controller = name, error = %e, "controller pass failed");
                    }
                    return true;
                }
                _ = renew.tick() => {
                    if !self.hold(name, true).await {
                        tracing::warn!(controller = name, "dropping a pass whose lease was lost");
                        return false;
                    }
                }
                _ = shutdown.cancelled() => return true,
            }
        }
    }
}
