//! A SigV4-signing client for the control plane's JSON 1.1 APIs.

use flotilla_sigv4::{Credentials, Payload, SignableRequest, SigningParams, sign};
use http::{HeaderMap, HeaderValue};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::time::{Duration, SystemTime};

pub use flotilla_ecs_model::{AGENT_TARGET, ECS_TARGET};

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("calling {operation} at {endpoint}: {source}")]
    Transport { operation: String, endpoint: String, source: reqwest::Error },
    #[error("{operation} was refused: {code}: {message}")]
    Api { operation: String, code: String, message: String },
    #[error("reading the answer to {operation}: {reason}")]
    Decode { operation: String, reason: String },
    #[error("signing {operation}: {reason}")]
    Sign { operation: String, reason: String },
    #[error("building the HTTP client: {0}")]
    Build(reqwest::Error),
}

impl ClientError {
    /// The AWS error code, for refusals.
    pub fn code(&self) -> Option<&str> {
        match self {
            ClientError::Api { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// The HTTP client agents call the control plane with: its timeouts suit long polls.
/// A pool shared by many agents (a simulated swarm) keeps at most `max_idle` idle
/// connections: room for the polls that return together, without holding every
/// connection a burst of reports opened (each one the control plane holds and counts).
/// One agent's own client keeps what it opens (`None`).
pub fn http_client(max_idle: Option<usize>) -> Result<reqwest::Client, ClientError> {
    let builder = reqwest::Client::builder();
    let builder = match max_idle {
        Some(n) => builder.pool_max_idle_per_host(n),
        None => builder,
    };
    builder
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(60))
        // Give idle connections up before the control plane closes them (it allows
        // 20 s between requests), so a request never goes out on a closing one.
        .pool_idle_timeout(Duration::from_secs(10))
        .build()
        .map_err(ClientError::Build)
}

/// Calls the control plane as one principal.
#[derive(Clone)]
pub struct ControlPlaneClient {
    http: reqwest::Client,
    endpoint: String,
    host: String,
    credentials: Credentials,
    region: String,
}

impl ControlPlaneClient {
    /// `endpoint` is like `http://127.0.0.1:7700`. The client has a connection pool of
    /// its own; see [`Self::with_http`] to share one.
    pub fn new(endpoint: &str, credentials: Credentials, region: &str) -> Result<Self, ClientError> {
        Ok(Self::with_http(http_client(None)?, endpoint, credentials, region))
    }

    /// A client calling through `http` (made by [`http_client`]), whose connection
    /// pool it shares with every other client given it: many agents in one process
    /// (a simulated swarm) keep one pool rather than one each.
    pub fn with_http(http: reqwest::Client, endpoint: &str, credentials: Credentials, region: &str) -> Self {
        let endpoint = endpoint.trim_end_matches('/').to_string();
        let host = endpoint.split("://").nth(1).unwrap_or(&endpoint).split('/').next().unwrap_or("").to_string();
        Self { http, endpoint, host, credentials, region: region.to_string() }
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// A client calling the same control plane, through the same connection pool, as
    /// the principal of `credentials` (e.g. a task's execution role).
    pub fn with_credentials(&self, credentials: Credentials) -> Self {
        Self { credentials, ..self.clone() }
    }

    /// The `host:port` the control plane is reached at.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Calls `PREFIX.Operation` of the ECS signing scope with `input` and reads the answer.
    pub async fn call<I: Serialize, O: DeserializeOwned>(&self, target: &str, input: &I) -> Result<O, ClientError> {
        self.call_service("ecs", target, input).await
    }

    /// Calls `PREFIX.Operation`, signing for `service` (e.g. `ecr`).
    pub async fn call_service<I: Serialize, O: DeserializeOwned>(
        &self,
        service: &str,
        target: &str,
        input: &I,
    ) -> Result<O, ClientError> {
        let operation = target.rsplit('.').next().unwrap_or(target).to_string();
        let body = serde_json::to_vec(input)
            .map_err(|e| ClientError::Decode { operation: operation.clone(), reason: e.to_string() })?;
        let mut headers = HeaderMap::new();
        let header = |v: &str| HeaderValue::from_str(v);
        let sign_err = |reason: String| ClientError::Sign { operation: operation.clone(), reason };
        headers.insert("host", header(&self.host).map_err(|e| sign_err(e.to_string()))?);
        headers.insert("content-type", HeaderValue::from_static("application/x-amz-json-1.1"));
        headers.insert("x-amz-target", header(target).map_err(|e| sign_err(e.to_string()))?);
        let params =
            SigningParams { credentials: &self.credentials, region: &self.region, service, time: SystemTime::now() };
        let signed = sign(&SignableRequest::new("POST", "/", "", &headers), Payload::Bytes(&body), &params)
            .map_err(|e| sign_err(e.to_string()))?;
        headers.extend(signed);
        headers.remove("host");
        let response = self.http.post(format!("{}/", self.endpoint)).headers(headers).body(body).send().await.map_err(
            |source| ClientError::Transport { operation: operation.clone(), endpoint: self.endpoint.clone(), source },
        )?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(|source| ClientError::Transport {
            operation: operation.clone(),
            endpoint: self.endpoint.clone(),
            source,
        })?;
        if !status.is_success() {
            let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
            return Err(ClientError::Api {
                operation,
                code: v["__type"].as_str().unwrap_or("UnknownError").to_string(),
                message: v["message"].as_str().unwrap_or("").to_string(),
            });
        }
        serde_json::from_slice(&bytes).map_err(|e| ClientError::Decode { operation, reason: e.to_string() })
    }
}
