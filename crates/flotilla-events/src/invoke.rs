//! Sending one delivery to its target.
//!
//! - **ECS cluster**: RunTask through the [`EcsLauncher`](crate::EcsLauncher) with the
//!   target's `EcsParameters`; the rendered input, when it is a JSON object with
//!   TaskOverride members (`containerOverrides`, `taskRoleArn`, …), becomes the tasks'
//!   `overrides`, as AWS maps it; tasks are `startedBy` `events-rule/RULE_NAME` (cut to
//!   ECS's 36 characters) and one delivery always uses one `clientToken`.
//! - **SQS queue**: the rendered input (the whole event by default) as the message
//!   body, with `SqsParameters.MessageGroupId` for a FIFO queue.
//! - **API destination**: an HTTP request to its endpoint (`*` in the path replaced by
//!   `HttpParameters.PathParameterValues`), with the connection's authorization
//!   (`API_KEY` header or `BASIC`) and invocation parameters, the target's header and
//!   query string parameters (a value starting `$.` is read from the event), and the
//!   rendered input as the JSON body; 5 seconds to answer; 429 and 5xx are retried,
//!   other 4xx are not; `Retry-After` is honoured; the destination's
//!   `InvocationRateLimitPerSecond` holds requests back (without counting an attempt).
//!   Only `http://` endpoints are reached: this server has no TLS client, so an
//!   `https://` endpoint, like an OAuth connection, fails with a clear error.

use crate::EventsService;
use crate::connections::{AuthParameters, DEFAULT_RATE_LIMIT, connection_name};
use crate::delivery::{EcsRunRequest, QueueMessage, TargetError};
use crate::error::DeliveryCode;
use crate::store::DeliveryRecord;
use crate::targets::{TargetDoc, TargetKind, kind_of};
use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, Method, Request};
use base64::Engine;
use flotilla_event_pattern::JsonPath;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

pub(crate) type HttpClient = hyper_util::client::legacy::Client<HttpConnector, Body>;

/// How long an API destination has to answer.
const HTTP_TIMEOUT: Duration = Duration::from_secs(5);
/// ECS's limit on `startedBy`.
const STARTED_BY_CHARS: usize = 36;
/// The members of an ECS TaskOverride an input may set.
const TASK_OVERRIDE_MEMBERS: [&str; 8] = [
    "containerOverrides",
    "cpu",
    "memory",
    "taskRoleArn",
    "executionRoleArn",
    "ephemeralStorage",
    "inferenceAcceleratorOverrides",
    "ephemeralStorageOverride",
];

pub(crate) fn http_client() -> HttpClient {
    let mut connector = HttpConnector::new();
    connector.set_connect_timeout(Some(HTTP_TIMEOUT));
    connector.set_nodelay(true);
    hyper_util::client::legacy::Client::builder(TokioExecutor::new()).build(connector)
}

/// Requests per second per API destination, in this process.
#[derive(Default)]
pub(crate) struct RateLimiter {
    windows: Mutex<HashMap<String, (i64, i64)>>,
}

impl RateLimiter {
    /// Takes a request slot for `key` at `now_ms`; when none is left this second,
    /// the time the next second starts.
    pub(crate) fn take(&self, key: &str, per_second: i64, now_ms: i64) -> Option<i64> {
        let second = now_ms.div_euclid(1000);
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        let window = windows.entry(key.to_string()).or_insert((second, 0));
        if window.0 != second {
            *window = (second, 0);
        }
        if window.1 < per_second.max(1) {
            window.1 += 1;
            None
        } else {
            Some((second + 1) * 1000)
        }
    }
}

/// What became of a delivery that did not fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sent {
    Done,
    /// Held back by a rate limit until then (no attempt counted).
    Deferred {
        until: i64,
    },
}

