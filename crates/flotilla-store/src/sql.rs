//! [`Store`] on the storage foundation: the same SQL on SQLite and PostgreSQL.

use crate::batch::{Batcher, Entry, fail_all};
use crate::error::{StoreError, StoreResult};
use crate::{
    CreatedCluster, FamilyStatusFilter, InstanceLoad, Page, PlacementScratch, Placer, Pool, Store, TaskFilter,
    TaskReservation,
};
use async_trait::async_trait;
use flotilla_db::{Backend, Db, DbError, Doing, Migrations, RowExt, StoreLocation, Tx, placeholders};
use flotilla_domain::capacity_provider::CapacityProvider;
use flotilla_domain::cluster::{Cluster, ClusterCounts, ClusterSpec, ClusterStatus};
use flotilla_domain::container_instance::{ContainerInstance, InstanceStatus, NodeCapacity};
use flotilla_domain::service::{Service, ServiceStatus};
use flotilla_domain::tag::Tag;
use flotilla_domain::task::{Task, TaskStatus};
use flotilla_domain::task_definition::TransportProtocol;
use flotilla_domain::task_definition::{TaskDefinition, TaskDefinitionStatus, ValidatedTaskDefinition};
use flotilla_domain::{AccountContext, EcsArns, Timestamp};
use sqlx::Any;
use sqlx::any::AnyRow;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

static SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// The ECS store's name: `flotilla.db` on SQLite, schema `flotilla` on PostgreSQL.
pub const STORE_NAME: &str = "flotilla";

/// A [`Store`] in a SQL database (SQLite or PostgreSQL, through [`Db`]).
#[derive(Clone)]
pub struct SqlStore {
    db: Db,
    account: AccountContext,
    placements: Arc<Batcher<PlacementRequest, Placed>>,
    task_updates: Arc<Batcher<Task, Task>>,
    heartbeats: Arc<Batcher<(String, Timestamp), ()>>,
    instances: InstanceCache,
    /// The placers' view of each pool, left by its last committed batch.
    scratches: Arc<Mutex<HashMap<String, PlacementScratch>>>,
}

/// A placement waiting for its batch.
struct PlacementRequest {
    pool: Pool,
    tasks: Vec<Task>,
    tags: Vec<Tag>,
    placer: Placer,
}

/// A placement's answer: a result per task, in order.
type Placed = Vec<Result<Task, String>>;

/// The most placements one transaction takes.
const MAX_PLACEMENT_BATCH: usize = 64;
/// The most task updates one transaction takes.
const MAX_TASK_UPDATE_BATCH: usize = 256;
/// The most agent heartbeats one transaction takes.
const MAX_HEARTBEAT_BATCH: usize = 512;

/// Which placements may share a batch: those drawing on the same instances. What this
/// process keeps per pool (instance documents, the placers' view) is kept under it too.
fn pool_key(pool: &Pool) -> String {
    match pool {
        Pool::Cluster(c) => format!("cluster {c}"),
        // Every Fargate placement draws on the same nodes, whichever cluster it is for.
        Pool::Fargate { .. } => "fargate".to_string(),
    }
}

impl SqlStore {
    /// Opens (creating if needed) the ECS store at `location` and applies migrations.
    pub async fn open(location: &StoreLocation, account: AccountContext) -> StoreResult<Self> {
        let db = Db::open(location, STORE_NAME, &Migrations { sqlite: &SQLITE, postgres: &POSTGRES }).await?;
        fill_load_columns(&db).await?;
        Ok(Self {
            db,
            account,
            placements: Arc::new(Batcher::new(MAX_PLACEMENT_BATCH)),
            task_updates: Arc::new(Batcher::new(MAX_TASK_UPDATE_BATCH)),
            heartbeats: Arc::new(Batcher::new(MAX_HEARTBEAT_BATCH)),
            instances: InstanceCache::default(),
            scratches: Arc::default(),
        })
    }

    /// The database, e.g. for leases kept beside the ECS state.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Flushes and closes every connection.
    pub async fn close(&self) {
        self.db.close().await;
    }

    async fn write(&self) -> StoreResult<Tx> {
        Ok(self.db.write().await?)
    }
}

fn corrupt(what: impl Into<String>, reason: impl ToString) -> StoreError {
    DbError::corrupt(what, reason).into()
}

fn cluster_from_row(row: &AnyRow) -> StoreResult<Cluster> {
    let name: String = row.col("name")?;
    let status: String = row.col("status")?;
    let body: String = row.col("body")?;
    Ok(Cluster {
        status: ClusterStatus::parse(&status).ok_or_else(|| corrupt(format!("cluster {name}"), "unknown status"))?,
        spec: serde_json::from_str(&body).map_err(|e| corrupt(format!("cluster {name}"), e))?,
        created_at: Timestamp(row.col("created_at")?),
        version: row.col("version")?,
        name,
    })
}

const TASK_DEFINITION_COLUMNS: &str = "family, revision, status, body, compatibilities, requires_attributes, \
     registered_at, registered_by, deregistered_at, delete_requested_at";

fn task_definition_from_row(row: &AnyRow) -> StoreResult<TaskDefinition> {
    let family: String = row.col("family")?;
    let revision: i64 = row.col("revision")?;
    let what = || format!("task definition {family}:{revision}");
    let status: String = row.col("status")?;
    let json = |col: &str| -> StoreResult<Vec<String>> {
        serde_json::from_str(&row.col::<String>(col)?).map_err(|e| corrupt(what(), e))
    };
    Ok(TaskDefinition {
        status: TaskDefinitionStatus::parse(&status).ok_or_else(|| corrupt(what(), "unknown status"))?,
        spec: serde_json::from_str(&row.col::<String>("body")?).map_err(|e| corrupt(what(), e))?,
        compatibilities: json("compatibilities")?,
        requires_attributes: json("requires_attributes")?,
        registered_at: Timestamp(row.col("registered_at")?),
        registered_by: row.col("registered_by")?,
        deregistered_at: row.col::<Option<i64>>("deregistered_at")?.map(Timestamp),
        delete_requested_at: row.col::<Option<i64>>("delete_requested_at")?.map(Timestamp),
        family,
        revision,
    })
}

fn to_json<T: serde::Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).expect("domain documents always serialise")
}

async fn insert_tags(tx: &mut Tx, arn: &str, tags: &[Tag]) -> StoreResult<()> {
    for tag in tags {
        sqlx::query(
            "INSERT INTO resource_tags (resource_arn, key, value) VALUES ($1, $2, $3) \
             ON CONFLICT (resource_arn, key) DO UPDATE SET value = excluded.value",
        )
        .bind(arn)
        .bind(&tag.key)
        .bind(&tag.value)
        .execute(&mut **tx)
        .await
        .doing("writing tags")?;
    }
    Ok(())
}

fn service_from_row(row: &AnyRow) -> StoreResult<Service> {
    let body: String = row.col("body")?;
    let mut service: Service = serde_json::from_str(&body).map_err(|e| corrupt("service", e))?;
    service.version = row.col("version")?;
    Ok(service)
}

fn instance_from_body(body: &str) -> StoreResult<ContainerInstance> {
    serde_json::from_str(body).map_err(|e| corrupt("container instance", e))
}

fn capacity_column(capacity: NodeCapacity) -> &'static str {
    match capacity {
        NodeCapacity::Ec2 => "EC2",
        NodeCapacity::Ec2AndFargate => "EC2_AND_FARGATE",
        NodeCapacity::Fargate => "FARGATE",
    }
}

fn provider_from_body(body: &str) -> StoreResult<CapacityProvider> {
    serde_json::from_str(body).map_err(|e| corrupt("capacity provider", e))
}

fn task_from_body(body: &str) -> StoreResult<Task> {
    serde_json::from_str(body).map_err(|e| corrupt("task", e))
}

