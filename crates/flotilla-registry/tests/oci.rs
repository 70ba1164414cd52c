//! The OCI distribution API over a real listener.

mod common;

use common::{sha256, start};
use http::{Method, StatusCode};

#[tokio::test]
async fn base_requires_basic_auth_with_a_valid_token() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path(), true).await;
    let a = s.send_as(None, Method::GET, "/v2/", &[], "").await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert_eq!(a.header("www-authenticate"), "Basic realm=\"flotilla\"");
    assert_eq!(a.error_code(), "UNAUTHORIZED");
    let bad = format!("Basic {}", base64_of("AWS:1.deadbeef"));
    assert_eq!(s.send_as(Some(&bad), Method::GET, "/v2/", &[], "").await.status, StatusCode::UNAUTHORIZED);
    let a = s.send(Method::GET, "/v2/", &[], "").await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.header("docker-distribution-api-version"), "registry/2.0");
}

fn base64_of(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

#[tokio::test]
async fn monolithic_push_then_pull_by_tag_and_digest() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path(), true).await;
    let layer = b"layer bytes".repeat(1000);
    let digest = s.push_image("team/app", "v1", &layer).await;
    let a = s.send(Method::GET, "/v2/team/app/manifests/v1", &[], "").await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.header("docker-content-digest"), digest);
    assert_eq!(a.header("content-type"), "application/vnd.oci.image.manifest.v1+json");
    assert_eq!(sha256(&a.body), digest);
    let head = s.send(Method::HEAD, &format!("/v2/team/app/manifests/{digest}"), &[], "").await;
    assert_eq!(head.status, StatusCode::OK);
    assert_eq!(head.header("content-length"), a.body.len().to_string());
    let layer_digest = sha256(&layer);
    let blob = s.send(Method::GET, &format!("/v2/team/app/blobs/{layer_digest}"), &[], "").await;
    assert_eq!(blob.status, StatusCode::OK);
    assert_eq!(blob.body.as_ref(), layer.as_slice());
    assert_eq!(blob.header("docker-content-digest"), layer_digest);
    let head = s.send(Method::HEAD, &format!("/v2/team/app/blobs/{layer_digest}"), &[], "").await;
    assert_eq!(head.header("content-length"), layer.len().to_string());
    assert!(head.body.is_empty());
    let part = s.send(Method::GET, &format!("/v2/team/app/blobs/{layer_digest}"), &[("range", "bytes=6-10")], "").await;
    assert_eq!(part.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(part.body.as_ref(), b"bytes");
    assert_eq!(part.header("content-range"), format!("bytes 6-10/{}", layer.len()));
    let missing = s.send(Method::GET, &format!("/v2/team/app/blobs/{}", sha256(b"nope")), &[], "").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.error_code(), "BLOB_UNKNOWN");
    let blob_file = dir.path().join("registry/blobs/sha256").join(&layer_digest[7..9]).join(&layer_digest[7..]);
    assert_eq!(std::fs::read(blob_file).unwrap(), layer);
}

#[tokio::test]
async fn chunked_push_refuses_out_of_order_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path(), true).await;
    let a = s.send(Method::POST, "/v2/chunky/blobs/uploads/", &[], "").await;
    assert_eq!(a.status, StatusCode::ACCEPTED);
    let location = a.header("location").to_string();
    let uuid = a.header("docker-upload-uuid").to_string();
    assert!(location.ends_with(&uuid));
    let a = s.send(Method::PATCH, &location, &[("content-range", "0-4")], "hello").await;
    assert_eq!(a.status, StatusCode::ACCEPTED);
    assert_eq!(a.header("range"), "0-4");
    let a = s.send(Method::PATCH, &location, &[("content-range", "7-9")], "abc").await;
    assert_eq!(a.status, StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(a.error_code(), "BLOB_UPLOAD_INVALID");
    let a = s.send(Method::GET, &location, &[], "").await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    assert_eq!(a.header("range"), "0-4");
    let a = s.send(Method::PATCH, &location, &[("content-range", "5-10")], " world").await;
    assert_eq!(a.status, StatusCode::ACCEPTED);
    let digest = sha256(b"hello world!");
    let a = s.send(Method::PUT, &format!("{location}?digest={digest}"), &[("content-range", "11-11")], "!").await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    assert_eq!(a.header("location"), format!("/v2/chunky/blobs/{digest}"));
    let a = s.send(Method::GET, &format!("/v2/chunky/blobs/{digest}"), &[], "").await;
    assert_eq!(a.body.as_ref(), b"hello world!");
    let a = s.send(Method::GET, &location, &[], "").await;
    assert_eq!(a.error_code(), "BLOB_UPLOAD_UNKNOWN");
}

