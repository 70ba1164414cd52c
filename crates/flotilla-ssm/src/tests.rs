use super::*;
use serde_json::{Value, json};

async fn service() -> (tempfile::TempDir, SsmService) {
    let dir = tempfile::tempdir().unwrap();
    let service = SsmService::open(
        &flotilla_db::testing::location(dir.path()),
        Sealer::from_key([3; 32]),
        AccountContext::default(),
    )
    .await
    .unwrap();
    (dir, service)
}

async fn call(s: &SsmService, op: &str, input: Value) -> Result<Value, AwsError> {
    let caller = Caller::new("AKIDTEST", "r");
    let response = s.call(op, Bytes::from(input.to_string()), &caller).await?;
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    Ok(serde_json::from_slice(&bytes).unwrap())
}

async fn put(s: &SsmService, input: Value) -> Value {
    call(s, "PutParameter", input).await.unwrap()
}

async fn code(s: &SsmService, op: &str, input: Value) -> String {
    call(s, op, input).await.unwrap_err().code
}

const ARN: &str = "arn:aws:ssm:us-east-1:000000000000:parameter";

#[tokio::test]
async fn put_and_get_string_and_versions() {
    let (_dir, s) = service().await;
    let out = put(&s, json!({"Name": "/app/url", "Value": "http://a", "Type": "String", "Description": "d"})).await;
    assert_eq!(out, json!({"Version": 1, "Tier": "Standard"}));
    let got = call(&s, "GetParameter", json!({"Name": "/app/url"})).await.unwrap()["Parameter"].clone();
    assert_eq!(got["Value"], "http://a");
    assert_eq!(got["Type"], "String");
    assert_eq!(got["Version"], 1);
    assert_eq!(got["ARN"], format!("{ARN}/app/url"));
    assert_eq!(got["DataType"], "text");
    assert!(got["LastModifiedDate"].as_f64().unwrap() > 1.6e9);
    assert!(got.get("Selector").is_none());

    assert_eq!(
        code(&s, "PutParameter", json!({"Name": "/app/url", "Value": "x", "Type": "String"})).await,
        "ParameterAlreadyExists"
    );
    let out = put(&s, json!({"Name": "/app/url", "Value": "http://b", "Overwrite": true})).await;
    assert_eq!(out["Version"], 2);
    let got = call(&s, "GetParameter", json!({"Name": "/app/url"})).await.unwrap();
    assert_eq!(got["Parameter"]["Value"], "http://b");
    let v1 = call(&s, "GetParameter", json!({"Name": "/app/url:1"})).await.unwrap();
    assert_eq!(v1["Parameter"]["Value"], "http://a");
    assert_eq!(v1["Parameter"]["Selector"], ":1");
    assert_eq!(v1["Parameter"]["Name"], "/app/url");
    let by_arn = call(&s, "GetParameter", json!({"Name": format!("{ARN}/app/url:1")})).await.unwrap();
    assert_eq!(by_arn["Parameter"]["Value"], "http://a");
    assert_eq!(code(&s, "GetParameter", json!({"Name": "/app/url:9"})).await, "ParameterVersionNotFound");
    assert_eq!(code(&s, "GetParameter", json!({"Name": "/app/none"})).await, "ParameterNotFound");

    // The description is kept by an overwrite that gives none.
    let history = call(&s, "GetParameterHistory", json!({"Name": "/app/url"})).await.unwrap();
    let versions = history["Parameters"].as_array().unwrap();
    assert_eq!(versions.len(), 2);
    assert_eq!(versions[1]["Description"], "d");
    assert_eq!(versions[0]["Value"], "http://a");
    assert_eq!(versions[1]["LastModifiedUser"], "arn:aws:iam::000000000000:root");
}

