//! `flotilla`: the command line. `up` runs everything on this machine, `server` the
//! control plane alone, `agent` a node agent joining a cluster, `swarm` many
//! simulated agents in one process (scale tests).

mod swarm;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use flotilla::aws_profile;
use flotilla::credentials::{ACCESS_KEY_ENV, RootCredentials, SECRET_KEY_ENV};
use flotilla::dir_lock::DirLock;
use flotilla::logging::{self, LogFormat, announce};
use flotilla::node::{RuntimeChoice, run_agent};
use flotilla::server::{ControlPlane, ServerConfig, api_limits};
use flotilla_agent::AgentConfig;
use flotilla_agent::runtime::{PullBehaviour, SimulatedBehaviour};
use flotilla_domain::AccountContext;
use flotilla_domain::container_instance::NodeCapacity;
use flotilla_sigv4::Credentials;
use flotilla_store::StoreLocation;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Parser)]
#[command(name = "flotilla", version, about = "A self-hosted container platform that speaks the AWS ECS APIs")]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// How logs are written: `text` (coloured only on a terminal) or `json` (one
    /// object per line, for log shippers).
    #[arg(long, global = true, env = logging::LOG_FORMAT_ENV, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

#[derive(Subcommand)]
enum Command {
    /// Set up and run everything on this machine: the control plane with its store,
    /// and the `default` cluster.
    Up(ServeArgs),
    /// Run the control plane only.
    Server(ServeArgs),
    /// Run a node agent: register this machine as a container instance of a
    /// cluster and run the tasks placed on it.
    Agent(AgentArgs),
    /// Run many simulated node agents in this one process against a control plane,
    /// for scale tests: real protocol clients, containers only in memory.
    Swarm(swarm::SwarmArgs),
}

#[derive(Args)]
struct AgentArgs {
    /// The control plane's URL.
    #[arg(long, env = "FLOTILLA_ENDPOINT", default_value = "http://127.0.0.1:7700")]
    endpoint: String,
    /// The cluster to join.
    #[arg(long, env = "FLOTILLA_CLUSTER", default_value = "default")]
    cluster: String,
    /// Where the agent keeps its identity and what it started. Only one process may
    /// use it at a time: a second agent on it exits at once.
    #[arg(long, env = "FLOTILLA_AGENT_STATE_DIR")]
    state_dir: Option<PathBuf>,
    #[arg(long, env = "FLOTILLA_REGION", default_value = "us-east-1")]
    region: String,
    /// The EC2 instance id this node registers as (ECS's `ec2InstanceId`), e.g. the
    /// Auto Scaling group instance it is (`i-` and 8 or 17 hex digits); default: one
    /// generated on first start and kept in the state directory.
    #[arg(long, value_parser = parse_instance_id)]
    ec2_instance_id: Option<String>,
    /// For agents a control plane launches: its pid. Once it is no longer this
    /// agent's parent (it died without stopping the agent), the agent stops when no
    /// control plane has answered at the endpoint for `--orphan-grace-seconds`; one
    /// that answers meanwhile (the restarted one) adopts it.
    #[arg(long, hide = true)]
    parent_pid: Option<u32>,
    #[arg(long, hide = true, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    orphan_grace_seconds: u64,
    #[command(flatten)]
    node: NodeArgs,
}

/// An EC2 instance id: `i-` and 8 or 17 hex digits.
fn parse_instance_id(id: &str) -> Result<String, String> {
    let hex = id.strip_prefix("i-").unwrap_or_default();
    if matches!(hex.len(), 8 | 17) && hex.chars().all(|c| c.is_ascii_hexdigit()) {
        Ok(id.to_string())
    } else {
        Err(format!("'{id}' is not an EC2 instance id (i- and 8 or 17 hex digits)"))
    }
}

