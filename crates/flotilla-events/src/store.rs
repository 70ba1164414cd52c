//! Durable EventBridge state on the storage foundation (SQLite's `events.db`, or the
//! `events` schema on PostgreSQL): buses, rules, targets, connections, API
//! destinations, and the **outbox**.
//!
//! The outbox is two tables: `events` (an event that matched at least one rule) and
//! `deliveries` (one row per matched target, with the body it receives, its attempts
//! and when it is next due). PutEvents and every schedule fire insert an event with
//! its deliveries in one transaction, so an acknowledged event is never lost and never
//! half-matched; a delivery row is deleted when it ends (delivered, dead-lettered or
//! dropped), and its event with its last delivery.
//!
//! Every change to a bus's rules or targets raises the bus's `generation` in the same
//! transaction, so PutEvents can keep the bus's compiled rules in memory and know when
//! to read them again (on any replica).

use crate::error::{EventsError, Result};
use flotilla_db::{Db, Migrations, RowExt, StoreLocation};
use sqlx::any::AnyRow;
use sqlx::{Any, Transaction};
use std::collections::BTreeMap;

static SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// The store's name: `events.db` on SQLite, schema `events` on PostgreSQL.
pub const STORE_NAME: &str = "events";
/// The bus every account has.
pub const DEFAULT_BUS: &str = "default";

pub type Tags = BTreeMap<String, String>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusRecord {
    pub name: String,
    pub description: Option<String>,
    pub created_at: i64,
    pub modified_at: i64,
    pub tags: Tags,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleRecord {
    pub bus: String,
    pub name: String,
    pub event_pattern: Option<String>,
    pub schedule: Option<String>,
    /// `ENABLED`, `DISABLED` or `ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS`.
    pub state: String,
    pub description: Option<String>,
    pub role_arn: Option<String>,
    pub tags: Tags,
    pub created_at: i64,
    /// Where a `rate(…)` counts from.
    pub schedule_start: Option<i64>,
    /// The last fire time, or when the schedule was set or enabled.
    pub last_fired: Option<i64>,
}

impl RuleRecord {
    pub fn enabled(&self) -> bool {
        self.state != "DISABLED"
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetRecord {
    pub id: String,
    pub arn: String,
    /// The Target as PutTargets took it (JSON).
    pub document: String,
}

#[derive(Clone, PartialEq, Eq)]
pub struct ConnectionRecord {
    pub name: String,
    pub uid: String,
    pub description: Option<String>,
    pub authorization_type: String,
    /// AuthParameters as given, secrets included (JSON).
    pub auth: String,
    pub state: String,
    pub state_reason: Option<String>,
    pub created_at: i64,
    pub modified_at: i64,
    pub authorized_at: Option<i64>,
}

impl std::fmt::Debug for ConnectionRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionRecord")
            .field("name", &self.name)
            .field("authorization_type", &self.authorization_type)
            .field("auth", &"<redacted>")
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiDestinationRecord {
    pub name: String,
    pub uid: String,
    pub description: Option<String>,
    pub connection_arn: String,
    pub endpoint: String,
    pub method: String,
    pub rate_limit: Option<i64>,
    pub created_at: i64,
    pub modified_at: i64,
}

/// A delivery to insert with its event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDelivery {
    pub rule_arn: String,
    /// The target as it is now (JSON).
    pub target: String,
    /// What the target receives.
    pub body: String,
}

/// An event to put in the outbox with its deliveries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    pub id: String,
    pub body: String,
    pub ingested_at: i64,
    pub deliveries: Vec<NewDelivery>,
}

/// A pending delivery, with its event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRecord {
    pub id: i64,
    pub event_id: String,
    pub event: String,
    pub rule_arn: String,
    pub target: String,
    pub body: String,
    pub created_at: i64,
    pub attempts: i64,
    pub due_at: i64,
    pub last_error: Option<String>,
}

/// What a rule or target change found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Done,
    NoBus,
    NoRule,
    Limit,
    HasTargets,
}

/// Event buses, rules and targets, connections and API destinations, and the outbox,
/// in a SQL database (through [`Db`]).
#[derive(Clone)]
pub struct EventStore {
    db: Db,
}

fn json_tags(text: &str, what: &str) -> Result<Tags> {
    serde_json::from_str(text).map_err(|e| EventsError::corrupt(what, e))
}