/// Sends one delivery to its target.
pub(crate) async fn invoke(svc: &EventsService, d: &DeliveryRecord, doc: &TargetDoc) -> Result<Sent, TargetError> {
    let kind = kind_of(&doc.arn).map_err(|e| TargetError::new(DeliveryCode::Unsupported, e))?;
    match kind {
        TargetKind::EcsCluster => run_task(svc, d, doc).await,
        TargetKind::Queue { .. } => {
            let Some(queues) = &svc.queues else {
                return Err(TargetError::new(DeliveryCode::Unsupported, "no SQS is wired into this server"));
            };
            let message = QueueMessage {
                queue_arn: doc.arn.clone(),
                body: d.body.clone(),
                message_group_id: doc.sqs_parameters.as_ref().and_then(|s| s.message_group_id.clone()),
                attributes: Vec::new(),
            };
            queues.send(&message).await.map(|()| Sent::Done)
        }
        TargetKind::ApiDestination(name) => call_api_destination(svc, d, doc, &name).await,
    }
}

/// The TaskOverride an ECS target's rendered input stands for, if it has any of its members.
pub(crate) fn ecs_overrides(body: &str) -> Option<Value> {
    let Ok(Value::Object(input)) = serde_json::from_str::<Value>(body) else { return None };
    let overrides: serde_json::Map<String, Value> =
        input.into_iter().filter(|(k, _)| TASK_OVERRIDE_MEMBERS.contains(&k.as_str())).collect();
    (!overrides.is_empty()).then_some(Value::Object(overrides))
}

/// `events-rule/RULE_NAME`, cut to ECS's 36 characters.
pub(crate) fn started_by(rule_arn: &str) -> String {
    let name = rule_arn.rsplit('/').next().unwrap_or(rule_arn);
    format!("events-rule/{name}").chars().take(STARTED_BY_CHARS).collect()
}

async fn run_task(svc: &EventsService, d: &DeliveryRecord, doc: &TargetDoc) -> Result<Sent, TargetError> {
    let Some(launcher) = &svc.ecs else {
        return Err(TargetError::new(DeliveryCode::Unsupported, "no ECS is wired into this server"));
    };
    let Some(p) = &doc.ecs_parameters else {
        return Err(TargetError::new(DeliveryCode::InvalidParameter, "the target has no EcsParameters"));
    };
    let network_configuration =
        p.network_configuration.as_ref().and_then(|n| n.awsvpc_configuration.as_ref()).map(|v| {
            let mut vpc = serde_json::json!({ "subnets": v.subnets });
            if let Some(groups) = &v.security_groups {
                vpc["securityGroups"] = serde_json::json!(groups);
            }
            if let Some(public) = &v.assign_public_ip {
                vpc["assignPublicIp"] = serde_json::json!(public);
            }
            serde_json::json!({ "awsvpcConfiguration": vpc })
        });
    let request = EcsRunRequest {
        cluster_arn: doc.arn.clone(),
        task_definition: p.task_definition_arn.clone(),
        count: p.task_count.unwrap_or(1),
        launch_type: p.launch_type.clone(),
        network_configuration,
        placement_constraints: p.placement_constraints.clone().unwrap_or_default(),
        placement_strategy: p.placement_strategy.clone().unwrap_or_default(),
        capacity_provider_strategy: p.capacity_provider_strategy.clone().unwrap_or_default(),
        platform_version: p.platform_version.clone(),
        group: p.group.clone(),
        propagate_tags: p.propagate_tags.clone(),
        tags: p.tags.iter().flatten().map(|t| (t.key.clone(), t.value.clone())).collect(),
        reference_id: p.reference_id.clone(),
        enable_ecs_managed_tags: p.enable_ecs_managed_tags,
        enable_execute_command: p.enable_execute_command,
        overrides: ecs_overrides(&d.body),
        started_by: started_by(&d.rule_arn),
        client_token: format!("{}-{}", d.event_id, d.id),
    };
    let tasks = launcher.run_task(&request).await?;
    tracing::info!(rule = %d.rule_arn, cluster = %doc.arn, tasks = ?tasks, "a rule started ECS tasks");
    Ok(Sent::Done)
}

