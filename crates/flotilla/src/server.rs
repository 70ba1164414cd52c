//! Assembles the control plane: the store, the list of service modules (ECS, the agents'
//! channel, the registry, Secrets Manager, ELBv2, CloudWatch Logs, CloudWatch) behind one
//! front door on one router, and the listener with graceful shutdown.

use crate::credentials::RootCredentials;
use crate::metrics::{Metrics, Sources};
use crate::wiring::{AsgGroups, EcsRetirement};
use crate::wiring::{AutoScalingActions, CloudWatchAlarms, EcsCapacity};
use crate::wiring::{CloudWatchSink, EcsInstances, ElbTargets, RegistryImages};
use crate::wiring::{EcsTasks, SchedulerTargets, SqsQueues, TaskRoleSessions};
use anyhow::{Context, Result};
use axum::Router;
use axum::routing::get;
use flotilla_app_autoscaling::AppAutoScalingService;
use flotilla_asg::{AgentCredentials, AsgService, LaunchSettings};
use flotilla_controller::Runner;
use flotilla_domain::AccountContext;
use flotilla_ecs_api::MetricsSink;
use flotilla_ecs_api::{AgentChannel, EcsService};
use flotilla_elbv2::DataPlaneSetup;
use flotilla_elbv2::ElbService;
use flotilla_elbv2::dataplane::AddressPool;
use flotilla_events::EventsService;
use flotilla_iam::access::Access;
use flotilla_iam::{IamService, IamStore, StsService};
use flotilla_logs::LogsService;
use flotilla_metrics::MetricsService;
use flotilla_protocol::{FrontDoor, FrontDoorConfig, ServiceModule, request_id_layer};
use flotilla_registry::{Maintenance, Registry, RegistryConfig};
use flotilla_scheduler::SchedulerService;
use flotilla_secrets::SecretsService;
use flotilla_sqs::SqsService;
use flotilla_ssm::SsmService;
use flotilla_store::{SqlStore, StoreLocation};
use std::path::PathBuf;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// What the API listener allows: `flotilla_http`'s defaults with the given timeouts,
/// and half-closed clients not answered (AWS SDKs never half-close, and agents
/// long-poll: a poll whose agent went away must end at once rather than hold a shutdown).
pub fn api_limits(
    header_timeout: std::time::Duration,
    body_idle_timeout: std::time::Duration,
) -> flotilla_http::Limits {
    flotilla_http::Limits { header_timeout, body_idle_timeout, half_close: false, ..flotilla_http::Limits::default() }
}

/// The largest API request body accepted (AWS JSON APIs are far below this).
pub const MAX_REQUEST_BYTES: usize = 4 * 1024 * 1024;

/// What the control plane needs to start.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub data_dir: PathBuf,
    /// Where the stores are: SQLite files in the data directory, or PostgreSQL.
    pub store: StoreLocation,
    pub account: AccountContext,
    pub credentials: RootCredentials,
    /// The URL clients and agents reach this control plane at.
    pub endpoint: String,
    /// The addresses load balancers are given.
    pub load_balancer_addresses: AddressPool,
}

/// How often the registry applies lifecycle policies and collects garbage.
const REGISTRY_MAINTENANCE: std::time::Duration = std::time::Duration::from_secs(600);
/// How long an unreferenced blob is kept before garbage collection may remove it.
const REGISTRY_GC_GRACE: std::time::Duration = std::time::Duration::from_secs(3600);

/// How long shutdown waits for a module's background tasks before aborting them.
const BACKGROUND_STOP_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// A control plane with its state open, ready to serve.
pub struct ControlPlane {
    pub store: SqlStore,
    pub ecs: Arc<EcsService>,
    pub registry: Registry,
    pub secrets: Arc<SecretsService>,
    pub elbv2: Arc<ElbService>,
    /// EC2 Auto Scaling; `main` sets the operator's instance commands on it.
    pub asg: Arc<AsgService>,
    /// Every service module, in the order they are served and closed.
    modules: Vec<Arc<dyn ServiceModule>>,
    /// Runs the modules' controllers, each under a lease.
    controllers: Runner,
    router: Router,
}

