//! Running a node agent from the command line or inside `flotilla up`.

use anyhow::{Context, Result};
use flotilla_agent::client::ControlPlaneClient;
use flotilla_agent::runtime::{ContainerRuntime, DockerRuntime, PullBehaviour, SimulatedBehaviour, SimulatedRuntime};
use flotilla_agent::{Agent, AgentConfig};
use flotilla_sigv4::Credentials;
use std::sync::Arc;
use std::time::Duration;

/// Which runtime runs the containers.
#[derive(Debug, Clone)]
pub enum RuntimeChoice {
    Docker(PullBehaviour),
    Simulated(SimulatedBehaviour),
}

/// Connects the runtime, retrying while the engine is unreachable.
pub async fn connect_runtime(choice: &RuntimeChoice) -> Arc<dyn ContainerRuntime> {
    match choice {
        RuntimeChoice::Simulated(b) => Arc::new(SimulatedRuntime::new(b.clone())),
        RuntimeChoice::Docker(pull) => {
            let mut delay = Duration::from_secs(1);
            loop {
                match DockerRuntime::connect(*pull).await {
                    Ok(rt) => match rt.info().await {
                        Ok(_) => return Arc::new(rt),
                        Err(e) => tracing::error!(error = %e, "the Docker engine does not answer; retrying"),
                    },
                    Err(e) => tracing::error!(error = %e, "cannot reach the Docker engine; retrying"),
                }
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(30));
            }
        }
    }
}

/// Runs an agent until `shutdown` completes.
pub async fn run_agent(
    endpoint: &str,
    credentials: Credentials,
    config: AgentConfig,
    runtime: RuntimeChoice,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<()> {
    let client =
        ControlPlaneClient::new(endpoint, credentials, &config.region).context("creating the control plane client")?;
    tokio::pin!(shutdown);
    let runtime = tokio::select! {
        rt = connect_runtime(&runtime) => rt,
        _ = &mut shutdown => return Ok(()),
    };
    let agent = Agent::new(config, client, runtime).context("starting the agent")?;
    agent.run(shutdown).await.context("running the agent")
}
