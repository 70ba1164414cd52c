//! The OCI distribution API (v1.1) under `/v2/`: the router, Basic authentication,
//! path parsing and the helpers its resources share. One module per resource:
//! [`blobs`] (blobs and uploads), [`manifests`], [`listing`] (tags, catalog, referrers).
//! Every request needs HTTP Basic authentication with user `AWS` and a registry token;
//! a token issued to a principal is authorized as that principal (`authorize`).

mod blobs;
mod listing;
mod manifests;

pub(crate) use blobs::{append_chunk, finish_upload};
pub(crate) use manifests::immutable_tag_message;

use crate::auth::TokenPrincipal;
use crate::digest::Digest;
use crate::error::{OciCode, OciError};
use crate::name::is_valid_repository_name;
use crate::store::RepositoryRecord;
use crate::{State, now_secs};
use axum::Router;
use axum::body::Body;
use axum::extract::{Query, Request};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use flotilla_protocol::{AuthorizationRequest, Caller, Decision};
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use std::collections::HashMap;
use std::sync::Arc;

pub(crate) type Answer = Result<Response, OciError>;

const API_VERSION: &str = "Docker-Distribution-API-Version";
pub(crate) const CONTENT_DIGEST: &str = "Docker-Content-Digest";
pub(crate) const UPLOAD_UUID: &str = "Docker-Upload-UUID";

pub(crate) fn router(state: Arc<State>) -> Router {
    let base = any(|| async { ([(header::CONTENT_TYPE, "application/json")], "{}") });
    Router::new()
        .route("/v2", base.clone())
        .route("/v2/", base)
        .route(
            "/v2/{*path}",
            any({
                let state = state.clone();
                move |method: Method, Query(query): Query<HashMap<String, String>>, request: Request| {
                    let state = state.clone();
                    async move {
                        let path = request.uri().path().trim_start_matches("/v2/").to_string();
                        dispatch(&state, method, &path, query, request)
                            .await
                            .unwrap_or_else(IntoResponse::into_response)
                    }
                }
            }),
        )
        .layer(middleware::from_fn(move |request: Request, next: Next| {
            let state = state.clone();
            async move { authenticate(&state, request, next).await }
        }))
}

async fn authenticate(state: &State, request: Request, next: Next) -> Response {
    let started = std::time::Instant::now();
    let (method, path) = (request.method().clone(), request.uri().path().to_string());
    let holder = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| state.tokens.verify_basic(v, now_secs()));
    let mut response = match holder {
        Some(principal) => {
            let mut request = request;
            request.extensions_mut().insert(TokenHolder(principal));
            next.run(request).await
        }
        None => OciError::new(OciCode::Unauthorized, "authentication required").into_response(),
    };
    response.headers_mut().insert(API_VERSION, HeaderValue::from_static("registry/2.0"));
    tracing::info!(
        target: "flotilla::registry",
        method = %method,
        path = %path,
        status = response.status().as_u16(),
        micros = started.elapsed().as_micros() as u64,
        "request"
    );
    response
}

/// What a `/v2/<path>` addresses.
#[derive(Debug, PartialEq, Eq)]
enum Route<'a> {
    Tags(&'a str),
    Manifest(&'a str, &'a str),
    UploadStart(&'a str),
    Upload(&'a str, &'a str),
    Blob(&'a str, &'a str),
    Referrers(&'a str, &'a str),
}

/// Splits `path` (after `/v2/`) into the repository name and what is addressed in it;
/// the name is everything before the trailing route segments.
fn parse_route(path: &str) -> Result<Route<'_>, OciError> {
    let strip = |suffix_segments: usize| -> Option<&str> {
        let mut end = path.len();
        for _ in 0..suffix_segments {
            end = path[..end].rfind('/')?;
        }
        Some(&path[..end])
    };
    let segments: Vec<&str> = path.rsplitn(4, '/').collect();
    let route = match segments.as_slice() {
        ["list", "tags", ..] => strip(2).map(Route::Tags),
        [r, "manifests", ..] => strip(2).map(|n| Route::Manifest(n, r)),
        ["", "uploads", "blobs", ..] => strip(3).map(Route::UploadStart),
        ["uploads", "blobs", ..] => strip(2).map(Route::UploadStart),
        [id, "uploads", "blobs", ..] => strip(3).map(|n| Route::Upload(n, id)),
        [d, "blobs", ..] => strip(2).map(|n| Route::Blob(n, d)),
        [d, "referrers", ..] => strip(2).map(|n| Route::Referrers(n, d)),
        _ => None,
    };
    let route = route.ok_or_else(|| {
        OciError::new(OciCode::Unsupported, format!("no registry endpoint at /v2/{path}"))
            .with_status(StatusCode::NOT_FOUND)
    })?;
    let name = route.repository();
    if !is_valid_repository_name(name) {
        return Err(OciError::new(OciCode::NameInvalid, format!("invalid repository name '{name}'")));
    }
    Ok(route)
}

