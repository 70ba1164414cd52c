//! Durable load balancing state on the storage foundation (SQLite's `elbv2.db`, or the
//! `elbv2` schema on PostgreSQL): load balancers and target groups as documents with
//! unique names and optimistic versions, and their tags.

use crate::error::{ElbError, Result};
use crate::model::{Listener, LoadBalancer, Rule, TargetGroup};
use flotilla_core::tag::Tag;
use flotilla_db::{Db, DbError, Doing, Migrations, RowExt, StoreLocation};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::any::AnyRow;

static SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// The store's name: `elbv2.db` on SQLite, schema `elbv2` on PostgreSQL.
pub const STORE_NAME: &str = "elbv2";

/// A kind of document: its table and how it names itself.
pub trait Document: Serialize + DeserializeOwned + Send + Sync {
    /// The table (one of this store's, never user input).
    const TABLE: &'static str;
    /// What it is, for messages.
    const WHAT: &'static str;
    fn arn(&self) -> &str;
    /// Unique within its kind (a name, or what must not repeat, e.g. a listener's port).
    fn key(&self) -> String;
    /// What it belongs to (a listener's load balancer, a rule's listener), if anything.
    fn parent(&self) -> &str {
        ""
    }
    fn created_at(&self) -> i64;
    fn version(&self) -> i64;
    fn set_version(&mut self, version: i64);
}

/// Implements [`Document`] for a kind: its table, what it is called, its unique key
/// and (optionally) its parent.
macro_rules! document {
    ($kind:ty, $table:literal, $what:literal, |$d:ident| $key:expr $(, parent: |$p:ident| $parent:expr)?) => {
        impl Document for $kind {
            const TABLE: &'static str = $table;
            const WHAT: &'static str = $what;
            fn arn(&self) -> &str {
                &self.arn
            }
            fn key(&self) -> String {
                let $d = self;
                $key
            }
            $(fn parent(&self) -> &str {
                let $p = self;
                $parent
            })?
            fn created_at(&self) -> i64 {
                self.created_at.0
            }
            fn version(&self) -> i64 {
                self.version
            }
            fn set_version(&mut self, version: i64) {
                self.version = version;
            }
        }
    };
}

document!(LoadBalancer, "load_balancers", "load balancer", |d| d.name.clone());
document!(TargetGroup, "target_groups", "target group", |d| d.name.clone());
document!(Listener, "listeners", "listener", |d| format!("{}|{}", d.load_balancer_arn, d.port), parent: |d| &d.load_balancer_arn);
document!(Rule, "rules", "rule", |d| format!("{}|{}", d.listener_arn, d.priority), parent: |d| &d.listener_arn);

/// The load balancing store.
#[derive(Clone)]
pub struct ElbStore {
    db: Db,
}

fn from_row<T: Document>(row: &AnyRow) -> Result<T> {
    let body: String = row.col("body")?;
    let mut doc: T = serde_json::from_str(&body).map_err(|e| DbError::corrupt(T::WHAT, e))?;
    doc.set_version(row.col("version")?);
    Ok(doc)
}

impl ElbStore {
    /// Opens (creating if needed) the store at `location` and applies migrations.
    pub async fn open(location: &StoreLocation) -> Result<Self> {
        let db = Db::open(location, STORE_NAME, &Migrations { sqlite: &SQLITE, postgres: &POSTGRES }).await?;
        Ok(Self { db })
    }

    pub async fn close(&self) {
        self.db.close().await;
    }

    /// Stores a new document with its tags, unless its key is taken (`false`).
    pub async fn create<T: Document>(&self, doc: &T, tags: &[Tag]) -> Result<bool> {
        let mut tx = self.db.write().await?;
        let key = doc.key();
        self.db.lock(&mut tx, &format!("{} key {key}", T::TABLE)).await?;
        let taken: Option<String> = sqlx::query_scalar(&format!("SELECT arn FROM {} WHERE name = $1", T::TABLE))
            .bind(&key)
            .fetch_optional(&mut *tx)
            .await
            .doing(format!("reading a {}", T::WHAT))?;
        if taken.is_some() {
            return Ok(false);
        }
        sqlx::query(&format!(
            "INSERT INTO {} (arn, name, parent, created_at, body, version) VALUES ($1, $2, $3, $4, $5, 1)",
            T::TABLE
        ))
        .bind(doc.arn())
        .bind(&key)
        .bind(doc.parent())
        .bind(doc.created_at())
        .bind(serde_json::to_string(doc).map_err(|e| DbError::corrupt(T::WHAT, e))?)
        .execute(&mut *tx)
        .await
        .doing(format!("storing a {}", T::WHAT))?;
        for tag in tags {
            sqlx::query("INSERT INTO tags (resource_arn, key, value) VALUES ($1, $2, $3)")
                .bind(doc.arn())
                .bind(&tag.key)
                .bind(&tag.value)
                .execute(&mut *tx)
                .await
                .doing("storing tags")?;
        }
        tx.commit().await.doing(format!("committing a new {}", T::WHAT))?;
        Ok(true)
    }