/// Percent-encodes a query string key or value.
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A parameter value: a `$.` path is read from the event (text as is, anything else as JSON).
fn dynamic(value: &str, event: &Value) -> String {
    if value.starts_with("$.")
        && let Ok(path) = JsonPath::parse(value)
    {
        return match path.select(event) {
            Some(v) => match v.as_ref() {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            },
            None => String::new(),
        };
    }
    value.to_string()
}

/// An API destination request: (url, headers, body).
pub(crate) type HttpRequest = (String, Vec<(String, String)>, Option<String>);

/// The request an API destination delivery makes.
pub(crate) fn build_request(
    endpoint: &str,
    method: &str,
    auth_type: &str,
    auth: &AuthParameters,
    doc: &TargetDoc,
    body: &str,
    event: &Value,
) -> Result<HttpRequest, TargetError> {
    let http = doc.http_parameters.clone().unwrap_or_default();
    // Path: each `*` takes the next path parameter value.
    let mut values = http.path_parameter_values.iter().flatten();
    let mut url = String::with_capacity(endpoint.len());
    for c in endpoint.chars() {
        match c {
            '*' => match values.next() {
                Some(v) => url.push_str(&dynamic(v, event)),
                None => {
                    return Err(TargetError::new(
                        DeliveryCode::InvalidParameter,
                        format!("the endpoint {endpoint} has more '*' than the target has PathParameterValues"),
                    ));
                }
            },
            c => url.push(c),
        }
    }
    let invocation = auth.invocation_http_parameters.clone().unwrap_or_default();
    let mut query: Vec<(String, String)> = invocation
        .query_string_parameters
        .iter()
        .flatten()
        .filter_map(|p| Some((p.key.clone()?, p.value.clone().unwrap_or_default())))
        .collect();
    query.extend(http.query_string_parameters.iter().flatten().map(|(k, v)| (k.clone(), dynamic(v, event))));
    if !query.is_empty() {
        let encoded: Vec<String> = query.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect();
        url.push(if url.contains('?') { '&' } else { '?' });
        url.push_str(&encoded.join("&"));
    }
    let mut headers: Vec<(String, String)> = vec![
        ("user-agent".into(), "Amazon/EventBridge/ApiDestinations".into()),
        ("content-type".into(), "application/json; charset=utf-8".into()),
    ];
    headers.extend(
        invocation
            .header_parameters
            .iter()
            .flatten()
            .filter_map(|p| Some((p.key.clone()?, p.value.clone().unwrap_or_default()))),
    );
    headers.extend(http.header_parameters.iter().flatten().map(|(k, v)| (k.clone(), dynamic(v, event))));
    match auth_type {
        "API_KEY" => {
            let k = auth.api_key_auth_parameters.clone().unwrap_or_default();
            headers.push((k.api_key_name.unwrap_or_default(), k.api_key_value.unwrap_or_default()));
        }
        "BASIC" => {
            let b = auth.basic_auth_parameters.clone().unwrap_or_default();
            let pair = format!("{}:{}", b.username.unwrap_or_default(), b.password.unwrap_or_default());
            headers.push((
                "authorization".into(),
                format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(pair)),
            ));
        }
        _ => {
            return Err(TargetError::new(
                DeliveryCode::Unsupported,
                "the API destination's connection uses OAuth client credentials, which this server does not obtain \
                 tokens for",
            ));
        }
    }
    let body = if matches!(method, "GET" | "HEAD") {
        None
    } else {
        let params: Vec<(String, String)> = invocation
            .body_parameters
            .iter()
            .flatten()
            .filter_map(|p| Some((p.key.clone()?, p.value.clone().unwrap_or_default())))
            .collect();
        match serde_json::from_str::<Value>(body) {
            Ok(Value::Object(mut object)) if !params.is_empty() => {
                for (k, v) in params {
                    object.insert(k, Value::String(v));
                }
                Some(Value::Object(object).to_string())
            }
            _ => Some(body.to_string()),
        }
    };
    Ok((url, headers, body))
}

