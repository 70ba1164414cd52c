//! `POST /` for AWS JSON 1.1: bound the body, verify SigV4, route by `X-Amz-Target`.

use crate::error::AwsError;
use async_trait::async_trait;
use axum::body::Body;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use flotilla_sigv4::{CredentialStore, SignableRequest, verify};
use http::{HeaderValue, StatusCode};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

pub const REQUEST_ID_HEADER: &str = "x-amzn-RequestId";

/// The request id given to a request by [`request_id_layer`], kept in its extensions.
#[derive(Debug, Clone)]
struct RequestId(String);

/// Who made a verified call.
#[derive(Debug, Clone)]
pub struct Caller {
    pub access_key_id: String,
    pub request_id: String,
}

/// An AWS JSON 1.1 service: answers the operations of one `X-Amz-Target` prefix.
#[async_trait]
pub trait JsonService: Send + Sync + 'static {
    /// The `X-Amz-Target` prefix, e.g. `AmazonEC2ContainerServiceV20141113`.
    fn target_prefix(&self) -> &'static str;
    /// The SigV4 signing name clients use, e.g. `ecs`.
    fn signing_name(&self) -> &'static str;
    /// Answers one operation; `body` is the raw request JSON.
    async fn call(&self, operation: &str, body: Bytes, caller: &Caller) -> Result<Response, AwsError>;
}

/// Told of every answered request, e.g. to keep metrics.
pub trait RequestObserver: Send + Sync + 'static {
    /// `target` is the `X-Amz-Target` as sent (empty when absent).
    fn observe(&self, target: &str, status: u16, elapsed: Duration);
}

/// The shared front door of every AWS JSON 1.1 service.
pub struct FrontDoor {
    services: HashMap<&'static str, Arc<dyn JsonService>>,
    observer: Option<Arc<dyn RequestObserver>>,
    credentials: Arc<dyn CredentialStore + Send + Sync>,
    region: String,
    max_body_bytes: usize,
}

impl FrontDoor {
    pub fn new(
        credentials: Arc<dyn CredentialStore + Send + Sync>,
        region: impl Into<String>,
        max_body_bytes: usize,
    ) -> Self {
        Self { services: HashMap::new(), observer: None, credentials, region: region.into(), max_body_bytes }
    }

    /// Adds a service, routed by its target prefix.
    pub fn with_service(mut self, service: Arc<dyn JsonService>) -> Self {
        self.services.insert(service.target_prefix(), service);
        self
    }

    /// Reports every answered request to `observer`.
    pub fn with_observer(mut self, observer: Arc<dyn RequestObserver>) -> Self {
        self.observer = Some(observer);
        self
    }

    /// Answers `POST /`.
    pub async fn handle(&self, request: Request) -> Response {
        let request_id = request.extensions().get::<RequestId>().map(|r| r.0.clone()).unwrap_or_default();
        let target = request.headers().get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        let started = Instant::now();
        let outcome = self.dispatch(request, &target, &request_id).await;
        let response = outcome.unwrap_or_else(IntoResponse::into_response);
        if let Some(observer) = &self.observer {
            observer.observe(&target, response.status().as_u16(), started.elapsed());
        }
        tracing::info!(
            target: "flotilla::api",
            request_id = %request_id,
            operation = %target,
            status = response.status().as_u16(),
            micros = started.elapsed().as_micros() as u64,
            "request"
        );
        response
    }

    async fn dispatch(&self, request: Request, target: &str, request_id: &str) -> Result<Response, AwsError> {
        let (parts, body) = request.into_parts();
        let body = read_bounded(body, &parts.headers, self.max_body_bytes).await?;
        let identity =
            verify(&SignableRequest::from_parts(&parts), Some(&body), self.credentials.as_ref(), SystemTime::now())
                .map_err(|e| {
                    let status = StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::FORBIDDEN);
                    AwsError::new(status, e.code(), e.message())
                })?;
        let (prefix, operation) = target.split_once('.').unwrap_or((target, ""));
        let service = self.services.get(prefix).filter(|_| !operation.is_empty()).ok_or_else(|| {
            AwsError::client("UnknownOperationException", format!("unknown operation: X-Amz-Target '{target}'"))
        })?;
        if identity.service != service.signing_name() {
            return Err(AwsError::client(
                "InvalidSignatureException",
                format!("Credential should be scoped to correct service: '{}'.", service.signing_name()),
            ));
        }
        if identity.region != self.region {
            return Err(AwsError::client(
                "InvalidSignatureException",
                format!(
                    "Credential should be scoped to a valid region, not '{}'; this endpoint serves '{}'.",
                    identity.region, self.region
                ),
            ));
        }
        let caller = Caller { access_key_id: identity.access_key_id, request_id: request_id.to_string() };
        service.call(operation, body, &caller).await
    }
}

fn too_large(limit: usize) -> AwsError {
    AwsError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "RequestEntityTooLargeException",
        format!("the request body is larger than the limit of {limit} bytes"),
    )
}

async fn read_bounded(body: Body, headers: &http::HeaderMap, limit: usize) -> Result<Bytes, AwsError> {
    let declared = headers.get(http::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large(limit));
    }
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        let mut source: Option<&dyn std::error::Error> = Some(&e);
        while let Some(err) = source {
            if err.to_string().contains("length limit exceeded") {
                return too_large(limit);
            }
            source = err.source();
        }
        AwsError::serialization(format!("reading the request body failed: {e}"))
    })
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
