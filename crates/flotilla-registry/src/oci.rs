//! The OCI distribution API (v1.1) under `/v2/`: blobs, uploads, manifests, tags and
//! referrers, with the spec's headers and error codes. Every request needs HTTP Basic
//! authentication with user `AWS` and a registry token.

use crate::digest::{Algorithm, Digest, Hasher};
use crate::error::{OciCode, OciError};
use crate::manifest::{self, MAX_MANIFEST_BYTES, OCI_INDEX};
use crate::name::{is_valid_repository_name, is_valid_tag};
use crate::store::{DeleteManifest, ManifestRecord, PutManifest, RepositoryRecord, UploadRecord};
use crate::{State, now_secs};
use axum::Router;
use axum::body::Body;
use axum::extract::{Query, Request};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use flotilla_domain::Timestamp;
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use std::collections::HashMap;
use std::sync::Arc;

type Answer = Result<Response, OciError>;

const API_VERSION: &str = "Docker-Distribution-API-Version";
const CONTENT_DIGEST: &str = "Docker-Content-Digest";
const UPLOAD_UUID: &str = "Docker-Upload-UUID";

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
    let authorized = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| state.tokens.verify_basic(v, now_secs()));
    let mut response = if authorized {
        next.run(request).await
    } else {
        OciError::new(OciCode::Unauthorized, "authentication required").into_response()
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
    let name = match &route {
        Route::Tags(n)
        | Route::Manifest(n, _)
        | Route::UploadStart(n)
        | Route::Upload(n, _)
        | Route::Blob(n, _)
        | Route::Referrers(n, _) => *n,
    };
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
        return catalog(state, &query).await;
    }
    let route = parse_route(path)?;
    let (parts, body) = request.into_parts();
    let headers = &parts.headers;
    match (route, method) {
        (Route::Tags(name), Method::GET) => list_tags(state, name, &query).await,
        (Route::Manifest(name, r), Method::GET) => get_manifest(state, name, r, true).await,
        (Route::Manifest(name, r), Method::HEAD) => get_manifest(state, name, r, false).await,
        (Route::Manifest(name, r), Method::PUT) => put_manifest(state, name, r, headers, body).await,
        (Route::Manifest(name, r), Method::DELETE) => delete_manifest(state, name, r).await,
        (Route::Blob(name, d), Method::GET) => get_blob(state, name, d, headers, true).await,
        (Route::Blob(name, d), Method::HEAD) => get_blob(state, name, d, headers, false).await,
        (Route::Blob(name, d), Method::DELETE) => delete_blob(state, name, d).await,
        (Route::UploadStart(name), Method::POST) => start_upload(state, name, &query, headers, body).await,
        (Route::Upload(name, id), Method::GET) => upload_status(state, name, id).await,
        (Route::Upload(name, id), Method::PATCH) => patch_upload(state, name, id, headers, body).await,
        (Route::Upload(name, id), Method::PUT) => complete_upload(state, name, id, &query, headers, body).await,
        (Route::Upload(name, id), Method::DELETE) => cancel_upload(state, name, id).await,
        (Route::Referrers(name, d), Method::GET) => referrers(state, name, d, &query).await,
        (_, method) => {
            Err(OciError::new(OciCode::Unsupported, format!("method {method} is not supported on /v2/{path}")))
        }
    }
}

fn parse_digest(text: &str) -> Result<Digest, OciError> {
    Digest::parse(text).map_err(|e| OciError::new(OciCode::DigestInvalid, e.to_string()))
}

fn name_unknown(name: &str) -> OciError {
    OciError::new(OciCode::NameUnknown, format!("The repository with name '{name}' does not exist in the registry"))
}

