//! Logs Insights: StartQuery parses the query at once (MalformedQueryException),
//! stores it `Running` and evaluates it in the background over the groups' events in
//! the time range; GetQueryResults reads the stored status and results; StopQuery
//! cancels a running one. Results are kept 7 days (the retention controller drops
//! older queries). A query left `Running` by a process that stopped reads as
//! `Timeout` once it is older than AWS's 60-minute limit.

use crate::LogsService;
use crate::error::{LogsError, Result};
use crate::groups::group_name;
use crate::store::{GroupScan, QueryRecord};
use flotilla_logs_query::LogEvent;
use flotilla_logs_query::insights::{Evaluation, Query};
use serde::{Deserialize, Serialize};
use serde_json::json;

const RUNNING: &str = "Running";
const COMPLETE: &str = "Complete";
const FAILED: &str = "Failed";
const CANCELLED: &str = "Cancelled";
const TIMEOUT_MS: i64 = 60 * 60 * 1000;
const SCAN_PAGE: i64 = 2_000;
/// Groups one query may name (AWS's limit).
const MAX_GROUPS: usize = 50;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StartInput {
    log_group_name: Option<String>,
    log_group_names: Option<Vec<String>>,
    log_group_identifiers: Option<Vec<String>>,
    start_time: i64,
    end_time: i64,
    query_string: String,
    limit: Option<i64>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StartOutput {
    query_id: String,
}

pub(crate) async fn start(svc: &LogsService, input: StartInput) -> Result<StartOutput> {
    let mut groups: Vec<String> = Vec::new();
    if let Some(g) = input.log_group_name {
        groups.push(g);
    }
    groups.extend(input.log_group_names.unwrap_or_default());
    for id in input.log_group_identifiers.unwrap_or_default() {
        groups.push(group_name(None, Some(id))?);
    }
    if groups.is_empty() || groups.len() > MAX_GROUPS {
        return Err(LogsError::Invalid(format!("A query names 1 to {MAX_GROUPS} log groups")));
    }
    if input.end_time < input.start_time {
        return Err(LogsError::Invalid("endTime must not be before startTime".into()));
    }
    if input.limit.is_some_and(|l| !(1..=10_000).contains(&l)) {
        return Err(LogsError::Invalid("limit must be between 1 and 10000".into()));
    }
    let query = Query::parse(&input.query_string).map_err(|e| LogsError::MalformedQuery(e.to_string()))?;
    for g in &groups {
        if svc.store.group(g).await?.is_none() {
            return Err(LogsError::NotFound(format!("Log group '{g}' does not exist")));
        }
    }
    let record = QueryRecord {
        id: uuid::Uuid::new_v4().to_string(),
        query: input.query_string,
        groups: groups.clone(),
        status: RUNNING.into(),
        created_at: svc.store.now_ms().await?,
        results: None,
    };
    svc.store.insert_query(&record).await?;
    let svc = svc.clone();
    let id = record.id.clone();
    let range = (input.start_time.saturating_mul(1000), input.end_time.saturating_mul(1000).saturating_add(999));
    let limit = input.limit.map(|l| l as usize);
    tokio::spawn(async move {
        let status = match evaluate(&svc, &id, &query, &groups, range, limit).await {
            Ok(Some(results)) => svc.store.finish_query(&id, RUNNING, COMPLETE, Some(&results)).await,
            Ok(None) => Ok(false),
            Err(e) => {
                tracing::warn!(query = %id, error = %e, "a Logs Insights query failed");
                svc.store.finish_query(&id, RUNNING, FAILED, None).await
            }
        };
        if let Err(e) = status {
            tracing::warn!(query = %id, error = %e, "recording a query's end failed");
        }
    });
    Ok(StartOutput { query_id: record.id })
}

/// Runs the query over each group's events in `range` (milliseconds, inclusive);
/// `None` when it was stopped meanwhile.
async fn evaluate(
    svc: &LogsService,
    id: &str,
    query: &Query,
    groups: &[String],
    range: (i64, i64),
    limit: Option<usize>,
) -> Result<Option<String>> {
    let mut evaluation = Evaluation::new(query);
    for group in groups {
        let mut scan = GroupScan { start: Some(range.0), end: Some(range.1.saturating_add(1)), ..GroupScan::default() };
        loop {
            let page = svc.store.group_events(group, &scan, SCAN_PAGE).await?;
            let full = page.len() as i64 == SCAN_PAGE;
            for e in &page {
                evaluation.push(&LogEvent {
                    log_group: group.clone(),
                    log_stream: e.stream.clone(),
                    timestamp: e.timestamp,
                    ingestion_time: e.ingestion_time,
                    message: e.message.clone(),
                });
            }
            if let Some(last) = page.last() {
                scan.after = Some(crate::store::Position { timestamp: last.timestamp, id: last.id });
            }
            if !full {
                break;
            }
            if svc.store.query(id).await?.is_none_or(|q| q.status != RUNNING) {
                return Ok(None);
            }
        }
    }
    let results = evaluation.finish();
    let rows: Vec<Vec<serde_json::Value>> = results
        .rows
        .into_iter()
        .take(limit.unwrap_or(usize::MAX))
        .map(|row| row.into_iter().map(|(field, value)| json!({"field": field, "value": value})).collect())
        .collect();
    let body = json!({
        "results": rows,
        "statistics": {
            "recordsMatched": results.records_matched as f64,
            "recordsScanned": results.records_scanned as f64,
            "bytesScanned": results.bytes_scanned as f64,
        }
    });
    Ok(Some(body.to_string()))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct QueryIdInput {
    query_id: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ResultsOutput {
    results: serde_json::Value,
    statistics: serde_json::Value,
    status: String,
}

pub(crate) async fn results(svc: &LogsService, input: QueryIdInput) -> Result<ResultsOutput> {
    let q = svc
        .store
        .query(&input.query_id)
        .await?
        .ok_or_else(|| LogsError::NotFound(format!("Query '{}' does not exist", input.query_id)))?;
    let stored: serde_json::Value = match &q.results {
        Some(r) => serde_json::from_str(r).map_err(|e| LogsError::corrupt("a query's results", e))?,
        None => json!({}),
    };
    let now = svc.store.now_ms().await?;
    let status = if q.status == RUNNING && now - q.created_at > TIMEOUT_MS { "Timeout".to_string() } else { q.status };
    Ok(ResultsOutput {
        results: stored.get("results").cloned().unwrap_or_else(|| json!([])),
        statistics: stored
            .get("statistics")
            .cloned()
            .unwrap_or_else(|| json!({"recordsMatched": 0.0, "recordsScanned": 0.0, "bytesScanned": 0.0})),
        status,
    })
}

#[derive(Serialize)]
pub(crate) struct StopOutput {
    success: bool,
}

pub(crate) async fn stop(svc: &LogsService, input: QueryIdInput) -> Result<StopOutput> {
    if svc.store.query(&input.query_id).await?.is_none() {
        return Err(LogsError::NotFound(format!("Query '{}' does not exist", input.query_id)));
    }
    Ok(StopOutput { success: svc.store.finish_query(&input.query_id, RUNNING, CANCELLED, None).await? })
}