/// What live tasks hold on one instance, summed from the tasks' load columns.
#[derive(Debug, Default)]
struct Usage {
    cpu: i64,
    memory: i64,
    running: i64,
    pending: i64,
    groups: BTreeMap<String, u32>,
    ports_tcp: Vec<u16>,
    ports_udp: Vec<u16>,
}

/// Registered resources less what the instance's live tasks hold.
fn load_of(instance: Arc<ContainerInstance>, usage: Usage) -> InstanceLoad {
    let mut remaining = instance.registered.clone();
    remaining.cpu = remaining.cpu.saturating_sub(usage.cpu);
    remaining.memory = remaining.memory.saturating_sub(usage.memory);
    remaining.ports_tcp.extend(usage.ports_tcp);
    remaining.ports_udp.extend(usage.ports_udp);
    InstanceLoad {
        instance,
        remaining,
        running_tasks: usage.running,
        pending_tasks: usage.pending,
        groups: usage.groups,
    }
}

/// The host ports a task holds: its reservation's and those its containers are bound to.
fn held_ports(task: &Task) -> Vec<(TransportProtocol, u16)> {
    let reserved = (task.reservation.ports_tcp.iter().map(|p| (TransportProtocol::Tcp, *p)))
        .chain(task.reservation.ports_udp.iter().map(|p| (TransportProtocol::Udp, *p)));
    let bound = task
        .containers
        .iter()
        .flat_map(|c| &c.network_bindings)
        .filter_map(|b| u16::try_from(b.host_port).ok().map(|p| (b.protocol, p)));
    reserved.chain(bound).collect()
}

/// The `host_ports` column: `T80 U53`, or NULL when the task holds none.
fn encode_ports(ports: &[(TransportProtocol, u16)]) -> Option<String> {
    let words: Vec<String> = ports
        .iter()
        .map(|(protocol, port)| match protocol {
            TransportProtocol::Tcp => format!("T{port}"),
            TransportProtocol::Udp => format!("U{port}"),
        })
        .collect();
    (!words.is_empty()).then(|| words.join(" "))
}

fn decode_ports(column: &str, usage: &mut Usage) -> StoreResult<()> {
    for word in column.split_ascii_whitespace() {
        let bad = || corrupt("a task's host ports", format!("'{word}' in '{column}'"));
        let port = word.get(1..).and_then(|p| p.parse::<u16>().ok()).ok_or_else(bad)?;
        match word.as_bytes()[0] {
            b'T' => usage.ports_tcp.push(port),
            b'U' => usage.ports_udp.push(port),
            _ => return Err(bad()),
        }
    }
    Ok(())
}

/// What the instances `instances_where` selects (a condition on
/// `container_instances`, binding `$1`.. to `args`) hold in live (not STOPPED) tasks,
/// by instance id; no task document is read. On SQLite from the `task_load` rows the
/// tasks' triggers keep; on PostgreSQL (where such triggers cost too much, see its
/// migration 0008) summed from the covering index, the instances chosen first.
/// Tasks are found by the instance they are on, so a Fargate task of another cluster
/// counts on the node it runs on.
async fn usage_by_instance<'e, E: sqlx::Executor<'e, Database = Any>>(
    executor: E,
    backend: Backend,
    instances_where: &str,
    args: &[&str],
) -> StoreResult<std::collections::HashMap<String, Usage>> {
    let sql = match backend {
        Backend::Sqlite => format!(
            "SELECT container_instance_id, task_group, last_status, host_ports, tasks, cpu, memory \
             FROM task_load WHERE container_instance_id IN \
             (SELECT id FROM container_instances WHERE {instances_where})"
        ),
        Backend::Postgres => format!(
            "SELECT container_instance_id, task_group, last_status, COALESCE(host_ports, '') AS host_ports, \
             COUNT(*) AS tasks, CAST(COALESCE(SUM(reserved_cpu), 0) AS BIGINT) AS cpu, \
             CAST(COALESCE(SUM(reserved_memory), 0) AS BIGINT) AS memory \
             FROM tasks WHERE last_status <> 'STOPPED' AND container_instance_id IN \
             (SELECT id FROM container_instances WHERE {instances_where}) \
             GROUP BY container_instance_id, task_group, last_status, host_ports"
        ),
    };
    let mut query = sqlx::query(&sql);
    for arg in args {
        query = query.bind(*arg);
    }
    let rows = query.fetch_all(executor).await.doing("reading what the tasks of a set of instances hold")?;
    let mut by_instance: std::collections::HashMap<String, Usage> = std::collections::HashMap::new();
    for r in rows {
        let usage = by_instance.entry(r.col("container_instance_id")?).or_default();
        let tasks: i64 = r.col("tasks")?;
        usage.cpu += r.col::<i64>("cpu")?;
        usage.memory += r.col::<i64>("memory")?;
        let status: String = r.col("last_status")?;
        match TaskStatus::parse(&status) {
            Some(TaskStatus::Running) => usage.running += tasks,
            Some(s) if s.is_pending() => usage.pending += tasks,
            Some(_) => {}
            None => return Err(corrupt("a task", format!("unknown status {status}"))),
        }
        *usage.groups.entry(r.col("task_group")?).or_default() += u32::try_from(tasks).unwrap_or(u32::MAX);
        let ports: String = r.col("host_ports")?;
        if !ports.is_empty() {
            for _ in 0..tasks {
                decode_ports(&ports, usage)?;
            }
        }
    }
    Ok(by_instance)
}

/// Which instances each pool holds (a condition binding `$1`), and its argument.
fn pool_instances(pool: &Pool) -> (&'static str, &str) {
    match pool {
        Pool::Cluster(cluster) => ("cluster = $1 AND capacity <> 'FARGATE'", cluster.as_str()),
        Pool::Fargate { .. } => ("capacity <> 'EC2' AND $1 = $1", ""),
    }
}

async fn live_tasks_of<'e, E: sqlx::Executor<'e, Database = Any>>(
    executor: E,
    instance_id: &str,
) -> StoreResult<Vec<Task>> {
    let rows = sqlx::query("SELECT body FROM tasks WHERE container_instance_id = $1 AND last_status <> 'STOPPED'")
        .bind(instance_id)
        .fetch_all(executor)
        .await
        .doing("reading an instance's tasks")?;
    rows.iter().map(|r| task_from_body(&r.col::<String>("body")?)).collect()
}

/// Fills the load columns of tasks stored before they existed (migration 0006), in
/// batches; a task stopped by then holds nothing.
async fn fill_load_columns(db: &Db) -> StoreResult<()> {
    sqlx::query(
        "UPDATE tasks SET reserved_cpu = 0, reserved_memory = 0 WHERE reserved_cpu IS NULL AND last_status = 'STOPPED'",
    )
    .execute(db.writer())
    .await
    .doing("filling the load columns of stopped tasks")?;
    loop {
        let rows = sqlx::query("SELECT body FROM tasks WHERE reserved_cpu IS NULL ORDER BY id LIMIT 500")
            .fetch_all(db.writer())
            .await
            .doing("reading tasks without load columns")?;
        if rows.is_empty() {
            return Ok(());
        }
        let mut tx = db.write().await?;
        for r in rows {
            let task = task_from_body(&r.col::<String>("body")?)?;
            sqlx::query("UPDATE tasks SET reserved_cpu = $1, reserved_memory = $2, host_ports = $3 WHERE id = $4")
                .bind(task.reservation.cpu)
                .bind(task.reservation.memory)
                .bind(encode_ports(&held_ports(&task)))
                .bind(&task.id)
                .execute(&mut *tx)
                .await
                .doing("filling a task's load columns")?;
        }
        tx.commit().await.doing("committing tasks' load columns")?;
    }
}

/// Columns of a task row, in the order [`insert_tasks`] binds them.
const TASK_COLUMNS: usize = 15;

