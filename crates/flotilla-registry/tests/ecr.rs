//! The ECR API, called through its ServiceModule, together with the `/v2/` API on a real listener.

mod common;

use common::{Server, sha256, start};
use flotilla_protocol::{Caller, ServiceModule};
use http::{Method, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};

async fn ecr(s: &Server, op: &str, input: Value) -> Result<Value, (String, String)> {
    let service = s.registry.ecr_service();
    assert_eq!(
        service.wire(),
        flotilla_protocol::Wire::Json { target_prefix: "AmazonEC2ContainerRegistry_V20150921", cbor_service: None }
    );
    assert_eq!(service.signing_name(), "ecr");
    let caller = Caller::new("AKIDTEST", "r");
    match service.call(op, input.to_string().into(), &caller).await {
        Ok(response) => {
            assert_eq!(response.status(), StatusCode::OK);
            let body = response.into_body().collect().await.unwrap().to_bytes();
            Ok(serde_json::from_slice(&body).unwrap())
        }
        Err(e) => Err((e.code, e.message)),
    }
}

fn code(r: Result<Value, (String, String)>) -> String {
    r.expect_err("the call should fail").0
}

#[tokio::test]
async fn repositories_create_describe_delete() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path(), false).await;
    let out = ecr(
        &s,
        "CreateRepository",
        json!({"repositoryName": "team/web", "imageTagMutability": "IMMUTABLE",
               "imageScanningConfiguration": {"scanOnPush": true}, "tags": [{"Key": "env", "Value": "dev"}]}),
    )
    .await
    .unwrap();
    let r = &out["repository"];
    assert_eq!(r["repositoryArn"], "arn:aws:ecr:us-east-1:000000000000:repository/team/web");
    assert_eq!(r["registryId"], "000000000000");
    assert_eq!(r["repositoryUri"], "127.0.0.1/team/web");
    assert_eq!(r["imageTagMutability"], "IMMUTABLE");
    assert_eq!(r["imageScanningConfiguration"]["scanOnPush"], true);
    assert!(r["createdAt"].as_f64().unwrap() > 1.0e9);
    assert_eq!(
        code(ecr(&s, "CreateRepository", json!({"repositoryName": "team/web"})).await),
        "RepositoryAlreadyExistsException"
    );
    for bad in ["A", "x", "a/../b", "-a"] {
        assert_eq!(
            code(ecr(&s, "CreateRepository", json!({"repositoryName": bad})).await),
            "InvalidParameterException"
        );
    }
    assert_eq!(
        code(
            ecr(&s, "CreateRepository", json!({"repositoryName": "bad-mut", "imageTagMutability": "SOMETIMES"})).await
        ),
        "InvalidParameterException"
    );
    assert_eq!(
        code(
            ecr(&s, "CreateRepository", json!({"repositoryName": "bad-tag", "tags": [{"Key": "aws:x", "Value": "v"}]}))
                .await
        ),
        "InvalidTagParameterException"
    );
    for name in ["aa", "bb", "cc"] {
        ecr(&s, "CreateRepository", json!({"repositoryName": name})).await.unwrap();
    }
    let page = ecr(&s, "DescribeRepositories", json!({"maxResults": 2})).await.unwrap();
    assert_eq!(page["repositories"].as_array().unwrap().len(), 2);
    let token = page["nextToken"].as_str().unwrap();
    let page2 = ecr(&s, "DescribeRepositories", json!({"maxResults": 2, "nextToken": token})).await.unwrap();
    let names: Vec<&str> =
        page2["repositories"].as_array().unwrap().iter().map(|r| r["repositoryName"].as_str().unwrap()).collect();
    assert_eq!(names, ["cc", "team/web"]);
    assert!(page2.get("nextToken").is_none());
    assert_eq!(
        code(ecr(&s, "DescribeRepositories", json!({"repositoryNames": ["aa", "nope"]})).await),
        "RepositoryNotFoundException"
    );
    // Not empty: refused without force.
    s.push_image("aa", "v1", b"layer").await;
    assert_eq!(code(ecr(&s, "DeleteRepository", json!({"repositoryName": "aa"})).await), "RepositoryNotEmptyException");
    let out = ecr(&s, "DeleteRepository", json!({"repositoryName": "aa", "force": true})).await.unwrap();
    assert_eq!(out["repository"]["repositoryName"], "aa");
    assert_eq!(s.send(Method::GET, "/v2/aa/manifests/v1", &[], "").await.error_code(), "NAME_UNKNOWN");
    assert_eq!(code(ecr(&s, "DeleteRepository", json!({"repositoryName": "aa"})).await), "RepositoryNotFoundException");
}

