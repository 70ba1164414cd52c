//! Secrets Manager through the control plane's router: signed calls, AWS shapes and
//! errors, and state kept across a restart.

mod common;

use common::{call, plane};
use http::StatusCode;
use serde_json::json;

#[tokio::test]
async fn secrets_through_the_router() {
    let dir = tempfile::tempdir().unwrap();
    let p = plane(&dir).await;
    let (status, created) = call(
        &p,
        "secretsmanager.CreateSecret",
        json!({"Name": "registry/creds", "SecretString": "{\"username\":\"u\",\"password\":\"p\"}"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let arn = created["ARN"].as_str().unwrap().to_string();
    assert!(arn.starts_with("arn:aws:secretsmanager:us-east-1:000000000000:secret:registry/creds-"), "{arn}");

    let (status, got) = call(&p, "secretsmanager.GetSecretValue", json!({"SecretId": arn})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got["Name"], "registry/creds");
    assert_eq!(got["VersionStages"], json!(["AWSCURRENT"]));

    let (status, e) = call(&p, "secretsmanager.GetSecretValue", json!({"SecretId": "missing"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(e["__type"], "ResourceNotFoundException");

    let (status, e) =
        call(&p, "secretsmanager.CreateSecret", json!({"Name": "registry/creds", "SecretString": "x"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(e["__type"], "ResourceExistsException");

    let (status, e) = call(&p, "secretsmanager.CreateSecret", json!({"Name": 5})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(e["__type"], "SerializationException");

    // The secret is kept in its own store (secrets.db on SQLite) and survives a restart.
    if p.store.db().backend() != flotilla_db::Backend::Postgres {
        assert!(dir.path().join("secrets.db").exists());
    }
    p.secrets.close().await;
    drop(p);
    let p = plane(&dir).await;
    let (status, listed) = call(&p, "secretsmanager.ListSecrets", json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed["SecretList"][0]["ARN"], json!(arn));
}
