//! The SQLite implementation of [`Store`].

use crate::error::{Doing, StoreError, StoreResult};
use crate::{CreatedCluster, FamilyStatusFilter, Page, Store};
use async_trait::async_trait;
use flotilla_domain::cluster::{Cluster, ClusterSpec, ClusterStatus};
use flotilla_domain::tag::Tag;
use flotilla_domain::task_definition::{TaskDefinition, TaskDefinitionStatus, ValidatedTaskDefinition};
use flotilla_domain::{AccountContext, Timestamp};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{Row, Sqlite, Transaction};
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// A [`Store`] in one SQLite database file.
#[derive(Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    account: AccountContext,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and applies migrations.
    pub async fn open(path: &Path, account: AccountContext) -> StoreResult<Self> {
        let display = path.display().to_string();
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{display}"))
            .map_err(|source| StoreError::Open { path: display.clone(), source })?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(|source| StoreError::Open { path: display.clone(), source })?;
        MIGRATOR.run(&pool).await?;
        Ok(Self { pool, account })
    }

    /// Flushes the write-ahead log and closes every connection.
    pub async fn close(&self) {
        let _ = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&self.pool).await;
        self.pool.close().await;
    }

    /// A write transaction that takes the database's write lock at once, so two
    /// writers never deadlock upgrading read locks.
    async fn write(&self) -> StoreResult<Transaction<'static, Sqlite>> {
        self.pool.begin_with("BEGIN IMMEDIATE").await.doing("starting a write transaction")
    }
}

fn corrupt(what: impl Into<String>, reason: impl ToString) -> StoreError {
    StoreError::Corrupt { what: what.into(), reason: reason.to_string() }
}

fn cluster_from_row(row: &SqliteRow) -> StoreResult<Cluster> {
    let name: String = row.get("name");
    let status: String = row.get("status");
    let body: String = row.get("body");
    Ok(Cluster {
        status: ClusterStatus::parse(&status).ok_or_else(|| corrupt(format!("cluster {name}"), "unknown status"))?,
        spec: serde_json::from_str(&body).map_err(|e| corrupt(format!("cluster {name}"), e))?,
        created_at: Timestamp(row.get("created_at")),
        version: row.get("version"),
        name,
    })
}

const TASK_DEFINITION_COLUMNS: &str = "family, revision, status, body, compatibilities, requires_attributes, \
     registered_at, registered_by, deregistered_at, delete_requested_at";

fn task_definition_from_row(row: &SqliteRow) -> StoreResult<TaskDefinition> {
    let family: String = row.get("family");
    let revision: i64 = row.get("revision");
    let what = || format!("task definition {family}:{revision}");
    let status: String = row.get("status");
    let json = |col: &str| -> StoreResult<Vec<String>> {
        serde_json::from_str(&row.get::<String, _>(col)).map_err(|e| corrupt(what(), e))
    };
    Ok(TaskDefinition {
        status: TaskDefinitionStatus::parse(&status).ok_or_else(|| corrupt(what(), "unknown status"))?,
        spec: serde_json::from_str(&row.get::<String, _>("body")).map_err(|e| corrupt(what(), e))?,
        compatibilities: json("compatibilities")?,
        requires_attributes: json("requires_attributes")?,
        registered_at: Timestamp(row.get("registered_at")),
        registered_by: row.get("registered_by"),
        deregistered_at: row.get::<Option<i64>, _>("deregistered_at").map(Timestamp),
        delete_requested_at: row.get::<Option<i64>, _>("delete_requested_at").map(Timestamp),
        family,
        revision,
    })
}

fn to_json<T: serde::Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).expect("domain documents always serialise")
}