#[tokio::test]
async fn authorization_token_logs_in_to_v2() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path(), false).await;
    let out = ecr(&s, "GetAuthorizationToken", json!({})).await.unwrap();
    let data = &out["authorizationData"][0];
    assert_eq!(data["proxyEndpoint"], "http://127.0.0.1");
    let expires = data["expiresAt"].as_f64().unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64();
    assert!((expires - now - 12.0 * 3600.0).abs() < 60.0);
    let token = data["authorizationToken"].as_str().unwrap();
    use base64::Engine;
    let decoded = String::from_utf8(base64::engine::general_purpose::STANDARD.decode(token).unwrap()).unwrap();
    assert!(decoded.starts_with("AWS:"));
    let a = s.send_as(Some(&format!("Basic {token}")), Method::GET, "/v2/", &[], "").await;
    assert_eq!(a.status, StatusCode::OK);
}

#[tokio::test]
async fn immutable_tags_cannot_move_by_either_path() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path(), false).await;
    ecr(&s, "CreateRepository", json!({"repositoryName": "frozen", "imageTagMutability": "IMMUTABLE"})).await.unwrap();
    let first = s.push_image("frozen", "v1", b"one").await;
    // Re-pushing the same manifest under the same tag is fine (docker push does this).
    let body = s.send(Method::GET, "/v2/frozen/manifests/v1", &[], "").await.body;
    let ct = [("content-type", "application/vnd.oci.image.manifest.v1+json")];
    assert_eq!(s.send(Method::PUT, "/v2/frozen/manifests/v1", &ct, body).await.status, StatusCode::CREATED);
    let other = s.image_manifest("frozen", b"{\"other\":1}", b"two").await;
    let a = s.send(Method::PUT, "/v2/frozen/manifests/v1", &ct, other.clone()).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(a.error_code(), "TAG_INVALID");
    let r = ecr(&s, "PutImage", json!({"repositoryName": "frozen", "imageManifest": other, "imageTag": "v1"})).await;
    assert_eq!(code(r), "ImageTagAlreadyExistsException");
    assert_eq!(s.send(Method::GET, "/v2/frozen/manifests/v1", &[], "").await.header("docker-content-digest"), first);
    let out = ecr(&s, "PutImageTagMutability", json!({"repositoryName": "frozen", "imageTagMutability": "MUTABLE"}))
        .await
        .unwrap();
    assert_eq!(out["imageTagMutability"], "MUTABLE");
    let out = ecr(&s, "PutImage", json!({"repositoryName": "frozen", "imageManifest": other, "imageTag": "v1"}))
        .await
        .unwrap();
    assert_eq!(out["image"]["imageId"]["imageTag"], "v1");
    let r = ecr(&s, "PutImage", json!({"repositoryName": "frozen", "imageManifest": other, "imageTag": "v1"})).await;
    assert_eq!(code(r), "ImageAlreadyExistsException");
}

