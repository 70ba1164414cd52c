//! Sending and receiving: SendMessage and SendMessageBatch (AWS's limits: bodies of
//! allowed characters within the queue's maximum size counting attributes, delays of
//! 0 to 900 s, FIFO group and deduplication ids; answered with the digests SDKs check),
//! and ReceiveMessage (1 to 10 messages, long polling up to 20 s woken by sends,
//! visibility timeouts, system and message attributes, redrive to the dead-letter
//! queue).

use crate::attributes::{self, MAX_MESSAGE_BYTES};
use crate::batch::{self, Failure};
use crate::error::{Code, Result, SqsError};
use crate::message_attributes::{self as attrs, Attributes};
use crate::store::{Claim, MessageRecord, NewMessage, QueueRecord, Redrive, Sent};
use crate::{SqsService, fifo, md5, receipt};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::time::Instant;

/// How many messages a queue may have in flight before receives are refused.
const MAX_IN_FLIGHT: i64 = 120_000;
const MAX_DELAY_SECONDS: i64 = 900;
const MAX_WAIT_SECONDS: i64 = 20;
const MAX_VISIBILITY_SECONDS: i64 = 43_200;
const NOT_FOR_THIS_QUEUE: &str = "The request include parameter that is not valid for this queue type";

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct SendInput {
    queue_url: Option<String>,
    #[serde(flatten)]
    message: Entry,
}

/// One message to send (SendMessage's fields; a batch entry adds its `Id`).
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Entry {
    #[serde(default)]
    id: Option<String>,
    message_body: Option<String>,
    delay_seconds: Option<i64>,
    #[serde(default)]
    message_attributes: Attributes,
    #[serde(default)]
    message_system_attributes: Attributes,
    message_deduplication_id: Option<String>,
    message_group_id: Option<String>,
}

/// What a sent message is answered with.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct SentAnswer {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    message_id: String,
    #[serde(rename = "MD5OfMessageBody")]
    md5_of_message_body: String,
    #[serde(rename = "MD5OfMessageAttributes", skip_serializing_if = "Option::is_none")]
    md5_of_message_attributes: Option<String>,
    #[serde(rename = "MD5OfMessageSystemAttributes", skip_serializing_if = "Option::is_none")]
    md5_of_message_system_attributes: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sequence_number: Option<String>,
}

/// A message checked against the queue's rules: what to store, what to answer, and
/// the bytes it counts.
struct Checked {
    message: NewMessage,
    answer: SentAnswer,
    size: usize,
}