/// Escapes `%` and `_` so a user's prefix matches literally in `LIKE ... ESCAPE '\'`.
fn like_prefix(prefix: &str) -> String {
    let mut out = String::with_capacity(prefix.len() + 1);
    for ch in prefix.chars() {
        if matches!(ch, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(ch);
    }
    out.push('%');
    out
}

async fn insert_tags(tx: &mut Transaction<'static, Sqlite>, arn: &str, tags: &[Tag]) -> StoreResult<()> {
    for tag in tags {
        sqlx::query(
            "INSERT INTO resource_tags (resource_arn, key, value) VALUES (?, ?, ?) \
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

#[async_trait]
impl Store for SqliteStore {
    async fn create_cluster(
        &self,
        name: &str,
        spec: &ClusterSpec,
        tags: &[Tag],
        now: Timestamp,
    ) -> StoreResult<CreatedCluster> {
        let mut tx = self.write().await?;
        let changed = sqlx::query(
            "INSERT INTO clusters (name, status, body, created_at, version) VALUES (?, 'ACTIVE', ?, ?, 1) \
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
            sqlx::query("DELETE FROM resource_tags WHERE resource_arn = ?")
                .bind(&arn)
                .execute(&mut *tx)
                .await
                .doing("clearing the tags of a recreated cluster")?;
            insert_tags(&mut tx, &arn, tags).await?;
        }
        let row = sqlx::query("SELECT * FROM clusters WHERE name = ?")
            .bind(name)
            .fetch_one(&mut *tx)
            .await
            .doing("reading a created cluster")?;
        let cluster = cluster_from_row(&row)?;
        tx.commit().await.doing("committing a cluster creation")?;
        Ok(CreatedCluster { cluster, created })
    }

    async fn get_cluster(&self, name: &str) -> StoreResult<Option<Cluster>> {
        let row = sqlx::query("SELECT * FROM clusters WHERE name = ?")
            .bind(name)
            .fetch_optional(&self.pool)
            .await
            .doing("reading a cluster")?;
        row.as_ref().map(cluster_from_row).transpose()
    }

    async fn list_cluster_names(&self, page: Page<String>) -> StoreResult<Vec<String>> {
        let rows = sqlx::query(
            "SELECT name FROM clusters WHERE status = 'ACTIVE' AND (? IS NULL OR name > ?) ORDER BY name LIMIT ?",
        )
        .bind(&page.after)
        .bind(&page.after)
        .bind(page.limit)
        .fetch_all(&self.pool)
        .await
        .doing("listing clusters")?;
        Ok(rows.iter().map(|r| r.get("name")).collect())
    }

    async fn update_cluster(&self, cluster: &Cluster) -> StoreResult<Cluster> {
        let changed = sqlx::query(
            "UPDATE clusters SET status = ?, body = ?, version = version + 1 WHERE name = ? AND version = ?",
        )
        .bind(cluster.status.as_str())
        .bind(to_json(&cluster.spec))
        .bind(&cluster.name)
        .bind(cluster.version)
        .execute(&self.pool)
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
            "INSERT INTO task_definition_families (family, last_revision) VALUES (?, 1) \
             ON CONFLICT (family) DO UPDATE SET last_revision = task_definition_families.last_revision + 1 \
             RETURNING last_revision",
        )
        .bind(family)
        .fetch_one(&mut *tx)
        .await
        .doing("allocating a task definition revision")?;
        sqlx::query(
            "INSERT INTO task_definitions (family, revision, status, body, compatibilities, requires_attributes, \
             registered_at, registered_by, version) VALUES (?, ?, 'ACTIVE', ?, ?, ?, ?, ?, 1)",
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
            "SELECT {TASK_DEFINITION_COLUMNS} FROM task_definitions WHERE family = ? AND revision = ?"
        ))
        .bind(family)
        .bind(revision)
        .fetch_optional(&self.pool)
        .await
        .doing("reading a task definition")?;
        row.as_ref().map(task_definition_from_row).transpose()
    }

    async fn latest_active_task_definition(&self, family: &str) -> StoreResult<Option<TaskDefinition>> {
        let row = sqlx::query(&format!(
            "SELECT {TASK_DEFINITION_COLUMNS} FROM task_definitions WHERE family = ? AND status = 'ACTIVE' \
             ORDER BY revision DESC LIMIT 1"
        ))
        .bind(family)
        .fetch_optional(&self.pool)
        .await
        .doing("reading the latest task definition of a family")?;
        row.as_ref().map(task_definition_from_row).transpose()
    }

    async fn list_task_definitions(
        &self,
        family_prefix: Option<&str>,
        status: TaskDefinitionStatus,
        descending: bool,
        page: Page<(String, i64)>,
    ) -> StoreResult<Vec<(String, i64)>> {
        let (cmp, order) = if descending { ("<", "DESC") } else { (">", "ASC") };
        let sql = format!(
            "SELECT family, revision FROM task_definitions WHERE status = ? \
             AND (? IS NULL OR family LIKE ? ESCAPE '\\') \
             AND (? IS NULL OR family {cmp} ? OR (family = ? AND revision {cmp} ?)) \
             ORDER BY family {order}, revision {order} LIMIT ?"
        );
        let prefix = family_prefix.map(like_prefix);
        let (after_family, after_revision) = match &page.after {
            Some((f, r)) => (Some(f.as_str()), Some(*r)),
            None => (None, None),
        };
        let rows = sqlx::query(&sql)
            .bind(status.as_str())
            .bind(&prefix)
            .bind(&prefix)
            .bind(after_family)
            .bind(after_family)
            .bind(after_family)
            .bind(after_revision)
            .bind(page.limit)
            .fetch_all(&self.pool)
            .await
            .doing("listing task definitions")?;
        Ok(rows.iter().map(|r| (r.get("family"), r.get("revision"))).collect())
    }

    async fn list_task_definition_families(
        &self,
        family_prefix: Option<&str>,
        status: FamilyStatusFilter,
        page: Page<String>,
    ) -> StoreResult<Vec<String>> {
        let having = match status {
            FamilyStatusFilter::Active => "HAVING SUM(status = 'ACTIVE') > 0",
            FamilyStatusFilter::Inactive => "HAVING SUM(status = 'ACTIVE') = 0",
            FamilyStatusFilter::All => "",
        };
        let sql = format!(
            "SELECT family FROM task_definitions WHERE (? IS NULL OR family LIKE ? ESCAPE '\\') \
             AND (? IS NULL OR family > ?) GROUP BY family {having} ORDER BY family LIMIT ?"
        );
        let prefix = family_prefix.map(like_prefix);
        let rows = sqlx::query(&sql)
            .bind(&prefix)
            .bind(&prefix)
            .bind(&page.after)
            .bind(&page.after)
            .bind(page.limit)
            .fetch_all(&self.pool)
            .await
            .doing("listing task definition families")?;
        Ok(rows.iter().map(|r| r.get("family")).collect())
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
            "UPDATE task_definitions SET status = ?, {column} = ?, version = version + 1 \
             WHERE family = ? AND revision = ? AND status = ?"
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
            "SELECT {TASK_DEFINITION_COLUMNS} FROM task_definitions WHERE family = ? AND revision = ?"
        ))
        .bind(family)
        .bind(revision)
        .fetch_optional(&mut *tx)
        .await
        .doing("reading a task definition")?;
        tx.commit().await.doing("committing a task definition status change")?;
        row.as_ref().map(task_definition_from_row).transpose()
    }

    async fn tag_resource(&self, arn: &str, tags: &[Tag], max_tags: usize) -> StoreResult<()> {
        let mut tx = self.write().await?;
        insert_tags(&mut tx, arn, tags).await?;
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM resource_tags WHERE resource_arn = ?")
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
        tx.commit().await.doing("committing tags")
    }

    async fn untag_resource(&self, arn: &str, keys: &[String]) -> StoreResult<()> {
        let mut tx = self.write().await?;
        for key in keys {
            sqlx::query("DELETE FROM resource_tags WHERE resource_arn = ? AND key = ?")
                .bind(arn)
                .bind(key)
                .execute(&mut *tx)
                .await
                .doing("removing tags")?;
        }
        tx.commit().await.doing("committing tag removal")
    }

    async fn list_tags(&self, arn: &str) -> StoreResult<Vec<Tag>> {
        let rows = sqlx::query("SELECT key, value FROM resource_tags WHERE resource_arn = ? ORDER BY key")
            .bind(arn)
            .fetch_all(&self.pool)
            .await
            .doing("reading tags")?;
        Ok(rows.iter().map(|r| Tag { key: r.get("key"), value: r.get("value") }).collect())
    }
}

#[cfg(test)]
mod tests;
