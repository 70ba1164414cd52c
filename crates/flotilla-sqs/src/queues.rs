//! Queues: CreateQueue (idempotent while the attributes given match), GetQueueUrl,
//! ListQueues, DeleteQueue, Get/SetQueueAttributes, PurgeQueue (one a minute), tags
//! and ListDeadLetterSourceQueues; reading queue URLs and names, and checking redrive
//! policies against their targets.

use crate::attributes::{self, REDRIVE_ALLOW_POLICY, REDRIVE_POLICY, RedriveAllow, RedrivePolicy};
use crate::error::{Code, Result, SqsError};
use crate::store::{Created, NewQueue, QueueRecord};
use crate::{Empty, SqsService};
use flotilla_core::paging;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;

const MAX_NAME_LEN: usize = 80;
const FIFO_SUFFIX: &str = ".fifo";
/// ListQueues' page without MaxResults, and its largest.
const MAX_PAGE: i64 = 1000;
const MAX_TAGS: usize = 50;

/// The (account, name) a queue URL names: its last two path segments.
pub fn parse_url(url: &str) -> Result<(String, String)> {
    let invalid =
        || SqsError::refused(Code::InvalidAddress, format!("The address {url} is not valid for this endpoint."));
    let path = match url.split_once("://") {
        Some((_, rest)) => rest.split_once('/').map(|(_, p)| p).ok_or_else(invalid)?,
        None => url,
    };
    let path = path.split(['?', '#']).next().unwrap_or_default();
    let mut segments = path.split('/').filter(|s| !s.is_empty()).rev();
    let (Some(name), Some(account)) = (segments.next(), segments.next()) else { return Err(invalid()) };
    if !account.chars().all(|c| c.is_ascii_digit()) {
        return Err(invalid());
    }
    Ok((account.to_string(), name.to_string()))
}