/// Checks one message for `queue`.
fn check(queue: &QueueRecord, entry: Entry) -> Result<Checked> {
    let body = entry.message_body.filter(|b| !b.is_empty()).ok_or_else(|| SqsError::missing("MessageBody"))?;
    if !attrs::valid_text(&body) {
        return Err(SqsError::refused(
            Code::InvalidMessageContents,
            "Invalid characters found. Valid unicode characters are #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to \
             #xFFFD | #x10000 to #x10FFFF",
        ));
    }
    let mut message_attributes = entry.message_attributes;
    let mut system_attributes = entry.message_system_attributes;
    let attributes_size = attrs::validate(&mut message_attributes)?;
    let (trace_header, system_size) = attrs::validate_system(&mut system_attributes)?;
    let size = body.len() + attributes_size + system_size;
    let max = attributes::int(&queue.attributes, attributes::MAXIMUM_MESSAGE_SIZE).min(MAX_MESSAGE_BYTES);
    if size as i64 > max {
        return Err(SqsError::refused(
            Code::InvalidParameterValue,
            format!("One or more parameters are invalid. Reason: Message must be shorter than {max} bytes."),
        ));
    }
    let delay = match entry.delay_seconds {
        // FIFO queues have per-queue delays only.
        Some(d) if queue.fifo && d != 0 => return Err(SqsError::invalid("DelaySeconds", d, NOT_FOR_THIS_QUEUE)),
        Some(d) if !(0..=MAX_DELAY_SECONDS).contains(&d) => {
            return Err(SqsError::invalid("DelaySeconds", d, "Must be >= 0 and <= 900"));
        }
        Some(d) if !queue.fifo => d,
        _ => attributes::int(&queue.attributes, attributes::DELAY_SECONDS),
    };
    if let Some(group) = &entry.message_group_id {
        fifo::check_id("MessageGroupId", group)?;
    }
    let (dedup_id, dedup_key) = if queue.fifo {
        let group = entry.message_group_id.as_deref().ok_or_else(|| SqsError::missing("MessageGroupId"))?;
        let content_based = attributes::flag(&queue.attributes, attributes::CONTENT_BASED_DEDUPLICATION);
        let id = fifo::dedup_id(entry.message_deduplication_id.as_deref(), content_based, &body)?;
        let per_group = queue.attributes.get(attributes::DEDUPLICATION_SCOPE).is_some_and(|s| s == "messageGroup");
        let key = fifo::dedup_key(per_group, group, &id);
        (Some(id), Some(key))
    } else if let Some(id) = &entry.message_deduplication_id {
        return Err(SqsError::invalid("MessageDeduplicationId", id, NOT_FOR_THIS_QUEUE));
    } else {
        (None, None)
    };
    let stored_attributes = if message_attributes.is_empty() {
        None
    } else {
        Some(serde_json::to_string(&message_attributes).map_err(|e| SqsError::corrupt("message attributes", e))?)
    };
    let message_id = uuid::Uuid::new_v4().to_string();
    Ok(Checked {
        answer: SentAnswer {
            id: entry.id,
            message_id: message_id.clone(),
            md5_of_message_body: md5::of_body(&body),
            md5_of_message_attributes: attrs::digest(&message_attributes),
            md5_of_message_system_attributes: attrs::digest(&system_attributes),
            sequence_number: None,
        },
        message: NewMessage {
            message_id,
            body,
            attributes: stored_attributes,
            trace_header,
            delay_ms: delay * 1000,
            group_id: entry.message_group_id,
            dedup_id,
            dedup_key,
        },
        size,
    })
}

fn answered(mut answer: SentAnswer, sent: Sent) -> SentAnswer {
    answer.message_id = sent.message_id;
    answer.sequence_number = sent.sequence_number;
    answer
}

