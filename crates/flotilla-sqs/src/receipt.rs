//! Receipt handles: opaque to clients, they name the queue (by its id, so a handle
//! never works on a queue deleted and created again), the message's row and the token
//! of the receive that gave it out (a new one on every receive).

use crate::error::{Result, SqsError};
use crate::store::Receipt;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

const VERSION: &str = "f1";

/// The handle of a receipt of a message of queue `queue_id`.
pub fn encode(queue_id: i64, row_id: i64, token: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{VERSION}:{queue_id}:{row_id}:{token}"))
}

/// Reads a handle given for queue `queue_id`.
pub fn decode(handle: &str, queue_id: i64) -> Result<Receipt> {
    let invalid =
        || SqsError::receipt_invalid(&format!("The input receipt handle \"{handle}\" is not a valid receipt handle."));
    let text = URL_SAFE_NO_PAD.decode(handle.trim().as_bytes()).map_err(|_| invalid())?;
    let text = String::from_utf8(text).map_err(|_| invalid())?;
    let mut parts = text.split(':');
    let (Some(VERSION), Some(queue), Some(row), Some(token), None) =
        (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid());
    };
    let queue: i64 = queue.parse().map_err(|_| invalid())?;
    let row_id: i64 = row.parse().map_err(|_| invalid())?;
    if token.len() != 32 || !token.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(invalid());
    }
    if queue != queue_id {
        return Err(SqsError::receipt_invalid("The receipt handle is not of a message of this queue."));
    }
    Ok(Receipt { row_id, token: token.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Code;

    #[test]
    fn handles_round_trip_and_name_their_queue() {
        let token = "0123456789abcdef0123456789abcdef";
        let handle = encode(3, 42, token);
        assert_eq!(decode(&handle, 3).unwrap(), Receipt { row_id: 42, token: token.into() });
        assert_eq!(decode(&handle, 4).unwrap_err().code(), Some(Code::ReceiptHandleIsInvalid));
        for bad in ["", "garbage!", &URL_SAFE_NO_PAD.encode("f1:3:42"), &URL_SAFE_NO_PAD.encode("f1:3:x:abc")] {
            assert_eq!(decode(bad, 3).unwrap_err().code(), Some(Code::ReceiptHandleIsInvalid), "{bad}");
        }
    }
}
