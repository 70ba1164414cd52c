//! Blobs and uploads: GET/HEAD/DELETE of blobs (with byte ranges), monolithic and
//! chunked uploads with Content-Range order checks, upload status and cancellation,
//! and cross-repository mounts.

use super::{Answer, CONTENT_DIGEST, UPLOAD_UUID, header_str, parse_digest, repository, response};
use crate::State;
use crate::digest::{Algorithm, Digest, Hasher};
use crate::error::{OciCode, OciError};
use crate::name::is_valid_repository_name;
use crate::store::UploadRecord;
use axum::body::Body;
use axum::response::Response;
use flotilla_domain::Timestamp;
use http::{HeaderMap, StatusCode, header};
use std::collections::HashMap;

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

pub(super) async fn get_blob(state: &State, name: &str, digest: &str, headers: &HeaderMap, with_body: bool) -> Answer {
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
    let body = if with_body {
        state.traffic.pulled(len);
        Body::from_stream(state.files.read_blob(&digest, start, len).await?)
    } else {
        Body::empty()
    };
    Ok(response(status, &out, body))
}

pub(super) async fn delete_blob(state: &State, name: &str, digest: &str) -> Answer {
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
    let no_gc = state.no_gc().await?;
    if state.store.blob(digest.as_str()).await?.is_some() {
        state.files.remove_upload(id).await?;
    } else {
        state.files.promote(id, digest).await?;
    }
    state.store.link_blob(name, digest.as_str(), size as i64, Timestamp::now()).await?;
    no_gc.release().await;
    Ok(())
}

pub(super) fn content_length(headers: &HeaderMap) -> Option<u64> {
    header_str(headers, header::CONTENT_LENGTH).and_then(|v| v.parse().ok())
}

fn write_error(e: crate::blobs::WriteError) -> OciError {
    match e {
        crate::blobs::WriteError::Storage(e) => e.into(),
        crate::blobs::WriteError::Body(m) => OciError::new(OciCode::BlobUploadInvalid, m),
        e @ crate::blobs::WriteError::Length { .. } => OciError::new(OciCode::SizeInvalid, e.to_string()),
    }
}

pub(super) async fn start_upload(
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
        let no_gc = state.no_gc().await?;
        if is_valid_repository_name(from)
            && let Some(size) = state.store.repository_blob(from, digest.as_str()).await?
        {
            state.store.link_blob(name, digest.as_str(), size, Timestamp::now()).await?;
            no_gc.release().await;
            return Ok(blob_created(name, &digest));
        }
        no_gc.release().await;
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

pub(super) fn digest_mismatch(expected: &Digest, actual: &Digest) -> OciError {
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

pub(super) async fn upload_status(state: &State, name: &str, id: &str) -> Answer {
    let upload = find_upload(state, name, id).await?;
    Ok(upload_accepted(name, id, upload.committed, StatusCode::NO_CONTENT))
}

/// Parses `Content-Range: <start>-<end>` (also tolerating a `bytes ` prefix and `/size`).
pub(crate) fn parse_content_range(value: &str) -> Option<(u64, u64)> {
    let v = value.trim().trim_start_matches("bytes").trim_start_matches('=').trim();
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

pub(super) async fn patch_upload(state: &State, name: &str, id: &str, headers: &HeaderMap, body: Body) -> Answer {
    // An unknown id stops here, before any session state is made for it.
    find_upload(state, name, id).await?;
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
    state.traffic.pushed(committed);
    state.store.delete_upload(&upload.id).await?;
    state.forget_session(&upload.id);
    Ok(())
}

pub(super) async fn complete_upload(
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
    find_upload(state, name, id).await?;
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

pub(super) async fn cancel_upload(state: &State, name: &str, id: &str) -> Answer {
    find_upload(state, name, id).await?;
    let session = state.session(id);
    let _session = session.lock().await;
    find_upload(state, name, id).await?;
    state.store.delete_upload(id).await?;
    state.files.remove_upload(id).await?;
    state.forget_session(id);
    Ok(response(StatusCode::NO_CONTENT, &[("content-length", "0".into())], Body::empty()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn requests_to_unknown_uploads_leave_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let config = crate::RegistryConfig { endpoint: "http://127.0.0.1:1".into(), create_on_push: true };
        let location = flotilla_db::testing::location(dir.path());
        let account = flotilla_domain::AccountContext::default();
        let registry = crate::Registry::open(dir.path(), &location, account, b"k".to_vec(), config).await.unwrap();
        let state = &registry.state;
        let create = crate::store::RepositoryRecord {
            name: "app".into(),
            created_at: Timestamp(1),
            tag_mutability: "MUTABLE".into(),
            scan_on_push: false,
            encryption_type: "AES256".into(),
            tags: Vec::new(),
            repository_policy: None,
            lifecycle_policy: None,
            lifecycle_evaluated_at: None,
            version: 1,
        };
        state.store.create_repository(&create).await.unwrap();
        for i in 0..200 {
            let id = format!("{i:08}-0000-0000-0000-{}", "0".repeat(12));
            let patched = patch_upload(state, "app", &id, &HeaderMap::new(), Body::from("x")).await;
            assert!(patched.is_err());
            let query = HashMap::from([("digest".to_string(), format!("sha256:{}", "0".repeat(64)))]);
            assert!(complete_upload(state, "app", &id, &query, &HeaderMap::new(), Body::empty()).await.is_err());
            assert!(cancel_upload(state, "app", &id).await.is_err());
        }
        assert_eq!(state.session_count(), 0, "unknown upload ids left sessions behind");
        registry.close().await;
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
        assert_eq!(parse_content_range("bytes=0-9"), Some((0, 9)));
        assert_eq!(parse_content_range("5-1"), None);
    }
}
