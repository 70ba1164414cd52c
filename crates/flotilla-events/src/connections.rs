//! Connections (how to authorize with an HTTP endpoint: `API_KEY`, `BASIC`, or
//! `OAUTH_CLIENT_CREDENTIALS`, with extra header, query string and body parameters)
//! and API destinations (an endpoint, a method and a rate limit, with a connection).
//!
//! Secrets (passwords, API key values, client secrets, parameters marked secret) are
//! kept in the store and never answered back. `API_KEY` and `BASIC` connections are
//! `AUTHORIZED` at once; an OAuth connection is accepted but `DEAUTHORIZED`: this
//! server fetches no OAuth tokens, and a delivery through it fails with that reason.

use crate::check;
use crate::error::{EventsError, Result};
use crate::store::{ApiDestinationRecord, ConnectionRecord};
use crate::{Empty, EventsService, seconds};
use serde::{Deserialize, Serialize};

const AUTH_TYPES: [&str; 3] = ["BASIC", "OAUTH_CLIENT_CREDENTIALS", "API_KEY"];
const METHODS: [&str; 7] = ["POST", "GET", "HEAD", "OPTIONS", "PUT", "PATCH", "DELETE"];
/// An API destination's rate limit when none is given.
pub(crate) const DEFAULT_RATE_LIMIT: i64 = 300;
const OAUTH_REASON: &str = "OAuth client credentials are accepted but not used by this server: it fetches no OAuth tokens, so deliveries \
     through this connection fail";

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Param {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_value_secret: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct HttpParams {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub header_parameters: Option<Vec<Param>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query_string_parameters: Option<Vec<Param>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body_parameters: Option<Vec<Param>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct BasicAuth {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ApiKeyAuth {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_key_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_key_value: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct OAuthClient {
    #[serde(rename = "ClientID", skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(rename = "ClientSecret", skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct OAuth {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_parameters: Option<OAuthClient>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorization_endpoint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_method: Option<String>,
    #[serde(rename = "OAuthHttpParameters", skip_serializing_if = "Option::is_none")]
    pub oauth_http_parameters: Option<HttpParams>,
}

/// A connection's AuthParameters, as stored (secrets included).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct AuthParameters {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub basic_auth_parameters: Option<BasicAuth>,
    #[serde(rename = "OAuthParameters", skip_serializing_if = "Option::is_none")]
    pub oauth_parameters: Option<OAuth>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_key_auth_parameters: Option<ApiKeyAuth>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invocation_http_parameters: Option<HttpParams>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connectivity_parameters: Option<serde_json::Value>,
}

fn hide_secret_params(params: &mut Option<HttpParams>) {
    if let Some(p) = params {
        for list in
            [&mut p.header_parameters, &mut p.query_string_parameters, &mut p.body_parameters].into_iter().flatten()
        {
            for param in list.iter_mut().filter(|p| p.is_value_secret == Some(true)) {
                param.value = None;
            }
        }
    }
}

impl AuthParameters {
    pub(crate) fn read(text: &str) -> Result<AuthParameters> {
        serde_json::from_str(text).map_err(|e| EventsError::corrupt("a connection's auth parameters", e))
    }

    fn text(&self) -> Result<String> {
        serde_json::to_string(self).map_err(|e| EventsError::corrupt("a connection's auth parameters", e))
    }

    /// As DescribeConnection answers them: without secrets.
    fn redacted(&self) -> AuthParameters {
        let mut out = self.clone();
        if let Some(b) = &mut out.basic_auth_parameters {
            b.password = None;
        }
        if let Some(k) = &mut out.api_key_auth_parameters {
            k.api_key_value = None;
        }
        if let Some(o) = &mut out.oauth_parameters {
            if let Some(c) = &mut o.client_parameters {
                c.client_secret = None;
            }
            hide_secret_params(&mut o.oauth_http_parameters);
        }
        hide_secret_params(&mut out.invocation_http_parameters);
        out
    }

    /// An update's parameters laid over these (members given replace members kept).
    fn merge(&mut self, update: AuthParameters) {
        if let Some(b) = update.basic_auth_parameters {
            let kept = self.basic_auth_parameters.get_or_insert_with(Default::default);
            kept.username = b.username.or(kept.username.take());
            kept.password = b.password.or(kept.password.take());
        }
        if let Some(k) = update.api_key_auth_parameters {
            let kept = self.api_key_auth_parameters.get_or_insert_with(Default::default);
            kept.api_key_name = k.api_key_name.or(kept.api_key_name.take());
            kept.api_key_value = k.api_key_value.or(kept.api_key_value.take());
        }
        if let Some(o) = update.oauth_parameters {
            let kept = self.oauth_parameters.get_or_insert_with(Default::default);
            if let Some(c) = o.client_parameters {
                let client = kept.client_parameters.get_or_insert_with(Default::default);
                client.client_id = c.client_id.or(client.client_id.take());
                client.client_secret = c.client_secret.or(client.client_secret.take());
            }
            kept.authorization_endpoint = o.authorization_endpoint.or(kept.authorization_endpoint.take());
            kept.http_method = o.http_method.or(kept.http_method.take());
            if o.oauth_http_parameters.is_some() {
                kept.oauth_http_parameters = o.oauth_http_parameters;
            }
        }
        if update.invocation_http_parameters.is_some() {
            self.invocation_http_parameters = update.invocation_http_parameters;
        }
        if update.connectivity_parameters.is_some() {
            self.connectivity_parameters = update.connectivity_parameters;
        }
    }

    /// Whether the parameters the authorization type needs are all there.
    fn check(&self, authorization_type: &str) -> Result<()> {
        let missing = |what: &str| {
            EventsError::Validation(format!("{what} must be specified for authorization type {authorization_type}."))
        };
        let header_value = |value: &str, at: &str| -> Result<()> {
            check::length(value, at, 1, 512)?;
            if value.chars().any(|c| c.is_control() || c == ':') {
                return Err(EventsError::constraint(value, at, "Member must not contain control characters or ':'"));
            }
            Ok(())
        };
        match authorization_type {
            "API_KEY" => {
                let k = self.api_key_auth_parameters.as_ref().ok_or_else(|| missing("ApiKeyAuthParameters"))?;
                let name = k.api_key_name.as_deref().ok_or_else(|| missing("ApiKeyAuthParameters.ApiKeyName"))?;
                let value = k.api_key_value.as_deref().ok_or_else(|| missing("ApiKeyAuthParameters.ApiKeyValue"))?;
                header_value(name, "authParameters.apiKeyAuthParameters.apiKeyName")?;
                header_value(value, "authParameters.apiKeyAuthParameters.apiKeyValue")?;
            }
            "BASIC" => {
                let b = self.basic_auth_parameters.as_ref().ok_or_else(|| missing("BasicAuthParameters"))?;
                let user = b.username.as_deref().ok_or_else(|| missing("BasicAuthParameters.Username"))?;
                let password = b.password.as_deref().ok_or_else(|| missing("BasicAuthParameters.Password"))?;
                header_value(user, "authParameters.basicAuthParameters.username")?;
                header_value(password, "authParameters.basicAuthParameters.password")?;
            }
            _ => {
                let o = self.oauth_parameters.as_ref().ok_or_else(|| missing("OAuthParameters"))?;
                let c = o.client_parameters.as_ref().ok_or_else(|| missing("OAuthParameters.ClientParameters"))?;
                c.client_id.as_deref().ok_or_else(|| missing("OAuthParameters.ClientParameters.ClientID"))?;
                c.client_secret.as_deref().ok_or_else(|| missing("OAuthParameters.ClientParameters.ClientSecret"))?;
                let endpoint = o
                    .authorization_endpoint
                    .as_deref()
                    .ok_or_else(|| missing("OAuthParameters.AuthorizationEndpoint"))?;
                check::length(endpoint, "authParameters.oAuthParameters.authorizationEndpoint", 1, 2048)?;
                let method = o.http_method.as_deref().ok_or_else(|| missing("OAuthParameters.HttpMethod"))?;
                if !["GET", "POST", "PUT"].contains(&method) {
                    return Err(EventsError::constraint(
                        method,
                        "authParameters.oAuthParameters.httpMethod",
                        "Member must satisfy enum value set: [GET, POST, PUT]",
                    ));
                }
            }
        }
        if let Some(p) = &self.invocation_http_parameters {
            for (list, name) in [
                (&p.header_parameters, "headerParameters"),
                (&p.query_string_parameters, "queryStringParameters"),
                (&p.body_parameters, "bodyParameters"),
            ] {
                if list.as_ref().is_some_and(|l| l.len() > 100) {
                    return Err(EventsError::constraint(
                        "[…]",
                        &format!("authParameters.invocationHttpParameters.{name}"),
                        "Member must have length less than or equal to 100",
                    ));
                }
            }
        }
        Ok(())
    }
}

/// The (state, reason, authorized) a connection of this type is in once saved.
fn state_of(authorization_type: &str, now: i64) -> (String, Option<String>, Option<i64>) {
    if authorization_type == "OAUTH_CLIENT_CREDENTIALS" {
        ("DEAUTHORIZED".into(), Some(OAUTH_REASON.into()), None)
    } else {
        ("AUTHORIZED".into(), None, Some(now))
    }
}

fn check_type(t: &str) -> Result<()> {
    if AUTH_TYPES.contains(&t) {
        Ok(())
    } else {
        Err(EventsError::constraint(
            t,
            "authorizationType",
            "Member must satisfy enum value set: [BASIC, OAUTH_CLIENT_CREDENTIALS, API_KEY]",
        ))
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct CreateInput {
    name: String,
    description: Option<String>,
    authorization_type: String,
    auth_parameters: AuthParameters,
    #[allow(dead_code)]
    invocation_connectivity_parameters: Option<serde_json::Value>,
    #[allow(dead_code)]
    kms_key_identifier: Option<String>,
}

/// What the Create, Update and Delete calls answer about a connection.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ConnectionSummary {
    connection_arn: String,
    connection_state: String,
    creation_time: f64,
    last_modified_time: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_authorized_time: Option<f64>,
}

fn summary(svc: &EventsService, c: &ConnectionRecord) -> ConnectionSummary {
    ConnectionSummary {
        connection_arn: svc.connection_arn(&c.name, &c.uid),
        connection_state: c.state.clone(),
        creation_time: seconds(c.created_at),
        last_modified_time: seconds(c.modified_at),
        last_authorized_time: c.authorized_at.map(seconds),
    }
}

pub(crate) async fn create(svc: &EventsService, input: CreateInput) -> Result<ConnectionSummary> {
    check::name(&input.name, "name", 64)?;
    check::optional_length(input.description.as_deref(), "description", 512)?;
    check_type(&input.authorization_type)?;
    input.auth_parameters.check(&input.authorization_type)?;
    let now = svc.store.now_ms().await?;
    let (state, state_reason, authorized_at) = state_of(&input.authorization_type, now);
    let c = ConnectionRecord {
        name: input.name,
        uid: uuid::Uuid::new_v4().to_string(),
        description: input.description,
        authorization_type: input.authorization_type,
        auth: input.auth_parameters.text()?,
        state,
        state_reason,
        created_at: now,
        modified_at: now,
        authorized_at,
    };
    if !svc.store.create_connection(&c).await? {
        return Err(EventsError::AlreadyExists(format!("Connection {} already exists.", c.name)));
    }
    Ok(summary(svc, &c))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct NameInput {
    name: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DescribeOutput {
    connection_arn: String,
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    connection_state: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    state_reason: Option<String>,
    authorization_type: String,
    auth_parameters: AuthParameters,
    creation_time: f64,
    last_modified_time: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_authorized_time: Option<f64>,
}

pub(crate) async fn describe(svc: &EventsService, input: NameInput) -> Result<DescribeOutput> {
    check::name(&input.name, "name", 64)?;
    let c = svc.store.connection(&input.name).await?.ok_or_else(|| EventsError::connection_not_found(&input.name))?;
    Ok(DescribeOutput {
        connection_arn: svc.connection_arn(&c.name, &c.uid),
        auth_parameters: AuthParameters::read(&c.auth)?.redacted(),
        name: c.name,
        description: c.description,
        connection_state: c.state,
        state_reason: c.state_reason,
        authorization_type: c.authorization_type,
        creation_time: seconds(c.created_at),
        last_modified_time: seconds(c.modified_at),
        last_authorized_time: c.authorized_at.map(seconds),
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct UpdateInput {
    name: String,
    description: Option<String>,
    authorization_type: Option<String>,
    auth_parameters: Option<AuthParameters>,
}

pub(crate) async fn update(svc: &EventsService, input: UpdateInput) -> Result<ConnectionSummary> {
    check::name(&input.name, "name", 64)?;
    check::optional_length(input.description.as_deref(), "description", 512)?;
    if let Some(t) = &input.authorization_type {
        check_type(t)?;
    }
    let now = svc.store.now_ms().await?;
    let updated = svc
        .store
        .update_connection(&input.name, |c| {
            let mut auth = AuthParameters::read(&c.auth)?;
            let authorization_type = input.authorization_type.clone().unwrap_or_else(|| c.authorization_type.clone());
            if authorization_type != c.authorization_type {
                // Another type starts from its own parameters (and keeps the invocation ones).
                auth = AuthParameters {
                    invocation_http_parameters: auth.invocation_http_parameters.take(),
                    ..AuthParameters::default()
                };
            }
            if let Some(given) = input.auth_parameters.clone() {
                auth.merge(given);
            }
            auth.check(&authorization_type)?;
            let (state, state_reason, authorized_at) = state_of(&authorization_type, now);
            if let Some(d) = &input.description {
                c.description = Some(d.clone());
            }
            c.authorization_type = authorization_type;
            c.auth = auth.text()?;
            c.state = state;
            c.state_reason = state_reason;
            c.authorized_at = authorized_at.or(c.authorized_at);
            c.modified_at = now;
            Ok(())
        })
        .await?;
    let c = updated.ok_or_else(|| EventsError::connection_not_found(&input.name))?;
    Ok(summary(svc, &c))
}

pub(crate) async fn delete(svc: &EventsService, input: NameInput) -> Result<ConnectionSummary> {
    check::name(&input.name, "name", 64)?;
    let c = svc
        .store
        .delete_connection(&input.name)
        .await?
        .ok_or_else(|| EventsError::connection_not_found(&input.name))?;
    let mut out = summary(svc, &c);
    out.connection_state = "DELETING".into();
    Ok(out)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListInput {
    name_prefix: Option<String>,
    connection_state: Option<String>,
    next_token: Option<String>,
    limit: Option<i64>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ConnectionShape {
    connection_arn: String,
    name: String,
    connection_state: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    state_reason: Option<String>,
    authorization_type: String,
    creation_time: f64,
    last_modified_time: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_authorized_time: Option<f64>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListOutput {
    connections: Vec<ConnectionShape>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

pub(crate) async fn list(svc: &EventsService, input: ListInput) -> Result<ListOutput> {
    let limit = check::limit(input.limit)?;
    let after = check::after(input.next_token.as_deref())?;
    let found = svc
        .store
        .connections(input.name_prefix.as_deref(), input.connection_state.as_deref(), after.as_deref(), limit + 1)
        .await?;
    let (page, next_token) = check::page(found, limit, |c| c.name.clone());
    let connections = page
        .into_iter()
        .map(|c| ConnectionShape {
            connection_arn: svc.connection_arn(&c.name, &c.uid),
            name: c.name,
            connection_state: c.state,
            state_reason: c.state_reason,
            authorization_type: c.authorization_type,
            creation_time: seconds(c.created_at),
            last_modified_time: seconds(c.modified_at),
            last_authorized_time: c.authorized_at.map(seconds),
        })
        .collect();
    Ok(ListOutput { connections, next_token })
}

// API destinations ----------------------------------------------------------------

/// The connection name in `arn:aws:events:REGION:ACCOUNT:connection/NAME/UUID`.
pub(crate) fn connection_name(arn: &str) -> Option<&str> {
    let (_, rest) = arn.split_once(":connection/")?;
    rest.split('/').next().filter(|n| !n.is_empty())
}

/// Checks a destination's connection exists (by its ARN).
async fn check_connection(svc: &EventsService, arn: &str) -> Result<()> {
    check::length(arn, "connectionArn", 1, 1600)?;
    let name = connection_name(arn)
        .ok_or_else(|| EventsError::Validation(format!("Parameter ConnectionArn is not valid: {arn}")))?;
    match svc.store.connection(name).await? {
        Some(c) if svc.connection_arn(&c.name, &c.uid) == arn => Ok(()),
        _ => Err(EventsError::NotFound(format!("Connection '{name}' does not exist."))),
    }
}

fn check_endpoint(endpoint: &str) -> Result<()> {
    check::length(endpoint, "invocationEndpoint", 1, 2048)?;
    let rest = endpoint.strip_prefix("https://").or_else(|| endpoint.strip_prefix("http://"));
    match rest {
        Some(r) if !r.is_empty() && !r.starts_with('/') && !r.chars().any(char::is_whitespace) => Ok(()),
        _ => Err(EventsError::Validation(format!(
            "Parameter InvocationEndpoint is not valid. Reason: {endpoint} is not an http or https URL."
        ))),
    }
}

fn check_method(method: &str) -> Result<()> {
    if METHODS.contains(&method) {
        Ok(())
    } else {
        Err(EventsError::constraint(
            method,
            "httpMethod",
            "Member must satisfy enum value set: [POST, GET, HEAD, OPTIONS, PUT, PATCH, DELETE]",
        ))
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct CreateDestinationInput {
    name: String,
    description: Option<String>,
    connection_arn: String,
    invocation_endpoint: String,
    http_method: String,
    invocation_rate_limit_per_second: Option<i64>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DestinationSummary {
    api_destination_arn: String,
    api_destination_state: String,
    creation_time: f64,
    last_modified_time: f64,
}

fn destination_summary(svc: &EventsService, d: &ApiDestinationRecord) -> DestinationSummary {
    DestinationSummary {
        api_destination_arn: svc.api_destination_arn(&d.name, &d.uid),
        api_destination_state: "ACTIVE".into(),
        creation_time: seconds(d.created_at),
        last_modified_time: seconds(d.modified_at),
    }
}

pub(crate) async fn create_destination(
    svc: &EventsService,
    input: CreateDestinationInput,
) -> Result<DestinationSummary> {
    check::name(&input.name, "name", 64)?;
    check::optional_length(input.description.as_deref(), "description", 512)?;
    check_endpoint(&input.invocation_endpoint)?;
    check_method(&input.http_method)?;
    if let Some(rate) = input.invocation_rate_limit_per_second {
        check::range(rate, "invocationRateLimitPerSecond", 1, i64::from(i32::MAX))?;
    }
    check_connection(svc, &input.connection_arn).await?;
    let now = svc.store.now_ms().await?;
    let d = ApiDestinationRecord {
        name: input.name,
        uid: uuid::Uuid::new_v4().to_string(),
        description: input.description,
        connection_arn: input.connection_arn,
        endpoint: input.invocation_endpoint,
        method: input.http_method,
        rate_limit: input.invocation_rate_limit_per_second,
        created_at: now,
        modified_at: now,
    };
    if !svc.store.create_api_destination(&d).await? {
        return Err(EventsError::AlreadyExists(format!("An api-destination '{}' already exists.", d.name)));
    }
    Ok(destination_summary(svc, &d))
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DestinationShape {
    api_destination_arn: String,
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    api_destination_state: String,
    connection_arn: String,
    invocation_endpoint: String,
    http_method: String,
    invocation_rate_limit_per_second: i64,
    creation_time: f64,
    last_modified_time: f64,
}

fn destination_shape(svc: &EventsService, d: ApiDestinationRecord) -> DestinationShape {
    DestinationShape {
        api_destination_arn: svc.api_destination_arn(&d.name, &d.uid),
        name: d.name,
        description: d.description,
        api_destination_state: "ACTIVE".into(),
        connection_arn: d.connection_arn,
        invocation_endpoint: d.endpoint,
        http_method: d.method,
        invocation_rate_limit_per_second: d.rate_limit.unwrap_or(DEFAULT_RATE_LIMIT),
        creation_time: seconds(d.created_at),
        last_modified_time: seconds(d.modified_at),
    }
}

pub(crate) async fn describe_destination(svc: &EventsService, input: NameInput) -> Result<DestinationShape> {
    check::name(&input.name, "name", 64)?;
    let d = svc
        .store
        .api_destination(&input.name)
        .await?
        .ok_or_else(|| EventsError::api_destination_not_found(&input.name))?;
    Ok(destination_shape(svc, d))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct UpdateDestinationInput {
    name: String,
    description: Option<String>,
    connection_arn: Option<String>,
    invocation_endpoint: Option<String>,
    http_method: Option<String>,
    invocation_rate_limit_per_second: Option<i64>,
}

pub(crate) async fn update_destination(
    svc: &EventsService,
    input: UpdateDestinationInput,
) -> Result<DestinationSummary> {
    check::name(&input.name, "name", 64)?;
    check::optional_length(input.description.as_deref(), "description", 512)?;
    if let Some(e) = &input.invocation_endpoint {
        check_endpoint(e)?;
    }
    if let Some(m) = &input.http_method {
        check_method(m)?;
    }
    if let Some(rate) = input.invocation_rate_limit_per_second {
        check::range(rate, "invocationRateLimitPerSecond", 1, i64::from(i32::MAX))?;
    }
    if let Some(arn) = &input.connection_arn {
        check_connection(svc, arn).await?;
    }
    let now = svc.store.now_ms().await?;
    let updated = svc
        .store
        .update_api_destination(&input.name, |d| {
            if let Some(v) = &input.description {
                d.description = Some(v.clone());
            }
            if let Some(v) = &input.connection_arn {
                d.connection_arn = v.clone();
            }
            if let Some(v) = &input.invocation_endpoint {
                d.endpoint = v.clone();
            }
            if let Some(v) = &input.http_method {
                d.method = v.clone();
            }
            if let Some(v) = input.invocation_rate_limit_per_second {
                d.rate_limit = Some(v);
            }
            d.modified_at = now;
            Ok(())
        })
        .await?;
    let d = updated.ok_or_else(|| EventsError::api_destination_not_found(&input.name))?;
    Ok(destination_summary(svc, &d))
}

pub(crate) async fn delete_destination(svc: &EventsService, input: NameInput) -> Result<Empty> {
    check::name(&input.name, "name", 64)?;
    if !svc.store.delete_api_destination(&input.name).await? {
        return Err(EventsError::api_destination_not_found(&input.name));
    }
    Ok(Empty {})
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListDestinationsInput {
    name_prefix: Option<String>,
    connection_arn: Option<String>,
    next_token: Option<String>,
    limit: Option<i64>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListDestinationsOutput {
    api_destinations: Vec<DestinationShape>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

pub(crate) async fn list_destinations(
    svc: &EventsService,
    input: ListDestinationsInput,
) -> Result<ListDestinationsOutput> {
    let limit = check::limit(input.limit)?;
    let after = check::after(input.next_token.as_deref())?;
    let found = svc
        .store
        .api_destinations(input.name_prefix.as_deref(), input.connection_arn.as_deref(), after.as_deref(), limit + 1)
        .await?;
    let (page, next_token) = check::page(found, limit, |d| d.name.clone());
    Ok(ListDestinationsOutput {
        api_destinations: page.into_iter().map(|d| destination_shape(svc, d)).collect(),
        next_token,
    })
}