#[tokio::test]
async fn secure_strings_are_sealed_and_opened_with_decryption() {
    let (_dir, s) = service().await;
    let out = put(&s, json!({"Name": "/db/password", "Value": "hunter2", "Type": "SecureString"})).await;
    assert_eq!(out["Version"], 1);
    let hidden = call(&s, "GetParameter", json!({"Name": "/db/password"})).await.unwrap()["Parameter"].clone();
    let sealed = hidden["Value"].as_str().unwrap();
    assert_ne!(sealed, "hunter2");
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD.decode(sealed).unwrap();
    assert_eq!(bytes[0], 1, "the sealed format's version byte");
    let shown =
        call(&s, "GetParameter", json!({"Name": "/db/password", "WithDecryption": true})).await.unwrap()["Parameter"]
            .clone();
    assert_eq!(shown["Value"], "hunter2");
    // Stored sealed, bound to the ARN and version.
    let record = s.store().latest("/db/password").await.unwrap().unwrap();
    assert!(matches!(&record.value, StoredValue::Sealed(b) if !b.windows(7).any(|w| w == b"hunter2")));
    assert_eq!(record.key_id.as_deref(), Some("alias/aws/ssm"));
    let sealer = Sealer::from_key([3; 32]);
    let StoredValue::Sealed(b) = &record.value else { unreachable!() };
    assert!(sealer.open(b, format!("{ARN}/db/password#2").as_bytes()).is_err());
    assert_eq!(sealer.open(b, format!("{ARN}/db/password#1").as_bytes()).unwrap(), b"hunter2");

    let described = call(&s, "DescribeParameters", json!({})).await.unwrap();
    assert_eq!(described["Parameters"][0]["KeyId"], "alias/aws/ssm");
    assert_eq!(
        code(&s, "PutParameter", json!({"Name": "plain", "Value": "v", "Type": "String", "KeyId": "alias/x"})).await,
        "ValidationException"
    );
    assert_eq!(s.resolve_for_injection("/db/password").await.unwrap().as_deref(), Some("hunter2"));
    assert_eq!(s.resolve_for_injection(&format!("{ARN}/db/password:1")).await.unwrap().as_deref(), Some("hunter2"));
    assert_eq!(s.resolve_for_injection("/db/none").await.unwrap(), None);
    assert_eq!(s.resolve_for_injection("/db/password:7").await.unwrap(), None);
}

#[tokio::test]
async fn put_refusals() {
    let (_dir, s) = service().await;
    let cases = [
        (json!({"Name": "a/b", "Value": "v", "Type": "String"}), "ValidationException"),
        (json!({"Name": "/aws/x", "Value": "v", "Type": "String"}), "ValidationException"),
        (json!({"Name": "ssm-x", "Value": "v", "Type": "String"}), "ValidationException"),
        (json!({"Name": "a b", "Value": "v", "Type": "String"}), "ValidationException"),
        (json!({"Name": "x", "Value": "v"}), "ValidationException"),
        (json!({"Name": "x", "Value": "v", "Type": "Number"}), "ValidationException"),
        (json!({"Name": "x", "Value": "", "Type": "String"}), "ValidationException"),
        (json!({"Name": "x", "Value": "v".repeat(4097), "Type": "String"}), "ValidationException"),
        (json!({"Name": "x", "Value": "v".repeat(8193), "Type": "String", "Tier": "Advanced"}), "ValidationException"),
        (
            json!({"Name": "/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p", "Value": "v", "Type": "String"}),
            "HierarchyLevelLimitExceededException",
        ),
        (
            json!({"Name": "x", "Value": "abc", "Type": "String", "AllowedPattern": "^\\d+$"}),
            "ParameterPatternMismatchException",
        ),
        (json!({"Name": "x", "Value": "1", "Type": "String", "AllowedPattern": "("}), "InvalidAllowedPatternException"),
        (
            json!({"Name": "x", "Value": "1", "Type": "String", "Overwrite": true, "Tags": [{"Key": "k", "Value": "v"}]}),
            "ValidationException",
        ),
        (
            json!({"Name": "x", "Value": "1", "Type": "String", "Tags": [{"Key": "aws:k", "Value": "v"}]}),
            "ValidationException",
        ),
        (json!({"Name": "x", "Value": "1", "Type": "SecureString", "KeyId": "bad key"}), "InvalidKeyId"),
        (json!({"Name": "x", "Value": "{{ssm:y}}", "Type": "String"}), "ValidationException"),
    ];
    for (input, want) in cases {
        assert_eq!(code(&s, "PutParameter", input.clone()).await, want, "{input}");
    }
    let listed = call(&s, "DescribeParameters", json!({})).await.unwrap();
    assert_eq!(listed["Parameters"], json!([]), "a refused put stores nothing");
    // Advanced may not go back to Standard; an Advanced parameter stays Advanced.
    put(&s, json!({"Name": "big", "Value": "v", "Type": "String", "Tier": "Advanced"})).await;
    let out = put(&s, json!({"Name": "big", "Value": "w", "Overwrite": true})).await;
    assert_eq!(out["Tier"], "Advanced");
    assert_eq!(
        code(&s, "PutParameter", json!({"Name": "big", "Value": "w", "Overwrite": true, "Tier": "Standard"})).await,
        "ValidationException"
    );
    assert_eq!(code(&s, "Nope", json!({})).await, "UnknownOperationException");
}

