//! Queue attributes: which exist, their ranges and defaults, and normalising what a
//! client gives (so that CreateQueue can tell the same queue from a different one, and
//! answers always show one spelling). Redrive policies are JSON documents read here;
//! whether a dead-letter target exists and may be one is the queues module's check.

use crate::error::{Result, SqsError};
use serde_json::{Value, json};
use std::collections::BTreeMap;

pub const DELAY_SECONDS: &str = "DelaySeconds";
pub const MAXIMUM_MESSAGE_SIZE: &str = "MaximumMessageSize";
pub const MESSAGE_RETENTION_PERIOD: &str = "MessageRetentionPeriod";
pub const RECEIVE_WAIT: &str = "ReceiveMessageWaitTimeSeconds";
pub const VISIBILITY_TIMEOUT: &str = "VisibilityTimeout";
pub const POLICY: &str = "Policy";
pub const REDRIVE_POLICY: &str = "RedrivePolicy";
pub const REDRIVE_ALLOW_POLICY: &str = "RedriveAllowPolicy";
pub const KMS_KEY: &str = "KmsMasterKeyId";
pub const KMS_REUSE: &str = "KmsDataKeyReusePeriodSeconds";
pub const SSE: &str = "SqsManagedSseEnabled";
pub const FIFO_QUEUE: &str = "FifoQueue";
pub const CONTENT_BASED_DEDUPLICATION: &str = "ContentBasedDeduplication";
pub const DEDUPLICATION_SCOPE: &str = "DeduplicationScope";
pub const FIFO_THROUGHPUT_LIMIT: &str = "FifoThroughputLimit";

/// What GetQueueAttributes computes rather than stores.
pub const COMPUTED: &[&str] = &[
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
    "CreatedTimestamp",
    "LastModifiedTimestamp",
    "QueueArn",
];

/// The largest message, in bytes, and the default of `MaximumMessageSize`.
pub const MAX_MESSAGE_BYTES: i64 = 262_144;

/// The integer attributes with their ranges.
const RANGES: &[(&str, i64, i64)] = &[
    (DELAY_SECONDS, 0, 900),
    (MAXIMUM_MESSAGE_SIZE, 1024, MAX_MESSAGE_BYTES),
    (MESSAGE_RETENTION_PERIOD, 60, 1_209_600),
    (RECEIVE_WAIT, 0, 20),
    (VISIBILITY_TIMEOUT, 0, 43_200),
    (KMS_REUSE, 60, 86_400),
];

/// Attributes an empty value removes.
const REMOVABLE: &[&str] = &[POLICY, REDRIVE_POLICY, REDRIVE_ALLOW_POLICY, KMS_KEY];
const FIFO_ONLY: &[&str] = &[CONTENT_BASED_DEDUPLICATION, DEDUPLICATION_SCOPE, FIFO_THROUGHPUT_LIMIT];

