//! `flotilla`: the command line. `up` runs everything on this machine, `server` the
//! control plane alone.

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use flotilla::aws_profile;
use flotilla::credentials::RootCredentials;
use flotilla::server::{ControlPlane, ServerConfig};
use flotilla_domain::AccountContext;
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "flotilla", version, about = "A self-hosted container platform that speaks the AWS ECS APIs")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Set up and run everything on this machine: the control plane with its store,
    /// and the `default` cluster.
    Up(ServeArgs),
    /// Run the control plane only.
    Server(ServeArgs),
}

#[derive(Args)]
struct ServeArgs {
    /// Where state is kept (the SQLite store, root credentials).
    #[arg(long, env = "FLOTILLA_DATA_DIR", default_value_os_t = default_data_dir())]
    data_dir: PathBuf,
    /// The address every API listens on.
    #[arg(long, env = "FLOTILLA_LISTEN", default_value = "127.0.0.1:7700")]
    listen: SocketAddr,
    /// The AWS region this endpoint serves.
    #[arg(long, env = "FLOTILLA_REGION", default_value = "us-east-1")]
    region: String,
    /// Do not write the `flotilla` profile into the AWS CLI's files.
    #[arg(long)]
    no_aws_profile: bool,
}

fn default_data_dir() -> PathBuf {
    use std::os::unix::fs::MetadataExt;
    let root = std::fs::metadata("/proc/self").map(|m| m.uid() == 0).unwrap_or(false);
    match std::env::var_os("HOME") {
        Some(home) if !root => PathBuf::from(home).join(".local/share/flotilla"),
        _ => PathBuf::from("/var/lib/flotilla"),
    }
}

fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn")),
        )
        .init();
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the runtime")?;
    match cli.command {
        Command::Up(args) => runtime.block_on(serve(args, true)),
        Command::Server(args) => runtime.block_on(serve(args, false)),
    }
}

async fn serve(args: ServeArgs, everything: bool) -> Result<()> {
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("creating data directory {}", args.data_dir.display()))?;
    let credentials = RootCredentials::load_or_create(&args.data_dir)?;
    let account = AccountContext { region: args.region.clone(), ..AccountContext::default() };
    let listener =
        tokio::net::TcpListener::bind(args.listen).await.with_context(|| format!("listening on {}", args.listen))?;
    let local = listener.local_addr()?;
    let host = if local.ip().is_unspecified() { "127.0.0.1".to_string() } else { local.ip().to_string() };
    let endpoint = format!("http://{host}:{}", local.port());
    let config = ServerConfig {
        data_dir: args.data_dir.clone(),
        account,
        credentials: credentials.clone(),
        endpoint: endpoint.clone(),
    };
    let plane = ControlPlane::open(&config).await?;
    if everything {
        plane.ecs.ensure_default_cluster().await.context("creating the default cluster")?;
    }
    if !args.no_aws_profile {
        let (config_path, creds_path) = aws_profile::default_paths()?;
        aws_profile::write_profile(&config_path, &creds_path, &endpoint, &args.region, &credentials)?;
        println!(
            "wrote AWS CLI profile '{}' to {} and {}",
            aws_profile::PROFILE,
            config_path.display(),
            creds_path.display()
        );
    }
    println!("flotilla is listening on {endpoint} (data in {})", args.data_dir.display());
    println!("try: aws --profile {} ecs list-clusters", aws_profile::PROFILE);
    tracing::info!(%endpoint, access_key_id = %credentials.access_key_id, "control plane ready");
    plane.serve(listener, shutdown_signal()).await?;
    tracing::info!("stopped cleanly");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}