#[tokio::test]
async fn labels_select_move_and_are_limited() {
    let (_dir, s) = service().await;
    put(&s, json!({"Name": "/l/p", "Value": "one", "Type": "String"})).await;
    put(&s, json!({"Name": "/l/p", "Value": "two", "Type": "String", "Overwrite": true})).await;
    let out = call(
        &s,
        "LabelParameterVersion",
        json!({"Name": "/l/p", "ParameterVersion": 1, "Labels": ["prod", "1bad", "awsx"]}),
    )
    .await
    .unwrap();
    assert_eq!(out, json!({"InvalidLabels": ["1bad", "awsx"], "ParameterVersion": 1}));
    let got = call(&s, "GetParameter", json!({"Name": "/l/p:prod"})).await.unwrap();
    assert_eq!(got["Parameter"]["Value"], "one");
    assert_eq!(got["Parameter"]["Selector"], ":prod");
    // Without a version, the latest is labelled; the label moves.
    let out = call(&s, "LabelParameterVersion", json!({"Name": "/l/p", "Labels": ["prod"]})).await.unwrap();
    assert_eq!(out["ParameterVersion"], 2);
    let got = call(&s, "GetParameter", json!({"Name": "/l/p:prod"})).await.unwrap();
    assert_eq!(got["Parameter"]["Value"], "two");
    let history = call(&s, "GetParameterHistory", json!({"Name": "/l/p"})).await.unwrap();
    assert_eq!(history["Parameters"][0]["Labels"], json!([]));
    assert_eq!(history["Parameters"][1]["Labels"], json!(["prod"]));
    assert_eq!(code(&s, "GetParameter", json!({"Name": "/l/p:staging"})).await, "ParameterVersionNotFound");

    let ten: Vec<String> = (0..10).map(|i| format!("l{i}")).collect();
    call(&s, "LabelParameterVersion", json!({"Name": "/l/p", "ParameterVersion": 1, "Labels": ten})).await.unwrap();
    assert_eq!(
        code(&s, "LabelParameterVersion", json!({"Name": "/l/p", "ParameterVersion": 1, "Labels": ["l10"]})).await,
        "ParameterVersionLabelLimitExceeded"
    );
    assert_eq!(
        code(&s, "LabelParameterVersion", json!({"Name": "/l/p", "ParameterVersion": 5, "Labels": ["x"]})).await,
        "ParameterVersionNotFound"
    );
    assert_eq!(
        code(&s, "LabelParameterVersion", json!({"Name": "/l/none", "Labels": ["x"]})).await,
        "ParameterNotFound"
    );
}

#[tokio::test]
async fn a_hundred_versions_are_kept_unless_the_oldest_is_labelled() {
    let (_dir, s) = service().await;
    put(&s, json!({"Name": "v", "Value": "0", "Type": "String"})).await;
    for i in 1..100 {
        put(&s, json!({"Name": "v", "Value": i.to_string(), "Overwrite": true})).await;
    }
    call(&s, "LabelParameterVersion", json!({"Name": "v", "ParameterVersion": 1, "Labels": ["keep"]})).await.unwrap();
    assert_eq!(
        code(&s, "PutParameter", json!({"Name": "v", "Value": "x", "Overwrite": true})).await,
        "ParameterMaxVersionLimitExceeded"
    );
    call(&s, "LabelParameterVersion", json!({"Name": "v", "ParameterVersion": 2, "Labels": ["keep"]})).await.unwrap();
    let out = put(&s, json!({"Name": "v", "Value": "x", "Overwrite": true})).await;
    assert_eq!(out["Version"], 101);
    assert_eq!(code(&s, "GetParameter", json!({"Name": "v:1"})).await, "ParameterVersionNotFound");
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut input = json!({"Name": "v", "MaxResults": 50});
        if let Some(t) = &token {
            input["NextToken"] = json!(t);
        }
        let page = call(&s, "GetParameterHistory", input).await.unwrap();
        seen.extend(page["Parameters"].as_array().unwrap().iter().map(|p| p["Version"].as_i64().unwrap()));
        match page["NextToken"].as_str() {
            Some(t) => token = Some(t.to_string()),
            None => break,
        }
    }
    assert_eq!(seen, (2..=101).collect::<Vec<i64>>());
}

