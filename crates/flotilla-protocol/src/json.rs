//! Reading request JSON and writing response JSON for the AWS JSON protocols (the front
//! door answers 1.0 requests with the 1.0 content type).

use crate::error::AwsError;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

pub const AWS_JSON_1_0: &str = "application/x-amz-json-1.0";
pub const AWS_JSON_1_1: &str = "application/x-amz-json-1.1";

/// Reads an operation's input. An empty body reads as `{}`.
///
/// Malformed JSON and values of the wrong JSON type are `SerializationException`s;
/// a value outside an enumeration is answered with `invalid_value_code` (each service
/// has its own: `InvalidParameterException` for ECS, `ValidationException` for
/// others). Either way the message gives the path of the offending field.
pub fn parse_request<T: DeserializeOwned>(body: &[u8], invalid_value_code: &str) -> Result<T, AwsError> {
    let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) { b"{}" } else { body };
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let text = inner.to_string();
        let at = if path == "." { String::new() } else { format!("{path}: ") };
        if text.starts_with("unknown variant") {
            AwsError::client(invalid_value_code, format!("{at}{text}"))
        } else {
            AwsError::serialization(format!("{at}{text}"))
        }
    })?;
    de.end().map_err(|e| AwsError::serialization(format!("trailing characters after the request JSON: {e}")))?;
    Ok(value)
}

/// A 200 answer carrying `value` as AWS JSON 1.1.
pub fn json_response<T: Serialize + ?Sized>(value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(bytes) => ([(http::header::CONTENT_TYPE, AWS_JSON_1_1)], bytes).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "serialising a response failed");
            (http::StatusCode::INTERNAL_SERVER_ERROR, "response serialisation failed").into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Input {
        count: Option<i32>,
        mode: Option<Mode>,
    }

    #[derive(Debug, Deserialize)]
    enum Mode {
        #[serde(rename = "a")]
        A,
    }

    #[test]
    fn empty_body_is_an_empty_object() {
        let i: Input = parse_request(b"", "X").unwrap();
        assert!(i.count.is_none());
    }

    #[test]
    fn classifies_errors_with_paths() {
        let e = parse_request::<Input>(b"{\"count\": ", "X").unwrap_err();
        assert_eq!(e.code, "SerializationException");
        let e = parse_request::<Input>(b"{\"count\": \"x\"}", "X").unwrap_err();
        assert_eq!(e.code, "SerializationException");
        assert!(e.message.starts_with("count: "), "{}", e.message);
        let e = parse_request::<Input>(b"{\"mode\": \"b\"}", "InvalidParameterException").unwrap_err();
        assert_eq!(e.code, "InvalidParameterException");
        assert!(e.message.starts_with("mode: unknown variant"), "{}", e.message);
        let e = parse_request::<Input>(b"{} x", "X").unwrap_err();
        assert_eq!(e.code, "SerializationException");
    }
}