#[tokio::test]
async fn images_describe_list_get_delete() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path(), false).await;
    ecr(&s, "CreateRepository", json!({"repositoryName": "imgs"})).await.unwrap();
    let a = s.push_image("imgs", "a", b"layer a").await;
    let b = s.push_image("imgs", "b", b"layer b").await;
    // Moving tag b away leaves image b untagged.
    let body = s.send(Method::GET, "/v2/imgs/manifests/a", &[], "").await.body;
    s.send(Method::PUT, "/v2/imgs/manifests/b", &[], body).await;
    let out = ecr(&s, "DescribeImages", json!({"repositoryName": "imgs"})).await.unwrap();
    let details = out["imageDetails"].as_array().unwrap();
    assert_eq!(details.len(), 2);
    let da = details.iter().find(|d| d["imageDigest"] == a.as_str()).unwrap();
    assert_eq!(da["imageTags"], json!(["a", "b"]));
    assert_eq!(da["imageManifestMediaType"], "application/vnd.oci.image.manifest.v1+json");
    assert!(da["imageSizeInBytes"].as_i64().unwrap() > 7);
    let out =
        ecr(&s, "ListImages", json!({"repositoryName": "imgs", "filter": {"tagStatus": "UNTAGGED"}})).await.unwrap();
    assert_eq!(out["imageIds"], json!([{"imageDigest": b}]));
    let out =
        ecr(&s, "ListImages", json!({"repositoryName": "imgs", "filter": {"tagStatus": "TAGGED"}})).await.unwrap();
    assert_eq!(out["imageIds"].as_array().unwrap().len(), 2);
    let out = ecr(&s, "ListImages", json!({"repositoryName": "imgs", "maxResults": 1})).await.unwrap();
    assert!(out["nextToken"].is_string());
    assert_eq!(
        code(ecr(&s, "DescribeImages", json!({"repositoryName": "imgs", "imageIds": [{"imageTag": "zzz"}]})).await),
        "ImageNotFoundException"
    );
    let out = ecr(
        &s,
        "BatchGetImage",
        json!({"repositoryName": "imgs", "imageIds": [{"imageTag": "a"}, {"imageTag": "nope"}]}),
    )
    .await
    .unwrap();
    assert_eq!(out["images"][0]["imageId"]["imageDigest"], a.as_str());
    assert_eq!(sha256(out["images"][0]["imageManifest"].as_str().unwrap().as_bytes()), a);
    assert_eq!(out["failures"][0]["failureCode"], "ImageNotFound");
    // Deleting tag b keeps image a (it still has tag a); deleting by digest removes b.
    let out = ecr(
        &s,
        "BatchDeleteImage",
        json!({"repositoryName": "imgs", "imageIds": [{"imageTag": "b"}, {"imageDigest": b}, {"imageTag": "gone"}]}),
    )
    .await
    .unwrap();
    assert_eq!(out["imageIds"].as_array().unwrap().len(), 2);
    assert_eq!(out["failures"][0]["failureCode"], "ImageNotFound");
    let out = ecr(&s, "ListImages", json!({"repositoryName": "imgs"})).await.unwrap();
    assert_eq!(out["imageIds"], json!([{"imageDigest": a, "imageTag": "a"}]));
    // PutImage with layers the repository lacks.
    let m = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha256(b"c"), "size": 1}, "layers": []});
    let r =
        ecr(&s, "PutImage", json!({"repositoryName": "imgs", "imageManifest": m.to_string(), "imageTag": "x"})).await;
    assert_eq!(code(r), "LayersNotFoundException");
    let r = ecr(&s, "PutImage", json!({"repositoryName": "imgs", "imageManifest": "{", "imageTag": "x"})).await;
    assert_eq!(code(r), "InvalidParameterException");
}

