//! Log events: PutLogEvents (with AWS's limits: 10,000 events and 1,048,576 bytes a
//! batch counting 26 bytes per event, in chronological order, spanning at most 24
//! hours; events older than 14 days or the retention, or over 2 hours ahead, are
//! rejected and reported), GetLogEvents (one stream, forward and backward tokens) and
//! FilterLogEvents (a group's streams, through a filter pattern).
//!
//! Tokens are positions among events: `f/TIMESTAMP/ID` reads on after it, `b/…`
//! back before it, `p/…` continues a filter scan after it.

use crate::LogsService;
use crate::error::{LogsError, Result};
use crate::groups::group_name;
use crate::store::{EVENT_OVERHEAD, EventRecord, GroupScan, Outcome, Position};
use flotilla_logs_query::filter::FilterPattern;
use serde::{Deserialize, Serialize};

const MAX_BATCH_EVENTS: usize = 10_000;
const MAX_BATCH_BYTES: i64 = 1_048_576;
const MAX_EVENT_BYTES: i64 = 262_144 - EVENT_OVERHEAD;
const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;
/// What one GetLogEvents or FilterLogEvents answer carries at most.
const MAX_ANSWER_BYTES: usize = 1_048_576;
/// Rows one FilterLogEvents call reads before it answers with a token to go on.
const MAX_SCANNED: usize = 200_000;
const SCAN_PAGE: i64 = 1_000;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct InputEvent {
    timestamp: i64,
    message: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PutInput {
    log_group_name: String,
    log_stream_name: String,
    log_events: Vec<InputEvent>,
    #[allow(dead_code)]
    sequence_token: Option<String>,
}

#[derive(Serialize, Default)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Rejected {
    #[serde(skip_serializing_if = "Option::is_none")]
    too_new_log_event_start_index: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    too_old_log_event_end_index: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expired_log_event_end_index: Option<usize>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PutOutput {
    next_sequence_token: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    rejected_log_events_info: Option<Rejected>,
}

/// Checks a batch against AWS's limits.
fn check_batch(events: &[InputEvent]) -> Result<()> {
    if events.is_empty() || events.len() > MAX_BATCH_EVENTS {
        return Err(LogsError::Invalid(format!(
            "A batch holds 1 to {MAX_BATCH_EVENTS} log events, not {}",
            events.len()
        )));
    }
    let mut bytes = 0i64;
    for e in events {
        let size = e.message.len() as i64;
        if size == 0 {
            return Err(LogsError::Invalid("A log event's message cannot be empty".into()));
        }
        if size > MAX_EVENT_BYTES {
            return Err(LogsError::Invalid(format!("Log event too large: {size} bytes exceeds {MAX_EVENT_BYTES}")));
        }
        bytes += size + EVENT_OVERHEAD;
    }
    if bytes > MAX_BATCH_BYTES {
        return Err(LogsError::Invalid(format!(
            "Upload too large: {bytes} bytes exceeds {MAX_BATCH_BYTES} bytes (26 bytes are counted per event)"
        )));
    }
    if events.windows(2).any(|w| w[1].timestamp < w[0].timestamp) {
        return Err(LogsError::Invalid(
            "Log events in a single PutLogEvents request must be in chronological order.".into(),
        ));
    }
    if let (Some(first), Some(last)) = (events.first(), events.last())
        && last.timestamp - first.timestamp > DAY_MS
    {
        return Err(LogsError::Invalid(
            "The batch of log events in a single PutLogEvents request cannot span more than 24 hours.".into(),
        ));
    }
    Ok(())
}

pub(crate) async fn put(svc: &LogsService, input: PutInput) -> Result<PutOutput> {
    check_batch(&input.log_events)?;
    let group = svc.store.group(&input.log_group_name).await?.ok_or_else(LogsError::group_not_found)?;
    let now = svc.store.now_ms().await?;
    // Events are sorted: the too old ones lead, the too new ones trail.
    let too_old = now - 14 * DAY_MS;
    let expired = group.retention_days.map(|d| now - d * DAY_MS);
    let too_new = now + 2 * HOUR_MS;
    let events = &input.log_events;
    let first_kept = events.iter().position(|e| e.timestamp >= too_old && expired.is_none_or(|x| e.timestamp >= x));
    let end_kept = events.iter().position(|e| e.timestamp > too_new).unwrap_or(events.len());
    let mut rejected = Rejected::default();
    let start = first_kept.unwrap_or(events.len()).min(end_kept);
    if start > 0 {
        let last_old = events[..start].iter().rposition(|e| e.timestamp < too_old);
        let last_expired = expired.and_then(|x| events[..start].iter().rposition(|e| e.timestamp < x));
        rejected.too_old_log_event_end_index = last_old;
        rejected.expired_log_event_end_index = last_expired.filter(|i| last_old.is_none_or(|o| i > &o));
    }
    if end_kept < events.len() {
        rejected.too_new_log_event_start_index = Some(end_kept);
    }
    let kept: Vec<(i64, String)> = events[start..end_kept].iter().map(|e| (e.timestamp, e.message.clone())).collect();
    let outcome = if kept.is_empty() {
        match svc.store.stream(&input.log_group_name, &input.log_stream_name).await? {
            Some(_) => Outcome::Done,
            None => Outcome::NoStream,
        }
    } else {
        svc.store.put_events(&input.log_group_name, &input.log_stream_name, &kept, now).await?
    };
    match outcome {
        Outcome::NoGroup => return Err(LogsError::group_not_found()),
        Outcome::NoStream => return Err(LogsError::stream_not_found()),
        _ => {}
    }
    let any_rejected = rejected.too_new_log_event_start_index.is_some()
        || rejected.too_old_log_event_end_index.is_some()
        || rejected.expired_log_event_end_index.is_some();
    Ok(PutOutput {
        next_sequence_token: format!("{now:020}"),
        rejected_log_events_info: any_rejected.then_some(rejected),
    })
}

/// Reads `f/TS/ID`, `b/TS/ID` or `p/TS/ID`.
fn read_token(token: &str) -> Result<(char, Position)> {
    let bad = || LogsError::Invalid("The specified nextToken is invalid.".into());
    let mut parts = token.splitn(3, '/');
    let kind = parts.next().and_then(|k| k.chars().next()).filter(|k| matches!(k, 'f' | 'b' | 'p')).ok_or_else(bad)?;
    let timestamp = parts.next().and_then(|t| t.parse().ok()).ok_or_else(bad)?;
    let id = parts.next().and_then(|t| t.parse().ok()).ok_or_else(bad)?;
    Ok((kind, Position { timestamp, id }))
}

fn token(kind: char, p: Position) -> String {
    format!("{kind}/{}/{}", p.timestamp, p.id)
}

fn position(e: &EventRecord) -> Position {
    Position { timestamp: e.timestamp, id: e.id }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GetInput {
    log_group_name: Option<String>,
    log_group_identifier: Option<String>,
    log_stream_name: String,
    start_time: Option<i64>,
    end_time: Option<i64>,
    next_token: Option<String>,
    limit: Option<i64>,
    start_from_head: Option<bool>,
    #[allow(dead_code)]
    unmask: Option<bool>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct OutputEvent {
    timestamp: i64,
    message: String,
    ingestion_time: i64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GetOutput {
    events: Vec<OutputEvent>,
    next_forward_token: String,
    next_backward_token: String,
}

/// Keeps events (in reading order) until their messages pass the answer's byte bound.
fn within_bytes(events: Vec<EventRecord>) -> Vec<EventRecord> {
    let mut bytes = 0usize;
    let mut out = Vec::with_capacity(events.len());
    for e in events {
        bytes += e.message.len() + EVENT_OVERHEAD as usize;
        if bytes > MAX_ANSWER_BYTES && !out.is_empty() {
            break;
        }
        out.push(e);
    }
    out
}

pub(crate) async fn get(svc: &LogsService, input: GetInput) -> Result<GetOutput> {
    let group = group_name(input.log_group_name, input.log_group_identifier)?;
    let limit = input.limit.unwrap_or(10_000);
    if !(1..=10_000).contains(&limit) {
        return Err(LogsError::Invalid("limit must be between 1 and 10000".into()));
    }
    let from = input.next_token.as_deref().map(read_token).transpose()?;
    if svc.store.stream(&group, &input.log_stream_name).await?.is_none() {
        if svc.store.group(&group).await?.is_none() {
            return Err(LogsError::group_not_found());
        }
        return Err(LogsError::stream_not_found());
    }
    let forwards = match from {
        Some((kind, _)) => kind != 'b',
        None => input.start_from_head.unwrap_or(false),
    };
    let range = (input.start_time, input.end_time);
    let at = from.map(|(_, p)| p);
    let mut events =
        within_bytes(svc.store.stream_events(&group, &input.log_stream_name, range, at, forwards, limit).await?);
    if !forwards {
        events.reverse();
    }
    let start = Position { timestamp: i64::MIN, id: 0 };
    let (next_forward, next_backward) = match (events.first(), events.last()) {
        (Some(first), Some(last)) => (token('f', position(last)), token('b', position(first))),
        _ => {
            let p = at.unwrap_or(start);
            (token('f', p), token('b', p))
        }
    };
    Ok(GetOutput {
        events: events
            .into_iter()
            .map(|e| OutputEvent { timestamp: e.timestamp, message: e.message, ingestion_time: e.ingestion_time })
            .collect(),
        next_forward_token: next_forward,
        next_backward_token: next_backward,
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FilterInput {
    log_group_name: Option<String>,
    log_group_identifier: Option<String>,
    log_stream_names: Option<Vec<String>>,
    log_stream_name_prefix: Option<String>,
    start_time: Option<i64>,
    end_time: Option<i64>,
    filter_pattern: Option<String>,
    next_token: Option<String>,
    limit: Option<i64>,
    #[allow(dead_code)]
    interleaved: Option<bool>,
    #[allow(dead_code)]
    unmask: Option<bool>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FilteredEvent {
    log_stream_name: String,
    timestamp: i64,
    message: String,
    ingestion_time: i64,
    event_id: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FilterOutput {
    events: Vec<FilteredEvent>,
    searched_log_streams: Vec<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

pub(crate) async fn filter(svc: &LogsService, input: FilterInput) -> Result<FilterOutput> {
    let group = group_name(input.log_group_name, input.log_group_identifier)?;
    let limit = input.limit.unwrap_or(10_000);
    if !(1..=10_000).contains(&limit) {
        return Err(LogsError::Invalid("limit must be between 1 and 10000".into()));
    }
    let streams = input.log_stream_names.unwrap_or_default();
    if !streams.is_empty() && input.log_stream_name_prefix.is_some() {
        return Err(LogsError::Invalid("logStreamNames and logStreamNamePrefix are mutually exclusive".into()));
    }
    if streams.len() > 100 {
        return Err(LogsError::Invalid("logStreamNames holds at most 100 names".into()));
    }
    let pattern = FilterPattern::parse(input.filter_pattern.as_deref().unwrap_or(""))
        .map_err(|e| LogsError::Invalid(format!("Invalid filter pattern: {e}")))?;
    let after = match input.next_token.as_deref().map(read_token).transpose()? {
        Some(('p', p)) => Some(p),
        Some(_) => return Err(LogsError::Invalid("The specified nextToken is invalid.".into())),
        None => None,
    };
    if svc.store.group(&group).await?.is_none() {
        return Err(LogsError::group_not_found());
    }
    let mut scan = GroupScan {
        streams,
        stream_prefix: input.log_stream_name_prefix,
        start: input.start_time,
        end: input.end_time,
        after,
    };
    let mut found = Vec::new();
    let mut bytes = 0usize;
    let mut scanned = 0usize;
    loop {
        let page = svc.store.group_events(&group, &scan, SCAN_PAGE).await?;
        let full = page.len() as i64 == SCAN_PAGE;
        for e in page {
            scanned += 1;
            scan.after = Some(position(&e));
            if pattern.matches(&e.message) {
                bytes += e.message.len() + EVENT_OVERHEAD as usize;
                found.push(e);
                if found.len() as i64 == limit || bytes >= MAX_ANSWER_BYTES {
                    return Ok(filtered(found, scan.after.map(|p| token('p', p))));
                }
            }
        }
        if !full {
            return Ok(filtered(found, None));
        }
        if scanned >= MAX_SCANNED {
            return Ok(filtered(found, scan.after.map(|p| token('p', p))));
        }
    }
}

fn filtered(events: Vec<EventRecord>, next_token: Option<String>) -> FilterOutput {
    FilterOutput {
        events: events
            .into_iter()
            .map(|e| FilteredEvent {
                event_id: format!("{:020}{:020}", e.timestamp.max(0), e.id),
                log_stream_name: e.stream,
                timestamp: e.timestamp,
                message: e.message,
                ingestion_time: e.ingestion_time,
            })
            .collect(),
        searched_log_streams: Vec::new(),
        next_token,
    }
}