fn tags_json(tags: &Tags) -> String {
    serde_json::to_string(tags).unwrap_or_else(|_| "{}".into())
}

fn bus_from_row(row: &AnyRow) -> Result<BusRecord> {
    let tags: String = row.col("tags")?;
    Ok(BusRecord {
        name: row.col("name")?,
        description: row.col("description")?,
        created_at: row.col("created_at")?,
        modified_at: row.col("modified_at")?,
        tags: json_tags(&tags, "an event bus's tags")?,
    })
}

fn rule_from_row(row: &AnyRow) -> Result<RuleRecord> {
    let tags: String = row.col("tags")?;
    Ok(RuleRecord {
        bus: row.col("bus")?,
        name: row.col("name")?,
        event_pattern: row.col("event_pattern")?,
        schedule: row.col("schedule")?,
        state: row.col("state")?,
        description: row.col("description")?,
        role_arn: row.col("role_arn")?,
        tags: json_tags(&tags, "a rule's tags")?,
        created_at: row.col("created_at")?,
        schedule_start: row.col("schedule_start")?,
        last_fired: row.col("last_fired")?,
    })
}

fn target_from_row(row: &AnyRow) -> Result<TargetRecord> {
    Ok(TargetRecord { id: row.col("id")?, arn: row.col("arn")?, document: row.col("document")? })
}

fn connection_from_row(row: &AnyRow) -> Result<ConnectionRecord> {
    Ok(ConnectionRecord {
        name: row.col("name")?,
        uid: row.col("uid")?,
        description: row.col("description")?,
        authorization_type: row.col("authorization_type")?,
        auth: row.col("auth")?,
        state: row.col("state")?,
        state_reason: row.col("state_reason")?,
        created_at: row.col("created_at")?,
        modified_at: row.col("modified_at")?,
        authorized_at: row.col("authorized_at")?,
    })
}

fn destination_from_row(row: &AnyRow) -> Result<ApiDestinationRecord> {
    Ok(ApiDestinationRecord {
        name: row.col("name")?,
        uid: row.col("uid")?,
        description: row.col("description")?,
        connection_arn: row.col("connection_arn")?,
        endpoint: row.col("endpoint")?,
        method: row.col("method")?,
        rate_limit: row.col("rate_limit")?,
        created_at: row.col("created_at")?,
        modified_at: row.col("modified_at")?,
    })
}

fn delivery_from_row(row: &AnyRow) -> Result<DeliveryRecord> {
    Ok(DeliveryRecord {
        id: row.col("id")?,
        event_id: row.col("event_id")?,
        event: row.col("event_body")?,
        rule_arn: row.col("rule_arn")?,
        target: row.col("target")?,
        body: row.col("body")?,
        created_at: row.col("created_at")?,
        attempts: row.col("attempts")?,
        due_at: row.col("due_at")?,
        last_error: row.col("last_error")?,
    })
}

/// `LIKE` patterns match literally: `%`, `_` and the escape itself are escaped.
fn like_prefix(prefix: Option<&str>) -> Option<String> {
    let prefix = prefix?;
    let mut out = String::with_capacity(prefix.len() + 1);
    for c in prefix.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    Some(out)
}

const RULE_COLUMNS: &str = "bus, name, event_pattern, schedule, state, description, role_arn, tags, created_at, \
     schedule_start, last_fired";

const DELIVERY_COLUMNS: &str = "d.id, d.event_id, e.body AS event_body, d.rule_arn, d.target, d.body, d.created_at, \
     d.attempts, d.due_at, d.last_error";

impl EventStore {
    /// Opens (creating if needed) the events store at `location`, applies migrations
    /// and makes sure the `default` bus exists.
    pub async fn open(location: &StoreLocation) -> Result<Self> {
        let db = Db::open(location, STORE_NAME, &Migrations { sqlite: &SQLITE, postgres: &POSTGRES }).await?;
        let store = Self { db };
        let now = store.now_ms().await?;
        let mut tx = store.db.write().await?;
        sqlx::query(
            "INSERT INTO buses (name, created_at, modified_at) VALUES ($1, $2, $2) ON CONFLICT (name) DO NOTHING",
        )
        .bind(DEFAULT_BUS)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(store)
    }

    pub async fn close(&self) {
        self.db.close().await;
    }