/// How a node presents itself and runs containers (shared by `agent` and `up`).
#[derive(Args)]
struct NodeArgs {
    /// `docker` runs real containers; `simulated` keeps them in memory (scale tests).
    #[arg(long, default_value = "docker", value_parser = ["docker", "simulated"])]
    runtime: String,
    #[arg(long, default_value = "us-east-1a")]
    availability_zone: String,
    #[arg(long, default_value = "local")]
    instance_type: String,
    /// The IPv4 address load balancers reach this node's host ports at.
    #[arg(long, default_value = "127.0.0.1")]
    host_address: std::net::Ipv4Addr,
    /// A custom attribute, `name` or `name=value`; repeatable.
    #[arg(long = "attribute")]
    attributes: Vec<String>,
    /// CPU units to offer (default 1024 per core).
    #[arg(long)]
    cpu: Option<i64>,
    /// MiB of memory to offer (default the machine's, less 256).
    #[arg(long)]
    memory: Option<i64>,
    /// When images are pulled: `default` (pull, fall back to a cached image),
    /// `always`, or `prefer-cached`.
    #[arg(long, default_value = "prefer-cached", value_parser = ["default", "always", "prefer-cached"])]
    image_pull_behavior: String,
    /// Seconds before the containers of a stopped task are removed.
    #[arg(long, default_value_t = 600)]
    cleanup_after: u64,
    /// Port of the task metadata endpoint (v4) on the Docker bridge gateway; 0
    /// picks a free one.
    #[arg(long, default_value_t = 51679)]
    metadata_port: u16,
    /// Which launch types this node serves: `ec2` (a container instance of its
    /// cluster), `fargate` (managed Fargate capacity only, hidden from the ECS API)
    /// or `ec2-and-fargate`. Default: `ec2-and-fargate` for `up`, `ec2` for `agent`.
    #[arg(long, value_parser = ["ec2", "fargate", "ec2-and-fargate"])]
    capacity: Option<String>,
    /// The range awsvpc tasks on this node take their addresses from (a Docker
    /// bridge network, `flotilla-awsvpc`); give each node its own.
    #[arg(long, default_value = "10.222.0.0/16")]
    awsvpc_cidr: String,
    /// Simulated runtime: milliseconds a container takes to start.
    #[arg(long, default_value_t = 10)]
    simulated_start_delay_ms: u64,
    /// Simulated runtime: containers exit on their own after this many milliseconds.
    #[arg(long)]
    simulated_run_for_ms: Option<u64>,
    /// Simulated runtime: the exit code of containers that exit on their own.
    #[arg(long, default_value_t = 0)]
    simulated_exit_code: i64,
}

impl NodeArgs {
    fn runtime(&self) -> RuntimeChoice {
        if self.runtime == "simulated" {
            return RuntimeChoice::Simulated(SimulatedBehaviour {
                start_delay: Duration::from_millis(self.simulated_start_delay_ms),
                run_for: self.simulated_run_for_ms.map(Duration::from_millis),
                exit_code: self.simulated_exit_code,
                ..SimulatedBehaviour::default()
            });
        }
        RuntimeChoice::Docker(match self.image_pull_behavior.as_str() {
            "always" => PullBehaviour::Always,
            "default" => PullBehaviour::Default,
            _ => PullBehaviour::PreferCached,
        })
    }

    fn config(
        &self,
        cluster: &str,
        state_dir: PathBuf,
        region: &str,
        extra_reserved_port: Option<u16>,
        default_capacity: NodeCapacity,
    ) -> AgentConfig {
        let mut config = AgentConfig::new(cluster, state_dir);
        config.capacity = match self.capacity.as_deref() {
            Some("fargate") => NodeCapacity::Fargate,
            Some("ec2-and-fargate") => NodeCapacity::Ec2AndFargate,
            Some(_) => NodeCapacity::Ec2,
            None => default_capacity,
        };
        config.region = region.to_string();
        config.availability_zone = self.availability_zone.clone();
        config.instance_type = self.instance_type.clone();
        config.host_address = self.host_address;
        config.cpu = self.cpu;
        config.memory_mib = self.memory;
        config.cleanup_after = Duration::from_secs(self.cleanup_after);
        config.metadata_port = Some(self.metadata_port);
        config.awsvpc_cidr = self.awsvpc_cidr.clone();
        config.attributes = self
            .attributes
            .iter()
            .map(|a| match a.split_once('=') {
                Some((k, v)) => (k.to_string(), Some(v.to_string())),
                None => (a.clone(), None),
            })
            .collect();
        if let Some(p) = extra_reserved_port
            && !config.reserved_ports.contains(&p)
        {
            config.reserved_ports.push(p);
        }
        config
    }
}

