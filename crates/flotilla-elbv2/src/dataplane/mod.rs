//! The data plane: the `elbv2-data-plane` controller gives each load balancer an
//! address from its pool, serves every HTTP listener on (address, port) as a reverse
//! proxy that routes by the listener's rules (`routing`), and health-checks the
//! targets of the target groups in use, recording each change of a target's health in
//! the store (which DescribeTargetHealth reads).
//!
//! What it keeps in memory is only what cannot be elsewhere: the listening sockets,
//! the routing table each serves from, the consecutive probe results that the
//! healthy/unhealthy thresholds count, when targets entered slow start, and the
//! requests in flight per target (`balancing`); a process taking the lease over
//! rebuilds them (targets it finds healthy get a full share at once).

pub mod balancing;
mod proxy;
pub mod routing;
mod stats;
mod tcp;

use crate::model::{Listener, LoadBalancer, Protocol, RegisteredTarget, Rule, TargetGroup};
use crate::store::{ElbStore, TargetHealthRecord};
use flotilla_core::metrics::MetricsSink;
use flotilla_core::time::Timestamp;
use flotilla_protocol::{Controller, PassError};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

const PASS_INTERVAL: Duration = Duration::from_secs(1);

/// The addresses load balancers get: `size` consecutive IPv4 addresses from `first`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddressPool {
    pub first: Ipv4Addr,
    pub size: u32,
}

impl Default for AddressPool {
    /// 127.1.0.1 onwards: loopback addresses every Linux host answers on without
    /// configuration, so each load balancer can listen on port 80 of its own.
    fn default() -> Self {
        Self { first: Ipv4Addr::new(127, 1, 0, 1), size: 65_000 }
    }
}

impl AddressPool {
    fn nth(&self, i: u32) -> Option<Ipv4Addr> {
        (i < self.size).then(|| Ipv4Addr::from(u32::from(self.first).saturating_add(i)))
    }
}

/// Where an `instance` target (`i-…`) is reached: the server answers from the ECS
/// container instances (their host address attribute).
#[async_trait::async_trait]
pub trait InstanceAddresses: Send + Sync {
    async fn address(&self, instance_id: &str) -> Option<Ipv4Addr>;
}

/// One target as the proxy sees it.
#[derive(Debug, Clone)]
pub(crate) struct Backend {
    pub addr: SocketAddr,
    pub healthy: bool,
    /// Its requests in flight (from this target group), shared with the tables before
    /// and after this one.
    pub in_flight: Arc<AtomicUsize>,
    /// When it became healthy, if it entered slow start then.
    pub healthy_since: Option<Instant>,
}

/// A target group as the proxy sees it.
#[derive(Debug, Default)]
pub(crate) struct Group {
    pub backends: Vec<Backend>,
    /// Counts the group's picks (shared with the tables before and after this one).
    pub cursor: Arc<AtomicU64>,
    /// With `stickiness.enabled` (`lb_cookie`): how long the `AWSALB` cookie keeps a
    /// client on its target.
    pub sticky_seconds: Option<i64>,
    /// `load_balancing.algorithm.type`.
    pub algorithm: balancing::Algorithm,
    /// `slow_start.duration_seconds` (zero: off).
    pub slow_start: Duration,
}

impl Group {
    /// The target for a request without a sticky target (see [`balancing::choose`]).
    pub fn pick(&self, now: Instant) -> Option<&Backend> {
        let candidates: Vec<balancing::Candidate> = self
            .backends
            .iter()
            .map(|b| balancing::Candidate {
                addr: b.addr,
                healthy: b.healthy,
                in_flight: b.in_flight.load(Ordering::Relaxed),
                healthy_since: b.healthy_since,
            })
            .collect();
        let cursor = self.cursor.fetch_add(1, Ordering::Relaxed);
        balancing::choose(&candidates, self.algorithm, self.slow_start, now, cursor).map(|i| &self.backends[i])
    }
}

/// A target group's slow start window (`slow_start.duration_seconds`; zero when off).
fn slow_start(tg: &TargetGroup) -> Duration {
    tg.attributes
        .get("slow_start.duration_seconds")
        .and_then(|v| v.parse().ok())
        .map_or(Duration::ZERO, Duration::from_secs)
}

/// (target group ARN, target id, port): a registered target.
type TargetKey = (String, String, i64);

/// What one listener serves from: its rules and the target groups they name.
pub(crate) struct Table {
    pub listener: Listener,
    pub rules: Vec<Rule>,
    pub groups: HashMap<String, Group>,
    pub idle_timeout: Duration,
    /// Where its requests and flows are counted (shared by every listener).
    pub traffic: Arc<stats::Traffic>,
}

