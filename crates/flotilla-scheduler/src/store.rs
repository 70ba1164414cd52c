//! The scheduler's store on the storage foundation (`scheduler.db`, or schema
//! `scheduler` on PostgreSQL): groups and schedules as documents, each enabled
//! schedule's next fire time, and the outbox of invocations. A schedule's firing and
//! its invocation are one transaction, so a fire is never lost nor doubled.

use crate::error::SchedulerError;
use crate::model::{DEFAULT_GROUP, Invocation, Schedule, ScheduleGroup};
use flotilla_db::{Db, DbError, Doing, Migrations, RowExt, StoreLocation};

static SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

pub const STORE_NAME: &str = "scheduler";

type Result<T> = std::result::Result<T, SchedulerError>;

fn from_json<T: serde::de::DeserializeOwned>(what: &str, body: &str) -> Result<T> {
    serde_json::from_str(body).map_err(|e| DbError::corrupt(what, e).into())
}

fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

#[derive(Clone)]
pub struct SchedulerStore {
    db: Db,
}

impl SchedulerStore {
    /// Opens the store and makes sure the `default` group exists.
    pub async fn open(location: &StoreLocation, now_s: i64) -> Result<Self> {
        let db = Db::open(location, STORE_NAME, &Migrations { sqlite: &SQLITE, postgres: &POSTGRES }).await?;
        let store = Self { db };
        let default = ScheduleGroup {
            name: DEFAULT_GROUP.into(),
            creation_date: now_s,
            last_modification_date: now_s,
            tags: Vec::new(),
        };
        store.create_group(&default).await?;
        Ok(store)
    }

    pub async fn close(&self) {
        self.db.close().await;
    }

    /// Creates a group; `false` when one of that name exists.
    pub async fn create_group(&self, group: &ScheduleGroup) -> Result<bool> {
        let mut tx = self.db.write().await?;
        self.db.lock(&mut tx, &format!("schedule group {}", group.name)).await?;
        let exists: Option<String> = sqlx::query_scalar("SELECT name FROM schedule_groups WHERE name = $1")
            .bind(&group.name)
            .fetch_optional(&mut *tx)
            .await
            .doing("reading a schedule group")?;
        if exists.is_some() {
            return Ok(false);
        }
        sqlx::query("INSERT INTO schedule_groups (name, body, version) VALUES ($1, $2, 1)")
            .bind(&group.name)
            .bind(to_json(group))
            .execute(&mut *tx)
            .await
            .doing("storing a schedule group")?;
        tx.commit().await.doing("committing a schedule group")?;
        Ok(true)
    }

    pub async fn get_group(&self, name: &str) -> Result<Option<ScheduleGroup>> {
        let row = sqlx::query("SELECT body FROM schedule_groups WHERE name = $1")
            .bind(name)
            .fetch_optional(self.db.reader())
            .await
            .doing("reading a schedule group")?;
        row.map(|r| from_json("schedule group", &r.col::<String>("body")?)).transpose()
    }

    pub async fn list_groups(&self) -> Result<Vec<ScheduleGroup>> {
        let rows = sqlx::query("SELECT body FROM schedule_groups ORDER BY name")
            .fetch_all(self.db.reader())
            .await
            .doing("listing schedule groups")?;
        rows.iter().map(|r| from_json("schedule group", &r.col::<String>("body")?)).collect()
    }

    pub async fn put_group(&self, group: &ScheduleGroup) -> Result<()> {
        sqlx::query("UPDATE schedule_groups SET body = $1, version = version + 1 WHERE name = $2")
            .bind(to_json(group))
            .bind(&group.name)
            .execute(self.db.writer())
            .await
            .doing("updating a schedule group")?;
        Ok(())
    }

    /// Deletes a group and every schedule in it, in one transaction.
    pub async fn delete_group(&self, name: &str) -> Result<bool> {
        let mut tx = self.db.write().await?;
        sqlx::query("DELETE FROM schedules WHERE group_name = $1")
            .bind(name)
            .execute(&mut *tx)
            .await
            .doing("deleting a group's schedules")?;
        let gone = sqlx::query("DELETE FROM schedule_groups WHERE name = $1")
            .bind(name)
            .execute(&mut *tx)
            .await
            .doing("deleting a schedule group")?
            .rows_affected();
        tx.commit().await.doing("committing a group's deletion")?;
        Ok(gone > 0)
    }

    /// Stores a new schedule (`create`: `false` when its name is taken in the group)
    /// or replaces an existing one (`false` when there is none), with its next fire time.
    pub async fn put_schedule(&self, s: &Schedule, next_fire_at: Option<i64>, create: bool) -> Result<bool> {
        let mut tx = self.db.write().await?;
        self.db.lock(&mut tx, &format!("schedule {}/{}", s.group_name, s.name)).await?;
        let exists: Option<i64> =
            sqlx::query_scalar("SELECT version FROM schedules WHERE group_name = $1 AND name = $2")
                .bind(&s.group_name)
                .bind(&s.name)
                .fetch_optional(&mut *tx)
                .await
                .doing("reading a schedule")?;
        if exists.is_some() == create {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO schedules (group_name, name, next_fire_at, body, version) VALUES ($1, $2, $3, $4, 1) \
             ON CONFLICT (group_name, name) DO UPDATE SET next_fire_at = excluded.next_fire_at, body = excluded.body, \
             version = schedules.version + 1",
        )
        .bind(&s.group_name)
        .bind(&s.name)
        .bind(next_fire_at)
        .bind(to_json(s))
        .execute(&mut *tx)
        .await
        .doing("storing a schedule")?;
        tx.commit().await.doing("committing a schedule")?;
        Ok(true)
    }