#[derive(Args)]
struct ServeArgs {
    /// Where state is kept (the SQLite stores, registry blobs, root credentials). Only
    /// one process may use it at a time, with `--store postgres://…` too (blobs and
    /// credentials stay here): a second `up` or `server` on it exits at once.
    #[arg(long, env = "FLOTILLA_DATA_DIR", default_value_os_t = default_data_dir())]
    data_dir: PathBuf,
    /// Where the control plane's state lives: `sqlite` (files in the data directory,
    /// the default) or `postgres://user:password@host:port/database`.
    #[arg(long, env = "FLOTILLA_STORE")]
    store: Option<String>,
    /// The address every API listens on.
    #[arg(long, env = "FLOTILLA_LISTEN", default_value = "127.0.0.1:7700")]
    listen: SocketAddr,
    /// The AWS region this endpoint serves.
    #[arg(long, env = "FLOTILLA_REGION", default_value = "us-east-1")]
    region: String,
    /// The most connections the API listener keeps open; at the limit a new one takes
    /// the place of the connection idle the longest.
    #[arg(long, default_value_t = 4096, value_parser = clap::value_parser!(u64).range(16..=1_000_000))]
    max_connections: u64,
    /// Seconds a client has to send a request's headers; also how long an idle
    /// keep-alive connection stays open.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=3600))]
    header_timeout: u64,
    /// Seconds a request body may pause between two pieces before the request is cut off.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    body_timeout: u64,
    /// Where the DNS server for load balancer names (zone `elb.flotilla.internal`)
    /// listens, on UDP; `off` for none. Point a resolver at it for that zone, e.g.
    /// systemd-resolved's `DNS=127.0.0.1:8053` with `Domains=~elb.flotilla.internal`.
    #[arg(long, default_value = "127.0.0.1:8053")]
    dns_listen: String,
    /// The first address load balancers are given (each gets the next free one, up
    /// to 65,000 of them); give servers sharing a machine pools that do not overlap.
    #[arg(long, default_value = "127.1.0.1")]
    load_balancer_addresses: std::net::Ipv4Addr,
    /// Do not write the `flotilla` profile into the AWS CLI's files.
    #[arg(long)]
    no_aws_profile: bool,
    /// `up` only: do not run a node agent on this machine.
    #[arg(long)]
    no_agent: bool,
    /// Auto Scaling: the command (run with `sh -c`) that launches an instance whose
    /// launch configuration's ImageId is neither `flotilla:simulated` nor
    /// `flotilla:docker` (those are `flotilla agent` processes this control plane
    /// starts itself, under DATA/instances/). Its environment names the instance:
    /// FLOTILLA_INSTANCE_ID, FLOTILLA_INSTANCE_TYPE, FLOTILLA_IMAGE_ID,
    /// FLOTILLA_USER_DATA (decoded), FLOTILLA_USER_DATA_BASE64, FLOTILLA_ENDPOINT,
    /// FLOTILLA_AVAILABILITY_ZONE, FLOTILLA_REGION, FLOTILLA_CLUSTER (the user data's
    /// ECS_CLUSTER), FLOTILLA_AUTO_SCALING_GROUP, FLOTILLA_INSTANCE_CPU (units),
    /// FLOTILLA_INSTANCE_MEMORY (MiB) and the root credentials
    /// (FLOTILLA_ROOT_ACCESS_KEY_ID, FLOTILLA_ROOT_SECRET_ACCESS_KEY). It exits 0
    /// once the instance is on its way (its agent should run with `--ec2-instance-id
    /// $FLOTILLA_INSTANCE_ID`); otherwise the launch fails with the last line it
    /// wrote. Without it, such launches fail.
    #[arg(long, env = "FLOTILLA_INSTANCE_LAUNCH_COMMAND")]
    instance_launch_command: Option<String>,
    /// Auto Scaling: the command (run with `sh -c`, the same environment) that
    /// terminates an instance the launch command launched.
    #[arg(long, env = "FLOTILLA_INSTANCE_TERMINATE_COMMAND")]
    instance_terminate_command: Option<String>,
    /// Auto Scaling: seconds an agent this control plane launched waits, after the
    /// control plane died without stopping it, for one to answer again.
    #[arg(long, hide = true, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    instance_orphan_grace: u64,
    #[command(flatten)]
    node: NodeArgs,
}

