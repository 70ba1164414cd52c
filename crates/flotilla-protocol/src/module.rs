//! What a service declares to be served: [`ServiceModule`].
//!
//! A module says how its requests arrive ([`Wire`]), lists its operations with their
//! IAM actions and resources ([`Operation`]), answers them, and may bring extra HTTP
//! routes, background tasks and a shutdown step. The binary assembles a list of modules;
//! the front door routes, authorizes and dispatches to them.
//!
//! A JSON module is also reached by smithy RPC v2 CBOR when its wire names a CBOR service
//! (`Wire::Json { cbor_service: Some("GraniteServiceVersion20100801"), .. }`): the front
//! door hands it the request as JSON and writes its JSON answer as CBOR. CBOR types two
//! things JSON does not, timestamps (tag 1) and blobs (byte strings); an operation names
//! the answer members holding them with [`Operation::timestamps`] and [`Operation::blobs`],
//! and they must be epoch-second numbers and base64 text in the JSON, as AWS JSON has them.

use crate::auth::Caller;
use crate::error::AwsError;
use crate::query::QueryRequest;
use async_trait::async_trait;
use axum::response::Response;
use bytes::Bytes;
use flotilla_controller::Controller;
use std::sync::Arc;

/// How a module's requests reach it on `POST /`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wire {
    /// AWS JSON 1.0/1.1, by `X-Amz-Target` prefix (e.g. `AmazonEC2ContainerServiceV20141113`);
    /// also smithy RPC v2 CBOR on `POST /service/{cbor_service}/operation/{Operation}` when
    /// `cbor_service` names the service (botocore puts the model's `targetPrefix` there).
    Json { target_prefix: &'static str, cbor_service: Option<&'static str> },
    /// The AWS query protocol, by the SigV4 scope's service (the module's signing name);
    /// `version` is the API version requests must name, `xmlns` the answers' namespace.
    Query { version: &'static str, xmlns: &'static str },
    /// AWS REST-JSON (e.g. EventBridge Scheduler): the operation is chosen by the
    /// method and path, matched against `routes`; path labels and query parameters are
    /// merged into the JSON body the module reads (query values that are integers as
    /// numbers), so a module reads one JSON object whatever the member's location.
    RestJson { routes: &'static [RestRoute] },
}

/// One REST-JSON operation's place: `path` is a template like `/schedules/{Name}`,
/// each `{label}` one percent-decoded path segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestRoute {
    pub method: &'static str,
    pub path: &'static str,
    pub operation: &'static str,
}

impl RestRoute {
    /// The path labels' values when `path` fits this route's template.
    pub fn matches(&self, method: &str, path: &str) -> Option<Vec<(&'static str, String)>> {
        if !self.method.eq_ignore_ascii_case(method) {
            return None;
        }
        let template: Vec<&'static str> = self.path.trim_matches('/').split('/').collect();
        let given: Vec<&str> = path.trim_matches('/').split('/').collect();
        if template.len() != given.len() {
            return None;
        }
        let mut labels = Vec::new();
        for (t, g) in template.iter().zip(given) {
            match t.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
                Some(label) if !g.is_empty() => labels.push((label, percent_decode(g)?)),
                Some(_) => return None,
                None if *t == g => {}
                None => return None,
            }
        }
        Some(labels)
    }
}

/// `%XX` escapes decoded; `None` when the result is not UTF-8 or an escape is broken.
pub fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// One operation of a module: its name, its IAM action and the resources it touches.
#[derive(Debug, Clone, Copy)]
pub struct Operation {
    /// As on the wire, e.g. `RunTask`.
    pub name: &'static str,
    /// The IAM action, e.g. `ecs:RunTask`.
    pub action: &'static str,
    pub resources: Resources,
    /// The service's own condition keys the request sets (e.g. `ecs:cluster`), when any.
    pub conditions: Option<ConditionKeys>,
    /// The answer members RPC v2 CBOR types (none unless the module is reached by CBOR).
    pub cbor: CborOutput,
}

/// Reads a request's service-specific IAM condition keys (e.g. `("ecs:cluster", ARN)`).
pub type ConditionKeys = fn(&OperationInput<'_>, &ArnScope<'_>) -> Vec<(&'static str, String)>;

impl Operation {
    pub const fn new(name: &'static str, action: &'static str, resources: Resources) -> Self {
        Self { name, action, resources, conditions: None, cbor: CborOutput::NONE }
    }

    /// Names the request's service-specific condition keys, which policies' conditions
    /// are evaluated against.
    pub const fn conditions(mut self, read: ConditionKeys) -> Self {
        self.conditions = Some(read);
        self
    }

    /// Names the answer members holding timestamps (or lists of them), at any depth:
    /// epoch-second numbers in JSON, written as CBOR tag 1 to RPC v2 CBOR callers.
    pub const fn timestamps(mut self, members: &'static [&'static str]) -> Self {
        self.cbor.timestamps = members;
        self
    }

    /// Names the answer members holding blobs (or lists of them), at any depth: base64
    /// text in JSON, written as CBOR byte strings to RPC v2 CBOR callers.
    pub const fn blobs(mut self, members: &'static [&'static str]) -> Self {
        self.cbor.blobs = members;
        self
    }
}