/// Stores new tasks, many rows a statement: a placement batch's tasks cost a few
/// round trips to the database rather than one each.
async fn insert_tasks(tx: &mut Tx, tasks: &[Task]) -> StoreResult<()> {
    // 64 rows bind 960 values, well inside both backends' limits.
    for chunk in tasks.chunks(64) {
        let rows = (0..chunk.len())
            .map(|i| format!("({})", placeholders(i * TASK_COLUMNS + 1, TASK_COLUMNS)))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "INSERT INTO tasks (id, cluster, container_instance_id, family, started_by, task_group, desired_status, \
             last_status, client_token, created_at, body, version, reserved_cpu, reserved_memory, host_ports) \
             VALUES {rows}"
        );
        let mut query = sqlx::query(&sql);
        for task in chunk {
            query = query
                .bind(&task.id)
                .bind(&task.cluster)
                .bind(&task.container_instance_id)
                .bind(&task.family)
                .bind(&task.started_by)
                .bind(&task.group)
                .bind(task.desired_status.as_str())
                .bind(task.last_status.as_str())
                .bind(&task.client_token)
                .bind(task.created_at.0)
                .bind(to_json(task))
                .bind(task.version)
                .bind(task.reservation.cpu)
                .bind(task.reservation.memory)
                .bind(encode_ports(&held_ports(task)));
        }
        query.execute(&mut **tx).await.doing("storing tasks")?;
    }
    Ok(())
}

/// The stored tasks of each of these client tokens, by (cluster, token), each
/// token's sorted by ID.
async fn tasks_by_token(tx: &mut Tx, tokens: &[(String, String)]) -> StoreResult<HashMap<(String, String), Vec<Task>>> {
    let mut by_cluster: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (cluster, token) in tokens {
        by_cluster.entry(cluster).or_default().push(token);
    }
    let mut out: HashMap<(String, String), Vec<Task>> = HashMap::new();
    for (cluster, tokens) in by_cluster {
        for chunk in tokens.chunks(500) {
            // Sorted here: an ORDER BY id leads SQLite to walk every task of the
            // cluster in id order rather than use the token's index.
            let sql = format!(
                "SELECT body FROM tasks WHERE cluster = $1 AND client_token IN ({})",
                placeholders(2, chunk.len())
            );
            let mut query = sqlx::query(&sql).bind(cluster);
            for token in chunk {
                query = query.bind(*token);
            }
            for row in query.fetch_all(&mut **tx).await.doing("looking up client tokens")? {
                let task = task_from_body(&row.col::<String>("body")?)?;
                let token = task.client_token.clone().unwrap_or_default();
                out.entry((task.cluster.clone(), token)).or_default().push(task);
            }
        }
    }
    out.values_mut().for_each(|tasks| tasks.sort_by(|a, b| a.id.cmp(&b.id)));
    Ok(out)
}

impl SqlStore {
    /// Placements on one instance see each other's tasks, on every replica: a
    /// cluster's placements take its lock, and a Fargate placement takes the lock of
    /// every cluster whose nodes serve Fargate (in name order).
    async fn lock_pool(&self, tx: &mut Tx, pool: &Pool) -> StoreResult<()> {
        let locks = match pool {
            Pool::Cluster(cluster) => vec![cluster.clone()],
            Pool::Fargate { .. } => sqlx::query_scalar::<_, String>(
                "SELECT DISTINCT cluster FROM container_instances WHERE capacity <> 'EC2' ORDER BY cluster",
            )
            .fetch_all(&mut **tx)
            .await
            .doing("reading the clusters of Fargate capacity")?,
        };
        for cluster in &locks {
            self.db.lock(tx, &format!("placement {cluster}")).await?;
        }
        Ok(())
    }
}

impl SqlStore {
    /// Places a batch of requests in one transaction and answers each: all of them
    /// fail together if the transaction does.
    async fn place_batch(&self, batch: Vec<Entry<PlacementRequest, Placed>>) {
        match self.try_place_batch(&batch).await {
            Ok(results) => {
                for (entry, placed) in batch.into_iter().zip(results) {
                    entry.answer(Ok(placed));
                }
            }
            Err(e) => fail_all(batch, &e),
        }
    }

    async fn try_place_batch(&self, batch: &[Entry<PlacementRequest, Placed>]) -> StoreResult<Vec<Placed>> {
        let Some(pool) = batch.first().map(|e| e.payload.pool.clone()) else { return Ok(Vec::new()) };
        let pool = &pool;
        let mut tx = self.write().await?;
        self.lock_pool(&mut tx, pool).await?;
        let mut loads = self.instances.pool_loads(&mut tx, self.db.backend(), pool).await?;
        let tokens: Vec<(String, String)> = batch
            .iter()
            .filter_map(|e| e.payload.tasks.first())
            .filter_map(|t| Some((t.cluster.clone(), t.client_token.clone()?)))
            .collect();
        // Tokens stored before this batch, then those placed in it: (cluster, token) → its tasks.
        let mut tokens = tasks_by_token(&mut tx, &tokens).await?;
        let mut out = Vec::with_capacity(batch.len());
        let mut new_tasks = Vec::new();
        let pool_key = pool_key(pool);
        let mut scratch = self.scratches.lock().unwrap_or_else(|p| p.into_inner()).remove(&pool_key).flatten();
        for request in batch.iter().map(|e| &e.payload) {
            let Some(first) = request.tasks.first() else {
                out.push(Vec::new());
                continue;
            };
            let token = first.client_token.as_ref().map(|token| (first.cluster.clone(), token.clone()));
            if let Some(earlier) = token.as_ref().and_then(|key| tokens.get(key)) {
                out.push(earlier.iter().cloned().map(Ok).collect());
                continue;
            }
            let decisions = (request.placer)(&loads, &request.tasks, &mut scratch);
            let mut placed = Vec::with_capacity(request.tasks.len());
            for (task, decision) in request.tasks.iter().zip(decisions) {
                match decision {
                    Ok(i) => {
                        let task = Task { container_instance_id: Some(loads[i].instance.id.clone()), ..task.clone() };
                        insert_tags(&mut tx, &self.account.task_arn(&task.cluster, &task.id), &request.tags).await?;
                        hold(&mut loads[i], &task);
                        new_tasks.push(task.clone());
                        placed.push(Ok(task));
                    }
                    Err(reason) => placed.push(Err(reason)),
                }
            }
            if let Some(key) = token {
                let stored: Vec<Task> = placed.iter().filter_map(|p| p.as_ref().ok().cloned()).collect();
                if !stored.is_empty() {
                    tokens.insert(key, stored);
                }
            }
            out.push(placed);
        }
        insert_tasks(&mut tx, &new_tasks).await?;
        tx.commit().await.doing("committing placed tasks")?;
        self.scratches.lock().unwrap_or_else(|p| p.into_inner()).insert(pool_key, scratch);
        Ok(out)
    }
}

impl SqlStore {
    /// Records a batch of agent heartbeats in one transaction.
    async fn heartbeat_batch(&self, batch: Vec<Entry<(String, Timestamp), ()>>) {
        let written: StoreResult<()> = async {
            let mut tx = self.write().await?;
            for entry in &batch {
                let (id, now) = &entry.payload;
                sqlx::query("UPDATE container_instances SET last_heartbeat = $1 WHERE id = $2")
                    .bind(now.0)
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .doing("recording an agent heartbeat")?;
            }
            tx.commit().await.doing("committing agent heartbeats")?;
            Ok(())
        }
        .await;
        match written {
            Ok(()) => batch.into_iter().for_each(|entry| entry.answer(Ok(()))),
            Err(e) => fail_all(batch, &e),
        }
    }

