//! Flotilla's container registry: the OCI distribution API under `/v2/`, the ECR API
//! (an AWS JSON 1.1 service), and `docker login` with ECR-style tokens.
//!
//! [`Registry::open`] opens the registry's state in a data directory;
//! [`Registry::service_module`] is what the server serves: a
//! [`flotilla_protocol::ServiceModule`] with the ECR API behind the SigV4 front door, the
//! `/v2/` routes (with their own Basic authentication) and maintenance as background
//! controllers. [`Registry::router`] alone gives the `/v2/` routes.
//!
//! Wiring into a server (the ECR service goes behind the SigV4 front door, which also
//! mounts the module's `/v2/` routes; `/v2/` authenticates by itself, not with SigV4):
//!
//! ```no_run
//! # async fn wire(front_door_credentials: flotilla_sigv4::Credentials) -> Result<(), Box<dyn std::error::Error>> {
//! use flotilla_registry::{Maintenance, Registry, RegistryConfig};
//! use std::sync::Arc;
//! let config = RegistryConfig { endpoint: "http://127.0.0.1:4566".into(), create_on_push: false };
//! let data_dir = std::path::Path::new("/var/lib/flotilla");
//! let registry = Registry::open(
//!     data_dir,
//!     &flotilla_registry::StoreLocation::Sqlite { dir: data_dir.into() },
//!     flotilla_domain::AccountContext::default(),
//!     b"a stable secret of the data dir".to_vec(),
//!     config,
//! )
//! .await?;
//! let module = registry.service_module(Maintenance {
//!     interval: std::time::Duration::from_secs(3600), // lifecycle policies, upload purge, GC
//!     gc_grace: std::time::Duration::from_secs(24 * 3600), // for blobs pushed without a manifest yet
//! });
//! let front_door_config = flotilla_protocol::FrontDoorConfig {
//!     region: "us-east-1".into(),
//!     account_id: "000000000000".into(),
//!     max_body_bytes: 16 << 20,
//! };
//! let front_door = flotilla_protocol::FrontDoor::new(Arc::new(front_door_credentials), front_door_config)
//!     .with_module(module.clone());
//! let app: axum::Router = Arc::new(front_door).router(); // `POST /` and `/v2/`
//! // Lifecycle and garbage collection run as controllers, each under a lease.
//! let runner = flotilla_controller::Runner::open(&flotilla_registry::StoreLocation::Sqlite { dir: data_dir.into() }).await?;
//! let shutdown = tokio_util::sync::CancellationToken::new();
//! for controller in flotilla_protocol::ServiceModule::controllers(module.as_ref()) {
//!     runner.spawn(controller, shutdown.clone());
//! }
//! # let _ = app;
//! # Ok(())
//! # }
//! ```
//!
//! Storage: metadata behind [`RegistryStore`], in `DATA_DIR/registry.db` (SQLite) or the
//! `registry` schema of a PostgreSQL database;
//! blob files under `DATA_DIR/registry/blobs`, uploads in progress under
//! `DATA_DIR/registry/uploads` (see [`blobs`]).

pub mod auth;
pub mod blobs;
mod controllers;
pub mod digest;
mod ecr;
pub mod error;
pub mod gc;
pub mod lifecycle;
pub mod manifest;
pub mod name;
mod oci;
pub mod store;

use crate::auth::TokenKey;
use crate::blobs::BlobFiles;
use crate::digest::Hasher;
pub use crate::ecr::EcrService;
pub use crate::error::{OciError, RegistryError};
pub use crate::store::{RegistryStore, SqlRegistryStore};
pub use flotilla_db::StoreLocation;
use flotilla_domain::AccountContext;
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// How long an upload may stay unfinished before maintenance cancels it.
pub const UPLOAD_MAX_AGE: std::time::Duration = std::time::Duration::from_secs(7 * 24 * 3600);

/// How the registry is reached and behaves.
#[derive(Debug, Clone)]
pub struct RegistryConfig {
    /// The URL clients reach the registry at (e.g. `http://127.0.0.1:4566`): ECR's
    /// `proxyEndpoint` and the base of download URLs.
    pub endpoint: String,
    /// Whether pushing to a repository that does not exist creates it (ECR's
    /// create-on-push); when false such pushes get NAME_UNKNOWN, as ECR answers.
    pub create_on_push: bool,
}

