//! Durable Auto Scaling state on the storage foundation (SQLite's `autoscaling.db`, or
//! the `autoscaling` schema on PostgreSQL): launch configurations and groups as
//! documents unique by name, the groups' instances, and scaling activities.
//!
//! Every change the API or the controller makes to a group, its instances and its
//! activities is one [`Changes`], committed in one transaction with optimistic
//! versions: a group or instance changed since it was read makes the whole change a
//! [`AsgError::Conflict`], and nothing is stored. A launch configuration a group uses
//! cannot be deleted: both sides take the configuration's lock (PostgreSQL) and check
//! inside their transaction.

use crate::error::{AsgError, Result};
use crate::model::{Activity, Group, Instance, LaunchConfiguration};
use flotilla_db::{Db, DbError, Doing, Migrations, RowExt, StoreLocation};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::any::AnyRow;

static SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// The store's name: `autoscaling.db` on SQLite, schema `autoscaling` on PostgreSQL.
pub const STORE_NAME: &str = "autoscaling";

/// What became of a new launch configuration or group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Created {
    Created,
    /// One of that name exists.
    Exists,
    /// There are `limit` already.
    LimitReached,
    /// A group's launch configuration does not exist.
    NoLaunchConfiguration,
}

/// What became of a launch configuration to delete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Deleted {
    Deleted,
    NotFound,
    /// The group (named) uses it.
    InUse(String),
}

/// One change to a group, its instances and activities, stored all or nothing.
#[derive(Debug, Clone, Default)]
pub struct Changes {
    /// Stored if its version is still the stored one (its launch configuration must
    /// exist), or deleted when `delete_group`.
    pub group: Option<Group>,
    pub delete_group: bool,
    /// Inserted when their version is 0, else stored if still at their version.
    pub instances: Vec<Instance>,
    /// Removed if still at their version.
    pub removed: Vec<Instance>,
    /// Inserted, or replaced by id.
    pub activities: Vec<Activity>,
}

/// The Auto Scaling store.
#[derive(Clone)]
pub struct AsgStore {
    db: Db,
}

fn doc<T: DeserializeOwned>(row: &AnyRow, what: &str) -> Result<T> {
    let body: String = row.col("body")?;
    Ok(serde_json::from_str(&body).map_err(|e| DbError::corrupt(what, e))?)
}

fn versioned<T: DeserializeOwned>(row: &AnyRow, what: &str, set: impl FnOnce(&mut T, i64)) -> Result<T> {
    let mut d: T = doc(row, what)?;
    set(&mut d, row.col("version")?);
    Ok(d)
}

fn json<T: Serialize>(value: &T, what: &str) -> Result<String> {
    Ok(serde_json::to_string(value).map_err(|e| DbError::corrupt(what, e))?)
}

fn lc_from(row: &AnyRow) -> Result<LaunchConfiguration> {
    versioned(row, "launch configuration", |d: &mut LaunchConfiguration, v| d.version = v)
}

fn group_from(row: &AnyRow) -> Result<Group> {
    versioned(row, "auto scaling group", |d: &mut Group, v| d.version = v)
}

fn instance_from(row: &AnyRow) -> Result<Instance> {
    versioned(row, "auto scaling instance", |d: &mut Instance, v| d.version = v)
}

impl AsgStore {
    /// Opens (creating if needed) the store at `location` and applies migrations.
    pub async fn open(location: &StoreLocation) -> Result<Self> {
        let db = Db::open(location, STORE_NAME, &Migrations { sqlite: &SQLITE, postgres: &POSTGRES }).await?;
        Ok(Self { db })
    }

    pub async fn close(&self) {
        self.db.close().await;
    }

    // Launch configurations ------------------------------------------------------

    /// Stores a new launch configuration, unless its name is taken or there are
    /// `limit` already.
    pub async fn create_launch_configuration(&self, lc: &LaunchConfiguration, limit: i64) -> Result<Created> {
        let mut tx = self.db.write().await?;
        self.db.lock(&mut tx, "launch configurations").await?;
        let taken: Option<String> = sqlx::query_scalar("SELECT name FROM launch_configurations WHERE name = $1")
            .bind(&lc.name)
            .fetch_optional(&mut *tx)
            .await
            .doing("reading a launch configuration")?;
        if taken.is_some() {
            return Ok(Created::Exists);
        }
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM launch_configurations")
            .fetch_one(&mut *tx)
            .await
            .doing("counting launch configurations")?;
        if count >= limit {
            return Ok(Created::LimitReached);
        }
        sqlx::query(
            "INSERT INTO launch_configurations (name, arn, created_at, body, version) VALUES ($1, $2, $3, $4, 1)",
        )
        .bind(&lc.name)
        .bind(&lc.arn)
        .bind(lc.created_at.0)
        .bind(json(lc, "launch configuration")?)
        .execute(&mut *tx)
        .await
        .doing("storing a launch configuration")?;
        tx.commit().await.doing("committing a launch configuration")?;
        Ok(Created::Created)
    }