#[tokio::test]
async fn get_parameters_and_delete_parameters_report_invalid_names() {
    let (_dir, s) = service().await;
    put(&s, json!({"Name": "a", "Value": "1", "Type": "String"})).await;
    put(&s, json!({"Name": "/b", "Value": "2", "Type": "StringList"})).await;
    let out =
        call(&s, "GetParameters", json!({"Names": ["a", "/b", "nope", "a:3", format!("{ARN}/b")]})).await.unwrap();
    let values: Vec<&str> =
        out["Parameters"].as_array().unwrap().iter().map(|p| p["Value"].as_str().unwrap()).collect();
    assert_eq!(values, ["1", "2", "2"]);
    assert_eq!(out["InvalidParameters"], json!(["nope", "a:3"]));
    let eleven: Vec<String> = (0..11).map(|i| format!("n{i}")).collect();
    assert_eq!(code(&s, "GetParameters", json!({"Names": eleven})).await, "ValidationException");

    let out = call(&s, "DeleteParameters", json!({"Names": ["a", "nope"]})).await.unwrap();
    assert_eq!(out, json!({"DeletedParameters": ["a"], "InvalidParameters": ["nope"]}));
    call(&s, "DeleteParameter", json!({"Name": "/b"})).await.unwrap();
    assert_eq!(code(&s, "DeleteParameter", json!({"Name": "/b"})).await, "ParameterNotFound");
    assert_eq!(code(&s, "GetParameter", json!({"Name": "/b"})).await, "ParameterNotFound");
    // A deleted name starts again at version 1.
    let out = put(&s, json!({"Name": "/b", "Value": "3", "Type": "String"})).await;
    assert_eq!(out["Version"], 1);
}

#[tokio::test]
async fn by_path_pages_recursion_and_filters() {
    let (_dir, s) = service().await;
    for name in ["/app/a", "/app/b", "/app/c/d", "/app/c/e/f", "/apple", "top"] {
        put(&s, json!({"Name": name, "Value": name, "Type": "String"})).await;
    }
    put(&s, json!({"Name": "/app/secret", "Value": "s3", "Type": "SecureString"})).await;
    let names = |v: &Value| -> Vec<String> {
        v["Parameters"].as_array().unwrap().iter().map(|p| p["Name"].as_str().unwrap().to_string()).collect()
    };
    let one = call(&s, "GetParametersByPath", json!({"Path": "/app"})).await.unwrap();
    assert_eq!(names(&one), ["/app/a", "/app/b", "/app/secret"]);
    let mut all = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut input = json!({"Path": "/app/", "Recursive": true, "MaxResults": 2, "WithDecryption": true});
        if let Some(t) = &token {
            input["NextToken"] = json!(t);
        }
        let page = call(&s, "GetParametersByPath", input).await.unwrap();
        assert!(page["Parameters"].as_array().unwrap().len() <= 2);
        all.extend(names(&page));
        if let Some(p) = page["Parameters"].as_array().unwrap().iter().find(|p| p["Name"] == "/app/secret") {
            assert_eq!(p["Value"], "s3");
        }
        match page["NextToken"].as_str() {
            Some(t) => token = Some(t.to_string()),
            None => break,
        }
    }
    assert_eq!(all, ["/app/a", "/app/b", "/app/c/d", "/app/c/e/f", "/app/secret"]);
    let secure = call(
        &s,
        "GetParametersByPath",
        json!({"Path": "/", "Recursive": true, "ParameterFilters": [{"Key": "Type", "Values": ["SecureString"]}]}),
    )
    .await
    .unwrap();
    assert_eq!(names(&secure), ["/app/secret"]);
    assert_ne!(secure["Parameters"][0]["Value"], "s3");
    assert_eq!(
        code(&s, "GetParametersByPath", json!({"Path": "/", "ParameterFilters": [{"Key": "Name", "Values": ["x"]}]}))
            .await,
        "InvalidFilterKey"
    );
    assert_eq!(
        code(
            &s,
            "GetParametersByPath",
            json!({"Path": "/", "ParameterFilters": [{"Key": "Label", "Option": "BeginsWith", "Values": ["x"]}]})
        )
        .await,
        "InvalidFilterOption"
    );
    assert_eq!(code(&s, "GetParametersByPath", json!({"Path": "/", "MaxResults": 11})).await, "ValidationException");
    assert_eq!(code(&s, "GetParametersByPath", json!({"Path": "app"})).await, "ValidationException");
    assert_eq!(code(&s, "GetParametersByPath", json!({"Path": "/", "NextToken": "zz"})).await, "InvalidNextToken");

    // A Label filter answers with the labelled version.
    put(&s, json!({"Name": "/app/a", "Value": "newer", "Overwrite": true})).await;
    call(&s, "LabelParameterVersion", json!({"Name": "/app/a", "ParameterVersion": 1, "Labels": ["stable"]}))
        .await
        .unwrap();
    let labelled = call(
        &s,
        "GetParametersByPath",
        json!({"Path": "/app", "ParameterFilters": [{"Key": "Label", "Values": ["stable"]}]}),
    )
    .await
    .unwrap();
    assert_eq!(names(&labelled), ["/app/a"]);
    assert_eq!(labelled["Parameters"][0]["Value"], "/app/a");
    assert_eq!(labelled["Parameters"][0]["Version"], 1);
}

