//! A stand-alone registry for trying real clients (docker, skopeo, the aws CLI) against
//! this crate before the main binary mounts it: `/v2/` plus the ECR API behind the
//! SigV4 front door, on one listener.
//!
//! `cargo run -p flotilla-registry --example registry_server -- DATA_DIR 127.0.0.1:5000`
//! Credentials: `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` (defaults `AKIDFLOTILLA` /
//! `flotilla-secret`). `FLOTILLA_CREATE_ON_PUSH=1` creates repositories on push;
//! `FLOTILLA_MAINTENANCE_SECS=N` runs lifecycle policies and GC every N seconds.

use flotilla_domain::AccountContext;
use flotilla_protocol::{FrontDoor, FrontDoorConfig, ServiceModule, request_id_layer};
use flotilla_registry::{Maintenance, Registry, RegistryConfig};
use flotilla_sigv4::Credentials;
use std::sync::Arc;

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let data_dir = std::path::PathBuf::from(args.next().expect("usage: registry_server DATA_DIR HOST:PORT"));
    let listen = args.next().unwrap_or_else(|| "127.0.0.1:5000".into());
    let key = std::env::var("AWS_ACCESS_KEY_ID").unwrap_or_else(|_| "AKIDFLOTILLA".into());
    let secret = std::env::var("AWS_SECRET_ACCESS_KEY").unwrap_or_else(|_| "flotilla-secret".into());
    let listener = tokio::net::TcpListener::bind(&listen).await.expect("binding the listen address");
    let addr = listener.local_addr().expect("reading the bound address");
    let config = RegistryConfig {
        endpoint: format!("http://{addr}"),
        create_on_push: std::env::var("FLOTILLA_CREATE_ON_PUSH").is_ok_and(|v| v == "1"),
    };
    let account = AccountContext::default();
    let registry = Registry::open(
        &data_dir,
        &flotilla_registry::StoreLocation::Sqlite { dir: data_dir.clone() },
        account.clone(),
        b"example-token-key".to_vec(),
        config,
    )
    .await
    .expect("opening the registry");
    let module = match std::env::var("FLOTILLA_MAINTENANCE_SECS").ok().and_then(|v| v.parse::<u64>().ok()) {
        Some(secs) => registry.service_module(Maintenance {
            interval: std::time::Duration::from_secs(secs),
            gc_grace: std::time::Duration::from_secs(3600),
        }),
        None => registry.ecr_service(),
    };
    let config = FrontDoorConfig {
        region: account.region.clone(),
        account_id: account.account_id.clone(),
        max_body_bytes: 16 << 20,
    };
    let front_door = FrontDoor::new(Arc::new(Credentials::new(key, secret)), config).with_module(module.clone());
    let app = Arc::new(front_door).router().layer(axum::middleware::from_fn(request_id_layer));
    let runner = flotilla_controller::Runner::open(&flotilla_registry::StoreLocation::Sqlite { dir: data_dir.clone() })
        .await
        .expect("opening the controllers' store");
    let shutdown = tokio_util::sync::CancellationToken::new();
    for controller in module.controllers() {
        runner.spawn(controller, shutdown.clone());
    }
    println!("registry listening on http://{addr}");
    axum::serve(listener, app).await.expect("serving");
}
