//! Images: DescribeImages, ListImages, BatchGetImage, BatchDeleteImage and PutImage.

use super::{AwsError, decode_token, encode_token, epoch, invalid, max_results, repository, server};
use crate::State;
use crate::digest::Digest;
use crate::store::{DeleteManifest, ImageRow, ManifestRecord, PutManifest, Reference};
use flotilla_domain::Timestamp;
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Deserialize, Clone, Debug)]
#[serde(rename_all = "camelCase")]
pub(super) struct ImageId {
    image_digest: Option<String>,
    image_tag: Option<String>,
}

impl ImageId {
    fn to_json(&self) -> Value {
        let mut v = json!({});
        if let Some(d) = &self.image_digest {
            v["imageDigest"] = d.clone().into();
        }
        if let Some(t) = &self.image_tag {
            v["imageTag"] = t.clone().into();
        }
        v
    }
}

fn failure(id: &ImageId, code: &str, reason: impl Into<String>) -> Value {
    json!({ "imageId": id.to_json(), "failureCode": code, "failureReason": reason.into() })
}

/// Resolves an image id to a manifest digest, or an ECR failure code and reason.
async fn resolve(state: &State, repo: &str, id: &ImageId) -> Result<Result<String, (&'static str, String)>, AwsError> {
    let by_tag = match &id.image_tag {
        Some(t) => state.store.resolve_tag(repo, t).await.map_err(server)?,
        None => None,
    };
    Ok(match (&id.image_digest, &id.image_tag) {
        (None, None) => {
            Err(("MissingDigestAndTag", "Invalid request parameters: image digest and tag are missing".into()))
        }
        (Some(d), tag) => {
            if Digest::parse(d).is_err() {
                return Ok(Err(("InvalidImageDigest", format!("Invalid image digest '{d}'"))));
            }
            if tag.is_some() && by_tag.as_deref() != Some(d.as_str()) {
                return Ok(Err((
                    "ImageTagDoesNotMatchDigest",
                    "Invalid image tag: the tag does not match the digest".into(),
                )));
            }
            match state.store.manifest(repo, d).await.map_err(server)? {
                Some(_) => Ok(d.clone()),
                None => Err(("ImageNotFound", "Requested image not found".into())),
            }
        }
        (None, Some(_)) => by_tag.ok_or(("ImageNotFound", "Requested image not found".into())),
    })
}

