//! The AWS front door shared by every Flotilla API.
//!
//! AWS JSON 1.1 services plug in as [`JsonService`]s and are routed by the
//! `X-Amz-Target` header of `POST /`. This crate owns everything those services have
//! in common and nothing any one of them means: SigV4 verification of every request,
//! the request-size bound, `x-amzn-RequestId` on every answer, reading request JSON
//! ([`parse_request`]) and the `{"__type","message"}` error shape ([`AwsError`]).

mod error;
mod front_door;
mod json;

pub use error::AwsError;
pub use front_door::{Caller, FrontDoor, JsonService, REQUEST_ID_HEADER, RequestObserver, request_id_layer};
pub use json::{AWS_JSON_1_1, json_response, parse_request};
