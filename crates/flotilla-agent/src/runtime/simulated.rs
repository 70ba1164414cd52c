//! A runtime whose containers exist only in memory: the same agent code path, with
//! a configurable start delay and exit behaviour, so one machine can host
//! thousands of simulated container instances.
//!
//! awsvpc tasks get a pause container too, with a fake address from the task
//! subnet and a fake MAC (`0a:58:` and the address), unique among this runtime's
//! tasks and released when the pause container is removed; there is no namespace,
//! and no task-level limit is enforced.

use super::network::{AWSVPC_NETWORK, AddressPool, Ipv4Cidr, PAUSE_IMAGE, PauseSpec};
use super::{
    AGENT_INSTANCE_LABEL, ContainerRuntime, ContainerSpec, ContainerState, ManagedContainer, RuntimeError, RuntimeInfo,
    TASK_ARN_LABEL, TaskLimits,
};
use async_trait::async_trait;
use flotilla_domain::task::{NetworkBinding, NetworkInterface};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How simulated containers behave.
#[derive(Debug, Clone, PartialEq)]
pub struct SimulatedBehaviour {
    /// How long a start takes.
    pub start_delay: Duration,
    /// When set, containers exit on their own this long after starting, with `exit_code`.
    pub run_for: Option<Duration>,
    pub exit_code: i64,
    pub cpus: i64,
    pub memory_mib: i64,
}

impl Default for SimulatedBehaviour {
    fn default() -> Self {
        Self { start_delay: Duration::from_millis(10), run_for: None, exit_code: 0, cpus: 2, memory_mib: 4096 }
    }
}

struct SimContainer {
    spec: ContainerSpec,
    started: Option<Instant>,
    stopped_with: Option<i64>,
    /// A pause container's address (and the subnet it came from); pause containers
    /// never exit on their own.
    interface: Option<(Ipv4Cidr, NetworkInterface)>,
}

pub struct SimulatedRuntime {
    behaviour: SimulatedBehaviour,
    containers: Mutex<HashMap<String, SimContainer>>,
    next_port: Mutex<u16>,
    /// One pool per task subnet.
    addresses: Mutex<Vec<AddressPool>>,
}

impl SimulatedRuntime {
    pub fn new(behaviour: SimulatedBehaviour) -> Self {
        Self {
            behaviour,
            containers: Mutex::new(HashMap::new()),
            next_port: Mutex::new(32768),
            addresses: Mutex::new(Vec::new()),
        }
    }

    /// A fresh address of `cidr`; each runtime starts at a random point of the
    /// subnet, so simulated nodes sharing one rarely give out the same address.
    fn allocate(&self, cidr: Ipv4Cidr) -> Result<NetworkInterface, RuntimeError> {
        let mut pools = self.addresses.lock().unwrap_or_else(|p| p.into_inner());
        let i = match pools.iter().position(|p| p.cidr() == cidr) {
            Some(i) => i,
            None => {
                let start = uuid::Uuid::new_v4().as_u128() as u32;
                pools.push(AddressPool::new(cidr, start));
                pools.len() - 1
            }
        };
        Ok(pools[i].allocate()?)
    }

    fn release(&self, cidr: Ipv4Cidr, ip: &str) {
        let mut pools = self.addresses.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(pool) = pools.iter_mut().find(|p| p.cidr() == cidr) {
            pool.release(ip);
        }
    }

    /// The spec a container was created with, by name.
    #[cfg(test)]
    pub(crate) fn spec_of(&self, name: &str) -> Option<ContainerSpec> {
        self.lock().values().find(|c| c.spec.name == name).map(|c| c.spec.clone())
    }

