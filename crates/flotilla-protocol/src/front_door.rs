//! `POST /` and `POST /service/…`: bound the body, verify SigV4, route by protocol, authorize, dispatch.
//!
//! AWS JSON 1.0/1.1 requests are routed by `X-Amz-Target`; query-protocol requests by
//! the SigV4 scope's service and the form's `Action`; smithy RPC v2 CBOR requests by the
//! service and operation in their path, to the JSON module whose wire names that service,
//! their body read as the JSON it would have been (checked, authorized and answered like
//! a JSON request, the answer written back as CBOR). Every refusal is answered in the
//! protocol the request used.

use crate::auth::{AllowAll, AuthorizationRequest, Authorizer, Caller, CredentialSource, Decision};
use crate::cbor;
use crate::error::AwsError;
use crate::module::{ArnScope, Operation, OperationInput, Resources, ServiceModule, Wire, find_operation};
use crate::protocol::Protocol;
use crate::query::QueryRequest;
use axum::body::Body;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::{any, post};
use bytes::Bytes;
use flotilla_http::PeerAddr;
use flotilla_sigv4::{SecretKey, SigV4Error, SignableRequest, verify};
use http::HeaderValue;
use http::request::Parts;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

pub const REQUEST_ID_HEADER: &str = "x-amzn-RequestId";

/// The request id given to a request by [`request_id_layer`], kept in its extensions.
#[derive(Debug, Clone)]
struct RequestId(String);

/// Told of every answered request, e.g. to keep metrics.
pub trait RequestObserver: Send + Sync + 'static {
    /// `operation` is the operation as named in the module's table the request reached
    /// (`ListClusters`), or `None` when it reached none: made-up names never get here,
    /// so they cannot grow whatever the observer keys by operation.
    fn observe(&self, operation: Option<&'static str>, status: u16, elapsed: Duration);
}

/// Where this endpoint is and how much it reads.
#[derive(Debug, Clone)]
pub struct FrontDoorConfig {
    /// The region requests must be signed for; also the region of the ARNs built here.
    pub region: String,
    /// The account of the ARNs built here.
    pub account_id: String,
    /// The largest request body read.
    pub max_body_bytes: usize,
}

/// The shared front door of every AWS service module.
pub struct FrontDoor {
    modules: Vec<Arc<dyn ServiceModule>>,
    /// `X-Amz-Target` prefix → module.
    json: HashMap<&'static str, Arc<dyn ServiceModule>>,
    /// Signing name → query-protocol module.
    query: HashMap<&'static str, Arc<dyn ServiceModule>>,
    /// RPC v2 CBOR service name → JSON module.
    cbor: HashMap<&'static str, Arc<dyn ServiceModule>>,
    /// REST-JSON modules, routed by their paths.
    rest: Vec<Arc<dyn ServiceModule>>,
    credentials: Arc<dyn CredentialSource>,
    authorizer: Arc<dyn Authorizer>,
    observer: Option<Arc<dyn RequestObserver>>,
    config: FrontDoorConfig,
}

impl FrontDoor {
    /// A front door serving no module yet, allowing every verified call.
    pub fn new(credentials: Arc<dyn CredentialSource>, config: FrontDoorConfig) -> Self {
        Self {
            modules: Vec::new(),
            json: HashMap::new(),
            query: HashMap::new(),
            cbor: HashMap::new(),
            rest: Vec::new(),
            credentials,
            authorizer: Arc::new(AllowAll),
            observer: None,
            config,
        }
    }

    /// Adds a module, routed by its [`Wire`]; it replaces (entirely) any module routed
    /// one of the same ways.
    pub fn with_module(mut self, module: Arc<dyn ServiceModule>) -> Self {
        let mut replaced = Vec::new();
        match module.wire() {
            Wire::Json { target_prefix, cbor_service } => {
                replaced.extend(self.json.insert(target_prefix, module.clone()));
                if let Some(service) = cbor_service {
                    replaced.extend(self.cbor.insert(service, module.clone()));
                }
            }
            Wire::Query { .. } => replaced.extend(self.query.insert(module.signing_name(), module.clone())),
            Wire::RestJson { .. } => {
                let same = |m: &Arc<dyn ServiceModule>| m.signing_name() == module.signing_name();
                replaced.extend(self.rest.iter().filter(|m| same(m)).cloned());
                self.rest.retain(|m| !same(m));
                self.rest.push(module.clone());
            }
        }
        for old in replaced {
            self.modules.retain(|m| !Arc::ptr_eq(m, &old));
            if !Arc::ptr_eq(&old, &module) {
                for routes in [&mut self.json, &mut self.query, &mut self.cbor] {
                    routes.retain(|_, m| !Arc::ptr_eq(m, &old));
                }
                self.rest.retain(|m| !Arc::ptr_eq(m, &old));
            }
        }
        self.modules.push(module);
        self
    }