struct Running {
    addr: SocketAddr,
    table: Arc<RwLock<Arc<Table>>>,
    stop: tokio::sync::oneshot::Sender<()>,
}

#[derive(Default)]
struct Probes {
    /// (target group, target id, port) → consecutive successes (> 0) or failures (< 0).
    streaks: HashMap<TargetKey, i64>,
    last: HashMap<TargetKey, tokio::time::Instant>,
    /// Targets in slow start: when they became healthy. Entered when a target turns
    /// healthy (its recorded state was not healthy) in a group with slow start on and
    /// another healthy target out of slow start; left when it turns unhealthy, is
    /// deregistered, or its window is over.
    healthy_since: HashMap<TargetKey, Instant>,
}

/// The `elbv2-data-plane` controller.
pub struct DataPlane {
    store: ElbStore,
    pool: AddressPool,
    instances: Option<Arc<dyn InstanceAddresses>>,
    running: Mutex<HashMap<String, Running>>,
    probes: Mutex<Probes>,
    client: proxy::Client,
    traffic: Arc<stats::Traffic>,
    /// Requests in flight per target and each group's round-robin cursor.
    load: balancing::Load,
    /// Where load balancer metrics go, and when they last went.
    metrics: Option<Arc<dyn MetricsSink>>,
    published: Mutex<tokio::time::Instant>,
}

impl DataPlane {
    pub fn new(store: ElbStore, setup: crate::DataPlaneSetup) -> Self {
        Self {
            store,
            pool: setup.pool,
            instances: setup.instances,
            running: Mutex::default(),
            probes: Mutex::default(),
            client: proxy::client(),
            traffic: Arc::default(),
            load: balancing::Load::default(),
            metrics: setup.metrics,
            published: Mutex::new(tokio::time::Instant::now()),
        }
    }

    /// The address of a target: its IP, or its instance's host address.
    async fn resolve(&self, id: &str) -> Option<Ipv4Addr> {
        match id.parse() {
            Ok(ip) => Some(ip),
            Err(_) => match &self.instances {
                Some(instances) => instances.address(id).await,
                None => None,
            },
        }
    }

