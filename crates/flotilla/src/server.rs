//! Assembles the control plane: the store, every API on one router, and the
//! listener with graceful shutdown.

use crate::credentials::RootCredentials;
use crate::metrics::Metrics;
use anyhow::{Context, Result};
use axum::Router;
use axum::extract::Request;
use axum::routing::{get, post};
use flotilla_domain::AccountContext;
use flotilla_ecs_api::{AgentChannel, EcsService};
use flotilla_protocol::{FrontDoor, request_id_layer};
use flotilla_sigv4::Credentials;
use flotilla_store::SqliteStore;
use std::path::PathBuf;
use std::sync::Arc;

/// The largest API request body accepted (AWS JSON APIs are far below this).
pub const MAX_REQUEST_BYTES: usize = 4 * 1024 * 1024;

/// What the control plane needs to start.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub data_dir: PathBuf,
    pub account: AccountContext,
    pub credentials: RootCredentials,
    /// The URL clients and agents reach this control plane at.
    pub endpoint: String,
}

/// A control plane with its state open, ready to serve.
pub struct ControlPlane {
    pub store: SqliteStore,
    pub ecs: Arc<EcsService>,
    router: Router,
}

impl ControlPlane {
    pub async fn open(config: &ServerConfig) -> Result<Self> {
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("creating data directory {}", config.data_dir.display()))?;
        let db = config.data_dir.join("flotilla.db");
        let store = SqliteStore::open(&db, config.account.clone())
            .await
            .with_context(|| format!("opening the store {}", db.display()))?;
        let ecs = Arc::new(EcsService::new(Arc::new(store.clone()), config.account.clone(), config.endpoint.clone()));
        let metrics = Arc::new(Metrics::default());
        let root =
            Credentials::new(config.credentials.access_key_id.clone(), config.credentials.secret_access_key.clone());
        let front_door = Arc::new(
            FrontDoor::new(Arc::new(root), config.account.region.clone(), MAX_REQUEST_BYTES)
                .with_service(ecs.clone())
                .with_service(Arc::new(AgentChannel::new(ecs.clone())))
                .with_observer(metrics.clone()),
        );
        let router = Router::new()
            .route("/", post(move |req: Request| async move { front_door.handle(req).await }))
            .route("/healthz", get(|| async { "ok\n" }))
            .route("/metrics", get(move || async move { metrics.render() }))
            .layer(axum::middleware::from_fn(request_id_layer));
        Ok(Self { store, ecs, router })
    }

    /// The HTTP application: every API on one router.
    pub fn router(&self) -> Router {
        self.router.clone()
    }

    /// Serves on `listener` until `shutdown` completes, then closes the store.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<()> {
        axum::serve(listener, self.router.clone()).with_graceful_shutdown(shutdown).await.context("serving HTTP")?;
        self.store.close().await;
        Ok(())
    }
}
