//! Alarm tags, one row per tag.

use super::super::MetricStore;
use crate::error::{MetricsError, Result};
use flotilla_db::RowExt;

impl MetricStore {
    /// An alarm's tags in key order; `None` when there is no such alarm.
    pub(crate) async fn alarm_tags(&self, name: &str) -> Result<Option<Vec<(String, String)>>> {
        let exists = sqlx::query("SELECT 1 AS one FROM alarms WHERE name = $1")
            .bind(name)
            .fetch_optional(self.db.reader())
            .await?
            .is_some();
        if !exists {
            return Ok(None);
        }
        let rows = sqlx::query("SELECT tag_key, tag_value FROM alarm_tags WHERE alarm_name = $1 ORDER BY tag_key")
            .bind(name)
            .fetch_all(self.db.reader())
            .await?;
        let tags = rows.iter().map(|r| Ok((r.col("tag_key")?, r.col("tag_value")?))).collect::<Result<Vec<_>>>()?;
        Ok(Some(tags))
    }

    /// Adds or replaces tags of alarm `name` (at most `max` in all); `false` when
    /// there is no such alarm.
    pub(crate) async fn tag_alarm(&self, name: &str, tags: &[(String, String)], max: usize) -> Result<bool> {
        let mut tx = self.alarm_tx().await?;
        let exists =
            sqlx::query("SELECT 1 AS one FROM alarms WHERE name = $1").bind(name).fetch_optional(&mut *tx).await?;
        if exists.is_none() {
            return Ok(false);
        }
        for (key, value) in tags {
            sqlx::query(
                "INSERT INTO alarm_tags (alarm_name, tag_key, tag_value) VALUES ($1, $2, $3) \
                 ON CONFLICT (alarm_name, tag_key) DO UPDATE SET tag_value = excluded.tag_value",
            )
            .bind(name)
            .bind(key)
            .bind(value)
            .execute(&mut *tx)
            .await?;
        }
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM alarm_tags WHERE alarm_name = $1")
            .bind(name)
            .fetch_one(&mut *tx)
            .await?;
        if count > max as i64 {
            return Err(MetricsError::InvalidValue(format!(
                "The resource would have {count} tags; a resource can have at most {max}."
            )));
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Removes tags of alarm `name`; `false` when there is no such alarm.
    pub(crate) async fn untag_alarm(&self, name: &str, keys: &[String]) -> Result<bool> {
        let mut tx = self.alarm_tx().await?;
        let exists =
            sqlx::query("SELECT 1 AS one FROM alarms WHERE name = $1").bind(name).fetch_optional(&mut *tx).await?;
        if exists.is_none() {
            return Ok(false);
        }
        for key in keys {
            sqlx::query("DELETE FROM alarm_tags WHERE alarm_name = $1 AND tag_key = $2")
                .bind(name)
                .bind(key)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(true)
    }
}
