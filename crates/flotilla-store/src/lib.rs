//! Flotilla's durable state.
//!
//! [`Store`] is what the API layer sees; [`SqlStore`] keeps it in SQLite (the data
//! directory's `flotilla.db`) or PostgreSQL through the storage foundation
//! (`flotilla-db`): one SQL text for both, no process-local truth, every
//! multi-statement change in one transaction, and a `version` per record for
//! optimistic concurrency.

mod batch;
mod error;
mod sql;

pub use error::{StoreError, StoreResult};
pub use flotilla_db::StoreLocation;
pub use sql::{STORE_NAME, SqlStore};

use async_trait::async_trait;
use flotilla_domain::Timestamp;
use flotilla_domain::capacity_provider::CapacityProvider;
use flotilla_domain::cluster::{Cluster, ClusterCounts, ClusterSpec};
use flotilla_domain::container_instance::{ContainerInstance, InstanceStatus, Resources};
use flotilla_domain::service::Service;
use flotilla_domain::tag::Tag;
use flotilla_domain::task::{Task, TaskStatus};
use flotilla_domain::task_definition::{TaskDefinition, TaskDefinitionStatus, ValidatedTaskDefinition};
use std::collections::BTreeMap;

/// Which families ListTaskDefinitionFamilies returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FamilyStatusFilter {
    /// Families with at least one ACTIVE revision.
    Active,
    /// Families with no ACTIVE revision left.
    Inactive,
    All,
}

/// A page request for keyset pagination: resume after `after`, return at most `limit`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<K> {
    pub after: Option<K>,
    pub limit: u32,
}

/// The outcome of CreateCluster: the cluster, and whether this call made it ACTIVE.
#[derive(Debug, Clone, PartialEq)]
pub struct CreatedCluster {
    pub cluster: Cluster,
    pub created: bool,
}

/// What a task reserved and which group it is in, read from columns (no document).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskReservation {
    pub id: String,
    pub cluster: String,
    pub group: String,
    pub cpu: i64,
    pub memory: i64,
}

/// A container instance with what its tasks leave free.
#[derive(Debug, Clone, PartialEq)]
pub struct InstanceLoad {
    /// Shared: a placement batch reads every instance of its pool, and the store
    /// keeps the documents it read for the next batch.
    pub instance: std::sync::Arc<ContainerInstance>,
    /// Registered resources less what non-STOPPED tasks hold; used host ports listed.
    pub remaining: Resources,
    pub running_tasks: i64,
    pub pending_tasks: i64,
    /// Task group → how many of the instance's non-STOPPED tasks belong to it.
    pub groups: BTreeMap<String, u32>,
}

/// Filters of ListTasks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskFilter {
    pub container_instance_id: Option<String>,
    pub family: Option<String>,
    pub started_by: Option<String>,
    /// A task group (ListTasks' `serviceName` is the group `service:NAME`).
    pub group: Option<String>,
    /// RUNNING lists tasks desired to run; STOPPED those desired stopped.
    pub desired_status: Option<TaskStatus>,
}

/// The instances a placement chooses among.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pool {
    /// The cluster's instances that serve the EC2 launch type.
    Cluster(String),
    /// Every node serving Fargate, of any cluster (tasks of the cluster `for_cluster`).
    Fargate { for_cluster: String },
}

/// Chooses an instance for each task from a snapshot of the cluster's instances:
/// an index into the loads, or the reason (ECS's wording) the task could not be placed.
/// Shared, as it may run in a batch with other callers' placements.
pub type Placer =
    std::sync::Arc<dyn Fn(&[InstanceLoad], &[Task], &mut PlacementScratch) -> Vec<Result<usize, String>> + Send + Sync>;

/// What the placers of a pool hand on to each other: a placer may leave a view of the
/// loads it built (kept current with its own placements) for the next placer to
/// reuse, after bringing it up to the loads it is given, rather than build it for
/// every call. The store keeps it from one committed batch of the pool to the next
/// (in this process only: it is never the truth, the loads are); a batch that fails
/// drops it.
pub type PlacementScratch = Option<Box<dyn std::any::Any + Send>>;