/// The members of an operation's answer that RPC v2 CBOR types and JSON does not, by
/// member name (a name means the same wherever it appears in the answer; botocore's
/// CBOR parser returns untyped numbers and text as they are, not as datetimes or bytes).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CborOutput {
    pub timestamps: &'static [&'static str],
    pub blobs: &'static [&'static str],
}

impl CborOutput {
    pub const NONE: CborOutput = CborOutput { timestamps: &[], blobs: &[] };
}

/// The resources an operation touches, as IAM sees them.
#[derive(Debug, Clone, Copy)]
pub enum Resources {
    /// The service-level `*`: list and create calls, and those whose resources are not
    /// named by the request.
    Any,
    /// Read from the request; an empty answer means `*`.
    From(fn(&OperationInput<'_>, &ArnScope<'_>) -> Vec<String>),
}

/// The decoded request an operation's resources are read from.
#[derive(Debug, Clone, Copy)]
pub enum OperationInput<'a> {
    /// The request JSON (`Null` when it is not JSON).
    Json(&'a serde_json::Value),
    Query(&'a QueryRequest),
}

impl<'a> OperationInput<'a> {
    /// The string parameter `name` (a top-level JSON field, or a query parameter).
    pub fn str(&self, name: &str) -> Option<&'a str> {
        match self {
            OperationInput::Json(v) => v.get(name)?.as_str(),
            OperationInput::Query(q) => q.get(name),
        }
    }

    /// The tags the request carries, as (key, value): a JSON `tags`/`Tags` list of
    /// `{key, value}`/`{Key, Value}` or map of key to value, or the query protocol's
    /// `Tags.member.N.Key`/`.Value`.
    pub fn request_tags(&self) -> Vec<(String, String)> {
        match self {
            OperationInput::Json(v) => {
                let Some(tags) = v.get("tags").or_else(|| v.get("Tags")) else { return Vec::new() };
                match tags {
                    serde_json::Value::Array(list) => list
                        .iter()
                        .filter_map(|t| {
                            let key = t.get("key").or_else(|| t.get("Key"))?.as_str()?;
                            let value = t.get("value").or_else(|| t.get("Value")).and_then(|v| v.as_str());
                            Some((key.to_string(), value.unwrap_or_default().to_string()))
                        })
                        .collect(),
                    serde_json::Value::Object(map) => {
                        map.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string()))).collect()
                    }
                    _ => Vec::new(),
                }
            }
            OperationInput::Query(q) => (1..)
                .map_while(|i| {
                    let key = q.get(&format!("Tags.member.{i}.Key"))?;
                    let value = q.get(&format!("Tags.member.{i}.Value")).unwrap_or_default();
                    Some((key.to_string(), value.to_string()))
                })
                .collect(),
        }
    }

    /// The string-list parameter `name` (a top-level JSON array, or `name.member.N`).
    pub fn strs(&self, name: &str) -> Vec<&'a str> {
        match self {
            OperationInput::Json(v) => v
                .get(name)
                .and_then(|l| l.as_array())
                .map(|l| l.iter().filter_map(|s| s.as_str()).collect())
                .unwrap_or_default(),
            OperationInput::Query(q) => q.list(name),
        }
    }
}

/// The account and region ARNs are built in.
#[derive(Debug, Clone, Copy)]
pub struct ArnScope<'a> {
    pub region: &'a str,
    pub account_id: &'a str,
}

impl ArnScope<'_> {
    /// `arn:aws:SERVICE:REGION:ACCOUNT:RESOURCE`.
    pub fn arn(&self, service: &str, resource: &str) -> String {
        format!("arn:aws:{service}:{}:{}:{resource}", self.region, self.account_id)
    }
}

/// A service as the server assembles it.
#[async_trait]
pub trait ServiceModule: Send + Sync + 'static {
    /// How its requests arrive.
    fn wire(&self) -> Wire;

    /// Where the tags of its resources are read for `aws:ResourceTag/KEY` conditions.
    fn resource_tags(&self) -> Option<&dyn crate::auth::ResourceTags> {
        None
    }

    /// The SigV4 signing name clients use, e.g. `ecs`; requests must be scoped to it.
    fn signing_name(&self) -> &'static str;

    /// Every operation it answers. The front door refuses any other.
    fn operations(&self) -> &'static [Operation];

    /// Answers one operation of [`Self::operations`]; `body` is the raw request body
    /// (JSON, or the form of a query request).
    async fn call(&self, operation: &str, body: Bytes, caller: &Caller) -> Result<Response, AwsError>;

    /// Extra HTTP routes the module serves itself (e.g. the registry's `/v2/`), with
    /// their own authentication.
    fn routes(&self) -> Option<axum::Router> {
        None
    }

    /// Its background controllers; the server runs each under a lease (see
    /// `flotilla-controller`), so one process at a time runs it.
    fn controllers(&self) -> Vec<Arc<dyn Controller>> {
        Vec::new()
    }

    /// Flushes and closes what the module holds; called once at shutdown, after its
    /// background tasks ended.
    async fn close(&self) {}
}

/// Finds `name` in an operation table.
pub fn find_operation(operations: &'static [Operation], name: &str) -> Option<&'static Operation> {
    operations.iter().find(|o| o.name == name)
}