#[tokio::test]
async fn describe_filters_and_pages() {
    let (_dir, s) = service().await;
    put(&s, json!({"Name": "/svc/a", "Value": "v", "Type": "String", "Tags": [{"Key": "team", "Value": "red"}]})).await;
    put(&s, json!({"Name": "/svc/deep/b", "Value": "v", "Type": "SecureString", "KeyId": "alias/mine"})).await;
    put(&s, json!({"Name": "/other", "Value": "v", "Type": "StringList", "Tier": "Advanced"})).await;
    put(&s, json!({"Name": "flat", "Value": "v", "Type": "String"})).await;
    let names = |v: &Value| -> Vec<String> {
        v["Parameters"].as_array().unwrap().iter().map(|p| p["Name"].as_str().unwrap().to_string()).collect()
    };
    let describe = |filters: Value| {
        let s = &s;
        async move { names(&call(s, "DescribeParameters", json!({"ParameterFilters": filters})).await.unwrap()) }
    };
    assert_eq!(describe(json!([{"Key": "Path", "Values": ["/svc"]}])).await, ["/svc/a"]);
    assert_eq!(
        describe(json!([{"Key": "Path", "Option": "Recursive", "Values": ["/svc"]}])).await,
        ["/svc/a", "/svc/deep/b"]
    );
    assert_eq!(describe(json!([{"Key": "Type", "Values": ["SecureString"]}])).await, ["/svc/deep/b"]);
    assert_eq!(describe(json!([{"Key": "KeyId", "Values": ["alias/mine"]}])).await, ["/svc/deep/b"]);
    assert_eq!(describe(json!([{"Key": "Tier", "Values": ["Advanced"]}])).await, ["/other"]);
    assert_eq!(
        describe(json!([{"Key": "Name", "Option": "BeginsWith", "Values": ["/svc"]}])).await,
        ["/svc/a", "/svc/deep/b"]
    );
    assert_eq!(describe(json!([{"Key": "Name", "Values": ["flat"]}])).await, ["flat"]);
    assert_eq!(describe(json!([{"Key": "Name", "Option": "Contains", "Values": ["dee"]}])).await, ["/svc/deep/b"]);
    assert_eq!(describe(json!([{"Key": "tag:team", "Values": ["red"]}])).await, ["/svc/a"]);
    let legacy =
        call(&s, "DescribeParameters", json!({"Filters": [{"Key": "Type", "Values": ["StringList"]}]})).await.unwrap();
    assert_eq!(names(&legacy), ["/other"]);
    let first = call(&s, "DescribeParameters", json!({"MaxResults": 3})).await.unwrap();
    assert_eq!(names(&first), ["/other", "/svc/a", "/svc/deep/b"]);
    let rest = call(&s, "DescribeParameters", json!({"MaxResults": 3, "NextToken": first["NextToken"]})).await.unwrap();
    assert_eq!(names(&rest), ["flat"]);
    assert!(rest.get("NextToken").is_none());
    let meta = &first["Parameters"][1];
    assert_eq!(meta["ARN"], format!("{ARN}/svc/a"));
    assert_eq!(meta["Version"], 1);
    assert_eq!(meta["Tier"], "Standard");

    for (filters, want) in [
        (json!([{"Key": "Bogus", "Values": ["x"]}]), "InvalidFilterKey"),
        (json!([{"Key": "Type", "Option": "Recursive", "Values": ["String"]}]), "InvalidFilterOption"),
        (json!([{"Key": "Type", "Values": ["Number"]}]), "InvalidFilterValue"),
        (json!([{"Key": "Path", "Values": ["nope"]}]), "InvalidFilterValue"),
    ] {
        assert_eq!(code(&s, "DescribeParameters", json!({"ParameterFilters": filters})).await, want);
    }
    assert_eq!(
        code(
            &s,
            "DescribeParameters",
            json!({"Filters": [{"Key": "Type", "Values": ["String"]}], "ParameterFilters": [{"Key": "Type", "Values": ["String"]}]})
        )
        .await,
        "ValidationException"
    );
    assert_eq!(code(&s, "DescribeParameters", json!({"MaxResults": 51})).await, "ValidationException");
}