async fn call_api_destination(
    svc: &EventsService,
    d: &DeliveryRecord,
    doc: &TargetDoc,
    name: &str,
) -> Result<Sent, TargetError> {
    let store_error = |e: crate::EventsError| TargetError::new(DeliveryCode::ServiceError, e.to_string());
    let gone = || TargetError::new(DeliveryCode::NoResource, format!("API destination {} does not exist", doc.arn));
    let dest = svc.store.api_destination(name).await.map_err(store_error)?.ok_or_else(gone)?;
    if svc.api_destination_arn(&dest.name, &dest.uid) != doc.arn {
        return Err(gone());
    }
    let connection_missing =
        || TargetError::new(DeliveryCode::NoResource, format!("connection {} does not exist", dest.connection_arn));
    let connection = connection_name(&dest.connection_arn).ok_or_else(connection_missing)?;
    let connection = svc.store.connection(connection).await.map_err(store_error)?.ok_or_else(connection_missing)?;
    let auth = AuthParameters::read(&connection.auth).map_err(store_error)?;
    let event: Value = serde_json::from_str(&d.event).unwrap_or(Value::Null);
    let (url, headers, body) =
        build_request(&dest.endpoint, &dest.method, &connection.authorization_type, &auth, doc, &d.body, &event)?;
    if url.starts_with("https://") {
        return Err(TargetError::new(
            DeliveryCode::Unsupported,
            format!("{url}: https endpoints are not supported (this server has no TLS client); use http"),
        ));
    }
    let now = svc.store.now_ms().await.map_err(store_error)?;
    if let Some(until) = svc.limiter.take(&doc.arn, dest.rate_limit.unwrap_or(DEFAULT_RATE_LIMIT), now) {
        return Ok(Sent::Deferred { until });
    }
    let invalid = |what: String| TargetError::new(DeliveryCode::InvalidParameter, what);
    let method =
        Method::from_bytes(dest.method.as_bytes()).map_err(|e| invalid(format!("method {}: {e}", dest.method)))?;
    let mut request = Request::builder().method(method).uri(&url);
    for (k, v) in &headers {
        let name = HeaderName::from_bytes(k.as_bytes()).map_err(|e| invalid(format!("header {k}: {e}")))?;
        let value = HeaderValue::from_str(v).map_err(|e| invalid(format!("header {k}: {e}")))?;
        request = request.header(name, value);
    }
    let request = request
        .body(body.map_or_else(Body::empty, Body::from))
        .map_err(|e| invalid(format!("the request to {url}: {e}")))?;
    let answer = match tokio::time::timeout(HTTP_TIMEOUT, svc.http.request(request)).await {
        Err(_) => {
            return Err(TargetError::new(DeliveryCode::Timeout, format!("{url} did not answer within 5 seconds")));
        }
        Ok(Err(e)) => {
            return Err(TargetError::new(DeliveryCode::ConnectionFailure, format!("{url}: {e}")));
        }
        Ok(Ok(answer)) => answer,
    };
    let status = answer.status();
    let retry_after = answer
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok())
        .map(|s| s.saturating_mul(1000));
    // Read the answer to its end (bounded), so the connection can be used again.
    let _ = tokio::time::timeout(HTTP_TIMEOUT, axum::body::to_bytes(Body::new(answer.into_body()), 1 << 20)).await;
    match DeliveryCode::of_http_status(status.as_u16()) {
        None => Ok(Sent::Done),
        Some(code) => Err(TargetError {
            code,
            message: format!("{} {url} answered {status}", dest.method),
            retry_after_ms: retry_after,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connections::{ApiKeyAuth, BasicAuth, HttpParams, Param};
    use crate::targets::HttpParametersDoc;
    use serde_json::json;

    #[test]
    fn an_input_with_task_override_members_becomes_the_overrides() {
        let body = r#"{"containerOverrides":[{"name":"app","command":["echo","hi"]}],"taskRoleArn":"arn:r","other":1}"#;
        assert_eq!(
            ecs_overrides(body),
            Some(json!({"containerOverrides": [{"name": "app", "command": ["echo", "hi"]}], "taskRoleArn": "arn:r"}))
        );
        // The whole event, text, or JSON without override members: no overrides.
        assert_eq!(ecs_overrides(r#"{"version":"0","detail":{}}"#), None);
        assert_eq!(ecs_overrides("plain text"), None);
        assert_eq!(ecs_overrides("[1,2]"), None);
    }

    #[test]
    fn started_by_names_the_rule_within_ecs_limit() {
        assert_eq!(started_by("arn:aws:events:us-east-1:000000000000:rule/nightly"), "events-rule/nightly");
        assert_eq!(started_by("arn:aws:events:us-east-1:000000000000:rule/bus/nightly"), "events-rule/nightly");
        let long = started_by(&format!("arn:aws:events:r:a:rule/{}", "x".repeat(64)));
        assert_eq!(long.chars().count(), 36);
        assert!(long.starts_with("events-rule/xxx"));
    }

    #[test]
    fn api_destination_requests_carry_auth_parameters_and_paths() {
        let auth = AuthParameters {
            api_key_auth_parameters: Some(ApiKeyAuth {
                api_key_name: Some("x-api-key".into()),
                api_key_value: Some("s3cret".into()),
            }),
            invocation_http_parameters: Some(HttpParams {
                query_string_parameters: Some(vec![Param {
                    key: Some("from".into()),
                    value: Some("eb".into()),
                    is_value_secret: None,
                }]),
                ..Default::default()
            }),
            ..Default::default()
        };
        let doc = TargetDoc {
            http_parameters: Some(HttpParametersDoc {
                path_parameter_values: Some(vec!["orders".into(), "$.detail.id".into()]),
                header_parameters: Some([("x-source".to_string(), "$.source".to_string())].into()),
                query_string_parameters: Some([("q".to_string(), "a b&c".to_string())].into()),
            }),
            ..Default::default()
        };
        let event = json!({"source": "shop", "detail": {"id": 42}});
        let (url, headers, body) =
            build_request("http://127.0.0.1:9/api/*/items/*", "POST", "API_KEY", &auth, &doc, "{\"a\":1}", &event)
                .unwrap();
        assert_eq!(url, "http://127.0.0.1:9/api/orders/items/42?from=eb&q=a%20b%26c");
        assert!(headers.contains(&("x-api-key".into(), "s3cret".into())));
        assert!(headers.contains(&("x-source".into(), "shop".into())));
        assert_eq!(body.as_deref(), Some("{\"a\":1}"));
        // Basic auth, and no body for GET.
        let basic = AuthParameters {
            basic_auth_parameters: Some(BasicAuth { username: Some("u".into()), password: Some("p".into()) }),
            ..Default::default()
        };
        let (_, headers, body) =
            build_request("http://h/x", "GET", "BASIC", &basic, &TargetDoc::default(), "{}", &event).unwrap();
        assert!(headers.contains(&("authorization".into(), "Basic dTpw".into())));
        assert_eq!(body, None);
        // OAuth is refused with a reason; a missing path value is a refusal too.
        let e = build_request(
            "http://h/x",
            "POST",
            "OAUTH_CLIENT_CREDENTIALS",
            &basic,
            &TargetDoc::default(),
            "{}",
            &event,
        )
        .unwrap_err();
        assert_eq!(e.code, DeliveryCode::Unsupported);
        let e = build_request("http://h/*", "POST", "BASIC", &basic, &TargetDoc::default(), "{}", &event).unwrap_err();
        assert_eq!(e.code, DeliveryCode::InvalidParameter);
    }

    #[test]
    fn the_rate_limiter_holds_requests_to_the_next_second() {
        let limiter = RateLimiter::default();
        assert_eq!(limiter.take("d", 2, 10_100), None);
        assert_eq!(limiter.take("d", 2, 10_200), None);
        assert_eq!(limiter.take("d", 2, 10_300), Some(11_000));
        assert_eq!(limiter.take("other", 2, 10_300), None);
        assert_eq!(limiter.take("d", 2, 11_000), None);
    }
}