/// Durable state behind the API. Implementations must be safe to share between
/// control-plane replicas: every method is one transaction.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Whether this process is the store's only writer (SQLite: one process owns the
    /// data directory), so no change made elsewhere needs looking for.
    fn written_only_here(&self) -> bool;

    /// Creates the cluster, or reactivates an INACTIVE one of that name; an ACTIVE
    /// cluster of that name is returned unchanged (CreateCluster is idempotent).
    /// Tags are attached only when this call made the cluster ACTIVE.
    async fn create_cluster(
        &self,
        name: &str,
        spec: &ClusterSpec,
        tags: &[Tag],
        now: Timestamp,
    ) -> StoreResult<CreatedCluster>;
    async fn get_cluster(&self, name: &str) -> StoreResult<Option<Cluster>>;
    /// Names of ACTIVE clusters in name order.
    async fn list_cluster_names(&self, page: Page<String>) -> StoreResult<Vec<String>>;
    /// Stores `cluster` if its `version` is still the stored one, and returns it with
    /// the new version; otherwise [`StoreError::Conflict`].
    async fn update_cluster(&self, cluster: &Cluster) -> StoreResult<Cluster>;

    /// Stores a new revision: the next number of the family, with no gap and no
    /// duplicate even under concurrent registrations. Tags are attached to the new
    /// revision's ARN in the same transaction.
    async fn register_task_definition(
        &self,
        definition: &ValidatedTaskDefinition,
        tags: &[Tag],
        registered_by: &str,
        now: Timestamp,
    ) -> StoreResult<TaskDefinition>;
    async fn get_task_definition(&self, family: &str, revision: i64) -> StoreResult<Option<TaskDefinition>>;
    async fn latest_active_task_definition(&self, family: &str) -> StoreResult<Option<TaskDefinition>>;
    /// (family, revision) pairs, sorted by family then revision, ascending or not.
    /// `family` is a whole family name (ECS's `familyPrefix` of ListTaskDefinitions
    /// is "the full family name").
    async fn list_task_definitions(
        &self,
        family: Option<&str>,
        status: TaskDefinitionStatus,
        descending: bool,
        page: Page<(String, i64)>,
    ) -> StoreResult<Vec<(String, i64)>>;
    async fn list_task_definition_families(
        &self,
        family_prefix: Option<&str>,
        status: FamilyStatusFilter,
        page: Page<String>,
    ) -> StoreResult<Vec<String>>;
    /// Moves a revision from `from` to `to` status, recording when. Returns the
    /// revision as stored afterwards, or `None` if it does not exist. A revision not
    /// in `from` is returned unchanged.
    async fn transition_task_definition(
        &self,
        family: &str,
        revision: i64,
        from: TaskDefinitionStatus,
        to: TaskDefinitionStatus,
        now: Timestamp,
    ) -> StoreResult<Option<TaskDefinition>>;

    /// Figures of a cluster counted from its instances, tasks and services.
    async fn cluster_counts(&self, cluster: &str) -> StoreResult<ClusterCounts>;

    /// Stores a new registration, or replaces the document of an existing one
    /// (re-registration keeps the instance's id and bumps its version).
    async fn put_container_instance(&self, instance: &ContainerInstance) -> StoreResult<ContainerInstance>;
    async fn get_container_instance(&self, id: &str) -> StoreResult<Option<ContainerInstance>>;
    /// The cluster's instances (optionally of one status) in id order, with their
    /// load; nodes serving only Fargate are left out unless `with_fargate_only`.
    async fn list_container_instances(
        &self,
        cluster: &str,
        status: Option<InstanceStatus>,
        with_fargate_only: bool,
        page: Page<String>,
    ) -> StoreResult<Vec<InstanceLoad>>;
    /// Every node serving Fargate, of any cluster and status, with its load.
    async fn fargate_nodes(&self) -> StoreResult<Vec<InstanceLoad>>;
    async fn instance_load(&self, id: &str) -> StoreResult<Option<InstanceLoad>>;
    /// Optimistic update of an instance's document; [`StoreError::Conflict`] if stale.
    async fn update_container_instance(&self, instance: &ContainerInstance) -> StoreResult<ContainerInstance>;
    /// Records that the instance's agent is alive.
    async fn heartbeat(&self, id: &str, now: flotilla_domain::Timestamp) -> StoreResult<()>;

    /// Places and stores new tasks, each with `tags`, in one transaction, so
    /// concurrent placements never overcommit an instance and no task is ever stored
    /// without its tags. `placer` sees every ACTIVE or DRAINING instance of the
    /// pool with its load (it decides which may take tasks). Tasks carrying a
    /// client token already used in their cluster are not placed again: the stored
    /// ones are returned instead. Concurrent placements in one pool may share a
    /// transaction: each sees the loads with the tasks placed before it.
    async fn place_tasks(
        &self,
        pool: &Pool,
        tasks: Vec<Task>,
        tags: &[Tag],
        placer: Placer,
    ) -> StoreResult<Vec<Result<Task, String>>>;
    /// Stores new tasks no instance could take yet (PROVISIONING, no instance), with
    /// `tags`, in one transaction: they wait for their capacity provider's capacity.
    async fn store_waiting_tasks(&self, tasks: &[Task], tags: &[Tag]) -> StoreResult<()>;
    /// Every task still waiting for capacity (PROVISIONING on no instance, desired RUNNING).
    async fn waiting_tasks(&self) -> StoreResult<Vec<Task>>;
    /// Places waiting tasks like [`Store::place_tasks`] places new ones: in one
    /// transaction under the pool's placement locks; placed ones are stored on their
    /// instance. One result per task given, in order (an error for a task no longer
    /// waiting as given).
    async fn place_waiting_tasks(
        &self,
        pool: &Pool,
        tasks: Vec<Task>,
        placer: Placer,
    ) -> StoreResult<Vec<Result<Task, String>>>;
    async fn get_task(&self, id: &str) -> StoreResult<Option<Task>>;
    /// Task ids in id order.
    async fn list_task_ids(&self, cluster: &str, filter: &TaskFilter, page: Page<String>) -> StoreResult<Vec<String>>;
    /// The tasks an instance's agent must know of: every one not yet STOPPED.
    async fn tasks_for_instance(&self, instance_id: &str) -> StoreResult<Vec<Task>>;
    /// The reservations of the tasks among `ids` that exist, in no particular order.
    async fn task_reservations(&self, ids: &[String]) -> StoreResult<Vec<TaskReservation>>;
    /// The (cluster, id, desired status) of each of [`Store::tasks_for_instance`]'s
    /// tasks, without reading their documents: what a waiting long poll compares.
    async fn task_wishes_for_instance(&self, instance_id: &str) -> StoreResult<Vec<(String, String, TaskStatus)>>;
    /// Optimistic update of a task (its `version` must be the stored one); the
    /// stored task gets `version + 1`.
    async fn update_task(&self, task: &Task) -> StoreResult<Task>;

    /// Stores a new service with its tags in one transaction. Returns `None` when the
    /// cluster already has a service of that name that is not INACTIVE (an INACTIVE
    /// one is replaced).
    async fn create_service(&self, service: &Service, tags: &[Tag]) -> StoreResult<Option<Service>>;
    async fn get_service(&self, cluster: &str, name: &str) -> StoreResult<Option<Service>>;
    /// The cluster's ACTIVE services (and DRAINING ones with `with_draining`) in name order.
    async fn list_services(&self, cluster: &str, with_draining: bool, page: Page<String>) -> StoreResult<Vec<Service>>;
    /// Optimistic update of a service (its `version` must be the stored one).
    async fn update_service(&self, service: &Service) -> StoreResult<Service>;
    /// A task group's tasks: every one not STOPPED, and the STOPPED ones created at
    /// or after `stopped_since`.
    async fn group_tasks(&self, cluster: &str, group: &str, stopped_since: Timestamp) -> StoreResult<Vec<Task>>;

    /// Adds or overwrites tags; refuses with [`StoreError::Limit`] if the resource
    /// would end up with more than `max_tags`.
    /// Creates a capacity provider, or reuses the name of an INACTIVE one; `None` when
    /// an ACTIVE one has the name. Tags are attached in the same transaction.
    async fn create_capacity_provider(
        &self,
        provider: &CapacityProvider,
        tags: &[Tag],
    ) -> StoreResult<Option<CapacityProvider>>;
    async fn get_capacity_provider(&self, name: &str) -> StoreResult<Option<CapacityProvider>>;
    /// Every capacity provider, ACTIVE or not, by name.
    async fn list_capacity_providers(&self) -> StoreResult<Vec<CapacityProvider>>;
    /// Optimistic update; [`StoreError::Conflict`] if stale.
    async fn update_capacity_provider(&self, provider: &CapacityProvider) -> StoreResult<CapacityProvider>;
    async fn tag_resource(&self, arn: &str, tags: &[Tag], max_tags: usize) -> StoreResult<()>;
    async fn untag_resource(&self, arn: &str, keys: &[String]) -> StoreResult<()>;
    async fn list_tags(&self, arn: &str) -> StoreResult<Vec<Tag>>;
}