/// Every attribute a queue has from creation, with its default.
pub fn defaults(fifo: bool) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = [
        (DELAY_SECONDS, "0"),
        (MAXIMUM_MESSAGE_SIZE, "262144"),
        (MESSAGE_RETENTION_PERIOD, "345600"),
        (RECEIVE_WAIT, "0"),
        (VISIBILITY_TIMEOUT, "30"),
        (SSE, "true"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    if fifo {
        for (k, v) in [
            (FIFO_QUEUE, "true"),
            (CONTENT_BASED_DEDUPLICATION, "false"),
            (DEDUPLICATION_SCOPE, "queue"),
            (FIFO_THROUGHPUT_LIMIT, "perQueue"),
        ] {
            out.insert(k.into(), v.into());
        }
    }
    out
}

/// Whether GetQueueAttributes knows the name (`All` included).
pub fn known(name: &str) -> bool {
    name == "All"
        || COMPUTED.contains(&name)
        || RANGES.iter().any(|(n, _, _)| *n == name)
        || REMOVABLE.contains(&name)
        || FIFO_ONLY.contains(&name)
        || [SSE, FIFO_QUEUE].contains(&name)
}

fn boolean(name: &str, value: &str) -> Result<String> {
    match value.to_ascii_lowercase().as_str() {
        v @ ("true" | "false") => Ok(v.to_string()),
        _ => Err(SqsError::attribute_value(name, "it must be true or false")),
    }
}

/// The normalised value of one attribute given to CreateQueue (`creating`) or
/// SetQueueAttributes; `None` removes it.
pub fn normalise(name: &str, value: &str, fifo: bool, creating: bool) -> Result<Option<String>> {
    if let Some((_, low, high)) = RANGES.iter().find(|(n, _, _)| *n == name) {
        let n: i64 = value
            .trim()
            .parse()
            .map_err(|_| SqsError::attribute_value(name, &format!("it must be an integer from {low} to {high}")))?;
        if !(*low..=*high).contains(&n) {
            return Err(SqsError::attribute_value(name, &format!("it must be an integer from {low} to {high}")));
        }
        return Ok(Some(n.to_string()));
    }
    if REMOVABLE.contains(&name) && value.trim().is_empty() {
        return Ok(None);
    }
    if FIFO_ONLY.contains(&name) && !fifo {
        return Err(SqsError::attribute_name(name));
    }
    let normal = match name {
        POLICY => {
            let doc: Value = serde_json::from_str(value)
                .map_err(|_| SqsError::attribute_value(name, "the policy must be a JSON document"))?;
            if !doc.is_object() {
                return Err(SqsError::attribute_value(name, "the policy must be a JSON object"));
            }
            value.to_string()
        }
        REDRIVE_POLICY => redrive_json(&redrive_policy(value)?),
        REDRIVE_ALLOW_POLICY => redrive_allow_policy(value)?,
        KMS_KEY => value.to_string(),
        SSE | CONTENT_BASED_DEDUPLICATION => boolean(name, value)?,
        FIFO_QUEUE if creating => {
            let v = boolean(name, value)?;
            if (v == "true") != fifo {
                return Err(SqsError::attribute_value(
                    name,
                    "a FIFO queue's name ends in .fifo and it has FifoQueue=true; any other queue is standard",
                ));
            }
            return Ok(if fifo { Some(v) } else { None });
        }
        DEDUPLICATION_SCOPE => match value {
            "messageGroup" | "queue" => value.to_string(),
            _ => return Err(SqsError::attribute_value(name, "it must be messageGroup or queue")),
        },
        FIFO_THROUGHPUT_LIMIT => match value {
            "perMessageGroupId" | "perQueue" => value.to_string(),
            _ => return Err(SqsError::attribute_value(name, "it must be perMessageGroupId or perQueue")),
        },
        _ => return Err(SqsError::attribute_name(name)),
    };
    Ok(Some(normal))
}

/// Applies given attributes to a queue's, all or none.
pub fn apply(
    attributes: &mut BTreeMap<String, String>,
    given: &BTreeMap<String, String>,
    fifo: bool,
    creating: bool,
) -> Result<()> {
    let mut changed = attributes.clone();
    for (name, value) in given {
        match normalise(name, value, fifo, creating)? {
            Some(v) => changed.insert(name.clone(), v),
            None => changed.remove(name),
        };
    }
    if changed.get(FIFO_THROUGHPUT_LIMIT).map(String::as_str) == Some("perMessageGroupId")
        && changed.get(DEDUPLICATION_SCOPE).map(String::as_str) != Some("messageGroup")
    {
        return Err(SqsError::attribute_value(
            FIFO_THROUGHPUT_LIMIT,
            "perMessageGroupId needs DeduplicationScope messageGroup",
        ));
    }
    *attributes = changed;
    Ok(())
}

/// An integer attribute (all have defaults).
pub fn int(attributes: &BTreeMap<String, String>, name: &str) -> i64 {
    attributes
        .get(name)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| defaults(false).get(name).and_then(|v| v.parse().ok()).unwrap_or_default())
}

pub fn flag(attributes: &BTreeMap<String, String>, name: &str) -> bool {
    attributes.get(name).is_some_and(|v| v == "true")
}

