//! `flotilla swarm`: many simulated node agents in one process, for scale tests of
//! a real control plane.
//!
//! Each agent is the real [`Agent`] — it registers a container instance, long-polls
//! for its tasks and reports every change over the agents' channel — on a
//! [`SimulatedRuntime`] of its own, so containers exist only in memory. What would
//! cost per agent is shared or left out: the agents call through one HTTP client
//! (one connection pool), run as tasks on the process's one Tokio runtime (no thread
//! of their own), and serve no task metadata endpoint (no port is bound). Agent `i`
//! keeps its state in `DIR/agent-<i>` and registers as EC2 instance `i-` and `i` in
//! 17 hex digits, of type `sim.large`, in the availability zones taken in turn; so a
//! swarm restarted on the same directory and indices comes back as the same
//! instances.
//!
//! Registrations are paced (at most `--register-concurrency` in flight, each retried
//! with backoff) so thousands of agents starting at once do not stampede the control
//! plane. Progress goes to standard output as machine-readable lines —
//! `swarm registered=<n> of=<N> seconds=<t>` once every agent is registered, and
//! `swarm stopped agents=<N>` after a SIGINT or SIGTERM has stopped them all — while
//! logs go to standard error (default level `warn`; `RUST_LOG` overrides it).

use anyhow::{Context, Result, bail};
use clap::Args;
use flotilla::dir_lock::DirLock;
use flotilla::logging::LogFormat;
use flotilla_agent::client::{ControlPlaneClient, http_client};
use flotilla_agent::runtime::{SimulatedBehaviour, SimulatedRuntime};
use flotilla_agent::{Agent, AgentConfig};
use flotilla_domain::container_instance::NodeCapacity;
use flotilla_sigv4::Credentials;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Semaphore, mpsc, watch};
use tracing::Instrument;

#[derive(Args)]
pub struct SwarmArgs {
    /// The control plane's URL.
    #[arg(long, env = "FLOTILLA_ENDPOINT", default_value = "http://127.0.0.1:7700")]
    endpoint: String,
    /// The cluster every agent joins.
    #[arg(long, env = "FLOTILLA_CLUSTER", default_value = "default")]
    cluster: String,
    /// How many agents to run.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    agents: u64,
    /// The index of the first agent (its instance id and state directory follow
    /// from it): give swarms sharing a cluster ranges that do not overlap.
    #[arg(long, default_value_t = 0)]
    first_index: u64,
    /// Where agent `i` keeps its state: `DIR/agent-<i>`. Only one process may use it.
    #[arg(long)]
    state_dir: PathBuf,
    #[arg(long, env = "FLOTILLA_REGION", default_value = "us-east-1")]
    region: String,
    /// CPU units each agent offers.
    #[arg(long, default_value_t = 2048)]
    cpu: i64,
    /// MiB of memory each agent offers.
    #[arg(long, default_value_t = 4096)]
    memory: i64,
    /// The availability zones agents are spread over, in turn.
    #[arg(long, value_delimiter = ',', default_value = "us-east-1a,us-east-1b,us-east-1c")]
    availability_zones: Vec<String>,
    /// Milliseconds a simulated container takes to start.
    #[arg(long, default_value_t = 10)]
    simulated_start_delay_ms: u64,
    /// Simulated containers exit on their own after this many milliseconds.
    #[arg(long)]
    simulated_run_for_ms: Option<u64>,
    /// The exit code of simulated containers that exit on their own.
    #[arg(long, default_value_t = 0)]
    simulated_exit_code: i64,
    /// The most registrations in flight at once.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    register_concurrency: u64,
    /// Seconds each agent's long poll for tasks waits for a change.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=60))]
    poll_wait_seconds: u64,
    /// Seconds before the containers of a stopped task are removed.
    #[arg(long, default_value_t = 600)]
    cleanup_after: u64,
}

/// Logs to standard error, which leaves standard output to the progress lines:
/// `RUST_LOG` filters (default `warn`, as thousands of agents' `info` lines drown
/// everything else).
pub fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.with_ansi(false).init(),
        LogFormat::Json => builder.json().flatten_event(true).with_ansi(false).init(),
    }
}

/// Agent `index`'s EC2 instance id: `i-` and 17 hex digits.
fn instance_id(index: u64) -> String {
    format!("i-{index:017x}")
}

