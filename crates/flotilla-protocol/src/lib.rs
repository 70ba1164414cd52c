//! The AWS front door shared by every Flotilla API.
//!
//! Services plug in as [`ServiceModule`]s: each declares how its requests arrive (AWS
//! JSON 1.0/1.1 by `X-Amz-Target` prefix, optionally smithy RPC v2 CBOR by service name
//! as well, or the query protocol by SigV4 signing name), its operations with their IAM
//! actions and resources, extra routes, background work and shutdown. This crate owns
//! everything those services have in common and nothing any one of them means: protocol
//! detection ([`Protocol`]), CBOR bodies translated to and from the JSON modules speak
//! (`cbor`), the body bound, SigV4 verification against keys from an async
//! [`CredentialSource`], the one [`Authorizer`] hook, `x-amzn-RequestId` on every answer,
//! reading request JSON ([`parse_request`]) and form bodies ([`QueryRequest`]), and
//! AWS's error shapes in each protocol ([`AwsError`]).

mod auth;
mod cbor;
mod error;
mod front_door;
mod json;
mod module;
mod protocol;
pub mod query;

pub use auth::{
    AllowAll, AuthorizationRequest, Authorizer, Caller, CredentialLookupError, CredentialSource, Decision, Principal,
    ResourceTags, StaticCredentials,
};
pub use error::AwsError;
pub use flotilla_controller::{Controller, PassError};
pub use front_door::{FrontDoor, FrontDoorConfig, REQUEST_ID_HEADER, RequestObserver, request_id_layer};
pub use json::{AWS_JSON_1_0, AWS_JSON_1_1, json_response, parse_request};
pub use module::{
    ArnScope, CborOutput, ConditionKeys, Operation, OperationInput, Resources, RestRoute, ServiceModule, Wire,
    find_operation, percent_decode,
};
pub use protocol::{JsonVersion, Protocol};
pub use query::{QueryRequest, XmlWriter, query_response};