/// The repository, or NAME_UNKNOWN; created first when `create` and create-on-push is on.
async fn repository(state: &State, name: &str, create: bool) -> Result<RepositoryRecord, OciError> {
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

fn header_str(headers: &HeaderMap, name: impl header::AsHeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn response(status: StatusCode, headers: &[(&str, String)], body: Body) -> Response {
    let mut r = Response::new(body);
    *r.status_mut() = status;
    for (k, v) in headers {
        if let (Ok(k), Ok(v)) = (header::HeaderName::try_from(*k), HeaderValue::from_str(v)) {
            r.headers_mut().insert(k, v);
        }
    }
    r
}

// ---- blobs ----

/// Parses a `Range: bytes=a-b` request header against a blob of `size` bytes into an
/// inclusive byte range; `None` when the header is absent, an error when unsatisfiable.
pub(crate) fn parse_range(value: Option<&str>, size: u64) -> Result<Option<(u64, u64)>, ()> {
    let Some(value) = value else { return Ok(None) };
    let spec = value.trim().strip_prefix("bytes=").ok_or(())?;
    if spec.contains(',') {
        return Err(());
    }
    let (a, b) = spec.split_once('-').ok_or(())?;
    let (start, end) = match (a.trim(), b.trim()) {
        ("", suffix) => {
            let n: u64 = suffix.parse().map_err(|_| ())?;
            if n == 0 {
                return Err(());
            }
            (size.saturating_sub(n), size.checked_sub(1).ok_or(())?)
        }
        (start, "") => (start.parse().map_err(|_| ())?, size.checked_sub(1).ok_or(())?),
        (start, end) => {
            let end: u64 = end.parse().map_err(|_| ())?;
            (start.parse().map_err(|_| ())?, end.min(size.saturating_sub(1)))
        }
    };
    if start > end || start >= size {
        return Err(());
    }
    Ok(Some((start, end)))
}

async fn get_blob(state: &State, name: &str, digest: &str, headers: &HeaderMap, with_body: bool) -> Answer {
    let digest = parse_digest(digest)?;
    repository(state, name, false).await?;
    let size = state
        .store
        .repository_blob(name, digest.as_str())
        .await?
        .ok_or_else(|| OciError::new(OciCode::BlobUnknown, format!("blob {digest} is not in repository {name}")))?
        as u64;
    let range = parse_range(header_str(headers, header::RANGE), size).map_err(|()| {
        OciError::new(OciCode::RangeInvalid, format!("the requested range is not satisfiable for a {size}-byte blob"))
    })?;
    let (status, start, len) = match range {
        Some((a, b)) => (StatusCode::PARTIAL_CONTENT, a, b - a + 1),
        None => (StatusCode::OK, 0, size),
    };
    let mut out = vec![
        (CONTENT_DIGEST, digest.to_string()),
        ("content-type", "application/octet-stream".to_string()),
        ("content-length", len.to_string()),
        ("accept-ranges", "bytes".to_string()),
    ];
    if let Some((a, b)) = range {
        out.push(("content-range", format!("bytes {a}-{b}/{size}")));
    }
    let body =
        if with_body { Body::from_stream(state.files.read_blob(&digest, start, len).await?) } else { Body::empty() };
    Ok(response(status, &out, body))
}

async fn delete_blob(state: &State, name: &str, digest: &str) -> Answer {
    let digest = parse_digest(digest)?;
    repository(state, name, false).await?;
    if !state.store.unlink_blob(name, digest.as_str()).await? {
        return Err(OciError::new(OciCode::BlobUnknown, format!("blob {digest} is not in repository {name}")));
    }
    Ok(response(StatusCode::ACCEPTED, &[], Body::empty()))
}

fn upload_location(name: &str, id: &str) -> String {
    format!("/v2/{name}/blobs/uploads/{id}")
}

fn range_header(committed: i64) -> String {
    format!("0-{}", (committed - 1).max(0))
}

fn blob_created(name: &str, digest: &Digest) -> Response {
    response(
        StatusCode::CREATED,
        &[
            ("location", format!("/v2/{name}/blobs/{digest}")),
            (CONTENT_DIGEST, digest.to_string()),
            ("content-length", "0".into()),
        ],
        Body::empty(),
    )
}

/// Places a verified upload file as a blob and links it to the repository.
pub(crate) async fn commit_blob(
    state: &State,
    name: &str,
    id: &str,
    digest: &Digest,
    size: u64,
) -> Result<(), OciError> {
    let _no_gc = state.gc_lock.read().await;
    if state.store.blob(digest.as_str()).await?.is_some() {
        state.files.remove_upload(id).await?;
    } else {
        state.files.promote(id, digest).await?;
    }
    state.store.link_blob(name, digest.as_str(), size as i64, Timestamp::now()).await?;
    Ok(())
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    header_str(headers, header::CONTENT_LENGTH).and_then(|v| v.parse().ok())
}

fn write_error(e: crate::blobs::WriteError) -> OciError {
    match e {
        crate::blobs::WriteError::Storage(e) => e.into(),
        crate::blobs::WriteError::Body(m) => OciError::new(OciCode::BlobUploadInvalid, m),
        e @ crate::blobs::WriteError::Length { .. } => OciError::new(OciCode::SizeInvalid, e.to_string()),
    }
}

async fn start_upload(
    state: &State,
    name: &str,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
    body: Body,
) -> Answer {
    repository(state, name, true).await?;
    if let (Some(mount), Some(from)) = (query.get("mount"), query.get("from")) {
        let digest = parse_digest(mount)?;
        // Held from the check to the link, so collection cannot remove the blob between.
        let _no_gc = state.gc_lock.read().await;
        if is_valid_repository_name(from)
            && let Some(size) = state.store.repository_blob(from, digest.as_str()).await?
        {
            state.store.link_blob(name, digest.as_str(), size, Timestamp::now()).await?;
            return Ok(blob_created(name, &digest));
        }
    }
    let id = uuid::Uuid::new_v4().to_string();
    if let Some(digest) = query.get("digest") {
        let digest = parse_digest(digest)?;
        state.files.create_upload(&id).await?;
        let mut hasher = Hasher::new(digest.algorithm());
        let limit = content_length(headers);
        let written = match state.files.append(&id, 0, body.into_data_stream(), Some(&mut hasher), limit).await {
            Ok(n) => n,
            Err(e) => {
                state.files.remove_upload(&id).await?;
                return Err(write_error(e));
            }
        };
        let actual = hasher.finish();
        if actual != digest {
            state.files.remove_upload(&id).await?;
            return Err(digest_mismatch(&digest, &actual));
        }
        commit_blob(state, name, &id, &digest, written).await?;
        return Ok(blob_created(name, &digest));
    }
    state.files.create_upload(&id).await?;
    state
        .store
        .create_upload(&UploadRecord {
            id: id.clone(),
            repository: name.to_string(),
            committed: 0,
            started_at: Timestamp::now(),
        })
        .await?;
    Ok(response(
        StatusCode::ACCEPTED,
        &[
            ("location", upload_location(name, &id)),
            ("range", "0-0".into()),
            (UPLOAD_UUID, id.clone()),
            ("content-length", "0".into()),
        ],
        Body::empty(),
    ))
}

fn digest_mismatch(expected: &Digest, actual: &Digest) -> OciError {
    OciError::new(OciCode::DigestInvalid, format!("the uploaded content has digest {actual}, not {expected}"))
        .with_detail(serde_json::json!({ "expected": expected.as_str(), "actual": actual.as_str() }))
}

async fn find_upload(state: &State, name: &str, id: &str) -> Result<UploadRecord, OciError> {
    // Ids are UUIDs this registry made; anything else never names an upload (or a file).
    let known = if uuid::Uuid::parse_str(id).is_ok() { state.store.upload(id).await? } else { None };
    match known {
        Some(u) if u.repository == name => Ok(u),
        _ => Err(OciError::new(
            OciCode::BlobUploadUnknown,
            format!("upload {id} is not in progress in repository {name}"),
        )),
    }
}

fn upload_accepted(name: &str, id: &str, committed: i64, status: StatusCode) -> Response {
    response(
        status,
        &[
            ("location", upload_location(name, id)),
            ("range", range_header(committed)),
            (UPLOAD_UUID, id.to_string()),
            ("content-length", "0".into()),
        ],
        Body::empty(),
    )
}

async fn upload_status(state: &State, name: &str, id: &str) -> Answer {
    let upload = find_upload(state, name, id).await?;
    Ok(upload_accepted(name, id, upload.committed, StatusCode::NO_CONTENT))
}

/// Parses `Content-Range: <start>-<end>` (also tolerating a `bytes ` prefix and `/size`).
pub(crate) fn parse_content_range(value: &str) -> Option<(u64, u64)> {
    let v = value.trim().trim_start_matches("bytes").trim();
    let v = v.split('/').next()?;
    let (a, b) = v.split_once('-')?;
    let (a, b) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
    (a <= b).then_some((a, b))
}

/// Appends a request body to an upload, checking its Content-Range; returns the new
/// committed length.
pub(crate) async fn append_chunk(
    state: &State,
    upload: &UploadRecord,
    headers: &HeaderMap,
    body: Body,
    session: &mut Option<(u64, Hasher)>,
) -> Result<i64, OciError> {
    let committed = upload.committed as u64;
    let mut limit = content_length(headers);
    if let Some(range) = header_str(headers, header::CONTENT_RANGE) {
        let (start, end) = parse_content_range(range)
            .ok_or_else(|| OciError::new(OciCode::RangeInvalid, format!("malformed Content-Range '{range}'")))?;
        if start != committed {
            return Err(OciError::new(
                OciCode::RangeInvalid,
                format!("chunk starts at byte {start}, but the upload has {committed} bytes"),
            ));
        }
        let len = end - start + 1;
        if limit.is_some_and(|l| l != len) {
            return Err(OciError::new(OciCode::SizeInvalid, "Content-Length does not match the Content-Range"));
        }
        limit = Some(len);
    }
    // Keep the running hash only if it covers exactly the committed bytes.
    let mut hasher = match session.take() {
        Some((offset, h)) if offset == committed => Some(h),
        _ if committed == 0 => Some(Hasher::new(Algorithm::Sha256)),
        _ => None,
    };
    let mut scratch = hasher.clone();
    let written = state
        .files
        .append(&upload.id, committed, body.into_data_stream(), scratch.as_mut(), limit)
        .await
        .map_err(write_error)?;
    hasher = scratch;
    let total = committed + written;
    state.store.set_upload_committed(&upload.id, total as i64).await?;
    *session = hasher.map(|h| (total, h));
    Ok(total as i64)
}

async fn patch_upload(state: &State, name: &str, id: &str, headers: &HeaderMap, body: Body) -> Answer {
    let session = state.session(id);
    let mut session = session.lock().await;
    let upload = find_upload(state, name, id).await?;
    let committed = append_chunk(state, &upload, headers, body, &mut session).await?;
    Ok(upload_accepted(name, id, committed, StatusCode::ACCEPTED))
}

/// Verifies a complete upload against `digest` and commits it as a blob.
pub(crate) async fn finish_upload(
    state: &State,
    upload: &UploadRecord,
    digest: &Digest,
    session: &mut Option<(u64, Hasher)>,
) -> Result<(), OciError> {
    let committed = upload.committed as u64;
    let actual = match session.take() {
        Some((offset, h)) if offset == committed && h.algorithm() == digest.algorithm() => h.finish(),
        _ => state.files.hash_upload(&upload.id, digest.algorithm()).await?.0,
    };
    if actual != *digest {
        return Err(digest_mismatch(digest, &actual));
    }
    commit_blob(state, &upload.repository, &upload.id, digest, committed).await?;
    state.store.delete_upload(&upload.id).await?;
    state.forget_session(&upload.id);
    Ok(())
}

async fn complete_upload(
    state: &State,
    name: &str,
    id: &str,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
    body: Body,
) -> Answer {
    let digest = query.get("digest").ok_or_else(|| {
        OciError::new(OciCode::DigestInvalid, "completing an upload needs the digest query parameter")
    })?;
    let digest = parse_digest(digest)?;
    let session = state.session(id);
    let mut session = session.lock().await;
    let mut upload = find_upload(state, name, id).await?;
    // A final chunk may come with the PUT; only an explicit empty body means none.
    if content_length(headers) != Some(0) {
        upload.committed = append_chunk(state, &upload, headers, body, &mut session).await?;
    }
    finish_upload(state, &upload, &digest, &mut session).await?;
    Ok(blob_created(name, &digest))
}

async fn cancel_upload(state: &State, name: &str, id: &str) -> Answer {
    let session = state.session(id);
    let _session = session.lock().await;
    find_upload(state, name, id).await?;
    state.store.delete_upload(id).await?;
    state.files.remove_upload(id).await?;
    state.forget_session(id);
    Ok(response(StatusCode::NO_CONTENT, &[("content-length", "0".into())], Body::empty()))
}

// ---- manifests ----

/// A manifest reference: a digest or a tag.
enum Reference {
    Digest(Digest),
    Tag(String),
}

fn parse_reference(reference: &str) -> Result<Reference, OciError> {
    if reference.contains(':') {
        return parse_digest(reference).map(Reference::Digest);
    }
    if !is_valid_tag(reference) {
        return Err(OciError::new(OciCode::TagInvalid, format!("invalid tag '{reference}'")));
    }
    Ok(Reference::Tag(reference.to_string()))
}

fn manifest_unknown(name: &str, reference: &str) -> OciError {
    OciError::new(OciCode::ManifestUnknown, format!("manifest {reference} is not in repository {name}"))
}

async fn resolve(state: &State, name: &str, reference: &str) -> Result<ManifestRecord, OciError> {
    let digest = match parse_reference(reference)? {
        Reference::Digest(d) => d.to_string(),
        Reference::Tag(t) => {
            state.store.resolve_tag(name, &t).await?.ok_or_else(|| manifest_unknown(name, reference))?
        }
    };
    state.store.manifest(name, &digest).await?.ok_or_else(|| manifest_unknown(name, reference))
}

async fn get_manifest(state: &State, name: &str, reference: &str, with_body: bool) -> Answer {
    repository(state, name, false).await?;
    let m = resolve(state, name, reference).await?;
    let headers = [
        ("content-type", m.media_type.clone()),
        (CONTENT_DIGEST, m.digest.clone()),
        ("content-length", m.size.to_string()),
    ];
    Ok(response(StatusCode::OK, &headers, if with_body { Body::from(m.body) } else { Body::empty() }))
}

/// The message ECR gives when an immutable tag would move.
pub(crate) fn immutable_tag_message(name: &str, tag: &str) -> String {
    format!(
        "The image tag '{tag}' already exists in the '{name}' repository and cannot be overwritten because the \
         repository is immutable."
    )
}

async fn put_manifest(state: &State, name: &str, reference: &str, headers: &HeaderMap, body: Body) -> Answer {
    let reference = parse_reference(reference)?;
    if content_length(headers).is_some_and(|l| l > MAX_MANIFEST_BYTES as u64) {
        return Err(too_large());
    }
    let body = axum::body::to_bytes(body, MAX_MANIFEST_BYTES).await.map_err(|_| too_large())?;
    repository(state, name, true).await?;
    let parsed = manifest::parse(&body, header_str(headers, header::CONTENT_TYPE))
        .map_err(|e| OciError::new(OciCode::ManifestInvalid, e.to_string()))?;
    let (digest, tag) = match reference {
        Reference::Digest(d) => {
            let actual = Digest::of(d.algorithm(), &body);
            if actual != d {
                return Err(digest_mismatch(&d, &actual));
            }
            (d, None)
        }
        Reference::Tag(t) => (Digest::sha256_of(&body), Some(t)),
    };
    let record = ManifestRecord {
        repository: name.to_string(),
        digest: digest.to_string(),
        media_type: parsed.media_type,
        artifact_type: parsed.artifact_type,
        subject: parsed.subject.clone(),
        size: body.len() as i64,
        image_size: parsed.image_size,
        body: body.to_vec(),
        pushed_at: Timestamp::now(),
    };
    match state.store.put_manifest(&record, &parsed.references, tag.as_deref()).await? {
        PutManifest::Stored { .. } => {}
        PutManifest::RepositoryNotFound => return Err(name_unknown(name)),
        PutManifest::MissingReferences(missing) => {
            return Err(OciError::new(
                OciCode::ManifestBlobUnknown,
                format!("the manifest references {} that repository {name} does not have", missing.join(", ")),
            )
            .with_detail(serde_json::json!({ "digests": missing })));
        }
        PutManifest::SizeMismatch { digest, declared, actual } => {
            return Err(OciError::new(
                OciCode::ManifestInvalid,
                format!("the manifest gives blob {digest} a size of {declared} bytes, but it has {actual}"),
            ));
        }
        PutManifest::TagImmutable => {
            return Err(OciError::new(OciCode::TagInvalid, immutable_tag_message(name, tag.as_deref().unwrap_or(""))));
        }
    }
    let mut out = vec![
        ("location", format!("/v2/{name}/manifests/{digest}")),
        (CONTENT_DIGEST, digest.to_string()),
        ("content-length", "0".into()),
    ];
    if let Some(subject) = parsed.subject {
        out.push(("OCI-Subject", subject));
    }
    Ok(response(StatusCode::CREATED, &out, Body::empty()))
}

fn too_large() -> OciError {
    OciError::new(OciCode::SizeInvalid, format!("the manifest is larger than the limit of {MAX_MANIFEST_BYTES} bytes"))
        .with_status(StatusCode::PAYLOAD_TOO_LARGE)
}

async fn delete_manifest(state: &State, name: &str, reference: &str) -> Answer {
    repository(state, name, false).await?;
    match parse_reference(reference)? {
        Reference::Tag(tag) => {
            if !state.store.delete_tag(name, &tag).await? {
                return Err(manifest_unknown(name, reference));
            }
        }
        Reference::Digest(d) => match state.store.delete_manifest(name, d.as_str()).await? {
            DeleteManifest::Deleted { .. } => {}
            DeleteManifest::NotFound => return Err(manifest_unknown(name, reference)),
            DeleteManifest::ReferencedByIndex => {
                return Err(OciError::new(
                    OciCode::Denied,
                    format!("manifest {d} is referenced by an index in repository {name}"),
                ));
            }
        },
    }
    Ok(response(StatusCode::ACCEPTED, &[("content-length", "0".into())], Body::empty()))
}

// ---- tags and referrers ----

/// Reads the `n` query parameter of a paginated list.
fn page_size(query: &HashMap<String, String>) -> Result<Option<i64>, OciError> {
    query
        .get("n")
        .map(|n| {
            n.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| {
                OciError::new(OciCode::Unsupported, format!("n must be a non-negative integer, not '{n}'"))
                    .with_status(StatusCode::BAD_REQUEST)
            })
        })
        .transpose()
}

/// `GET /v2/_catalog`: repository names, paginated like tags (a Docker registry extension).
async fn catalog(state: &State, query: &HashMap<String, String>) -> Answer {
    let n = page_size(query)?;
    let last = query.get("last").map(String::as_str);
    let limit = n.map_or(10_000, |n| n + 1);
    let mut names: Vec<String> =
        state.store.list_repositories(last, limit).await?.into_iter().map(|r| r.name).collect();
    let mut out = vec![("content-type", "application/json".to_string())];
    if let Some(n) = n
        && names.len() as i64 > n
    {
        names.truncate(n as usize);
        if let Some(last) = names.last() {
            out.push(("link", format!("</v2/_catalog?n={n}&last={last}>; rel=\"next\"")));
        }
    }
    let body = serde_json::to_vec(&serde_json::json!({ "repositories": names })).unwrap_or_default();
    Ok(response(StatusCode::OK, &out, Body::from(body)))
}

async fn list_tags(state: &State, name: &str, query: &HashMap<String, String>) -> Answer {
    repository(state, name, false).await?;
    let n = page_size(query)?;
    let last = query.get("last").map(String::as_str);
    let mut tags = state.store.list_tags(name, last, n.map_or(-1, |n| n + 1)).await?;
    let mut out = vec![("content-type", "application/json".to_string())];
    if let Some(n) = n
        && tags.len() as i64 > n
    {
        tags.truncate(n as usize);
        if let Some(last) = tags.last() {
            out.push(("link", format!("</v2/{name}/tags/list?n={n}&last={last}>; rel=\"next\"")));
        }
    }
    let body = serde_json::to_vec(&serde_json::json!({ "name": name, "tags": tags })).unwrap_or_default();
    Ok(response(StatusCode::OK, &out, Body::from(body)))
}

async fn referrers(state: &State, name: &str, digest: &str, query: &HashMap<String, String>) -> Answer {
    let digest = parse_digest(digest)?;
    repository(state, name, false).await?;
    let filter = query.get("artifactType");
    let mut manifests = Vec::new();
    for row in state.store.referrers(name, digest.as_str()).await? {
        if filter.is_some_and(|f| row.artifact_type.as_ref() != Some(f)) {
            continue;
        }
        let mut entry = serde_json::json!({ "mediaType": row.media_type, "digest": row.digest, "size": row.size });
        if let Some(t) = &row.artifact_type {
            entry["artifactType"] = t.clone().into();
        }
        if let Some(m) = state.store.manifest(name, &row.digest).await?
            && let Ok(doc) = serde_json::from_slice::<serde_json::Value>(&m.body)
            && let Some(a) = doc.get("annotations")
        {
            entry["annotations"] = a.clone();
        }
        manifests.push(entry);
    }
    let body = serde_json::json!({ "schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests });
    let mut out = vec![("content-type", OCI_INDEX.to_string())];
    if filter.is_some() {
        out.push(("OCI-Filters-Applied", "artifactType".into()));
    }
    Ok(response(StatusCode::OK, &out, Body::from(serde_json::to_vec(&body).unwrap_or_default())))
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

    #[test]
    fn ranges() {
        assert_eq!(parse_range(None, 10), Ok(None));
        assert_eq!(parse_range(Some("bytes=0-4"), 10), Ok(Some((0, 4))));
        assert_eq!(parse_range(Some("bytes=5-"), 10), Ok(Some((5, 9))));
        assert_eq!(parse_range(Some("bytes=-3"), 10), Ok(Some((7, 9))));
        assert_eq!(parse_range(Some("bytes=8-100"), 10), Ok(Some((8, 9))));
        for bad in ["bytes=10-11", "bytes=5-2", "items=0-1", "bytes=0-1,3-4", "bytes=x-1", "bytes=-0"] {
            assert!(parse_range(Some(bad), 10).is_err(), "{bad}");
        }
        assert_eq!(parse_content_range("0-99"), Some((0, 99)));
        assert_eq!(parse_content_range("bytes 100-199/*"), Some((100, 199)));
        assert_eq!(parse_content_range("5-1"), None);
    }
}