    /// The database's clock (milliseconds since the epoch).
    pub async fn now_ms(&self) -> Result<i64> {
        Ok(self.db.now_ms().await?)
    }

    async fn bump(tx: &mut Transaction<'static, Any>, bus: &str) -> Result<()> {
        sqlx::query("UPDATE buses SET generation = generation + 1 WHERE name = $1")
            .bind(bus)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    // Buses -------------------------------------------------------------------

    /// Creates a bus unless there are `limit` already ([`Outcome::Limit`]); refused when
    /// the name is taken.
    pub async fn create_bus(&self, bus: &BusRecord, limit: i64) -> Result<Outcome> {
        let mut tx = self.db.write().await?;
        self.db.lock(&mut tx, "buses").await?;
        let exists =
            sqlx::query("SELECT name FROM buses WHERE name = $1").bind(&bus.name).fetch_optional(&mut *tx).await?;
        if exists.is_some() {
            return Err(EventsError::AlreadyExists(format!("Event bus {} already exists.", bus.name)));
        }
        let count: i64 = sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM buses").fetch_one(&mut *tx).await?;
        if count >= limit {
            return Ok(Outcome::Limit);
        }
        sqlx::query("INSERT INTO buses (name, description, created_at, modified_at, tags) VALUES ($1, $2, $3, $4, $5)")
            .bind(&bus.name)
            .bind(&bus.description)
            .bind(bus.created_at)
            .bind(bus.modified_at)
            .bind(tags_json(&bus.tags))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Outcome::Done)
    }

    pub async fn bus(&self, name: &str) -> Result<Option<BusRecord>> {
        let row =
            sqlx::query("SELECT * FROM buses WHERE name = $1").bind(name).fetch_optional(self.db.reader()).await?;
        row.as_ref().map(bus_from_row).transpose()
    }

    /// The bus's rules generation (None: no such bus).
    pub async fn bus_generation(&self, name: &str) -> Result<Option<i64>> {
        Ok(sqlx::query_scalar("SELECT generation FROM buses WHERE name = $1")
            .bind(name)
            .fetch_optional(self.db.reader())
            .await?)
    }

    /// Buses by name after `after`, with the prefix, at most `limit`.
    pub async fn buses(&self, prefix: Option<&str>, after: Option<&str>, limit: i64) -> Result<Vec<BusRecord>> {
        let rows = sqlx::query(
            "SELECT * FROM buses WHERE ($1 IS NULL OR name LIKE $1 ESCAPE '\\') AND ($2 IS NULL OR name > $2) \
             ORDER BY name LIMIT $3",
        )
        .bind(like_prefix(prefix))
        .bind(after)
        .bind(limit)
        .fetch_all(self.db.reader())
        .await?;
        rows.iter().map(bus_from_row).collect()
    }