impl Default for RegistryConfig {
    fn default() -> Self {
        Self { endpoint: "http://localhost".into(), create_on_push: false }
    }
}

/// The incremental sha256 of an upload session, kept while its bytes stream in so
/// completing it needs no second read; rebuilt from the file when absent or stale.
pub(crate) type SessionHash = Arc<tokio::sync::Mutex<Option<(u64, Hasher)>>>;

/// How often the registry runs its maintenance (lifecycle policies, abandoned uploads,
/// garbage collection) and how long unreferenced blobs are kept.
#[derive(Debug, Clone, Copy)]
pub struct Maintenance {
    pub interval: std::time::Duration,
    pub gc_grace: std::time::Duration,
}

/// Everything the registry's handlers share.
pub(crate) struct State {
    pub(crate) store: Arc<dyn RegistryStore>,
    pub(crate) files: BlobFiles,
    pub(crate) account: AccountContext,
    pub(crate) tokens: TokenKey,
    pub(crate) config: RegistryConfig,
    /// Per-upload serialisation and running hash (a cache; the store is the truth).
    pub(crate) sessions: Mutex<HashMap<String, SessionHash>>,
    /// Blob traffic since the process started (for `/metrics`).
    pub(crate) traffic: Traffic,
    /// Held shared while a blob file is placed and recorded, exclusively while garbage
    /// is collected, so collection never removes a blob being committed; taken with
    /// the store's lock of the same meaning through [`State::no_gc`] and
    /// [`State::collecting`].
    gc_lock: tokio::sync::RwLock<()>,
    /// Decides `/v2/` requests of tokens issued to a principal (set once by the server).
    pub(crate) authorizer: std::sync::OnceLock<Arc<dyn flotilla_protocol::Authorizer>>,
}

/// Blobs and bytes pushed (committed uploads) and pulled (blob bodies served).
#[derive(Debug, Default)]
pub(crate) struct Traffic {
    blobs_pushed: std::sync::atomic::AtomicU64,
    bytes_pushed: std::sync::atomic::AtomicU64,
    blobs_pulled: std::sync::atomic::AtomicU64,
    bytes_pulled: std::sync::atomic::AtomicU64,
}

impl Traffic {
    pub(crate) fn pushed(&self, bytes: u64) {
        use std::sync::atomic::Ordering::Relaxed;
        self.blobs_pushed.fetch_add(1, Relaxed);
        self.bytes_pushed.fetch_add(bytes, Relaxed);
    }

    pub(crate) fn pulled(&self, bytes: u64) {
        use std::sync::atomic::Ordering::Relaxed;
        self.blobs_pulled.fetch_add(1, Relaxed);
        self.bytes_pulled.fetch_add(bytes, Relaxed);
    }
}

/// [`Registry::traffic`]'s answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TrafficSnapshot {
    pub blobs_pushed: u64,
    pub bytes_pushed: u64,
    pub blobs_pulled: u64,
    pub bytes_pulled: u64,
}

/// The collection lock, held in this process and in the store until released.
pub(crate) struct GcGuard<L> {
    _local: L,
    store: flotilla_db::SessionLock,
}

impl<L> GcGuard<L> {
    /// Releases the store's lock (dropping the guard also releases it, more slowly).
    pub(crate) async fn release(self) {
        self.store.release().await;
    }
}

