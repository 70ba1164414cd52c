use super::*;

fn sealer() -> Sealer {
    Sealer::from_key([7; 32])
}

async fn service() -> (tempfile::TempDir, SecretsService) {
    let dir = tempfile::tempdir().unwrap();
    let service =
        SecretsService::open(&flotilla_db::testing::location(dir.path()), AccountContext::default(), sealer())
            .await
            .unwrap();
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
    let s = SecretsService::open(&flotilla_db::testing::location(dir.path()), AccountContext::default(), sealer())
        .await
        .unwrap();
    call(&s, "CreateSecret", json!({"Name": "kept", "SecretString": "v"})).await.unwrap();
    s.close().await;
    let s = SecretsService::open(&flotilla_db::testing::location(dir.path()), AccountContext::default(), sealer())
        .await
        .unwrap();
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

const TOKEN_A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const TOKEN_B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

async fn stages(s: &SecretsService, id: &str) -> Value {
    call(s, "DescribeSecret", json!({"SecretId": id})).await.unwrap()["VersionIdsToStages"].clone()
}

#[tokio::test]
async fn update_secret_changes_metadata_and_adds_versions() {
    let (_dir, s) = service().await;
    let created =
        call(&s, "CreateSecret", json!({"Name": "u", "SecretString": "one", "Description": "old"})).await.unwrap();
    let first = created["VersionId"].as_str().unwrap().to_string();

    // Metadata alone: no new version.
    let out = call(&s, "UpdateSecret", json!({"SecretId": "u", "Description": "new", "KmsKeyId": "alias/mine"}))
        .await
        .unwrap();
    assert!(out.get("VersionId").is_none());
    let described = call(&s, "DescribeSecret", json!({"SecretId": "u"})).await.unwrap();
    assert_eq!(described["Description"], "new");
    assert_eq!(described["KmsKeyId"], "alias/mine");
    assert_eq!(described["VersionIdsToStages"], json!({&first: ["AWSCURRENT"]}));

    // A value: a new version AWSCURRENT, the old one AWSPREVIOUS; the token is its id.
    let out = call(&s, "UpdateSecret", json!({"SecretId": "u", "SecretString": "two", "ClientRequestToken": TOKEN_A}))
        .await
        .unwrap();
    assert_eq!(out["VersionId"], TOKEN_A);
    assert_eq!(out["Name"], "u");
    assert_eq!(stages(&s, "u").await, json!({&first: ["AWSPREVIOUS"], TOKEN_A: ["AWSCURRENT"]}));
    assert_eq!(call(&s, "GetSecretValue", json!({"SecretId": "u"})).await.unwrap()["SecretString"], "two");

    // The same token and value again changes nothing; another value is refused.
    let again =
        call(&s, "UpdateSecret", json!({"SecretId": "u", "SecretString": "two", "ClientRequestToken": TOKEN_A}))
            .await
            .unwrap();
    assert_eq!(again["VersionId"], TOKEN_A);
    assert_eq!(stages(&s, "u").await, json!({&first: ["AWSPREVIOUS"], TOKEN_A: ["AWSCURRENT"]}));
    let e = call(&s, "UpdateSecret", json!({"SecretId": "u", "SecretString": "3", "ClientRequestToken": TOKEN_A}))
        .await
        .unwrap_err();
    assert_eq!(e.code, "ResourceExistsException");

    // A binary value, and an empty KmsKeyId returns to the default key.
    call(&s, "UpdateSecret", json!({"SecretId": "u", "SecretBinary": "AAEC", "KmsKeyId": ""})).await.unwrap();
    let got = call(&s, "GetSecretValue", json!({"SecretId": "u"})).await.unwrap();
    assert_eq!(got["SecretBinary"], "AAEC");
    assert!(call(&s, "DescribeSecret", json!({"SecretId": "u"})).await.unwrap().get("KmsKeyId").is_none());

    // Bad input.
    for (input, code) in [
        (json!({"SecretId": "u", "SecretString": "x", "SecretBinary": "AA=="}), "InvalidParameterException"),
        (json!({"SecretId": "u", "SecretString": ""}), "InvalidParameterException"),
        (json!({"SecretId": "u", "SecretString": "x", "ClientRequestToken": "short"}), "InvalidParameterException"),
        (json!({"SecretId": "u", "Description": "d".repeat(2049)}), "InvalidParameterException"),
        (json!({"SecretId": "u", "SecretString": "x".repeat(65537)}), "InvalidParameterException"),
        (json!({"SecretId": "missing", "Description": "d"}), "ResourceNotFoundException"),
        (json!({"Description": "d"}), "SerializationException"),
    ] {
        let e = call(&s, "UpdateSecret", input.clone()).await.unwrap_err();
        assert_eq!(e.code, code, "{input}");
    }
    call(&s, "DeleteSecret", json!({"SecretId": "u"})).await.unwrap();
    let e = call(&s, "UpdateSecret", json!({"SecretId": "u", "SecretString": "x"})).await.unwrap_err();
    assert_eq!(e.code, "InvalidRequestException");
    assert!(e.message.contains("marked for deletion"), "{}", e.message);
}

#[tokio::test]
async fn restore_cancels_a_scheduled_deletion() {
    let (_dir, s) = service().await;
    call(&s, "CreateSecret", json!({"Name": "r", "SecretString": "v"})).await.unwrap();
    call(&s, "DeleteSecret", json!({"SecretId": "r", "RecoveryWindowInDays": 7})).await.unwrap();
    let restored = call(&s, "RestoreSecret", json!({"SecretId": "r"})).await.unwrap();
    assert_eq!(restored["Name"], "r");
    assert!(restored["ARN"].as_str().unwrap().contains(":secret:r-"));
    assert_eq!(call(&s, "GetSecretValue", json!({"SecretId": "r"})).await.unwrap()["SecretString"], "v");
    assert!(call(&s, "DescribeSecret", json!({"SecretId": "r"})).await.unwrap().get("DeletedDate").is_none());
    // Restoring a secret not scheduled for deletion changes nothing.
    call(&s, "RestoreSecret", json!({"SecretId": "r"})).await.unwrap();
    let e = call(&s, "RestoreSecret", json!({"SecretId": "gone"})).await.unwrap_err();
    assert_eq!(e.code, "ResourceNotFoundException");
    let e = call(&s, "RestoreSecret", json!({"SecretId": ""})).await.unwrap_err();
    assert_eq!(e.code, "InvalidParameterException");
}

#[tokio::test]
async fn list_secret_version_ids_pages_and_hides_deprecated() {
    let (_dir, s) = service().await;
    call(&s, "CreateSecret", json!({"Name": "v", "SecretString": "0"})).await.unwrap();
    for i in 1..5 {
        call(&s, "PutSecretValue", json!({"SecretId": "v", "SecretString": i.to_string()})).await.unwrap();
    }
    let listed = call(&s, "ListSecretVersionIds", json!({"SecretId": "v"})).await.unwrap();
    assert_eq!(listed["Name"], "v");
    let versions = listed["Versions"].as_array().unwrap();
    assert_eq!(versions.len(), 2, "only labelled versions by default");
    assert!(versions.iter().all(|v| v["CreatedDate"].is_number()));

    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut input = json!({"SecretId": "v", "IncludeDeprecated": true, "MaxResults": 2});
        if let Some(t) = &token {
            input["NextToken"] = json!(t);
        }
        let page = call(&s, "ListSecretVersionIds", input).await.unwrap();
        for v in page["Versions"].as_array().unwrap() {
            seen.push(v["VersionId"].as_str().unwrap().to_string());
        }
        match page["NextToken"].as_str() {
            Some(t) => token = Some(t.to_string()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 5);
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 5, "no version twice across pages");
    // A deprecated version is still readable by its id.
    let all = call(&s, "ListSecretVersionIds", json!({"SecretId": "v", "IncludeDeprecated": true})).await.unwrap();
    let deprecated = all["Versions"].as_array().unwrap().iter().find(|v| v.get("VersionStages").is_none()).unwrap();
    let got = call(&s, "GetSecretValue", json!({"SecretId": "v", "VersionId": deprecated["VersionId"]})).await.unwrap();
    assert!(got["SecretString"].is_string());

    for (input, code) in [
        (json!({"SecretId": "v", "MaxResults": 0}), "InvalidParameterException"),
        (json!({"SecretId": "v", "MaxResults": 101}), "InvalidParameterException"),
        (json!({"SecretId": "v", "NextToken": "!!"}), "InvalidNextTokenException"),
        (json!({"SecretId": "nope"}), "ResourceNotFoundException"),
    ] {
        let e = call(&s, "ListSecretVersionIds", input.clone()).await.unwrap_err();
        assert_eq!(e.code, code, "{input}");
    }
}

#[tokio::test]
async fn deprecated_versions_are_pruned_beyond_one_hundred() {
    let (_dir, s) = service().await;
    call(&s, "CreateSecret", json!({"Name": "many", "SecretString": "0"})).await.unwrap();
    for i in 1..=103 {
        call(&s, "PutSecretValue", json!({"SecretId": "many", "SecretString": i.to_string()})).await.unwrap();
    }
    let all = call(&s, "ListSecretVersionIds", json!({"SecretId": "many", "IncludeDeprecated": true})).await.unwrap();
    assert_eq!(all["Versions"].as_array().unwrap().len(), 100);
    assert_eq!(call(&s, "GetSecretValue", json!({"SecretId": "many"})).await.unwrap()["SecretString"], "103");
    let previous = call(&s, "GetSecretValue", json!({"SecretId": "many", "VersionStage": "AWSPREVIOUS"})).await;
    assert_eq!(previous.unwrap()["SecretString"], "102");
}

#[tokio::test]
async fn update_secret_version_stage_moves_labels() {
    let (_dir, s) = service().await;
    call(&s, "CreateSecret", json!({"Name": "st", "SecretString": "a", "ClientRequestToken": TOKEN_A})).await.unwrap();
    call(&s, "PutSecretValue", json!({"SecretId": "st", "SecretString": "b", "ClientRequestToken": TOKEN_B}))
        .await
        .unwrap();
    assert_eq!(stages(&s, "st").await, json!({TOKEN_A: ["AWSPREVIOUS"], TOKEN_B: ["AWSCURRENT"]}));

    // A label of one's own, added and then moved.
    let out = call(
        &s,
        "UpdateSecretVersionStage",
        json!({"SecretId": "st", "VersionStage": "MINE", "MoveToVersionId": TOKEN_A}),
    )
    .await
    .unwrap();
    assert_eq!(out["Name"], "st");
    assert_eq!(stages(&s, "st").await, json!({TOKEN_A: ["AWSPREVIOUS", "MINE"], TOKEN_B: ["AWSCURRENT"]}));
    let got = call(&s, "GetSecretValue", json!({"SecretId": "st", "VersionStage": "MINE"})).await.unwrap();
    assert_eq!(got["SecretString"], "a");
    // Moving it without saying where from is refused, naming the version holding it.
    let e = call(
        &s,
        "UpdateSecretVersionStage",
        json!({"SecretId": "st", "VersionStage": "MINE", "MoveToVersionId": TOKEN_B}),
    )
    .await
    .unwrap_err();
    assert_eq!(e.code, "InvalidParameterException");
    assert!(e.message.contains(TOKEN_A) && e.message.contains("RemoveFromVersionId"), "{}", e.message);
    call(
        &s,
        "UpdateSecretVersionStage",
        json!({"SecretId": "st", "VersionStage": "MINE", "RemoveFromVersionId": TOKEN_A, "MoveToVersionId": TOKEN_B}),
    )
    .await
    .unwrap();
    assert_eq!(stages(&s, "st").await, json!({TOKEN_A: ["AWSPREVIOUS"], TOKEN_B: ["AWSCURRENT", "MINE"]}));
    // Removed from a version entirely.
    call(
        &s,
        "UpdateSecretVersionStage",
        json!({"SecretId": "st", "VersionStage": "MINE", "RemoveFromVersionId": TOKEN_B}),
    )
    .await
    .unwrap();
    assert_eq!(stages(&s, "st").await, json!({TOKEN_A: ["AWSPREVIOUS"], TOKEN_B: ["AWSCURRENT"]}));

    // AWSCURRENT moved back: AWSPREVIOUS goes to the version it left.
    call(
        &s,
        "UpdateSecretVersionStage",
        json!({"SecretId": "st", "VersionStage": "AWSCURRENT", "RemoveFromVersionId": TOKEN_B, "MoveToVersionId": TOKEN_A}),
    )
    .await
    .unwrap();
    assert_eq!(stages(&s, "st").await, json!({TOKEN_A: ["AWSCURRENT"], TOKEN_B: ["AWSPREVIOUS"]}));
    assert_eq!(call(&s, "GetSecretValue", json!({"SecretId": "st"})).await.unwrap()["SecretString"], "a");

    // AWS's refusals.
    let unknown = "cccccccccccccccccccccccccccccccc";
    for (input, code, says) in [
        (
            json!({"VersionStage": "AWSCURRENT", "MoveToVersionId": TOKEN_B}),
            "InvalidParameterException",
            "RemoveFromVersionId can't be empty",
        ),
        (
            json!({"VersionStage": "AWSCURRENT", "RemoveFromVersionId": TOKEN_A}),
            "InvalidParameterException",
            "MoveToVersionId",
        ),
        (json!({"VersionStage": "X", "MoveToVersionId": unknown}), "InvalidParameterException", "Not a valid version"),
        (
            json!({"VersionStage": "X", "RemoveFromVersionId": TOKEN_A}),
            "InvalidParameterException",
            "not found in version",
        ),
        (json!({"VersionStage": "", "MoveToVersionId": TOKEN_A}), "InvalidParameterException", "VersionStage"),
        (json!({"VersionStage": "X", "MoveToVersionId": "short"}), "InvalidParameterException", "MoveToVersionId"),
    ] {
        let mut input = input;
        input["SecretId"] = json!("st");
        let e = call(&s, "UpdateSecretVersionStage", input.clone()).await.unwrap_err();
        assert_eq!(e.code, code, "{input}");
        assert!(e.message.contains(says), "{input}: {}", e.message);
    }
    // At most 20 labels across a secret's versions.
    for i in 0..18 {
        call(
            &s,
            "UpdateSecretVersionStage",
            json!({"SecretId": "st", "VersionStage": format!("L{i}"), "MoveToVersionId": TOKEN_B}),
        )
        .await
        .unwrap();
    }
    let e = call(
        &s,
        "UpdateSecretVersionStage",
        json!({"SecretId": "st", "VersionStage": "L18", "MoveToVersionId": TOKEN_B}),
    )
    .await
    .unwrap_err();
    assert_eq!(e.code, "LimitExceededException");
    let e = call(
        &s,
        "UpdateSecretVersionStage",
        json!({"SecretId": "nope", "VersionStage": "X", "MoveToVersionId": TOKEN_B}),
    )
    .await
    .unwrap_err();
    assert_eq!(e.code, "ResourceNotFoundException");
}

#[test]
fn stage_moves_are_planned_purely() {
    let v = |id: &str, stages: &[&str]| (id.to_string(), stages.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    let versions = vec![v("a", &["AWSPREVIOUS"]), v("b", &["AWSCURRENT"]), v("c", &[])];
    let m = StageMove { stage: "AWSCURRENT", remove_from: Some("b"), move_to: Some("c") };
    assert_eq!(
        plan_stage_move(&versions, &m).unwrap(),
        vec![v("a", &[]), v("b", &["AWSPREVIOUS"]), v("c", &["AWSCURRENT"])]
    );
    // Moving a label onto the version that has it already changes nothing.
    let m = StageMove { stage: "AWSCURRENT", remove_from: None, move_to: Some("b") };
    assert_eq!(plan_stage_move(&versions, &m).unwrap(), versions);
    let m = StageMove { stage: "AWSCURRENT", remove_from: Some("a"), move_to: Some("c") };
    assert_eq!(plan_stage_move(&versions, &m), Err(MoveStage::NotAttached { version: "a".into() }));
}

#[tokio::test]
async fn tags_are_added_replaced_and_removed() {
    let (_dir, s) = service().await;
    call(&s, "CreateSecret", json!({"Name": "t", "SecretString": "v", "Tags": [{"Key": "a", "Value": "1"}]}))
        .await
        .unwrap();
    let out = call(
        &s,
        "TagResource",
        json!({"SecretId": "t", "Tags": [{"Key": "a", "Value": "2"}, {"Key": "b", "Value": ""}]}),
    )
    .await
    .unwrap();
    assert_eq!(out, json!({}));
    let described = call(&s, "DescribeSecret", json!({"SecretId": "t"})).await.unwrap();
    assert_eq!(described["Tags"], json!([{"Key": "a", "Value": "2"}, {"Key": "b", "Value": ""}]));
    let listed = call(&s, "ListSecrets", json!({"Filters": [{"Key": "tag-key", "Values": ["b"]}]})).await.unwrap();
    assert_eq!(listed["SecretList"][0]["Tags"], described["Tags"]);

    // Untagging is idempotent: a key not there is no error.
    call(&s, "UntagResource", json!({"SecretId": "t", "TagKeys": ["a", "zzz"]})).await.unwrap();
    let described = call(&s, "DescribeSecret", json!({"SecretId": "t"})).await.unwrap();
    assert_eq!(described["Tags"], json!([{"Key": "b", "Value": ""}]));
    call(&s, "UntagResource", json!({"SecretId": "t", "TagKeys": ["b"]})).await.unwrap();
    assert!(call(&s, "DescribeSecret", json!({"SecretId": "t"})).await.unwrap().get("Tags").is_none());

    // AWS's tag rules.
    let many: Vec<Value> = (0..50).map(|i| json!({"Key": format!("k{i}"), "Value": "v"})).collect();
    call(&s, "TagResource", json!({"SecretId": "t", "Tags": many})).await.unwrap();
    for (input, code) in [
        (json!({"Tags": [{"Key": "one-more", "Value": "v"}]}), "InvalidParameterException"),
        (json!({"Tags": [{"Key": "aws:owner", "Value": "v"}]}), "InvalidParameterException"),
        (json!({"Tags": [{"Key": "", "Value": "v"}]}), "InvalidParameterException"),
        (json!({"Tags": [{"Key": "k".repeat(129), "Value": "v"}]}), "InvalidParameterException"),
        (json!({"Tags": [{"Key": "k", "Value": "v".repeat(257)}]}), "InvalidParameterException"),
        (json!({"Tags": [{"Key": "bad#key", "Value": "v"}]}), "InvalidParameterException"),
        (json!({"Tags": [{"Key": "d", "Value": "1"}, {"Key": "d", "Value": "2"}]}), "InvalidParameterException"),
        (json!({}), "SerializationException"),
    ] {
        let mut input = input;
        input["SecretId"] = json!("t");
        let e = call(&s, "TagResource", input.clone()).await.unwrap_err();
        assert_eq!(e.code, code, "{input}");
    }
    // Replacing a value does not count as a new tag.
    call(&s, "TagResource", json!({"SecretId": "t", "Tags": [{"Key": "k0", "Value": "w"}]})).await.unwrap();
    let e = call(&s, "UntagResource", json!({"SecretId": "t", "TagKeys": [""]})).await.unwrap_err();
    assert_eq!(e.code, "InvalidParameterException");
    let e = call(&s, "TagResource", json!({"SecretId": "nope", "Tags": []})).await.unwrap_err();
    assert_eq!(e.code, "ResourceNotFoundException");
    let e =
        call(&s, "CreateSecret", json!({"Name": "t2", "Tags": [{"Key": "aws:x", "Value": "v"}]})).await.unwrap_err();
    assert_eq!(e.code, "InvalidParameterException");
}

#[tokio::test]
async fn random_passwords_follow_the_options() {
    let (_dir, s) = service().await;
    let password = |v: Value| v["RandomPassword"].as_str().unwrap().to_string();
    let p = password(call(&s, "GetRandomPassword", json!({})).await.unwrap());
    assert_eq!(p.chars().count(), 32);
    assert!(p.chars().any(|c| c.is_ascii_lowercase()));
    assert!(p.chars().any(|c| c.is_ascii_uppercase()));
    assert!(p.chars().any(|c| c.is_ascii_digit()));
    assert!(p.chars().any(|c| PUNCTUATION.contains(c)));
    assert!(!p.contains(' '));
    assert_ne!(p, password(call(&s, "GetRandomPassword", json!({})).await.unwrap()));

    let p = password(
        call(
            &s,
            "GetRandomPassword",
            json!({"PasswordLength": 4096, "ExcludePunctuation": true, "ExcludeCharacters": "abc0"}),
        )
        .await
        .unwrap(),
    );
    assert_eq!(p.len(), 4096);
    assert!(p.chars().all(|c| c.is_ascii_alphanumeric() && !"abc0".contains(c)));

    let p = password(
        call(&s, "GetRandomPassword", json!({"PasswordLength": 4, "RequireEachIncludedType": true})).await.unwrap(),
    );
    assert!(p.chars().any(|c| c.is_ascii_lowercase()) && p.chars().any(|c| c.is_ascii_uppercase()));
    assert!(p.chars().any(|c| c.is_ascii_digit()) && p.chars().any(|c| PUNCTUATION.contains(c)));

    let p = password(
        call(
            &s,
            "GetRandomPassword",
            json!({"PasswordLength": 1, "ExcludeLowercase": true, "ExcludeUppercase": true, "ExcludePunctuation": true}),
        )
        .await
        .unwrap(),
    );
    assert!(p.len() == 1 && p.chars().all(|c| c.is_ascii_digit()));
    let p = password(
        call(
            &s,
            "GetRandomPassword",
            json!({"PasswordLength": 64, "IncludeSpace": true, "ExcludeLowercase": true, "ExcludeUppercase": true,
                   "ExcludeNumbers": true, "ExcludePunctuation": true}),
        )
        .await
        .unwrap(),
    );
    assert_eq!(p, " ".repeat(64));

    for input in [
        json!({"PasswordLength": 0}),
        json!({"PasswordLength": 4097}),
        json!({"PasswordLength": 3}),
        json!({"ExcludeLowercase": true, "ExcludeUppercase": true, "ExcludeNumbers": true, "ExcludePunctuation": true}),
        json!({"ExcludeCharacters": "x".repeat(4097)}),
    ] {
        let e = call(&s, "GetRandomPassword", input.clone()).await.unwrap_err();
        assert_eq!(e.code, "InvalidParameterException", "{input}");
    }
    // Short passwords are fine when each type need not appear.
    let p = password(
        call(&s, "GetRandomPassword", json!({"PasswordLength": 3, "RequireEachIncludedType": false})).await.unwrap(),
    );
    assert_eq!(p.chars().count(), 3);
}

#[tokio::test]
async fn batch_get_secret_value_by_ids_and_filters() {
    let (_dir, s) = service().await;
    for i in 0..5 {
        call(&s, "CreateSecret", json!({"Name": format!("b/{i}"), "SecretString": format!("v{i}")})).await.unwrap();
    }
    call(&s, "CreateSecret", json!({"Name": "b/empty"})).await.unwrap();
    call(&s, "CreateSecret", json!({"Name": "b/deleted", "SecretString": "x"})).await.unwrap();
    call(&s, "DeleteSecret", json!({"SecretId": "b/deleted"})).await.unwrap();

    let out =
        call(&s, "BatchGetSecretValue", json!({"SecretIdList": ["b/0", "b/3", "missing", "b/empty", "b/deleted"]}))
            .await
            .unwrap();
    let values = out["SecretValues"].as_array().unwrap();
    assert_eq!(values.iter().map(|v| v["SecretString"].as_str().unwrap()).collect::<Vec<_>>(), ["v0", "v3"]);
    assert_eq!(values[0]["VersionStages"], json!(["AWSCURRENT"]));
    let errors: Vec<(&str, &str)> = out["Errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["SecretId"].as_str().unwrap(), e["ErrorCode"].as_str().unwrap()))
        .collect();
    assert_eq!(
        errors,
        [
            ("missing", "ResourceNotFoundException"),
            ("b/empty", "ResourceNotFoundException"),
            ("b/deleted", "InvalidRequestException")
        ]
    );

    // Filters, paged; secrets scheduled for deletion are left out.
    let mut names = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut input = json!({"Filters": [{"Key": "name", "Values": ["b/"]}], "MaxResults": 2});
        if let Some(t) = &token {
            input["NextToken"] = json!(t);
        }
        let page = call(&s, "BatchGetSecretValue", input).await.unwrap();
        for v in page["SecretValues"].as_array().unwrap() {
            names.push(v["Name"].as_str().unwrap().to_string());
        }
        match page["NextToken"].as_str() {
            Some(t) => token = Some(t.to_string()),
            None => break,
        }
    }
    assert_eq!(names, ["b/0", "b/1", "b/2", "b/3", "b/4"]);

    let twenty_one: Vec<String> = (0..21).map(|i| format!("s{i}")).collect();
    for (input, code) in [
        (json!({}), "InvalidParameterException"),
        (json!({"SecretIdList": ["b/0"], "Filters": [{"Key": "name", "Values": ["b"]}]}), "InvalidParameterException"),
        (json!({"SecretIdList": []}), "InvalidParameterException"),
        (json!({"SecretIdList": twenty_one}), "InvalidParameterException"),
        (json!({"SecretIdList": ["b/0"], "MaxResults": 2}), "InvalidParameterException"),
        (json!({"Filters": [{"Key": "name", "Values": ["b"]}], "MaxResults": 21}), "InvalidParameterException"),
        (json!({"Filters": [{"Key": "colour", "Values": ["b"]}]}), "InvalidParameterException"),
        (json!({"Filters": [{"Key": "name", "Values": ["b#"]}]}), "InvalidParameterException"),
        (json!({"Filters": [{"Key": "name", "Values": ["b"]}], "NextToken": "!!"}), "InvalidNextTokenException"),
    ] {
        let e = call(&s, "BatchGetSecretValue", input.clone()).await.unwrap_err();
        assert_eq!(e.code, code, "{input}");
    }
}

#[test]
fn new_operations_name_their_secrets() {
    let scope = ArnScope { region: "us-east-1", account_id: "000000000000" };
    let resources = |name: &str, input: Value| match OPERATIONS.iter().find(|o| o.name == name).unwrap().resources {
        Resources::Any => vec!["*".to_string()],
        Resources::From(read) => read(&OperationInput::Json(&input), &scope),
    };
    let arn = |n: &str| format!("arn:aws:secretsmanager:us-east-1:000000000000:secret:{n}");
    for op in [
        "UpdateSecret",
        "RestoreSecret",
        "ListSecretVersionIds",
        "UpdateSecretVersionStage",
        "TagResource",
        "UntagResource",
    ] {
        assert_eq!(resources(op, json!({"SecretId": "x"})), vec![arn("x")], "{op}");
    }
    assert_eq!(resources("GetRandomPassword", json!({})), vec!["*"]);
    let full = arn("b-AbCdEf");
    assert_eq!(resources("BatchGetSecretValue", json!({"SecretIdList": ["a", full]})), vec![arn("a"), full.clone()]);
    assert_eq!(resources("BatchGetSecretValue", json!({"Filters": []})), Vec::<String>::new());
    assert_eq!(OPERATIONS.len(), 14);
}

/// The bytes of a SQLite store's files (`secrets.db` and its log), or `None` on PostgreSQL.
fn sqlite_bytes(dir: &std::path::Path) -> Option<Vec<u8>> {
    if !matches!(flotilla_db::testing::location(dir), StoreLocation::Sqlite { .. }) {
        return None;
    }
    let mut bytes = Vec::new();
    for name in ["secrets.db", "secrets.db-wal", "secrets.db-shm"] {
        if let Ok(b) = std::fs::read(dir.join(name)) {
            bytes.extend(b);
        }
    }
    Some(bytes)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn values_are_sealed_at_rest() {
    let dir = tempfile::tempdir().unwrap();
    let location = flotilla_db::testing::location(dir.path());
    let s = SecretsService::open(&location, AccountContext::default(), sealer()).await.unwrap();
    let text = "plaintext-marker-hunter2-string";
    let bytes = b"plaintext-marker-hunter2-binary";
    call(&s, "CreateSecret", json!({"Name": "sealed", "SecretString": text})).await.unwrap();
    call(&s, "UpdateSecret", json!({"SecretId": "sealed", "SecretBinary": STANDARD.encode(bytes)})).await.unwrap();
    call(&s, "PutSecretValue", json!({"SecretId": "sealed", "SecretString": format!("{text}-3")})).await.unwrap();
    let got = call(&s, "GetSecretValue", json!({"SecretId": "sealed", "VersionStage": "AWSPREVIOUS"})).await.unwrap();
    assert_eq!(got["SecretBinary"], STANDARD.encode(bytes));
    // While the store is open (values in the log) and after it is closed.
    if let Some(on_disk) = sqlite_bytes(dir.path()) {
        assert!(!contains(&on_disk, b"plaintext-marker"), "a secret value is stored in plain text");
        assert!(contains(&on_disk, b"sealed"), "the secret's name is on disk: the files were read");
    }
    s.close().await;
    if let Some(on_disk) = sqlite_bytes(dir.path()) {
        assert!(!contains(&on_disk, b"plaintext-marker"), "a secret value is stored in plain text");
    }

    // Reopened with the same key, every version reads; with another key none does.
    let s = SecretsService::open(&location, AccountContext::default(), sealer()).await.unwrap();
    assert_eq!(
        call(&s, "GetSecretValue", json!({"SecretId": "sealed"})).await.unwrap()["SecretString"],
        format!("{text}-3")
    );
    s.close().await;
    let s = SecretsService::open(&location, AccountContext::default(), Sealer::from_key([8; 32])).await.unwrap();
    let e = call(&s, "GetSecretValue", json!({"SecretId": "sealed"})).await.unwrap_err();
    assert_eq!(e.code, "DecryptionFailure");
    assert!(!e.message.contains("plaintext"));
}

#[tokio::test]
async fn a_sealed_value_opens_only_in_its_own_version() {
    let dir = tempfile::tempdir().unwrap();
    let location = flotilla_db::testing::location(dir.path());
    let s = SecretsService::open(&location, AccountContext::default(), sealer()).await.unwrap();
    call(&s, "CreateSecret", json!({"Name": "a", "SecretString": "one", "ClientRequestToken": TOKEN_A})).await.unwrap();
    call(&s, "CreateSecret", json!({"Name": "b", "SecretString": "two", "ClientRequestToken": TOKEN_B})).await.unwrap();
    s.close().await;
    // Copy a's sealed value over b's: it does not open under b's ARN and version.
    let store = SqlSecretStore::open(&location, sealer()).await.unwrap();
    let row = sqlx::query("SELECT secret_binary FROM secret_versions WHERE version_id = $1")
        .bind(TOKEN_A)
        .fetch_one(store.db().reader())
        .await
        .unwrap();
    let sealed: Vec<u8> = flotilla_db::RowExt::col(&row, "secret_binary").unwrap();
    let mut tx = store.db().write().await.unwrap();
    sqlx::query("UPDATE secret_versions SET secret_binary = $1 WHERE version_id = $2")
        .bind(sealed)
        .bind(TOKEN_B)
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    store.close().await;
    let s = SecretsService::open(&location, AccountContext::default(), sealer()).await.unwrap();
    assert_eq!(call(&s, "GetSecretValue", json!({"SecretId": "a"})).await.unwrap()["SecretString"], "one");
    let e = call(&s, "GetSecretValue", json!({"SecretId": "b"})).await.unwrap_err();
    assert_eq!(e.code, "DecryptionFailure");
}

#[tokio::test]
async fn plain_values_of_an_earlier_flotilla_are_read_and_sealed_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let location = flotilla_db::testing::location(dir.path());
    let s = SecretsService::open(&location, AccountContext::default(), sealer()).await.unwrap();
    let text_arn = call(&s, "CreateSecret", json!({"Name": "old-text"})).await.unwrap()["ARN"].clone();
    let bin_arn = call(&s, "CreateSecret", json!({"Name": "old-bin"})).await.unwrap()["ARN"].clone();
    s.close().await;

    // Rows as Flotilla wrote them before values were sealed.
    let store = SqlSecretStore::open(&location, sealer()).await.unwrap();
    let mut tx = store.db().write().await.unwrap();
    for (arn, version, string, binary, stages) in [
        (&text_arn, TOKEN_A, Some("legacy-plain-current"), None, "AWSCURRENT"),
        (&text_arn, TOKEN_B, Some("legacy-plain-previous"), None, "AWSPREVIOUS"),
        (&bin_arn, TOKEN_A, None, Some(b"legacy-plain-bytes".to_vec()), "AWSCURRENT"),
    ] {
        sqlx::query(
            "INSERT INTO secret_versions (secret_arn, version_id, secret_string, secret_binary, stages, created_at) \
             VALUES ($1, $2, $3, $4, $5, 1)",
        )
        .bind(arn.as_str().unwrap())
        .bind(version)
        .bind(string)
        .bind(binary)
        .bind(stages)
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    let plain = sqlx::query("SELECT COUNT(*) AS n FROM secret_versions WHERE sealed = 0")
        .fetch_one(store.db().reader())
        .await
        .unwrap();
    assert_eq!(flotilla_db::RowExt::col::<i64>(&plain, "n").unwrap(), 3, "rows default to plain");
    // Plain rows read as they are (an older replica may still be writing them).
    let versions = store.find("old-text").await.unwrap().unwrap().1;
    assert_eq!(
        versions.iter().find(|v| v.version_id == TOKEN_A).unwrap().value,
        SecretValue::String("legacy-plain-current".into())
    );
    store.close().await;

    // Opening seals them in place; they read as before.
    let s = SecretsService::open(&location, AccountContext::default(), sealer()).await.unwrap();
    assert_eq!(
        call(&s, "GetSecretValue", json!({"SecretId": "old-text"})).await.unwrap()["SecretString"],
        "legacy-plain-current"
    );
    let previous =
        call(&s, "GetSecretValue", json!({"SecretId": "old-text", "VersionStage": "AWSPREVIOUS"})).await.unwrap();
    assert_eq!(previous["SecretString"], "legacy-plain-previous");
    let bin = call(&s, "GetSecretValue", json!({"SecretId": "old-bin"})).await.unwrap();
    assert_eq!(bin["SecretBinary"], STANDARD.encode(b"legacy-plain-bytes"));
    // A new version on top of a formerly plain one.
    call(&s, "PutSecretValue", json!({"SecretId": "old-text", "SecretString": "new"})).await.unwrap();
    s.close().await;

    let store = SqlSecretStore::open(&location, sealer()).await.unwrap();
    let rows =
        sqlx::query("SELECT sealed, secret_string FROM secret_versions").fetch_all(store.db().reader()).await.unwrap();
    assert_eq!(rows.len(), 4);
    for row in &rows {
        assert_eq!(flotilla_db::RowExt::col::<i64>(row, "sealed").unwrap(), 1);
        assert_eq!(flotilla_db::RowExt::col::<Option<String>>(row, "secret_string").unwrap(), None);
    }
    store.close().await;
    if let Some(on_disk) = sqlite_bytes(dir.path()) {
        assert!(!contains(&on_disk, b"legacy-plain"), "a formerly plain value lingers in the SQLite files");
    }
}