/// Runs the swarm until `shutdown` completes, then stops every agent.
pub async fn run(args: SwarmArgs, credentials: Credentials, shutdown: impl Future<Output = ()>) -> Result<()> {
    if args.availability_zones.iter().any(|az| az.is_empty()) {
        bail!("--availability-zones: an empty zone name");
    }
    let last = args.first_index.checked_add(args.agents).context("--first-index + --agents is too large")?;
    let _lock = DirLock::acquire(&args.state_dir, "swarm state directory")?;
    // Polls hold one connection per agent; a quarter more idle covers polls that
    // return together.
    let idle = (args.agents as usize / 4).max(4);
    let http = http_client(Some(idle)).context("creating the HTTP client")?;
    let behaviour = SimulatedBehaviour {
        start_delay: Duration::from_millis(args.simulated_start_delay_ms),
        run_for: args.simulated_run_for_ms.map(Duration::from_millis),
        exit_code: args.simulated_exit_code,
        ..SimulatedBehaviour::default()
    };
    let total = args.agents as usize;
    let permits = Arc::new(Semaphore::new(args.register_concurrency as usize));
    let (stop_tx, stop_rx) = watch::channel(false);
    let (registered_tx, mut registered_rx) = mpsc::unbounded_channel::<()>();
    let started = tokio::time::Instant::now();
    let mut agents = tokio::task::JoinSet::new();
    for index in args.first_index..last {
        let client = ControlPlaneClient::with_http(http.clone(), &args.endpoint, credentials.clone(), &args.region);
        let config = agent_config(&args, index);
        let one = run_one(config, client, behaviour.clone(), permits.clone(), registered_tx.clone(), stop_rx.clone());
        agents.spawn(one.instrument(tracing::info_span!("agent", index)));
    }
    drop(registered_tx);
    tracing::info!(agents = total, endpoint = %args.endpoint, cluster = %args.cluster, "swarm starting");

    tokio::pin!(shutdown);
    let (mut registered, mut ended) = (0usize, 0usize);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            Some(()) = registered_rx.recv() => {
                registered += 1;
                if registered == total {
                    println!("swarm registered={registered} of={total} seconds={:.3}", started.elapsed().as_secs_f64());
                }
            }
            Some(joined) = agents.join_next() => {
                ended += 1;
                log_end(joined);
                if ended == total {
                    bail!("every agent of the swarm stopped");
                }
            }
        }
    }
    let _ = stop_tx.send(true);
    while let Some(joined) = agents.join_next().await {
        log_end(joined);
    }
    println!("swarm stopped agents={total}");
    Ok(())
}

fn agent_config(args: &SwarmArgs, index: u64) -> AgentConfig {
    let mut config = AgentConfig::new(&args.cluster, args.state_dir.join(format!("agent-{index}")));
    config.region = args.region.clone();
    config.availability_zone = args.availability_zones[(index % args.availability_zones.len() as u64) as usize].clone();
    config.instance_type = "sim.large".into();
    config.capacity = NodeCapacity::Ec2;
    config.cpu = Some(args.cpu);
    config.memory_mib = Some(args.memory);
    config.poll_wait = Duration::from_secs(args.poll_wait_seconds);
    config.cleanup_after = Duration::from_secs(args.cleanup_after);
    // No task metadata endpoint: a simulated agent binds no port.
    config.metadata_port = None;
    config.ec2_instance_id = Some(instance_id(index));
    config
}

/// One agent: registers once a registration slot is free (retrying with backoff),
/// says so on `registered`, then runs until the swarm stops.
async fn run_one(
    config: AgentConfig,
    client: ControlPlaneClient,
    behaviour: SimulatedBehaviour,
    permits: Arc<Semaphore>,
    registered: mpsc::UnboundedSender<()>,
    stop: watch::Receiver<bool>,
) -> Result<()> {
    let stopped = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let runtime = Arc::new(SimulatedRuntime::new(behaviour));
    let mut agent = Agent::new(config, client, runtime).context("starting the agent")?;
    let mut attempt = 0u32;
    loop {
        let result = tokio::select! {
            _ = stopped(stop.clone()) => return Ok(()),
            r = async {
                let _permit = permits.acquire().await;
                agent.register().await
            } => r,
        };
        match result {
            Ok(_) => break,
            Err(e) => tracing::warn!(error = %e, "registration failed; retrying"),
        }
        tokio::select! {
            _ = stopped(stop.clone()) => return Ok(()),
            _ = tokio::time::sleep(backoff(attempt)) => {}
        }
        attempt = attempt.saturating_add(1);
    }
    let _ = registered.send(());
    agent.run(stopped(stop)).await.context("running the agent")
}

/// Full jitter: a random delay up to 0.5 s, doubling per attempt to at most 15 s.
fn backoff(attempt: u32) -> Duration {
    let cap = Duration::from_millis(500).saturating_mul(1 << attempt.min(5)).min(Duration::from_secs(15));
    let random = uuid::Uuid::new_v4().as_u128() as u64;
    Duration::from_millis(random % (cap.as_millis() as u64 + 1))
}

fn log_end(joined: Result<Result<()>, tokio::task::JoinError>) {
    match joined {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::error!(error = format!("{e:#}"), "an agent stopped"),
        Err(e) => tracing::error!(error = %e, "an agent panicked"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_ids_are_ec2s() {
        assert_eq!(instance_id(0), "i-00000000000000000");
        assert_eq!(instance_id(4999), "i-00000000000001387");
        for i in [0, 1, 4999, u64::MAX] {
            assert!(crate::parse_instance_id(&instance_id(i)).is_ok(), "{}", instance_id(i));
        }
    }

    #[test]
    fn backoff_stays_within_its_cap() {
        for attempt in [0, 1, 5, 40] {
            assert!(backoff(attempt) <= Duration::from_secs(15));
        }
        assert!(backoff(0) <= Duration::from_millis(500));
    }
}