    /// Decides every verified call with `authorizer`.
    pub fn with_authorizer(mut self, authorizer: Arc<dyn Authorizer>) -> Self {
        self.authorizer = authorizer;
        self
    }

    /// Reports every answered request to `observer`.
    pub fn with_observer(mut self, observer: Arc<dyn RequestObserver>) -> Self {
        self.observer = Some(observer);
        self
    }

    /// The modules served, in the order added.
    pub fn modules(&self) -> &[Arc<dyn ServiceModule>] {
        &self.modules
    }

    /// `POST /`, `POST /service/…` (RPC v2 CBOR) and every module's own routes.
    pub fn router(self: Arc<Self>) -> axum::Router {
        let root = self.clone();
        let cbor = self.clone();
        let mut router = axum::Router::new()
            .route("/", post(move |req: Request| async move { root.handle(req).await }))
            .route("/service/{*rest}", post(move |req: Request| async move { cbor.handle(req).await }));
        // REST-JSON modules: every path under the first segment of one of their routes.
        let mut prefixes: Vec<&'static str> = Vec::new();
        for module in &self.rest {
            if let Wire::RestJson { routes } = module.wire() {
                for r in routes {
                    let first = r.path.trim_start_matches('/').split('/').next().unwrap_or("");
                    if !first.is_empty() && !first.starts_with('{') && !prefixes.contains(&first) {
                        prefixes.push(first);
                    }
                }
            }
        }
        for prefix in prefixes {
            let (one, two) = (self.clone(), self.clone());
            router = router
                .route(&format!("/{prefix}"), any(move |req: Request| async move { one.handle(req).await }))
                .route(&format!("/{prefix}/{{*rest}}"), any(move |req: Request| async move { two.handle(req).await }));
        }
        for module in &self.modules {
            if let Some(routes) = module.routes() {
                router = router.merge(routes);
            }
        }
        router
    }

    /// The REST-JSON module and operation a method and path name, with the path's labels.
    fn rest_route(&self, method: &str, path: &str) -> Option<(Arc<dyn ServiceModule>, &'static str, Labels)> {
        self.rest.iter().find_map(|module| {
            let Wire::RestJson { routes } = module.wire() else { return None };
            routes.iter().find_map(|r| r.matches(method, path).map(|labels| (module.clone(), r.operation, labels)))
        })
    }

    /// Answers one request.
    pub async fn handle(&self, request: Request) -> Response {
        let request_id = request.extensions().get::<RequestId>().map(|r| r.0.clone()).unwrap_or_default();
        let started = Instant::now();
        let (parts, body) = request.into_parts();
        let path = parts.uri.path();
        let protocol =
            if path != "/" && !path.starts_with("/service/") { Protocol::RestJson } else { Protocol::detect(&parts) };
        let mut route = Route {
            operation: match &protocol {
                Protocol::Json { target, .. } => target.clone(),
                Protocol::Query => String::new(),
                Protocol::RpcV2Cbor { service, operation } => format!("{service}.{operation}"),
                Protocol::RestJson => format!("{} {}", parts.method, parts.uri.path()),
            },
            xmlns: None,
            known: None,
        };
        let answer = match self.dispatch(parts, body, &protocol, &request_id, &mut route).await {
            Ok(response) => {
                let output = route.known.map(|o| o.cbor).unwrap_or_default();
                protocol.fit_answer(response, &output).await
            }
            Err(error) => Err(error),
        };
        let response = answer.unwrap_or_else(|error| protocol.error_response(&error, &request_id, route.xmlns));
        let operation = &route.operation;
        if let Some(observer) = &self.observer {
            observer.observe(route.known.map(|o| o.name), response.status().as_u16(), started.elapsed());
        }
        tracing::info!(
            target: "flotilla::api",
            request_id = %request_id,
            operation = %operation,
            status = response.status().as_u16(),
            micros = started.elapsed().as_micros() as u64,
            "request"
        );
        response
    }

