//! Flotilla's durable state.
//!
//! [`Store`] is what the API layer sees; [`SqliteStore`] keeps it in one SQLite
//! file (WAL, `synchronous=FULL`, so an acknowledged write survives `kill -9` and
//! power loss). The SQL is written to carry over to PostgreSQL: no process-local
//! truth, every multi-statement change in one transaction, and a `version` per
//! record for optimistic concurrency.

mod error;
mod sqlite;

pub use error::{StoreError, StoreResult};
pub use sqlite::SqliteStore;

use async_trait::async_trait;
use flotilla_domain::Timestamp;
use flotilla_domain::cluster::{Cluster, ClusterSpec};
use flotilla_domain::tag::Tag;
use flotilla_domain::task_definition::{TaskDefinition, TaskDefinitionStatus, ValidatedTaskDefinition};

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

/// Durable state behind the API. Implementations must be safe to share between
/// control-plane replicas: every method is one transaction.
#[async_trait]
pub trait Store: Send + Sync + 'static {
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
    async fn list_task_definitions(
        &self,
        family_prefix: Option<&str>,
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

    /// Adds or overwrites tags; refuses with [`StoreError::Limit`] if the resource
    /// would end up with more than `max_tags`.
    async fn tag_resource(&self, arn: &str, tags: &[Tag], max_tags: usize) -> StoreResult<()>;
    async fn untag_resource(&self, arn: &str, keys: &[String]) -> StoreResult<()>;
    async fn list_tags(&self, arn: &str) -> StoreResult<Vec<Tag>>;
}