    pub async fn launch_configuration(&self, name: &str) -> Result<Option<LaunchConfiguration>> {
        let row = sqlx::query("SELECT body, version FROM launch_configurations WHERE name = $1")
            .bind(name)
            .fetch_optional(self.db.reader())
            .await
            .doing("reading a launch configuration")?;
        row.as_ref().map(lc_from).transpose()
    }

    /// Launch configurations in name order after `after`, at most `limit`.
    pub async fn launch_configurations(&self, after: Option<&str>, limit: i64) -> Result<Vec<LaunchConfiguration>> {
        let rows = sqlx::query(
            "SELECT body, version FROM launch_configurations WHERE ($1 IS NULL OR name > $2) ORDER BY name LIMIT $3",
        )
        .bind(after)
        .bind(after)
        .bind(limit)
        .fetch_all(self.db.reader())
        .await
        .doing("listing launch configurations")?;
        rows.iter().map(lc_from).collect()
    }

    /// Deletes a launch configuration no group uses.
    pub async fn delete_launch_configuration(&self, name: &str) -> Result<Deleted> {
        let mut tx = self.db.write().await?;
        self.db.lock(&mut tx, &format!("launch configuration {name}")).await?;
        let user: Option<String> =
            sqlx::query_scalar("SELECT name FROM auto_scaling_groups WHERE launch_configuration = $1 ORDER BY name")
                .bind(name)
                .fetch_optional(&mut *tx)
                .await
                .doing("finding groups using a launch configuration")?;
        if let Some(group) = user {
            return Ok(Deleted::InUse(group));
        }
        let gone = sqlx::query("DELETE FROM launch_configurations WHERE name = $1")
            .bind(name)
            .execute(&mut *tx)
            .await
            .doing("deleting a launch configuration")?
            .rows_affected();
        tx.commit().await.doing("committing a deleted launch configuration")?;
        Ok(if gone > 0 { Deleted::Deleted } else { Deleted::NotFound })
    }

    // Groups -----------------------------------------------------------------------

    /// Stores a new group, unless its name is taken, there are `limit` already or its
    /// launch configuration does not exist.
    pub async fn create_group(&self, group: &Group, limit: i64) -> Result<Created> {
        let mut tx = self.db.write().await?;
        self.db.lock(&mut tx, "auto scaling groups").await?;
        self.db.lock(&mut tx, &format!("launch configuration {}", group.launch_configuration_name)).await?;
        let taken: Option<String> = sqlx::query_scalar("SELECT name FROM auto_scaling_groups WHERE name = $1")
            .bind(&group.name)
            .fetch_optional(&mut *tx)
            .await
            .doing("reading a group")?;
        if taken.is_some() {
            return Ok(Created::Exists);
        }
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM auto_scaling_groups")
            .fetch_one(&mut *tx)
            .await
            .doing("counting groups")?;
        if count >= limit {
            return Ok(Created::LimitReached);
        }
        if !launch_configuration_exists(&mut tx, &group.launch_configuration_name).await? {
            return Ok(Created::NoLaunchConfiguration);
        }
        sqlx::query(
            "INSERT INTO auto_scaling_groups (name, arn, launch_configuration, created_at, body, version) \
             VALUES ($1, $2, $3, $4, $5, 1)",
        )
        .bind(&group.name)
        .bind(&group.arn)
        .bind(&group.launch_configuration_name)
        .bind(group.created_at.0)
        .bind(json(group, "auto scaling group")?)
        .execute(&mut *tx)
        .await
        .doing("storing a group")?;
        tx.commit().await.doing("committing a group")?;
        Ok(Created::Created)
    }

    pub async fn group(&self, name: &str) -> Result<Option<Group>> {
        let row = sqlx::query("SELECT body, version FROM auto_scaling_groups WHERE name = $1")
            .bind(name)
            .fetch_optional(self.db.reader())
            .await
            .doing("reading a group")?;
        row.as_ref().map(group_from).transpose()
    }