    async fn dispatch(
        &self,
        parts: Parts,
        body: Body,
        protocol: &Protocol,
        request_id: &str,
        route: &mut Route,
    ) -> Result<Response, AwsError> {
        let limit = self.config.max_body_bytes;
        let body = read_bounded(body, &parts.headers, limit).await.map_err(|e| match e {
            BodyError::TooLarge => protocol.too_large(limit),
            BodyError::Unreadable(message) => AwsError::serialization(message),
        })?;

        // Who is it? Look the key up (maybe in a store), then verify against that key.
        let principal = match claimed_access_key(&parts) {
            Some(key) => self.credentials.lookup(&key).await.map_err(|e| {
                tracing::error!(error = %e, "credential lookup failed");
                AwsError::internal("InternalFailure", format!("looking up the credentials of access key {key} failed"))
            })?,
            None => None,
        };
        let signable = SignableRequest::from_parts(&parts);
        let now = SystemTime::now();
        let verified = match &principal {
            Some(p) => verify(&signable, Some(&body), &p.credentials, now),
            None => verify(&signable, Some(&body), &HashMap::<String, SecretKey>::new(), now),
        };
        let identity = verified.map_err(|e| protocol.auth_error(&e))?;
        if principal.as_ref().and_then(|p| p.expires).is_some_and(|expires| expires <= now) {
            return Err(protocol.expired_token());
        }
        // What AWS's JSON and query services insist a signature covers: the body as
        // received, and the headers that pick the operation and how the body is read.
        let incomplete = |message: String| protocol.auth_error(&SigV4Error::IncompleteSignature { message });
        if !identity.body_signed && !body.is_empty() {
            return Err(incomplete("the request body must be signed; UNSIGNED-PAYLOAD is not accepted here".into()));
        }
        for name in ["x-amz-target", "content-type"] {
            if parts.headers.contains_key(name) && !identity.signed_headers.iter().any(|h| h == name) {
                return Err(incomplete(format!("'{name}' must be among the signed headers")));
            }
        }
        // botocore compresses large bodies of some operations (PutMetricData): the
        // signature covers the compressed bytes, the module reads them inflated.
        let body = match parts.headers.get(http::header::CONTENT_ENCODING).and_then(|v| v.to_str().ok()) {
            Some(encoding) if encoding.eq_ignore_ascii_case("gzip") => inflate(&body, limit).map_err(|e| match e {
                BodyError::TooLarge => protocol.too_large(limit),
                BodyError::Unreadable(message) => AwsError::serialization(message),
            })?,
            _ => body,
        };
        let caller = Caller {
            access_key_id: identity.access_key_id.clone(),
            principal_arn: principal.and_then(|p| p.arn),
            request_id: request_id.to_string(),
        };

        // Which module and operation?
        let mut rest_params = None;
        let (module, operation, query) = match protocol {
            Protocol::Json { target, .. } => {
                let (prefix, operation) = target.split_once('.').unwrap_or((target, ""));
                let module =
                    self.json.get(prefix).filter(|_| !operation.is_empty()).ok_or_else(|| {
                        protocol.unknown_operation(format!("unknown operation: X-Amz-Target '{target}'"))
                    })?;
                (module.clone(), operation.to_string(), None)
            }
            Protocol::Query => {
                let query = QueryRequest::parse(&body)?;
                route.operation = format!("{}.{}", identity.service, query.action);
                let module = self.query.get(identity.service.as_str()).ok_or_else(|| {
                    protocol.unknown_operation(format!(
                        "unknown operation: no query-protocol service signed as '{}' serves action '{}' here",
                        identity.service, query.action
                    ))
                })?;
                (module.clone(), query.action.clone(), Some(query))
            }
            Protocol::RpcV2Cbor { service, operation } => {
                let module = self.cbor.get(service.as_str()).filter(|_| !operation.is_empty()).ok_or_else(|| {
                    protocol.unknown_operation(format!(
                        "unknown operation: no service '{service}' with operation '{operation}' is served here"
                    ))
                })?;
                (module.clone(), operation.clone(), None)
            }
            Protocol::RestJson => {
                let (module, operation, labels) =
                    self.rest_route(parts.method.as_str(), parts.uri.path()).ok_or_else(|| {
                        AwsError::new(
                            http::StatusCode::NOT_FOUND,
                            "UnknownOperationException",
                            format!("no operation is served at {} {}", parts.method, parts.uri.path()),
                        )
                    })?;
                rest_params = Some((labels, parts.uri.query().map(str::to_string)));
                (module, operation.to_string(), None)
            }
        };
        if let Wire::Query { xmlns, .. } = module.wire() {
            route.xmlns = Some(xmlns);
        }
        if identity.service != module.signing_name() {
            return Err(protocol
                .scope_error(format!("Credential should be scoped to correct service: '{}'.", module.signing_name())));
        }
        if identity.region != self.config.region {
            return Err(protocol.scope_error(format!(
                "Credential should be scoped to a valid region, not '{}'; this endpoint serves '{}'.",
                identity.region, self.config.region
            )));
        }
        if let (Wire::Query { version, .. }, Some(q)) = (module.wire(), &query)
            && q.version.as_deref().is_some_and(|v| v != version)
        {
            return Err(protocol.unknown_operation(format!(
                "Could not find operation {} for version {}",
                q.action,
                q.version.as_deref().unwrap_or_default()
            )));
        }
        let operation = find_operation(module.operations(), &operation).ok_or_else(|| match &query {
            Some(q) => protocol.unknown_operation(format!(
                "Could not find operation {} for version {}",
                q.action,
                q.version.as_deref().unwrap_or("(none)")
            )),
            None if matches!(protocol, Protocol::RpcV2Cbor { .. }) => {
                protocol.unknown_operation(format!("unknown operation: '{}'", route.operation))
            }
            None => protocol.unknown_operation(format!("unknown operation: X-Amz-Target '{}'", route.operation)),
        })?;
        route.known = Some(operation);

        // An RPC v2 CBOR body is read as the JSON it would have been; from here on the
        // request is a JSON request.
        let body = match protocol {
            Protocol::RpcV2Cbor { .. } if !body.is_empty() => {
                let json = cbor::decode(&body)
                    .map_err(|e| AwsError::serialization(format!("the request body is not valid CBOR: {e}")))?;
                let json = serde_json::to_vec(&json)
                    .map_err(|e| AwsError::serialization(format!("the request body cannot be read as JSON: {e}")))?;
                Bytes::from(json)
            }
            Protocol::RestJson => rest_body(&body, rest_params.take())?,
            _ => body,
        };

        // May they?
        if !self.authorizer.unrestricted(&caller) {
            let scope = ArnScope { region: &self.config.region, account_id: &self.config.account_id };
            let json = match &query {
                Some(_) => serde_json::Value::Null,
                None => serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
            };
            let input = match &query {
                Some(q) => OperationInput::Query(q),
                None => OperationInput::Json(&json),
            };
            let mut resources = match operation.resources {
                Resources::Any => Vec::new(),
                Resources::From(read) => read(&input, &scope),
            };
            if resources.is_empty() {
                resources.push("*".to_string());
            }
            let mut conditions: Vec<(String, String)> = operation
                .conditions
                .map(|read| read(&input, &scope))
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect();
            for (key, value) in input.request_tags() {
                conditions.push(("aws:TagKeys".to_string(), key.clone()));
                conditions.push((format!("aws:RequestTag/{key}"), value));
            }
            let request = AuthorizationRequest {
                caller: &caller,
                service: module.signing_name(),
                operation: operation.name,
                action: operation.action,
                resources: &resources,
                conditions: &conditions,
                source_ip: parts.extensions.get::<PeerAddr>().map(|p| p.0.ip()),
                resource_tags: module.resource_tags(),
            };
            if let Decision::Deny { resource } = self.authorizer.authorize(&request).await {
                tracing::info!(access_key_id = %caller.access_key_id, action = operation.action, %resource, "access denied");
                return Err(protocol.access_denied(format!(
                    "User: {} is not authorized to perform: {} on resource: {resource}",
                    caller.display_name(),
                    operation.action
                )));
            }
        }
        module.call(operation.name, body, &caller).await
    }
}