    /// Deletes a bus with its rules and targets; `false` when absent.
    pub async fn delete_bus(&self, name: &str) -> Result<bool> {
        let mut tx = self.db.write().await?;
        self.db.lock(&mut tx, &format!("bus:{name}")).await?;
        sqlx::query("DELETE FROM targets WHERE bus = $1").bind(name).execute(&mut *tx).await?;
        sqlx::query("DELETE FROM rules WHERE bus = $1").bind(name).execute(&mut *tx).await?;
        let done = sqlx::query("DELETE FROM buses WHERE name = $1").bind(name).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    /// Replaces a bus's tags with what `change` makes of them; `false` when absent.
    pub async fn change_bus_tags(&self, name: &str, change: impl FnOnce(&mut Tags) -> Result<()>) -> Result<bool> {
        let mut tx = self.db.write().await?;
        self.db.lock(&mut tx, &format!("bus:{name}")).await?;
        let Some(row) =
            sqlx::query("SELECT tags FROM buses WHERE name = $1").bind(name).fetch_optional(&mut *tx).await?
        else {
            return Ok(false);
        };
        let tags: String = row.col("tags")?;
        let mut tags = json_tags(&tags, "an event bus's tags")?;
        change(&mut tags)?;
        sqlx::query("UPDATE buses SET tags = $1 WHERE name = $2")
            .bind(tags_json(&tags))
            .bind(name)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    // Rules -------------------------------------------------------------------

    /// Creates or replaces a rule: `make` gets the rule as it is (None: new) and
    /// returns it as it should be. A new rule is refused past `limit` rules on its bus.
    pub async fn put_rule(
        &self,
        bus: &str,
        name: &str,
        limit: i64,
        make: impl FnOnce(Option<&RuleRecord>) -> Result<RuleRecord>,
    ) -> Result<Outcome> {
        let mut tx = self.db.write().await?;
        self.db.lock(&mut tx, &format!("bus:{bus}")).await?;
        let exists = sqlx::query("SELECT name FROM buses WHERE name = $1").bind(bus).fetch_optional(&mut *tx).await?;
        if exists.is_none() {
            return Ok(Outcome::NoBus);
        }
        let before = sqlx::query(&format!("SELECT {RULE_COLUMNS} FROM rules WHERE bus = $1 AND name = $2"))
            .bind(bus)
            .bind(name)
            .fetch_optional(&mut *tx)
            .await?;
        let before = before.as_ref().map(rule_from_row).transpose()?;
        if before.is_none() {
            let count: i64 = sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM rules WHERE bus = $1")
                .bind(bus)
                .fetch_one(&mut *tx)
                .await?;
            if count >= limit {
                return Ok(Outcome::Limit);
            }
        }
        let rule = make(before.as_ref())?;
        Self::write_rule(&mut tx, &rule, before.is_none()).await?;
        Self::bump(&mut tx, bus).await?;
        tx.commit().await?;
        Ok(Outcome::Done)
    }

    async fn write_rule(tx: &mut Transaction<'static, Any>, rule: &RuleRecord, insert: bool) -> Result<()> {
        let sql = if insert {
            "INSERT INTO rules (event_pattern, schedule, state, description, role_arn, tags, created_at, \
             schedule_start, last_fired, bus, name) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        } else {
            "UPDATE rules SET event_pattern = $1, schedule = $2, state = $3, description = $4, role_arn = $5, \
             tags = $6, created_at = $7, schedule_start = $8, last_fired = $9 WHERE bus = $10 AND name = $11"
        };
        sqlx::query(sql)
            .bind(&rule.event_pattern)
            .bind(&rule.schedule)
            .bind(&rule.state)
            .bind(&rule.description)
            .bind(&rule.role_arn)
            .bind(tags_json(&rule.tags))
            .bind(rule.created_at)
            .bind(rule.schedule_start)
            .bind(rule.last_fired)
            .bind(&rule.bus)
            .bind(&rule.name)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    /// Changes a rule with `change`; `None` when it does not exist.
    pub async fn update_rule(
        &self,
        bus: &str,
        name: &str,
        change: impl FnOnce(&mut RuleRecord) -> Result<()>,
    ) -> Result<Option<RuleRecord>> {
        let mut tx = self.db.write().await?;
        self.db.lock(&mut tx, &format!("bus:{bus}")).await?;
        let row = sqlx::query(&format!("SELECT {RULE_COLUMNS} FROM rules WHERE bus = $1 AND name = $2"))
            .bind(bus)
            .bind(name)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(mut rule) = row.as_ref().map(rule_from_row).transpose()? else { return Ok(None) };
        change(&mut rule)?;
        Self::write_rule(&mut tx, &rule, false).await?;
        Self::bump(&mut tx, bus).await?;
        tx.commit().await?;
        Ok(Some(rule))
    }

    pub async fn rule(&self, bus: &str, name: &str) -> Result<Option<RuleRecord>> {
        let row = sqlx::query(&format!("SELECT {RULE_COLUMNS} FROM rules WHERE bus = $1 AND name = $2"))
            .bind(bus)
            .bind(name)
            .fetch_optional(self.db.reader())
            .await?;
        row.as_ref().map(rule_from_row).transpose()
    }

    /// A bus's rules by name after `after`, with the prefix, at most `limit`.
    pub async fn rules(
        &self,
        bus: &str,
        prefix: Option<&str>,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<RuleRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {RULE_COLUMNS} FROM rules WHERE bus = $1 AND ($2 IS NULL OR name LIKE $2 ESCAPE '\\') \
             AND ($3 IS NULL OR name > $3) ORDER BY name LIMIT $4"
        ))
        .bind(bus)
        .bind(like_prefix(prefix))
        .bind(after)
        .bind(limit)
        .fetch_all(self.db.reader())
        .await?;
        rows.iter().map(rule_from_row).collect()
    }

    /// Deletes a rule (with its targets when `force`); [`Outcome::HasTargets`] when it
    /// has targets and `force` is not given, [`Outcome::NoRule`] when absent.
    pub async fn delete_rule(&self, bus: &str, name: &str, force: bool) -> Result<Outcome> {
        let mut tx = self.db.write().await?;
        self.db.lock(&mut tx, &format!("bus:{bus}")).await?;
        let targets: i64 =
            sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM targets WHERE bus = $1 AND rule = $2")
                .bind(bus)
                .bind(name)
                .fetch_one(&mut *tx)
                .await?;
        if targets > 0 && !force {
            return Ok(Outcome::HasTargets);
        }
        sqlx::query("DELETE FROM targets WHERE bus = $1 AND rule = $2").bind(bus).bind(name).execute(&mut *tx).await?;
        let done = sqlx::query("DELETE FROM rules WHERE bus = $1 AND name = $2")
            .bind(bus)
            .bind(name)
            .execute(&mut *tx)
            .await?;
        Self::bump(&mut tx, bus).await?;
        tx.commit().await?;
        Ok(if done.rows_affected() == 1 { Outcome::Done } else { Outcome::NoRule })
    }

    /// Enabled rules of every bus that have a schedule.
    pub async fn schedule_rules(&self) -> Result<Vec<RuleRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {RULE_COLUMNS} FROM rules WHERE schedule IS NOT NULL AND state <> 'DISABLED' ORDER BY bus, name"
        ))
        .fetch_all(self.db.reader())
        .await?;
        rows.iter().map(rule_from_row).collect()
    }

    /// A bus's enabled rules with an event pattern, each with its targets, and the
    /// bus's generation they were read at (None: no such bus).
    pub async fn pattern_rules(&self, bus: &str) -> Result<Option<(i64, Vec<(RuleRecord, Vec<TargetRecord>)>)>> {
        // One transaction, so the generation and the rules agree.
        let mut tx = self.db.reader().begin().await?;
        let generation: Option<i64> = sqlx::query_scalar("SELECT generation FROM buses WHERE name = $1")
            .bind(bus)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(generation) = generation else { return Ok(None) };
        let rules = sqlx::query(&format!(
            "SELECT {RULE_COLUMNS} FROM rules WHERE bus = $1 AND event_pattern IS NOT NULL AND state <> 'DISABLED' \
             ORDER BY name"
        ))
        .bind(bus)
        .fetch_all(&mut *tx)
        .await?;
        let targets = sqlx::query("SELECT rule, id, arn, document FROM targets WHERE bus = $1 ORDER BY rule, id")
            .bind(bus)
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        let mut by_rule: BTreeMap<String, Vec<TargetRecord>> = BTreeMap::new();
        for row in &targets {
            let rule: String = row.col("rule")?;
            by_rule.entry(rule).or_default().push(target_from_row(row)?);
        }
        let mut out = Vec::new();
        for row in &rules {
            let rule = rule_from_row(row)?;
            let targets = by_rule.remove(&rule.name).unwrap_or_default();
            out.push((rule, targets));
        }
        Ok(Some((generation, out)))
    }

    /// Moves a schedule rule's last fire time from `last_fired` to `due` and puts the
    /// fire's event in the outbox, in one transaction; `false` (nothing done) when the
    /// rule changed meanwhile (fired elsewhere, disabled, deleted, rescheduled).
    pub async fn fire_schedule(&self, rule: &RuleRecord, due: i64, event: Option<&NewEvent>) -> Result<bool> {
        let mut tx = self.db.write().await?;
        let done = sqlx::query(
            "UPDATE rules SET last_fired = $1 WHERE bus = $2 AND name = $3 AND last_fired = $4 \
             AND schedule = $5 AND state <> 'DISABLED'",
        )
        .bind(due)
        .bind(&rule.bus)
        .bind(&rule.name)
        .bind(rule.last_fired)
        .bind(&rule.schedule)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        if let Some(event) = event {
            Self::insert_event(&mut tx, event).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    // Targets -----------------------------------------------------------------

    /// A rule's targets by id.
    pub async fn targets(&self, bus: &str, rule: &str) -> Result<Vec<TargetRecord>> {
        let rows = sqlx::query("SELECT id, arn, document FROM targets WHERE bus = $1 AND rule = $2 ORDER BY id")
            .bind(bus)
            .bind(rule)
            .fetch_all(self.db.reader())
            .await?;
        rows.iter().map(target_from_row).collect()
    }

    /// Adds or replaces targets of a rule; refused whole ([`Outcome::Limit`]) when the
    /// rule would have more than `limit` targets.
    pub async fn put_targets(&self, bus: &str, rule: &str, targets: &[TargetRecord], limit: usize) -> Result<Outcome> {
        let mut tx = self.db.write().await?;
        self.db.lock(&mut tx, &format!("bus:{bus}")).await?;
        let exists = sqlx::query("SELECT name FROM rules WHERE bus = $1 AND name = $2")
            .bind(bus)
            .bind(rule)
            .fetch_optional(&mut *tx)
            .await?;
        if exists.is_none() {
            return Ok(Outcome::NoRule);
        }
        let ids: Vec<String> = sqlx::query_scalar("SELECT id FROM targets WHERE bus = $1 AND rule = $2")
            .bind(bus)
            .bind(rule)
            .fetch_all(&mut *tx)
            .await?;
        let mut all: std::collections::BTreeSet<&str> = ids.iter().map(String::as_str).collect();
        all.extend(targets.iter().map(|t| t.id.as_str()));
        if all.len() > limit {
            return Ok(Outcome::Limit);
        }
        for t in targets {
            sqlx::query(
                "INSERT INTO targets (bus, rule, id, arn, document) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (bus, rule, id) DO UPDATE SET arn = excluded.arn, document = excluded.document",
            )
            .bind(bus)
            .bind(rule)
            .bind(&t.id)
            .bind(&t.arn)
            .bind(&t.document)
            .execute(&mut *tx)
            .await?;
        }
        Self::bump(&mut tx, bus).await?;
        tx.commit().await?;
        Ok(Outcome::Done)
    }

    /// Removes targets by id; returns the ids that were there (None: no such rule).
    pub async fn remove_targets(&self, bus: &str, rule: &str, ids: &[String]) -> Result<Option<Vec<String>>> {
        let mut tx = self.db.write().await?;
        self.db.lock(&mut tx, &format!("bus:{bus}")).await?;
        let exists = sqlx::query("SELECT name FROM rules WHERE bus = $1 AND name = $2")
            .bind(bus)
            .bind(rule)
            .fetch_optional(&mut *tx)
            .await?;
        if exists.is_none() {
            return Ok(None);
        }
        let mut removed = Vec::new();
        for id in ids {
            let done = sqlx::query("DELETE FROM targets WHERE bus = $1 AND rule = $2 AND id = $3")
                .bind(bus)
                .bind(rule)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            if done.rows_affected() == 1 {
                removed.push(id.clone());
            }
        }
        Self::bump(&mut tx, bus).await?;
        tx.commit().await?;
        Ok(Some(removed))
    }

    /// Names of a bus's rules with a target of this ARN, after `after`, at most `limit`.
    pub async fn rule_names_by_target(
        &self,
        bus: &str,
        arn: &str,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT DISTINCT rule FROM targets WHERE bus = $1 AND arn = $2 AND ($3 IS NULL OR rule > $3) \
             ORDER BY rule LIMIT $4",
        )
        .bind(bus)
        .bind(arn)
        .bind(after)
        .bind(limit)
        .fetch_all(self.db.reader())
        .await?)
    }

    // Connections and API destinations ------------------------------------------

    /// Creates a connection; `false` when the name is taken.
    pub async fn create_connection(&self, c: &ConnectionRecord) -> Result<bool> {
        let mut tx = self.db.write().await?;
        let done = sqlx::query(
            "INSERT INTO connections (name, uid, description, authorization_type, auth, state, state_reason, \
             created_at, modified_at, authorized_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(&c.name)
        .bind(&c.uid)
        .bind(&c.description)
        .bind(&c.authorization_type)
        .bind(&c.auth)
        .bind(&c.state)
        .bind(&c.state_reason)
        .bind(c.created_at)
        .bind(c.modified_at)
        .bind(c.authorized_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn connection(&self, name: &str) -> Result<Option<ConnectionRecord>> {
        let row = sqlx::query("SELECT * FROM connections WHERE name = $1")
            .bind(name)
            .fetch_optional(self.db.reader())
            .await?;
        row.as_ref().map(connection_from_row).transpose()
    }

    pub async fn connections(
        &self,
        prefix: Option<&str>,
        state: Option<&str>,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<ConnectionRecord>> {
        let rows = sqlx::query(
            "SELECT * FROM connections WHERE ($1 IS NULL OR name LIKE $1 ESCAPE '\\') AND ($2 IS NULL OR state = $2) \
             AND ($3 IS NULL OR name > $3) ORDER BY name LIMIT $4",
        )
        .bind(like_prefix(prefix))
        .bind(state)
        .bind(after)
        .bind(limit)
        .fetch_all(self.db.reader())
        .await?;
        rows.iter().map(connection_from_row).collect()
    }

    /// Changes a connection with `change`; `None` when it does not exist.
    pub async fn update_connection(
        &self,
        name: &str,
        change: impl FnOnce(&mut ConnectionRecord) -> Result<()>,
    ) -> Result<Option<ConnectionRecord>> {
        let mut tx = self.db.write().await?;
        self.db.lock(&mut tx, &format!("connection:{name}")).await?;
        let row = sqlx::query("SELECT * FROM connections WHERE name = $1").bind(name).fetch_optional(&mut *tx).await?;
        let Some(mut c) = row.as_ref().map(connection_from_row).transpose()? else { return Ok(None) };
        change(&mut c)?;
        sqlx::query(
            "UPDATE connections SET description = $1, authorization_type = $2, auth = $3, state = $4, \
             state_reason = $5, modified_at = $6, authorized_at = $7 WHERE name = $8",
        )
        .bind(&c.description)
        .bind(&c.authorization_type)
        .bind(&c.auth)
        .bind(&c.state)
        .bind(&c.state_reason)
        .bind(c.modified_at)
        .bind(c.authorized_at)
        .bind(name)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(c))
    }

    /// Deletes a connection; returns it as it was (None: absent).
    pub async fn delete_connection(&self, name: &str) -> Result<Option<ConnectionRecord>> {
        let mut tx = self.db.write().await?;
        let row = sqlx::query("SELECT * FROM connections WHERE name = $1").bind(name).fetch_optional(&mut *tx).await?;
        let Some(c) = row.as_ref().map(connection_from_row).transpose()? else { return Ok(None) };
        sqlx::query("DELETE FROM connections WHERE name = $1").bind(name).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(Some(c))
    }

    /// Creates an API destination; `false` when the name is taken.
    pub async fn create_api_destination(&self, d: &ApiDestinationRecord) -> Result<bool> {
        let mut tx = self.db.write().await?;
        let done = sqlx::query(
            "INSERT INTO api_destinations (name, uid, description, connection_arn, endpoint, method, rate_limit, \
             created_at, modified_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (name) DO NOTHING",
        )
        .bind(&d.name)
        .bind(&d.uid)
        .bind(&d.description)
        .bind(&d.connection_arn)
        .bind(&d.endpoint)
        .bind(&d.method)
        .bind(d.rate_limit)
        .bind(d.created_at)
        .bind(d.modified_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn api_destination(&self, name: &str) -> Result<Option<ApiDestinationRecord>> {
        let row = sqlx::query("SELECT * FROM api_destinations WHERE name = $1")
            .bind(name)
            .fetch_optional(self.db.reader())
            .await?;
        row.as_ref().map(destination_from_row).transpose()
    }

    pub async fn api_destinations(
        &self,
        prefix: Option<&str>,
        connection_arn: Option<&str>,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<ApiDestinationRecord>> {
        let rows = sqlx::query(
            "SELECT * FROM api_destinations WHERE ($1 IS NULL OR name LIKE $1 ESCAPE '\\') \
             AND ($2 IS NULL OR connection_arn = $2) AND ($3 IS NULL OR name > $3) ORDER BY name LIMIT $4",
        )
        .bind(like_prefix(prefix))
        .bind(connection_arn)
        .bind(after)
        .bind(limit)
        .fetch_all(self.db.reader())
        .await?;
        rows.iter().map(destination_from_row).collect()
    }

    /// Changes an API destination with `change`; `None` when it does not exist.
    pub async fn update_api_destination(
        &self,
        name: &str,
        change: impl FnOnce(&mut ApiDestinationRecord) -> Result<()>,
    ) -> Result<Option<ApiDestinationRecord>> {
        let mut tx = self.db.write().await?;
        self.db.lock(&mut tx, &format!("api-destination:{name}")).await?;
        let row =
            sqlx::query("SELECT * FROM api_destinations WHERE name = $1").bind(name).fetch_optional(&mut *tx).await?;
        let Some(mut d) = row.as_ref().map(destination_from_row).transpose()? else { return Ok(None) };
        change(&mut d)?;
        sqlx::query(
            "UPDATE api_destinations SET description = $1, connection_arn = $2, endpoint = $3, method = $4, \
             rate_limit = $5, modified_at = $6 WHERE name = $7",
        )
        .bind(&d.description)
        .bind(&d.connection_arn)
        .bind(&d.endpoint)
        .bind(&d.method)
        .bind(d.rate_limit)
        .bind(d.modified_at)
        .bind(name)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(d))
    }

    /// Deletes an API destination; `false` when absent.
    pub async fn delete_api_destination(&self, name: &str) -> Result<bool> {
        let mut tx = self.db.write().await?;
        let done = sqlx::query("DELETE FROM api_destinations WHERE name = $1").bind(name).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    // The outbox ----------------------------------------------------------------

    async fn insert_event(tx: &mut Transaction<'static, Any>, event: &NewEvent) -> Result<()> {
        sqlx::query("INSERT INTO events (id, body, ingested_at) VALUES ($1, $2, $3)")
            .bind(&event.id)
            .bind(&event.body)
            .bind(event.ingested_at)
            .execute(&mut **tx)
            .await?;
        for d in &event.deliveries {
            sqlx::query(
                "INSERT INTO deliveries (event_id, rule_arn, target, body, created_at, due_at) \
                 VALUES ($1, $2, $3, $4, $5, $5)",
            )
            .bind(&event.id)
            .bind(&d.rule_arn)
            .bind(&d.target)
            .bind(&d.body)
            .bind(event.ingested_at)
            .execute(&mut **tx)
            .await?;
        }
        Ok(())
    }

    /// Puts events with their deliveries in the outbox, all in one transaction.
    pub async fn insert_events(&self, events: &[NewEvent]) -> Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        let mut tx = self.db.write().await?;
        for event in events {
            Self::insert_event(&mut tx, event).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Deliveries due at `now`, earliest first, at most `limit`.
    pub async fn due_deliveries(&self, now: i64, limit: i64) -> Result<Vec<DeliveryRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM deliveries d JOIN events e ON e.id = d.event_id \
             WHERE d.due_at <= $1 ORDER BY d.due_at, d.id LIMIT $2"
        ))
        .bind(now)
        .bind(limit)
        .fetch_all(self.db.reader())
        .await?;
        rows.iter().map(delivery_from_row).collect()
    }

    /// Every pending delivery (tests and diagnostics), oldest first.
    pub async fn pending_deliveries(&self, limit: i64) -> Result<Vec<DeliveryRecord>> {
        self.due_deliveries(i64::MAX, limit).await
    }

    /// The earliest due time of a pending delivery.
    pub async fn next_due(&self) -> Result<Option<i64>> {
        Ok(sqlx::query_scalar("SELECT MIN(due_at) FROM deliveries").fetch_one(self.db.reader()).await?)
    }

    /// Ends a delivery (delivered, dead-lettered or dropped); its event goes with its
    /// last delivery.
    pub async fn finish_delivery(&self, id: i64, event_id: &str) -> Result<()> {
        let mut tx = self.db.write().await?;
        sqlx::query("DELETE FROM deliveries WHERE id = $1").bind(id).execute(&mut *tx).await?;
        sqlx::query("DELETE FROM events WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM deliveries WHERE event_id = $1)")
            .bind(event_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records a failed attempt and when to try again.
    pub async fn retry_delivery(&self, id: i64, attempts: i64, due_at: i64, error: &str) -> Result<()> {
        let mut tx = self.db.write().await?;
        sqlx::query("UPDATE deliveries SET attempts = $1, due_at = $2, last_error = $3 WHERE id = $4")
            .bind(attempts)
            .bind(due_at)
            .bind(error)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Moves a delivery's due time without counting an attempt (a rate limit held it).
    pub async fn defer_delivery(&self, id: i64, due_at: i64) -> Result<()> {
        let mut tx = self.db.write().await?;
        sqlx::query("UPDATE deliveries SET due_at = $1 WHERE id = $2").bind(due_at).bind(id).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }
}