pub(crate) async fn send(svc: &SqsService, mut input: SendInput) -> Result<SentAnswer> {
    // Only batch entries have (and answer with) an `Id`.
    input.message.id = None;
    let queue = svc.queue_by_url(input.queue_url.as_deref()).await?;
    let checked = check(&queue, input.message)?;
    let now = svc.store.now_ms().await?;
    let sent = svc.store.send(&queue, std::slice::from_ref(&checked.message), now).await?;
    svc.waiters.ring(queue.id);
    let sent = sent.into_iter().next().ok_or_else(|| SqsError::corrupt("a sent message", "no outcome"))?;
    Ok(answered(checked.answer, sent))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct SendBatchInput {
    queue_url: Option<String>,
    #[serde(default)]
    entries: Vec<Entry>,
}

pub(crate) async fn send_batch(svc: &SqsService, input: SendBatchInput) -> Result<Value> {
    let ids: Vec<Option<&str>> = input.entries.iter().map(|e| e.id.as_deref()).collect();
    batch::check_ids(&ids, "SendMessageBatchRequestEntry")?;
    let queue = svc.queue_by_url(input.queue_url.as_deref()).await?;
    let mut failed = Vec::new();
    let mut accepted = Vec::new();
    let mut total = 0usize;
    for entry in input.entries {
        let id = entry.id.clone().unwrap_or_default();
        total += entry.message_body.as_ref().map_or(0, String::len);
        match check(&queue, entry) {
            Ok(c) => {
                total += c.size - c.message.body.len();
                accepted.push(c);
            }
            Err(e) => failed.push(Failure::of(&id, e)?),
        }
    }
    if total as i64 > MAX_MESSAGE_BYTES {
        return Err(SqsError::refused(
            Code::BatchRequestTooLong,
            format!("Batch requests cannot be longer than {MAX_MESSAGE_BYTES} bytes. You have sent {total} bytes."),
        ));
    }
    let mut successful = Vec::new();
    if !accepted.is_empty() {
        let messages: Vec<NewMessage> = accepted.iter().map(|c| c.message.clone()).collect();
        let now = svc.store.now_ms().await?;
        let sent = svc.store.send(&queue, &messages, now).await?;
        svc.waiters.ring(queue.id);
        successful = accepted.into_iter().zip(sent).map(|(c, s)| answered(c.answer, s)).collect();
    }
    Ok(json!({"Successful": successful, "Failed": failed}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ReceiveInput {
    queue_url: Option<String>,
    #[serde(default)]
    attribute_names: Vec<String>,
    #[serde(default)]
    message_system_attribute_names: Vec<String>,
    #[serde(default)]
    message_attribute_names: Vec<String>,
    max_number_of_messages: Option<i64>,
    visibility_timeout: Option<i64>,
    wait_time_seconds: Option<i64>,
    #[allow(dead_code)]
    receive_request_attempt_id: Option<String>,
}

/// The system attributes a receive asked for, of one message.
fn system_attributes(svc: &SqsService, m: &MessageRecord, names: &[String]) -> BTreeMap<&'static str, String> {
    let all = names.iter().any(|n| n == "All");
    let wanted = |name: &str| all || names.iter().any(|n| n == name);
    let mut out = BTreeMap::new();
    let mut put = |name: &'static str, value: Option<String>| {
        if let Some(v) = value
            && wanted(name)
        {
            out.insert(name, v);
        }
    };
    put("SenderId", Some(svc.account.account_id.clone()));
    put("SentTimestamp", Some(m.sent_at.to_string()));
    put("ApproximateReceiveCount", Some(m.receive_count.to_string()));
    put("ApproximateFirstReceiveTimestamp", m.first_received_at.map(|t| t.to_string()));
    put("SequenceNumber", m.sequence_number.clone());
    put("MessageDeduplicationId", m.dedup_id.clone());
    put("MessageGroupId", m.group_id.clone());
    put("AWSTraceHeader", m.trace_header.clone());
    put("DeadLetterQueueSourceArn", m.dlq_source.clone());
    out
}

fn message_answer(svc: &SqsService, m: &MessageRecord, system: &[String], wanted: &[String]) -> Result<Value> {
    let token = m.receipt.as_deref().unwrap_or_default();
    let mut out = json!({
        "MessageId": m.message_id,
        "ReceiptHandle": receipt::encode(m.queue_id, m.row_id, token),
        "MD5OfBody": md5::of_body(&m.body),
        "Body": m.body,
    });
    let system = system_attributes(svc, m, system);
    if !system.is_empty() {
        out["Attributes"] = json!(system);
    }
    if let Some(text) = &m.attributes {
        let stored: Attributes =
            serde_json::from_str(text).map_err(|e| SqsError::corrupt("a message's attributes", e))?;
        let selected = attrs::select(&stored, wanted);
        if let Some(digest) = attrs::digest(&selected) {
            out["MD5OfMessageAttributes"] = json!(digest);
            out["MessageAttributes"] = json!(selected);
        }
    }
    Ok(out)
}

fn in_range(name: &str, value: Option<i64>, low: i64, high: i64) -> Result<Option<i64>> {
    match value {
        Some(v) if !(low..=high).contains(&v) => {
            Err(SqsError::invalid(name, v, &format!("Must be >= {low} and <= {high}, if provided")))
        }
        other => Ok(other),
    }
}

impl SqsService {
    /// The redrive a receive from `queue` applies, when its dead-letter queue exists.
    async fn redrive_of(&self, queue: &QueueRecord) -> Result<Option<Redrive>> {
        let Some(text) = queue.attributes.get(attributes::REDRIVE_POLICY) else { return Ok(None) };
        let policy = attributes::redrive_policy(text)?;
        let Some(target) = self.queue_by_arn(&policy.dead_letter_target_arn).await? else {
            tracing::warn!(queue = %queue.name, target = %policy.dead_letter_target_arn,
                "the dead-letter queue of a redrive policy does not exist; messages stay");
            return Ok(None);
        };
        Ok(Some(Redrive {
            dead_letter_queue_id: target.id,
            source_arn: self.queue_arn(&queue.name),
            max_receive_count: policy.max_receive_count,
        }))
    }
}

pub(crate) async fn receive(svc: &SqsService, input: ReceiveInput) -> Result<Value> {
    let max = match input.max_number_of_messages {
        Some(n) if !(1..=10).contains(&n) => {
            return Err(SqsError::invalid("MaxNumberOfMessages", n, "Must be between 1 and 10, if provided"));
        }
        n => n.unwrap_or(1),
    };
    let wait = in_range("WaitTimeSeconds", input.wait_time_seconds, 0, MAX_WAIT_SECONDS)?;
    let visibility = in_range("VisibilityTimeout", input.visibility_timeout, 0, MAX_VISIBILITY_SECONDS)?;
    let queue = svc.queue_by_url(input.queue_url.as_deref()).await?;
    let wait = wait.unwrap_or_else(|| attributes::int(&queue.attributes, attributes::RECEIVE_WAIT));
    let visibility = visibility.unwrap_or_else(|| attributes::int(&queue.attributes, attributes::VISIBILITY_TIMEOUT));
    let mut system_names = input.attribute_names;
    system_names.extend(input.message_system_attribute_names);
    let claim = Claim { max, visibility_ms: visibility * 1000, redrive: svc.redrive_of(&queue).await? };

    let deadline = Instant::now() + Duration::from_secs(wait as u64);
    let mut subscription = (wait > 0).then(|| svc.waiters.subscribe(queue.id));
    let mut queue = queue;
    let mut first = true;
    let received = loop {
        if !std::mem::take(&mut first) {
            // Read again after a wait: a purge or a change of retention applies at
            // once, and a queue deleted meanwhile serves nothing more.
            match svc.store.queue(&queue.name).await? {
                Some(q) if q.id == queue.id => queue = q,
                _ => return Err(SqsError::no_queue()),
            }
        }
        let now = svc.store.now_ms().await?;
        if svc.store.has_ready(&queue, now).await? {
            if svc.store.in_flight(&queue, now, MAX_IN_FLIGHT).await? >= MAX_IN_FLIGHT {
                return Err(SqsError::refused(
                    Code::OverLimit,
                    format!("The queue {} has the most messages in flight it may have ({MAX_IN_FLIGHT}).", queue.name),
                ));
            }
            let got = svc.store.receive(&queue, &claim, now).await?;
            if got.moved > 0
                && let Some(r) = &claim.redrive
            {
                svc.waiters.ring(r.dead_letter_queue_id);
            }
            if !got.messages.is_empty() {
                break got.messages;
            }
            if got.moved > 0 {
                continue;
            }
        }
        match subscription.as_mut() {
            Some(s) if Instant::now() < deadline => s.wait(deadline).await,
            _ => break Vec::new(),
        }
    };
    if received.is_empty() {
        let now = svc.store.now_ms().await?;
        svc.store.record_empty_receive(queue.id, now).await?;
        return Ok(json!({}));
    }
    let messages = received
        .iter()
        .map(|m| message_answer(svc, m, &system_names, &input.message_attribute_names))
        .collect::<Result<Vec<_>>>()?;
    Ok(json!({"Messages": messages}))
}