#[tokio::test]
async fn layer_upload_api() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path(), false).await;
    ecr(&s, "CreateRepository", json!({"repositoryName": "layers"})).await.unwrap();
    let up = ecr(&s, "InitiateLayerUpload", json!({"repositoryName": "layers"})).await.unwrap();
    let id = up["uploadId"].as_str().unwrap();
    assert!(up["partSize"].as_i64().unwrap() > 0);
    use base64::Engine;
    let b64 = |d: &[u8]| base64::engine::general_purpose::STANDARD.encode(d);
    let part = |first: i64, data: &[u8]| {
        json!({"repositoryName": "layers", "uploadId": id, "partFirstByte": first,
               "partLastByte": first + data.len() as i64 - 1, "layerPartBlob": b64(data)})
    };
    let out = ecr(&s, "UploadLayerPart", part(0, b"hello ")).await.unwrap();
    assert_eq!(out["lastByteReceived"], 5);
    assert_eq!(code(ecr(&s, "UploadLayerPart", part(10, b"x")).await), "InvalidLayerPartException");
    ecr(&s, "UploadLayerPart", part(6, b"layer")).await.unwrap();
    let d = sha256(b"hello layer");
    let wrong = sha256(b"nope");
    let r =
        ecr(&s, "CompleteLayerUpload", json!({"repositoryName": "layers", "uploadId": id, "layerDigests": [wrong]}))
            .await;
    assert_eq!(code(r), "InvalidLayerException");
    let out = ecr(&s, "CompleteLayerUpload", json!({"repositoryName": "layers", "uploadId": id, "layerDigests": [d]}))
        .await
        .unwrap();
    assert_eq!(out["layerDigest"], d.as_str());
    let out =
        ecr(&s, "BatchCheckLayerAvailability", json!({"repositoryName": "layers", "layerDigests": [d, wrong, "bad"]}))
            .await
            .unwrap();
    assert_eq!(out["layers"][0]["layerAvailability"], "AVAILABLE");
    assert_eq!(out["layers"][0]["layerSize"], 11);
    assert_eq!(out["failures"][0]["failureCode"], "MissingLayerDigest");
    assert_eq!(out["failures"][1]["failureCode"], "InvalidLayerDigest");
    let out = ecr(&s, "GetDownloadUrlForLayer", json!({"repositoryName": "layers", "layerDigest": d})).await.unwrap();
    let url = out["downloadUrl"].as_str().unwrap();
    let path = url.strip_prefix("http://127.0.0.1").unwrap();
    assert_eq!(s.send(Method::GET, path, &[], "").await.body.as_ref(), b"hello layer");
    let r = ecr(&s, "UploadLayerPart", part(0, b"x")).await;
    assert_eq!(code(r), "UploadNotFoundException");
}

#[tokio::test]
async fn lifecycle_policies_expire_images() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path(), false).await;
    ecr(&s, "CreateRepository", json!({"repositoryName": "life"})).await.unwrap();
    assert_eq!(
        code(ecr(&s, "GetLifecyclePolicy", json!({"repositoryName": "life"})).await),
        "LifecyclePolicyNotFoundException"
    );
    let bad = json!({"rules": [{"rulePriority": 1, "selection": {"tagStatus": "tagged", "countType": "imageCountMoreThan", "countNumber": 1}, "action": {"type": "expire"}}]});
    let r =
        ecr(&s, "PutLifecyclePolicy", json!({"repositoryName": "life", "lifecyclePolicyText": bad.to_string()})).await;
    assert_eq!(code(r), "InvalidParameterException");
    let mut digests = Vec::new();
    for i in 0..4 {
        digests.push(s.push_image("life", &format!("rel-{i}"), format!("layer {i}").as_bytes()).await);
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    s.push_image("life", "keep", b"other").await;
    let policy = json!({"rules": [{"rulePriority": 1, "description": "keep two releases",
        "selection": {"tagStatus": "tagged", "tagPrefixList": ["rel-"], "countType": "imageCountMoreThan", "countNumber": 2},
        "action": {"type": "expire"}}]})
    .to_string();
    let out =
        ecr(&s, "PutLifecyclePolicy", json!({"repositoryName": "life", "lifecyclePolicyText": policy})).await.unwrap();
    assert_eq!(out["lifecyclePolicyText"], policy.as_str());
    let out = ecr(&s, "GetLifecyclePolicy", json!({"repositoryName": "life"})).await.unwrap();
    assert_eq!(out["lifecyclePolicyText"], policy.as_str());
    let preview = ecr(&s, "GetLifecyclePolicyPreview", json!({"repositoryName": "life"})).await.unwrap();
    assert_eq!(preview["status"], "COMPLETE");
    assert_eq!(preview["summary"]["expiringImageTotalCount"], 2);
    let mut previewed: Vec<&str> =
        preview["previewResults"].as_array().unwrap().iter().map(|r| r["imageDigest"].as_str().unwrap()).collect();
    previewed.sort();
    let mut expected = vec![digests[0].as_str(), digests[1].as_str()];
    expected.sort();
    assert_eq!(previewed, expected);
    assert_eq!(preview["previewResults"][0]["action"]["type"], "EXPIRE");
    let report = s.registry.apply_lifecycle_policies().await.unwrap();
    assert_eq!(report[0].1.len(), 2);
    let tags = s.send(Method::GET, "/v2/life/tags/list", &[], "").await.json()["tags"].clone();
    assert_eq!(tags, json!(["keep", "rel-2", "rel-3"]));
    let out = ecr(&s, "GetLifecyclePolicy", json!({"repositoryName": "life"})).await.unwrap();
    assert!(out["lastEvaluatedAt"].as_f64().is_some());
    ecr(&s, "DeleteLifecyclePolicy", json!({"repositoryName": "life"})).await.unwrap();
    assert_eq!(
        code(ecr(&s, "DeleteLifecyclePolicy", json!({"repositoryName": "life"})).await),
        "LifecyclePolicyNotFoundException"
    );
}

