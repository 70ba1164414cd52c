//! Listings: tags (`n`/`last` pagination with `Link`), the repository catalog, and
//! the referrers API (an OCI index of the manifests whose subject is a digest).

use super::{Answer, parse_digest, repository, response};
use crate::State;
use crate::error::{OciCode, OciError};
use crate::manifest::OCI_INDEX;
use axum::body::Body;
use http::StatusCode;
use std::collections::HashMap;

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
pub(super) async fn catalog(state: &State, query: &HashMap<String, String>) -> Answer {
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

pub(super) async fn list_tags(state: &State, name: &str, query: &HashMap<String, String>) -> Answer {
    repository(state, name, false).await?;
    let n = page_size(query)?;
    let last = query.get("last").map(String::as_str);
    let mut tags = state.store.list_tags(name, last, n.map(|n| n + 1)).await?;
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

pub(super) async fn referrers(state: &State, name: &str, digest: &str, query: &HashMap<String, String>) -> Answer {
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