    /// Groups in name order after `after`, at most `limit`.
    pub async fn groups(&self, after: Option<&str>, limit: i64) -> Result<Vec<Group>> {
        let rows = sqlx::query(
            "SELECT body, version FROM auto_scaling_groups WHERE ($1 IS NULL OR name > $2) ORDER BY name LIMIT $3",
        )
        .bind(after)
        .bind(after)
        .bind(limit)
        .fetch_all(self.db.reader())
        .await
        .doing("listing groups")?;
        rows.iter().map(group_from).collect()
    }

    // Instances --------------------------------------------------------------------

    /// A group's instances, by id.
    pub async fn instances_of(&self, group: &str) -> Result<Vec<Instance>> {
        let rows = sqlx::query("SELECT body, version FROM asg_instances WHERE group_name = $1 ORDER BY instance_id")
            .bind(group)
            .fetch_all(self.db.reader())
            .await
            .doing("listing a group's instances")?;
        rows.iter().map(instance_from).collect()
    }

    pub async fn instance(&self, id: &str) -> Result<Option<Instance>> {
        let row = sqlx::query("SELECT body, version FROM asg_instances WHERE instance_id = $1")
            .bind(id)
            .fetch_optional(self.db.reader())
            .await
            .doing("reading an instance")?;
        row.as_ref().map(instance_from).transpose()
    }

    /// Every group's instances in id order after `after`, at most `limit`.
    pub async fn instances(&self, after: Option<&str>, limit: i64) -> Result<Vec<Instance>> {
        let rows = sqlx::query(
            "SELECT body, version FROM asg_instances WHERE ($1 IS NULL OR instance_id > $2) \
             ORDER BY instance_id LIMIT $3",
        )
        .bind(after)
        .bind(after)
        .bind(limit)
        .fetch_all(self.db.reader())
        .await
        .doing("listing instances")?;
        rows.iter().map(instance_from).collect()
    }

    // Changes ----------------------------------------------------------------------

    /// Stores `changes` in one transaction, or nothing when a group or instance in it
    /// was changed since it was read ([`AsgError::Conflict`]); on success the
    /// versions in `changes` are the stored ones.
    pub async fn commit(&self, changes: &mut Changes) -> Result<()> {
        let mut tx = self.db.write().await?;
        if let Some(group) = &changes.group {
            if changes.delete_group {
                let gone = sqlx::query("DELETE FROM auto_scaling_groups WHERE name = $1 AND version = $2")
                    .bind(&group.name)
                    .bind(group.version)
                    .execute(&mut *tx)
                    .await
                    .doing("deleting a group")?
                    .rows_affected();
                if gone == 0 {
                    return Err(AsgError::Conflict(format!("AutoScalingGroup {}", group.name)));
                }
                sqlx::query("DELETE FROM asg_instances WHERE group_name = $1")
                    .bind(&group.name)
                    .execute(&mut *tx)
                    .await
                    .doing("deleting a group's instances")?;
            } else {
                let lc = &group.launch_configuration_name;
                self.db.lock(&mut tx, &format!("launch configuration {lc}")).await?;
                if !launch_configuration_exists(&mut tx, lc).await? {
                    return Err(AsgError::validation(format!(
                        "Launch configuration name not found - Launch configuration {lc} not found"
                    )));
                }
                let changed = sqlx::query(
                    "UPDATE auto_scaling_groups SET launch_configuration = $1, body = $2, version = $3 \
                     WHERE name = $4 AND version = $5",
                )
                .bind(lc)
                .bind(json(&Group { version: group.version + 1, ..group.clone() }, "auto scaling group")?)
                .bind(group.version + 1)
                .bind(&group.name)
                .bind(group.version)
                .execute(&mut *tx)
                .await
                .doing("updating a group")?
                .rows_affected();
                if changed == 0 {
                    return Err(AsgError::Conflict(format!("AutoScalingGroup {}", group.name)));
                }
            }
        }
        for instance in &changes.instances {
            let next = Instance { version: instance.version + 1, ..instance.clone() };
            let body = json(&next, "auto scaling instance")?;
            let stored = if instance.version == 0 {
                sqlx::query(
                    "INSERT INTO asg_instances (instance_id, group_name, launched_at, body, version) \
                     VALUES ($1, $2, $3, $4, 1) ON CONFLICT (instance_id) DO NOTHING",
                )
                .bind(&instance.id)
                .bind(&instance.group_name)
                .bind(instance.launched_at.0)
                .bind(body)
                .execute(&mut *tx)
                .await
                .doing("storing an instance")?
                .rows_affected()
            } else {
                sqlx::query("UPDATE asg_instances SET body = $1, version = $2 WHERE instance_id = $3 AND version = $4")
                    .bind(body)
                    .bind(next.version)
                    .bind(&instance.id)
                    .bind(instance.version)
                    .execute(&mut *tx)
                    .await
                    .doing("updating an instance")?
                    .rows_affected()
            };
            if stored == 0 {
                return Err(AsgError::Conflict(format!("instance {}", instance.id)));
            }
        }
        for instance in &changes.removed {
            let gone = sqlx::query("DELETE FROM asg_instances WHERE instance_id = $1 AND version = $2")
                .bind(&instance.id)
                .bind(instance.version)
                .execute(&mut *tx)
                .await
                .doing("removing an instance")?
                .rows_affected();
            if gone == 0 {
                return Err(AsgError::Conflict(format!("instance {}", instance.id)));
            }
        }
        for activity in &changes.activities {
            sqlx::query(
                "INSERT INTO scaling_activities (activity_id, group_name, start_time, body) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (activity_id) DO UPDATE SET body = excluded.body",
            )
            .bind(&activity.id)
            .bind(&activity.group_name)
            .bind(activity.start_time.0)
            .bind(json(activity, "scaling activity")?)
            .execute(&mut *tx)
            .await
            .doing("storing a scaling activity")?;
        }
        tx.commit().await.doing("committing auto scaling changes")?;
        if let Some(group) = &mut changes.group {
            group.version += 1;
        }
        for instance in &mut changes.instances {
            instance.version += 1;
        }
        Ok(())
    }

