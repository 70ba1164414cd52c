//! The batch forms' rules: 1 to 10 entries, each with an id of at most 80 alphanumeric
//! characters, hyphens and underscores, no id twice (any of these refuses the whole
//! request); then each entry succeeds or fails on its own, a failure carrying its code
//! as the query protocol spells it.

use crate::error::{Code, Result, SqsError};
use serde::Serialize;

pub const MAX_ENTRIES: usize = 10;
const MAX_ID_LEN: usize = 80;

/// Checks a batch's entry ids (`entry` names the entry shape, for messages).
pub fn check_ids(ids: &[Option<&str>], entry: &str) -> Result<()> {
    if ids.is_empty() {
        return Err(SqsError::refused(
            Code::EmptyBatchRequest,
            format!("There should be at least one {entry} in the request."),
        ));
    }
    if ids.len() > MAX_ENTRIES {
        return Err(SqsError::refused(
            Code::TooManyEntriesInBatchRequest,
            format!("Maximum number of entries per request are {MAX_ENTRIES}. You have sent {}.", ids.len()),
        ));
    }
    let mut seen = std::collections::HashSet::new();
    for id in ids {
        let Some(id) = id else { return Err(SqsError::missing("Id")) };
        if id.is_empty()
            || id.len() > MAX_ID_LEN
            || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(SqsError::refused(
                Code::InvalidBatchEntryId,
                "A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at \
                 most 80 letters long.",
            ));
        }
        if !seen.insert(*id) {
            return Err(SqsError::refused(Code::BatchEntryIdsNotDistinct, format!("Id {id} repeated.")));
        }
    }
    Ok(())
}

/// A batch entry that failed.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Failure {
    pub id: String,
    pub sender_fault: bool,
    pub code: String,
    pub message: String,
}

impl Failure {
    /// The entry's failure for a refusal; other errors fail the whole request.
    pub fn of(id: &str, error: SqsError) -> Result<Failure> {
        match error.code() {
            Some(code) => Ok(Failure {
                id: id.to_string(),
                sender_fault: true,
                code: code.query_code().to_string(),
                message: error.public_message(),
            }),
            None => Err(error),
        }
    }
}

/// A batch entry that succeeded with nothing more to say.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Success {
    pub id: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_hold_one_to_ten_distinct_well_formed_ids() {
        check_ids(&[Some("a"), Some("b-1_c")], "E").unwrap();
        let code = |ids: &[Option<&str>]| check_ids(ids, "E").unwrap_err().code();
        assert_eq!(code(&[]), Some(Code::EmptyBatchRequest));
        let eleven: Vec<String> = (0..11).map(|i| i.to_string()).collect();
        let eleven: Vec<Option<&str>> = eleven.iter().map(|s| Some(s.as_str())).collect();
        assert_eq!(code(&eleven), Some(Code::TooManyEntriesInBatchRequest));
        assert_eq!(code(&[Some("a"), Some("a")]), Some(Code::BatchEntryIdsNotDistinct));
        assert_eq!(code(&[Some("a b")]), Some(Code::InvalidBatchEntryId));
        assert_eq!(code(&[Some(&*"x".repeat(81))]), Some(Code::InvalidBatchEntryId));
        assert_eq!(code(&[None]), Some(Code::MissingParameter));
    }

    #[test]
    fn failures_carry_query_codes() {
        let f = Failure::of("e1", SqsError::receipt_invalid("bad")).unwrap();
        assert_eq!((f.code.as_str(), f.sender_fault), ("ReceiptHandleIsInvalid", true));
        let f = Failure::of("e2", SqsError::refused(Code::MessageNotInflight, "no")).unwrap();
        assert_eq!(f.code, "AWS.SimpleQueueService.MessageNotInflight");
    }
}
