//! DescribeAlarmHistory: the history items of one alarm or of all (kept for two
//! weeks, after the alarm is deleted too), by type and time range, newest first
//! unless `ScanBy` says `TimestampAscending`, `MaxRecords` a page. Every item is a
//! metric alarm's: asking only for composite or log alarms, or for an alarm
//! contributor's items, finds none.

use super::check_alarm_name;
use super::describe::{max_records, wants_metric_alarms};
use crate::MetricsService;
use crate::error::{MetricsError, Result};
use crate::store::{HistoryFilter, HistoryItem};
use flotilla_core::paging;
use flotilla_core::time::{Timestamp, epoch_seconds};
use serde::{Deserialize, Serialize};

/// History items are kept this long.
pub(crate) const HISTORY_RETENTION_MS: i64 = 14 * 24 * 3_600_000;
const DEFAULT_RECORDS: i64 = 100;

#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ItemType {
    ConfigurationUpdate,
    StateUpdate,
    Action,
    AlarmContributorStateUpdate,
    AlarmContributorAction,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum ScanBy {
    #[default]
    TimestampDescending,
    TimestampAscending,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct HistoryInput {
    alarm_name: Option<String>,
    alarm_contributor_id: Option<String>,
    #[serde(default)]
    alarm_types: Vec<String>,
    history_item_type: Option<ItemType>,
    #[serde(default, with = "epoch_seconds::option")]
    start_date: Option<Timestamp>,
    #[serde(default, with = "epoch_seconds::option")]
    end_date: Option<Timestamp>,
    max_records: Option<i64>,
    next_token: Option<String>,
    #[serde(default)]
    scan_by: ScanBy,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ItemOut {
    alarm_name: String,
    alarm_type: &'static str,
    /// Epoch seconds (a timestamp for CBOR).
    timestamp: f64,
    history_item_type: String,
    history_summary: String,
    history_data: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct HistoryOutput {
    alarm_history_items: Vec<ItemOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

fn bad_token() -> MetricsError {
    MetricsError::InvalidNextToken("The specified NextToken is not valid.".into())
}

fn read_token(token: &str) -> Result<(i64, i64)> {
    let text = paging::decode_token(token).map_err(|_| bad_token())?;
    let (ts, id) = text.split_once('/').ok_or_else(bad_token)?;
    Ok((ts.parse().map_err(|_| bad_token())?, id.parse().map_err(|_| bad_token())?))
}

fn item_out(item: HistoryItem) -> ItemOut {
    ItemOut {
        alarm_name: item.alarm_name,
        alarm_type: "MetricAlarm",
        timestamp: Timestamp(item.ts).as_epoch_seconds(),
        history_item_type: item.item_type,
        history_summary: item.summary,
        history_data: item.data,
    }
}

pub(crate) async fn describe(svc: &MetricsService, input: HistoryInput) -> Result<HistoryOutput> {
    if let Some(name) = &input.alarm_name {
        check_alarm_name(name, "AlarmName")?;
    }
    let limit = max_records(input.max_records, DEFAULT_RECORDS)?;
    let metric = wants_metric_alarms(&input.alarm_types)?;
    if let (Some(start), Some(end)) = (input.start_date, input.end_date)
        && start > end
    {
        return Err(MetricsError::InvalidValue("The parameter StartDate must not be after EndDate.".into()));
    }
    let after = input.next_token.as_deref().map(read_token).transpose()?;
    let item_type = match input.history_item_type {
        None => None,
        Some(ItemType::ConfigurationUpdate) => Some("ConfigurationUpdate"),
        Some(ItemType::StateUpdate) => Some("StateUpdate"),
        Some(ItemType::Action) => Some("Action"),
        // Contributors belong to Metrics Insights alarms on many series: there are none.
        Some(ItemType::AlarmContributorStateUpdate | ItemType::AlarmContributorAction) => {
            return Ok(HistoryOutput { alarm_history_items: Vec::new(), next_token: None });
        }
    };
    if !metric || input.alarm_contributor_id.is_some() {
        return Ok(HistoryOutput { alarm_history_items: Vec::new(), next_token: None });
    }
    let filter = HistoryFilter {
        alarm_name: input.alarm_name.clone(),
        item_type: item_type.map(str::to_string),
        start_ms: input.start_date.map(|t| t.0),
        end_ms: input.end_date.map(|t| t.0),
        ascending: input.scan_by == ScanBy::TimestampAscending,
    };
    let items = svc.store.alarm_history(&filter, after, limit + 1).await?;
    let (items, next_token) = paging::finish_page(items, limit as usize, |i| format!("{}/{}", i.ts, i.id));
    Ok(HistoryOutput { alarm_history_items: items.into_iter().map(item_out).collect(), next_token })
}