fn tag_status_matches(filter: Option<&str>, tags: &[String]) -> Result<bool, AwsError> {
    match filter {
        None | Some("ANY") => Ok(true),
        Some("TAGGED") => Ok(!tags.is_empty()),
        Some("UNTAGGED") => Ok(tags.is_empty()),
        Some(other) => {
            Err(invalid(format!("Invalid parameter at 'filter.tagStatus': '{other}' is not TAGGED, UNTAGGED or ANY")))
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct TagFilter {
    tag_status: Option<String>,
}

fn detail(state: &State, repo: &str, i: &ImageRow) -> Value {
    let mut v = json!({
        "registryId": state.account.account_id,
        "repositoryName": repo,
        "imageDigest": i.digest,
        "imageSizeInBytes": i.image_size,
        "imagePushedAt": epoch(i.pushed_at),
        "imageManifestMediaType": i.media_type,
    });
    if !i.tags.is_empty() {
        v["imageTags"] = json!(i.tags);
    }
    if let Some(a) = &i.artifact_type {
        v["artifactMediaType"] = a.clone().into();
    }
    if let Some(s) = &i.subject {
        v["subjectManifestDigest"] = s.clone().into();
    }
    v
}

/// A page of `items` from the offset in `token`.
fn page<T>(items: Vec<T>, token: Option<&str>, limit: i64) -> Result<(Vec<T>, Option<String>), AwsError> {
    let start = match decode_token(token)? {
        Some(t) => t.parse::<usize>().map_err(|_| invalid("Invalid parameter at 'nextToken'"))?,
        None => 0,
    };
    let total = items.len();
    let end = (start + limit as usize).min(total);
    let out: Vec<T> = items.into_iter().skip(start).take(end.saturating_sub(start)).collect();
    Ok((out, (end < total).then(|| encode_token(&end.to_string()))))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct DescribeImages {
    registry_id: Option<String>,
    repository_name: String,
    image_ids: Option<Vec<ImageId>>,
    next_token: Option<String>,
    max_results: Option<i64>,
    filter: Option<TagFilter>,
}

pub(super) async fn describe_images(state: &State, input: DescribeImages) -> Result<Value, AwsError> {
    let r = repository(state, input.registry_id.as_deref(), &input.repository_name).await?;
    let images = state.store.images(&r.name).await.map_err(server)?;
    if let Some(ids) = input.image_ids {
        let mut out = Vec::new();
        for id in &ids {
            match resolve(state, &r.name, id).await? {
                Ok(d) => {
                    if let Some(i) = images.iter().find(|i| i.digest == d) {
                        out.push(detail(state, &r.name, i));
                    }
                }
                Err(("ImageNotFound", _)) => {
                    return Err(AwsError::client(
                        "ImageNotFoundException",
                        format!(
                            "The image with imageId {} does not exist within the repository with name '{}' in the \
                             registry with id '{}'",
                            id.to_json(),
                            r.name,
                            state.account.account_id
                        ),
                    ));
                }
                Err((_, reason)) => return Err(invalid(reason)),
            }
        }
        return Ok(json!({ "imageDetails": out }));
    }
    let filter = input.filter.and_then(|f| f.tag_status);
    let mut selected = Vec::new();
    for i in images {
        if tag_status_matches(filter.as_deref(), &i.tags)? {
            selected.push(i);
        }
    }
    let limit = max_results(input.max_results, 1000, 100)?;
    let (items, next) = page(selected, input.next_token.as_deref(), limit)?;
    let mut out = json!({ "imageDetails": items.iter().map(|i| detail(state, &r.name, i)).collect::<Vec<_>>() });
    if let Some(n) = next {
        out["nextToken"] = n.into();
    }
    Ok(out)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ListImages {
    registry_id: Option<String>,
    repository_name: String,
    next_token: Option<String>,
    max_results: Option<i64>,
    filter: Option<TagFilter>,
}

pub(super) async fn list_images(state: &State, input: ListImages) -> Result<Value, AwsError> {
    let r = repository(state, input.registry_id.as_deref(), &input.repository_name).await?;
    let filter = input.filter.and_then(|f| f.tag_status);
    let mut ids = Vec::new();
    for i in state.store.images(&r.name).await.map_err(server)? {
        if !tag_status_matches(filter.as_deref(), &i.tags)? {
            continue;
        }
        if i.tags.is_empty() {
            ids.push(json!({ "imageDigest": i.digest }));
        }
        for t in &i.tags {
            ids.push(json!({ "imageDigest": i.digest, "imageTag": t }));
        }
    }
    let limit = max_results(input.max_results, 1000, 100)?;
    let (items, next) = page(ids, input.next_token.as_deref(), limit)?;
    let mut out = json!({ "imageIds": items });
    if let Some(n) = next {
        out["nextToken"] = n.into();
    }
    Ok(out)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct BatchGetImage {
    registry_id: Option<String>,
    repository_name: String,
    image_ids: Vec<ImageId>,
    accepted_media_types: Option<Vec<String>>,
}

fn image_json(state: &State, m: &ManifestRecord, tag: Option<&str>) -> Value {
    let mut id = json!({ "imageDigest": m.digest });
    if let Some(t) = tag {
        id["imageTag"] = t.into();
    }
    json!({
        "registryId": state.account.account_id,
        "repositoryName": m.repository,
        "imageId": id,
        "imageManifest": String::from_utf8_lossy(&m.body),
        "imageManifestMediaType": m.media_type,
    })
}

pub(super) async fn batch_get_image(state: &State, input: BatchGetImage) -> Result<Value, AwsError> {
    let r = repository(state, input.registry_id.as_deref(), &input.repository_name).await?;
    if input.image_ids.is_empty() || input.image_ids.len() > 100 {
        return Err(invalid("Invalid parameter at 'imageIds': between 1 and 100 image ids are required"));
    }
    let (mut images, mut failures) = (Vec::new(), Vec::new());
    for id in &input.image_ids {
        match resolve(state, &r.name, id).await? {
            Ok(d) => match state.store.manifest(&r.name, &d).await.map_err(server)? {
                Some(m)
                    if input
                        .accepted_media_types
                        .as_ref()
                        .is_none_or(|a| a.is_empty() || a.contains(&m.media_type)) =>
                {
                    images.push(image_json(state, &m, id.image_tag.as_deref()));
                }
                Some(m) => failures.push(failure(
                    id,
                    "UnsupportedImageType",
                    format!("the image's media type {} is not among the accepted media types", m.media_type),
                )),
                None => failures.push(failure(id, "ImageNotFound", "Requested image not found")),
            },
            Err((code, reason)) => failures.push(failure(id, code, reason)),
        }
    }
    Ok(json!({ "images": images, "failures": failures }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct BatchDeleteImage {
    registry_id: Option<String>,
    repository_name: String,
    image_ids: Vec<ImageId>,
}

/// Deletes a manifest and returns the image ids it had, or a failure.
pub(crate) async fn delete_image(
    state: &State,
    repo: &str,
    digest: &str,
) -> Result<Result<Vec<Value>, (&'static str, String)>, AwsError> {
    Ok(match state.store.delete_manifest(repo, digest).await.map_err(server)? {
        DeleteManifest::Deleted { tags } if tags.is_empty() => Ok(vec![json!({ "imageDigest": digest })]),
        DeleteManifest::Deleted { tags } => {
            Ok(tags.iter().map(|t| json!({ "imageDigest": digest, "imageTag": t })).collect())
        }
        DeleteManifest::NotFound => Err(("ImageNotFound", "Requested image not found".into())),
        DeleteManifest::ReferencedByIndex => Err((
            "ImageReferencedByManifestList",
            "Requested image is referenced by an image index in the repository".into(),
        )),
    })
}

pub(super) async fn batch_delete_image(state: &State, input: BatchDeleteImage) -> Result<Value, AwsError> {
    let r = repository(state, input.registry_id.as_deref(), &input.repository_name).await?;
    if input.image_ids.is_empty() || input.image_ids.len() > 100 {
        return Err(invalid("Invalid parameter at 'imageIds': between 1 and 100 image ids are required"));
    }
    let (mut deleted, mut failures) = (Vec::new(), Vec::new());
    for id in &input.image_ids {
        let digest = match resolve(state, &r.name, id).await? {
            Ok(d) => d,
            Err((code, reason)) => {
                failures.push(failure(id, code, reason));
                continue;
            }
        };
        if let (None, Some(tag)) = (&id.image_digest, &id.image_tag) {
            // By tag: remove the tag; the image goes with its last tag, as in ECR.
            let others = state.store.images(&r.name).await.map_err(server)?;
            let tags = others.iter().find(|i| i.digest == digest).map(|i| i.tags.len()).unwrap_or(0);
            if tags > 1 {
                state.store.delete_tag(&r.name, tag).await.map_err(server)?;
                deleted.push(json!({ "imageDigest": digest, "imageTag": tag }));
                continue;
            }
        }
        match delete_image(state, &r.name, &digest).await? {
            Ok(ids) => deleted.extend(ids),
            Err((code, reason)) => failures.push(failure(id, code, reason)),
        }
    }
    Ok(json!({ "imageIds": deleted, "failures": failures }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct PutImage {
    registry_id: Option<String>,
    repository_name: String,
    image_manifest: String,
    image_manifest_media_type: Option<String>,
    image_tag: Option<String>,
    image_digest: Option<String>,
}

pub(super) async fn put_image(state: &State, input: PutImage) -> Result<Value, AwsError> {
    let r = repository(state, input.registry_id.as_deref(), &input.repository_name).await?;
    let body = input.image_manifest.into_bytes();
    if body.len() > crate::manifest::MAX_MANIFEST_BYTES {
        return Err(invalid("Invalid parameter at 'imageManifest': the manifest is larger than 4 MiB"));
    }
    if let Some(t) = &input.image_tag
        && !crate::name::is_valid_tag(t)
    {
        return Err(invalid(format!("Invalid parameter at 'imageTag': '{t}' is not a valid tag")));
    }
    let parsed = crate::manifest::parse(&body, input.image_manifest_media_type.as_deref())
        .map_err(|e| invalid(format!("Invalid parameter at 'ImageManifest' failed to satisfy constraint: '{e}'")))?;
    let digest = match &input.image_digest {
        Some(d) => {
            let d = Digest::parse(d).map_err(|e| invalid(format!("Invalid parameter at 'imageDigest': {e}")))?;
            let actual = Digest::of(d.algorithm(), &body);
            if actual != d {
                return Err(AwsError::client(
                    "ImageDigestDoesNotMatchException",
                    format!("Invalid parameter at 'imageDigest': the manifest's digest is {actual}, not {d}"),
                ));
            }
            d
        }
        None => Digest::sha256_of(&body),
    };
    let existing = state.store.manifest(&r.name, digest.as_str()).await.map_err(server)?;
    let current = match &input.image_tag {
        Some(t) => state.store.resolve_tag(&r.name, t).await.map_err(server)?,
        None => None,
    };
    if existing.is_some() && (input.image_tag.is_none() || current.as_deref() == Some(digest.as_str())) {
        return Err(AwsError::client(
            "ImageAlreadyExistsException",
            format!(
                "Image with digest '{digest}' and tag '{}' already exists in the repository with name '{}' in \
                 registry with id '{}'",
                input.image_tag.as_deref().unwrap_or(""),
                r.name,
                state.account.account_id
            ),
        ));
    }
    let record = ManifestRecord {
        repository: r.name.clone(),
        digest: digest.to_string(),
        media_type: parsed.media_type,
        artifact_type: parsed.artifact_type,
        subject: parsed.subject,
        size: body.len() as i64,
        image_size: parsed.image_size,
        body,
        pushed_at: Timestamp::now(),
    };
    // Collection must not remove a blob between the check and the manifest claiming it.
    let no_gc = state.no_gc().await.map_err(server)?;
    let stored = state.store.put_manifest(&record, &parsed.references, input.image_tag.as_deref()).await;
    no_gc.release().await;
    match stored.map_err(server)? {
        PutManifest::Stored { .. } => {}
        PutManifest::RepositoryNotFound => return Err(super::repository_not_found(state, &r.name)),
        PutManifest::MissingReferences(missing) => {
            let manifests = parsed
                .references
                .iter()
                .any(|x| matches!(x, Reference::Manifest { digest } if missing.contains(digest)));
            let (code, what) = if manifests {
                ("ReferencedImagesNotFoundException", "referenced images")
            } else {
                ("LayersNotFoundException", "layers")
            };
            return Err(AwsError::client(
                code,
                format!("The following {what} were not found in the repository '{}': {}", r.name, missing.join(", ")),
            ));
        }
        PutManifest::SizeMismatch { digest, declared, actual } => {
            return Err(invalid(format!(
                "the manifest gives layer {digest} a size of {declared} bytes, but it has {actual}"
            )));
        }
        PutManifest::TagImmutable => {
            return Err(AwsError::client(
                "ImageTagAlreadyExistsException",
                crate::oci::immutable_tag_message(&r.name, input.image_tag.as_deref().unwrap_or("")),
            ));
        }
    }
    Ok(json!({ "image": image_json(state, &record, input.image_tag.as_deref()) }))
}
