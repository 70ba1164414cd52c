use super::*;

async fn service() -> (tempfile::TempDir, SecretsService) {
    let dir = tempfile::tempdir().unwrap();
    let service =
        SecretsService::open(&flotilla_db::testing::location(dir.path()), AccountContext::default()).await.unwrap();
    (dir, service)
}

async fn call(s: &SecretsService, op: &str, input: Value) -> Result<Value, AwsError> {
    let caller = Caller::new("AKIDTEST", "r");
    let response = s.call(op, Bytes::from(input.to_string()), &caller).await?;
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    Ok(serde_json::from_slice(&bytes).unwrap())
}

#[tokio::test]
async fn create_get_and_rotate_versions() {
    let (_dir, s) = service().await;
    let created = call(&s, "CreateSecret", json!({"Name": "app/db", "SecretString": "one"})).await.unwrap();
    let arn = created["ARN"].as_str().unwrap().to_string();
    let suffix = arn.strip_prefix("arn:aws:secretsmanager:us-east-1:000000000000:secret:app/db-").unwrap();
    assert_eq!(suffix.len(), 6);
    assert!(suffix.chars().all(|c| c.is_ascii_alphanumeric()));
    let first = created["VersionId"].as_str().unwrap().to_string();

    let got = call(&s, "GetSecretValue", json!({"SecretId": "app/db"})).await.unwrap();
    assert_eq!(got["SecretString"], "one");
    assert_eq!(got["VersionStages"], json!(["AWSCURRENT"]));
    let by_arn = call(&s, "GetSecretValue", json!({"SecretId": arn})).await.unwrap();
    assert_eq!(by_arn["VersionId"], json!(first));

    let put = call(&s, "PutSecretValue", json!({"SecretId": "app/db", "SecretString": "two"})).await.unwrap();
    let second = put["VersionId"].as_str().unwrap().to_string();
    assert_eq!(call(&s, "GetSecretValue", json!({"SecretId": "app/db"})).await.unwrap()["SecretString"], "two");
    let previous =
        call(&s, "GetSecretValue", json!({"SecretId": "app/db", "VersionStage": "AWSPREVIOUS"})).await.unwrap();
    assert_eq!(previous["SecretString"], "one");
    let described = call(&s, "DescribeSecret", json!({"SecretId": "app/db"})).await.unwrap();
    assert_eq!(described["VersionIdsToStages"][&second], json!(["AWSCURRENT"]));
    assert_eq!(described["VersionIdsToStages"][&first], json!(["AWSPREVIOUS"]));

    // A third version drops the first, which is left without a stage.
    call(&s, "PutSecretValue", json!({"SecretId": "app/db", "SecretString": "three"})).await.unwrap();
    let described = call(&s, "DescribeSecret", json!({"SecretId": "app/db"})).await.unwrap();
    assert_eq!(described["VersionIdsToStages"].as_object().unwrap().len(), 2);
    assert_eq!(described["VersionIdsToStages"][&second], json!(["AWSPREVIOUS"]));
}

#[tokio::test]
async fn binary_values_round_trip_and_tokens_are_idempotent() {
    let (_dir, s) = service().await;
    let token = "0123456789abcdef0123456789abcdef";
    call(&s, "CreateSecret", json!({"Name": "bin", "SecretBinary": "AAEC"})).await.unwrap();
    let got = call(&s, "GetSecretValue", json!({"SecretId": "bin"})).await.unwrap();
    assert_eq!(got["SecretBinary"], "AAEC");
    assert!(got.get("SecretString").is_none());
    let put = json!({"SecretId": "bin", "SecretString": "x", "ClientRequestToken": token});
    let a = call(&s, "PutSecretValue", put.clone()).await.unwrap();
    let b = call(&s, "PutSecretValue", put).await.unwrap();
    assert_eq!(a["VersionId"], b["VersionId"]);
    let e = call(&s, "PutSecretValue", json!({"SecretId": "bin", "SecretString": "y", "ClientRequestToken": token}))
        .await
        .unwrap_err();
    assert_eq!(e.code, "ResourceExistsException");
}