async fn dispatch(
    state: &State,
    method: Method,
    path: &str,
    query: HashMap<String, String>,
    request: Request,
) -> Answer {
    if path == "_catalog" && method == Method::GET {
        authorize(state, request.extensions(), "ecr:DescribeRepositories", None).await?;
        return listing::catalog(state, &query).await;
    }
    let route = parse_route(path)?;
    let (parts, body) = request.into_parts();
    authorize(state, &parts.extensions, ecr_action(&route, &method), Some(route.repository())).await?;
    let headers = &parts.headers;
    match (route, method) {
        (Route::Tags(name), Method::GET) => listing::list_tags(state, name, &query).await,
        (Route::Manifest(name, r), Method::GET) => manifests::get_manifest(state, name, r, true).await,
        (Route::Manifest(name, r), Method::HEAD) => manifests::get_manifest(state, name, r, false).await,
        (Route::Manifest(name, r), Method::PUT) => manifests::put_manifest(state, name, r, headers, body).await,
        (Route::Manifest(name, r), Method::DELETE) => manifests::delete_manifest(state, name, r).await,
        (Route::Blob(name, d), Method::GET) => blobs::get_blob(state, name, d, headers, true).await,
        (Route::Blob(name, d), Method::HEAD) => blobs::get_blob(state, name, d, headers, false).await,
        (Route::Blob(name, d), Method::DELETE) => blobs::delete_blob(state, name, d).await,
        (Route::UploadStart(name), Method::POST) => blobs::start_upload(state, name, &query, headers, body).await,
        (Route::Upload(name, id), Method::GET) => blobs::upload_status(state, name, id).await,
        (Route::Upload(name, id), Method::PATCH) => blobs::patch_upload(state, name, id, headers, body).await,
        (Route::Upload(name, id), Method::PUT) => blobs::complete_upload(state, name, id, &query, headers, body).await,
        (Route::Upload(name, id), Method::DELETE) => blobs::cancel_upload(state, name, id).await,
        (Route::Referrers(name, d), Method::GET) => listing::referrers(state, name, d, &query).await,
        (_, method) => {
            Err(OciError::new(OciCode::Unsupported, format!("method {method} is not supported on /v2/{path}")))
        }
    }
}

/// Who the request's token was issued to (`None`: the control plane itself).
#[derive(Debug, Clone)]
struct TokenHolder(Option<TokenPrincipal>);

