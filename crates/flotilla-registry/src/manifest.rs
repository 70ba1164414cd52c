//! Manifest validation: Docker schema 2 manifests and manifest lists, OCI image
//! manifests and indexes. Finds what a manifest references so the store can check
//! that every referenced blob and manifest is present.

use crate::digest::Digest;
use crate::store::Reference;
use serde_json::Value;

/// The largest manifest accepted.
pub const MAX_MANIFEST_BYTES: usize = 4 << 20;

pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const OCI_IMAGE_CONFIG: &str = "application/vnd.oci.image.config.v1+json";

/// What a valid manifest says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedManifest {
    pub media_type: String,
    pub artifact_type: Option<String>,
    pub subject: Option<String>,
    pub references: Vec<Reference>,
    /// The sum of the sizes of its config and layers (or of its entries, for an index).
    pub image_size: i64,
}

/// Why a manifest was refused; the message names the offending field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ManifestError(pub String);

fn invalid(message: impl Into<String>) -> ManifestError {
    ManifestError(message.into())
}

fn is_index(media_type: &str) -> bool {
    media_type == OCI_INDEX || media_type == DOCKER_MANIFEST_LIST
}

/// Validates `body`, sent with `content_type` (the request's Content-Type, if any).
pub fn parse(body: &[u8], content_type: Option<&str>) -> Result<ParsedManifest, ManifestError> {
    let doc: Value = serde_json::from_slice(body).map_err(|e| invalid(format!("manifest is not valid json: {e}")))?;
    let obj = doc.as_object().ok_or_else(|| invalid("manifest is not a json object"))?;
    if obj.get("schemaVersion").and_then(Value::as_i64) != Some(2) {
        return Err(invalid("manifest schemaVersion must be 2"));
    }
    let declared = match obj.get("mediaType") {
        None => None,
        Some(Value::String(s)) => Some(s.as_str()),
        Some(_) => return Err(invalid("manifest mediaType must be a string")),
    };
    let content_type = content_type.map(|c| c.split(';').next().unwrap_or("").trim()).filter(|c| !c.is_empty());
    let media_type = match (declared, content_type) {
        (Some(d), Some(c)) if d != c && !is_generic(c) => {
            return Err(invalid(format!("manifest mediaType '{d}' does not match the Content-Type '{c}'")));
        }
        (Some(d), _) => d.to_string(),
        (None, Some(c)) if !is_generic(c) => c.to_string(),
        (None, _) if obj.contains_key("manifests") => OCI_INDEX.to_string(),
        (None, _) => OCI_MANIFEST.to_string(),
    };
    let subject = match obj.get("subject") {
        None | Some(Value::Null) => None,
        Some(s) => Some(descriptor(s, "subject")?.0.to_string()),
    };
    let artifact_type = match obj.get("artifactType") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(invalid("manifest artifactType must be a string")),
    };
    let mut references = Vec::new();
    let mut image_size = 0i64;
    match media_type.as_str() {
        DOCKER_MANIFEST | OCI_MANIFEST => {
            let config = obj.get("config").ok_or_else(|| invalid("manifest has no config"))?;
            let (digest, size, config_type) = descriptor(config, "config")?;
            references.push(Reference::Blob { digest: digest.to_string(), size });
            image_size += size;
            let layers = match obj.get("layers") {
                Some(Value::Array(l)) => l.as_slice(),
                None if media_type == OCI_MANIFEST => &[],
                _ => return Err(invalid("manifest layers must be an array")),
            };
            for (i, layer) in layers.iter().enumerate() {
                let (digest, size, layer_type) = descriptor(layer, &format!("layers[{i}]"))?;
                image_size += size;
                if !(layer_type.contains("foreign") || layer_type.contains("nondistributable")) {
                    references.push(Reference::Blob { digest: digest.to_string(), size });
                }
            }
            let artifact_type = artifact_type.or_else(|| {
                (media_type == OCI_MANIFEST && config_type != OCI_IMAGE_CONFIG).then(|| config_type.to_string())
            });
            Ok(ParsedManifest { media_type, artifact_type, subject, references, image_size })
        }
        OCI_INDEX | DOCKER_MANIFEST_LIST => {
            let Some(Value::Array(entries)) = obj.get("manifests") else {
                return Err(invalid("index manifests must be an array"));
            };
            for (i, entry) in entries.iter().enumerate() {
                let (digest, size, _) = descriptor(entry, &format!("manifests[{i}]"))?;
                image_size += size;
                references.push(Reference::Manifest { digest: digest.to_string() });
            }
            Ok(ParsedManifest { media_type, artifact_type, subject, references, image_size })
        }
        other => Err(invalid(format!("manifest media type '{other}' is not supported"))),
    }
}