    /// Stores a batch of task updates in one transaction: each one whose version is
    /// still the stored one is written, the others answered with a conflict.
    async fn update_task_batch(&self, batch: Vec<Entry<Task, Task>>) {
        let mut outcomes = Vec::with_capacity(batch.len());
        let written: StoreResult<()> = async {
            let mut tx = self.write().await?;
            for entry in &batch {
                outcomes.push(update_task_in(&mut tx, &entry.payload).await?);
            }
            tx.commit().await.doing("committing task updates")?;
            Ok(())
        }
        .await;
        match written {
            Ok(()) => {
                for (entry, outcome) in batch.into_iter().zip(outcomes) {
                    let what = format!("task {}", entry.payload.id);
                    entry.answer(outcome.ok_or(StoreError::Conflict { what }));
                }
            }
            Err(e) => fail_all(batch, &e),
        }
    }
}

/// Writes `task` over its stored version: the stored task, or `None` when the stored
/// version is no longer the one `task` was read at.
async fn update_task_in(tx: &mut Tx, task: &Task) -> StoreResult<Option<Task>> {
    let stored = Task { version: task.version + 1, ..task.clone() };
    let changed = sqlx::query(
        "UPDATE tasks SET desired_status = $1, last_status = $2, container_instance_id = $3, body = $4, version = $5, \
         reserved_cpu = $6, reserved_memory = $7, host_ports = $8 WHERE id = $9 AND version = $10",
    )
    .bind(stored.desired_status.as_str())
    .bind(stored.last_status.as_str())
    .bind(&stored.container_instance_id)
    .bind(to_json(&stored))
    .bind(stored.version)
    .bind(stored.reservation.cpu)
    .bind(stored.reservation.memory)
    .bind(encode_ports(&held_ports(&stored)))
    .bind(&task.id)
    .bind(task.version)
    .execute(&mut **tx)
    .await
    .doing("updating a task")?
    .rows_affected();
    Ok((changed == 1).then_some(stored))
}

/// Adds a task just placed on an instance to the instance's load, so the next
/// placement of a batch sees it.
fn hold(load: &mut InstanceLoad, task: &Task) {
    load.remaining.cpu = load.remaining.cpu.saturating_sub(task.reservation.cpu);
    load.remaining.memory = load.remaining.memory.saturating_sub(task.reservation.memory);
    for (protocol, port) in held_ports(task) {
        match protocol {
            TransportProtocol::Tcp => load.remaining.ports_tcp.push(port),
            TransportProtocol::Udp => load.remaining.ports_udp.push(port),
        }
    }
    match task.last_status {
        TaskStatus::Running => load.running_tasks += 1,
        s if s.is_pending() => load.pending_tasks += 1,
        _ => {}
    }
    *load.groups.entry(task.group.clone()).or_default() += 1;
}

/// Parsed instance documents of each pool, by id with the version they were read at:
/// a placement re-reads only the documents that changed since the last one.
#[derive(Default, Clone)]
struct InstanceCache {
    pools: Arc<Mutex<HashMap<String, VersionedInstances>>>,
}

/// Instance documents by id, each with the version it was read at.
type VersionedInstances = HashMap<String, (i64, Arc<ContainerInstance>)>;

impl InstanceCache {
    /// The pool's live instances with their load, as placement sees them.
    async fn pool_loads(&self, tx: &mut Tx, backend: Backend, pool: &Pool) -> StoreResult<Vec<InstanceLoad>> {
        let (instances_where, arg) = pool_instances(pool);
        let rows = sqlx::query(&format!(
            "SELECT id, version, last_heartbeat FROM container_instances \
             WHERE {instances_where} AND status <> 'INACTIVE' ORDER BY id"
        ))
        .bind(arg)
        .fetch_all(&mut **tx)
        .await
        .doing("reading the instances to place on")?;
        let mut listed = Vec::with_capacity(rows.len());
        for r in &rows {
            listed.push((r.col::<String>("id")?, r.col::<i64>("version")?, Timestamp(r.col("last_heartbeat")?)));
        }
        let key = pool_key(pool);
        let mut known = self.pools.lock().unwrap_or_else(|p| p.into_inner()).remove(&key).unwrap_or_default();
        let stale: Vec<&str> = listed
            .iter()
            .filter(|(id, version, _)| known.get(id).is_none_or(|(v, _)| v != version))
            .map(|(id, _, _)| id.as_str())
            .collect();
        for chunk in stale.chunks(500) {
            let sql = format!(
                "SELECT id, version, body FROM container_instances WHERE id IN ({})",
                placeholders(1, chunk.len())
            );
            let mut query = sqlx::query(&sql);
            for id in chunk {
                query = query.bind(*id);
            }
            for r in query.fetch_all(&mut **tx).await.doing("reading instance documents")? {
                let body = instance_from_body(&r.col::<String>("body")?)?;
                known.insert(r.col("id")?, (r.col("version")?, Arc::new(body)));
            }
        }
        let mut usage = usage_by_instance(&mut **tx, backend, instances_where, &[arg]).await?;
        let mut loads = Vec::with_capacity(listed.len());
        let mut kept = HashMap::with_capacity(listed.len());
        for (id, _, heartbeat) in listed {
            let Some(mut entry) = known.remove(&id) else {
                return Err(corrupt(format!("container instance {id}"), "listed but not read"));
            };
            // The heartbeat is a column of its own: patched in place (the last batch's
            // loads are gone by now, so nothing is copied).
            if entry.1.last_heartbeat != heartbeat {
                Arc::make_mut(&mut entry.1).last_heartbeat = heartbeat;
            }
            let held = usage.remove(&id).unwrap_or_default();
            loads.push(load_of(entry.1.clone(), held));
            kept.insert(id, entry);
        }
        self.pools.lock().unwrap_or_else(|p| p.into_inner()).insert(key, kept);
        Ok(loads)
    }
}

#[async_trait]
impl Store for SqlStore {
    fn written_only_here(&self) -> bool {
        self.db.backend() == Backend::Sqlite
    }

    async fn create_cluster(
        &self,
        name: &str,
        spec: &ClusterSpec,
        tags: &[Tag],
        now: Timestamp,
    ) -> StoreResult<CreatedCluster> {
        let mut tx = self.write().await?;
        let changed = sqlx::query(
            "INSERT INTO clusters (name, status, body, created_at, version) VALUES ($1, 'ACTIVE', $2, $3, 1) \
             ON CONFLICT (name) DO UPDATE SET status = 'ACTIVE', body = excluded.body, \
             created_at = excluded.created_at, version = clusters.version + 1 \
             WHERE clusters.status <> 'ACTIVE'",
        )
        .bind(name)
        .bind(to_json(spec))
        .bind(now.0)
        .execute(&mut *tx)
        .await
        .doing("creating a cluster")?
        .rows_affected();
        let created = changed == 1;
        if created {
            let arn = self.account.cluster_arn(name);
            sqlx::query("DELETE FROM resource_tags WHERE resource_arn = $1")
                .bind(&arn)
                .execute(&mut *tx)
                .await
                .doing("clearing the tags of a recreated cluster")?;
            insert_tags(&mut tx, &arn, tags).await?;
        }
        let row = sqlx::query("SELECT * FROM clusters WHERE name = $1")
            .bind(name)
            .fetch_one(&mut *tx)
            .await
            .doing("reading a created cluster")?;
        let cluster = cluster_from_row(&row)?;
        tx.commit().await.doing("committing a cluster creation")?;
        Ok(CreatedCluster { cluster, created })
    }

    async fn get_cluster(&self, name: &str) -> StoreResult<Option<Cluster>> {
        let row = sqlx::query("SELECT * FROM clusters WHERE name = $1")
            .bind(name)
            .fetch_optional(self.db.reader())
            .await
            .doing("reading a cluster")?;
        row.as_ref().map(cluster_from_row).transpose()
    }

    async fn list_cluster_names(&self, page: Page<String>) -> StoreResult<Vec<String>> {
        let rows = sqlx::query(
            "SELECT name FROM clusters WHERE status = 'ACTIVE' AND ($1 IS NULL OR name > $2) ORDER BY name LIMIT $3",
        )
        .bind(&page.after)
        .bind(&page.after)
        .bind(i64::from(page.limit))
        .fetch_all(self.db.reader())
        .await
        .doing("listing clusters")?;
        rows.iter().map(|r| Ok(r.col("name")?)).collect()
    }

