//! Manifests: PUT (validated, references checked, tag immutability enforced), GET,
//! HEAD and DELETE, by tag or by digest.

use super::blobs::{content_length, digest_mismatch};
use super::{Answer, CONTENT_DIGEST, header_str, name_unknown, parse_digest, repository, response};
use crate::State;
use crate::digest::Digest;
use crate::error::{OciCode, OciError};
use crate::manifest::{self, MAX_MANIFEST_BYTES};
use crate::name::is_valid_tag;
use crate::store::{DeleteManifest, ManifestRecord, PutManifest};
use axum::body::Body;
use flotilla_domain::Timestamp;
use http::{HeaderMap, StatusCode, header};

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

pub(super) async fn get_manifest(state: &State, name: &str, reference: &str, with_body: bool) -> Answer {
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

pub(super) async fn put_manifest(
    state: &State,
    name: &str,
    reference: &str,
    headers: &HeaderMap,
    body: Body,
) -> Answer {
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
    // Collection must not remove a blob between the check and the manifest claiming it.
    let no_gc = state.no_gc().await?;
    let stored = state.store.put_manifest(&record, &parsed.references, tag.as_deref()).await;
    no_gc.release().await;
    match stored? {
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

pub(super) async fn delete_manifest(state: &State, name: &str, reference: &str) -> Answer {
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
