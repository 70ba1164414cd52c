//! Settling received messages by receipt handle: DeleteMessage(Batch) and
//! ChangeMessageVisibility(Batch).
//!
//! As on AWS, deleting with a receipt that is no longer the message's latest (it was
//! received again, or is gone) succeeds on a standard queue and deletes nothing; on a
//! FIFO queue a receipt whose visibility timeout ran out is refused. A visibility change
//! needs the message in flight under that receipt, and may not keep it invisible for
//! more than 12 hours from the receive.

use crate::batch::{self, Failure, Success};
use crate::error::{Code, Result, SqsError};
use crate::store::{Changed, QueueRecord, Receipt};
use crate::{Empty, SqsService, receipt};
use serde::Deserialize;
use serde_json::{Value, json};

const MAX_VISIBILITY_SECONDS: i64 = 43_200;

fn expired() -> SqsError {
    SqsError::receipt_invalid("The receipt handle has expired.")
}

fn visibility_seconds(value: Option<i64>) -> Result<i64> {
    let v = value.ok_or_else(|| SqsError::missing("VisibilityTimeout"))?;
    if !(0..=MAX_VISIBILITY_SECONDS).contains(&v) {
        return Err(SqsError::invalid("VisibilityTimeout", v, "Must be >= 0 and <= 43200"));
    }
    Ok(v)
}

/// The refusal of a visibility change that did not apply.
fn refusal(changed: Changed, seconds: i64) -> Option<SqsError> {
    match changed {
        Changed::Done => None,
        Changed::Stale => Some(expired()),
        Changed::NotInFlight => Some(SqsError::refused(
            Code::MessageNotInflight,
            "Message does not exist or is not available for visibility timeout change.",
        )),
        Changed::TooLong => Some(SqsError::invalid(
            "VisibilityTimeout",
            seconds,
            "Total VisibilityTimeout for the message is beyond the limit [43200 seconds]",
        )),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DeleteInput {
    queue_url: Option<String>,
    receipt_handle: Option<String>,
}

pub(crate) async fn delete(svc: &SqsService, input: DeleteInput) -> Result<Empty> {
    let handle = input.receipt_handle.ok_or_else(|| SqsError::missing("ReceiptHandle"))?;
    let queue = svc.queue_by_url(input.queue_url.as_deref()).await?;
    let r = receipt::decode(&handle, queue.id)?;
    let now = svc.store.now_ms().await?;
    let deleted = svc.store.delete(&queue, &[r], now).await?;
    if queue.fifo && !deleted.first().copied().unwrap_or(false) {
        return Err(expired());
    }
    Ok(Empty {})
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct HandleEntry {
    id: Option<String>,
    receipt_handle: Option<String>,
    visibility_timeout: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct BatchInput {
    queue_url: Option<String>,
    #[serde(default)]
    entries: Vec<HandleEntry>,
}

/// A batch entry that can be applied: its id, receipt and visibility timeout (seconds).
type Readable = (String, Receipt, i64);

/// Reads a batch's receipts: the entries that can be applied, and failures for the others.
fn read_entries(
    queue: &QueueRecord,
    entries: Vec<HandleEntry>,
    with_visibility: bool,
) -> Result<(Vec<Readable>, Vec<Failure>)> {
    let mut ok = Vec::new();
    let mut failed = Vec::new();
    for e in entries {
        let id = e.id.unwrap_or_default();
        let read = e
            .receipt_handle
            .ok_or_else(|| SqsError::missing("ReceiptHandle"))
            .and_then(|h| receipt::decode(&h, queue.id))
            .and_then(|r| {
                // A batch entry without a timeout makes the message visible at once.
                let seconds = if with_visibility { visibility_seconds(e.visibility_timeout.or(Some(0)))? } else { 0 };
                Ok((r, seconds))
            });
        match read {
            Ok((r, seconds)) => ok.push((id, r, seconds)),
            Err(err) => failed.push(Failure::of(&id, err)?),
        }
    }
    Ok((ok, failed))
}

pub(crate) async fn delete_batch(svc: &SqsService, input: BatchInput) -> Result<Value> {
    let ids: Vec<Option<&str>> = input.entries.iter().map(|e| e.id.as_deref()).collect();
    batch::check_ids(&ids, "DeleteMessageBatchRequestEntry")?;
    let queue = svc.queue_by_url(input.queue_url.as_deref()).await?;
    let (entries, mut failed) = read_entries(&queue, input.entries, false)?;
    let mut successful = Vec::new();
    if !entries.is_empty() {
        let receipts: Vec<Receipt> = entries.iter().map(|(_, r, _)| r.clone()).collect();
        let now = svc.store.now_ms().await?;
        let deleted = svc.store.delete(&queue, &receipts, now).await?;
        for ((id, _, _), done) in entries.into_iter().zip(deleted) {
            if done || !queue.fifo {
                successful.push(Success { id });
            } else {
                failed.push(Failure::of(&id, expired())?);
            }
        }
    }
    Ok(json!({"Successful": successful, "Failed": failed}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ChangeInput {
    queue_url: Option<String>,
    receipt_handle: Option<String>,
    visibility_timeout: Option<i64>,
}

pub(crate) async fn change_visibility(svc: &SqsService, input: ChangeInput) -> Result<Empty> {
    let handle = input.receipt_handle.ok_or_else(|| SqsError::missing("ReceiptHandle"))?;
    let seconds = visibility_seconds(input.visibility_timeout)?;
    let queue = svc.queue_by_url(input.queue_url.as_deref()).await?;
    let r = receipt::decode(&handle, queue.id)?;
    let now = svc.store.now_ms().await?;
    let changed = svc.store.change_visibility(&queue, &[(r, seconds * 1000)], now).await?;
    if let Some(e) = refusal(changed.first().copied().unwrap_or(Changed::Stale), seconds) {
        return Err(e);
    }
    if seconds == 0 {
        svc.waiters.ring(queue.id);
    }
    Ok(Empty {})
}

pub(crate) async fn change_visibility_batch(svc: &SqsService, input: BatchInput) -> Result<Value> {
    let ids: Vec<Option<&str>> = input.entries.iter().map(|e| e.id.as_deref()).collect();
    batch::check_ids(&ids, "ChangeMessageVisibilityBatchRequestEntry")?;
    let queue = svc.queue_by_url(input.queue_url.as_deref()).await?;
    let (entries, mut failed) = read_entries(&queue, input.entries, true)?;
    let mut successful = Vec::new();
    if !entries.is_empty() {
        let changes: Vec<(Receipt, i64)> = entries.iter().map(|(_, r, s)| (r.clone(), s * 1000)).collect();
        let now = svc.store.now_ms().await?;
        let changed = svc.store.change_visibility(&queue, &changes, now).await?;
        let mut made_visible = false;
        for ((id, _, seconds), outcome) in entries.into_iter().zip(changed) {
            match refusal(outcome, seconds) {
                None => {
                    made_visible |= seconds == 0;
                    successful.push(Success { id });
                }
                Some(e) => failed.push(Failure::of(&id, e)?),
            }
        }
        if made_visible {
            svc.waiters.ring(queue.id);
        }
    }
    Ok(json!({"Successful": successful, "Failed": failed}))
}