fn is_generic(content_type: &str) -> bool {
    matches!(content_type, "application/json" | "application/octet-stream")
}

/// Reads a content descriptor: its digest, size and media type.
fn descriptor<'a>(value: &'a Value, field: &str) -> Result<(Digest, i64, &'a str), ManifestError> {
    let obj = value.as_object().ok_or_else(|| invalid(format!("{field} is not a descriptor object")))?;
    let media_type = obj
        .get("mediaType")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(format!("{field}.mediaType is missing or not a string")))?;
    let digest = obj
        .get("digest")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(format!("{field}.digest is missing or not a string")))?;
    let digest = Digest::parse(digest).map_err(|e| invalid(format!("{field}.digest: {e}")))?;
    let size = obj
        .get("size")
        .and_then(Value::as_i64)
        .filter(|s| *s >= 0)
        .ok_or_else(|| invalid(format!("{field}.size is missing or not a non-negative integer")))?;
    Ok((digest, size, media_type))
}

/// Whether a manifest of `media_type` is an index (a manifest list).
pub fn media_type_is_index(media_type: &str) -> bool {
    is_index(media_type)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn d(c: char) -> String {
        format!("sha256:{}", c.to_string().repeat(64))
    }

    #[test]
    fn docker_manifest_refs() {
        let m = json!({"schemaVersion": 2, "mediaType": DOCKER_MANIFEST,
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "digest": d('a'), "size": 10},
            "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "digest": d('b'), "size": 5},
                       {"mediaType": "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", "digest": d('c'), "size": 7}]});
        let p = parse(m.to_string().as_bytes(), Some(DOCKER_MANIFEST)).unwrap();
        assert_eq!(p.media_type, DOCKER_MANIFEST);
        assert_eq!(p.image_size, 22);
        assert_eq!(p.references.len(), 2, "foreign layers are not required to be present");
        assert_eq!(p.artifact_type, None);
    }

    #[test]
    fn oci_artifact_with_subject() {
        let m = json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.example.sbom", "digest": d('a'), "size": 2},
            "layers": [], "subject": {"mediaType": OCI_MANIFEST, "digest": d('f'), "size": 100}});
        let p = parse(m.to_string().as_bytes(), None).unwrap();
        assert_eq!(p.artifact_type.as_deref(), Some("application/vnd.example.sbom"));
        assert_eq!(p.subject, Some(d('f')));
    }

    #[test]
    fn index_refs_manifests() {
        let m = json!({"schemaVersion": 2, "manifests": [{"mediaType": OCI_MANIFEST, "digest": d('e'), "size": 300}]});
        let p = parse(m.to_string().as_bytes(), Some(OCI_INDEX)).unwrap();
        assert_eq!(p.media_type, OCI_INDEX);
        assert_eq!(p.references, vec![Reference::Manifest { digest: d('e') }]);
    }

    #[test]
    fn refuses_bad_manifests() {
        let cases = [
            json!("x").to_string(),
            "{not json".to_string(),
            json!({"schemaVersion": 1}).to_string(),
            json!({"schemaVersion": 2, "mediaType": "text/plain"}).to_string(),
            json!({"schemaVersion": 2, "mediaType": DOCKER_MANIFEST}).to_string(),
            json!({"schemaVersion": 2, "mediaType": DOCKER_MANIFEST,
                "config": {"mediaType": "x", "digest": "sha256:zz", "size": 1}, "layers": []})
            .to_string(),
            json!({"schemaVersion": 2, "mediaType": DOCKER_MANIFEST,
                "config": {"mediaType": "x", "digest": d('a'), "size": -1}, "layers": []})
            .to_string(),
            json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": {}}).to_string(),
        ];
        for body in cases {
            assert!(parse(body.as_bytes(), None).is_err(), "{body}");
        }
        let m = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []});
        assert!(parse(m.to_string().as_bytes(), Some(DOCKER_MANIFEST)).is_err(), "content type mismatch");
    }
}
