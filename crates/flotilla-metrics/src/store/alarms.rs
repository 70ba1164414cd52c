//! Alarms in the metrics store: one row per alarm (its configuration as a JSON
//! document, its state, when it is next evaluated and which actions are due), its
//! actions and tags one per row, and history items kept after the alarm is gone.
//!
//! API writes take the `alarms` lock (PostgreSQL) so the alarm count and existence
//! checks hold until they commit; the controller's writes are conditioned on the
//! version it read, so a change made meanwhile through the API is never overwritten
//! (the alarm is simply evaluated again). Every state change writes its history item
//! and, when the new state has actions and actions are enabled, marks them due, in
//! the same transaction: actions survive a restart between the change and their run.

use super::{Arg, MetricStore, arg};
use crate::alarm::text::cut;
use crate::alarm::{AlarmConfig, StateValue};
use crate::error::{MetricsError, Result};
use crate::model::dims_key;
use flotilla_db::RowExt;
use sqlx::any::AnyRow;
use sqlx::{Any, Transaction};
use std::fmt::Write as _;

mod history;
mod tags;

pub(crate) use history::{HistoryFilter, HistoryItem};

const LOCK: &str = "alarms";
/// History summaries hold at most this many characters.
const SUMMARY_CHARS: usize = 255;

/// A stored alarm.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct AlarmRow {
    pub name: String,
    pub config: AlarmConfig,
    pub actions_enabled: bool,
    pub state: StateValue,
    /// The state before the last change.
    pub previous_state: Option<StateValue>,
    pub state_reason: String,
    pub state_reason_data: Option<String>,
    pub state_updated_ms: i64,
    pub state_transitioned_ms: i64,
    pub config_updated_ms: i64,
    pub evaluate_at: i64,
    pub last_value: Option<f64>,
    /// The state whose actions are due, when, and whether only Auto Scaling ones.
    pub actions_due: Option<(StateValue, i64, bool)>,
    pub version: i64,
}

/// A change of state to write.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Transition {
    pub from: StateValue,
    pub from_reason: String,
    pub to: StateValue,
    pub reason: String,
    pub reason_data: Option<String>,
    pub at: i64,
}

/// What an evaluation pass writes for one alarm.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Evaluated {
    pub name: String,
    /// The version read; nothing is written if it changed since.
    pub version: i64,
    pub evaluate_at: i64,
    pub last_value: Option<f64>,
    pub transition: Option<Transition>,
}

/// The actions run for one alarm: its `Action` history items (summary, data), and
/// when Auto Scaling ones are next due (`None`: no more), if it is still at `version`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ActionsDone {
    pub name: String,
    pub version: i64,
    pub items: Vec<(String, String)>,
    pub next: Option<i64>,
}

/// DescribeAlarms' filters.
#[derive(Debug, Clone, Default)]
pub(crate) struct AlarmFilter {
    pub names: Option<Vec<String>>,
    pub prefix: Option<String>,
    pub state: Option<StateValue>,
    pub action_prefix: Option<String>,
}

const COLUMNS: &str = "name, config, actions_enabled, state_value, previous_state, state_reason, state_reason_data, state_updated, \
                       state_transitioned, config_updated, evaluate_at, last_value, actions_state, actions_due, \
                       actions_repeat, version";

fn state_of(s: &str) -> Result<StateValue> {
    StateValue::parse(s).ok_or_else(|| MetricsError::corrupt("an alarm's state", s))
}

fn alarm_from_row(row: &AnyRow) -> Result<AlarmRow> {
    let config: String = row.col("config")?;
    let actions_state: Option<String> = row.col("actions_state")?;
    let actions_due: Option<i64> = row.col("actions_due")?;
    let actions_due = match (actions_state, actions_due) {
        (Some(s), Some(at)) => Some((state_of(&s)?, at, row.col::<i64>("actions_repeat")? != 0)),
        _ => None,
    };
    Ok(AlarmRow {
        name: row.col("name")?,
        config: serde_json::from_str(&config).map_err(|e| MetricsError::corrupt("an alarm's configuration", e))?,
        actions_enabled: row.col::<i64>("actions_enabled")? != 0,
        state: state_of(&row.col::<String>("state_value")?)?,
        previous_state: row.col::<Option<String>>("previous_state")?.as_deref().map(state_of).transpose()?,
        state_reason: row.col("state_reason")?,
        state_reason_data: row.col("state_reason_data")?,
        state_updated_ms: row.col("state_updated")?,
        state_transitioned_ms: row.col("state_transitioned")?,
        config_updated_ms: row.col("config_updated")?,
        evaluate_at: row.col("evaluate_at")?,
        last_value: row.col("last_value")?,
        actions_due,
        version: row.col("version")?,
    })
}