impl State {
    /// Keeps garbage collection out, on every replica, while a blob is checked and
    /// linked or a manifest stored.
    pub(crate) async fn no_gc(&self) -> Result<GcGuard<tokio::sync::RwLockReadGuard<'_, ()>>, RegistryError> {
        let local = self.gc_lock.read().await;
        let store = self.store.gc_lock(flotilla_db::LockMode::Shared).await?;
        Ok(GcGuard { _local: local, store })
    }

    /// Keeps every blob commit, mount and manifest write out while garbage is collected.
    pub(crate) async fn collecting(&self) -> Result<GcGuard<tokio::sync::RwLockWriteGuard<'_, ()>>, RegistryError> {
        let local = self.gc_lock.write().await;
        let store = self.store.gc_lock(flotilla_db::LockMode::Exclusive).await?;
        Ok(GcGuard { _local: local, store })
    }

    pub(crate) fn session(&self, id: &str) -> SessionHash {
        let mut sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        sessions.entry(id.to_string()).or_default().clone()
    }

    pub(crate) fn forget_session(&self, id: &str) {
        self.sessions.lock().unwrap_or_else(|e| e.into_inner()).remove(id);
    }

    #[cfg(test)]
    pub(crate) fn session_count(&self) -> usize {
        self.sessions.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

/// An opened registry.
#[derive(Clone)]
pub struct Registry {
    state: Arc<State>,
}

impl Registry {
    /// Opens (creating) the registry's store at `location` and its directories under
    /// `data_dir`.
    /// `token_key` signs registry passwords; keep it stable across restarts so issued
    /// tokens stay valid.
    pub async fn open(
        data_dir: &Path,
        location: &StoreLocation,
        account: AccountContext,
        token_key: Vec<u8>,
        config: RegistryConfig,
    ) -> Result<Self, RegistryError> {
        tokio::fs::create_dir_all(data_dir).await.map_err(error::io_error("creating the data directory", data_dir))?;
        let store = SqlRegistryStore::open(location).await?;
        Self::with_store(data_dir, Arc::new(store), account, token_key, config).await
    }

    /// Opens the registry over a given store (the blob files still live in `data_dir`).
    pub async fn with_store(
        data_dir: &Path,
        store: Arc<dyn RegistryStore>,
        account: AccountContext,
        token_key: Vec<u8>,
        config: RegistryConfig,
    ) -> Result<Self, RegistryError> {
        let files = BlobFiles::open(&data_dir.join("registry")).await?;
        // Upload files nobody records (a monolithic push cut off by a crash) are junk.
        let known: std::collections::HashSet<String> = store.uploads().await?.into_iter().map(|u| u.id).collect();
        for id in files.upload_ids().await? {
            if !known.contains(&id) {
                tracing::info!(upload = %id, "removing an abandoned upload file");
                files.remove_upload(&id).await?;
            }
        }
        let state = State {
            store,
            files,
            account,
            tokens: TokenKey::new(token_key),
            config,
            sessions: Mutex::default(),
            traffic: Traffic::default(),
            gc_lock: tokio::sync::RwLock::new(()),
            authorizer: std::sync::OnceLock::new(),
        };
        Ok(Self { state: Arc::new(state) })
    }

    /// The digest an image reference names in this registry now: `host/repo:tag`
    /// (tag `latest` when none) or `host/repo@digest`, where `host` is this
    /// registry's endpoint (`localhost` and `127.0.0.1` alike). `None` for images of
    /// other registries, unknown tags, or a store that cannot answer.
    pub async fn digest_of(&self, image: &str) -> Option<String> {
        let (host, rest) = image.split_once('/')?;
        let own = self.state.config.endpoint.split_once("://").map_or(&*self.state.config.endpoint, |(_, a)| a);
        let normalise = |h: &str| h.trim_end_matches('/').replace("localhost", "127.0.0.1");
        if normalise(host) != normalise(own) {
            return None;
        }
        if let Some((repository, digest)) = rest.split_once('@') {
            let known = self.state.store.manifest(repository, digest).await.ok()??;
            return Some(known.digest);
        }
        let (repository, tag) = match rest.rsplit_once(':') {
            Some((r, t)) if !t.contains('/') => (r, t),
            _ => (rest, "latest"),
        };
        if !name::is_valid_repository_name(repository) {
            return None;
        }
        match self.state.store.resolve_tag(repository, tag).await {
            Ok(found) => found,
            Err(e) => {
                tracing::warn!(image, error = %e, "resolving an image tag failed");
                None
            }
        }
    }

    /// The `/v2/` routes (OCI distribution API), answering with Basic authentication.
    pub fn router(&self) -> axum::Router {
        oci::router(self.state.clone())
    }

    /// The ECR API alone, to add to a front door (the `/v2/` routes come with it;
    /// nothing runs in the background).
    pub fn ecr_service(&self) -> Arc<EcrService> {
        Arc::new(EcrService::new(self.state.clone(), None))
    }

    /// The whole registry as a service module: the ECR API, the `/v2/` routes, and
    /// `maintenance` in the background.
    pub fn service_module(&self, maintenance: Maintenance) -> Arc<EcrService> {
        Arc::new(EcrService::new(self.state.clone(), Some(maintenance)))
    }

    /// Makes `/v2/` requests answer to IAM: each is authorized as the principal its
    /// token was issued to, with the ECR action the request is (`ecr:BatchGetImage` for
    /// a manifest pull, `ecr:PutImage` for a push, …) on the repository's ARN.
    pub fn set_authorizer(&self, authorizer: Arc<dyn flotilla_protocol::Authorizer>) {
        let _ = self.state.authorizer.set(authorizer);
    }

    /// A registry password valid for [`auth::TOKEN_LIFETIME_SECS`] (as GetAuthorizationToken gives).
    pub fn issue_password(&self) -> String {
        self.state.tokens.issue(now_secs() + auth::TOKEN_LIFETIME_SECS)
    }

    /// Removes blobs no manifest references and no push has touched within `grace`.
    pub async fn collect_garbage(&self, grace: std::time::Duration) -> Result<gc::GcReport, RegistryError> {
        gc::collect(&self.state, grace).await
    }
}

impl Registry {
    /// Blob traffic since the process started.
    pub fn traffic(&self) -> TrafficSnapshot {
        use std::sync::atomic::Ordering::Relaxed;
        let t = &self.state.traffic;
        TrafficSnapshot {
            blobs_pushed: t.blobs_pushed.load(Relaxed),
            bytes_pushed: t.bytes_pushed.load(Relaxed),
            blobs_pulled: t.blobs_pulled.load(Relaxed),
            bytes_pulled: t.bytes_pulled.load(Relaxed),
        }
    }

    /// Runs every repository's lifecycle policy now, deleting the images it expires.
    /// Returns the digests expired, per repository.
    pub async fn apply_lifecycle_policies(&self) -> Result<Vec<(String, Vec<String>)>, RegistryError> {
        let state = &self.state;
        let mut report = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = state.store.list_repositories(after.as_deref(), 100).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.name.clone());
            for mut repository in page {
                let Some(text) = repository.lifecycle_policy.clone() else { continue };
                let expiries = match lifecycle_expiries(state, &repository.name, &text).await? {
                    Ok(e) => e,
                    Err(e) => {
                        tracing::warn!(repository = %repository.name, error = %e, "skipping a stored lifecycle policy");
                        continue;
                    }
                };
                let mut expired = Vec::new();
                for e in expiries {
                    match state.store.delete_manifest(&repository.name, &e.digest).await? {
                        store::DeleteManifest::Deleted { .. } => expired.push(e.digest),
                        other => tracing::info!(repository = %repository.name, digest = %e.digest, outcome = ?other,
                            "lifecycle expiry skipped"),
                    }
                }
                repository.lifecycle_evaluated_at = Some(flotilla_domain::Timestamp::now());
                // A concurrent settings change wins; the next run records the evaluation.
                state.store.update_repository(&repository).await?;
                if !expired.is_empty() {
                    tracing::info!(repository = %repository.name, expired = expired.len(), "lifecycle policy expired images");
                }
                report.push((repository.name, expired));
            }
        }
        Ok(report)
    }

    /// Flushes and closes the registry's store; call on shutdown.
    pub async fn close(&self) {
        self.state.store.close().await;
    }

    /// Cancels uploads started more than `max_age` ago; returns their ids.
    pub async fn purge_uploads(&self, max_age: std::time::Duration) -> Result<Vec<String>, RegistryError> {
        gc::purge_uploads(&self.state, max_age).await
    }
}

/// What a repository's lifecycle policy `text` expires now (the inner error when the
/// policy is invalid).
pub(crate) async fn lifecycle_expiries(
    state: &State,
    repository: &str,
    text: &str,
) -> Result<Result<Vec<lifecycle::Expiry>, lifecycle::PolicyError>, RegistryError> {
    let policy = match lifecycle::parse(text) {
        Ok(p) => p,
        Err(e) => return Ok(Err(e)),
    };
    let images: Vec<lifecycle::Image> = state
        .store
        .images(repository)
        .await?
        .into_iter()
        .map(|i| lifecycle::Image { digest: i.digest, tags: i.tags, pushed_at: i.pushed_at })
        .collect();
    Ok(Ok(lifecycle::evaluate(&policy, &images, flotilla_domain::Timestamp::now())))
}

/// The `/v2/` router of a registry (same as [`Registry::router`]).
pub fn registry_router(registry: &Registry) -> axum::Router {
    registry.router()
}

pub(crate) fn now_secs() -> i64 {
    flotilla_domain::Timestamp::now().0 / 1000
}