/// The key registry passwords are signed with, created on first start and kept in
/// the data directory, so `docker login` sessions survive restarts.
fn registry_token_key(data_dir: &std::path::Path) -> Result<Vec<u8>> {
    kept_in(
        data_dir,
        "registry-token-key",
        "registry token key",
        |key| key.len() >= 32,
        || (0..2).flat_map(|_| *uuid::Uuid::new_v4().as_bytes()).collect(),
    )
}

/// The contents of `name` in the data directory, made by `create` and saved (0600) on
/// first start; a file `valid` refuses is an error, never silently replaced.
fn kept_in(
    data_dir: &std::path::Path,
    name: &str,
    what: &str,
    valid: impl Fn(&[u8]) -> bool,
    create: impl FnOnce() -> Vec<u8>,
) -> Result<Vec<u8>> {
    let path = data_dir.join(name);
    match std::fs::read(&path) {
        Ok(kept) if valid(&kept) => Ok(kept),
        Ok(_) => anyhow::bail!("the {what} in {} is not valid", path.display()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let made = create();
            crate::credentials::write_private(&path, &made)
                .with_context(|| format!("saving the {what} {}", path.display()))?;
            Ok(made)
        }
        Err(e) => Err(e).with_context(|| format!("reading the {what} {}", path.display())),
    }
}

/// The id this data directory's process holds controller leases as, created on first
/// start and kept (`controller-holder`). The directory lock lets one process at a time
/// use it, so after a crash the restarted process takes the leases back at once.
fn controller_holder(data_dir: &std::path::Path) -> Result<String> {
    let valid = |id: &[u8]| std::str::from_utf8(id).is_ok_and(|id| !id.trim().is_empty());
    let id = kept_in(data_dir, "controller-holder", "controller holder id", valid, || {
        format!("flotilla-{}", uuid::Uuid::new_v4().simple()).into_bytes()
    })?;
    Ok(String::from_utf8_lossy(&id).trim().to_string())
}