    pub async fn get<T: Document>(&self, arn: &str) -> Result<Option<T>> {
        let row = sqlx::query(&format!("SELECT body, version FROM {} WHERE arn = $1", T::TABLE))
            .bind(arn)
            .fetch_optional(self.db.reader())
            .await
            .doing(format!("reading a {}", T::WHAT))?;
        row.as_ref().map(from_row).transpose()
    }

    pub async fn named<T: Document>(&self, name: &str) -> Result<Option<T>> {
        let row = sqlx::query(&format!("SELECT body, version FROM {} WHERE name = $1", T::TABLE))
            .bind(name)
            .fetch_optional(self.db.reader())
            .await
            .doing(format!("reading a {}", T::WHAT))?;
        row.as_ref().map(from_row).transpose()
    }

    /// Documents in name order after `after`, at most `limit`.
    pub async fn list<T: Document>(&self, after: Option<&str>, limit: i64) -> Result<Vec<T>> {
        let rows = sqlx::query(&format!(
            "SELECT body, version FROM {} WHERE ($1 IS NULL OR name > $2) ORDER BY name LIMIT $3",
            T::TABLE
        ))
        .bind(after)
        .bind(after)
        .bind(limit)
        .fetch_all(self.db.reader())
        .await
        .doing(format!("listing {}s", T::WHAT))?;
        rows.iter().map(from_row).collect()
    }

    /// Stores `doc` if its version is still the stored one; returns it with the next.
    /// A key another document holds is a [`ElbError::Conflict`] too.
    pub async fn update<T: Document + Clone>(&self, doc: &T) -> Result<T> {
        Ok(self.update_all(std::slice::from_ref(doc)).await?.remove(0))
    }

    /// Stores every one of `docs` in one transaction, each only if its version is
    /// still the stored one, and their keys may move among them (rules swapping
    /// priorities); otherwise nothing is stored.
    pub async fn update_all<T: Document + Clone>(&self, docs: &[T]) -> Result<Vec<T>> {
        let mut tx = self.db.write().await?;
        self.db.lock(&mut tx, &format!("{} keys", T::TABLE)).await?;
        // Free the keys first (the ARN is unique), so keys can move among the documents.
        for doc in docs {
            let changed = sqlx::query(&format!("UPDATE {} SET name = arn WHERE arn = $1 AND version = $2", T::TABLE))
                .bind(doc.arn())
                .bind(doc.version())
                .execute(&mut *tx)
                .await
                .doing(format!("updating a {}", T::WHAT))?
                .rows_affected();
            if changed == 0 {
                return Err(ElbError::Conflict(format!("{} {}", T::WHAT, doc.arn())));
            }
        }
        let mut stored = Vec::new();
        for doc in docs {
            let key = doc.key();
            let holder: Option<String> = sqlx::query_scalar(&format!("SELECT arn FROM {} WHERE name = $1", T::TABLE))
                .bind(&key)
                .fetch_optional(&mut *tx)
                .await
                .doing(format!("reading a {}", T::WHAT))?;
            if holder.is_some_and(|a| a != doc.arn()) {
                return Err(ElbError::Conflict(format!("the key {key} of a {}", T::WHAT)));
            }
            let mut next = doc.clone();
            next.set_version(doc.version() + 1);
            sqlx::query(&format!("UPDATE {} SET name = $1, body = $2, version = $3 WHERE arn = $4", T::TABLE))
                .bind(&key)
                .bind(serde_json::to_string(&next).map_err(|e| DbError::corrupt(T::WHAT, e))?)
                .bind(next.version())
                .bind(doc.arn())
                .execute(&mut *tx)
                .await
                .doing(format!("updating a {}", T::WHAT))?;
            stored.push(next);
        }
        tx.commit().await.doing(format!("committing {} changes", T::WHAT))?;
        Ok(stored)
    }

    /// The documents under `parent`, oldest first.
    pub async fn children<T: Document>(&self, parent: &str) -> Result<Vec<T>> {
        let rows =
            sqlx::query(&format!("SELECT body, version FROM {} WHERE parent = $1 ORDER BY created_at, arn", T::TABLE))
                .bind(parent)
                .fetch_all(self.db.reader())
                .await
                .doing(format!("listing {}s", T::WHAT))?;
        rows.iter().map(from_row).collect()
    }