#[tokio::test]
async fn tags_on_parameters() {
    let (_dir, s) = service().await;
    put(&s, json!({"Name": "/t", "Value": "v", "Type": "String", "Tags": [{"Key": "a", "Value": "1"}]})).await;
    let list = |id: &str| {
        let s = &s;
        let id = id.to_string();
        async move {
            call(s, "ListTagsForResource", json!({"ResourceType": "Parameter", "ResourceId": id})).await.unwrap()["TagList"]
                .clone()
        }
    };
    assert_eq!(list("/t").await, json!([{"Key": "a", "Value": "1"}]));
    call(
        &s,
        "AddTagsToResource",
        json!({"ResourceType": "Parameter", "ResourceId": "/t", "Tags": [{"Key": "a", "Value": "2"}, {"Key": "b", "Value": ""}]}),
    )
    .await
    .unwrap();
    assert_eq!(list(&format!("{ARN}/t")).await, json!([{"Key": "a", "Value": "2"}, {"Key": "b", "Value": ""}]));
    call(&s, "RemoveTagsFromResource", json!({"ResourceType": "Parameter", "ResourceId": "/t", "TagKeys": ["a"]}))
        .await
        .unwrap();
    assert_eq!(list("/t").await, json!([{"Key": "b", "Value": ""}]));
    let many: Vec<Value> = (0..50).map(|i| json!({"Key": format!("k{i}"), "Value": "v"})).collect();
    assert_eq!(
        code(&s, "AddTagsToResource", json!({"ResourceType": "Parameter", "ResourceId": "/t", "Tags": many})).await,
        "TooManyTagsError"
    );
    assert_eq!(
        code(&s, "ListTagsForResource", json!({"ResourceType": "Document", "ResourceId": "/t"})).await,
        "InvalidResourceType"
    );
    assert_eq!(
        code(&s, "ListTagsForResource", json!({"ResourceType": "Parameter", "ResourceId": "/none"})).await,
        "InvalidResourceId"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_overwrites_never_lose_a_version() {
    let (_dir, s) = service().await;
    let s = std::sync::Arc::new(s);
    put(&s, json!({"Name": "/race", "Value": "0", "Type": "SecureString"})).await;
    let mut tasks = Vec::new();
    for i in 0..16 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            put(&s, json!({"Name": "/race", "Value": format!("w{i}"), "Overwrite": true})).await["Version"]
                .as_i64()
                .unwrap()
        }));
    }
    let mut versions = Vec::new();
    for t in tasks {
        versions.push(t.await.unwrap());
    }
    versions.sort();
    assert_eq!(versions, (2..=17).collect::<Vec<i64>>());
    let history = call(&s, "GetParameterHistory", json!({"Name": "/race", "WithDecryption": true})).await.unwrap();
    let values: std::collections::HashSet<String> =
        history["Parameters"].as_array().unwrap().iter().map(|p| p["Value"].as_str().unwrap().to_string()).collect();
    assert_eq!(values.len(), 17, "every version opens under its own context");
}

#[test]
fn operation_resources() {
    let scope = ArnScope { region: "us-east-1", account_id: "000000000000" };
    let input = json!({"Name": "/a/b:prod", "Names": ["x", "arn:aws:ssm:us-east-1:000000000000:parameter/y/z:3"], "Path": "/a/", "ResourceId": "t"});
    let input = OperationInput::Json(&input);
    assert_eq!(named(&input, &scope), [format!("{ARN}/a/b")]);
    assert_eq!(names_listed(&input, &scope), [format!("{ARN}/x"), format!("{ARN}/y/z")]);
    assert_eq!(path(&input, &scope), [format!("{ARN}/a")]);
    assert_eq!(tagged(&input, &scope), [format!("{ARN}/t")]);
    let by_path = OPERATIONS.iter().find(|o| o.name == "GetParametersByPath").unwrap();
    assert_eq!(by_path.action, "ssm:GetParametersByPath");
    assert!(OPERATIONS.iter().all(|o| o.action == format!("ssm:{}", o.name)));
}