#[tokio::test]
async fn wrong_digest_is_refused_and_leaves_no_blob() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path(), true).await;
    let claimed = sha256(b"something else");
    let a = s.send(Method::POST, &format!("/v2/r/blobs/uploads/?digest={claimed}"), &[], "actual").await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(a.error_code(), "DIGEST_INVALID");
    for d in [&claimed, &sha256(b"actual")] {
        let a = s.send(Method::HEAD, &format!("/v2/r/blobs/{d}"), &[], "").await;
        assert_eq!(a.status, StatusCode::NOT_FOUND);
    }
    // Chunked, then completed with a wrong digest.
    let a = s.send(Method::POST, "/v2/r/blobs/uploads/", &[], "").await;
    let location = a.header("location").to_string();
    s.send(Method::PATCH, &location, &[], "data").await;
    let a = s.send(Method::PUT, &format!("{location}?digest={claimed}"), &[], "").await;
    assert_eq!(a.error_code(), "DIGEST_INVALID");
    let a = s.send(Method::PUT, &format!("{location}?digest=sha256:xyz"), &[], "").await;
    assert_eq!(a.error_code(), "DIGEST_INVALID");
    assert!(!dir.path().join("registry/blobs/sha256").exists(), "no blob file was placed");
    // The right digest still completes it.
    let a = s.send(Method::PUT, &format!("{location}?digest={}", sha256(b"data")), &[], "").await;
    assert_eq!(a.status, StatusCode::CREATED);
}

#[tokio::test]
async fn sha512_digests_are_verified() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path(), true).await;
    use sha2::Digest;
    let d = format!("sha512:{}", hex::encode(sha2::Sha512::digest(b"five hundred twelve")));
    let a = s.send(Method::POST, "/v2/r/blobs/uploads/", &[], "").await;
    let location = a.header("location").to_string();
    s.send(Method::PATCH, &location, &[], "five hundred").await;
    let a = s.send(Method::PUT, &format!("{location}?digest={d}"), &[], " twelve").await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    assert_eq!(s.send(Method::GET, &format!("/v2/r/blobs/{d}"), &[], "").await.body.as_ref(), b"five hundred twelve");
}

#[tokio::test]
async fn cross_repository_mount() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path(), true).await;
    let d = s.push_blob("src", b"shared layer").await;
    let a = s.send(Method::POST, &format!("/v2/dst/blobs/uploads/?mount={d}&from=src"), &[], "").await;
    assert_eq!(a.status, StatusCode::CREATED);
    assert_eq!(a.header("location"), format!("/v2/dst/blobs/{d}"));
    assert_eq!(s.send(Method::HEAD, &format!("/v2/dst/blobs/{d}"), &[], "").await.status, StatusCode::OK);
    // A blob the source lacks starts an ordinary upload instead.
    let a = s.send(Method::POST, &format!("/v2/dst/blobs/uploads/?mount={}&from=src", sha256(b"x")), &[], "").await;
    assert_eq!(a.status, StatusCode::ACCEPTED);
    // Deleting the blob from one repository leaves the other's.
    assert_eq!(s.send(Method::DELETE, &format!("/v2/dst/blobs/{d}"), &[], "").await.status, StatusCode::ACCEPTED);
    assert_eq!(s.send(Method::HEAD, &format!("/v2/dst/blobs/{d}"), &[], "").await.status, StatusCode::NOT_FOUND);
    assert_eq!(s.send(Method::HEAD, &format!("/v2/src/blobs/{d}"), &[], "").await.status, StatusCode::OK);
}

