//! FIFO queues' rules on what a sender gives: message group ids, deduplication ids
//! (given, or the SHA-256 of the body with content-based deduplication) and the key a
//! deduplication id is remembered under (the queue's, or the group's with
//! `DeduplicationScope=messageGroup`). Ordering, deduplication and sequence numbers
//! themselves are kept by the store, under the queue's lock.

use crate::error::{Code, Result, SqsError};
use sha2::{Digest, Sha256};

/// The longest group or deduplication id.
const MAX_ID_LEN: usize = 128;

/// Alphanumeric characters and punctuation, 1 to 128 of them.
fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id.chars().all(|c| c.is_ascii_alphanumeric() || c.is_ascii_punctuation())
}

/// Checks a `MessageGroupId` (`name` is the parameter, for the message).
pub fn check_id(name: &str, id: &str) -> Result<()> {
    if valid_id(id) {
        Ok(())
    } else {
        Err(SqsError::invalid(
            name,
            id,
            "It can contain up to 128 alphanumeric characters (a-z, A-Z, 0-9) and punctuation",
        ))
    }
}

/// The deduplication id of content-based deduplication: the body's SHA-256, in hex.
pub fn content_id(body: &str) -> String {
    Sha256::digest(body.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// The key a deduplication id is remembered under in its queue.
pub fn dedup_key(per_group: bool, group: &str, id: &str) -> String {
    if per_group { format!("{}:{group}:{id}", group.len()) } else { format!(":{id}") }
}

/// The deduplication id of a FIFO message: the one given, or the body's digest when
/// the queue deduplicates by content.
pub fn dedup_id(given: Option<&str>, content_based: bool, body: &str) -> Result<String> {
    match given {
        Some(id) => {
            check_id("MessageDeduplicationId", id)?;
            Ok(id.to_string())
        }
        None if content_based => Ok(content_id(body)),
        None => Err(SqsError::refused(
            Code::InvalidParameterValue,
            "The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided \
             explicitly",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_alphanumeric_and_punctuation() {
        check_id("MessageGroupId", "group-1_(a)!").unwrap();
        for bad in ["", "sp ace", "é", &"x".repeat(129)] {
            assert_eq!(check_id("MessageGroupId", bad).unwrap_err().code(), Some(Code::InvalidParameterValue));
        }
    }

    #[test]
    fn content_based_ids_are_the_bodys_sha256() {
        assert_eq!(content_id("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(dedup_id(None, true, "abc").unwrap(), content_id("abc"));
        assert_eq!(dedup_id(Some("d1"), true, "abc").unwrap(), "d1");
        assert!(dedup_id(None, false, "abc").is_err());
    }

    #[test]
    fn keys_scope_ids_to_the_queue_or_the_group() {
        assert_eq!(dedup_key(false, "g1", "d"), dedup_key(false, "g2", "d"));
        assert_ne!(dedup_key(true, "g1", "d"), dedup_key(true, "g2", "d"));
        // A group name holding the separator cannot make two keys collide.
        assert_ne!(dedup_key(true, "a:b", "c"), dedup_key(true, "a", "b:c"));
    }
}