/// `RedrivePolicy`: where messages go after `max_receive_count` receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedrivePolicy {
    pub dead_letter_target_arn: String,
    pub max_receive_count: i64,
}

fn redrive_json(p: &RedrivePolicy) -> String {
    json!({"deadLetterTargetArn": p.dead_letter_target_arn, "maxReceiveCount": p.max_receive_count}).to_string()
}

/// Reads a `RedrivePolicy` (`maxReceiveCount` a number or a numeric string, 1 to 1000).
pub fn redrive_policy(text: &str) -> Result<RedrivePolicy> {
    let bad = |why: &str| SqsError::attribute_value(REDRIVE_POLICY, why);
    let doc: Value = serde_json::from_str(text).map_err(|_| bad("it must be a JSON object"))?;
    let arn = doc
        .get("deadLetterTargetArn")
        .and_then(Value::as_str)
        .filter(|a| a.starts_with("arn:"))
        .ok_or_else(|| bad("deadLetterTargetArn must be a queue ARN"))?;
    let count = match doc.get("maxReceiveCount") {
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    }
    .filter(|n| (1..=1000).contains(n))
    .ok_or_else(|| bad("maxReceiveCount must be an integer from 1 to 1000"))?;
    Ok(RedrivePolicy { dead_letter_target_arn: arn.to_string(), max_receive_count: count })
}

/// `RedriveAllowPolicy`: which queues may use this one as their dead-letter queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedriveAllow {
    All,
    None,
    Queues(Vec<String>),
}

impl RedriveAllow {
    pub fn allows(&self, source_arn: &str) -> bool {
        match self {
            RedriveAllow::All => true,
            RedriveAllow::None => false,
            RedriveAllow::Queues(arns) => arns.iter().any(|a| a == source_arn),
        }
    }
}

/// Reads a stored or given `RedriveAllowPolicy`.
pub fn redrive_allow(text: &str) -> Result<RedriveAllow> {
    let bad = |why: &str| SqsError::attribute_value(REDRIVE_ALLOW_POLICY, why);
    let doc: Value = serde_json::from_str(text).map_err(|_| bad("it must be a JSON object"))?;
    let arns: Vec<String> = match doc.get("sourceQueueArns") {
        None => Vec::new(),
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| v.as_str().map(str::to_string).ok_or_else(|| bad("sourceQueueArns must be ARNs")))
            .collect::<Result<_>>()?,
        Some(_) => return Err(bad("sourceQueueArns must be a list of ARNs")),
    };
    match doc.get("redrivePermission").and_then(Value::as_str) {
        Some("allowAll") if arns.is_empty() => Ok(RedriveAllow::All),
        Some("denyAll") if arns.is_empty() => Ok(RedriveAllow::None),
        Some("byQueue") if (1..=10).contains(&arns.len()) => Ok(RedriveAllow::Queues(arns)),
        Some("byQueue") => Err(bad("byQueue needs 1 to 10 sourceQueueArns")),
        Some("allowAll" | "denyAll") => Err(bad("sourceQueueArns are given only with byQueue")),
        _ => Err(bad("redrivePermission must be allowAll, denyAll or byQueue")),
    }
}