#[tokio::test]
async fn errors_are_awss() {
    let (_dir, s) = service().await;
    let e = call(&s, "GetSecretValue", json!({"SecretId": "nope"})).await.unwrap_err();
    assert_eq!(e.code, "ResourceNotFoundException");
    call(&s, "CreateSecret", json!({"Name": "a", "SecretString": "v"})).await.unwrap();
    let e = call(&s, "CreateSecret", json!({"Name": "a", "SecretString": "v"})).await.unwrap_err();
    assert_eq!(e.code, "ResourceExistsException");
    let e =
        call(&s, "CreateSecret", json!({"Name": "b", "SecretString": "v", "SecretBinary": "AA=="})).await.unwrap_err();
    assert_eq!(e.code, "InvalidParameterException");
    let e = call(&s, "CreateSecret", json!({"Name": "bad name!", "SecretString": "v"})).await.unwrap_err();
    assert_eq!(e.code, "InvalidParameterException");
    let e = call(&s, "DeleteSecret", json!({"SecretId": "a", "RecoveryWindowInDays": 3})).await.unwrap_err();
    assert_eq!(e.code, "InvalidParameterException");
    let e = call(&s, "Rotate", json!({})).await.unwrap_err();
    assert_eq!(e.code, "UnknownOperationException");
}

#[tokio::test]
async fn deletion_with_and_without_recovery() {
    let (_dir, s) = service().await;
    call(&s, "CreateSecret", json!({"Name": "soft", "SecretString": "v"})).await.unwrap();
    call(&s, "CreateSecret", json!({"Name": "hard", "SecretString": "v"})).await.unwrap();
    let d = call(&s, "DeleteSecret", json!({"SecretId": "soft", "RecoveryWindowInDays": 7})).await.unwrap();
    assert!(d["DeletionDate"].as_f64().unwrap() > 0.0);
    let e = call(&s, "GetSecretValue", json!({"SecretId": "soft"})).await.unwrap_err();
    assert_eq!(e.code, "InvalidRequestException");
    let described = call(&s, "DescribeSecret", json!({"SecretId": "soft"})).await.unwrap();
    assert!(described["DeletedDate"].is_number());
    let e = call(&s, "CreateSecret", json!({"Name": "soft", "SecretString": "v"})).await.unwrap_err();
    assert_eq!(e.code, "InvalidRequestException");

    call(&s, "DeleteSecret", json!({"SecretId": "hard", "ForceDeleteWithoutRecovery": true})).await.unwrap();
    let e = call(&s, "GetSecretValue", json!({"SecretId": "hard"})).await.unwrap_err();
    assert_eq!(e.code, "ResourceNotFoundException");

    let listed = call(&s, "ListSecrets", json!({})).await.unwrap();
    assert_eq!(listed["SecretList"].as_array().unwrap().len(), 0);
    let listed = call(&s, "ListSecrets", json!({"IncludePlannedDeletion": true})).await.unwrap();
    assert_eq!(listed["SecretList"][0]["Name"], "soft");
}