    pub async fn get_schedule(&self, group: &str, name: &str) -> Result<Option<Schedule>> {
        let row = sqlx::query("SELECT body FROM schedules WHERE group_name = $1 AND name = $2")
            .bind(group)
            .bind(name)
            .fetch_optional(self.db.reader())
            .await
            .doing("reading a schedule")?;
        row.map(|r| from_json("schedule", &r.col::<String>("body")?)).transpose()
    }

    /// Every schedule (of one group when given), by group and name.
    pub async fn list_schedules(&self, group: Option<&str>) -> Result<Vec<Schedule>> {
        let rows =
            sqlx::query("SELECT body FROM schedules WHERE ($1 IS NULL OR group_name = $2) ORDER BY group_name, name")
                .bind(group)
                .bind(group)
                .fetch_all(self.db.reader())
                .await
                .doing("listing schedules")?;
        rows.iter().map(|r| from_json("schedule", &r.col::<String>("body")?)).collect()
    }

    pub async fn delete_schedule(&self, group: &str, name: &str) -> Result<bool> {
        let gone = sqlx::query("DELETE FROM schedules WHERE group_name = $1 AND name = $2")
            .bind(group)
            .bind(name)
            .execute(self.db.writer())
            .await
            .doing("deleting a schedule")?
            .rows_affected();
        Ok(gone > 0)
    }

    /// Schedules due at `now` (epoch ms), at most `limit`.
    pub async fn due_schedules(&self, now: i64, limit: i64) -> Result<Vec<(Schedule, i64)>> {
        let rows = sqlx::query(
            "SELECT body, next_fire_at FROM schedules WHERE next_fire_at IS NOT NULL AND next_fire_at <= $1 \
             ORDER BY next_fire_at LIMIT $2",
        )
        .bind(now)
        .bind(limit)
        .fetch_all(self.db.reader())
        .await
        .doing("reading due schedules")?;
        rows.iter()
            .map(|r| Ok((from_json("schedule", &r.col::<String>("body")?)?, r.col::<i64>("next_fire_at")?)))
            .collect()
    }

    /// Fires a schedule that was due at `due`: stores the invocation and the next fire
    /// time (or deletes the schedule) in one transaction, only if the schedule is still
    /// due at `due` (another pass may have fired it).
    pub async fn fire(
        &self,
        s: &Schedule,
        due: i64,
        invocation: &Invocation,
        next: Option<i64>,
        delete: bool,
    ) -> Result<bool> {
        let mut tx = self.db.write().await?;
        self.db.lock(&mut tx, &format!("schedule {}/{}", s.group_name, s.name)).await?;
        let current: Option<Option<i64>> =
            sqlx::query_scalar("SELECT next_fire_at FROM schedules WHERE group_name = $1 AND name = $2")
                .bind(&s.group_name)
                .bind(&s.name)
                .fetch_optional(&mut *tx)
                .await
                .doing("re-reading a due schedule")?;
        if current != Some(Some(due)) {
            return Ok(false);
        }
        sqlx::query("INSERT INTO invocations (id, next_attempt_at, body) VALUES ($1, $2, $3)")
            .bind(&invocation.id)
            .bind(due)
            .bind(to_json(invocation))
            .execute(&mut *tx)
            .await
            .doing("storing an invocation")?;
        let q = if delete {
            sqlx::query("DELETE FROM schedules WHERE group_name = $1 AND name = $2 AND $3 IS NULL")
        } else {
            sqlx::query("UPDATE schedules SET next_fire_at = $3 WHERE group_name = $1 AND name = $2")
        };
        q.bind(&s.group_name).bind(&s.name).bind(next).execute(&mut *tx).await.doing("moving a schedule on")?;
        tx.commit().await.doing("committing a fire")?;
        Ok(true)
    }

    /// Invocations whose next attempt is due.
    pub async fn due_invocations(&self, now: i64, limit: i64) -> Result<Vec<Invocation>> {
        let rows =
            sqlx::query("SELECT body FROM invocations WHERE next_attempt_at <= $1 ORDER BY next_attempt_at LIMIT $2")
                .bind(now)
                .bind(limit)
                .fetch_all(self.db.reader())
                .await
                .doing("reading due invocations")?;
        rows.iter().map(|r| from_json("invocation", &r.col::<String>("body")?)).collect()
    }

    pub async fn finish_invocation(&self, id: &str) -> Result<()> {
        sqlx::query("DELETE FROM invocations WHERE id = $1")
            .bind(id)
            .execute(self.db.writer())
            .await
            .doing("removing a delivered invocation")?;
        Ok(())
    }

    pub async fn retry_invocation(&self, invocation: &Invocation, at: i64) -> Result<()> {
        sqlx::query("UPDATE invocations SET next_attempt_at = $1, body = $2 WHERE id = $3")
            .bind(at)
            .bind(to_json(invocation))
            .bind(&invocation.id)
            .execute(self.db.writer())
            .await
            .doing("scheduling an invocation's retry")?;
        Ok(())
    }
}