/// Whether `name` is a queue name (a FIFO queue's ends in `.fifo`).
fn check_name(name: &str, fifo: bool) -> Result<()> {
    let base = if fifo { name.strip_suffix(FIFO_SUFFIX) } else { Some(name) };
    let ok = name.len() <= MAX_NAME_LEN
        && base.is_some_and(|b| !b.is_empty() && b.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
    if ok {
        return Ok(());
    }
    let why = if fifo {
        "The name of a FIFO queue can only include alphanumeric characters, hyphens, or underscores, must end with \
         .fifo suffix and be 1 to 80 in length"
    } else {
        "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length"
    };
    Err(SqsError::invalid("QueueName", name, why))
}

fn check_tags(tags: &BTreeMap<String, String>) -> Result<()> {
    if tags.len() > MAX_TAGS {
        return Err(SqsError::refused(
            Code::InvalidParameterValue,
            format!("Too many tags: a queue has at most {MAX_TAGS}."),
        ));
    }
    for (k, v) in tags {
        if k.is_empty() || k.len() > 128 || v.len() > 256 {
            return Err(SqsError::refused(
                Code::InvalidParameterValue,
                "Tag keys must be between 1 and 128 characters in length, values at most 256.",
            ));
        }
    }
    Ok(())
}

fn required<T>(value: Option<T>, name: &str) -> Result<T> {
    value.ok_or_else(|| SqsError::missing(name))
}

impl SqsService {
    /// The queue a `QueueUrl` names.
    pub(crate) async fn queue_by_url(&self, url: Option<&str>) -> Result<QueueRecord> {
        let url = url.ok_or_else(|| SqsError::missing("QueueUrl"))?;
        let (account, name) = parse_url(url)?;
        if account != self.account.account_id {
            return Err(SqsError::no_queue());
        }
        self.store.queue(&name).await?.ok_or_else(SqsError::no_queue)
    }

    /// The queue an ARN of this account and region names, if it exists.
    pub(crate) async fn queue_by_arn(&self, arn: &str) -> Result<Option<QueueRecord>> {
        match arn.strip_prefix(&format!("arn:aws:sqs:{}:{}:", self.account.region, self.account.account_id)) {
            Some(name) if !name.contains(':') => self.store.queue(name).await,
            _ => Ok(None),
        }
    }

    /// Checks a redrive policy of queue `source` (its name, FIFO or not) against its target.
    async fn check_redrive(&self, source: &str, fifo: bool, text: &str) -> Result<()> {
        let policy: RedrivePolicy = attributes::redrive_policy(text)?;
        let refuse = |why: &str| SqsError::invalid(REDRIVE_POLICY, text, why);
        let source_arn = self.queue_arn(source);
        if policy.dead_letter_target_arn == source_arn {
            return Err(refuse("A queue cannot be its own dead-letter queue"));
        }
        let Some(target) = self.queue_by_arn(&policy.dead_letter_target_arn).await? else {
            return Err(refuse("Dead letter target does not exist"));
        };
        if target.fifo != fifo {
            return Err(refuse("Dead-letter queue must be same type of queue as the source"));
        }
        let allowed = match target.attributes.get(REDRIVE_ALLOW_POLICY) {
            Some(text) => attributes::redrive_allow(text)?,
            None => RedriveAllow::All,
        };
        if !allowed.allows(&source_arn) {
            return Err(refuse("The dead-letter queue's RedriveAllowPolicy does not allow this queue"));
        }
        Ok(())
    }

    fn page_token(token: Option<&str>) -> Result<Option<String>> {
        token
            .map(|t| {
                paging::decode_token(t)
                    .map_err(|_| SqsError::refused(Code::InvalidParameterValue, "Invalid NextToken value."))
            })
            .transpose()
    }
}

fn page_size(max_results: Option<i64>) -> Result<i64> {
    match max_results {
        None => Ok(MAX_PAGE),
        Some(n) if (1..=MAX_PAGE).contains(&n) => Ok(n),
        Some(n) => Err(SqsError::invalid("MaxResults", n, "Must be between 1 and 1000, if provided")),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct CreateInput {
    queue_name: Option<String>,
    #[serde(default)]
    attributes: BTreeMap<String, String>,
    #[serde(default, rename = "tags")]
    tags: BTreeMap<String, String>,
}

pub(crate) async fn create(svc: &SqsService, input: CreateInput) -> Result<Value> {
    let name = required(input.queue_name, "QueueName")?;
    let fifo = input.attributes.get(attributes::FIFO_QUEUE).is_some_and(|v| v.eq_ignore_ascii_case("true"));
    if !fifo && name.ends_with(FIFO_SUFFIX) && !input.attributes.contains_key(attributes::FIFO_QUEUE) {
        return Err(SqsError::invalid(
            "QueueName",
            &name,
            "A queue named with the .fifo suffix must be created with the FifoQueue attribute set to true",
        ));
    }
    check_name(&name, fifo)?;
    check_tags(&input.tags)?;
    let mut wanted = attributes::defaults(fifo);
    attributes::apply(&mut wanted, &input.attributes, fifo, true)?;
    if let Some(text) = wanted.get(REDRIVE_POLICY) {
        svc.check_redrive(&name, fifo, text).await?;
    }
    let queue = NewQueue {
        name: name.clone(),
        fifo,
        retention_ms: attributes::int(&wanted, attributes::MESSAGE_RETENTION_PERIOD) * 1000,
        dead_letter_target: wanted
            .get(REDRIVE_POLICY)
            .and_then(|p| attributes::redrive_policy(p).ok())
            .map(|p| p.dead_letter_target_arn),
        attributes: wanted,
        tags: input.tags,
    };
    let now = svc.store.now_ms().await?;
    match svc.store.create_queue(&queue, now).await? {
        Created::Created(q) => {
            tracing::info!(queue = %q.name, fifo = q.fifo, "queue created");
        }
        Created::Exists(existing) => {
            // The same queue again when every attribute given has the value it has.
            let differs = input.attributes.keys().find(|k| {
                let given = attributes::normalise(k, &input.attributes[*k], fifo, true).ok().flatten();
                given.as_ref() != existing.attributes.get(*k)
            });
            // (A FIFO queue's name ends in .fifo, which a standard queue's cannot.)
            if let Some(attribute) = differs {
                return Err(SqsError::refused(
                    Code::QueueNameExists,
                    format!(
                        "A queue already exists with the same name and a different value for attribute {attribute}"
                    ),
                ));
            }
        }
    }
    Ok(json!({"QueueUrl": svc.queue_url(&name)}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct GetUrlInput {
    queue_name: Option<String>,
    #[serde(rename = "QueueOwnerAWSAccountId")]
    owner: Option<String>,
}

pub(crate) async fn get_url(svc: &SqsService, input: GetUrlInput) -> Result<Value> {
    let name = required(input.queue_name, "QueueName")?;
    if input.owner.as_ref().is_some_and(|o| *o != svc.account.account_id) {
        return Err(SqsError::no_queue());
    }
    let queue = svc.store.queue(&name).await?.ok_or_else(SqsError::no_queue)?;
    Ok(json!({"QueueUrl": svc.queue_url(&queue.name)}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListInput {
    queue_name_prefix: Option<String>,
    next_token: Option<String>,
    max_results: Option<i64>,
}

/// A page of queues as URLs under `key`, with `NextToken` when MaxResults was given
/// and more follow.
fn url_page(svc: &SqsService, mut queues: Vec<QueueRecord>, limit: i64, paged: bool, key: &str) -> Value {
    let more = queues.len() as i64 > limit;
    queues.truncate(limit as usize);
    let mut out = json!({});
    if !queues.is_empty() || key == "queueUrls" {
        out[key] = json!(queues.iter().map(|q| svc.queue_url(&q.name)).collect::<Vec<_>>());
    }
    if more
        && paged
        && let Some(last) = queues.last()
    {
        out["NextToken"] = json!(paging::encode_token(&last.name));
    }
    out
}

pub(crate) async fn list(svc: &SqsService, input: ListInput) -> Result<Value> {
    let limit = page_size(input.max_results)?;
    let after = SqsService::page_token(input.next_token.as_deref())?;
    let prefix = input.queue_name_prefix.filter(|p| !p.is_empty());
    let queues = svc.store.queues(prefix.as_deref(), after.as_deref(), limit + 1).await?;
    Ok(url_page(svc, queues, limit, input.max_results.is_some(), "QueueUrls"))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DeadLetterSourcesInput {
    queue_url: Option<String>,
    next_token: Option<String>,
    max_results: Option<i64>,
}

pub(crate) async fn dead_letter_sources(svc: &SqsService, input: DeadLetterSourcesInput) -> Result<Value> {
    let limit = page_size(input.max_results)?;
    let after = SqsService::page_token(input.next_token.as_deref())?;
    let queue = svc.queue_by_url(input.queue_url.as_deref()).await?;
    let sources = svc.store.dead_letter_sources(&svc.queue_arn(&queue.name), after.as_deref(), limit + 1).await?;
    Ok(url_page(svc, sources, limit, input.max_results.is_some(), "queueUrls"))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct UrlInput {
    queue_url: Option<String>,
}

pub(crate) async fn delete(svc: &SqsService, input: UrlInput) -> Result<Empty> {
    let queue = svc.queue_by_url(input.queue_url.as_deref()).await?;
    let now = svc.store.now_ms().await?;
    if !svc.store.delete_queue(queue.id, now).await? {
        return Err(SqsError::no_queue());
    }
    svc.waiters.forget(queue.id);
    tracing::info!(queue = %queue.name, "queue deleted");
    Ok(Empty {})
}

pub(crate) async fn purge(svc: &SqsService, input: UrlInput) -> Result<Empty> {
    let queue = svc.queue_by_url(input.queue_url.as_deref()).await?;
    let now = svc.store.now_ms().await?;
    if !svc.store.purge(&queue, now).await? {
        return Err(SqsError::refused(
            Code::PurgeQueueInProgress,
            format!("Only one PurgeQueue operation on {} is allowed every 60 seconds.", queue.name),
        ));
    }
    tracing::info!(queue = %queue.name, "queue purged");
    Ok(Empty {})
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct GetAttributesInput {
    queue_url: Option<String>,
    #[serde(default)]
    attribute_names: Vec<String>,
}

pub(crate) async fn get_attributes(svc: &SqsService, input: GetAttributesInput) -> Result<Value> {
    if let Some(unknown) = input.attribute_names.iter().find(|n| !attributes::known(n)) {
        return Err(SqsError::attribute_name(unknown));
    }
    let queue = svc.queue_by_url(input.queue_url.as_deref()).await?;
    let all = input.attribute_names.iter().any(|n| n == "All");
    let wanted = |name: &str| all || input.attribute_names.iter().any(|n| n == name);
    let mut out: BTreeMap<String, String> =
        queue.attributes.iter().filter(|(k, _)| wanted(k)).map(|(k, v)| (k.clone(), v.clone())).collect();
    if wanted("ApproximateNumberOfMessages")
        || wanted("ApproximateNumberOfMessagesNotVisible")
        || wanted("ApproximateNumberOfMessagesDelayed")
    {
        let now = svc.store.now_ms().await?;
        let counts = svc.store.counts(&queue, now).await?;
        for (name, n) in [
            ("ApproximateNumberOfMessages", counts.visible),
            ("ApproximateNumberOfMessagesNotVisible", counts.in_flight),
            ("ApproximateNumberOfMessagesDelayed", counts.delayed),
        ] {
            if wanted(name) {
                out.insert(name.into(), n.to_string());
            }
        }
    }
    for (name, value) in [
        ("CreatedTimestamp", (queue.created_at / 1000).to_string()),
        ("LastModifiedTimestamp", (queue.modified_at / 1000).to_string()),
        ("QueueArn", svc.queue_arn(&queue.name)),
    ] {
        if wanted(name) {
            out.insert(name.into(), value);
        }
    }
    Ok(if out.is_empty() { json!({}) } else { json!({"Attributes": out}) })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct SetAttributesInput {
    queue_url: Option<String>,
    attributes: Option<BTreeMap<String, String>>,
}

pub(crate) async fn set_attributes(svc: &SqsService, input: SetAttributesInput) -> Result<Empty> {
    let given = required(input.attributes, "Attributes")?;
    let queue = svc.queue_by_url(input.queue_url.as_deref()).await?;
    // Checked before the store is touched; applied again under the queue's lock.
    let mut checked = queue.attributes.clone();
    attributes::apply(&mut checked, &given, queue.fifo, false)?;
    if given.contains_key(REDRIVE_POLICY)
        && let Some(text) = checked.get(REDRIVE_POLICY)
    {
        svc.check_redrive(&queue.name, queue.fifo, text).await?;
    }
    let now = svc.store.now_ms().await?;
    let changed = svc
        .store
        .change_queue(queue.id, now, |q| {
            attributes::apply(&mut q.attributes, &given, q.fifo, false)?;
            q.retention_ms = attributes::int(&q.attributes, attributes::MESSAGE_RETENTION_PERIOD) * 1000;
            q.dead_letter_target = q
                .attributes
                .get(REDRIVE_POLICY)
                .and_then(|p| attributes::redrive_policy(p).ok())
                .map(|p| p.dead_letter_target_arn);
            Ok(())
        })
        .await?;
    changed.ok_or_else(SqsError::no_queue)?;
    Ok(Empty {})
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct TagInput {
    queue_url: Option<String>,
    tags: Option<BTreeMap<String, String>>,
}

pub(crate) async fn tag(svc: &SqsService, input: TagInput) -> Result<Empty> {
    let tags = required(input.tags, "Tags")?;
    check_tags(&tags)?;
    let queue = svc.queue_by_url(input.queue_url.as_deref()).await?;
    let now = svc.store.now_ms().await?;
    let changed = svc
        .store
        .change_queue(queue.id, now, |q| {
            let mut merged = q.tags.clone();
            merged.extend(tags);
            check_tags(&merged)?;
            q.tags = merged;
            Ok(())
        })
        .await?;
    changed.ok_or_else(SqsError::no_queue)?;
    Ok(Empty {})
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct UntagInput {
    queue_url: Option<String>,
    tag_keys: Option<Vec<String>>,
}

pub(crate) async fn untag(svc: &SqsService, input: UntagInput) -> Result<Empty> {
    let keys = required(input.tag_keys, "TagKeys")?;
    let queue = svc.queue_by_url(input.queue_url.as_deref()).await?;
    let now = svc.store.now_ms().await?;
    let changed = svc
        .store
        .change_queue(queue.id, now, |q| {
            for k in &keys {
                q.tags.remove(k);
            }
            Ok(())
        })
        .await?;
    changed.ok_or_else(SqsError::no_queue)?;
    Ok(Empty {})
}

pub(crate) async fn list_tags(svc: &SqsService, input: UrlInput) -> Result<Value> {
    let queue = svc.queue_by_url(input.queue_url.as_deref()).await?;
    Ok(if queue.tags.is_empty() { json!({}) } else { json!({"Tags": queue.tags}) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_urls_name_account_and_queue() {
        let parsed = parse_url("http://127.0.0.1:4566/000000000000/orders").unwrap();
        assert_eq!(parsed, ("000000000000".to_string(), "orders".to_string()));
        assert_eq!(parse_url("https://sqs.us-east-1.amazonaws.com/123456789012/a.fifo").unwrap().1, "a.fifo");
        assert_eq!(parse_url("/000000000000/q/").unwrap().1, "q");
        for bad in ["orders", "http://host", "http://host/orders", "http://host/acct/orders"] {
            assert_eq!(parse_url(bad).unwrap_err().code(), Some(Code::InvalidAddress), "{bad}");
        }
    }

    #[test]
    fn names_are_alphanumeric_hyphens_and_underscores() {
        check_name("orders-1_a", false).unwrap();
        check_name("orders.fifo", true).unwrap();
        check_name(&"a".repeat(80), false).unwrap();
        for (bad, fifo) in [("", false), ("a.b", false), ("orders", true), (".fifo", true), (&*"a".repeat(81), false)] {
            assert_eq!(check_name(bad, fifo).unwrap_err().code(), Some(Code::InvalidParameterValue), "{bad}");
        }
    }
}