fn default_data_dir() -> PathBuf {
    use std::os::unix::fs::MetadataExt;
    let root = std::fs::metadata("/proc/self").map(|m| m.uid() == 0).unwrap_or(false);
    match std::env::var_os("HOME") {
        Some(home) if !root => PathBuf::from(home).join(".local/share/flotilla"),
        _ => PathBuf::from("/var/lib/flotilla"),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let format = cli.log_format;
    match cli.command {
        // Standard output carries the swarm's progress lines.
        Command::Swarm(_) => swarm::init_logging(format),
        _ => logging::init(format),
    }
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            match format {
                LogFormat::Text => eprintln!("error: {e:#}"),
                LogFormat::Json => tracing::error!(error = format!("{e:#}"), "flotilla stopped on an error"),
            }
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    let format = cli.log_format;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the runtime")?;
    match cli.command {
        Command::Up(args) => runtime.block_on(serve(args, true, format)),
        Command::Server(args) => runtime.block_on(serve(args, false, format)),
        Command::Agent(args) => runtime.block_on(agent(args, format)),
        Command::Swarm(args) => runtime.block_on(swarm::run(args, agent_credentials()?, shutdown_signal())),
    }
}

/// The agent's credentials: the environment's, else the `flotilla` profile's.
fn agent_credentials() -> Result<Credentials> {
    for (id, secret) in [(ACCESS_KEY_ENV, SECRET_KEY_ENV), ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")] {
        if let (Ok(id), Ok(secret)) = (std::env::var(id), std::env::var(secret))
            && !id.is_empty()
        {
            return Ok(Credentials::new(id, secret));
        }
    }
    let (_, creds_path) = aws_profile::default_paths()?;
    let (id, secret) = aws_profile::read_credentials(&creds_path, aws_profile::PROFILE).with_context(|| {
        format!(
            "no credentials: set {ACCESS_KEY_ENV}/{SECRET_KEY_ENV} or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, \
             or write the '{}' profile into {}",
            aws_profile::PROFILE,
            creds_path.display()
        )
    })?;
    Ok(Credentials::new(id, secret))
}

async fn agent(args: AgentArgs, format: LogFormat) -> Result<()> {
    let state_dir = args.state_dir.clone().unwrap_or_else(|| default_data_dir().join("agent"));
    let _lock = DirLock::acquire(&state_dir, "agent state directory")?;
    let credentials = agent_credentials()?;
    let mut config = args.node.config(&args.cluster, state_dir, &args.region, None, NodeCapacity::Ec2);
    config.ec2_instance_id = args.ec2_instance_id.clone();
    announce(format, &format!("flotilla agent joining cluster '{}' at {}", args.cluster, args.endpoint));
    let grace = Duration::from_secs(args.orphan_grace_seconds);
    let endpoint = args.endpoint.clone();
    let shutdown = async move {
        match args.parent_pid {
            Some(parent) => tokio::select! {
                _ = shutdown_signal() => {},
                _ = orphaned(parent, endpoint, grace) => {},
            },
            None => shutdown_signal().await,
        }
    };
    run_agent(&args.endpoint, credentials, config, args.node.runtime(), shutdown).await
}

/// Resolves when this agent is an orphan nobody adopts: `parent`, the control plane
/// that launched it, is no longer its parent, and no control plane has answered
/// `/healthz` at `endpoint` for `grace`. (Polling, rather than a parent-death signal,
/// which needs `unsafe`, and lets a restarted control plane adopt the agent.)
async fn orphaned(parent: u32, endpoint: String, grace: Duration) {
    let mut unanswered_since: Option<tokio::time::Instant> = None;
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        if std::os::unix::process::parent_id() == parent || control_plane_answers(&endpoint).await {
            unanswered_since = None;
            continue;
        }
        let since = *unanswered_since.get_or_insert_with(tokio::time::Instant::now);
        if since.elapsed() >= grace {
            tracing::warn!(parent, %endpoint, "the control plane that launched this agent is gone and none answers; stopping");
            return;
        }
    }
}

/// Whether `GET /healthz` at the endpoint answers 200 within a few seconds (for a
/// non-HTTP endpoint: whether it accepts a connection).
async fn control_plane_answers(endpoint: &str) -> bool {
    use std::io::{Read, Write};
    let plain = endpoint.strip_prefix("http://");
    let authority = endpoint.split("://").nth(1).unwrap_or(endpoint).split('/').next().unwrap_or_default().to_string();
    let probe_http = plain.is_some();
    tokio::task::spawn_blocking(move || {
        let timeout = Duration::from_secs(2);
        let Some(addr) = std::net::ToSocketAddrs::to_socket_addrs(&authority).ok().and_then(|mut a| a.next()) else {
            return false;
        };
        let Ok(mut stream) = std::net::TcpStream::connect_timeout(&addr, timeout) else { return false };
        if !probe_http {
            return true;
        }
        let _ = stream.set_read_timeout(Some(timeout));
        let _ = stream.set_write_timeout(Some(timeout));
        let request = format!("GET /healthz HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n");
        let mut head = [0u8; 12];
        stream.write_all(request.as_bytes()).is_ok()
            && stream.read_exact(&mut head).is_ok()
            && head.starts_with(b"HTTP/1.1 200")
    })
    .await
    .unwrap_or(false)
}