    async fn all<T: crate::store::Document>(&self) -> crate::error::Result<Vec<T>> {
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let batch: Vec<T> = self.store.list(after.as_deref(), 500).await?;
            let full = batch.len() == 500;
            after = batch.last().map(|d| d.key());
            out.extend(batch);
            if !full {
                return Ok(out);
            }
        }
    }

    /// Gives load balancers without one the lowest free address of the pool.
    async fn allocate(&self, lbs: &mut [LoadBalancer]) -> crate::error::Result<()> {
        let mut used: HashSet<String> = lbs.iter().filter_map(|lb| lb.address.clone()).collect();
        let mut i = 0;
        for lb in lbs.iter_mut().filter(|lb| lb.address.is_none()) {
            let address = loop {
                let Some(a) = self.pool.nth(i) else {
                    tracing::warn!(load_balancer = %lb.name, "the load balancer address pool is exhausted");
                    return Ok(());
                };
                i += 1;
                if !used.contains(&a.to_string()) {
                    break a.to_string();
                }
            };
            lb.address = Some(address.clone());
            match self.store.update(lb).await {
                Ok(stored) => {
                    used.insert(address);
                    *lb = stored;
                }
                Err(e) if e.is_conflict() => lb.address = None,
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    async fn backends(
        &self,
        tg: &TargetGroup,
        health: &[TargetHealthRecord],
        healthy_since: &HashMap<TargetKey, Instant>,
    ) -> Vec<Backend> {
        let mut out = Vec::new();
        for t in tg.targets.iter().filter(|t| t.deregistering_since.is_none()) {
            let Some(ip) = self.resolve(&t.id).await else { continue };
            let healthy = health.iter().any(|h| h.target_id == t.id && h.port == t.port && h.state == "healthy");
            let addr = SocketAddr::from((ip, t.port as u16));
            let since = healthy.then(|| healthy_since.get(&(tg.arn.clone(), t.id.clone(), t.port)).copied()).flatten();
            out.push(Backend { addr, healthy, in_flight: self.load.in_flight(&tg.arn, addr), healthy_since: since });
        }
        out
    }

    /// Starts, refreshes and stops listener servers to match the store.
    async fn serve(&self, lbs: &[LoadBalancer], groups: &HashMap<String, TargetGroup>) -> crate::error::Result<()> {
        let mut wanted: HashMap<String, (SocketAddr, Table)> = HashMap::new();
        let healthy_since = self.probes.lock().unwrap_or_else(|p| p.into_inner()).healthy_since.clone();
        let mut served_groups: HashSet<String> = HashSet::new();
        let mut served_targets: HashSet<(String, SocketAddr)> = HashSet::new();
        for lb in lbs {
            let Some(address) = lb.address.as_deref().and_then(|a| a.parse::<Ipv4Addr>().ok()) else { continue };
            let idle = lb
                .attributes
                .get("idle_timeout.timeout_seconds")
                .and_then(|v| v.parse().ok())
                .map_or(Duration::from_secs(60), Duration::from_secs);
            let listeners: Vec<Listener> = self.store.children(&lb.arn).await?;
            for listener in listeners {
                let rules: Vec<Rule> = self.store.children(&listener.arn).await?;
                let mut named: HashSet<&str> = HashSet::new();
                for a in listener.default_actions.iter().chain(rules.iter().flat_map(|r| &r.actions)) {
                    named.extend(a.target_groups());
                }
                let mut table_groups = HashMap::new();
                for arn in named {
                    if let Some(tg) = groups.get(arn) {
                        let health = self.store.health(arn).await?;
                        let backends = self.backends(tg, &health, &healthy_since).await;
                        let sticky_seconds = (tg.attributes.get("stickiness.enabled").map(String::as_str)
                            == Some("true")
                            && tg.attributes.get("stickiness.type").map(String::as_str) == Some("lb_cookie"))
                        .then(|| {
                            tg.attributes
                                .get("stickiness.lb_cookie.duration_seconds")
                                .and_then(|v| v.parse().ok())
                                .unwrap_or(86_400)
                        });
                        served_groups.insert(arn.to_string());
                        served_targets.extend(backends.iter().map(|b| (arn.to_string(), b.addr)));
                        let group = Group {
                            backends,
                            cursor: self.load.cursor(arn),
                            sticky_seconds,
                            algorithm: balancing::Algorithm::from_attribute(
                                tg.attributes.get("load_balancing.algorithm.type").map(String::as_str),
                            ),
                            slow_start: slow_start(tg),
                        };
                        table_groups.insert(arn.to_string(), group);
                    }
                }
                let addr = SocketAddr::from((address, listener.port as u16));
                let table = Table {
                    listener: listener.clone(),
                    rules,
                    groups: table_groups,
                    idle_timeout: idle,
                    traffic: self.traffic.clone(),
                };
                wanted.insert(listener.arn.clone(), (addr, table));
            }
        }
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        let gone: Vec<String> = running
            .iter()
            .filter(|(arn, r)| wanted.get(*arn).is_none_or(|(a, _)| *a != r.addr))
            .map(|(a, _)| a.clone())
            .collect();
        for arn in gone {
            if let Some(r) = running.remove(&arn) {
                let _ = r.stop.send(());
                tracing::info!(listener = %arn, addr = %r.addr, "listener stopped");
            }
        }
        for (arn, (addr, table)) in wanted {
            let fresh = Arc::new(table);
            if let Some(r) = running.get(&arn) {
                *r.table.write().unwrap_or_else(|p| p.into_inner()) = fresh;
                continue;
            }
            let std_listener = match std::net::TcpListener::bind(addr) {
                Ok(l) => l,
                Err(e) => {
                    tracing::warn!(listener = %arn, %addr, error = %e, "a listener cannot listen on its address");
                    continue;
                }
            };
            let _ = std_listener.set_nonblocking(true);
            let Ok(listener) = tokio::net::TcpListener::from_std(std_listener) else { continue };
            let protocol = fresh.listener.protocol;
            let table = Arc::new(RwLock::new(fresh));
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            match protocol {
                Protocol::Http => {
                    let app = proxy::router(table.clone(), self.client.clone());
                    tokio::spawn(async move {
                        let shutdown = async move {
                            let _ = stopped.await;
                        };
                        let limits = flotilla_http::Limits::default();
                        if let Err(e) = flotilla_http::serve(listener, app, limits, shutdown).await {
                            tracing::warn!(%addr, error = %e, "a listener stopped on an error");
                        }
                    });
                }
                Protocol::Tcp => {
                    tokio::spawn(tcp::serve(listener, table.clone(), stopped));
                }
            }
            tracing::info!(listener = %arn, %addr, "listener serving");
            running.insert(arn, Running { addr, table, stop });
        }
        drop(running);
        self.load.prune(&served_groups, &served_targets);
        Ok(())
    }

    /// Probes the targets that are due, and records every change of health.
    async fn check_health(
        &self,
        lbs: &[LoadBalancer],
        groups: &HashMap<String, TargetGroup>,
    ) -> crate::error::Result<()> {
        // Target groups some load balancer forwards to.
        let mut in_use: BTreeMap<String, ()> = BTreeMap::new();
        for lb in lbs {
            let listeners: Vec<Listener> = self.store.children(&lb.arn).await?;
            for l in &listeners {
                let rules: Vec<Rule> = self.store.children(&l.arn).await?;
                for a in l.default_actions.iter().chain(rules.iter().flat_map(|r| &r.actions)) {
                    for tg in a.target_groups() {
                        in_use.insert(tg.to_string(), ());
                    }
                }
            }
        }
        let now = tokio::time::Instant::now();
        let mut due: Vec<(TargetGroup, RegisteredTarget)> = Vec::new();
        {
            let mut probes = self.probes.lock().unwrap_or_else(|p| p.into_inner());
            // Out of slow start: targets deregistered, and those whose window is over.
            let wall = Instant::now();
            probes.healthy_since.retain(|(arn, id, port), since| {
                groups.get(arn).is_some_and(|tg| {
                    wall.saturating_duration_since(*since) < slow_start(tg)
                        && tg.targets.iter().any(|t| &t.id == id && t.port == *port && t.deregistering_since.is_none())
                })
            });
            for arn in in_use.keys() {
                let Some(tg) = groups.get(arn) else { continue };
                if !tg.health_check.enabled {
                    continue;
                }
                let every = Duration::from_secs(tg.health_check.interval_seconds.max(1) as u64);
                for t in tg.targets.iter().filter(|t| t.deregistering_since.is_none()) {
                    let key = (tg.arn.clone(), t.id.clone(), t.port);
                    if probes.last.get(&key).is_none_or(|last| now.duration_since(*last) >= every) {
                        due.push((tg.clone(), t.clone()));
                    }
                }
            }
        }
        let mut set = tokio::task::JoinSet::new();
        for (tg, t) in due {
            let client = self.client.clone();
            let address = self.resolve(&t.id).await;
            set.spawn(async move {
                let outcome = proxy::probe(&client, &tg, &t, address).await;
                (tg, t, outcome)
            });
        }
        // Targets whose recorded state turned healthy in this pass, by group.
        let mut turned_healthy: HashMap<String, (TargetGroup, Vec<TargetKey>)> = HashMap::new();
        while let Some(done) = set.join_next().await {
            let Ok((tg, t, outcome)) = done else { continue };
            let key = (tg.arn.clone(), t.id.clone(), t.port);
            let (changed_to, streak) = {
                let mut probes = self.probes.lock().unwrap_or_else(|p| p.into_inner());
                probes.last.insert(key.clone(), tokio::time::Instant::now());
                let streak = probes.streaks.entry(key).or_insert(0);
                *streak = match (&outcome, *streak) {
                    (Ok(()), s) if s > 0 => s + 1,
                    (Ok(()), _) => 1,
                    (Err(_), s) if s < 0 => s - 1,
                    (Err(_), _) => -1,
                };
                let s = *streak;
                let to = if s >= tg.health_check.healthy_threshold {
                    Some("healthy")
                } else if -s >= tg.health_check.unhealthy_threshold {
                    Some("unhealthy")
                } else {
                    None
                };
                (to, s)
            };
            let Some(state) = changed_to else { continue };
            let (reason, description) = match &outcome {
                Ok(()) => (None, None),
                Err((reason, description)) => (Some(reason.to_string()), Some(description.clone())),
            };
            let record =
                TargetHealthRecord { target_id: t.id.clone(), port: t.port, state: state.into(), reason, description };
            let recorded = self.store.health(&tg.arn).await?;
            let same = recorded.iter().any(|r| {
                r.target_id == record.target_id
                    && r.port == record.port
                    && r.state == record.state
                    && r.reason == record.reason
            });
            let was_healthy = recorded
                .iter()
                .any(|r| r.target_id == record.target_id && r.port == record.port && r.state == "healthy");
            let key = (tg.arn.clone(), t.id.clone(), t.port);
            if state == "healthy" && !was_healthy {
                turned_healthy.entry(tg.arn.clone()).or_insert_with(|| (tg.clone(), Vec::new())).1.push(key);
            } else if state == "unhealthy" {
                self.probes.lock().unwrap_or_else(|p| p.into_inner()).healthy_since.remove(&key);
            }
            if !same {
                tracing::info!(target_group = %tg.name, target = %t.id, port = t.port, state, streak, "target health changed");
                self.store.set_health(&tg.arn, &record, Timestamp::now().0).await?;
            }
        }
        self.enter_slow_start(turned_healthy).await
    }

    /// Puts targets that just turned healthy into slow start, as ALB does: only when
    /// their group has slow start on and another healthy target out of slow start (so
    /// not the first targets of a group, nor targets registered together into an empty one).
    async fn enter_slow_start(
        &self,
        turned_healthy: HashMap<String, (TargetGroup, Vec<TargetKey>)>,
    ) -> crate::error::Result<()> {
        for (arn, (tg, keys)) in turned_healthy {
            let window = slow_start(&tg);
            let health = if window.is_zero() { Vec::new() } else { self.store.health(&arn).await? };
            let now = Instant::now();
            let mut probes = self.probes.lock().unwrap_or_else(|p| p.into_inner());
            let anchored = tg.targets.iter().filter(|t| t.deregistering_since.is_none()).any(|t| {
                let key = (arn.clone(), t.id.clone(), t.port);
                !keys.contains(&key)
                    && health.iter().any(|h| h.target_id == t.id && h.port == t.port && h.state == "healthy")
                    && probes
                        .healthy_since
                        .get(&key)
                        .is_none_or(|since| now.saturating_duration_since(*since) >= window)
            });
            for key in keys {
                if anchored {
                    tracing::info!(target_group = %tg.name, target = %key.1, port = key.2, seconds = window.as_secs(), "target in slow start");
                    probes.healthy_since.insert(key, now);
                } else {
                    probes.healthy_since.remove(&key);
                }
            }
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl Controller for DataPlane {
    fn name(&self) -> &'static str {
        "elbv2-data-plane"
    }

    fn interval(&self) -> Duration {
        PASS_INTERVAL
    }

    async fn reconcile(&self) -> Result<(), PassError> {
        let mut lbs: Vec<LoadBalancer> = self.all().await?;
        self.allocate(&mut lbs).await?;
        let groups: HashMap<String, TargetGroup> =
            self.all::<TargetGroup>().await?.into_iter().map(|tg| (tg.arn.clone(), tg)).collect();
        self.check_health(&lbs, &groups).await?;
        self.serve(&lbs, &groups).await?;
        self.publish(&lbs).await?;
        Ok(())
    }
}

impl DataPlane {
    /// Every [`stats::PUBLISH_EVERY`]: the window's traffic and each target group's
    /// healthy and unhealthy targets, as CloudWatch datapoints.
    async fn publish(&self, lbs: &[LoadBalancer]) -> crate::error::Result<()> {
        let Some(sink) = &self.metrics else { return Ok(()) };
        {
            let mut published = self.published.lock().unwrap_or_else(|p| p.into_inner());
            if published.elapsed() < stats::PUBLISH_EVERY {
                return Ok(());
            }
            *published = tokio::time::Instant::now();
        }
        let window = self.traffic.take();
        let now = Timestamp::now().0;
        let mut data = Vec::new();
        for lb in lbs {
            let mut in_use: BTreeMap<String, (u64, u64)> = BTreeMap::new();
            let listeners: Vec<Listener> = self.store.children(&lb.arn).await?;
            for l in &listeners {
                let rules: Vec<Rule> = self.store.children(&l.arn).await?;
                for a in l.default_actions.iter().chain(rules.iter().flat_map(|r| &r.actions)) {
                    for tg in a.target_groups() {
                        in_use.insert(tg.to_string(), (0, 0));
                    }
                }
            }
            for (arn, counts) in in_use.iter_mut() {
                let Some(tg) = self.store.get::<TargetGroup>(arn).await? else { continue };
                let health = self.store.health(arn).await?;
                for t in tg.targets.iter().filter(|t| t.deregistering_since.is_none()) {
                    let state =
                        health.iter().find(|h| h.target_id == t.id && h.port == t.port).map(|h| h.state.as_str());
                    match state {
                        Some("healthy") => counts.0 += 1,
                        Some("unhealthy") => counts.1 += 1,
                        _ => {}
                    }
                }
            }
            let publishing = stats::Publishing {
                lb_arn: &lb.arn,
                network: lb.kind == crate::model::LoadBalancerType::Network,
                groups: in_use.iter().map(|(k, v)| (k.as_str(), *v)).collect(),
            };
            data.extend(stats::datapoints(&publishing, &window, now));
        }
        if !data.is_empty()
            && let Err(e) = sink.record(data).await
        {
            tracing::warn!(error = %e, "publishing load balancer metrics failed");
        }
        Ok(())
    }

    /// Stops every listener (at shutdown).
    pub fn stop_all(&self) {
        let running = std::mem::take(&mut *self.running.lock().unwrap_or_else(|p| p.into_inner()));
        for (_, r) in running {
            let _ = r.stop.send(());
        }
    }
}