impl ControlPlane {
    pub async fn open(config: &ServerConfig) -> Result<Self> {
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("creating data directory {}", config.data_dir.display()))?;
        let store = SqlStore::open(&config.store, config.account.clone()).await.context("opening the ECS store")?;
        let controllers = Runner::open(&config.store)
            .await
            .context("opening the controllers' store")?
            .with_holder(controller_holder(&config.data_dir)?);
        let registry = Registry::open(
            &config.data_dir,
            &config.store,
            config.account.clone(),
            registry_token_key(&config.data_dir)?,
            RegistryConfig { endpoint: config.endpoint.clone(), create_on_push: false },
        )
        .await
        .context("opening the registry")?;
        let cloudwatch =
            Arc::new(MetricsService::open(&config.store, config.account.clone()).await.context("opening CloudWatch")?);
        let sink: Arc<dyn MetricsSink> = Arc::new(CloudWatchSink(cloudwatch.clone()));
        let data_plane = DataPlaneSetup {
            pool: config.load_balancer_addresses,
            instances: Some(Arc::new(EcsInstances(store.clone()))),
            metrics: Some(sink.clone()),
        };
        let elbv2 = Arc::new(
            ElbService::open(&config.store, config.account.clone(), data_plane)
                .await
                .context("opening Elastic Load Balancing")?,
        );
        // EventBridge: ECS puts its events on the default bus, and rules run ECS tasks and
        // send to SQS queues, so ECS and SQS are handed to it once they are open.
        let ecs_tasks = EcsTasks::default();
        let sqs_queues = SqsQueues { endpoint: config.endpoint.clone(), ..SqsQueues::default() };
        let events = Arc::new(
            EventsService::open(&config.store, config.account.clone())
                .await
                .context("opening EventBridge")?
                .with_ecs(Arc::new(ecs_tasks.clone()))
                .with_queues(Arc::new(sqs_queues.clone())),
        );
        // Secret values, SecureStrings and IAM's secret keys are sealed under the data
        // directory's key (seal.key, 0600).
        let sealer = flotilla_seal::Sealer::load_or_create(&config.data_dir).context("loading the seal key")?;
        // Who may call: the root credentials, IAM users' keys and STS sessions; what
        // they may do: their IAM policies, for every module's every operation.
        let access = Arc::new(Access::new(
            IamStore::open(&config.store, sealer.clone()).await.context("opening IAM")?,
            config.account.clone(),
            flotilla_iam::RootCredentials {
                access_key_id: config.credentials.access_key_id.clone(),
                secret_access_key: config.credentials.secret_access_key.clone(),
            },
        ));
        let asg_groups = AsgGroups::default();
        let ecs = Arc::new(
            EcsService::new(Arc::new(store.clone()), config.account.clone(), config.endpoint.clone())
                .with_instance_groups(Arc::new(asg_groups.clone()))
                .with_image_resolver(Arc::new(RegistryImages(registry.clone())))
                .with_load_balancing(Arc::new(ElbTargets(elbv2.clone())))
                .with_events(events.clone())
                .with_metrics(sink)
                .with_role_sessions(Arc::new(TaskRoleSessions(access.clone()))),
        );
        let secrets = Arc::new(
            SecretsService::open(&config.store, config.account.clone(), sealer.clone())
                .await
                .context("opening Secrets Manager")?,
        );
        let ssm = Arc::new(
            SsmService::open(&config.store, sealer, config.account.clone())
                .await
                .context("opening Systems Manager Parameter Store")?,
        );
        let logs = Arc::new(
            LogsService::open(&config.store, config.account.clone()).await.context("opening CloudWatch Logs")?,
        );
        let sqs = Arc::new(
            SqsService::open(&config.store, config.account.clone(), config.endpoint.clone())
                .await
                .context("opening SQS")?
                .with_metrics(Arc::new(CloudWatchSink(cloudwatch.clone()))),
        );
        let scheduler = Arc::new(
            SchedulerService::open(
                &config.store,
                config.account.clone(),
                Arc::new(SchedulerTargets { ecs: ecs_tasks.clone(), sqs: sqs_queues.clone() }),
            )
            .await
            .context("opening EventBridge Scheduler")?,
        );
        let _ = ecs_tasks.0.set(ecs.clone());
        let _ = sqs_queues.sqs.set(sqs.clone());
        // Auto Scaling groups' instances are agents this binary starts (or the
        // operator's launch command), reaching this endpoint with the root credentials.
        let asg = Arc::new(
            AsgService::open(
                &config.store,
                config.account.clone(),
                LaunchSettings {
                    data_dir: config.data_dir.clone(),
                    endpoint: config.endpoint.clone(),
                    region: config.account.region.clone(),
                    credentials: AgentCredentials {
                        access_key_id: config.credentials.access_key_id.clone(),
                        secret_access_key: config.credentials.secret_access_key.clone(),
                    },
                    agent_binary: std::env::current_exe().ok(),
                    launch_command: None,
                    terminate_command: None,
                    orphan_grace: flotilla_asg::launcher::DEFAULT_ORPHAN_GRACE,
                },
            )
            .await
            .context("opening Auto Scaling")?
            .with_retirement(Arc::new(EcsRetirement(ecs.clone()))),
        );
        let _ = asg_groups.0.set(asg.clone());
        // Application Auto Scaling sets ECS services' desired counts, owns the CloudWatch
        // alarms of its target tracking policies, and runs when an alarm's action names one
        // of its policies.
        let target_tracking_period = flotilla_app_autoscaling::period_from_env()
            .map_err(anyhow::Error::msg)?
            .unwrap_or(flotilla_app_autoscaling::DEFAULT_PERIOD_SECONDS);
        let app_autoscaling = Arc::new(
            AppAutoScalingService::open(&config.store, config.account.clone())
                .await
                .context("opening Application Auto Scaling")?
                .with_capacity(Arc::new(EcsCapacity(ecs.clone())))
                .with_alarms(Arc::new(CloudWatchAlarms(cloudwatch.clone())))
                .with_target_tracking_period(target_tracking_period),
        );
        cloudwatch.set_alarm_actions(Arc::new(AutoScalingActions {
            scaling: app_autoscaling.clone(),
            other: Arc::new(flotilla_metrics::NoAlarmActions),
        }));
        let metrics = Arc::new(Metrics::default());
        registry.set_authorizer(access.clone());
        let modules: Vec<Arc<dyn ServiceModule>> = vec![
            ecs.clone(),
            Arc::new(AgentChannel::new(ecs.clone())),
            registry.service_module(Maintenance { interval: REGISTRY_MAINTENANCE, gc_grace: REGISTRY_GC_GRACE }),
            secrets.clone(),
            ssm,
            Arc::new(IamService::new(access.clone())),
            Arc::new(StsService::new(access.clone())),
            elbv2.clone(),
            asg.clone(),
            logs,
            cloudwatch,
            sqs,
            events,
            scheduler,
            app_autoscaling,
        ];
        let front_door_config = FrontDoorConfig {
            region: config.account.region.clone(),
            account_id: config.account.account_id.clone(),
            max_body_bytes: MAX_REQUEST_BYTES,
        };
        let front_door = modules
            .iter()
            .fold(FrontDoor::new(access.clone(), front_door_config).with_authorizer(access.clone()), |door, m| {
                door.with_module(m.clone())
            })
            .with_observer(metrics.clone());
        let (scraped_ecs, scraped_registry) = (ecs.clone(), registry.clone());
        let router = Arc::new(front_door)
            .router()
            .route("/healthz", get(|| async { "ok\n" }))
            .route("/metrics", get(move || scrape(metrics.clone(), scraped_ecs.clone(), scraped_registry.clone())))
            .layer(axum::middleware::from_fn(request_id_layer));
        Ok(Self { store, ecs, registry, secrets, elbv2, asg, modules, controllers, router })
    }

    /// The service modules served, in order.
    pub fn modules(&self) -> &[Arc<dyn ServiceModule>] {
        &self.modules
    }

    /// The HTTP application: every API on one router.
    pub fn router(&self) -> Router {
        self.router.clone()
    }

    /// Serves on `listener` until `shutdown` completes, with every module's background
    /// work running; then stops that work, closes the modules and the store.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        limits: flotilla_http::Limits,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<()> {
        let stop = CancellationToken::new();
        let background: Vec<_> = self
            .modules
            .iter()
            .flat_map(|m| m.controllers())
            .map(|controller| self.controllers.spawn(controller, stop.clone()))
            .collect();
        let served =
            flotilla_http::serve(listener, self.router.clone(), limits, shutdown).await.context("serving HTTP");
        stop.cancel();
        for task in background {
            let abort = task.abort_handle();
            if tokio::time::timeout(BACKGROUND_STOP_GRACE, task).await.is_err() {
                tracing::warn!("a background task did not stop within {BACKGROUND_STOP_GRACE:?}; aborting it");
                abort.abort();
            }
        }
        for module in &self.modules {
            module.close().await;
        }
        self.controllers.close().await;
        self.store.close().await;
        served
    }
}

/// `/metrics`: the front door's counters with what ECS and the registry report now.
async fn scrape(metrics: Arc<Metrics>, ecs: Arc<EcsService>, registry: Registry) -> String {
    let gauges = match ecs.gauges().await {
        Ok(g) => Some(g),
        Err(e) => {
            tracing::warn!(error = %e, "reading ECS gauges for /metrics failed");
            None
        }
    };
    let sources = Sources { ecs: gauges, placements: Some(ecs.placement_stats()), registry: Some(registry.traffic()) };
    metrics.render(&sources)
}