/// A REST-JSON path's labels and their values.
type Labels = Vec<(&'static str, String)>;

/// A REST-JSON request as the JSON object its module reads: the body's members, the
/// path's labels and the query's parameters (integers as numbers).
fn rest_body(body: &[u8], params: Option<(Labels, Option<String>)>) -> Result<Bytes, AwsError> {
    let mut object = if body.is_empty() {
        serde_json::Map::new()
    } else {
        match serde_json::from_slice::<serde_json::Value>(body) {
            Ok(serde_json::Value::Object(map)) => map,
            _ => return Err(AwsError::serialization("the request body must be a JSON object")),
        }
    };
    let (labels, query) = params.unwrap_or_default();
    for (name, value) in labels {
        object.insert(name.to_string(), serde_json::Value::String(value));
    }
    for (name, value) in flotilla_sigv4::encode::parse_query(query.as_deref().unwrap_or("")) {
        let (Ok(name), Ok(value)) = (String::from_utf8(name), String::from_utf8(value)) else { continue };
        let value = match value.parse::<i64>() {
            Ok(n) => serde_json::Value::from(n),
            Err(_) => serde_json::Value::String(value),
        };
        // A repeated parameter (a list member such as `TagKeys`) becomes an array.
        match object.get_mut(&name) {
            Some(serde_json::Value::Array(items)) => items.push(value),
            Some(first) => *first = serde_json::Value::Array(vec![first.take(), value]),
            None => {
                object.insert(name, value);
            }
        }
    }
    serde_json::to_vec(&serde_json::Value::Object(object))
        .map(Bytes::from)
        .map_err(|e| AwsError::serialization(format!("the request cannot be read as JSON: {e}")))
}

/// What routing learnt about a request, for its log line, metrics and error shape.
struct Route {
    /// `Prefix.Operation` (see [`RequestObserver::observe`]).
    operation: String,
    /// The XML namespace of the query-protocol module it reached.
    xmlns: Option<&'static str>,
    /// The operation of a module's table it reached.
    known: Option<&'static Operation>,
}

/// The access key id a request claims to be signed with, before anything is verified.
fn claimed_access_key(parts: &Parts) -> Option<String> {
    let first_segment = |credential: &str| credential.split('/').next().filter(|k| !k.is_empty()).map(str::to_string);
    if let Some(auth) = parts.headers.get(http::header::AUTHORIZATION) {
        let auth = auth.to_str().ok()?;
        let credential = auth.split([',', ' ', '\t']).find_map(|p| p.strip_prefix("Credential="))?;
        return first_segment(credential);
    }
    let query = flotilla_sigv4::encode::parse_query(parts.uri.query()?);
    let (_, credential) = query.into_iter().find(|(name, _)| name.as_slice() == b"X-Amz-Credential")?;
    first_segment(std::str::from_utf8(&credential).ok()?)
}

enum BodyError {
    TooLarge,
    Unreadable(String),
}

async fn read_bounded(body: Body, headers: &http::HeaderMap, limit: usize) -> Result<Bytes, BodyError> {
    let declared = headers.get(http::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(BodyError::TooLarge);
    }
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        let mut source: Option<&dyn std::error::Error> = Some(&e);
        while let Some(err) = source {
            if err.to_string().contains("length limit exceeded") {
                return BodyError::TooLarge;
            }
            source = err.source();
        }
        BodyError::Unreadable(format!("reading the request body failed: {e}"))
    })
}

/// Inflates a gzip body, refusing one that inflates past `limit` bytes.
fn inflate(body: &[u8], limit: usize) -> Result<Bytes, BodyError> {
    use std::io::Read;
    let mut out = Vec::new();
    let mut decoder = flate2::read::GzDecoder::new(body).take(limit as u64 + 1);
    decoder
        .read_to_end(&mut out)
        .map_err(|e| BodyError::Unreadable(format!("the gzip request body cannot be inflated: {e}")))?;
    if out.len() > limit {
        return Err(BodyError::TooLarge);
    }
    Ok(Bytes::from(out))
}

/// Middleware giving every request an id and every answer its `x-amzn-RequestId`.
pub async fn request_id_layer(mut request: Request, next: Next) -> Response {
    let id = uuid::Uuid::new_v4().to_string();
    request.extensions_mut().insert(RequestId(id.clone()));
    let mut response = next.run(request).await;
    if let Ok(v) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, v);
    }
    response
}

#[cfg(test)]
mod tests;