#[tokio::test]
async fn tag_listing_paginates_with_link_headers() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path(), true).await;
    for tag in ["c", "a", "d", "b", "e"] {
        s.push_image("pager", tag, b"same layer").await;
    }
    let a = s.send(Method::GET, "/v2/pager/tags/list", &[], "").await;
    assert_eq!(a.json(), serde_json::json!({"name": "pager", "tags": ["a", "b", "c", "d", "e"]}));
    assert_eq!(a.header("link"), "");
    let a = s.send(Method::GET, "/v2/pager/tags/list?n=2", &[], "").await;
    assert_eq!(a.json()["tags"], serde_json::json!(["a", "b"]));
    assert_eq!(a.header("link"), "</v2/pager/tags/list?n=2&last=b>; rel=\"next\"");
    let a = s.send(Method::GET, "/v2/pager/tags/list?n=2&last=d", &[], "").await;
    assert_eq!(a.json()["tags"], serde_json::json!(["e"]));
    assert_eq!(a.header("link"), "");
}

#[tokio::test]
async fn manifests_referencing_missing_content_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path(), true).await;
    let config = s.push_blob("m", b"{}").await;
    let missing = sha256(b"never pushed");
    let manifest = serde_json::json!({
        "schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "digest": config, "size": 2},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "digest": missing, "size": 12}],
    });
    let ct = [("content-type", "application/vnd.docker.distribution.manifest.v2+json")];
    let a = s.send(Method::PUT, "/v2/m/manifests/latest", &ct, manifest.to_string()).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(a.error_code(), "MANIFEST_BLOB_UNKNOWN");
    assert_eq!(s.send(Method::GET, "/v2/m/manifests/latest", &[], "").await.error_code(), "MANIFEST_UNKNOWN");
    let a = s.send(Method::PUT, "/v2/m/manifests/latest", &ct, "{not json").await;
    assert_eq!(a.error_code(), "MANIFEST_INVALID");
    let big = vec![b' '; 4 * 1024 * 1024 + 1];
    let a = s.send(Method::PUT, "/v2/m/manifests/latest", &ct, big).await;
    assert_eq!(a.status, StatusCode::PAYLOAD_TOO_LARGE);
    let index = serde_json::json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": missing, "size": 5}]});
    let a = s
        .send(
            Method::PUT,
            "/v2/m/manifests/idx",
            &[("content-type", "application/vnd.oci.image.index.v1+json")],
            index.to_string(),
        )
        .await;
    assert_eq!(a.error_code(), "MANIFEST_BLOB_UNKNOWN");
    // By digest, the digest must be the body's.
    let a = s.send(Method::PUT, &format!("/v2/m/manifests/{missing}"), &ct, manifest.to_string()).await;
    assert_eq!(a.error_code(), "DIGEST_INVALID");
}

#[tokio::test]
async fn traversal_and_invalid_names_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path(), true).await;
    for path in [
        "/v2/../etc/tags/list",
        "/v2/a/../../b/tags/list",
        "/v2/a/%2e%2e/b/tags/list",
        "/v2/UPPER/tags/list",
        "/v2/a//b/manifests/latest",
    ] {
        let a = s.send(Method::GET, path, &[], "").await;
        assert!(a.status.is_client_error(), "{path}: {}", a.status);
        assert_ne!(a.status, StatusCode::OK);
    }
    let a = s.send(Method::GET, "/v2/a/%2e%2e/b/tags/list", &[], "").await;
    assert_eq!(a.error_code(), "NAME_INVALID");
    let a = s.send(Method::PUT, "/v2/ok/manifests/bad:tag:x", &[], "{}").await;
    assert_eq!(a.error_code(), "DIGEST_INVALID");
    let a = s.send(Method::PUT, "/v2/ok/manifests/.bad", &[], "{}").await;
    assert_eq!(a.error_code(), "TAG_INVALID");
}

#[tokio::test]
async fn unknown_repository_without_create_on_push() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path(), false).await;
    let a = s.send(Method::POST, "/v2/nowhere/blobs/uploads/", &[], "").await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    assert_eq!(a.error_code(), "NAME_UNKNOWN");
}

