//! Layers through the ECR API: BatchCheckLayerAvailability, the layer upload calls
//! (sharing the `/v2/` upload machinery and its files) and GetDownloadUrlForLayer.

use super::{AwsError, from_oci, invalid, repository, server};
use crate::State;
use crate::digest::Digest;
use crate::store::UploadRecord;
use base64::Engine;
use flotilla_domain::Timestamp;
use http::{HeaderMap, HeaderValue, header};
use serde::Deserialize;
use serde_json::{Value, json};

/// The part size advertised for layer uploads: small enough that a part, base64-encoded
/// in its JSON request, stays under the front door's 4 MiB body limit.
const PART_SIZE: i64 = 2 << 20;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct BatchCheckLayerAvailability {
    registry_id: Option<String>,
    repository_name: String,
    layer_digests: Vec<String>,
}

pub(super) async fn batch_check_layer_availability(
    state: &State,
    input: BatchCheckLayerAvailability,
) -> Result<Value, AwsError> {
    let r = repository(state, input.registry_id.as_deref(), &input.repository_name).await?;
    if input.layer_digests.is_empty() || input.layer_digests.len() > 100 {
        return Err(invalid("Invalid parameter at 'layerDigests': between 1 and 100 digests are required"));
    }
    let (mut layers, mut failures) = (Vec::new(), Vec::new());
    for d in &input.layer_digests {
        if Digest::parse(d).is_err() {
            failures.push(json!({ "layerDigest": d, "failureCode": "InvalidLayerDigest",
                "failureReason": format!("Invalid layer digest '{d}'") }));
            continue;
        }
        match state.store.repository_blob(&r.name, d).await.map_err(server)? {
            Some(size) => layers.push(json!({ "layerDigest": d, "layerAvailability": "AVAILABLE", "layerSize": size })),
            None => failures.push(json!({ "layerDigest": d, "failureCode": "MissingLayerDigest",
                "failureReason": format!("Could not find layer with digest '{d}'") })),
        }
    }
    Ok(json!({ "layers": layers, "failures": failures }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct InitiateLayerUpload {
    registry_id: Option<String>,
    repository_name: String,
}

pub(super) async fn initiate_layer_upload(state: &State, input: InitiateLayerUpload) -> Result<Value, AwsError> {
    let r = repository(state, input.registry_id.as_deref(), &input.repository_name).await?;
    let id = uuid::Uuid::new_v4().to_string();
    state.files.create_upload(&id).await.map_err(server)?;
    let record = UploadRecord { id: id.clone(), repository: r.name, committed: 0, started_at: Timestamp::now() };
    state.store.create_upload(&record).await.map_err(server)?;
    Ok(json!({ "uploadId": id, "partSize": PART_SIZE }))
}

async fn find_upload(state: &State, repo: &str, id: &str) -> Result<UploadRecord, AwsError> {
    match state.store.upload(id).await.map_err(server)? {
        Some(u) if u.repository == repo => Ok(u),
        _ => Err(AwsError::client(
            "UploadNotFoundException",
            format!("The upload with id '{id}' does not exist in the repository with name '{repo}'"),
        )),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct UploadLayerPart {
    registry_id: Option<String>,
    repository_name: String,
    upload_id: String,
    part_first_byte: i64,
    part_last_byte: i64,
    layer_part_blob: String,
}

pub(super) async fn upload_layer_part(state: &State, input: UploadLayerPart) -> Result<Value, AwsError> {
    let r = repository(state, input.registry_id.as_deref(), &input.repository_name).await?;
    let data = base64::engine::general_purpose::STANDARD
        .decode(&input.layer_part_blob)
        .map_err(|e| invalid(format!("Invalid parameter at 'layerPartBlob': not base64: {e}")))?;
    let (first, last) = (input.part_first_byte, input.part_last_byte);
    if first < 0 || last < first || (last - first + 1) as usize != data.len() {
        return Err(AwsError::client(
            "InvalidLayerPartException",
            format!("the part covers bytes {first}-{last} but carries {} bytes", data.len()),
        ));
    }
    // An unknown id stops here, before any session state is made for it.
    find_upload(state, &r.name, &input.upload_id).await?;
    let session = state.session(&input.upload_id);
    let mut session = session.lock().await;
    let upload = find_upload(state, &r.name, &input.upload_id).await?;
    if first != upload.committed {
        return Err(AwsError::client(
            "InvalidLayerPartException",
            format!("the part starts at byte {first}, but the upload has {} bytes", upload.committed),
        ));
    }
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&format!("{first}-{last}")) {
        headers.insert(header::CONTENT_RANGE, v);
    }
    let committed = crate::oci::append_chunk(state, &upload, &headers, axum::body::Body::from(data), &mut session)
        .await
        .map_err(from_oci)?;
    Ok(json!({
        "registryId": state.account.account_id,
        "repositoryName": r.name,
        "uploadId": input.upload_id,
        "lastByteReceived": committed - 1,
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct CompleteLayerUpload {
    registry_id: Option<String>,
    repository_name: String,
    upload_id: String,
    layer_digests: Vec<String>,
}

pub(super) async fn complete_layer_upload(state: &State, input: CompleteLayerUpload) -> Result<Value, AwsError> {
    let r = repository(state, input.registry_id.as_deref(), &input.repository_name).await?;
    let [digest] = input.layer_digests.as_slice() else {
        return Err(invalid("Invalid parameter at 'layerDigests': exactly one digest is required"));
    };
    let digest = Digest::parse(digest).map_err(|e| invalid(format!("Invalid parameter at 'layerDigests': {e}")))?;
    // An unknown id stops here, before any session state is made for it.
    find_upload(state, &r.name, &input.upload_id).await?;
    let session = state.session(&input.upload_id);
    let mut session = session.lock().await;
    let upload = find_upload(state, &r.name, &input.upload_id).await?;
    if upload.committed == 0 {
        return Err(AwsError::client("EmptyUploadException", format!("upload {} has no layer parts", upload.id)));
    }
    if state.store.repository_blob(&r.name, digest.as_str()).await.map_err(server)?.is_some() {
        return Err(AwsError::client(
            "LayerAlreadyExistsException",
            format!("The layer with digest '{digest}' already exists in the repository with name '{}'", r.name),
        ));
    }
    crate::oci::finish_upload(state, &upload, &digest, &mut session).await.map_err(|e| {
        if e.code == crate::error::OciCode::DigestInvalid {
            AwsError::client("InvalidLayerException", e.message)
        } else {
            from_oci(e)
        }
    })?;
    Ok(json!({
        "registryId": state.account.account_id,
        "repositoryName": r.name,
        "uploadId": input.upload_id,
        "layerDigest": digest.as_str(),
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct GetDownloadUrlForLayer {
    registry_id: Option<String>,
    repository_name: String,
    layer_digest: String,
}

pub(super) async fn get_download_url_for_layer(
    state: &State,
    input: GetDownloadUrlForLayer,
) -> Result<Value, AwsError> {
    let r = repository(state, input.registry_id.as_deref(), &input.repository_name).await?;
    let d =
        Digest::parse(&input.layer_digest).map_err(|e| invalid(format!("Invalid parameter at 'layerDigest': {e}")))?;
    if state.store.repository_blob(&r.name, d.as_str()).await.map_err(server)?.is_none() {
        return Err(AwsError::client(
            "LayersNotFoundException",
            format!("The following layers were not found in the repository '{}': {d}", r.name),
        ));
    }
    let endpoint = state.config.endpoint.trim_end_matches('/');
    Ok(json!({ "downloadUrl": format!("{endpoint}/v2/{}/blobs/{d}", r.name), "layerDigest": d.as_str() }))
}