/// The ECR action a `/v2/` request is, as ECR's documentation maps the registry API.
fn ecr_action(route: &Route<'_>, method: &Method) -> &'static str {
    match (route, method) {
        (Route::Tags(_), _) => "ecr:ListImages",
        (Route::Manifest(..), &Method::PUT) => "ecr:PutImage",
        (Route::Manifest(..), &Method::DELETE) => "ecr:BatchDeleteImage",
        (Route::Manifest(..) | Route::Referrers(..), _) => "ecr:BatchGetImage",
        (Route::Blob(..), &Method::HEAD) => "ecr:BatchCheckLayerAvailability",
        (Route::Blob(..), &Method::DELETE) => "ecr:BatchDeleteImage",
        (Route::Blob(..), _) => "ecr:GetDownloadUrlForLayer",
        (Route::UploadStart(_), _) => "ecr:InitiateLayerUpload",
        (Route::Upload(..), &Method::PUT) => "ecr:CompleteLayerUpload",
        (Route::Upload(..), _) => "ecr:UploadLayerPart",
    }
}

/// Refuses a request whose token holder's policies do not allow its ECR action on
/// the repository (`DENIED`, 403).
async fn authorize(
    state: &State,
    extensions: &http::Extensions,
    action: &'static str,
    repository: Option<&str>,
) -> Result<(), OciError> {
    let Some(TokenHolder(Some(holder))) = extensions.get::<TokenHolder>() else { return Ok(()) };
    let Some(authorizer) = state.authorizer.get() else { return Ok(()) };
    let resources = [match repository {
        Some(name) => state.account.arn("ecr", &format!("repository/{name}")).to_string(),
        None => "*".to_string(),
    }];
    let caller = Caller {
        access_key_id: holder.access_key_id.clone(),
        principal_arn: Some(holder.arn.clone()),
        request_id: String::new(),
    };
    let request = AuthorizationRequest {
        caller: &caller,
        service: "ecr",
        operation: action.trim_start_matches("ecr:"),
        action,
        resources: &resources,
        conditions: &[],
        source_ip: extensions.get::<flotilla_http::PeerAddr>().map(|p| p.0.ip()),
        resource_tags: None,
    };
    match authorizer.authorize(&request).await {
        Decision::Allow => Ok(()),
        Decision::Deny { resource } => Err(OciError::new(
            OciCode::Denied,
            format!("User: {} is not authorized to perform: {action} on resource: {resource}", holder.arn),
        )
        .with_status(StatusCode::FORBIDDEN)),
    }
}

impl Route<'_> {
    fn repository(&self) -> &str {
        match self {
            Route::Tags(n)
            | Route::Manifest(n, _)
            | Route::UploadStart(n)
            | Route::Upload(n, _)
            | Route::Blob(n, _)
            | Route::Referrers(n, _) => n,
        }
    }
}

pub(crate) fn parse_digest(text: &str) -> Result<Digest, OciError> {
    Digest::parse(text).map_err(|e| OciError::new(OciCode::DigestInvalid, e.to_string()))
}

pub(crate) fn name_unknown(name: &str) -> OciError {
    OciError::new(OciCode::NameUnknown, format!("The repository with name '{name}' does not exist in the registry"))
}

/// The repository, or NAME_UNKNOWN; created first when `create` and create-on-push is on.
pub(crate) async fn repository(state: &State, name: &str, create: bool) -> Result<RepositoryRecord, OciError> {
    if let Some(r) = state.store.repository(name).await? {
        return Ok(r);
    }
    if create && state.config.create_on_push {
        state.store.create_repository(&crate::ecr::new_repository_record(name)).await?;
        if let Some(r) = state.store.repository(name).await? {
            return Ok(r);
        }
    }
    Err(name_unknown(name))
}

pub(crate) fn header_str(headers: &HeaderMap, name: impl header::AsHeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

pub(crate) fn response(status: StatusCode, headers: &[(&str, String)], body: Body) -> Response {
    let mut r = Response::new(body);
    *r.status_mut() = status;
    for (k, v) in headers {
        if let (Ok(k), Ok(v)) = (header::HeaderName::try_from(*k), HeaderValue::from_str(v)) {
            r.headers_mut().insert(k, v);
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        let d = "sha256:".to_string() + &"a".repeat(64);
        assert_eq!(parse_route("a/b/tags/list").unwrap(), Route::Tags("a/b"));
        assert_eq!(parse_route("a/manifests/latest").unwrap(), Route::Manifest("a", "latest"));
        assert_eq!(parse_route("x/y/blobs/uploads/").unwrap(), Route::UploadStart("x/y"));
        assert_eq!(parse_route("x/blobs/uploads/abc").unwrap(), Route::Upload("x", "abc"));
        assert_eq!(parse_route(&format!("x/blobs/{d}")).unwrap(), Route::Blob("x", &d));
        assert_eq!(parse_route(&format!("x/referrers/{d}")).unwrap(), Route::Referrers("x", &d));
        assert_eq!(parse_route("blobs/manifests/latest").unwrap(), Route::Manifest("blobs", "latest"));
        for bad in ["../etc/manifests/x", "a/../b/tags/list", "/a/tags/list", "A/tags/list", "tags/list", "a/nothing"] {
            assert!(parse_route(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_route("../x/tags/list").unwrap_err().code, OciCode::NameInvalid);
    }
}