    async fn update_cluster(&self, cluster: &Cluster) -> StoreResult<Cluster> {
        let changed = sqlx::query(
            "UPDATE clusters SET status = $1, body = $2, version = version + 1 WHERE name = $3 AND version = $4",
        )
        .bind(cluster.status.as_str())
        .bind(to_json(&cluster.spec))
        .bind(&cluster.name)
        .bind(cluster.version)
        .execute(self.db.writer())
        .await
        .doing("updating a cluster")?
        .rows_affected();
        if changed == 0 {
            return Err(StoreError::Conflict { what: format!("cluster {}", cluster.name) });
        }
        Ok(Cluster { version: cluster.version + 1, ..cluster.clone() })
    }

    async fn register_task_definition(
        &self,
        definition: &ValidatedTaskDefinition,
        tags: &[Tag],
        registered_by: &str,
        now: Timestamp,
    ) -> StoreResult<TaskDefinition> {
        let family = &definition.spec.family;
        let mut tx = self.write().await?;
        let revision: i64 = sqlx::query_scalar(
            "INSERT INTO task_definition_families (family, last_revision) VALUES ($1, 1) \
             ON CONFLICT (family) DO UPDATE SET last_revision = task_definition_families.last_revision + 1 \
             RETURNING last_revision",
        )
        .bind(family)
        .fetch_one(&mut *tx)
        .await
        .doing("allocating a task definition revision")?;
        sqlx::query(
            "INSERT INTO task_definitions (family, revision, status, body, compatibilities, requires_attributes, \
             registered_at, registered_by, version) VALUES ($1, $2, 'ACTIVE', $3, $4, $5, $6, $7, 1)",
        )
        .bind(family)
        .bind(revision)
        .bind(to_json(&definition.spec))
        .bind(to_json(&definition.compatibilities))
        .bind(to_json(&definition.requires_attributes))
        .bind(now.0)
        .bind(registered_by)
        .execute(&mut *tx)
        .await
        .doing("storing a task definition")?;
        insert_tags(&mut tx, &self.account.task_definition_arn(family, revision), tags).await?;
        tx.commit().await.doing("committing a task definition")?;
        Ok(TaskDefinition {
            family: family.clone(),
            revision,
            status: TaskDefinitionStatus::Active,
            spec: definition.spec.clone(),
            compatibilities: definition.compatibilities.clone(),
            requires_attributes: definition.requires_attributes.clone(),
            registered_at: now,
            registered_by: registered_by.to_string(),
            deregistered_at: None,
            delete_requested_at: None,
        })
    }

    async fn get_task_definition(&self, family: &str, revision: i64) -> StoreResult<Option<TaskDefinition>> {
        let row = sqlx::query(&format!(
            "SELECT {TASK_DEFINITION_COLUMNS} FROM task_definitions WHERE family = $1 AND revision = $2"
        ))
        .bind(family)
        .bind(revision)
        .fetch_optional(self.db.reader())
        .await
        .doing("reading a task definition")?;
        row.as_ref().map(task_definition_from_row).transpose()
    }

    async fn latest_active_task_definition(&self, family: &str) -> StoreResult<Option<TaskDefinition>> {
        let row = sqlx::query(&format!(
            "SELECT {TASK_DEFINITION_COLUMNS} FROM task_definitions WHERE family = $1 AND status = 'ACTIVE' \
             ORDER BY revision DESC LIMIT 1"
        ))
        .bind(family)
        .fetch_optional(self.db.reader())
        .await
        .doing("reading the latest task definition of a family")?;
        row.as_ref().map(task_definition_from_row).transpose()
    }

    async fn list_task_definitions(
        &self,
        family: Option<&str>,
        status: TaskDefinitionStatus,
        descending: bool,
        page: Page<(String, i64)>,
    ) -> StoreResult<Vec<(String, i64)>> {
        let (cmp, order) = if descending { ("<", "DESC") } else { (">", "ASC") };
        let sql = format!(
            "SELECT family, revision FROM task_definitions WHERE status = $1 \
             AND ($2 IS NULL OR family = $3) \
             AND ($4 IS NULL OR family {cmp} $5 OR (family = $6 AND revision {cmp} $7)) \
             ORDER BY family {order}, revision {order} LIMIT $8"
        );
        let (after_family, after_revision) = match &page.after {
            Some((f, r)) => (Some(f.as_str()), Some(*r)),
            None => (None, None),
        };
        let rows = sqlx::query(&sql)
            .bind(status.as_str())
            .bind(family)
            .bind(family)
            .bind(after_family)
            .bind(after_family)
            .bind(after_family)
            .bind(after_revision)
            .bind(i64::from(page.limit))
            .fetch_all(self.db.reader())
            .await
            .doing("listing task definitions")?;
        rows.iter().map(|r| Ok((r.col("family")?, r.col("revision")?))).collect()
    }

    async fn list_task_definition_families(
        &self,
        family_prefix: Option<&str>,
        status: FamilyStatusFilter,
        page: Page<String>,
    ) -> StoreResult<Vec<String>> {
        let having = match status {
            FamilyStatusFilter::Active => "HAVING SUM(CASE WHEN status = 'ACTIVE' THEN 1 ELSE 0 END) > 0",
            FamilyStatusFilter::Inactive => "HAVING SUM(CASE WHEN status = 'ACTIVE' THEN 1 ELSE 0 END) = 0",
            FamilyStatusFilter::All => "",
        };
        let sql = format!(
            "SELECT family FROM task_definitions WHERE ($1 IS NULL OR substr(family, 1, length($2)) = $2) \
             AND ($3 IS NULL OR family > $4) GROUP BY family {having} ORDER BY family LIMIT $5"
        );
        let rows = sqlx::query(&sql)
            .bind(family_prefix)
            .bind(family_prefix)
            .bind(&page.after)
            .bind(&page.after)
            .bind(i64::from(page.limit))
            .fetch_all(self.db.reader())
            .await
            .doing("listing task definition families")?;
        rows.iter().map(|r| Ok(r.col("family")?)).collect()
    }

    async fn transition_task_definition(
        &self,
        family: &str,
        revision: i64,
        from: TaskDefinitionStatus,
        to: TaskDefinitionStatus,
        now: Timestamp,
    ) -> StoreResult<Option<TaskDefinition>> {
        let column = match to {
            TaskDefinitionStatus::Inactive => "deregistered_at",
            TaskDefinitionStatus::DeleteInProgress => "delete_requested_at",
            TaskDefinitionStatus::Active => "registered_at",
        };
        let mut tx = self.write().await?;
        sqlx::query(&format!(
            "UPDATE task_definitions SET status = $1, {column} = $2, version = version + 1 \
             WHERE family = $3 AND revision = $4 AND status = $5"
        ))
        .bind(to.as_str())
        .bind(now.0)
        .bind(family)
        .bind(revision)
        .bind(from.as_str())
        .execute(&mut *tx)
        .await
        .doing("changing a task definition's status")?;
        let row = sqlx::query(&format!(
            "SELECT {TASK_DEFINITION_COLUMNS} FROM task_definitions WHERE family = $1 AND revision = $2"
        ))
        .bind(family)
        .bind(revision)
        .fetch_optional(&mut *tx)
        .await
        .doing("reading a task definition")?;
        tx.commit().await.doing("committing a task definition status change")?;
        row.as_ref().map(task_definition_from_row).transpose()
    }

