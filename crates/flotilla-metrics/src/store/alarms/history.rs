//! Alarm history items: written with the changes they record (see [`super`]), read
//! by DescribeAlarmHistory, expired by the retention controller.

use super::super::{Arg, MetricStore, arg, bind_all};
use crate::error::Result;
use flotilla_db::RowExt;
use std::fmt::Write as _;

/// DescribeAlarmHistory's filters.
#[derive(Debug, Clone, Default)]
pub(crate) struct HistoryFilter {
    pub alarm_name: Option<String>,
    pub item_type: Option<String>,
    pub start_ms: Option<i64>,
    pub end_ms: Option<i64>,
    pub ascending: bool,
}

/// A history item.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct HistoryItem {
    pub id: i64,
    pub alarm_name: String,
    pub ts: i64,
    pub item_type: String,
    pub summary: String,
    pub data: String,
}

impl MetricStore {
    /// History items matching `filter`, in time order (either way) after `after`
    /// (a (time, id) of the previous page), at most `limit`.
    pub(crate) async fn alarm_history(
        &self,
        filter: &HistoryFilter,
        after: Option<(i64, i64)>,
        limit: i64,
    ) -> Result<Vec<HistoryItem>> {
        let mut args = Vec::new();
        let mut sql =
            String::from("SELECT id, alarm_name, ts, item_type, summary, data FROM alarm_history WHERE 1 = 1");
        if let Some(name) = &filter.alarm_name {
            let p = arg(&mut args, Arg::Text(name.clone()));
            let _ = write!(sql, " AND alarm_name = {p}");
        }
        if let Some(t) = &filter.item_type {
            let p = arg(&mut args, Arg::Text(t.clone()));
            let _ = write!(sql, " AND item_type = {p}");
        }
        if let Some(start) = filter.start_ms {
            let p = arg(&mut args, Arg::Int(start));
            let _ = write!(sql, " AND ts >= {p}");
        }
        if let Some(end) = filter.end_ms {
            let p = arg(&mut args, Arg::Int(end));
            let _ = write!(sql, " AND ts <= {p}");
        }
        let (cmp, order) = if filter.ascending { (">", "ASC") } else { ("<", "DESC") };
        if let Some((ts, id)) = after {
            let t = arg(&mut args, Arg::Int(ts));
            let i = arg(&mut args, Arg::Int(id));
            let _ = write!(sql, " AND (ts {cmp} {t} OR (ts = {t} AND id {cmp} {i}))");
        }
        let p = arg(&mut args, Arg::Int(limit));
        let _ = write!(sql, " ORDER BY ts {order}, id {order} LIMIT {p}");
        let rows = bind_all(sqlx::query(&sql), args).fetch_all(self.db.reader()).await?;
        rows.iter()
            .map(|r| {
                Ok(HistoryItem {
                    id: r.col("id")?,
                    alarm_name: r.col("alarm_name")?,
                    ts: r.col("ts")?,
                    item_type: r.col("item_type")?,
                    summary: r.col("summary")?,
                    data: r.col("data")?,
                })
            })
            .collect()
    }

    /// Deletes up to `limit` history items older than `before`.
    pub(crate) async fn expire_alarm_history(&self, before: i64, limit: i64) -> Result<u64> {
        let mut tx = self.db.write().await?;
        let done = sqlx::query(
            "DELETE FROM alarm_history WHERE id IN (SELECT id FROM alarm_history WHERE ts < $1 ORDER BY ts LIMIT $2)",
        )
        .bind(before)
        .bind(limit)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }
}