#[tokio::test]
async fn referrers_list_artifacts_by_subject() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path(), true).await;
    let subject = s.push_image("refs", "v1", b"image layer").await;
    let empty = s.push_blob("refs", b"{}").await;
    let sig = s.push_blob("refs", b"signature").await;
    let ct = [("content-type", "application/vnd.oci.image.manifest.v1+json")];
    for (kind, layer) in [("application/vnd.example.sig", &sig), ("application/vnd.example.sbom", &sig)] {
        let m = serde_json::json!({
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "artifactType": kind,
            "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2},
            "layers": [{"mediaType": "application/octet-stream", "digest": layer, "size": 9}],
            "subject": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": subject, "size": 1},
            "annotations": {"kind": kind},
        });
        let body = m.to_string();
        let a = s.send(Method::PUT, &format!("/v2/refs/manifests/{}", sha256(body.as_bytes())), &ct, body).await;
        assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
        assert_eq!(a.header("oci-subject"), subject);
    }
    let a = s.send(Method::GET, &format!("/v2/refs/referrers/{subject}"), &[], "").await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.header("content-type"), "application/vnd.oci.image.index.v1+json");
    assert_eq!(a.json()["manifests"].as_array().unwrap().len(), 2);
    let a = s
        .send(Method::GET, &format!("/v2/refs/referrers/{subject}?artifactType=application/vnd.example.sbom"), &[], "")
        .await;
    let list = a.json()["manifests"].as_array().unwrap().clone();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["artifactType"], "application/vnd.example.sbom");
    assert_eq!(list[0]["annotations"]["kind"], "application/vnd.example.sbom");
    assert_eq!(a.header("oci-filters-applied"), "artifactType");
    let none = s.send(Method::GET, &format!("/v2/refs/referrers/{}", sha256(b"z")), &[], "").await;
    assert_eq!(none.json()["manifests"], serde_json::json!([]));
}

#[tokio::test]
async fn manifest_and_tag_deletion() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path(), true).await;
    let d = s.push_image("del", "one", b"l").await;
    let a = s
        .send(
            Method::PUT,
            "/v2/del/manifests/two",
            &[],
            s.send(Method::GET, "/v2/del/manifests/one", &[], "").await.body,
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED);
    assert_eq!(s.send(Method::DELETE, "/v2/del/manifests/one", &[], "").await.status, StatusCode::ACCEPTED);
    assert_eq!(s.send(Method::GET, "/v2/del/manifests/one", &[], "").await.error_code(), "MANIFEST_UNKNOWN");
    assert_eq!(s.send(Method::GET, "/v2/del/manifests/two", &[], "").await.status, StatusCode::OK);
    assert_eq!(s.send(Method::DELETE, &format!("/v2/del/manifests/{d}"), &[], "").await.status, StatusCode::ACCEPTED);
    assert_eq!(s.send(Method::GET, "/v2/del/manifests/two", &[], "").await.error_code(), "MANIFEST_UNKNOWN");
    assert_eq!(s.send(Method::GET, "/v2/del/tags/list", &[], "").await.json()["tags"], serde_json::json!([]));
    let a = s.send(Method::DELETE, &format!("/v2/del/manifests/{d}"), &[], "").await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn uploads_survive_a_restart_and_resume() {
    let dir = tempfile::tempdir().unwrap();
    let location = {
        let s = start(dir.path(), true).await;
        let a = s.send(Method::POST, "/v2/resume/blobs/uploads/", &[], "").await;
        let location = a.header("location").to_string();
        let a = s.send(Method::PATCH, &location, &[("content-range", "0-5")], "first ").await;
        assert_eq!(a.status, StatusCode::ACCEPTED);
        location
    };
    let s = start(dir.path(), true).await;
    let a = s.send(Method::GET, &location, &[], "").await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    assert_eq!(a.header("range"), "0-5");
    let a = s.send(Method::PATCH, &location, &[("content-range", "6-11")], "second").await;
    assert_eq!(a.status, StatusCode::ACCEPTED);
    let d = sha256(b"first second");
    let a = s.send(Method::PUT, &format!("{location}?digest={d}"), &[], "").await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    assert_eq!(s.send(Method::GET, &format!("/v2/resume/blobs/{d}"), &[], "").await.body.as_ref(), b"first second");
}