    async fn cluster_counts(&self, cluster: &str) -> StoreResult<ClusterCounts> {
        let row = sqlx::query(
            "SELECT \
               (SELECT COUNT(*) FROM container_instances WHERE cluster = $1 AND status <> 'INACTIVE' AND capacity <> 'FARGATE') AS instances, \
               (SELECT COUNT(*) FROM tasks WHERE cluster = $1 AND last_status = 'RUNNING') AS running, \
               (SELECT COUNT(*) FROM tasks WHERE cluster = $1 AND last_status IN ('PROVISIONING', 'PENDING', 'ACTIVATING')) AS pending, \
               (SELECT COUNT(*) FROM services WHERE cluster = $1 AND status = 'ACTIVE') AS services",
        )
        .bind(cluster)
        .fetch_one(self.db.reader())
        .await
        .doing("counting a cluster's instances and tasks")?;
        Ok(ClusterCounts {
            registered_container_instances: row.col("instances")?,
            running_tasks: row.col("running")?,
            pending_tasks: row.col("pending")?,
            active_services: row.col("services")?,
        })
    }

    async fn put_container_instance(&self, instance: &ContainerInstance) -> StoreResult<ContainerInstance> {
        let mut tx = self.write().await?;
        // The version read below is the one written: no other registration in between.
        self.db.lock(&mut tx, &format!("container instance {}", instance.id)).await?;
        let current: Option<i64> = sqlx::query_scalar("SELECT version FROM container_instances WHERE id = $1")
            .bind(&instance.id)
            .fetch_optional(&mut *tx)
            .await
            .doing("reading a container instance")?;
        let stored = ContainerInstance { version: current.map_or(1, |v| v + 1), ..instance.clone() };
        sqlx::query(
            "INSERT INTO container_instances (id, cluster, status, last_heartbeat, body, version, capacity) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (id) DO UPDATE SET cluster = excluded.cluster, status = excluded.status, \
             last_heartbeat = excluded.last_heartbeat, body = excluded.body, version = excluded.version, \
             capacity = excluded.capacity",
        )
        .bind(&stored.id)
        .bind(&stored.cluster)
        .bind(stored.status.as_str())
        .bind(stored.last_heartbeat.0)
        .bind(to_json(&stored))
        .bind(stored.version)
        .bind(capacity_column(stored.capacity))
        .execute(&mut *tx)
        .await
        .doing("storing a container instance")?;
        tx.commit().await.doing("committing a container instance")?;
        Ok(stored)
    }

    async fn get_container_instance(&self, id: &str) -> StoreResult<Option<ContainerInstance>> {
        let row = sqlx::query("SELECT body, last_heartbeat FROM container_instances WHERE id = $1")
            .bind(id)
            .fetch_optional(self.db.reader())
            .await
            .doing("reading a container instance")?;
        row.map(|r| {
            let mut ci = instance_from_body(&r.col::<String>("body")?)?;
            ci.last_heartbeat = Timestamp(r.col("last_heartbeat")?);
            Ok(ci)
        })
        .transpose()
    }