    /// Removes a document and its tags; `false` when there was none.
    pub async fn delete<T: Document>(&self, arn: &str) -> Result<bool> {
        let mut tx = self.db.write().await?;
        let gone = sqlx::query(&format!("DELETE FROM {} WHERE arn = $1", T::TABLE))
            .bind(arn)
            .execute(&mut *tx)
            .await
            .doing(format!("deleting a {}", T::WHAT))?
            .rows_affected();
        sqlx::query("DELETE FROM tags WHERE resource_arn = $1")
            .bind(arn)
            .execute(&mut *tx)
            .await
            .doing("deleting tags")?;
        tx.commit().await.doing(format!("committing a deleted {}", T::WHAT))?;
        Ok(gone > 0)
    }

    /// Adds or overwrites tags on each resource; refuses the whole call when one
    /// would end with more than `max` tags.
    pub async fn add_tags(&self, arns: &[String], tags: &[Tag], max: usize) -> Result<()> {
        let mut tx = self.db.write().await?;
        for arn in arns {
            self.db.lock(&mut tx, &format!("tags {arn}")).await?;
            for tag in tags {
                sqlx::query(
                    "INSERT INTO tags (resource_arn, key, value) VALUES ($1, $2, $3) \
                     ON CONFLICT (resource_arn, key) DO UPDATE SET value = excluded.value",
                )
                .bind(arn)
                .bind(&tag.key)
                .bind(&tag.value)
                .execute(&mut *tx)
                .await
                .doing("writing tags")?;
            }
            let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tags WHERE resource_arn = $1")
                .bind(arn)
                .fetch_one(&mut *tx)
                .await
                .doing("counting tags")?;
            if count as usize > max {
                return Err(ElbError::TooManyTags(format!(
                    "The quota for the number of tags per resource ({max}) was exceeded for {arn}"
                )));
            }
        }
        tx.commit().await.doing("committing tags")?;
        Ok(())
    }

    pub async fn remove_tags(&self, arns: &[String], keys: &[String]) -> Result<()> {
        let mut tx = self.db.write().await?;
        for arn in arns {
            for key in keys {
                sqlx::query("DELETE FROM tags WHERE resource_arn = $1 AND key = $2")
                    .bind(arn)
                    .bind(key)
                    .execute(&mut *tx)
                    .await
                    .doing("removing tags")?;
            }
        }
        tx.commit().await.doing("committing removed tags")?;
        Ok(())
    }

    /// A resource's tags by key.
    pub async fn tags(&self, arn: &str) -> Result<Vec<Tag>> {
        let rows = sqlx::query("SELECT key, value FROM tags WHERE resource_arn = $1 ORDER BY key")
            .bind(arn)
            .fetch_all(self.db.reader())
            .await
            .doing("reading tags")?;
        rows.iter().map(|r| Ok(Tag { key: r.col("key")?, value: r.col("value")? })).collect()
    }
}

/// A target's health as the data plane last found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetHealthRecord {
    pub target_id: String,
    pub port: i64,
    /// `healthy` or `unhealthy`.
    pub state: String,
    pub reason: Option<String>,
    pub description: Option<String>,
}

impl ElbStore {
    /// Records a target's health.
    pub async fn set_health(&self, target_group: &str, record: &TargetHealthRecord, now: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO target_health (target_group_arn, target_id, port, state, reason, description, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (target_group_arn, target_id, port) DO UPDATE SET \
             state = excluded.state, reason = excluded.reason, description = excluded.description, \
             updated_at = excluded.updated_at",
        )
        .bind(target_group)
        .bind(&record.target_id)
        .bind(record.port)
        .bind(&record.state)
        .bind(&record.reason)
        .bind(&record.description)
        .bind(now)
        .execute(self.db.writer())
        .await
        .doing("recording target health")?;
        Ok(())
    }

    /// The recorded health of a target group's targets.
    pub async fn health(&self, target_group: &str) -> Result<Vec<TargetHealthRecord>> {
        let rows = sqlx::query(
            "SELECT target_id, port, state, reason, description FROM target_health WHERE target_group_arn = $1",
        )
        .bind(target_group)
        .fetch_all(self.db.reader())
        .await
        .doing("reading target health")?;
        rows.iter()
            .map(|r| {
                Ok(TargetHealthRecord {
                    target_id: r.col("target_id")?,
                    port: r.col("port")?,
                    state: r.col("state")?,
                    reason: r.col("reason")?,
                    description: r.col("description")?,
                })
            })
            .collect()
    }

    /// Forgets the health of targets no longer registered.
    pub async fn forget_health(&self, target_group: &str, target_id: &str, port: i64) -> Result<()> {
        sqlx::query("DELETE FROM target_health WHERE target_group_arn = $1 AND target_id = $2 AND port = $3")
            .bind(target_group)
            .bind(target_id)
            .bind(port)
            .execute(self.db.writer())
            .await
            .doing("forgetting target health")?;
        Ok(())
    }
}