#[tokio::test]
async fn cancelled_upload_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path(), true).await;
    let a = s.send(Method::POST, "/v2/c/blobs/uploads/", &[], "").await;
    let location = a.header("location").to_string();
    s.send(Method::PATCH, &location, &[], "abc").await;
    assert_eq!(s.send(Method::DELETE, &location, &[], "").await.status, StatusCode::NO_CONTENT);
    assert_eq!(s.send(Method::GET, &location, &[], "").await.error_code(), "BLOB_UPLOAD_UNKNOWN");
    assert_eq!(s.send(Method::DELETE, &location, &[], "").await.status, StatusCode::NOT_FOUND);
    assert_eq!(std::fs::read_dir(dir.path().join("registry/uploads")).unwrap().count(), 0);
}

#[tokio::test]
async fn garbage_collection_keeps_referenced_and_recent_blobs() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path(), true).await;
    s.push_image("gc", "keep", b"kept layer").await;
    let orphan = s.push_blob("gc", b"orphan layer").await;
    let report = s.registry.collect_garbage(std::time::Duration::from_secs(3600)).await.unwrap();
    assert!(report.removed.is_empty(), "recent blobs are in their grace period");
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let report = s.registry.collect_garbage(std::time::Duration::ZERO).await.unwrap();
    assert_eq!(report.removed, vec![orphan.clone()]);
    assert_eq!(s.send(Method::HEAD, &format!("/v2/gc/blobs/{orphan}"), &[], "").await.status, StatusCode::NOT_FOUND);
    let kept = sha256(b"kept layer");
    assert_eq!(s.send(Method::GET, &format!("/v2/gc/blobs/{kept}"), &[], "").await.body.as_ref(), b"kept layer");
}

#[tokio::test]
async fn concurrent_pushes_of_the_same_image_agree() {
    let dir = tempfile::tempdir().unwrap();
    let s = std::sync::Arc::new(start(dir.path(), true).await);
    let layer = b"shared layer bytes ".repeat(50_000);
    let mut tasks = Vec::new();
    for i in 0..4 {
        let s = s.clone();
        let layer = layer.clone();
        tasks.push(tokio::spawn(async move {
            if i % 2 == 0 {
                s.push_image("race", "v1", &layer).await
            } else {
                // Chunked, in two halves.
                let a = s.send(Method::POST, "/v2/race/blobs/uploads/", &[], "").await;
                let loc = a.header("location").to_string();
                let half = layer.len() / 2;
                let range = format!("0-{}", half - 1);
                let a = s.send(Method::PATCH, &loc, &[("content-range", &range)], layer[..half].to_vec()).await;
                assert_eq!(a.status, StatusCode::ACCEPTED);
                let range = format!("{half}-{}", layer.len() - 1);
                let put = format!("{loc}?digest={}", sha256(&layer));
                let a = s.send(Method::PUT, &put, &[("content-range", &range)], layer[half..].to_vec()).await;
                assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
                s.push_image("race", "v1", &layer).await
            }
        }));
    }
    let mut digests = Vec::new();
    for t in tasks {
        digests.push(t.await.unwrap());
    }
    digests.dedup();
    assert_eq!(digests.len(), 1, "every client pushed the same manifest");
    let a = s.send(Method::GET, &format!("/v2/race/blobs/{}", sha256(&layer)), &[], "").await;
    assert_eq!(a.body.as_ref(), layer.as_slice());
    assert_eq!(std::fs::read_dir(dir.path().join("registry/uploads")).unwrap().count(), 0);
}

#[tokio::test]
async fn a_torn_chunk_from_a_crash_is_cut_off_on_resume() {
    let dir = tempfile::tempdir().unwrap();
    let (location, id) = {
        let s = start(dir.path(), true).await;
        let a = s.send(Method::POST, "/v2/torn/blobs/uploads/", &[], "").await;
        let id = a.header("docker-upload-uuid").to_string();
        let location = a.header("location").to_string();
        s.send(Method::PATCH, &location, &[], "good ").await;
        (location, id)
    };
    // A crash mid-chunk leaves bytes past what was recorded as committed.
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new().append(true).open(dir.path().join("registry/uploads").join(&id)).unwrap();
    f.write_all(b"GARBAGE").unwrap();
    drop(f);
    let s = start(dir.path(), true).await;
    assert_eq!(s.send(Method::GET, &location, &[], "").await.header("range"), "0-4");
    s.send(Method::PATCH, &location, &[("content-range", "5-9")], "bytes").await;
    let d = sha256(b"good bytes");
    let a = s.send(Method::PUT, &format!("{location}?digest={d}"), &[], "").await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
}