fn redrive_allow_policy(text: &str) -> Result<String> {
    Ok(match redrive_allow(text)? {
        RedriveAllow::All => json!({"redrivePermission": "allowAll"}),
        RedriveAllow::None => json!({"redrivePermission": "denyAll"}),
        RedriveAllow::Queues(arns) => json!({"redrivePermission": "byQueue", "sourceQueueArns": arns}),
    }
    .to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Code;

    fn given(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn integers_are_held_to_their_ranges_and_normalised() {
        let mut attrs = defaults(false);
        apply(&mut attrs, &given(&[(VISIBILITY_TIMEOUT, " 060"), (DELAY_SECONDS, "900")]), false, true).unwrap();
        assert_eq!(attrs[VISIBILITY_TIMEOUT], "60");
        for (name, bad) in [
            (VISIBILITY_TIMEOUT, "43201"),
            (DELAY_SECONDS, "-1"),
            (MAXIMUM_MESSAGE_SIZE, "1023"),
            (MESSAGE_RETENTION_PERIOD, "x"),
        ] {
            let e = apply(&mut attrs, &given(&[(name, bad)]), false, false).unwrap_err();
            assert_eq!(e.code(), Some(Code::InvalidAttributeValue), "{name}={bad}");
        }
        assert_eq!(attrs[VISIBILITY_TIMEOUT], "60", "a refused change changes nothing");
        assert_eq!(int(&attrs, MESSAGE_RETENTION_PERIOD), 345_600);
    }

    #[test]
    fn unknown_read_only_and_fifo_only_names_are_refused_on_standard_queues() {
        let mut attrs = defaults(false);
        for name in ["Nope", "QueueArn", CONTENT_BASED_DEDUPLICATION] {
            let e = apply(&mut attrs, &given(&[(name, "true")]), false, false).unwrap_err();
            assert_eq!(e.code(), Some(Code::InvalidAttributeName), "{name}");
        }
        let mut fifo = defaults(true);
        apply(&mut fifo, &given(&[(CONTENT_BASED_DEDUPLICATION, "TRUE")]), true, false).unwrap();
        assert_eq!(fifo[CONTENT_BASED_DEDUPLICATION], "true");
        let e = apply(&mut fifo, &given(&[(FIFO_THROUGHPUT_LIMIT, "perMessageGroupId")]), true, false).unwrap_err();
        assert_eq!(e.code(), Some(Code::InvalidAttributeValue));
        apply(
            &mut fifo,
            &given(&[(FIFO_THROUGHPUT_LIMIT, "perMessageGroupId"), (DEDUPLICATION_SCOPE, "messageGroup")]),
            true,
            false,
        )
        .unwrap();
    }

    #[test]
    fn redrive_policies_are_read_and_written_in_one_spelling() {
        let arn = "arn:aws:sqs:us-east-1:000000000000:dlq";
        let mut attrs = defaults(false);
        let text = format!(r#"{{"maxReceiveCount": "3", "deadLetterTargetArn": "{arn}"}}"#);
        apply(&mut attrs, &given(&[(REDRIVE_POLICY, &text)]), false, false).unwrap();
        assert_eq!(attrs[REDRIVE_POLICY], format!(r#"{{"deadLetterTargetArn":"{arn}","maxReceiveCount":3}}"#));
        assert_eq!(redrive_policy(&attrs[REDRIVE_POLICY]).unwrap().max_receive_count, 3);
        apply(&mut attrs, &given(&[(REDRIVE_POLICY, "")]), false, false).unwrap();
        assert!(!attrs.contains_key(REDRIVE_POLICY));
        for bad in [r#"{"deadLetterTargetArn": "x", "maxReceiveCount": 3}"#, r#"{"maxReceiveCount": 0}"#, "[]"] {
            assert!(redrive_policy(bad).is_err(), "{bad}");
        }
        assert_eq!(redrive_allow(r#"{"redrivePermission":"allowAll"}"#).unwrap(), RedriveAllow::All);
        let by = redrive_allow(&format!(r#"{{"redrivePermission":"byQueue","sourceQueueArns":["{arn}"]}}"#)).unwrap();
        assert!(by.allows(arn) && !by.allows("arn:aws:sqs:us-east-1:000000000000:other"));
        assert!(redrive_allow(r#"{"redrivePermission":"byQueue"}"#).is_err());
    }

    #[test]
    fn fifo_queue_must_match_the_name() {
        assert_eq!(normalise(FIFO_QUEUE, "true", true, true).unwrap().as_deref(), Some("true"));
        assert!(normalise(FIFO_QUEUE, "true", false, true).is_err());
        assert_eq!(normalise(FIFO_QUEUE, "false", false, true).unwrap(), None);
        assert_eq!(normalise(FIFO_QUEUE, "true", true, false).unwrap_err().code(), Some(Code::InvalidAttributeName));
    }
}