#[tokio::test]
async fn list_pages_and_filters() {
    let (_dir, s) = service().await;
    for i in 0..5 {
        let tags = json!([{"Key": "team", "Value": if i % 2 == 0 { "red" } else { "blue" }}]);
        call(&s, "CreateSecret", json!({"Name": format!("s{i}"), "SecretString": "v", "Tags": tags})).await.unwrap();
    }
    let mut names = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut input = json!({"MaxResults": 2});
        if let Some(t) = &token {
            input["NextToken"] = json!(t);
        }
        let page = call(&s, "ListSecrets", input).await.unwrap();
        for e in page["SecretList"].as_array().unwrap() {
            names.push(e["Name"].as_str().unwrap().to_string());
            assert!(e["SecretVersionsToStages"].is_object());
        }
        match page["NextToken"].as_str() {
            Some(t) => token = Some(t.to_string()),
            None => break,
        }
    }
    assert_eq!(names, ["s0", "s1", "s2", "s3", "s4"]);
    let red = call(&s, "ListSecrets", json!({"Filters": [{"Key": "tag-value", "Values": ["red"]}]})).await.unwrap();
    assert_eq!(red["SecretList"].as_array().unwrap().len(), 3);
    let e = call(&s, "ListSecrets", json!({"NextToken": "!!"})).await.unwrap_err();
    assert_eq!(e.code, "InvalidNextTokenException");
}

#[tokio::test]
async fn survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let s = SecretsService::open(&flotilla_db::testing::location(dir.path()), AccountContext::default()).await.unwrap();
    call(&s, "CreateSecret", json!({"Name": "kept", "SecretString": "v"})).await.unwrap();
    s.close().await;
    let s = SecretsService::open(&flotilla_db::testing::location(dir.path()), AccountContext::default()).await.unwrap();
    assert_eq!(call(&s, "GetSecretValue", json!({"SecretId": "kept"})).await.unwrap()["SecretString"], "v");
}

#[test]
fn values_are_redacted_in_debug() {
    let v = VersionRecord {
        version_id: "v".into(),
        value: SecretValue::String("hunter2".into()),
        stages: vec![],
        created_at: Timestamp(0),
    };
    assert!(!format!("{v:?}").contains("hunter2"));
    assert!(!format!("{:?}", SecretValue::Binary(b"hunter2".to_vec())).contains("hunter2"));
}

#[tokio::test]
async fn secrets_without_a_value_and_partial_arns() {
    let (_dir, s) = service().await;
    let created = call(&s, "CreateSecret", json!({"Name": "later"})).await.unwrap();
    assert!(created.get("VersionId").is_none());
    let e = call(&s, "GetSecretValue", json!({"SecretId": "later"})).await.unwrap_err();
    assert_eq!(e.code, "ResourceNotFoundException");
    call(&s, "PutSecretValue", json!({"SecretId": "later", "SecretString": "now"})).await.unwrap();
    let arn = created["ARN"].as_str().unwrap();
    let partial = &arn[..arn.len() - 7];
    let got = call(&s, "GetSecretValue", json!({"SecretId": partial})).await.unwrap();
    assert_eq!(got["SecretString"], "now");
    let e = call(&s, "GetSecretValue", json!({"SecretId": &arn[..arn.len() - 8]})).await.unwrap_err();
    assert_eq!(e.code, "ResourceNotFoundException");
}

#[test]
fn operations_name_their_secret() {
    let scope = ArnScope { region: "us-east-1", account_id: "000000000000" };
    let resources = |name: &str, input: Value| match OPERATIONS.iter().find(|o| o.name == name).unwrap().resources {
        Resources::Any => vec!["*".to_string()],
        Resources::From(read) => read(&OperationInput::Json(&input), &scope),
    };
    assert_eq!(
        resources("GetSecretValue", json!({"SecretId": "app/db"})),
        vec!["arn:aws:secretsmanager:us-east-1:000000000000:secret:app/db"]
    );
    let arn = "arn:aws:secretsmanager:us-east-1:000000000000:secret:app/db-AbCdEf";
    assert_eq!(resources("DeleteSecret", json!({"SecretId": arn})), vec![arn]);
    assert_eq!(
        resources("CreateSecret", json!({"Name": "x"})),
        vec!["arn:aws:secretsmanager:us-east-1:000000000000:secret:x"]
    );
    assert_eq!(resources("ListSecrets", json!({})), vec!["*"]);
    for op in OPERATIONS {
        assert_eq!(op.action, format!("secretsmanager:{}", op.name));
    }
}