    async fn list_container_instances(
        &self,
        cluster: &str,
        status: Option<InstanceStatus>,
        with_fargate_only: bool,
        page: Page<String>,
    ) -> StoreResult<Vec<InstanceLoad>> {
        let rows = sqlx::query(
            "SELECT id, body, last_heartbeat FROM container_instances WHERE cluster = $1 AND ($2 IS NULL OR status = $3) \
             AND ($4 IS NULL OR id > $5) AND ($7 OR capacity <> 'FARGATE') ORDER BY id LIMIT $6",
        )
        .bind(cluster)
        .bind(status.map(InstanceStatus::as_str))
        .bind(status.map(InstanceStatus::as_str))
        .bind(&page.after)
        .bind(&page.after)
        .bind(i64::from(page.limit))
        .bind(with_fargate_only)
        .fetch_all(self.db.reader())
        .await
        .doing("listing container instances")?;
        // What the page's instances hold, not the whole cluster's.
        let ids: Vec<String> = rows.iter().map(|r| r.col::<String>("id")).collect::<Result<_, _>>()?;
        let mut usage = std::collections::HashMap::new();
        for chunk in ids.chunks(500) {
            let args: Vec<&str> = chunk.iter().map(String::as_str).collect();
            let instances_where = format!("id IN ({})", placeholders(1, chunk.len()));
            usage.extend(usage_by_instance(self.db.reader(), self.db.backend(), &instances_where, &args).await?);
        }
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let mut ci = instance_from_body(&r.col::<String>("body")?)?;
            ci.last_heartbeat = Timestamp(r.col("last_heartbeat")?);
            let held = usage.remove(&ci.id).unwrap_or_default();
            out.push(load_of(Arc::new(ci), held));
        }
        Ok(out)
    }

    async fn fargate_nodes(&self) -> StoreResult<Vec<InstanceLoad>> {
        let pool = Pool::Fargate { for_cluster: String::new() };
        let (instances_where, arg) = pool_instances(&pool);
        let rows = sqlx::query(&format!(
            "SELECT body, last_heartbeat FROM container_instances WHERE {instances_where} ORDER BY id"
        ))
        .bind(arg)
        .fetch_all(self.db.reader())
        .await
        .doing("listing the nodes serving Fargate")?;
        let mut usage = usage_by_instance(self.db.reader(), self.db.backend(), instances_where, &[arg]).await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let mut ci = instance_from_body(&r.col::<String>("body")?)?;
            ci.last_heartbeat = Timestamp(r.col("last_heartbeat")?);
            let held = usage.remove(&ci.id).unwrap_or_default();
            out.push(load_of(Arc::new(ci), held));
        }
        Ok(out)
    }

    async fn instance_load(&self, id: &str) -> StoreResult<Option<InstanceLoad>> {
        let Some(ci) = self.get_container_instance(id).await? else { return Ok(None) };
        let held = usage_by_instance(self.db.reader(), self.db.backend(), "id = $1", &[id]).await?.remove(id);
        let held = held.unwrap_or_default();
        Ok(Some(load_of(Arc::new(ci), held)))
    }

    async fn update_container_instance(&self, instance: &ContainerInstance) -> StoreResult<ContainerInstance> {
        let stored = ContainerInstance { version: instance.version + 1, ..instance.clone() };
        let changed = sqlx::query(
            "UPDATE container_instances SET status = $1, body = $2, version = $3 WHERE id = $4 AND version = $5",
        )
        .bind(stored.status.as_str())
        .bind(to_json(&stored))
        .bind(stored.version)
        .bind(&instance.id)
        .bind(instance.version)
        .execute(self.db.writer())
        .await
        .doing("updating a container instance")?
        .rows_affected();
        if changed == 0 {
            return Err(StoreError::Conflict { what: format!("container instance {}", instance.id) });
        }
        Ok(stored)
    }

    async fn heartbeat(&self, id: &str, now: Timestamp) -> StoreResult<()> {
        let store = self.clone();
        let run = move |batch: Vec<Entry<(String, Timestamp), ()>>| {
            let store = store.clone();
            async move { store.heartbeat_batch(batch).await }
        };
        self.heartbeats.submit("heartbeats", (id.to_string(), now), run).await
    }

    async fn place_tasks(
        &self,
        pool: &Pool,
        tasks: Vec<Task>,
        tags: &[Tag],
        placer: Placer,
    ) -> StoreResult<Vec<Result<Task, String>>> {
        let store = self.clone();
        let run = move |batch: Vec<Entry<PlacementRequest, Placed>>| {
            let store = store.clone();
            async move { store.place_batch(batch).await }
        };
        let request = PlacementRequest { pool: pool.clone(), tasks, tags: tags.to_vec(), placer };
        self.placements.submit(&pool_key(pool), request, run).await
    }

    async fn store_waiting_tasks(&self, tasks: &[Task], tags: &[Tag]) -> StoreResult<()> {
        let mut tx = self.write().await?;
        for task in tasks {
            let waiting = Task { container_instance_id: None, ..task.clone() };
            insert_tasks(&mut tx, std::slice::from_ref(&waiting)).await?;
            insert_tags(&mut tx, &self.account.task_arn(&task.cluster, &task.id), tags).await?;
        }
        tx.commit().await.doing("committing waiting tasks")?;
        Ok(())
    }

    async fn waiting_tasks(&self) -> StoreResult<Vec<Task>> {
        let rows = sqlx::query(
            "SELECT body FROM tasks WHERE container_instance_id IS NULL AND last_status = 'PROVISIONING' \
             AND desired_status = 'RUNNING' ORDER BY created_at, id",
        )
        .fetch_all(self.db.reader())
        .await
        .doing("reading the tasks waiting for capacity")?;
        rows.iter().map(|r| task_from_body(&r.col::<String>("body")?)).collect()
    }

    async fn place_waiting_tasks(
        &self,
        pool: &Pool,
        tasks: Vec<Task>,
        placer: Placer,
    ) -> StoreResult<Vec<Result<Task, String>>> {
        let mut tx = self.write().await?;
        self.lock_pool(&mut tx, pool).await?;
        // Only tasks still waiting as read: a stop or another placement since wins.
        let mut waiting = Vec::with_capacity(tasks.len());
        for t in &tasks {
            let version: Option<i64> = sqlx::query_scalar(
                "SELECT version FROM tasks WHERE id = $1 AND container_instance_id IS NULL AND desired_status = 'RUNNING'",
            )
            .bind(&t.id)
            .fetch_optional(&mut *tx)
            .await
            .doing("re-reading a waiting task")?;
            waiting.push(version == Some(t.version));
        }
        let still: Vec<Task> = tasks.iter().zip(&waiting).filter(|(_, w)| **w).map(|(t, _)| t.clone()).collect();
        let loads = self.instances.pool_loads(&mut tx, self.db.backend(), pool).await?;
        let mut decisions = placer(&loads, &still, &mut None).into_iter();
        let mut out = Vec::with_capacity(tasks.len());
        for (task, still_waiting) in tasks.into_iter().zip(waiting) {
            if !still_waiting {
                out.push(Err("no longer waiting".to_string()));
                continue;
            }
            match decisions.next().unwrap_or_else(|| Err("not placed".to_string())) {
                Ok(i) => {
                    let placed = Task {
                        container_instance_id: Some(loads[i].instance.id.clone()),
                        version: task.version + 1,
                        ..task
                    };
                    sqlx::query("UPDATE tasks SET container_instance_id = $1, body = $2, version = $3 WHERE id = $4")
                        .bind(&placed.container_instance_id)
                        .bind(to_json(&placed))
                        .bind(placed.version)
                        .bind(&placed.id)
                        .execute(&mut *tx)
                        .await
                        .doing("placing a waiting task")?;
                    out.push(Ok(placed));
                }
                Err(reason) => out.push(Err(reason)),
            }
        }
        tx.commit().await.doing("committing placed waiting tasks")?;
        Ok(out)
    }

    async fn get_task(&self, id: &str) -> StoreResult<Option<Task>> {
        let row = sqlx::query("SELECT body FROM tasks WHERE id = $1")
            .bind(id)
            .fetch_optional(self.db.reader())
            .await
            .doing("reading a task")?;
        row.map(|r| task_from_body(&r.col::<String>("body")?)).transpose()
    }

    async fn list_task_ids(&self, cluster: &str, filter: &TaskFilter, page: Page<String>) -> StoreResult<Vec<String>> {
        let desired = filter.desired_status.map(|s| if s == TaskStatus::Stopped { "STOPPED" } else { "RUNNING" });
        // Only the filters given, as plain conditions: an `($n IS NULL OR id > $m)`
        // keeps SQLite from starting at the page's first id, so every page would scan
        // the cluster's tasks from its first one.
        let mut conditions = vec!["cluster = $1".to_string()];
        let mut values: Vec<&str> = vec![cluster];
        let given = [
            ("container_instance_id =", filter.container_instance_id.as_deref()),
            ("family =", filter.family.as_deref()),
            ("started_by =", filter.started_by.as_deref()),
            ("desired_status =", desired),
            ("task_group =", filter.group.as_deref()),
            ("id >", page.after.as_deref()),
        ];
        for (condition, value) in given {
            if let Some(value) = value {
                values.push(value);
                conditions.push(format!("{condition} ${}", values.len()));
            }
        }
        let sql =
            format!("SELECT id FROM tasks WHERE {} ORDER BY id LIMIT ${}", conditions.join(" AND "), values.len() + 1);
        let mut query = sqlx::query(&sql);
        for value in values {
            query = query.bind(value);
        }
        let rows = query.bind(i64::from(page.limit)).fetch_all(self.db.reader()).await.doing("listing tasks")?;
        rows.iter().map(|r| Ok(r.col("id")?)).collect()
    }

    async fn tasks_for_instance(&self, instance_id: &str) -> StoreResult<Vec<Task>> {
        live_tasks_of(self.db.reader(), instance_id).await
    }

    async fn task_reservations(&self, ids: &[String]) -> StoreResult<Vec<TaskReservation>> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            let sql = format!(
                "SELECT id, cluster, task_group, COALESCE(reserved_cpu, 0) AS cpu, COALESCE(reserved_memory, 0) AS memory \
                 FROM tasks WHERE id IN ({})",
                placeholders(1, chunk.len())
            );
            let mut query = sqlx::query(&sql);
            for id in chunk {
                query = query.bind(id);
            }
            for r in query.fetch_all(self.db.reader()).await.doing("reading tasks' reservations")? {
                out.push(TaskReservation {
                    id: r.col("id")?,
                    cluster: r.col("cluster")?,
                    group: r.col("task_group")?,
                    cpu: r.col("cpu")?,
                    memory: r.col("memory")?,
                });
            }
        }
        Ok(out)
    }

    async fn task_wishes_for_instance(&self, instance_id: &str) -> StoreResult<Vec<(String, String, TaskStatus)>> {
        let rows = sqlx::query(
            "SELECT cluster, id, desired_status FROM tasks WHERE container_instance_id = $1 AND last_status <> 'STOPPED'",
        )
        .bind(instance_id)
        .fetch_all(self.db.reader())
        .await
        .doing("reading the desired statuses of an instance's tasks")?;
        rows.iter()
            .map(|r| {
                let id: String = r.col("id")?;
                let desired: String = r.col("desired_status")?;
                let desired = TaskStatus::parse(&desired)
                    .ok_or_else(|| corrupt(format!("task {id}"), format!("unknown desired status {desired}")))?;
                Ok((r.col("cluster")?, id, desired))
            })
            .collect()
    }

    async fn update_task(&self, task: &Task) -> StoreResult<Task> {
        let store = self.clone();
        let run = move |batch: Vec<Entry<Task, Task>>| {
            let store = store.clone();
            async move { store.update_task_batch(batch).await }
        };
        self.task_updates.submit("tasks", task.clone(), run).await
    }

    async fn create_service(&self, service: &Service, tags: &[Tag]) -> StoreResult<Option<Service>> {
        let mut tx = self.write().await?;
        self.db.lock(&mut tx, &format!("service {}/{}", service.cluster, service.name)).await?;
        let existing: Option<String> =
            sqlx::query_scalar("SELECT status FROM services WHERE cluster = $1 AND name = $2")
                .bind(&service.cluster)
                .bind(&service.name)
                .fetch_optional(&mut *tx)
                .await
                .doing("reading a service")?;
        if existing.as_deref().is_some_and(|s| s != ServiceStatus::Inactive.as_str()) {
            return Ok(None);
        }
        let stored = Service { version: 1, ..service.clone() };
        sqlx::query(
            "INSERT INTO services (cluster, name, status, created_at, body, version) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (cluster, name) DO UPDATE SET status = excluded.status, created_at = excluded.created_at, \
             body = excluded.body, version = excluded.version",
        )
        .bind(&stored.cluster)
        .bind(&stored.name)
        .bind(stored.status.as_str())
        .bind(stored.created_at.0)
        .bind(to_json(&stored))
        .bind(stored.version)
        .execute(&mut *tx)
        .await
        .doing("storing a service")?;
        let arn = self.account.service_arn(&stored.cluster, &stored.name);
        if existing.is_some() {
            sqlx::query("DELETE FROM resource_tags WHERE resource_arn = $1")
                .bind(&arn)
                .execute(&mut *tx)
                .await
                .doing("clearing an inactive service's tags")?;
        }
        insert_tags(&mut tx, &arn, tags).await?;
        tx.commit().await.doing("committing a new service")?;
        Ok(Some(stored))
    }

    async fn get_service(&self, cluster: &str, name: &str) -> StoreResult<Option<Service>> {
        let row = sqlx::query("SELECT body, version FROM services WHERE cluster = $1 AND name = $2")
            .bind(cluster)
            .bind(name)
            .fetch_optional(self.db.reader())
            .await
            .doing("reading a service")?;
        row.as_ref().map(service_from_row).transpose()
    }

    async fn list_services(&self, cluster: &str, with_draining: bool, page: Page<String>) -> StoreResult<Vec<Service>> {
        let rows = sqlx::query(
            "SELECT body, version FROM services WHERE cluster = $1 AND (status = 'ACTIVE' OR (status = 'DRAINING' AND $2 = 1)) \
             AND ($3 IS NULL OR name > $4) ORDER BY name LIMIT $5",
        )
        .bind(cluster)
        .bind(i64::from(with_draining))
        .bind(&page.after)
        .bind(&page.after)
        .bind(i64::from(page.limit))
        .fetch_all(self.db.reader())
        .await
        .doing("listing services")?;
        rows.iter().map(service_from_row).collect()
    }

    async fn update_service(&self, service: &Service) -> StoreResult<Service> {
        let stored = Service { version: service.version + 1, ..service.clone() };
        let changed = sqlx::query(
            "UPDATE services SET status = $1, body = $2, version = $3 WHERE cluster = $4 AND name = $5 AND version = $6",
        )
        .bind(stored.status.as_str())
        .bind(to_json(&stored))
        .bind(stored.version)
        .bind(&service.cluster)
        .bind(&service.name)
        .bind(service.version)
        .execute(self.db.writer())
        .await
        .doing("updating a service")?
        .rows_affected();
        if changed == 0 {
            return Err(StoreError::Conflict { what: format!("service {}", service.name) });
        }
        Ok(stored)
    }

    async fn group_tasks(&self, cluster: &str, group: &str, stopped_since: Timestamp) -> StoreResult<Vec<Task>> {
        let rows = sqlx::query(
            "SELECT body FROM tasks WHERE cluster = $1 AND task_group = $2 AND (last_status <> 'STOPPED' OR created_at >= $3)",
        )
        .bind(cluster)
        .bind(group)
        .bind(stopped_since.0)
        .fetch_all(self.db.reader())
        .await
        .doing("reading a task group")?;
        rows.iter().map(|r| task_from_body(&r.col::<String>("body")?)).collect()
    }

    async fn create_capacity_provider(
        &self,
        provider: &CapacityProvider,
        tags: &[Tag],
    ) -> StoreResult<Option<CapacityProvider>> {
        let mut tx = self.write().await?;
        self.db.lock(&mut tx, &format!("capacity provider {}", provider.name)).await?;
        let existing: Option<String> = sqlx::query_scalar("SELECT status FROM capacity_providers WHERE name = $1")
            .bind(&provider.name)
            .fetch_optional(&mut *tx)
            .await
            .doing("reading a capacity provider")?;
        if existing.as_deref().is_some_and(|s| s != "INACTIVE") {
            return Ok(None);
        }
        let stored = CapacityProvider { version: 1, ..provider.clone() };
        sqlx::query(
            "INSERT INTO capacity_providers (name, status, body, version) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (name) DO UPDATE SET status = excluded.status, body = excluded.body, version = excluded.version",
        )
        .bind(&stored.name)
        .bind(&stored.status)
        .bind(to_json(&stored))
        .bind(stored.version)
        .execute(&mut *tx)
        .await
        .doing("storing a capacity provider")?;
        let arn = self.account.capacity_provider_arn(&stored.name);
        sqlx::query("DELETE FROM resource_tags WHERE resource_arn = $1")
            .bind(&arn)
            .execute(&mut *tx)
            .await
            .doing("clearing a reused capacity provider's tags")?;
        insert_tags(&mut tx, &arn, tags).await?;
        tx.commit().await.doing("committing a capacity provider")?;
        Ok(Some(stored))
    }

    async fn get_capacity_provider(&self, name: &str) -> StoreResult<Option<CapacityProvider>> {
        let row = sqlx::query("SELECT body FROM capacity_providers WHERE name = $1")
            .bind(name)
            .fetch_optional(self.db.reader())
            .await
            .doing("reading a capacity provider")?;
        row.map(|r| provider_from_body(&r.col::<String>("body")?)).transpose()
    }

    async fn list_capacity_providers(&self) -> StoreResult<Vec<CapacityProvider>> {
        let rows = sqlx::query("SELECT body FROM capacity_providers ORDER BY name")
            .fetch_all(self.db.reader())
            .await
            .doing("listing capacity providers")?;
        rows.iter().map(|r| provider_from_body(&r.col::<String>("body")?)).collect()
    }

    async fn update_capacity_provider(&self, provider: &CapacityProvider) -> StoreResult<CapacityProvider> {
        let stored = CapacityProvider { version: provider.version + 1, ..provider.clone() };
        let changed = sqlx::query(
            "UPDATE capacity_providers SET status = $1, body = $2, version = $3 WHERE name = $4 AND version = $5",
        )
        .bind(&stored.status)
        .bind(to_json(&stored))
        .bind(stored.version)
        .bind(&provider.name)
        .bind(provider.version)
        .execute(self.db.writer())
        .await
        .doing("updating a capacity provider")?
        .rows_affected();
        if changed == 0 {
            return Err(StoreError::Conflict { what: format!("capacity provider {}", provider.name) });
        }
        Ok(stored)
    }

    async fn tag_resource(&self, arn: &str, tags: &[Tag], max_tags: usize) -> StoreResult<()> {
        let mut tx = self.write().await?;
        // Concurrent taggings of one resource count each other's tags against the limit.
        self.db.lock(&mut tx, &format!("tags {arn}")).await?;
        insert_tags(&mut tx, arn, tags).await?;
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM resource_tags WHERE resource_arn = $1")
            .bind(arn)
            .fetch_one(&mut *tx)
            .await
            .doing("counting tags")?;
        if count as usize > max_tags {
            // Dropping the transaction rolls the new tags back.
            return Err(StoreError::Limit(format!(
                "tags: the resource would have {count} tags, more than the limit of {max_tags}"
            )));
        }
        Ok(tx.commit().await.doing("committing tags")?)
    }

    async fn untag_resource(&self, arn: &str, keys: &[String]) -> StoreResult<()> {
        let mut tx = self.write().await?;
        for key in keys {
            sqlx::query("DELETE FROM resource_tags WHERE resource_arn = $1 AND key = $2")
                .bind(arn)
                .bind(key)
                .execute(&mut *tx)
                .await
                .doing("removing tags")?;
        }
        Ok(tx.commit().await.doing("committing tag removal")?)
    }

    async fn list_tags(&self, arn: &str) -> StoreResult<Vec<Tag>> {
        let rows = sqlx::query("SELECT key, value FROM resource_tags WHERE resource_arn = $1 ORDER BY key")
            .bind(arn)
            .fetch_all(self.db.reader())
            .await
            .doing("reading tags")?;
        rows.iter().map(|r| Ok(Tag { key: r.col("key")?, value: r.col("value")? })).collect()
    }
}