    // Activities -------------------------------------------------------------------

    pub async fn activity(&self, id: &str) -> Result<Option<Activity>> {
        let row = sqlx::query("SELECT body FROM scaling_activities WHERE activity_id = $1")
            .bind(id)
            .fetch_optional(self.db.reader())
            .await
            .doing("reading a scaling activity")?;
        row.as_ref().map(|r| doc(r, "scaling activity")).transpose()
    }

    /// Activities newest first (of `group`, or every group's), after the one whose
    /// (start time, id) is `after`, at most `limit`.
    pub async fn activities(
        &self,
        group: Option<&str>,
        after: Option<(i64, &str)>,
        limit: i64,
    ) -> Result<Vec<Activity>> {
        let (after_time, after_id) = match after {
            Some((t, id)) => (Some(t), Some(id)),
            None => (None, None),
        };
        let rows = sqlx::query(
            "SELECT body FROM scaling_activities WHERE ($1 IS NULL OR group_name = $2) \
             AND ($3 IS NULL OR start_time < $4 OR (start_time = $5 AND activity_id < $6)) \
             ORDER BY start_time DESC, activity_id DESC LIMIT $7",
        )
        .bind(group)
        .bind(group)
        .bind(after_time)
        .bind(after_time)
        .bind(after_time)
        .bind(after_id)
        .bind(limit)
        .fetch_all(self.db.reader())
        .await
        .doing("listing scaling activities")?;
        rows.iter().map(|r| doc(r, "scaling activity")).collect()
    }

    /// Forgets activities that started before `before` (epoch ms) and ended; returns
    /// how many.
    pub async fn prune_activities(&self, before: i64) -> Result<u64> {
        let candidates = sqlx::query("SELECT body FROM scaling_activities WHERE start_time < $1")
            .bind(before)
            .fetch_all(self.db.reader())
            .await
            .doing("listing old scaling activities")?;
        let mut gone = 0;
        for row in &candidates {
            let activity: Activity = doc(row, "scaling activity")?;
            if activity.end_time.is_none() {
                continue;
            }
            gone += sqlx::query("DELETE FROM scaling_activities WHERE activity_id = $1")
                .bind(&activity.id)
                .execute(self.db.writer())
                .await
                .doing("forgetting a scaling activity")?
                .rows_affected();
        }
        Ok(gone)
    }
}

async fn launch_configuration_exists(tx: &mut sqlx::Transaction<'static, sqlx::Any>, name: &str) -> Result<bool> {
    let found: Option<String> = sqlx::query_scalar("SELECT name FROM launch_configurations WHERE name = $1")
        .bind(name)
        .fetch_optional(&mut **tx)
        .await
        .doing("reading a launch configuration")?;
    Ok(found.is_some())
}