async fn serve(args: ServeArgs, everything: bool, format: LogFormat) -> Result<()> {
    // Before anything else touches the directory: a refused process changes nothing.
    let _lock = DirLock::acquire(&args.data_dir, "data directory")?;
    let run_agent_here = everything && !args.no_agent;
    let agent_dir = args.data_dir.join("agent");
    // The local agent's state directory is the default `flotilla agent`'s too.
    let _agent_lock = run_agent_here.then(|| DirLock::acquire(&agent_dir, "agent state directory")).transpose()?;
    let credentials = RootCredentials::load_or_create(&args.data_dir)?;
    let account = AccountContext { region: args.region.clone(), ..AccountContext::default() };
    let listener =
        tokio::net::TcpListener::bind(args.listen).await.with_context(|| format!("listening on {}", args.listen))?;
    let local = listener.local_addr()?;
    let host = if local.ip().is_unspecified() { "127.0.0.1".to_string() } else { local.ip().to_string() };
    let endpoint = format!("http://{host}:{}", local.port());
    let store = StoreLocation::from_flag(args.store.as_deref(), &args.data_dir)?;
    let config = ServerConfig {
        data_dir: args.data_dir.clone(),
        store,
        account,
        credentials: credentials.clone(),
        endpoint: endpoint.clone(),
        load_balancer_addresses: flotilla_elbv2::dataplane::AddressPool {
            first: args.load_balancer_addresses,
            ..Default::default()
        },
    };
    let plane = ControlPlane::open(&config).await?;
    plane.asg.set_instance_commands(args.instance_launch_command.clone(), args.instance_terminate_command.clone());
    plane.asg.set_orphan_grace(Duration::from_secs(args.instance_orphan_grace));
    if everything {
        plane.ecs.ensure_default_cluster().await.context("creating the default cluster")?;
    }
    if !args.no_aws_profile {
        let (config_path, creds_path) = aws_profile::default_paths()?;
        aws_profile::write_profile(&config_path, &creds_path, &endpoint, &args.region, &credentials)?;
        announce(
            format,
            &format!(
                "wrote AWS CLI profile '{}' to {} and {}",
                aws_profile::PROFILE,
                config_path.display(),
                creds_path.display()
            ),
        );
    }
    announce(format, &format!("flotilla is listening on {endpoint} (data in {})", args.data_dir.display()));
    announce(format, &format!("try: aws --profile {} ecs list-clusters", aws_profile::PROFILE));
    tracing::info!(%endpoint, access_key_id = %credentials.access_key_id, "control plane ready");
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let agent = run_agent_here.then(|| {
        let creds = Credentials::new(credentials.access_key_id.clone(), credentials.secret_access_key.clone());
        let config =
            args.node.config("default", agent_dir, &args.region, Some(local.port()), NodeCapacity::Ec2AndFargate);
        let runtime = args.node.runtime();
        let endpoint = endpoint.clone();
        let stop = stopped(stop_rx.clone());
        tokio::spawn(async move {
            if let Err(e) = run_agent(&endpoint, creds, config, runtime, stop).await {
                tracing::error!(error = format!("{e:#}"), "the local agent stopped");
            }
        })
    });
    let limits = flotilla_http::Limits {
        max_connections: args.max_connections as usize,
        ..api_limits(Duration::from_secs(args.header_timeout), Duration::from_secs(args.body_timeout))
    };
    if args.dns_listen != "off" {
        let addr: SocketAddr = args.dns_listen.parse().with_context(|| format!("--dns-listen {}", args.dns_listen))?;
        match tokio::net::UdpSocket::bind(addr).await {
            Ok(socket) => {
                let elbv2 = plane.elbv2.clone();
                let stop = stopped(stop_rx.clone());
                tracing::info!(%addr, "load balancer DNS listening");
                tokio::spawn(async move { elbv2.serve_dns(socket, stop).await });
            }
            // The rest of the control plane works without it: say so and go on.
            Err(e) => {
                tracing::warn!(%addr, error = %e, "the load balancer DNS server cannot listen; names will not resolve")
            }
        }
    }
    let server = tokio::spawn(plane.serve(listener, limits, stopped(stop_rx)));
    shutdown_signal().await;
    let _ = stop_tx.send(true);
    if let Some(agent) = agent {
        let _ = agent.await;
    }
    server.await.context("joining the server")??;
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