    /// Addresses given out and not yet released.
    pub fn addresses_in_use(&self) -> usize {
        self.addresses.lock().unwrap_or_else(|p| p.into_inner()).iter().map(AddressPool::in_use).sum()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, SimContainer>> {
        self.containers.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl ContainerRuntime for SimulatedRuntime {
    async fn info(&self) -> Result<RuntimeInfo, RuntimeError> {
        Ok(RuntimeInfo {
            version: "simulated".into(),
            cpus: self.behaviour.cpus,
            memory_mib: self.behaviour.memory_mib,
        })
    }

    async fn pull(&self, _image: &str, _auth: Option<&super::RegistryAuth>) -> Result<(), RuntimeError> {
        Ok(())
    }

    async fn create(&self, spec: &ContainerSpec) -> Result<String, RuntimeError> {
        let mut all = self.lock();
        if all.values().any(|c| c.spec.name == spec.name) {
            return Err(RuntimeError::Create { name: spec.name.clone(), reason: "the name is already in use".into() });
        }
        let id = uuid::Uuid::new_v4().simple().to_string();
        all.insert(id.clone(), SimContainer { spec: spec.clone(), started: None, stopped_with: None, interface: None });
        Ok(id)
    }

    async fn start(&self, id: &str) -> Result<(), RuntimeError> {
        tokio::time::sleep(self.behaviour.start_delay).await;
        let mut all = self.lock();
        let c =
            all.get_mut(id).ok_or_else(|| RuntimeError::Start { id: id.into(), reason: "no such container".into() })?;
        c.started = Some(Instant::now());
        Ok(())
    }

    async fn stop(&self, id: &str, _timeout: Duration) -> Result<(), RuntimeError> {
        if let Some(c) = self.lock().get_mut(id)
            && c.stopped_with.is_none()
        {
            c.stopped_with = Some(143);
        }
        Ok(())
    }

    async fn inspect(&self, id: &str) -> Result<Option<ContainerState>, RuntimeError> {
        let all = self.lock();
        let Some(c) = all.get(id) else { return Ok(None) };
        let natural_exit = match (c.started, self.behaviour.run_for) {
            (Some(at), Some(run_for)) if at.elapsed() >= run_for && c.interface.is_none() => {
                Some(self.behaviour.exit_code)
            }
            _ => None,
        };
        let exit_code = c.stopped_with.or(natural_exit);
        let mut bindings = Vec::new();
        for p in &c.spec.ports {
            let host_port = if p.host_port == 0 {
                let mut next = self.next_port.lock().unwrap_or_else(|p| p.into_inner());
                *next = next.wrapping_add(1).max(32768);
                *next
            } else {
                p.host_port
            };
            bindings.push(NetworkBinding {
                bind_ip: Some("0.0.0.0".into()),
                container_port: p.container_port.into(),
                host_port: host_port.into(),
                protocol: p.protocol,
            });
        }
        Ok(Some(ContainerState {
            running: c.started.is_some() && exit_code.is_none(),
            exit_code: if c.started.is_some() { exit_code } else { None },
            error: None,
            health: c.spec.health.as_ref().map(|_| "HEALTHY".to_string()),
            bindings,
            ipv4: c.interface.as_ref().map(|(_, i)| i.private_ipv4_address.clone()),
            started_at: None,
            image_id: None,
        }))
    }

    async fn remove(&self, id: &str) -> Result<(), RuntimeError> {
        let removed = self.lock().remove(id);
        if let Some((cidr, interface)) = removed.and_then(|c| c.interface) {
            self.release(cidr, &interface.private_ipv4_address);
        }
        Ok(())
    }

    async fn list_managed(&self) -> Result<Vec<ManagedContainer>, RuntimeError> {
        Ok(self
            .lock()
            .iter()
            .filter_map(|(id, c)| {
                Some(ManagedContainer {
                    id: id.clone(),
                    task_arn: c.spec.labels.get(TASK_ARN_LABEL)?.clone(),
                    container_name: c.spec.labels.get(super::CONTAINER_NAME_LABEL)?.clone(),
                    agent_instance: c.spec.labels.get(AGENT_INSTANCE_LABEL).cloned(),
                })
            })
            .collect())
    }

    async fn ensure_volume(&self, _name: &str, _driver: Option<&str>) -> Result<(), RuntimeError> {
        Ok(())
    }

    async fn remove_volume(&self, _name: &str) -> Result<(), RuntimeError> {
        Ok(())
    }

    /// Simulated containers print nothing: the channel closes at once.
    async fn logs(&self, _id: &str, _since: i64) -> Result<tokio::sync::mpsc::Receiver<super::LogLine>, RuntimeError> {
        let (_, rx) = tokio::sync::mpsc::channel(1);
        Ok(rx)
    }

    async fn stats(&self, id: &str) -> Result<Option<serde_json::Value>, RuntimeError> {
        let all = self.lock();
        Ok(all.get(id).map(|c| {
            serde_json::json!({
                "id": id,
                "name": c.spec.name,
                "memory_stats": {"usage": 0, "limit": c.spec.memory_mib.unwrap_or(0) * 1024 * 1024},
                "cpu_stats": {"cpu_usage": {"total_usage": 0}, "online_cpus": self.behaviour.cpus},
            })
        }))
    }

    async fn gateway_ip(&self) -> Option<std::net::IpAddr> {
        None
    }

    /// Simulated images come from no registry.
    async fn image_digest(&self, _image: &str) -> Option<String> {
        None
    }

    async fn create_pause(&self, spec: &PauseSpec) -> Result<String, RuntimeError> {
        let cidr = Ipv4Cidr::parse(&spec.cidr)?;
        let mut all = self.lock();
        if all.values().any(|c| c.spec.name == spec.name) {
            return Err(RuntimeError::Create { name: spec.name.clone(), reason: "the name is already in use".into() });
        }
        let interface = self.allocate(cidr)?;
        let container = ContainerSpec {
            name: spec.name.clone(),
            image: PAUSE_IMAGE.into(),
            labels: spec.labels.clone(),
            network_mode: AWSVPC_NETWORK.into(),
            cgroup_parent: spec.cgroup_parent.clone(),
            ..ContainerSpec::default()
        };
        let id = uuid::Uuid::new_v4().simple().to_string();
        let sim =
            SimContainer { spec: container, started: None, stopped_with: None, interface: Some((cidr, interface)) };
        all.insert(id.clone(), sim);
        Ok(id)
    }

    async fn task_interface(&self, pause_id: &str) -> Result<Option<NetworkInterface>, RuntimeError> {
        let all = self.lock();
        Ok(all
            .get(pause_id)
            .filter(|c| c.started.is_some() && c.stopped_with.is_none())
            .and_then(|c| c.interface.as_ref().map(|(_, i)| i.clone())))
    }

    /// Simulated containers use no CPU or memory: nothing to limit.
    async fn prepare_task_cgroup(&self, _task_id: &str, _limits: &TaskLimits) -> Option<String> {
        None
    }

    async fn release_task_cgroup(&self, _task_id: &str) -> bool {
        true
    }
}