#[tokio::test]
async fn abandoned_uploads_are_purged_and_catalog_lists_repositories() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path(), true).await;
    let a = s.send(Method::POST, "/v2/old/blobs/uploads/", &[], "").await;
    let location = a.header("location").to_string();
    s.push_blob("new", b"x").await;
    assert!(s.registry.purge_uploads(std::time::Duration::from_secs(3600)).await.unwrap().is_empty());
    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    assert_eq!(s.registry.purge_uploads(std::time::Duration::ZERO).await.unwrap().len(), 1);
    assert_eq!(s.send(Method::GET, &location, &[], "").await.error_code(), "BLOB_UPLOAD_UNKNOWN");
    let a = s.send(Method::GET, "/v2/_catalog?n=1", &[], "").await;
    assert_eq!(a.json()["repositories"], serde_json::json!(["new"]));
    assert_eq!(a.header("link"), "</v2/_catalog?n=1&last=new>; rel=\"next\"");
    let a = s.send(Method::GET, "/v2/_catalog", &[], "").await;
    assert_eq!(a.json()["repositories"], serde_json::json!(["new", "old"]));
}

#[tokio::test]
async fn upload_ids_that_are_not_uuids_are_unknown() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path(), true).await;
    s.push_blob("ids", b"x").await;
    for id in ["..", "abc", "%2e%2e"] {
        let a = s.send(Method::GET, &format!("/v2/ids/blobs/uploads/{id}"), &[], "").await;
        assert_eq!(a.error_code(), "BLOB_UPLOAD_UNKNOWN", "{id}");
        let a = s.send(Method::DELETE, &format!("/v2/ids/blobs/uploads/{id}"), &[], "").await;
        assert_eq!(a.status, StatusCode::NOT_FOUND, "{id}");
    }
    assert!(dir.path().join("registry/blobs").exists());
}

#[tokio::test]
async fn image_indexes_reference_their_manifests() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path(), true).await;
    let amd = s.push_image("multi", "amd64", b"amd64 layer").await;
    let arm = s.push_image("multi", "arm64", b"arm64 layer").await;
    let size = |d: &str| {
        let s = &s;
        let d = d.to_string();
        async move {
            s.send(Method::HEAD, &format!("/v2/multi/manifests/{d}"), &[], "")
                .await
                .header("content-length")
                .parse::<u64>()
                .unwrap()
        }
    };
    let index = serde_json::json!({
    "schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json",
    "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": amd, "size": size(&amd).await,
         "platform": {"architecture": "amd64", "os": "linux"}},
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": arm, "size": size(&arm).await,
         "platform": {"architecture": "arm64", "os": "linux"}},
    ]});
    let ct = [("content-type", "application/vnd.docker.distribution.manifest.list.v2+json")];
    let a = s.send(Method::PUT, "/v2/multi/manifests/latest", &ct, index.to_string()).await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    let a = s.send(Method::GET, "/v2/multi/manifests/latest", &[], "").await;
    assert_eq!(a.header("content-type"), "application/vnd.docker.distribution.manifest.list.v2+json");
    assert_eq!(a.json()["manifests"][1]["platform"]["architecture"], "arm64");
    // A manifest an index lists cannot be deleted from under it.
    let a = s.send(Method::DELETE, &format!("/v2/multi/manifests/{amd}"), &[], "").await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert_eq!(a.error_code(), "DENIED");
    let index_digest =
        s.send(Method::HEAD, "/v2/multi/manifests/latest", &[], "").await.header("docker-content-digest").to_string();
    assert_eq!(
        s.send(Method::DELETE, &format!("/v2/multi/manifests/{index_digest}"), &[], "").await.status,
        StatusCode::ACCEPTED
    );
    assert_eq!(
        s.send(Method::DELETE, &format!("/v2/multi/manifests/{amd}"), &[], "").await.status,
        StatusCode::ACCEPTED
    );
}