fn json_of<T: serde::Serialize>(value: &T, what: &str) -> Result<String> {
    serde_json::to_string(value).map_err(|e| MetricsError::corrupt(what, e))
}

/// Adds a history item.
async fn add_history(
    tx: &mut Transaction<'static, Any>,
    alarm: &str,
    ts: i64,
    item_type: &str,
    summary: &str,
    data: &str,
) -> Result<()> {
    sqlx::query("INSERT INTO alarm_history (alarm_name, ts, item_type, summary, data) VALUES ($1, $2, $3, $4, $5)")
        .bind(alarm)
        .bind(ts)
        .bind(item_type)
        .bind(cut(summary, SUMMARY_CHARS))
        .bind(data)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// A ConfigurationUpdate item's data: `{"version":"1.0","type":KIND,MEMBER:ALARM}`.
fn configuration_data(kind: &str, member: &str, config: &AlarmConfig) -> Result<String> {
    let alarm = serde_json::to_value(config).map_err(|e| MetricsError::corrupt("an alarm's configuration", e))?;
    json_of(&serde_json::json!({"version": "1.0", "type": kind, member: alarm}), "an alarm's history")
}

/// Writes `t` to alarm `name` (only if still at `version`, when given), with its
/// history item, marking the new state's actions due when it has some and actions
/// are enabled. `bookkeeping` also sets when it is next evaluated and its last
/// value. Says whether it was written.
async fn write_transition(
    tx: &mut Transaction<'static, Any>,
    name: &str,
    t: &Transition,
    version: Option<i64>,
    bookkeeping: Option<(i64, Option<f64>)>,
) -> Result<bool> {
    let mut sql = String::from(
        "UPDATE alarms SET previous_state = state_value, state_value = $1, state_reason = $2, state_reason_data = $3, state_updated = $4, \
         state_transitioned = $4, version = version + 1, actions_repeat = 0, \
         actions_state = CASE WHEN actions_enabled = 1 AND EXISTS (SELECT 1 FROM alarm_actions a \
         WHERE a.alarm_name = alarms.name AND a.state = $1) THEN $1 ELSE NULL END, \
         actions_due = CASE WHEN actions_enabled = 1 AND EXISTS (SELECT 1 FROM alarm_actions a \
         WHERE a.alarm_name = alarms.name AND a.state = $1) THEN $4 ELSE NULL END",
    );
    let mut args = vec![
        Arg::Text(t.to.as_str().into()),
        Arg::Text(t.reason.clone()),
        Arg::OptText(t.reason_data.clone()),
        Arg::Int(t.at),
        Arg::Text(name.into()),
    ];
    if let Some((evaluate_at, last_value)) = bookkeeping {
        let e = arg(&mut args, Arg::Int(evaluate_at));
        let l = arg(&mut args, Arg::OptReal(last_value));
        let _ = write!(sql, ", evaluate_at = {e}, last_value = {l}");
    }
    sql.push_str(" WHERE name = $5");
    if let Some(version) = version {
        let v = arg(&mut args, Arg::Int(version));
        let _ = write!(sql, " AND version = {v}");
    }
    let done = super::bind_all(sqlx::query(&sql), args).execute(&mut **tx).await?;
    if done.rows_affected() == 0 {
        return Ok(false);
    }
    let reason_data: Option<serde_json::Value> = t.reason_data.as_deref().and_then(|d| serde_json::from_str(d).ok());
    let mut new_state = serde_json::json!({"stateValue": t.to.as_str(), "stateReason": t.reason});
    if let Some(d) = reason_data {
        new_state["stateReasonData"] = d;
    }
    let mut data = serde_json::json!({
        "version": "1.0",
        "oldState": {"stateValue": t.from.as_str(), "stateReason": t.from_reason},
        "newState": new_state,
    });
    // History data holds 4,095 characters: the reason data goes first when it does not fit.
    let mut text = json_of(&data, "an alarm's history")?;
    if text.chars().count() > 4095 {
        data["newState"].as_object_mut().map(|o| o.remove("stateReasonData"));
        text = json_of(&data, "an alarm's history")?;
    }
    let summary = format!("Alarm updated from {} to {}", t.from, t.to);
    add_history(tx, name, t.at, "StateUpdate", &summary, &text).await?;
    Ok(true)
}

async fn set_actions(tx: &mut Transaction<'static, Any>, config: &AlarmConfig) -> Result<()> {
    sqlx::query("DELETE FROM alarm_actions WHERE alarm_name = $1").bind(&config.alarm_name).execute(&mut **tx).await?;
    for (state, arn) in config.all_actions() {
        sqlx::query("INSERT INTO alarm_actions (alarm_name, state, arn) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
            .bind(&config.alarm_name)
            .bind(state.as_str())
            .bind(arn)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

impl MetricStore {
    async fn alarm_tx(&self) -> Result<Transaction<'static, Any>> {
        let mut tx = self.db.write().await?;
        self.db.lock(&mut tx, LOCK).await?;
        Ok(tx)
    }

    /// Creates alarm `config.alarm_name` in INSUFFICIENT_DATA with `tags` (refused
    /// past `max_alarms`), or replaces the configuration of the one of that name
    /// (its state and tags kept); either way it is evaluated at once.
    pub(crate) async fn put_alarm(
        &self,
        config: &AlarmConfig,
        actions_enabled: bool,
        tags: &[(String, String)],
        max_alarms: i64,
    ) -> Result<()> {
        let name = config.alarm_name.as_str();
        let text = json_of(config, "an alarm's configuration")?;
        let metric = config.single_metric.then(|| {
            (config.metric.namespace.as_str(), config.metric.metric_name.as_str(), dims_key(&config.metric.dimensions))
        });
        let (namespace, metric_name, dims) = match &metric {
            Some((n, m, d)) => (Some(*n), Some(*m), Some(d.as_str())),
            None => (None, None, None),
        };
        let enabled = i64::from(actions_enabled);
        let mut tx = self.alarm_tx().await?;
        let now = self.now_ms().await?;
        let existing = sqlx::query(&format!("SELECT {COLUMNS} FROM alarms WHERE name = $1"))
            .bind(name)
            .fetch_optional(&mut *tx)
            .await?
            .map(|r| alarm_from_row(&r))
            .transpose()?;
        if let Some(old) = existing {
            sqlx::query(
                "UPDATE alarms SET namespace = $1, metric_name = $2, dims = $3, config = $4, actions_enabled = $5, \
                 config_updated = $6, evaluate_at = $6, version = version + 1, \
                 actions_state = CASE WHEN $5 = 1 THEN actions_state ELSE NULL END, \
                 actions_due = CASE WHEN $5 = 1 THEN actions_due ELSE NULL END WHERE name = $7",
            )
            .bind(namespace)
            .bind(metric_name)
            .bind(dims)
            .bind(&text)
            .bind(enabled)
            .bind(now)
            .bind(name)
            .execute(&mut *tx)
            .await?;
            set_actions(&mut tx, config).await?;
            let original = serde_json::to_value(&old.config).unwrap_or_default();
            let updated = serde_json::to_value(config).unwrap_or_default();
            let mut data = serde_json::json!({"version": "1.0", "type": "Update", "updatedAlarm": updated,
                                              "originalUpdatedFields": {}});
            if let (Some(o), Some(u)) = (original.as_object(), updated.as_object()) {
                let changed: serde_json::Map<String, serde_json::Value> =
                    o.iter().filter(|(k, v)| u.get(*k) != Some(*v)).map(|(k, v)| (k.clone(), v.clone())).collect();
                data["originalUpdatedFields"] = serde_json::Value::Object(changed);
            }
            let data = json_of(&data, "an alarm's history")?;
            add_history(&mut tx, name, now, "ConfigurationUpdate", &format!("Alarm \"{name}\" updated"), &data).await?;
        } else {
            let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM alarms").fetch_one(&mut *tx).await?;
            if count >= max_alarms {
                return Err(MetricsError::LimitExceeded(format!(
                    "The maximum number of alarms ({max_alarms}) has been reached; delete alarms before putting new ones."
                )));
            }
            sqlx::query(
                "INSERT INTO alarms (name, namespace, metric_name, dims, config, actions_enabled, state_value, \
                 state_reason, state_reason_data, state_updated, state_transitioned, config_updated, evaluate_at, \
                 last_value, actions_state, actions_due, actions_repeat, version) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL, $9, $9, $9, $9, NULL, NULL, NULL, 0, 1)",
            )
            .bind(name)
            .bind(namespace)
            .bind(metric_name)
            .bind(dims)
            .bind(&text)
            .bind(enabled)
            .bind(StateValue::InsufficientData.as_str())
            .bind("Unchecked: Initial alarm creation")
            .bind(now)
            .execute(&mut *tx)
            .await?;
            set_actions(&mut tx, config).await?;
            for (key, value) in tags {
                sqlx::query("INSERT INTO alarm_tags (alarm_name, tag_key, tag_value) VALUES ($1, $2, $3)")
                    .bind(name)
                    .bind(key)
                    .bind(value)
                    .execute(&mut *tx)
                    .await?;
            }
            let data = configuration_data("Create", "createdAlarm", config)?;
            add_history(&mut tx, name, now, "ConfigurationUpdate", &format!("Alarm \"{name}\" created"), &data).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Alarms matching `filter`, in name order after `after`, at most `limit`.
    pub(crate) async fn alarms(&self, filter: &AlarmFilter, after: Option<&str>, limit: i64) -> Result<Vec<AlarmRow>> {
        let mut args = Vec::new();
        let mut sql = format!("SELECT {COLUMNS} FROM alarms WHERE 1 = 1");
        if let Some(names) = &filter.names {
            if names.is_empty() {
                return Ok(Vec::new());
            }
            let list: Vec<String> = names.iter().map(|n| arg(&mut args, Arg::Text(n.clone()))).collect();
            let _ = write!(sql, " AND name IN ({})", list.join(", "));
        }
        if let Some(prefix) = &filter.prefix {
            let p = arg(&mut args, Arg::Text(prefix.clone()));
            let _ = write!(sql, " AND substr(name, 1, length({p})) = {p}");
        }
        if let Some(state) = filter.state {
            let p = arg(&mut args, Arg::Text(state.as_str().into()));
            let _ = write!(sql, " AND state_value = {p}");
        }
        if let Some(prefix) = &filter.action_prefix {
            let p = arg(&mut args, Arg::Text(prefix.clone()));
            let _ = write!(
                sql,
                " AND EXISTS (SELECT 1 FROM alarm_actions a WHERE a.alarm_name = alarms.name \
                 AND substr(a.arn, 1, length({p})) = {p})"
            );
        }
        if let Some(after) = after {
            let p = arg(&mut args, Arg::Text(after.into()));
            let _ = write!(sql, " AND name > {p}");
        }
        let p = arg(&mut args, Arg::Int(limit));
        let _ = write!(sql, " ORDER BY name LIMIT {p}");
        let rows = super::bind_all(sqlx::query(&sql), args).fetch_all(self.db.reader()).await?;
        rows.iter().map(alarm_from_row).collect()
    }

    /// The single-metric alarms on one metric (dimensions matched exactly).
    pub(crate) async fn alarms_for_metric(
        &self,
        namespace: &str,
        metric_name: &str,
        dims: &[(String, String)],
    ) -> Result<Vec<AlarmRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM alarms WHERE namespace = $1 AND metric_name = $2 AND dims = $3 ORDER BY name"
        ))
        .bind(namespace)
        .bind(metric_name)
        .bind(dims_key(dims))
        .fetch_all(self.db.reader())
        .await?;
        rows.iter().map(alarm_from_row).collect()
    }

    /// Deletes the alarms named (with their actions and tags; their history stays),
    /// or none when any of them does not exist.
    pub(crate) async fn delete_alarms(&self, names: &[String]) -> Result<()> {
        let mut tx = self.alarm_tx().await?;
        let now = self.now_ms().await?;
        let mut found = Vec::with_capacity(names.len());
        let mut missing = Vec::new();
        for name in names {
            let row =
                sqlx::query("SELECT config FROM alarms WHERE name = $1").bind(name).fetch_optional(&mut *tx).await?;
            match row {
                Some(row) => {
                    let config: String = row.col("config")?;
                    found.push((name, config));
                }
                None => missing.push(name.as_str()),
            }
        }
        if !missing.is_empty() {
            return Err(MetricsError::NotFound(format!(
                "{} out of {} alarms were not found: [{}]; none was deleted.",
                missing.len(),
                names.len(),
                missing.join(", ")
            )));
        }
        for (name, config) in found {
            sqlx::query("DELETE FROM alarms WHERE name = $1").bind(name).execute(&mut *tx).await?;
            let config: AlarmConfig =
                serde_json::from_str(&config).map_err(|e| MetricsError::corrupt("an alarm's configuration", e))?;
            let data = configuration_data("Delete", "deletedAlarm", &config)?;
            add_history(&mut tx, name, now, "ConfigurationUpdate", &format!("Alarm \"{name}\" deleted"), &data).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// SetAlarmState: puts alarm `name` in `state` with the reason given. A change of
    /// state is recorded in its history and runs the state's actions.
    pub(crate) async fn set_alarm_state(
        &self,
        name: &str,
        state: StateValue,
        reason: &str,
        reason_data: Option<&str>,
    ) -> Result<()> {
        let mut tx = self.alarm_tx().await?;
        let now = self.now_ms().await?;
        let row = sqlx::query("SELECT state_value, state_reason FROM alarms WHERE name = $1")
            .bind(name)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| MetricsError::NotFound(format!("Alarm {name} not found")))?;
        let from = state_of(&row.col::<String>("state_value")?)?;
        if from == state {
            sqlx::query(
                "UPDATE alarms SET state_reason = $1, state_reason_data = $2, state_updated = $3, \
                 version = version + 1 WHERE name = $4",
            )
            .bind(reason)
            .bind(reason_data)
            .bind(now)
            .bind(name)
            .execute(&mut *tx)
            .await?;
        } else {
            let t = Transition {
                from,
                from_reason: row.col("state_reason")?,
                to: state,
                reason: reason.to_string(),
                reason_data: reason_data.map(str::to_string),
                at: now,
            };
            write_transition(&mut tx, name, &t, None, None).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Enables or disables the actions of the alarms named (names not found are
    /// skipped); disabling drops actions due.
    pub(crate) async fn set_actions_enabled(&self, names: &[String], enabled: bool) -> Result<()> {
        let mut tx = self.alarm_tx().await?;
        for name in names {
            let sql = if enabled {
                "UPDATE alarms SET actions_enabled = 1, version = version + 1 WHERE name = $1"
            } else {
                "UPDATE alarms SET actions_enabled = 0, actions_state = NULL, actions_due = NULL, \
                 version = version + 1 WHERE name = $1"
            };
            sqlx::query(sql).bind(name).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Alarms due for evaluation or actions at `now`, in name order after `after`.
    pub(crate) async fn due_alarms(&self, now: i64, after: &str, limit: i64) -> Result<Vec<AlarmRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM alarms WHERE (evaluate_at <= $1 OR actions_due <= $1) AND name > $2 \
             ORDER BY name LIMIT $3"
        ))
        .bind(now)
        .bind(after)
        .bind(limit)
        .fetch_all(self.db.reader())
        .await?;
        rows.iter().map(alarm_from_row).collect()
    }

    /// Writes a pass's evaluations in one transaction; says which were written (an
    /// alarm changed since it was read is left for the next pass).
    pub(crate) async fn record_evaluations(&self, items: &[Evaluated]) -> Result<Vec<bool>> {
        if items.is_empty() {
            return Ok(Vec::new());
        }
        let mut tx = self.db.write().await?;
        let mut written = Vec::with_capacity(items.len());
        for item in items {
            let done = match &item.transition {
                Some(t) => {
                    write_transition(
                        &mut tx,
                        &item.name,
                        t,
                        Some(item.version),
                        Some((item.evaluate_at, item.last_value)),
                    )
                    .await?
                }
                None => {
                    sqlx::query("UPDATE alarms SET evaluate_at = $1, last_value = $2 WHERE name = $3 AND version = $4")
                        .bind(item.evaluate_at)
                        .bind(item.last_value)
                        .bind(&item.name)
                        .bind(item.version)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected()
                        > 0
                }
            };
            written.push(done);
        }
        tx.commit().await?;
        Ok(written)
    }

    /// Records the outcome of actions run (as `Action` history items) and, for each
    /// alarm still at the version its actions were run for, when Auto Scaling
    /// actions are next due; in one transaction.
    pub(crate) async fn finish_actions(&self, done: &[ActionsDone]) -> Result<()> {
        if done.is_empty() {
            return Ok(());
        }
        let mut tx = self.db.write().await?;
        let now = self.now_ms().await?;
        for d in done {
            for (summary, data) in &d.items {
                add_history(&mut tx, &d.name, now, "Action", summary, data).await?;
            }
            let sql = match d.next {
                Some(_) => "UPDATE alarms SET actions_due = $1, actions_repeat = 1 WHERE name = $2 AND version = $3",
                None => {
                    "UPDATE alarms SET actions_due = $1, actions_state = NULL, actions_repeat = 0 \
                     WHERE name = $2 AND version = $3"
                }
            };
            sqlx::query(sql).bind(d.next).bind(&d.name).bind(d.version).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Makes alarm `name`'s evaluation and any actions of its due now (tests stand in
    /// for time passing with it).
    #[cfg(test)]
    pub(crate) async fn make_due(&self, name: &str) -> Result<()> {
        sqlx::query(
            "UPDATE alarms SET evaluate_at = 0, actions_due = CASE WHEN actions_state IS NULL THEN NULL ELSE 0 END \
             WHERE name = $1",
        )
        .bind(name)
        .execute(self.db.writer())
        .await?;
        Ok(())
    }
}