#[tokio::test]
async fn repository_policies_and_resource_tags() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path(), false).await;
    ecr(&s, "CreateRepository", json!({"repositoryName": "pol"})).await.unwrap();
    assert_eq!(
        code(ecr(&s, "GetRepositoryPolicy", json!({"repositoryName": "pol"})).await),
        "RepositoryPolicyNotFoundException"
    );
    let text =
        json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "ecr:*"}]})
            .to_string();
    ecr(&s, "SetRepositoryPolicy", json!({"repositoryName": "pol", "policyText": text})).await.unwrap();
    assert_eq!(
        ecr(&s, "GetRepositoryPolicy", json!({"repositoryName": "pol"})).await.unwrap()["policyText"],
        text.as_str()
    );
    assert_eq!(
        code(ecr(&s, "SetRepositoryPolicy", json!({"repositoryName": "pol", "policyText": "nope"})).await),
        "InvalidParameterException"
    );
    ecr(&s, "DeleteRepositoryPolicy", json!({"repositoryName": "pol"})).await.unwrap();
    assert_eq!(
        code(ecr(&s, "DeleteRepositoryPolicy", json!({"repositoryName": "pol"})).await),
        "RepositoryPolicyNotFoundException"
    );
    let arn = "arn:aws:ecr:us-east-1:000000000000:repository/pol";
    ecr(
        &s,
        "TagResource",
        json!({"resourceArn": arn, "tags": [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}]}),
    )
    .await
    .unwrap();
    ecr(&s, "UntagResource", json!({"resourceArn": arn, "tagKeys": ["a"]})).await.unwrap();
    let out = ecr(&s, "ListTagsForResource", json!({"resourceArn": arn})).await.unwrap();
    assert_eq!(out["tags"], json!([{"Key": "b", "Value": "2"}]));
    let r = ecr(&s, "ListTagsForResource", json!({"resourceArn": "arn:aws:ecr:us-east-1:000000000000:repository/zz"}))
        .await;
    assert_eq!(code(r), "RepositoryNotFoundException");
    assert_eq!(
        code(ecr(&s, "ListTagsForResource", json!({"resourceArn": "arn:aws:s3:::b"})).await),
        "InvalidParameterException"
    );
    assert_eq!(code(ecr(&s, "NoSuchThing", json!({})).await), "UnknownOperationException");
}
